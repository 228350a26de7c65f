package sinetstream_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// The tests below run the perftool migration on a real PostgreSQL (internal/testenv). TimescaleDB is not
// installed here: TestSQLTimescaleStandIn runs 0002_perftool.timescale.sql against stand-ins for its functions.

func TestMain(m *testing.M) { testenv.Main(m) }

func migrationFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "migrations", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// perftoolDB returns a connection to a fresh database (as the compose stack's owner role) with 0002_perftool.sql
// applied the way the migration runner applies a plain migration: in one transaction, as one multi-statement Exec,
// with search_path pinned to public.
func perftoolDB(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	sql := migrationFile(t, "0002_perftool.sql")
	if err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "SET LOCAL search_path = public;\n"+sql)
		return err
	}); err != nil {
		t.Fatalf("apply 0002_perftool.sql: %v", err)
	}
	return conn
}

// insertRows writes rows the way the sink should: COPY into a temporary table, then INSERT … ON CONFLICT DO
// NOTHING, because COPY cannot skip rows that are already there. It returns how many rows were new.
func insertRows(t *testing.T, conn *pgx.Conn, rows []sinetstream.Row) int64 {
	t.Helper()
	ctx := context.Background()
	var inserted int64
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `CREATE TEMP TABLE perftool_batch (LIKE perftool INCLUDING DEFAULTS) ON COMMIT DROP`); err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"perftool_batch"}, sinetstream.Columns(),
			pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) { return rows[i].Values(), nil })); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO perftool SELECT * FROM perftool_batch ON CONFLICT DO NOTHING`)
		inserted = tag.RowsAffected()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return inserted
}

// rowFrom runs a result through the whole path: marshal, frame, decode, parse, build the row.
func rowFrom(t *testing.T, r sinetstream.Result, publishedAt time.Time, encode func(time.Time, []byte) []byte) sinetstream.Row {
	t.Helper()
	line, err := sinetstream.MarshalResult(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := sinetstream.Decode(encode(publishedAt, line))
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := sinetstream.ParseResult(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	row, err := sinetstream.NewRow(m, parsed, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return row
}

var base = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

// run builds the results of a perftool run of publisher with the given threads and rounds, rounds 20 s apart
// starting at base+1s. Thread t in round k writes 1000·(t+1) + 10·k bytes/s and reads 10 less; one writer error
// per thread and round.
func run(publisher string, threads, rounds int) []sinetstream.Result {
	var out []sinetstream.Result
	for k := range rounds {
		for th := range threads {
			end := base.Add(time.Second + time.Duration(k)*20*time.Second + time.Duration(th)*time.Millisecond)
			w := *threadResults[0].Writer
			w.ThreadNumber = th
			w.EndTimeMillis = float64(end.UnixMilli())
			w.StartTimeMillis = w.EndTimeMillis - 500
			w.EndTime, w.StartTime = w.EndTimeMillis/1000, w.StartTimeMillis/1000
			w.MsgBytesRate = float64(1000*(th+1) + 10*k)
			w.ErrorCountTotal, w.ErrorCountRate = 1, 2
			r := *threadResults[0].Reader
			r.ThreadNumber = th
			r.StartTimeMillis, r.EndTimeMillis = w.StartTimeMillis-100, w.EndTimeMillis+2
			r.StartTime, r.EndTime = r.StartTimeMillis/1000, r.EndTimeMillis/1000
			r.MsgBytesRate = w.MsgBytesRate - 10
			out = append(out, sinetstream.Result{Name: publisher, Writer: &w, Reader: &r})
		}
	}
	return out
}

func TestSQLMigrationThroughRunner(t *testing.T) {
	all, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(all, func(m schema.Migration) bool { return m.Version == 2 })
	if i < 0 || all[i].Name != "perftool" || all[i].Plain == "" || all[i].Timescale == "" {
		t.Fatalf("migration 2 not found with both parts: %+v", all)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Applied, "0002_perftool") {
		t.Fatalf("Migrate applied %v", res.Applied)
	}
	for _, rel := range []string{"perftool", `"perftool-sinetstream-result"`, "viewer_config",
		"perftool_30sec", "perftool_1min", "perftool_2min", "perftool_10min",
		"perftool_thread_30sec", "perftool_thread_1min", "perftool_thread_2min", "perftool_thread_10min"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", rel).Scan(&ok); err != nil || !ok {
			t.Errorf("%s missing after Migrate (%v)", rel, err)
		}
	}
}

func TestSQLTableMatchesRow(t *testing.T) {
	conn := perftoolDB(t)
	rows, err := conn.Query(context.Background(),
		`SELECT column_name FROM information_schema.columns WHERE table_name = 'perftool' ORDER BY ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := append(sinetstream.Columns(), "inserted_at"); !slices.Equal(cols, want) {
		t.Fatalf("perftool columns\n%v\nwant Columns() + inserted_at\n%v", cols, want)
	}
}

