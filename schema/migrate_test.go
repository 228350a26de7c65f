package schema_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// apiRelations are the public API's relations on plain PostgreSQL: what Hasura tracks, what Grafana queries and
// the views they are built on.
var apiRelations = []string{
	"runs", "samples", "samples_1m", "perftool", "perftool-sinetstream-result", "viewer_config",
	"perftool_thread_30sec", "perftool_thread_1min", "perftool_thread_2min", "perftool_thread_10min",
	"perftool_30sec", "perftool_1min", "perftool_2min", "perftool_10min",
}

// laterRelations are public-API relations of migrations after the layout repair (moveToPublic predates them): they
// are created in schema public from the start.
var laterRelations = []string{
	"samples_hist_1m", "samples_hist_1h", "latency_percentiles", "latency_distribution",
	"cluster_observations", "cluster_node_samples", "cluster_pool_samples", "cluster_events", "run_settings",
	"cluster_node_samples_1m", "cluster_pool_samples_1m",
}

// schemaOf returns the schemas holding a relation of each name (several when the name is in several schemas).
func schemaOf(t *testing.T, conn *pgx.Conn, names []string) map[string][]string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT c.relname::text, n.nspname::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname::text = ANY($1) ORDER BY 1, 2`, names)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for rows.Next() {
		var rel, nsp string
		if err := rows.Scan(&rel, &nsp); err != nil {
			t.Fatal(err)
		}
		out[rel] = append(out[rel], nsp)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	first, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := schema.Migrations()
	if len(first.Applied) != len(all) {
		t.Fatalf("first run applied %v, want all %d migrations", first.Applied, len(all))
	}
	second, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 || len(second.Moved) != 0 {
		t.Fatalf("second run applied %v and moved %v, want nothing", second.Applied, second.Moved)
	}
}

// As the compose stack's owner (role benchpipe, search_path "$user", public), every relation of the public API
// lands in schema public and the sink's bookkeeping in benchpipe; the caller's search_path is left as it was.
func TestMigrateAsDeployedOwnerPlacesRelations(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	conn := connect(t, d.OwnerURL)
	var user, before string
	if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('search_path')").Scan(&user, &before); err != nil {
		t.Fatal(err)
	}
	if user != "benchpipe" || before != `"$user", public` {
		t.Fatalf("fixture: connected as %s with search_path %s; want benchpipe with \"$user\", public", user, before)
	}
	res, err := schema.Migrate(ctx, conn, schema.WithTimescalePolicy(schema.TimescalePolicy{CompressAfter: time.Hour}))
	if err != nil {
		t.Fatal(err)
	}
	if res.Timescale || res.TimescaleNote != "" || len(res.Policies) != 0 || len(res.Moved) != 0 {
		t.Errorf("plain PostgreSQL without TimescaleDB: result %+v", res)
	}
	want := map[string][]string{"schema_migrations": {"benchpipe"}, "sink_offsets": {"benchpipe"}}
	for _, r := range append(slices.Clone(apiRelations), laterRelations...) {
		want[r] = []string{"public"}
	}
	got := schemaOf(t, conn, slices.Concat(apiRelations, laterRelations, []string{"schema_migrations", "sink_offsets"}))
	for rel, w := range want {
		if !slices.Equal(got[rel], w) {
			t.Errorf("%s is in schema %v, want %v", rel, got[rel], w)
		}
	}
	var after string
	if err := conn.QueryRow(ctx, "SELECT current_setting('search_path')").Scan(&after); err != nil || after != before {
		t.Errorf("search_path after Migrate = %q (err %v), want the caller's %q back", after, err, before)
	}
}

// migrateUnpinned applies migrations 0001 and 0002 as the runner before issue 11 did: with the connecting role's
// own search_path, recording the same checksums. As role benchpipe that is the layout every compose deployment
// got: the public API in schema benchpipe.
func migrateUnpinned(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS benchpipe;
		CREATE TABLE IF NOT EXISTS benchpipe.schema_migrations (
			version    integer NOT NULL,
			variant    text    NOT NULL CHECK (variant IN ('plain', 'timescale')),
			name       text    NOT NULL,
			checksum   text    NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (version, variant))`); err != nil {
		t.Fatal(err)
	}
	all, err := schema.Migrations()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range all[:2] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.Plain); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO benchpipe.schema_migrations (version, variant, name, checksum) VALUES ($1, 'plain', $2, $3)",
				m.Version, m.Name, schema.Checksum(m.Plain))
			return err
		})
		if err != nil {
			t.Fatalf("old-style migration %d: %v", m.Version, err)
		}
	}
}

