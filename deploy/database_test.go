package deploy_test

// The database side of the stack, on a real PostgreSQL set up by testenv.Deployed as the compose stack sets it
// up: the owner role benchpipe (POSTGRES_USER) owning the database with the default search_path "$user", public,
// deploy/timescaledb/100-benchpipe-roles.sh run for real before any table exists (it runs again, idempotently,
// for every later test database, as an operator re-runs it after changing a password), then the sink's own
// Migrate with deploy/compose/sink.yaml. The tests log in afresh as each role, with its password (SCRAM), and do
// what Hasura and Grafana will do. Not covered here: TimescaleDB itself (not installable on this machine), so the
// continuous-aggregate variants of samples_1m and perftool_* are checked only by their plain-PostgreSQL twins,
// which the migrations keep column-for-column identical.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

type stackDB struct {
	owner, hasura, grafana  string // connection URLs: fresh logins with each role's password
	hasuraRole, grafanaRole string
}

// stackDatabase is a database initialised like the compose stack's: the roles script first, then the sink's
// migrations, run by ingest.Migrate with the sink's compose configuration, as `sink run` does at its start.
func stackDatabase(t *testing.T) stackDB {
	t.Helper()
	lookTool(t, "psql", "apt-get install -y postgresql-client")
	d := testenv.Deployed(t)
	p := mustLoadCompose(t)
	env := envOf(p.Services["sink"])
	env["DATABASE_URL"] = d.OwnerURL
	cfg := parseConfig(t, path(t, "deploy/compose/sink.yaml"), env)
	if err := ingest.Migrate(context.Background(), cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("the sink's migrations as %s: %v", testenv.OwnerRole, err)
	}
	return stackDB{owner: d.OwnerURL, hasura: d.HasuraURL, grafana: d.GrafanaURL,
		hasuraRole: testenv.HasuraRole, grafanaRole: testenv.GrafanaRole}
}