func TestSQLRowsAndViews(t *testing.T) {
	ctx := context.Background()
	conn := perftoolDB(t)
	pub := base.Add(time.Hour) // the wrapper shipped the results an hour after the run

	var rows []sinetstream.Row
	for i, r := range run("edge-pi-02", 2, 3) {
		rows = append(rows, rowFrom(t, r, pub.Add(time.Duration(i)*time.Millisecond), sinetstream.EncodeV3))
	}
	py, err := sinetstream.ParseResult([]byte(pythonLine))
	if err != nil {
		t.Fatal(err)
	}
	pyRow := rowFrom(t, py, pub, sinetstream.EncodeV2)
	rows = append(rows, pyRow)
	if n := insertRows(t, conn, rows); n != 7 {
		t.Fatalf("inserted %d rows, want 7", n)
	}

	// Re-published (new tstamps, other framing) and re-delivered within one batch: nothing new.
	var again []sinetstream.Row
	for i, r := range run("edge-pi-02", 2, 3) {
		row := rowFrom(t, r, pub.Add(time.Duration(i)*time.Hour), sinetstream.EncodeV2)
		again = append(again, row, row)
	}
	if n := insertRows(t, conn, again); n != 0 {
		t.Fatalf("re-publication inserted %d rows, want 0", n)
	}

	// The row reads back as written, NULLs included.
	got, err := conn.Query(ctx, `SELECT `+quoteColumns()+` FROM perftool WHERE publisher = 'edge-py'`)
	if err != nil {
		t.Fatal(err)
	}
	back, err := pgx.CollectExactlyOneRow(got, func(r pgx.CollectableRow) ([]any, error) { return r.Values() })
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range pyRow.Values() {
		if !sameValue(back[i], want) {
			t.Errorf("column %s = %#v, want %#v", sinetstream.Columns()[i], back[i], want)
		}
	}

	// The old viewer's query on the table.
	type point struct {
		ts     time.Time
		rd, wr float64
	}
	viewerQuery := func(rel string) []point {
		t.Helper()
		r, err := conn.Query(ctx, fmt.Sprintf(`SELECT "timestamp", reader_bytes_rate, writer_bytes_rate FROM %s
			WHERE publisher = $1 AND "timestamp" BETWEEN $2 AND $3 ORDER BY "timestamp"`, rel),
			"edge-pi-02", base, base.Add(10*time.Minute))
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		ps, err := pgx.CollectRows(r, func(r pgx.CollectableRow) (point, error) {
			var p point
			err := r.Scan(&p.ts, &p.rd, &p.wr)
			return p, err
		})
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		return ps
	}
	table := viewerQuery("perftool")
	if len(table) != 6 || table[0].wr != 1000 || table[1].wr != 2000 || table[5].wr != 2020 || table[5].rd != 2010 ||
		!table[0].ts.Equal(base.Add(time.Second)) {
		t.Fatalf("perftool rows %+v", table)
	}

	// Views: per bucket, the threads' averages summed. Thread 0 writes 1000, 1010, 1020 in rounds 0-2 (at
	// :01, :21, :41), thread 1 2000, 2010, 2020. Averaging all rows, as the seed did, would give 1510 for the
	// minute.
	for _, v := range []struct {
		view string
		want []point
	}{
		{"perftool_30sec", []point{{base, 2990, 3010}, {base.Add(30 * time.Second), 3020, 3040}}},
		{"perftool_1min", []point{{base, 3000, 3020}}},
		{"perftool_2min", []point{{base, 3000, 3020}}},
		{"perftool_10min", []point{{base, 3000, 3020}}},
	} {
		got := viewerQuery(v.view)
		if len(got) != len(v.want) {
			t.Fatalf("%s: %+v, want %+v", v.view, got, v.want)
		}
		for i := range got {
			if !got[i].ts.Equal(v.want[i].ts) || math.Abs(got[i].rd-v.want[i].rd) > 1e-9 || math.Abs(got[i].wr-v.want[i].wr) > 1e-9 {
				t.Errorf("%s: %+v, want %+v", v.view, got, v.want)
			}
		}
	}

	// The added columns, and error counts treated like rates: 1 per thread and round → 2 per round.
	var threads, results int64
	var errs, errRate float64
	if err := conn.QueryRow(ctx, `SELECT thread_count, result_count, writer_error_count, writer_error_rate
		FROM perftool_1min WHERE publisher = 'edge-pi-02'`).Scan(&threads, &results, &errs, &errRate); err != nil {
		t.Fatal(err)
	}
	if threads != 2 || results != 6 || errs != 2 || errRate != 4 {
		t.Errorf("perftool_1min: %d threads, %d results, %v errors, %v errors/s; want 2, 6, 2, 4", threads, results, errs, errRate)
	}
	var perThread int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM perftool_thread_30sec WHERE publisher = 'edge-pi-02'`).Scan(&perThread); err != nil || perThread != 4 {
		t.Errorf("perftool_thread_30sec has %d rows (%v), want 4 (2 buckets × 2 threads)", perThread, err)
	}

	// A result seen only by a reader adds to reader_* and leaves writer_* alone.
	readerOnly := sinetstream.Result{Name: "edge-pi-02", Reader: run("edge-pi-02", 3, 1)[2].Reader}
	if n := insertRows(t, conn, []sinetstream.Row{rowFrom(t, readerOnly, pub, sinetstream.EncodeV3)}); n != 1 {
		t.Fatalf("reader-only row: inserted %d", n)
	}
	if got := viewerQuery("perftool_1min"); len(got) != 1 || got[0].rd != 3000+2990 || got[0].wr != 3020 {
		t.Errorf("perftool_1min with a reader-only thread: %+v, want reader 5990, writer 3020", got)
	}
}

func quoteColumns() string {
	var q []string
	for _, c := range sinetstream.Columns() {
		q = append(q, pgx.Identifier{c}.Sanitize())
	}
	return strings.Join(q, ", ")
}

// sameValue compares a value read from PostgreSQL with the one written (times compare as instants).
func sameValue(got, want any) bool {
	if gt, ok := got.(time.Time); ok {
		wt, ok := want.(time.Time)
		return ok && gt.Equal(wt)
	}
	return reflect.DeepEqual(got, want)
}

func TestSQLRawTable(t *testing.T) {
	ctx := context.Background()
	conn := perftoolDB(t)
	m, err := sinetstream.Decode(handV3(micros, []byte(javaLine)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sinetstream.NewRawRow(m, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{sinetstream.RawTable}, sinetstream.RawColumns(),
		pgx.CopyFromRows([][]any{raw.Values()})); err != nil {
		t.Fatal(err)
	}
	var name string
	var ts time.Time
	if err := conn.QueryRow(ctx, `SELECT tstamp, msg->>'name' FROM "perftool-sinetstream-result"`).Scan(&ts, &name); err != nil {
		t.Fatal(err)
	}
	if name != "edge-pi-01" || !ts.Equal(microsTime) {
		t.Fatalf("raw row: %v %q", ts, name)
	}

	// NewRawRow refuses exactly what jsonb refuses, so no payload it accepts can fail a COPY batch.
	for _, p := range []string{
		`{"s":"a\u0000"}`, `{"s":"\ud83d"}`, `{"s":"\ud83dx"}`, `{"s":"\ud83d\ud83d"}`, `{"s":"\ude00"}`,
		`{"s":"\\u0000"}`, `{"s":"\ud83d\ude00"}`, `{"s":"\u00e9\uffff"}`,
	} {
		_, goErr := sinetstream.NewRawRow(sinetstream.Message{Payload: []byte(p)}, microsTime)
		_, pgErr := conn.Exec(ctx, "SELECT $1::text::jsonb", p)
		if (goErr == nil) != (pgErr == nil) {
			t.Errorf("%s: NewRawRow says %v, PostgreSQL says %v", p, goErr, pgErr)
		}
	}
}

func TestSQLViewerConfig(t *testing.T) {
	conn := perftoolDB(t)
	var cfg map[string]any
	if err := conn.QueryRow(context.Background(), `SELECT config FROM viewer_config WHERE name = 'default'`).Scan(&cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `INSERT INTO viewer_config (name, config) VALUES ('default', '{}')`); err == nil {
		t.Fatal("a second 'default' row was accepted")
	}
}

func TestSQLRejectsWhatValidateRejects(t *testing.T) {
	ctx := context.Background()
	conn := perftoolDB(t)
	row := rowFrom(t, javaResult, microsTime, sinetstream.EncodeV3)
	for name, mutate := range map[string]func(*sinetstream.Row){
		"empty publisher":  func(r *sinetstream.Row) { r.Publisher = "" },
		"long publisher":   func(r *sinetstream.Row) { r.Publisher = strings.Repeat("é", 129) },
		"negative thread":  func(r *sinetstream.Row) { r.ThreadNumber = -1 },
		"no side":          func(r *sinetstream.Row) { r.WriterTime, r.ReaderTime = nil, nil },
		"no publish time":  func(r *sinetstream.Row) { r.PublishedAt = time.Time{} },
		"beyond 294276 AD": func(r *sinetstream.Row) { r.Timestamp = time.Date(300000, 1, 1, 0, 0, 0, 0, time.UTC) },
	} {
		r := row
		mutate(&r)
		_, err := conn.CopyFrom(ctx, pgx.Identifier{"perftool"}, sinetstream.Columns(), pgx.CopyFromRows([][]any{r.Values()}))
		if err == nil && name != "no publish time" {
			t.Errorf("%s: PostgreSQL accepted the row", name)
		}
		if err != nil && name == "no publish time" {
			// time.Time{} is year 1, a valid timestamptz: NewRow's ErrNoTime is the only guard.
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestSQLTimescaleStandIn checks 0002_perftool.timescale.sql without TimescaleDB: time_bucket, create_hypertable
// and add_continuous_aggregate_policy are replaced by plain functions (time_bucket by date_bin with
// time_bucket's origin), and the continuous aggregates by plain materialized views. What this proves: the file
// splits into statements as the runner splits it, every statement parses and runs on PostgreSQL, it can run
// twice, the aggregates have the plain views' columns and types (CREATE OR REPLACE VIEW would fail otherwise),
// and all eight views return the same rows before and after. What it cannot prove: that TimescaleDB accepts the
// aggregate definitions and policies; that needs a TimescaleDB server.
func TestSQLTimescaleStandIn(t *testing.T) {
	ctx := context.Background()
	conn := perftoolDB(t)
	var rows []sinetstream.Row
	for _, r := range append(run("edge-pi-02", 2, 3), run("edge-pi-03", 4, 2)...) {
		rows = append(rows, rowFrom(t, r, base.Add(time.Hour), sinetstream.EncodeV3))
	}
	insertRows(t, conn, rows)

	views := []string{"perftool_30sec", "perftool_1min", "perftool_2min", "perftool_10min",
		"perftool_thread_30sec", "perftool_thread_1min", "perftool_thread_2min", "perftool_thread_10min"}
	snapshot := func() map[string][]string {
		t.Helper()
		out := map[string][]string{}
		for _, v := range views {
			r, err := conn.Query(ctx, fmt.Sprintf(`SELECT row_to_json(v)::text FROM %s v ORDER BY 1`, v))
			if err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			if out[v], err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
			if len(out[v]) == 0 {
				t.Fatalf("%s is empty", v)
			}
		}
		r, err := conn.Query(ctx, `SELECT table_name || '.' || column_name || ' ' || data_type FROM information_schema.columns
			WHERE table_name LIKE 'perftool%' ORDER BY table_name, ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		if out["columns"], err = pgx.CollectRows(r, pgx.RowTo[string]); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := snapshot()

	if _, err := conn.Exec(ctx, `
		CREATE FUNCTION create_hypertable(relation regclass, time_column_name name, chunk_time_interval interval DEFAULT NULL,
			migrate_data boolean DEFAULT false, if_not_exists boolean DEFAULT false) RETURNS boolean LANGUAGE sql AS 'SELECT true';
		CREATE FUNCTION time_bucket(bucket_width interval, ts timestamptz) RETURNS timestamptz LANGUAGE sql IMMUTABLE
			AS $$SELECT date_bin(bucket_width, ts, TIMESTAMPTZ '2000-01-03 00:00:00+00')$$;
		CREATE FUNCTION add_continuous_aggregate_policy(continuous_aggregate regclass, start_offset interval,
			end_offset interval, schedule_interval interval, if_not_exists boolean DEFAULT false) RETURNS integer
			LANGUAGE sql AS 'SELECT 1'`); err != nil {
		t.Fatal(err)
	}
	script := migrationFile(t, "0002_perftool.timescale.sql")
	cagg := regexp.MustCompile(`WITH \(timescaledb\.continuous, timescaledb\.materialized_only = false\)`)
	if n := len(cagg.FindAllString(script, -1)); n != 4 {
		t.Fatalf("found %d real-time continuous aggregates, want 4", n)
	}
	script = strings.ReplaceAll(cagg.ReplaceAllString(script, ""), "WITH NO DATA", "WITH DATA")
	stmts := schema.SplitStatements(script)
	if len(stmts) != 13 {
		t.Fatalf("%d statements, want 13 (1 hypertable, 4 aggregates, 4 views, 4 policies)", len(stmts))
	}
	for pass := 1; pass <= 2; pass++ {
		for _, s := range stmts {
			if _, err := conn.Exec(ctx, s); err != nil {
				t.Fatalf("pass %d: %v\n%s", pass, err, s)
			}
		}
	}
	after := snapshot()
	for _, k := range append(views, "columns") {
		if !slices.Equal(before[k], after[k]) {
			t.Errorf("%s changed:\nbefore %v\nafter  %v", k, before[k], after[k])
		}
	}
	// The per-thread views now read the stand-in aggregates.
	var def string
	if err := conn.QueryRow(ctx, `SELECT pg_get_viewdef('perftool_thread_1min')`).Scan(&def); err != nil || !strings.Contains(def, "perftool_thread_1min_cagg") {
		t.Errorf("perftool_thread_1min is %q (%v)", def, err)
	}
}
