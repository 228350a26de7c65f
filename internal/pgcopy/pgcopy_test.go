package pgcopy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	_ Querier = pgx.Tx(nil)
	_ Querier = (*pgx.Conn)(nil)
	_ Querier = (*pgxpool.Pool)(nil)
)

// connect opens a connection to a fresh database, in UTC so that timestamps far in the past print the same way on
// every machine.
func connect(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	exec(tb, conn, "SET TimeZone = 'UTC'")
	return conn
}

func exec(tb testing.TB, conn *pgx.Conn, sql string) {
	tb.Helper()
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

func load(tb testing.TB, conn Querier, table string, columns []string) *Table {
	tb.Helper()
	t, err := LoadTable(context.Background(), conn, pgx.Identifier{table}, columns)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func copyRows(tb testing.TB, conn *pgx.Conn, t *Table, rows [][]any) {
	tb.Helper()
	n, err := t.Copy(context.Background(), conn.PgConn(), rows)
	if err != nil {
		tb.Fatal(err)
	}
	if n != int64(len(rows)) {
		tb.Fatalf("Copy stored %d rows, want %d", n, len(rows))
	}
}

func pgxCopy(tb testing.TB, conn *pgx.Conn, table string, columns []string, rows [][]any) {
	tb.Helper()
	if _, err := conn.CopyFrom(context.Background(), pgx.Identifier{table}, columns, pgx.CopyFromRows(rows)); err != nil {
		tb.Fatalf("pgx CopyFrom into %s: %v", table, err)
	}
}

// sameRows fails unless tables a and b hold the same rows (as multisets) in columns. Rows are compared as their
// text form: json has no equality operator, and float8's treats -0 and 0 as equal.
func sameRows(tb testing.TB, conn *pgx.Conn, a, b string, columns []string, want int) {
	tb.Helper()
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	row := "ROW(" + strings.Join(quoted, ", ") + ")::text"
	ctx := context.Background()
	for _, p := range [][2]string{{a, b}, {b, a}} {
		q := fmt.Sprintf("SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s", row, pgx.Identifier{p[0]}.Sanitize(), row, pgx.Identifier{p[1]}.Sanitize())
		rows, err := conn.Query(ctx, q)
		if err != nil {
			tb.Fatal(err)
		}
		extra, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			tb.Fatal(err)
		}
		for i, r := range extra {
			if i == 5 {
				tb.Errorf("… %d more", len(extra)-5)
				break
			}
			tb.Errorf("row in %s but not in %s: %.300s", p[0], p[1], r)
		}
	}
	for _, table := range []string{a, b} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{table}.Sanitize()).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if n != want {
			tb.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

const allTypesTable = `(
	id   int4 PRIMARY KEY,
	i2   int2, i4 int4, i8 int8,
	f4   float4, f8 float8,
	b    bool,
	t    text, vc varchar(40),
	u    uuid,
	tstz timestamptz, ts timestamp,
	jb   jsonb, j json)`

var allTypesColumns = []string{"id", "i2", "i4", "i8", "f4", "f8", "b", "t", "vc", "u", "tstz", "ts", "jb", "j"}

// TestRoundTripMatchesPgx writes the same rows with Copy and with pgx CopyFrom and expects the same table contents.
func TestRoundTripMatchesPgx(t *testing.T) {
	conn := connect(t)
	exec(t, conn, "CREATE TABLE ours "+allTypesTable)
	exec(t, conn, "CREATE TABLE theirs "+allTypesTable)

	tokyo := time.FixedZone("JST", 9*3600)
	newYork, err := time.LoadLocation("America/New_York")
	if err != nil {
		newYork = time.FixedZone("EST", -5*3600)
	}
	id := uuid.MustParse("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	minTime := time.Date(-4713, 11, 24, 0, 0, 0, 0, time.UTC)             // 4714-11-24 BC, PostgreSQL's first instant
	maxTime := time.Date(294276, 12, 31, 23, 59, 59, 999999999, time.UTC) // truncated to its last microsecond
	big := strings.Repeat("0123456789abcdef", 20000)                      // 320 kB: spans several send buffers

	rows := [][]any{
		// Edge values, one row per theme.
		{1, int64(math.MinInt16), int64(math.MinInt32), int64(math.MinInt64), float32(-math.MaxFloat32), -math.MaxFloat64, false,
			"", "", uuid.UUID{}, minTime, minTime, json.RawMessage(`{}`), json.RawMessage(`{}`)},
		{2, int64(math.MaxInt16), int64(math.MaxInt32), int64(math.MaxInt64), float32(math.MaxFloat32), math.MaxFloat64, true,
			"héllo wörld 世界 🎉", "ünïcödé ✓", id, maxTime, maxTime,
			json.RawMessage(`{"a":[1,2,{"b":null,"c":[true,false]}],"d":{"e":{"f":"ü 🎉"}},"g":1.5}`),
			json.RawMessage(`{ "kept" :  "as written",  "dup": 1, "dup": 2 }`)},
		{3, int16(0), int32(0), 0, float32(math.Copysign(0, -1)), math.Copysign(0, -1), true,
			"tab\tnewline\nquote'\"backslash\\", "x", [16]byte(id), time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC),
			time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), json.RawMessage(`[]`), json.RawMessage(`[]`)},
		{4, int8(-1), int16(-1), int32(-1), float32(math.NaN()), math.NaN(), false,
			[]byte("bytes"), json.RawMessage(`raw`), id.String(), time.Date(2024, 2, 29, 12, 34, 56, 123456789, tokyo),
			time.Date(2024, 2, 29, 12, 34, 56, 123456789, tokyo), `"a string"`, `"a string"`},
		{5, uint8(255), uint32(math.MaxInt32), uint64(math.MaxInt64), float32(math.Inf(1)), math.Inf(1), true,
			big, "", uuid.Max, time.Date(2024, 11, 3, 1, 30, 0, 0, newYork), time.Date(2024, 11, 3, 1, 30, 0, 0, newYork),
			[]byte(`{"bytes": true}`), []byte(`{"bytes": true}`)},
		{6, uint16(7), int(-7), int(math.MinInt64), float32(math.Inf(-1)), math.Inf(-1), false,
			"NULL", "\\N", id, time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
			json.RawMessage(`null`), json.RawMessage(`null`)},
		// float64 into real rounds to nearest; small and denormal values survive.
		{7, nil, nil, nil, 0.1, 0.1, nil, nil, nil, nil, time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 1000, time.UTC), nil, nil},
		{8, nil, nil, nil, float64(math.SmallestNonzeroFloat32), math.SmallestNonzeroFloat64, nil, nil, nil, nil, nil, nil, nil, nil},
		{9, nil, nil, nil, int64(1 << 24), int64(1 << 53), nil, nil, nil, nil, nil, nil, nil, nil},
		// NULL in every column: untyped nil, and nil slices as pgx takes them.
		{10, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{11, nil, nil, nil, nil, nil, nil, []byte(nil), json.RawMessage(nil), nil, nil, nil, json.RawMessage(nil), []byte(nil)},
	}
	// Enough ordinary rows to cross many send-buffer boundaries at odd offsets.
	t0 := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i := 100; i < 5100; i++ {
		rows = append(rows, []any{i, int64(i % 30000), int64(i * 1000), int64(i) << 40, float64(i) / 7, float64(i) / 3, i%2 == 0,
			strings.Repeat("é", i%50), fmt.Sprintf("row %d", i), uuid.NewSHA1(id, []byte{byte(i), byte(i >> 8)}),
			t0.Add(time.Duration(i) * 1234567 * time.Microsecond), t0.Add(-time.Duration(i) * time.Hour),
			json.RawMessage(fmt.Sprintf(`{"i":%d,"s":"%s"}`, i, strings.Repeat("x", i%20))), json.RawMessage(fmt.Sprintf(`[%d]`, i))})
	}

	copyRows(t, conn, load(t, conn, "ours", allTypesColumns), rows)
	pgxCopy(t, conn, "theirs", allTypesColumns, rows)
	sameRows(t, conn, "ours", "theirs", allTypesColumns, len(rows))

	// Spot checks against the server's own reading of the values, in case pgx and pgcopy agreed on a mistake.
	var i8 int64
	var f8 float64
	var tstz time.Time
	var neg bool
	if err := conn.QueryRow(context.Background(), "SELECT i8, f8, tstz, f8::text = '-0' FROM ours WHERE id = 3").Scan(&i8, &f8, &tstz, &neg); err != nil {
		t.Fatal(err)
	}
	if i8 != 0 || !neg || !tstz.Equal(time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC)) {
		t.Errorf("row 3: i8 %d, f8 %v (negative zero: %v), tstz %s", i8, f8, neg, tstz)
	}
	var text []string
	rs, err := conn.Query(context.Background(), `SELECT concat_ws(' ', i8, f8, tstz, ts, jb, j) FROM ours WHERE id IN (1, 2, 4) ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	if text, err = pgx.CollectRows(rs, pgx.RowTo[string]); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`-9223372036854775808 -1.7976931348623157e+308 4714-11-24 00:00:00+00 BC 4714-11-24 00:00:00 BC {} {}`,
		`9223372036854775807 1.7976931348623157e+308 294276-12-31 23:59:59.999999+00 294276-12-31 23:59:59.999999 ` +
			`{"a": [1, 2, {"b": null, "c": [true, false]}], "d": {"e": {"f": "ü 🎉"}}, "g": 1.5} { "kept" :  "as written",  "dup": 1, "dup": 2 }`,
		`-1 NaN 2024-02-29 03:34:56.123456+00 2024-02-29 12:34:56.123456 "a string" "a string"`,
	}
	if !reflect.DeepEqual(text, want) {
		t.Errorf("server reads\n%s\nwant\n%s", strings.Join(text, "\n"), strings.Join(want, "\n"))
	}
}

// sampleRecords returns a run's sample records the way the load generators make them (see sink/ingest's makeRun):
// latency always, MQTT figures on some, pgbench figures on others, so that both values and NULLs reach every column.
func sampleRecords(n int) []schema.Record {
	id := uuid.Must(uuid.NewV7())
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	recs := make([]schema.Record, 0, n)
	for i := 1; i <= n; i++ {
		start := t0.Add(time.Duration(i-1) * time.Second)
		phase := schema.PhaseMeasure
		if i <= 2 {
			phase = schema.PhaseWarmup
		}
		ops := int64(900 + i%200)
		f := schema.Figures{Ops: ops, OpsRate: float64(ops) / 1.000123, Bytes: ops * 100, Errors: int64(i % 3),
			Latency: &schema.Latency{MinMs: 0.1, MeanMs: 1.5, P50Ms: 1.2, P90Ms: 2.5, P95Ms: 3, P99Ms: 4.5 + float64(i%7), P999Ms: 12, MaxMs: 20.25}}
		if i%2 == 0 {
			f.MQTT = &schema.MQTTFigures{Sent: ops, Received: ops - 1, Lost: 1, OutOfOrder: int64(i % 2), OfferedRate: 1000,
				UncorrectedP50Ms: 1.1, UncorrectedP99Ms: 4, UncorrectedMaxMs: 19}
		} else {
			f.Pgbench = &schema.PgbenchFigures{TPS: float64(ops) / 3, StddevMs: 0.7, Failed: int64(i % 5), LagMs: 0.01}
		}
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: id, Seq: int64(i), Time: start.Add(time.Second),
			Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: phase, Figures: f}})
	}
	return recs
}

func sampleRows(recs []schema.Record) [][]any {
	rows := make([][]any, len(recs))
	for i := range recs {
		rows[i] = recs[i].SampleRow()
	}
	return rows
}

func migrate(tb testing.TB, conn *pgx.Conn) {
	tb.Helper()
	if _, err := schema.Migrate(context.Background(), conn); err != nil {
		tb.Fatal(err)
	}
}

// TestSamples copies sample records into the migrated samples table, inside a transaction as the sink does, as
// SampleRow's []any (Copy) and written typed from the records (CopyFunc, the sink's way), and reads every value
// back.
func TestSamples(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	migrate(t, conn)
	recs := sampleRecords(25)
	rows := sampleRows(recs)
	for _, way := range []string{"Copy", "CopyFunc"} {
		t.Run(way, func(t *testing.T) {
			exec(t, conn, "TRUNCATE samples")
			tx, err := conn.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			table := load(t, tx, "samples", schema.SampleColumns)
			var n int64
			if way == "Copy" {
				n, err = table.Copy(ctx, tx.Conn().PgConn(), rows)
			} else {
				n, err = table.CopyFunc(ctx, tx.Conn().PgConn(), len(recs), func(i int, w *Row) { recs[i].WriteSampleRow(w) })
			}
			if err != nil {
				t.Fatal(err)
			}
			if n != int64(len(rows)) {
				t.Fatalf("stored %d rows, want %d", n, len(rows))
			}
			if err := tx.Commit(ctx); err != nil {
				t.Fatal(err)
			}

			cols := make([]string, len(schema.SampleColumns))
			for i, c := range schema.SampleColumns {
				cols[i] = pgx.Identifier{c}.Sanitize()
			}
			rs, err := conn.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM samples ORDER BY seq")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rs, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(rows) {
				t.Fatalf("read %d rows back, want %d", len(got), len(rows))
			}
			for i := range rows {
				for j, c := range schema.SampleColumns {
					if g, w := comparable(got[i][j]), comparable(rows[i][j]); g != w {
						t.Errorf("seq %d, %s: read %v (%T), wrote %v (%T)", recs[i].Seq, c, got[i][j], got[i][j], rows[i][j], rows[i][j])
					}
				}
			}
		})
	}
}

// comparable maps a written or read value to one that == compares: pgx reads uuid as [16]byte, and time.Time's
// == looks at the location.
func comparable(v any) any {
	switch v := v.(type) {
	case uuid.UUID:
		return [16]byte(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return v
}

// TestSinetstreamRows writes perftool rows (int32, pointer-derived NULLs) and raw rows into the dash-named table,
// and compares with pgx CopyFrom.
func TestSinetstreamRows(t *testing.T) {
	conn := connect(t)
	migrate(t, conn)
	exec(t, conn, `CREATE TABLE perftool_pgx (LIKE perftool INCLUDING DEFAULTS)`)
	exec(t, conn, `CREATE TABLE raw_pgx (LIKE "perftool-sinetstream-result")`)

	f := func(v float64) *float64 { return &v }
	i := func(v int64) *int64 { return &v }
	tm := func(v time.Time) *time.Time { return &v }
	end := time.Date(2025, 3, 1, 10, 0, 0, 123456000, time.UTC)
	var rows, raw [][]any
	for k := range 50 {
		r := sinetstream.Row{Timestamp: end.Add(time.Duration(k) * time.Second), Publisher: "pi-7", ThreadNumber: int32(k % 4),
			PublishedAt: end.Add(time.Duration(k)*time.Second + time.Millisecond)}
		if k%3 != 0 {
			r.WriterBytesRate, r.WriterCountRate, r.WriterErrorRate, r.WriterErrorCount = f(1.5e8), f(1000), f(0), i(0)
			r.WriterStartTime, r.WriterEndTime, r.WriterTime = tm(r.Timestamp.Add(-time.Second)), tm(r.Timestamp), f(1)
			r.WriterMsgCountTotal, r.WriterMsgBytesTotal, r.WriterMsgSizeMin, r.WriterMsgSizeMax, r.WriterMsgSizeAvg = i(1000), i(1<<20), i(1024), i(1024), f(1024)
		}
		if k%3 != 1 {
			r.ReaderBytesRate, r.ReaderCountRate, r.ReaderErrorRate, r.ReaderErrorCount = f(1.4e8), f(990), f(0.5), i(5)
			r.ReaderTime, r.ReaderMsgCountTotal = f(1.01), i(995)
		}
		rows = append(rows, r.Values())
		raw = append(raw, sinetstream.RawRow{Tstamp: r.PublishedAt, Msg: json.RawMessage(fmt.Sprintf(`{"k":%d,"name":"pi-7"}`, k))}.Values())
	}
	copyRows(t, conn, load(t, conn, sinetstream.Table, sinetstream.Columns()), rows)
	pgxCopy(t, conn, "perftool_pgx", sinetstream.Columns(), rows)
	sameRows(t, conn, sinetstream.Table, "perftool_pgx", sinetstream.Columns(), len(rows))

	copyRows(t, conn, load(t, conn, sinetstream.RawTable, sinetstream.RawColumns()), raw)
	pgxCopy(t, conn, "raw_pgx", sinetstream.RawColumns(), raw)
	sameRows(t, conn, sinetstream.RawTable, "raw_pgx", sinetstream.RawColumns(), len(raw))
}

// TestValueErrors checks that a value that does not fit its column fails the batch with an error that names row and
// column, stores nothing, and leaves the connection usable.
func TestValueErrors(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	exec(t, conn, "CREATE TABLE e (i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool, t text, u uuid, tstz timestamptz, ts timestamp, jb jsonb)")
	columns := []string{"i2", "i4", "i8", "f4", "f8", "b", "t", "u", "tstz", "ts", "jb"}
	table := load(t, conn, "e", columns)

	cases := []struct {
		column string
		value  any
		want   string
	}{
		{"i2", 32768, "32768 is out of range"},
		{"i4", int64(math.MaxInt32 + 1), "2147483648 is out of range"},
		{"i4", math.MinInt32 - 1, "-2147483649 is out of range"},
		{"i8", uint64(math.MaxUint64), "18446744073709551615 is out of range"},
		{"i8", "12", "cannot encode a Go string"},
		{"i8", 1.0, "cannot encode a Go float64"},
		{"i8", new(int64), "cannot encode a Go *int64"},
		{"f4", 1e39, "1e+39 is out of range"},
		{"f4", 1e-50, "1e-50 is out of range"},
		{"f4", int64(1<<24 + 1), "16777217 has no exact real value"},
		{"f8", int64(1<<53 + 1), "9007199254740993 has no exact double precision value"},
		{"f8", "1.5", "cannot encode a Go string"},
		{"b", 1, "cannot encode a Go int"},
		{"t", 42, "cannot encode a Go int"},
		{"u", "not-a-uuid", "invalid UUID"},
		{"u", []byte{1, 2}, "cannot encode a Go []uint8"},
		{"tstz", time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC), "outside PostgreSQL's range"},
		{"tstz", time.Date(-4713, 11, 23, 23, 59, 59, 999999999, time.UTC), "outside PostgreSQL's range"},
		{"tstz", "2025-01-01", "cannot encode a Go string"},
		{"ts", time.Date(294277, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600)), "outside PostgreSQL's range"}, // wall clock counts
		{"jb", map[string]any{"a": 1}, "cannot encode a Go map[string]interface {}"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %T %v", c.column, c.value, c.value), func(t *testing.T) {
			// The bad value sits in row 1 of 3, between rows Copy would store.
			rows := make([][]any, 3)
			for i := range rows {
				rows[i] = make([]any, len(columns))
			}
			rows[1][indexOf(columns, c.column)] = c.value
			_, err := table.Copy(ctx, conn.PgConn(), rows)
			checkValueError(t, err, 1, c.column, c.want)
			checkEmpty(t, conn, "e")
		})
	}

	t.Run("late in a large batch", func(t *testing.T) {
		// Many send buffers have gone to the server before the bad value: the COPY must still fail as a whole.
		rows := make([][]any, 10000)
		for i := range rows {
			rows[i] = []any{nil, i, int64(i), nil, float64(i), nil, strings.Repeat("x", 100), nil, nil, nil, nil}
		}
		rows[9000][1] = int64(1 << 40)
		_, err := table.Copy(ctx, conn.PgConn(), rows)
		checkValueError(t, err, 9000, "i4", "1099511627776 is out of range")
		checkEmpty(t, conn, "e")
	})

	t.Run("row length", func(t *testing.T) {
		_, err := table.Copy(ctx, conn.PgConn(), [][]any{make([]any, len(columns)), {1, 2}})
		if err == nil || !strings.Contains(err.Error(), "row 1: row has 2 values for 11 columns") {
			t.Fatalf("error %v, want one about row 1's length", err)
		}
		checkEmpty(t, conn, "e")
	})
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	panic(v)
}

func checkValueError(t *testing.T, err error, row int, column, want string) {
	t.Helper()
	var ve *ValueError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T), want a *ValueError", err, err)
	}
	if ve.Row != row || ve.Column != column || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q (row %d, column %q), want row %d, column %q, text %q", err, ve.Row, ve.Column, row, column, want)
	}
	if prefix := fmt.Sprintf("row %d, column %q (", row, column); !strings.HasPrefix(err.Error(), prefix) {
		t.Errorf("error %q does not start with %q", err, prefix)
	}
}

// checkEmpty also proves the connection survived the failed COPY.
func checkEmpty(t *testing.T, conn *pgx.Conn, table string) {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("connection after the failed COPY: %v", err)
	}
	if n != 0 {
		t.Errorf("%s has %d rows after a failed COPY", table, n)
	}
}

func TestLoadTableErrors(t *testing.T) {
	conn := connect(t)
	exec(t, conn, "CREATE TABLE money (id int8, amount numeric(10,2), tags text[])")
	cases := []struct {
		name        string
		table       string
		columns     []string
		want        string
		unsupported bool
	}{
		{"numeric", "money", []string{"id", "amount"}, `column "amount" has type numeric(10,2): column type not supported by pgcopy`, true},
		{"array", "money", []string{"tags"}, `column "tags" has type text[]`, true},
		{"no column", "money", []string{"id", "nope"}, `table "money" has no column "nope"`, false},
		{"no table", "nope", []string{"id"}, `load table "nope": no such table`, false},
		{"qualified name is one identifier", "public.money", []string{"id"}, "no such table", false},
		{"twice", "money", []string{"id", "id"}, `column "id" listed twice`, false},
		{"no columns", "money", nil, "no columns", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadTable(context.Background(), conn, pgx.Identifier{c.table}, c.columns)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if errors.Is(err, ErrUnsupportedType) != c.unsupported {
				t.Errorf("errors.Is(err, ErrUnsupportedType) = %v, want %v", !c.unsupported, c.unsupported)
			}
		})
	}
}

// TestUniqueViolation checks that the server's refusal reaches the caller as the *pgconn.PgError the sink's dedup
// fallback looks for, including inside a savepoint that the sink then rolls back to.
func TestUniqueViolation(t *testing.T) {
	ctx := context.Background()
	conn := connect(t)
	exec(t, conn, "CREATE TABLE k (id int8 PRIMARY KEY, note text)")
	table := load(t, conn, "k", []string{"id", "note"})
	copyRows(t, conn, table, [][]any{{1, "first"}})

	check := func(err error) {
		t.Helper()
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
			t.Fatalf("error %v (%T), want a *pgconn.PgError with code 23505", err, err)
		}
	}
	_, err := table.Copy(ctx, conn.PgConn(), [][]any{{2, "new"}, {1, "again"}})
	check(err)
	_, err = table.Copy(ctx, conn.PgConn(), [][]any{{3, "new"}, {3, "within the batch"}})
	check(err)

	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SAVEPOINT direct_copy"); err != nil {
		t.Fatal(err)
	}
	_, err = table.Copy(ctx, tx.Conn().PgConn(), [][]any{{1, "in a transaction"}})
	check(err)
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT direct_copy"); err != nil {
		t.Fatal(err)
	}
	if _, err := table.Copy(ctx, tx.Conn().PgConn(), [][]any{{4, "after the rollback"}}); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	rs, err := conn.Query(ctx, "SELECT id FROM k ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	if ids, err = pgx.CollectRows(rs, pgx.RowTo[int64]); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(ids, []int64{1, 4}) {
		t.Errorf("ids %v, want [1 4]", ids)
	}
}

// TestTempTable checks that a temporary table is found and written through pg_temp, and that a Table keeps naming
// the table it loaded after search_path changes.
func TestTempTable(t *testing.T) {
	conn := connect(t)
	exec(t, conn, "CREATE SCHEMA other")
	exec(t, conn, "CREATE TABLE other.x (v int4)")
	exec(t, conn, "CREATE TABLE x (v int4)")
	exec(t, conn, "CREATE TEMP TABLE tmp (v text)")
	x := load(t, conn, "x", []string{"v"})
	tmp := load(t, conn, "tmp", []string{"v"})
	exec(t, conn, "SET search_path = other")
	copyRows(t, conn, x, [][]any{{1}, {2}})
	copyRows(t, conn, tmp, [][]any{{"a"}})
	for table, want := range map[string]int{"public.x": 2, "other.x": 0, "pg_temp.tmp": 1} {
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

// A qualified name finds its own schema's table even when search_path would find another of the same name first,
// as it does for the compose stack's owner role (a schema named like the role comes first in "$user", public).
func TestQualifiedTableIgnoresSearchPath(t *testing.T) {
	conn := connect(t)
	exec(t, conn, "CREATE SCHEMA decoy")
	exec(t, conn, "CREATE TABLE decoy.y (v int4)")
	exec(t, conn, "CREATE TABLE y (v int4)")
	exec(t, conn, "SET search_path = decoy, public")
	y, err := LoadTable(context.Background(), conn, pgx.Identifier{"public", "y"}, []string{"v"})
	if err != nil {
		t.Fatal(err)
	}
	copyRows(t, conn, y, [][]any{{1}, {2}, {3}})
	for table, want := range map[string]int{"public.y": 3, "decoy.y": 0} {
		var n int
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}
}

// TestByteaMatchesPgx: the samples' histograms (bytea) are copied byte for byte, NUL and high bytes included; nil
// is NULL and an empty slice is an empty value, as pgx writes them.
func TestByteaMatchesPgx(t *testing.T) {
	conn := connect(t)
	exec(t, conn, "CREATE TABLE ours (id int4, b bytea)")
	exec(t, conn, "CREATE TABLE theirs (id int4, b bytea)")
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	rows := [][]any{{1, all}, {2, []byte{}}, {3, []byte(nil)}, {4, nil}, {5, []byte(strings.Repeat("\x00\xff", 200000))}}
	for i := 10; i < 2010; i++ {
		rows = append(rows, []any{i, []byte(fmt.Sprintf("HISTFAA%d\x00", i))})
	}
	copyRows(t, conn, load(t, conn, "ours", []string{"id", "b"}), rows)
	pgxCopy(t, conn, "theirs", []string{"id", "b"}, rows)
	sameRows(t, conn, "ours", "theirs", []string{"id", "b"}, len(rows))
	var n256, empty, nulls int
	if err := conn.QueryRow(context.Background(), `SELECT
		(SELECT length(b) FROM ours WHERE id = 1 AND b = '\x'::bytea || decode(string_agg(lpad(to_hex(g), 2, '0'), '' ORDER BY g), 'hex')),
		(SELECT count(*) FROM ours WHERE b = ''::bytea), (SELECT count(*) FROM ours WHERE b IS NULL)
		FROM generate_series(0, 255) g`).Scan(&n256, &empty, &nulls); err != nil {
		t.Fatal(err)
	}
	if n256 != 256 || empty != 1 || nulls != 2 {
		t.Errorf("all 256 byte values: length %d (want 256), empty values %d (want 1), NULLs %d (want 2)", n256, empty, nulls)
	}
	if _, err := load(t, conn, "ours", []string{"id", "b"}).Copy(context.Background(), conn.PgConn(), [][]any{{6, "a string"}}); err == nil || !strings.Contains(err.Error(), "cannot encode a Go string") {
		t.Errorf("a string into bytea: error %v, want a refusal", err)
	}
}