// The fixture's role names are the compose stack's defaults, so the tests meet the "$user" search path a default
// deployment meets.
func TestDeployedFixtureNames(t *testing.T) {
	env := readEnvFile(t, ".env.example")
	sink := envOf(mustLoadCompose(t).Services["sink"])
	for key, want := range map[string]string{"POSTGRES_USER": testenv.OwnerRole, "HASURA_DB_USER": testenv.HasuraRole, "GRAFANA_DB_USER": testenv.GrafanaRole} {
		if env.values[key] != want {
			t.Errorf(".env.example: %s=%s, but testenv deploys %s", key, env.values[key], want)
		}
	}
	if !strings.HasPrefix(sink["DATABASE_URL"], "postgres://"+testenv.OwnerRole+":") {
		t.Errorf("the sink's DATABASE_URL %q does not log in as %s", sink["DATABASE_URL"], testenv.OwnerRole)
	}
}

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// seedStack writes data like a run's, as the sink's owner role, so that every tracked relation and every
// dashboard query has rows to return.
func seedStack(t *testing.T, ownerURL string) {
	t.Helper()
	ctx := context.Background()
	owner := connect(t, ownerURL)
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := owner.Exec(ctx, `INSERT INTO public.runs (run_id, kind, host_name, started_at, status, ops_rate, lat_p99_ms)
		VALUES ('00000000-0000-0000-0000-000000000001', 'mqtt', 'h1', $1, 'ok', 1000, 2.5)`, now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		start := now.Add(time.Duration(i-5) * time.Second)
		if _, err := owner.Exec(ctx, `INSERT INTO public.samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate,
			errors, lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_p999_ms, lat_max_ms)
			VALUES ('00000000-0000-0000-0000-000000000001', $1, $2, $3, 'measure', 1000, 1000, 0, 1, 2, 3, 4, 5)`,
			i+1, start, start.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	// The sink's per-minute and per-hour histograms of those samples (values in µs): 50 at 1 ms, 45 at 2 ms, 5 at
	// 3 ms, so p50 1 ms, p90 2 ms, p99 and p99.9 3 ms.
	minute := now.Add(-5 * time.Second).Truncate(time.Minute)
	for _, q := range []struct {
		table  string
		bucket time.Time
	}{{"samples_hist_1m", minute}, {"samples_hist_1h", minute.Truncate(time.Hour)}} {
		if _, err := owner.Exec(ctx, `INSERT INTO public.`+q.table+` (run_id, bucket, phase, samples, lat_v, lat_c)
			VALUES ('00000000-0000-0000-0000-000000000001', $1, 'measure', 5, '{1000,2000,3000}', '{50,45,5}')`, q.bucket); err != nil {
			t.Fatal(err)
		}
	}
	// A round of cluster observation (issue 15) with a split brain, as the sink writes it.
	if _, err := owner.Exec(ctx, `
		UPDATE public.runs SET topology_changed = true, split_brain = true WHERE run_id = '00000000-0000-0000-0000-000000000001';
		INSERT INTO public.cluster_observations (run_id, seq, sampled_at, primaries)
			VALUES ('00000000-0000-0000-0000-000000000001', 6, now(), 2);
		INSERT INTO public.cluster_node_samples (run_id, seq, sampled_at, node, addr, up, role, timeline, wal_lsn, connections, probe_ms)
			VALUES ('00000000-0000-0000-0000-000000000001', 6, now(), 'node0', '127.0.0.1:5432', true, 'primary', 1, '0/3000148', 3, 1.2),
			       ('00000000-0000-0000-0000-000000000001', 6, now(), 'node1', '127.0.0.1:5433', true, 'primary', 2, '0/30001C0', 0, 1.1);
		INSERT INTO public.cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta)
			VALUES ('00000000-0000-0000-0000-000000000001', 6, now(), 0, 'node0', '127.0.0.1:5432', 'up', 120, 20);
		INSERT INTO public.cluster_events (run_id, seq, idx, event_time, kind, nodes)
			VALUES ('00000000-0000-0000-0000-000000000001', 6, 0, now(), 'split_brain', '{node0,node1}');
		INSERT INTO public.run_settings (run_id, name, setting, source)
			VALUES ('00000000-0000-0000-0000-000000000001', 'fsync', 'off', 'configuration file');`); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `INSERT INTO public.perftool ("timestamp", publisher, thread_number, writer_time, writer_bytes_rate, published_at)
		VALUES ($1, 'pi-1', 0, 10, 123456, $1)`, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The fleet (issue 14): an agent, and a job of one launch whose run is the run above, as the sink writes them.
	if _, err := owner.Exec(ctx, `
		INSERT INTO public.agents (name, host, version, tags, interval_s, state, first_seen, last_seen)
			VALUES ('pi-1', '{"hostname": "pi-1"}', 'v1', '{"site": "lab"}', 5, 'idle', now() - interval '1 hour', now());
		INSERT INTO public.jobs (id, group_id, agent, kind, spec, created_at, expires_at)
			VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-0000000000b1', 'pi-1', 'mqtt', '{"duration": "60s"}',
			        now() - interval '11 minutes', now() + interval '1 hour');
		INSERT INTO public.job_events (job_id, state, agent, at, run_id, status)
			VALUES ('00000000-0000-0000-0000-0000000000a1', 'finished', 'pi-1', now(), '00000000-0000-0000-0000-000000000001', 'ok');
		UPDATE public.runs SET job_id = '00000000-0000-0000-0000-0000000000a1', group_id = '00000000-0000-0000-0000-0000000000b1'
			WHERE run_id = '00000000-0000-0000-0000-000000000001';`); err != nil {
		t.Fatal(err)
	}
}

// As deployed, over fresh logins: Hasura's role reads every relation the metadata tracks, with exactly the
// columns the anonymous permission lists, and rows; it keeps its catalogue and can change nothing.
func TestDatabaseHasuraRole(t *testing.T) {
	db := stackDatabase(t)
	seedStack(t, db.owner)
	ctx := context.Background()
	conn := connect(t, db.hasura)
	for _, tb := range hasuraSource(t).Tables {
		list, _ := tb.SelectPermissions[0].Permission.Columns.([]any)
		want := make([]string, len(list))
		cols := make([]string, len(list))
		for i, c := range list {
			want[i] = fmt.Sprint(c)
			cols[i] = pgx.Identifier{want[i]}.Sanitize()
		}
		rel := pgx.Identifier{tb.Table.Schema, tb.Table.Name}.Sanitize()
		rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(cols, ", "), rel))
		if err != nil {
			t.Errorf("as %s: %s: %v", db.hasuraRole, rel, err)
			continue
		}
		var got []string
		for _, f := range rows.FieldDescriptions() {
			got = append(got, f.Name)
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("as %s: %s: %v", db.hasuraRole, rel, err)
		} else if n == 0 && !slices.Contains(returnTypeTables, tb.Table.Name) {
			t.Errorf("as %s: %s returned no rows from data that should show", db.hasuraRole, rel)
		}
		if !slices.Equal(got, want) {
			t.Errorf("as %s: %s: columns %v, want the permission's %v", db.hasuraRole, rel, got, want)
		}
	}
	hasuraCallsFunctions(t, conn, db.hasuraRole)
	// What Hasura does at its first start: its catalogue schema, and pgcrypto's functions.
	for _, q := range []string{"CREATE SCHEMA hdb_catalog", "CREATE TABLE hdb_catalog.probe (id uuid DEFAULT gen_random_uuid())", "DROP SCHEMA hdb_catalog CASCADE"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Errorf("as %s: %s: %v", db.hasuraRole, q, err)
		}
	}
	for _, q := range append(writes(t, db.owner), "CREATE TABLE public.intruder (id int)") {
		if _, err := conn.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("as %s: %s: err %v; want permission denied (42501)", db.hasuraRole, q, err)
		}
	}
	cannotReadBenchpipe(t, db.owner, conn, db.hasuraRole)
}

