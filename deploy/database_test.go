package deploy_test

// The database side of the stack, on a real PostgreSQL: deploy/timescaledb/100-benchpipe-roles.sh creates the
// Hasura and Grafana roles as the timescaledb image runs it (psql, before any table exists), then schema.Migrate
// creates the tables as the database owner, as the sink does. The tests then connect as each role and do what
// Hasura and Grafana will do. Not covered here: TimescaleDB itself (not installable on this machine), so the
// continuous-aggregate variants of samples_1m and perftool_* are checked only by their plain-PostgreSQL twins,
// which the migrations keep column-for-column identical.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

type stackDB struct {
	owner, hasura, grafana  string // connection URLs
	hasuraRole, grafanaRole string
}

var roleCounter atomic.Int64

// Passwords with quotes and a backslash: the script must quote them, not paste them into SQL.
const trickyPassword = `pa'ss"wo\rd $x`

// stackDatabase is a database initialised like the compose stack's: roles script first, then the migrations.
func stackDatabase(t *testing.T) stackDB {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	// Roles are global to the cluster: unique names, dropped when the test ends.
	n := fmt.Sprintf("%d_%d", os.Getpid(), roleCounter.Add(1))
	db := stackDB{owner: url, hasuraRole: "hasura_" + n, grafanaRole: "grafana_" + n}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		for _, r := range []string{db.hasuraRole, db.grafanaRole} {
			id := pgx.Identifier{r}.Sanitize()
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+id)
			_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+id)
		}
	})

	psql := lookTool(t, "psql", "apt-get install -y postgresql-client")
	script := path(t, "deploy/timescaledb/100-benchpipe-roles.sh")
	// Twice: an operator re-runs it after changing a password.
	for range 2 {
		cmd := exec.Command("bash", script)
		cmd.Env = append(os.Environ(),
			"PATH="+pathWith(psql),
			fmt.Sprintf("PGHOST=%s", cfg.Host), fmt.Sprintf("PGPORT=%d", cfg.Port), "PGSSLMODE=disable",
			"POSTGRES_USER="+cfg.User, "POSTGRES_DB="+cfg.Database,
			"HASURA_DB_USER="+db.hasuraRole, "HASURA_DB_PASSWORD="+trickyPassword,
			"GRAFANA_DB_USER="+db.grafanaRole, "GRAFANA_DB_PASSWORD="+trickyPassword,
		)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("100-benchpipe-roles.sh: %v\n%s", err, out)
		}
	}

	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatalf("schema.Migrate: %v", err)
	}
	// The test cluster trusts local connections, so the passwords are checked as stored, not by logging in.
	var scram int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_authid WHERE rolname IN ($1, $2) AND rolpassword LIKE 'SCRAM-SHA-256$%'`,
		db.hasuraRole, db.grafanaRole).Scan(&scram); err != nil || scram != 2 {
		t.Fatalf("roles with a SCRAM password: %d, err %v; want 2", scram, err)
	}
	db.hasura = withUser(t, url, db.hasuraRole)
	db.grafana = withUser(t, url, db.grafanaRole)
	return db
}

func pathWith(bin string) string {
	dir := bin[:strings.LastIndex(bin, "/")]
	return dir + ":" + os.Getenv("PATH")
}

func withUser(t *testing.T, url, user string) string {
	t.Helper()
	i := strings.Index(url, "://")
	j := strings.Index(url, "@")
	if i < 0 || j < i {
		t.Fatalf("unexpected test database URL form")
	}
	return url[:i+3] + user + url[j:]
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

// Hasura's role reads every column the metadata grants, keeps its catalogue, and can change nothing.
func TestDatabaseHasuraRole(t *testing.T) {
	db := stackDatabase(t)
	ctx := context.Background()
	conn := connect(t, db.hasura)
	for _, tb := range hasuraSource(t).Tables {
		list, _ := tb.SelectPermissions[0].Permission.Columns.([]any)
		cols := make([]string, len(list))
		for i, c := range list {
			cols[i] = pgx.Identifier{fmt.Sprint(c)}.Sanitize()
		}
		q := fmt.Sprintf("SELECT %s FROM public.%s LIMIT 1", strings.Join(cols, ", "), pgx.Identifier{tb.Table.Name}.Sanitize())
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Errorf("as %s: %s: %v", db.hasuraRole, tb.Table.Name, err)
		}
	}
	// What Hasura does at its first start: its catalogue schema, and pgcrypto's functions.
	for _, q := range []string{"CREATE SCHEMA hdb_catalog", "CREATE TABLE hdb_catalog.probe (id uuid DEFAULT gen_random_uuid())", "DROP SCHEMA hdb_catalog CASCADE"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Errorf("as %s: %s: %v", db.hasuraRole, q, err)
		}
	}
	for _, q := range []string{
		"INSERT INTO runs (run_id) VALUES (gen_random_uuid())",
		"UPDATE viewer_config SET comment = 'x'",
		"DELETE FROM samples",
		"SELECT * FROM benchpipe.sink_offsets",
		"CREATE TABLE public.intruder (id int)",
	} {
		if _, err := conn.Exec(ctx, q); sqlState(err) != "42501" {
			t.Errorf("as %s: %s: err %v; want permission denied (42501)", db.hasuraRole, q, err)
		}
	}
}

// Grafana's role reads and nothing else, with a statement timeout.
func TestDatabaseGrafanaRole(t *testing.T) {
	db := stackDatabase(t)
	ctx := context.Background()
	conn := connect(t, db.grafana)
	for _, tb := range trackedTables {
		if _, err := conn.Exec(ctx, "SELECT * FROM "+pgx.Identifier{tb}.Sanitize()+" LIMIT 1"); err != nil {
			t.Errorf("as %s: %s: %v", db.grafanaRole, tb, err)
		}
	}
	for _, q := range []string{"INSERT INTO runs (run_id) VALUES (gen_random_uuid())", "CREATE TABLE public.intruder (id int)"} {
		if _, err := conn.Exec(ctx, q); sqlState(err) != "25006" && sqlState(err) != "42501" {
			t.Errorf("as %s: %s: err %v; want a read-only or permission error", db.grafanaRole, q, err)
		}
	}
	if _, err := conn.Exec(ctx, "SELECT * FROM benchpipe.sink_offsets"); sqlState(err) != "42501" {
		t.Errorf("as %s: benchpipe.sink_offsets readable (err %v)", db.grafanaRole, err)
	}
	var timeout string
	if err := conn.QueryRow(ctx, "SHOW statement_timeout").Scan(&timeout); err != nil || timeout == "0" {
		t.Errorf("grafana statement_timeout = %q (err %v), want a limit", timeout, err)
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

// Every SQL query of the Grafana dashboard and its variables runs as Grafana's role and, on data like a run's,
// returns rows.
func TestGrafanaDashboardQueries(t *testing.T) {
	db := stackDatabase(t)
	ctx := context.Background()
	owner := connect(t, db.owner)
	now := time.Now().UTC().Truncate(time.Second)
	if _, err := owner.Exec(ctx, `INSERT INTO runs (run_id, kind, host_name, started_at, status, ops_rate, lat_p99_ms)
		VALUES ('00000000-0000-0000-0000-000000000001', 'mqtt', 'h1', $1, 'ok', 1000, 2.5)`, now.Add(-10*time.Minute)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		start := now.Add(time.Duration(i-5) * time.Second)
		if _, err := owner.Exec(ctx, `INSERT INTO samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate,
			errors, lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_p999_ms, lat_max_ms)
			VALUES ('00000000-0000-0000-0000-000000000001', $1, $2, $3, 'measure', 1000, 1000, 0, 1, 2, 3, 4, 5)`,
			i+1, start, start.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := owner.Exec(ctx, `INSERT INTO perftool ("timestamp", publisher, thread_number, writer_time, writer_bytes_rate, published_at)
		VALUES ($1, 'pi-1', 0, 10, 123456, $1)`, now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}

	var dash grafanaDashboard
	if err := json.Unmarshal([]byte(readFile(t, "deploy/monitoring/grafana/dashboards/benchpipe.json")), &dash); err != nil {
		t.Fatal(err)
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
	for _, v := range dash.Templating.List {
		if v.Datasource.UID == pgDatasourceUID {
			run("variable "+v.Name, v.Query)
			queries++
		}
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.RawSQL != "" {
				run(fmt.Sprintf("panel %q %s", p.Title, tg.RefID), tg.RawSQL)
				queries++
			}
		}
	}
	if queries < 5 {
		t.Errorf("ran only %d SQL queries from the dashboard", queries)
	}
}
