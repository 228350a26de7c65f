package schema

import _ "embed"

// JSONSchema is record.schema.json: the record contract for producers not written in Go.
//
//go:embed record.schema.json
var JSONSchema []byte