// hasuraCallsFunctions calls every tracked function as Hasura's role, the way Hasura runs a function's root field
// (SELECT … FROM fn(arg => value)), on seedStack's histograms: the role must be able to execute each one and read
// what it merges, and each returns those histograms' exact figures.
func hasuraCallsFunctions(t *testing.T, conn *pgx.Conn, role string) {
	t.Helper()
	ctx := context.Background()
	const run = "00000000-0000-0000-0000-000000000001"
	const percentiles = "latency 100 1 2 3 3 3"
	calls := map[string]struct {
		sql  string
		args []any
		want string
	}{
		"run_latency_percentiles":    {`SELECT series, count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms FROM public.run_latency_percentiles(run_id => $1::uuid)`, []any{run}, percentiles},
		"runs_latency_percentiles":   {`SELECT series, count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms FROM public.runs_latency_percentiles(run_ids => $1::uuid[], include_warmup => true)`, []any{"{" + run + "}"}, percentiles},
		"tagged_latency_percentiles": {`SELECT series, count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms FROM public.tagged_latency_percentiles(tags => $1::jsonb, kind => 'mqtt')`, []any{"{}"}, percentiles},
		"device_latency_percentiles": {`SELECT series, count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms FROM public.device_latency_percentiles(host_name => 'h1',
			day => (SELECT (bucket AT TIME ZONE 'UTC')::date FROM public.samples_hist_1m WHERE run_id = $1))`, []any{run}, percentiles},
		"runs_latency_distribution": {`SELECT series, value_ms, count, cumulative, quantile FROM public.runs_latency_distribution(run_ids => $1::uuid[])`, []any{"{" + run + "}"}, "latency 1 50 50 0.5|latency 2 45 95 0.95|latency 3 5 100 1"},
	}
	for _, name := range slices.Sorted(maps.Keys(trackedFunctions)) {
		c, ok := calls[name]
		if !ok {
			t.Errorf("tracked function %s has no call in hasuraCallsFunctions", name)
			continue
		}
		rows, err := conn.Query(ctx, c.sql, c.args...)
		if err != nil {
			t.Errorf("as %s: %s: %v", role, name, err)
			continue
		}
		var got []string
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				t.Errorf("as %s: %s: %v", role, name, err)
				break
			}
			got = append(got, strings.TrimSpace(fmt.Sprintln(vals...)))
		}
		if err := rows.Err(); err != nil {
			t.Errorf("as %s: %s: %v", role, name, err)
		} else if g := strings.Join(got, "|"); g != c.want {
			t.Errorf("as %s: %s returned %q, want %q", role, name, g, c.want)
		}
	}
}

