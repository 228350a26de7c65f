package agent

import "github.com/benchpipe/benchpipe/producer/jobkind"

// DefaultKinds are the job kinds this build runs: every kind of producer/jobkind, by name.
func DefaultKinds() map[string]Kind {
	kinds := make(map[string]Kind)
	for _, k := range jobkind.All() {
		kinds[k.Name()] = registered{k}
	}
	return kinds
}
