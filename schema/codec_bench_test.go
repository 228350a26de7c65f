package schema_test

import (
	"testing"

	"github.com/benchpipe/benchpipe/schema"
)

func BenchmarkDecodeSample(b *testing.B) {
	rec, _ := schema.Encode(validRecords()["sample"])
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}