// Grafana's role reads the tracked relations and nothing else, with a statement timeout.
func TestDatabaseGrafanaRole(t *testing.T) {
	db := stackDatabase(t)
	ctx := context.Background()
	conn := connect(t, db.grafana)
	for _, tb := range hasuraSource(t).Tables {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+pgx.Identifier{tb.Table.Schema, tb.Table.Name}.Sanitize()+" LIMIT 1"); err != nil {
			t.Errorf("as %s: %s: %v", db.grafanaRole, tb.Table.Name, err)
		}
	}
	for _, q := range append(writes(t, db.owner), "CREATE TABLE public.intruder (id int)") {
		if _, err := conn.Exec(ctx, q); sqlState(err) != "25006" && sqlState(err) != "42501" {
			t.Errorf("as %s: %s: err %v; want a read-only or permission error", db.grafanaRole, q, err)
		}
	}
	cannotReadBenchpipe(t, db.owner, conn, db.grafanaRole)
	var timeout string
	if err := conn.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout == "0" {
		t.Errorf("grafana statement_timeout = %q (err %v), want a limit", timeout, err)
	}
}

// The logins really check passwords: a reader with a wrong one is refused.
func TestDatabaseWrongPasswordRefused(t *testing.T) {
	db := stackDatabase(t)
	cfg, err := pgx.ParseConfig(db.hasura)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Password = "wrong"
	_, err = pgx.ConnectConfig(context.Background(), cfg)
	if sqlState(err) != "28P01" {
		t.Fatalf("login as %s with a wrong password: err %v; want invalid_password (28P01)", db.hasuraRole, err)
	}
}

// writes lists a write of each kind into every base table the API serves (views refuse writes for reasons of
// their own, before privileges are checked).
func writes(t *testing.T, ownerURL string) []string {
	t.Helper()
	owner := connect(t, ownerURL)
	var out []string
	for _, tb := range hasuraSource(t).Tables {
		rel := pgx.Identifier{tb.Table.Schema, tb.Table.Name}.Sanitize()
		var kind string
		if err := owner.QueryRow(context.Background(), "SELECT relkind::text FROM pg_class WHERE oid = $1::text::regclass", rel).Scan(&kind); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		if kind != "r" && kind != "p" {
			continue
		}
		out = append(out, "INSERT INTO "+rel+" DEFAULT VALUES", "UPDATE "+rel+" SET "+pgx.Identifier{firstColumn(t, owner, rel)}.Sanitize()+" = NULL",
			"DELETE FROM "+rel, "TRUNCATE "+rel)
	}
	if len(out) < 4*4 {
		t.Fatalf("only %d writes to try: the tracked base tables were not found", len(out))
	}
	return out
}

func firstColumn(t *testing.T, conn *pgx.Conn, rel string) string {
	var col string
	if err := conn.QueryRow(context.Background(), "SELECT attname::text FROM pg_attribute WHERE attrelid = $1::text::regclass AND attnum = 1", rel).Scan(&col); err != nil {
		t.Fatal(err)
	}
	return col
}

