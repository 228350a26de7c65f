package schema

// Internals the tests in package schema_test reach: the TimescaleDB decision is a function over facts so that
// its cases can be tested without TimescaleDB, which cannot be installed where the tests run.
type TimescaleFacts = timescaleFacts

var (
	UseTimescale       = useTimescale
	Preloads           = preloads
	ReadTimescaleFacts = readTimescaleFacts
	UnpinnedRelations  = unpinnedRelations
	Checksum           = checksum
)

type PolicyState = policyState

// PolicySteps returns policySteps' changes and statements.
func PolicySteps(ext string, s PolicyState, p TimescalePolicy) (changes, sql []string) {
	for _, st := range policySteps(ext, s, p) {
		changes = append(changes, st.Change)
		sql = append(sql, st.SQL)
	}
	return changes, sql
}
