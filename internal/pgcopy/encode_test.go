package pgcopy

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/benchpipe/benchpipe/schema"
)

func TestTimestampBounds(t *testing.T) {
	if got := time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC).Unix(); got != minTimestampUnix {
		t.Errorf("4714-11-24 BC is Unix %d, minTimestampUnix is %d", got, int64(minTimestampUnix))
	}
	if got := time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); got != endTimestampUnix {
		t.Errorf("294277-01-01 is Unix %d, endTimestampUnix is %d", got, int64(endTimestampUnix))
	}
	// PostgreSQL's MIN_TIMESTAMP and END_TIMESTAMP (src/include/datatype/timestamp.h), in microseconds since 2000.
	if us, ok := pgMicros(minTimestampUnix, 0); !ok || us != -211813488000000000 {
		t.Errorf("pgMicros(min) = %d, %v", us, ok)
	}
	if us, ok := pgMicros(endTimestampUnix-1, 999999999); !ok || us != 9223371331200000000-1 {
		t.Errorf("pgMicros(end - 1ns) = %d, %v", us, ok)
	}
	if _, ok := pgMicros(endTimestampUnix, 0); ok {
		t.Error("pgMicros(end) is in range")
	}
}

// TestEncodeNoAllocs checks the point of the package: encoding a sample row allocates nothing once the buffer has
// grown.
func TestEncodeNoAllocs(t *testing.T) {
	oids := map[string]uint32{"run_id": pgtype.UUIDOID, "interval_start": pgtype.TimestamptzOID, "interval_end": pgtype.TimestamptzOID, "phase": pgtype.TextOID}
	table := &Table{}
	rows := sampleRows(sampleRecords(2))
	for i, c := range schema.SampleColumns {
		oid, ok := oids[c]
		if !ok {
			oid = pgtype.Float8OID
			for _, row := range rows {
				if _, isInt := row[i].(int64); isInt {
					oid = pgtype.Int8OID
				}
			}
		}
		table.cols = append(table.cols, column{name: c, enc: encoderFor(oid)})
	}
	buf := make([]byte, 0, 4096)
	allocs := testing.AllocsPerRun(1000, func() {
		var err error
		for _, row := range rows {
			if buf, err = table.appendRow(buf[:0], row); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per two rows", allocs)
	}
}