// cannotReadBenchpipe checks that role, connected as conn, can read no relation of schema benchpipe (the sink's
// bookkeeping), listed as the owner sees them.
func cannotReadBenchpipe(t *testing.T, ownerURL string, conn *pgx.Conn, role string) {
	t.Helper()
	ctx := context.Background()
	rows, err := connect(t, ownerURL).Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'benchpipe' AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	rels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(rels, "benchpipe.sink_offsets") || !slices.Contains(rels, "benchpipe.schema_migrations") {
		t.Fatalf("schema benchpipe holds %v, want the sink's bookkeeping", rels)
	}
	for _, rel := range rels {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+rel); sqlState(err) != "42501" {
			t.Errorf("as %s: %s readable (err %v); want permission denied", role, rel, err)
		}
	}
}

// grafanaMacros expands the Grafana PostgreSQL macros and variables the dashboard uses into what Grafana sends
// for a 6-hour range at a 1-minute interval with host h1 and kind mqtt selected.
var grafanaMacros = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\$__timeGroupAlias\(([^,]+),\s*\$__interval\)`), `date_bin('1 minute', $1, TIMESTAMPTZ '2000-01-01') AS "time"`},
	{regexp.MustCompile(`\$__timeFilter\(([^)]+)\)`), `$1 BETWEEN now() - interval '6 hours' AND now() + interval '1 hour'`},
	{regexp.MustCompile(`\$__interval_ms\b`), `60000`},
	{regexp.MustCompile(`\$host\b`), `'h1'`},
	{regexp.MustCompile(`\$kind\b`), `'mqtt'`},
}

var leftoverMacro = regexp.MustCompile(`\$[A-Za-z_]`)

func expandGrafana(t *testing.T, q string) string {
	for _, m := range grafanaMacros {
		q = m.re.ReplaceAllString(q, m.with)
	}
	if leftoverMacro.MatchString(q) {
		t.Errorf("query uses a macro or variable the test does not know: %s", q)
	}
	return q
}

// Every SQL query of every Grafana dashboard and its variables runs as Grafana's role, over a fresh login with its
// search_path, and on data like a run's returns rows.
func TestGrafanaDashboardQueries(t *testing.T) {
	db := stackDatabase(t)
	seedStack(t, db.owner)
	ctx := context.Background()
	files, err := filepath.Glob(path(t, "deploy/monitoring/grafana/dashboards/*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards under deploy/monitoring/grafana/dashboards (err %v)", err)
	}
	var dashes []grafanaDashboard
	for _, f := range files {
		var dash grafanaDashboard
		if err := json.Unmarshal([]byte(readFile(t, f[len(root(t))+1:])), &dash); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		dashes = append(dashes, dash)
	}
	conn := connect(t, db.grafana)
	run := func(where, q string) {
		rows, err := conn.Query(ctx, expandGrafana(t, q))
		if err != nil {
			t.Errorf("%s: %v", where, err)
			return
		}
		n := 0
		for rows.Next() {
			n++
		}
		if err := rows.Err(); err != nil {
			t.Errorf("%s: %v", where, err)
		} else if n == 0 {
			t.Errorf("%s: no rows from data that should show", where)
		}
	}
	queries := 0
	for _, dash := range dashes {
		for _, v := range dash.Templating.List {
			if v.Datasource.UID == pgDatasourceUID {
				run(dash.Title+": variable "+v.Name, v.Query)
				queries++
			}
		}
		for _, p := range dash.Panels {
			for _, tg := range p.Targets {
				if tg.RawSQL != "" {
					run(fmt.Sprintf("%s: panel %q %s", dash.Title, p.Title, tg.RefID), tg.RawSQL)
					queries++
				}
			}
		}
	}
	if queries < 5 {
		t.Errorf("ran only %d SQL queries from the dashboard", queries)
	}
}