// A database an older runner left with the public API in schema benchpipe: Migrate moves it to public with its
// rows, the readers get their grants, later migrations apply, and a second start has nothing to do.
func TestMigrateMovesOldLayoutToPublic(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	owner := connect(t, d.OwnerURL)
	migrateUnpinned(t, owner)
	if got := schemaOf(t, owner, []string{"runs"}); !slices.Equal(got["runs"], []string{"benchpipe"}) {
		t.Fatalf("old layout not reproduced: runs in %v, want [benchpipe]", got["runs"])
	}
	// Data written the way the old sink wrote it: unqualified names, resolved through "$user".
	if _, err := owner.Exec(ctx, `
		INSERT INTO runs (run_id, kind, host_name, status) VALUES ('00000000-0000-0000-0000-000000000001', 'mqtt', 'pi-1', 'ok');
		INSERT INTO samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors) VALUES
			('00000000-0000-0000-0000-000000000001', 1, '2026-01-01 00:00:00+00', '2026-01-01 00:00:01+00', 'measure', 10, 10, 0),
			('00000000-0000-0000-0000-000000000001', 2, '2026-01-01 00:00:01+00', '2026-01-01 00:00:02+00', 'measure', 20, 20, 0);
		INSERT INTO perftool ("timestamp", publisher, thread_number, writer_time, writer_bytes_rate, published_at)
			VALUES ('2026-01-01 00:00:00+00', 'pi-1', 0, 10, 123456, '2026-01-01 00:00:00+00');
		INSERT INTO viewer_config (name, config) VALUES ('mine', '{}');`); err != nil {
		t.Fatal(err)
	}

	res, err := schema.Migrate(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Moved, apiRelations) {
		t.Errorf("moved %v, want %v", res.Moved, apiRelations)
	}
	all, _ := schema.Migrations()
	var later []string
	for _, m := range all[2:] {
		later = append(later, fmt.Sprintf("%04d_%s", m.Version, m.Name))
	}
	if !slices.Equal(res.Applied, later) {
		t.Errorf("applied %v, want the migrations after 0002: %v", res.Applied, later)
	}
	got := schemaOf(t, owner, apiRelations)
	for _, r := range apiRelations {
		if !slices.Equal(got[r], []string{"public"}) {
			t.Errorf("%s is in schema %v after the repair, want [public]", r, got[r])
		}
	}
	// The sequence moved with its table: the next id follows the rows already there.
	var id int
	if err := owner.QueryRow(ctx, "INSERT INTO public.viewer_config (name) VALUES ('next') RETURNING id").Scan(&id); err != nil || id != 3 {
		t.Errorf("next viewer_config id = %d (err %v), want 3", id, err)
	}

	// Hasura's role, a fresh login with its password: the rows are there, read through its grants.
	hasura := connect(t, d.HasuraURL)
	var host string
	var samples, ops int
	var rate float64
	if err := hasura.QueryRow(ctx, `SELECT r.host_name, count(s.seq), sum(s.ops) FROM public.runs r
		JOIN public.samples s USING (run_id) GROUP BY r.host_name`).Scan(&host, &samples, &ops); err != nil {
		t.Fatalf("as hasura: %v", err)
	}
	if host != "pi-1" || samples != 2 || ops != 30 {
		t.Errorf("as hasura: runs/samples = %s, %d samples, %d ops; want pi-1, 2, 30", host, samples, ops)
	}
	if err := hasura.QueryRow(ctx, "SELECT writer_bytes_rate FROM public.perftool_30sec WHERE publisher = 'pi-1'").Scan(&rate); err != nil || rate != 123456 {
		t.Errorf("as hasura: perftool_30sec writer_bytes_rate = %v (err %v), want 123456", rate, err)
	}
	// Grafana's role writes unqualified names, resolved through its own search_path.
	grafana := connect(t, d.GrafanaURL)
	var n int
	if err := grafana.QueryRow(ctx, "SELECT count(*) FROM samples_1m").Scan(&n); err != nil || n != 1 {
		t.Errorf("as grafana: samples_1m has %d rows (err %v), want 1", n, err)
	}

	again, err := schema.Migrate(ctx, owner)
	if err != nil || len(again.Moved)+len(again.Applied) != 0 {
		t.Errorf("second Migrate: moved %v, applied %v, err %v; want nothing", again.Moved, again.Applied, err)
	}
}

