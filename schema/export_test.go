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
