package agent

// DefaultKinds are the job kinds this build runs.
func DefaultKinds() map[string]Kind {
	return map[string]Kind{}
}