// A relation of the public API in both schemas is an operator's decision, not Migrate's.
func TestMigrateRefusesRelationInBothSchemas(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	owner := connect(t, d.OwnerURL)
	migrateUnpinned(t, owner)
	if _, err := owner.Exec(ctx, "CREATE TABLE public.runs (x int)"); err != nil {
		t.Fatal(err)
	}
	_, err := schema.Migrate(ctx, owner)
	if err == nil || !strings.Contains(err.Error(), "relations runs exist both in schema benchpipe and in schema public") {
		t.Fatalf("Migrate with runs in both schemas: err %v, want one naming runs", err)
	}
	if got := schemaOf(t, owner, []string{"samples"}); !slices.Equal(got["samples"], []string{"benchpipe"}) {
		t.Errorf("samples moved to %v although Migrate refused; want it left in benchpipe", got["samples"])
	}
}

// Sinks starting together: 4 connections migrate the same fresh database at once, round after round. Every call
// succeeds and every migration is applied exactly once.
func TestConcurrentMigrateIsSafe(t *testing.T) {
	const n, rounds = 4, 8
	all, _ := schema.Migrations()
	policy := schema.WithTimescalePolicy(schema.TimescalePolicy{CompressAfter: 7 * 24 * time.Hour, RetainFor: 30 * 24 * time.Hour})
	for round := range rounds {
		url := testenv.DatabaseURL(t)
		conns := make([]*pgx.Conn, n)
		for i := range conns {
			conns[i] = connect(t, url)
		}
		var wg sync.WaitGroup
		results := make([]schema.MigrateResult, n)
		errs := make([]error, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				results[i], errs[i] = schema.Migrate(context.Background(), conns[i], policy)
			}()
		}
		close(start)
		wg.Wait()
		total := 0
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, migrator %d: %v", round, i, errs[i])
			}
			total += len(results[i].Applied)
		}
		if total != len(all) {
			t.Fatalf("round %d: %d migrators applied %d migrations in total, want each applied exactly once (%d)", round, n, total, len(all))
		}
		var recorded int
		if err := conns[0].QueryRow(context.Background(), "SELECT count(*) FROM benchpipe.schema_migrations").Scan(&recorded); err != nil {
			t.Fatal(err)
		}
		if recorded != len(all) {
			t.Fatalf("round %d: schema_migrations has %d rows, want %d", round, recorded, len(all))
		}
	}
}

func TestChangedMigrationIsAnError(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE benchpipe.schema_migrations SET checksum = 'deadbeefdeadbeef' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, conn); err == nil {
		t.Fatal("Migrate accepted a migration whose text changed after it was applied")
	}
}

func TestSplitStatements(t *testing.T) {
	script := `-- leading comment
CREATE TABLE a (x text DEFAULT ';');
/* block; comment */ SELECT 1;
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
SELECT $1::int;
SELECT "semi;colon" FROM a;
-- trailing comment only`
	got := schema.SplitStatements(script)
	want := []string{
		"-- leading comment\nCREATE TABLE a (x text DEFAULT ';')",
		"/* block; comment */ SELECT 1",
		"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
		"SELECT $1::int",
		`SELECT "semi;colon" FROM a`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
}
