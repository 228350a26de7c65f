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

// sampleTable is the samples table as LoadTable finds it after the migrations, built without a database.
func sampleTable() *Table {
	oids := map[string]uint32{"run_id": pgtype.UUIDOID, "interval_start": pgtype.TimestamptzOID, "interval_end": pgtype.TimestamptzOID,
		"phase": pgtype.TextOID, "lat_hdr": pgtype.ByteaOID, "mqtt_uncorrected_hdr": pgtype.ByteaOID}
	ints := map[string]bool{}
	var v schema.Values
	(&schema.Record{Sample: &schema.Sample{Figures: schema.Figures{MQTT: &schema.MQTTFigures{}, Pgbench: &schema.PgbenchFigures{}}}}).WriteSampleRow(&v)
	for i, c := range schema.SampleColumns {
		if _, isInt := v[i].(int64); isInt {
			ints[c] = true
		}
	}
	table := &Table{}
	for _, c := range schema.SampleColumns {
		oid, ok := oids[c]
		switch {
		case ok:
		case ints[c]:
			oid = pgtype.Int8OID
		default:
			oid = pgtype.Float8OID
		}
		table.cols = append(table.cols, column{name: c, oid: oid, enc: encoderFor(oid)})
	}
	return table
}

// TestEncodeNoAllocs checks the point of the package: encoding a sample row allocates nothing once the buffer has
// grown, whether from its []any or written typed from its record.
func TestEncodeNoAllocs(t *testing.T) {
	table := sampleTable()
	recs := sampleRecords(2)
	rows := sampleRows(recs)
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
		t.Errorf("[]any: %v allocations per two rows", allocs)
	}
	w := Row{t: table}
	allocs = testing.AllocsPerRun(1000, func() {
		for i := range recs {
			w.begin(buf[:0])
			recs[i].WriteSampleRow(&w)
			var err error
			if buf, err = w.end(); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("typed: %v allocations per two rows", allocs)
	}
}
