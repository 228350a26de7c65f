package pgcopy

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/benchpipe/benchpipe/schema"
)

// oneColumn is a table of a single column of type oid.
func oneColumn(oid uint32) *Table {
	return &Table{cols: []column{{name: "c", typ: fmt.Sprint(oid), oid: oid, enc: encoderFor(oid)}}}
}

// encodeOne writes one value into a one-column row with write and returns the row's bytes and its error.
func encodeOne(t *Table, write func(w *Row)) (string, string) {
	w := Row{t: t}
	w.begin(nil)
	write(&w)
	buf, err := w.end()
	if err != nil {
		return "", err.Error()
	}
	return string(buf), ""
}

// TestTypedMatchesAny holds Row's typed methods to Any: for every column type pgcopy encodes and every typed
// method, the same value gives the same bytes or the same error, whether the column is the method's own type
// (encoded directly) or another (through the column's encoder).
func TestTypedMatchesAny(t *testing.T) {
	oids := []uint32{pgtype.Int2OID, pgtype.Int4OID, pgtype.Int8OID, pgtype.Float4OID, pgtype.Float8OID, pgtype.BoolOID,
		pgtype.TextOID, pgtype.VarcharOID, pgtype.UUIDOID, pgtype.TimestamptzOID, pgtype.TimestampOID, pgtype.JSONOID,
		pgtype.JSONBOID, pgtype.ByteaOID}
	cet := time.FixedZone("CET", 3600)
	type value struct {
		typed func(w *Row)
		v     any
	}
	var values []value
	for _, n := range []int64{0, 1, -1, 255, 1 << 40, math.MaxInt64, math.MinInt64, math.MaxInt32 + 1, 1<<53 + 1} {
		values = append(values, value{func(w *Row) { w.Int64(n) }, n})
	}
	for _, f := range []float64{0, -0.5, 1.25, 1e300, 1e-300, math.NaN(), math.Inf(-1), 3} {
		values = append(values, value{func(w *Row) { w.Float64(f) }, f})
	}
	for _, tm := range []time.Time{time.Date(2026, 12, 3, 18, 0, 0, 123456789, time.UTC), time.Date(2026, 12, 3, 18, 0, 0, 0, cet),
		time.Date(-5000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC), {}} {
		values = append(values, value{func(w *Row) { w.Time(tm) }, tm})
	}
	for _, u := range []uuid.UUID{uuid.MustParse("0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), {}} {
		values = append(values, value{func(w *Row) { w.UUID(u) }, u})
	}
	for _, s := range []string{"", "measure", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", `{"a":1}`, "ünïcode"} {
		values = append(values, value{func(w *Row) { w.String(s) }, s})
	}
	for _, b := range [][]byte{nil, {}, []byte("HISTFAAAA"), []byte(`{"b":2}`)} {
		values = append(values, value{func(w *Row) { w.Bytes(b) }, b})
	}
	for _, oid := range oids {
		table := oneColumn(oid)
		for _, v := range values {
			gotBuf, gotErr := encodeOne(table, v.typed)
			wantBuf, wantErr := encodeOne(table, func(w *Row) { w.Any(v.v) })
			if gotBuf != wantBuf || gotErr != wantErr {
				t.Errorf("column type %d, %T %v: typed gives %q, %q; Any gives %q, %q", oid, v.v, v.v, gotBuf, gotErr, wantBuf, wantErr)
			}
		}
		gotBuf, gotErr := encodeOne(table, func(w *Row) { w.Null() })
		wantBuf, wantErr := encodeOne(table, func(w *Row) { w.Any(nil) })
		if gotBuf != wantBuf || gotErr != wantErr || gotBuf == "" {
			t.Errorf("column type %d: Null gives %q, %q; Any(nil) gives %q, %q", oid, gotBuf, gotErr, wantBuf, wantErr)
		}
	}
}

// TestRowValueCount: a row must give exactly one value per column, and nothing after a value that did not fit
// counts or is encoded.
func TestRowValueCount(t *testing.T) {
	table := &Table{cols: []column{{name: "a", oid: pgtype.Int4OID, enc: encodeInt4}, {name: "b", oid: pgtype.TextOID, enc: encodeText}}}
	for _, c := range []struct {
		name  string
		write func(w *Row)
		want  string
	}{
		{"too few", func(w *Row) { w.Int64(1) }, "row has 1 values for 2 columns"},
		{"too many", func(w *Row) { w.Int64(1); w.String("x"); w.Null(); w.Float64(2) }, "row has 4 values for 2 columns"},
		{"bad value first", func(w *Row) { w.Int64(1 << 40); w.String("x"); w.Null() }, `column "a" (): 1099511627776 is out of range`},
		{"wrong type", func(w *Row) { w.Int64(1); w.Time(time.Time{}) }, `column "b" (): cannot encode a Go time.Time`},
	} {
		w := Row{t: table}
		w.begin([]byte("prefix"))
		c.write(&w)
		buf, err := w.end()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.name, err, c.want)
		}
		if !bytes.HasPrefix(buf, []byte("prefix")) {
			t.Errorf("%s: the bytes before the row changed: %q", c.name, buf)
		}
	}
	w := Row{t: table}
	w.begin(nil)
	w.Int64(7)
	w.String("seven")
	buf, err := w.end()
	want := "\x00\x02" + "\x00\x00\x00\x04\x00\x00\x00\x07" + "\x00\x00\x00\x05seven"
	if err != nil || string(buf) != want {
		t.Errorf("good row: %q, %v; want %q", buf, err, want)
	}
}

// TestTypedSampleRowMatchesValues: a sample record written typed (the sink's way) encodes to the same bytes as
// its SampleRow through Any, with and without latency histograms and for each figure group.
func TestTypedSampleRowMatchesValues(t *testing.T) {
	table := sampleTable()
	recs := sampleRecords(4)
	h := schema.NewHist()
	for i := range int64(1000) {
		if err := h.RecordValue(100 + i*i%5000); err != nil {
			t.Fatal(err)
		}
	}
	hdr, err := schema.EncodeHist(h)
	if err != nil {
		t.Fatal(err)
	}
	withHists := recs[1] // an MQTT sample
	sample := *withHists.Sample
	mqtt := *sample.MQTT
	withHists.V, withHists.Sample, sample.MQTT = schema.Version, &sample, &mqtt
	withHists.Sample.Latency = &schema.Latency{MinMs: 0.1, MeanMs: 1, P50Ms: 1, P90Ms: 2, P95Ms: 3, P99Ms: 4, P999Ms: 5, MaxMs: 5.1, HDR: hdr}
	withHists.Sample.MQTT.UncorrectedHDR = hdr
	if err := withHists.Validate(); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, withHists)
	for i := range recs {
		w := Row{t: table}
		w.begin(nil)
		recs[i].WriteSampleRow(&w)
		typed, err := w.end()
		if err != nil {
			t.Fatal(err)
		}
		viaAny, err := table.appendRow(nil, recs[i].SampleRow())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(typed, viaAny) {
			t.Errorf("record %d: typed %x, via []any %x", i, typed, viaAny)
		}
		if i == len(recs)-1 {
			if lat, _ := recs[i].Sample.Latency.Hist(); len(lat) == 0 || !bytes.Contains(typed, lat) {
				t.Errorf("the record with histograms encoded to %d bytes without its histogram's %d", len(typed), len(lat))
			}
		}
	}
}
