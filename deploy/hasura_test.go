package deploy_test

// Hasura itself cannot run here (it ships as a Docker image only), so these tests stand in for a Hasura server
// applying deploy/hasura/metadata: they read the metadata the way the CLI does (config v3, "!include" resolved
// relative to the including file), decode it strictly, and check it against a real database migrated with
// schema.Migrate, where Hasura would report inconsistent metadata: every tracked table or view exists, every
// column in a permission, filter or relationship exists, and relationships join existing columns. Inconsistent
// metadata is a failure, as `/healthz?strict=true` makes it one for the compose stack. Beyond consistency they
// hold the security rules: the anonymous role may only select, from explicit columns, with a row limit.

import (
	"bytes"
	"context"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"gopkg.in/yaml.v3"
)

// trackedTables are the tables and views the GraphQL API serves. benchpipe.* (the sink's bookkeeping) and the
// raw perftool log are deliberately absent.
var trackedTables = []string{
	"runs", "samples", "samples_1m",
	// Cluster observation (schema/migrations/0005_observation.sql, issue 15).
	"cluster_observations", "cluster_node_samples", "cluster_pool_samples", "cluster_events", "run_settings",
	// Their per-minute views (schema/migrations/0006_cluster_1m.sql): long observed runs shown whole.
	"cluster_node_samples_1m", "cluster_pool_samples_1m",
	"perftool", "perftool_30sec", "perftool_1min", "perftool_2min", "perftool_10min",
	"perftool_thread_30sec", "perftool_thread_1min", "perftool_thread_2min", "perftool_thread_10min",
	"viewer_config",
	// The row types of the tracked functions: empty tables whose permissions decide what the functions return.
	"latency_percentiles", "latency_distribution",
	// The fleet (schema/migrations/0007_fleet.sql, issue 14): the views for everyone, the jobs with their spec for
	// the operator.
	"agent_status", "job_status", "job_groups", "jobs",
}

// operatorOnly are the tables only role operator (a request with the operator credential, issue 14) selects: a
// job's spec is the operator's. Every other table the operator selects with anonymous's very permission, so that a
// viewer holding the credential sees everything anyone sees (a role without a permission on a table does not
// have the table, nor relationships to it, in its GraphQL schema).
var operatorOnly = []string{"jobs"}

// trackedFunctions are the SQL functions the GraphQL API serves (schema/migrations/0004_histograms.sql), with the
// table each returns a set of.
var trackedFunctions = map[string]string{
	"run_latency_percentiles":    "latency_percentiles",
	"runs_latency_percentiles":   "latency_percentiles",
	"tagged_latency_percentiles": "latency_percentiles",
	"device_latency_percentiles": "latency_percentiles",
	"runs_latency_distribution":  "latency_distribution",
}

// returnTypeTables are tracked tables that only describe what functions return: they hold no rows.
var returnTypeTables = []string{"latency_percentiles", "latency_distribution"}

// hiddenColumns are columns of tracked tables that the anonymous role deliberately cannot read. A column that is
// neither granted nor listed here fails the test, so that a migration adding a column makes someone decide.
//
// The latency histograms (HdrHistogram V2 compressed, bytea) of runs and samples stay out of the GraphQL API:
// the browser cannot decode them without an HdrHistogram library, they would make every sample row of a
// 100k-sample run several times larger, and their percentiles reach the viewer already computed by the database.
var hiddenColumns = map[string][]string{
	"runs":    {"lat_hdr", "mqtt_uncorrected_hdr"},
	"samples": {"lat_hdr", "mqtt_uncorrected_hdr"},
}

type hasuraQualifiedTable struct {
	Name   string `yaml:"name"`
	Schema string `yaml:"schema"`
}

type hasuraRelationship struct {
	Name    string `yaml:"name"`
	Comment string `yaml:"comment"`
	Using   struct {
		ManualConfiguration *struct {
			RemoteTable    hasuraQualifiedTable `yaml:"remote_table"`
			ColumnMapping  map[string]string    `yaml:"column_mapping"`
			InsertionOrder *string              `yaml:"insertion_order"`
		} `yaml:"manual_configuration"`
		ForeignKeyConstraintOn any `yaml:"foreign_key_constraint_on"`
	} `yaml:"using"`
}

type hasuraSelectPermission struct {
	Role       string `yaml:"role"`
	Comment    string `yaml:"comment"`
	Permission struct {
		Columns                any            `yaml:"columns"`
		ComputedFields         []string       `yaml:"computed_fields"`
		Filter                 map[string]any `yaml:"filter"`
		Limit                  *int           `yaml:"limit"`
		AllowAggregations      bool           `yaml:"allow_aggregations"`
		QueryRootFields        []string       `yaml:"query_root_fields"`
		SubscriptionRootFields []string       `yaml:"subscription_root_fields"`
	} `yaml:"permission"`
}

// hasuraTable is one table file. Keys Hasura knows but benchpipe must not use (mutations, event triggers,
// remote relationships, computed fields) are decoded so that the test can say why they are refused; any other
// key fails the strict decode.
type hasuraTable struct {
	Table               hasuraQualifiedTable     `yaml:"table"`
	Configuration       map[string]any           `yaml:"configuration"`
	ObjectRelationships []hasuraRelationship     `yaml:"object_relationships"`
	ArrayRelationships  []hasuraRelationship     `yaml:"array_relationships"`
	SelectPermissions   []hasuraSelectPermission `yaml:"select_permissions"`
	InsertPermissions   []any                    `yaml:"insert_permissions"`
	UpdatePermissions   []any                    `yaml:"update_permissions"`
	DeletePermissions   []any                    `yaml:"delete_permissions"`
	EventTriggers       []any                    `yaml:"event_triggers"`
	RemoteRelationships []any                    `yaml:"remote_relationships"`
	ComputedFields      []any                    `yaml:"computed_fields"`
}

type hasuraSourceMeta struct {
	Name          string `yaml:"name"`
	Kind          string `yaml:"kind"`
	Configuration struct {
		ConnectionInfo struct {
			// A struct, so that a literal URL string (a credential in the repository) fails to decode.
			DatabaseURL struct {
				FromEnv string `yaml:"from_env"`
			} `yaml:"database_url"`
			IsolationLevel        string         `yaml:"isolation_level"`
			UsePreparedStatements bool           `yaml:"use_prepared_statements"`
			PoolSettings          map[string]any `yaml:"pool_settings"`
		} `yaml:"connection_info"`
	} `yaml:"configuration"`
	Tables    []hasuraTable    `yaml:"tables"`
	Functions []hasuraFunction `yaml:"functions"`
}

// hasuraFunction is one tracked function (Hasura v2 metadata, functions.yaml). configuration (custom names,
// exposed_as, session_argument) is decoded so that the test can refuse it; any other key fails the strict decode.
type hasuraFunction struct {
	Function      hasuraQualifiedTable `yaml:"function"`
	Configuration map[string]any       `yaml:"configuration"`
	Permissions   []struct {
		Role string `yaml:"role"`
	} `yaml:"permissions"`
}

// loadHasuraYAML reads a metadata file and replaces every "!include FILE" string with the parsed FILE, relative
// to the directory of the file that names it, as the Hasura CLI does.
func loadHasuraYAML(t *testing.T, file string) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if len(doc.Content) == 0 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null"}
	}
	var resolve func(n *yaml.Node) *yaml.Node
	resolve = func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.ScalarNode {
			if inc, ok := strings.CutPrefix(n.Value, "!include "); ok {
				return loadHasuraYAML(t, filepath.Join(filepath.Dir(file), strings.TrimSpace(inc)))
			}
			return n
		}
		for i, c := range n.Content {
			n.Content[i] = resolve(c)
		}
		return n
	}
	return resolve(doc.Content[0])
}

// decodeStrict decodes n into v, refusing keys v does not have.
func decodeStrict(n *yaml.Node, v any) error {
	b, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	return dec.Decode(v)
}

func hasuraMetadataDir(t *testing.T) string { return path(t, "deploy/hasura/metadata") }

func hasuraSource(t *testing.T) hasuraSourceMeta {
	t.Helper()
	var sources []hasuraSourceMeta
	if err := decodeStrict(loadHasuraYAML(t, filepath.Join(hasuraMetadataDir(t), "databases/databases.yaml")), &sources); err != nil {
		t.Fatalf("databases.yaml (with its includes): %v", err)
	}
	if len(sources) != 1 {
		t.Fatalf("want exactly one source, have %d", len(sources))
	}
	return sources[0]
}

func TestHasuraMetadataLayout(t *testing.T) {
	dir := hasuraMetadataDir(t)
	var version struct {
		Version int `yaml:"version"`
	}
	if err := decodeStrict(loadHasuraYAML(t, filepath.Join(dir, "version.yaml")), &version); err != nil || version.Version != 3 {
		t.Errorf("version.yaml: version %d, err %v; want 3 (config v3, what cli-migrations-v3 applies)", version.Version, err)
	}
	// Top-level files the CLI reads: each must parse; the lists must be empty (no remote schemas, cron triggers,
	// …: the API is the tracked tables and the fleet's actions, which TestHasuraActions checks).
	for _, f := range []string{"allow_list.yaml", "cron_triggers.yaml", "query_collections.yaml", "remote_schemas.yaml", "rest_endpoints.yaml", "inherited_roles.yaml"} {
		var list []any
		if err := decodeStrict(loadHasuraYAML(t, filepath.Join(dir, f)), &list); err != nil || len(list) != 0 {
			t.Errorf("%s: %v entries, err %v; want an empty list", f, len(list), err)
		}
	}
	var actions struct {
		Actions     []any          `yaml:"actions"`
		CustomTypes map[string]any `yaml:"custom_types"`
	}
	if err := decodeStrict(loadHasuraYAML(t, filepath.Join(dir, "actions.yaml")), &actions); err != nil {
		t.Errorf("actions.yaml: %v", err)
	}

	src := hasuraSource(t)
	if src.Kind != "postgres" || src.Configuration.ConnectionInfo.DatabaseURL.FromEnv == "" {
		t.Errorf("source %q: kind %q, database_url.from_env %q; want postgres from an environment variable", src.Name, src.Kind, src.Configuration.ConnectionInfo.DatabaseURL.FromEnv)
	}
	var fns []string
	for _, f := range src.Functions {
		if f.Function.Schema != "public" {
			t.Errorf("function %s.%s: only schema public is served", f.Function.Schema, f.Function.Name)
		}
		if len(f.Configuration) != 0 {
			t.Errorf("function %s: configuration %v: the root field is the function's name, as a query", f.Function.Name, f.Configuration)
		}
		// The operator sees everything anonymous does (the viewer sends the token on every request once signed in).
		if len(f.Permissions) != 2 || f.Permissions[0].Role != "anonymous" || f.Permissions[1].Role != "operator" {
			t.Errorf("function %s: permissions %v; want exactly [{role: anonymous}, {role: operator}]", f.Function.Name, f.Permissions)
		}
		fns = append(fns, f.Function.Name)
	}
	sort.Strings(fns)
	if want := slices.Sorted(maps.Keys(trackedFunctions)); !slices.Equal(fns, want) {
		t.Errorf("tracked functions %v, want %v", fns, want)
	}
	var names []string
	for _, tb := range src.Tables {
		if tb.Table.Schema != "public" {
			t.Errorf("table %s.%s: only schema public is served (benchpipe.* is the sink's bookkeeping)", tb.Table.Schema, tb.Table.Name)
		}
		names = append(names, tb.Table.Name)
	}
	sort.Strings(names)
	want := slices.Clone(trackedTables)
	sort.Strings(want)
	if !slices.Equal(names, want) {
		t.Errorf("tracked tables %v, want %v", names, want)
	}
	// Every table file is included exactly once, and no file lies around unused.
	files, _ := filepath.Glob(filepath.Join(dir, "databases/default/tables/public_*.yaml"))
	if len(files) != len(src.Tables) {
		t.Errorf("%d table files but %d tracked tables: an orphan or a missing !include", len(files), len(src.Tables))
	}
}

// The anonymous role: select only, explicit columns, a row limit, aggregations allowed; likewise role operator,
// with anonymous's permission on every table but operatorOnly.
func TestHasuraPermissions(t *testing.T) {
	for _, tb := range hasuraSource(t).Tables {
		name := tb.Table.Name
		if len(tb.InsertPermissions)+len(tb.UpdatePermissions)+len(tb.DeletePermissions) > 0 {
			t.Errorf("%s: insert/update/delete permissions: the GraphQL API is read-only", name)
		}
		if len(tb.EventTriggers)+len(tb.RemoteRelationships)+len(tb.ComputedFields) > 0 {
			t.Errorf("%s: event triggers, remote relationships or computed fields are not part of the API", name)
		}
		var roles []string
		perms := map[string]hasuraSelectPermission{}
		for _, sp := range tb.SelectPermissions {
			roles = append(roles, sp.Role)
			perms[sp.Role] = sp
		}
		want := []string{"anonymous", "operator"}
		if slices.Contains(operatorOnly, name) {
			want = []string{"operator"}
		}
		if !slices.Equal(roles, want) {
			t.Errorf("%s: select permissions for roles %v, want %v", name, roles, want)
			continue
		}
		for _, sp := range tb.SelectPermissions {
			p := sp.Permission
			cols, ok := p.Columns.([]any)
			if !ok {
				t.Errorf("%s: %s: columns %v: want an explicit list, not %q", name, sp.Role, p.Columns, "*")
			}
			if sp.Role == "anonymous" && slices.Contains(cols, any("spec")) {
				t.Errorf("%s: anonymous may read spec: a job's spec is the operator's", name)
			}
			if p.Limit == nil || *p.Limit <= 0 || *p.Limit > 100000 {
				t.Errorf("%s: %s: limit %v: want a row limit between 1 and 100000", name, sp.Role, p.Limit)
			}
			if !p.AllowAggregations {
				t.Errorf("%s: %s: allow_aggregations should be true (the viewer counts and averages)", name, sp.Role)
			}
		}
		if a, o := perms["anonymous"], perms["operator"]; len(want) == 2 && !reflect.DeepEqual(a.Permission, o.Permission) {
			t.Errorf("%s: operator's permission %+v differs from anonymous's %+v: an operator sees what anyone sees, and more only in operatorOnly tables", name, o.Permission, a.Permission)
		}
	}
}

// The metadata against the migrated schema: what Hasura checks when it applies metadata.
func TestHasuraMetadataConsistent(t *testing.T) {
	url := migratedDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	columns := func(table string) []string {
		rows, err := conn.Query(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return cols
	}

	src := hasuraSource(t)
	tables := map[string][]string{}
	for _, tb := range src.Tables {
		tables[tb.Table.Name] = columns(tb.Table.Name)
		if len(tables[tb.Table.Name]) == 0 {
			t.Errorf("tracked %s does not exist after the migrations", tb.Table.Name)
		}
	}
	for _, tb := range src.Tables {
		name, cols := tb.Table.Name, tables[tb.Table.Name]
		if len(cols) == 0 {
			continue
		}
		fields := map[string]bool{}
		for _, c := range cols {
			fields[c] = true
		}
		for _, rels := range [][]hasuraRelationship{tb.ObjectRelationships, tb.ArrayRelationships} {
			for _, r := range rels {
				if fields[r.Name] {
					t.Errorf("%s: relationship %s has the name of a column or another relationship", name, r.Name)
				}
				fields[r.Name] = true
				mc := r.Using.ManualConfiguration
				if mc == nil || r.Using.ForeignKeyConstraintOn != nil {
					// Hypertables and views cannot be foreign-key targets.
					t.Errorf("%s.%s: want a manual_configuration relationship", name, r.Name)
					continue
				}
				remote, ok := tables[mc.RemoteTable.Name]
				if !ok || mc.RemoteTable.Schema != "public" {
					t.Errorf("%s.%s: remote table %s.%s is not tracked", name, r.Name, mc.RemoteTable.Schema, mc.RemoteTable.Name)
					continue
				}
				if len(mc.ColumnMapping) == 0 {
					t.Errorf("%s.%s: empty column_mapping", name, r.Name)
				}
				for from, to := range mc.ColumnMapping {
					if !slices.Contains(cols, from) || !slices.Contains(remote, to) {
						t.Errorf("%s.%s: column_mapping %s → %s.%s names a missing column", name, r.Name, from, mc.RemoteTable.Name, to)
					}
				}
			}
		}
		for _, sp := range tb.SelectPermissions {
			list, _ := sp.Permission.Columns.([]any)
			granted := map[string]bool{}
			for _, c := range list {
				s, _ := c.(string)
				if !slices.Contains(cols, s) {
					t.Errorf("%s: permission for %s names column %v, which does not exist", name, sp.Role, c)
				}
				if granted[s] {
					t.Errorf("%s: column %s granted twice", name, s)
				}
				granted[s] = true
			}
			for _, c := range cols {
				if !granted[c] && !slices.Contains(hiddenColumns[name], c) {
					t.Errorf("%s: column %s is neither granted to %s nor listed in hiddenColumns", name, c, sp.Role)
				}
			}
			checkFilter(t, name, sp.Permission.Filter, fields)
		}
	}

	// Tracked functions: what Hasura checks when it tracks one (https://hasura.io/docs/latest/schema/postgres/custom-functions/#pg-supported-sql-functions):
	// the function exists, returns SETOF a tracked table, and is STABLE or IMMUTABLE (a VOLATILE one would be a
	// mutation, which the read-only API has none of).
	for _, f := range src.Functions {
		var n int
		var setof bool
		var volatility, returns string
		err := conn.QueryRow(ctx, `SELECT count(*) OVER (), p.proretset, p.provolatile::text, t.typname
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace JOIN pg_type t ON t.oid = p.prorettype
			WHERE n.nspname = $1 AND p.proname = $2`, f.Function.Schema, f.Function.Name).Scan(&n, &setof, &volatility, &returns)
		if err != nil {
			t.Errorf("function %s.%s: %v (does it exist after the migrations?)", f.Function.Schema, f.Function.Name, err)
			continue
		}
		if n != 1 {
			t.Errorf("function %s: %d overloads; Hasura tracks a function by name, so want exactly one", f.Function.Name, n)
		}
		if !setof || returns != trackedFunctions[f.Function.Name] || tables[returns] == nil {
			t.Errorf("function %s returns setof=%v %s; want SETOF the tracked table %s", f.Function.Name, setof, returns, trackedFunctions[f.Function.Name])
		}
		if volatility == "v" {
			t.Errorf("function %s is VOLATILE: Hasura would serve it as a mutation", f.Function.Name)
		}
	}

	// The relationships Hasura builds are joins on these columns; run them as the database would.
	for _, q := range []string{
		`SELECT r.run_id, s.seq FROM runs r JOIN samples s ON s.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, m.bucket FROM runs r JOIN samples_1m m ON m.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, o.primaries FROM runs r JOIN cluster_observations o ON o.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, n.node FROM runs r JOIN cluster_node_samples n ON n.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, p.node_id FROM runs r JOIN cluster_pool_samples p ON p.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, e.kind FROM runs r JOIN cluster_events e ON e.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, n.state FROM runs r JOIN cluster_node_samples_1m n ON n.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, p.select_delta FROM runs r JOIN cluster_pool_samples_1m p ON p.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, s.name FROM runs r JOIN run_settings s ON s.run_id = r.run_id LIMIT 1`,
		`SELECT r.run_id, j.state, g.ops_rate FROM runs r JOIN job_status j ON j.id = r.job_id JOIN job_groups g ON g.group_id = r.group_id LIMIT 1`,
		`SELECT a.name, j.state, r.status FROM agent_status a JOIN job_status j ON j.agent = a.name JOIN runs r ON r.run_id = j.run_id LIMIT 1`,
		`SELECT j.id, s.state, r.run_id FROM jobs j JOIN job_status s ON s.id = j.id JOIN runs r ON r.job_id = j.id LIMIT 1`,
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

// checkFilter walks a boolean expression: keys not starting with _ are columns or relationships of the table.
func checkFilter(t *testing.T, table string, filter map[string]any, fields map[string]bool) {
	t.Helper()
	for k, v := range filter {
		switch {
		case k == "_and" || k == "_or":
			list, _ := v.([]any)
			for _, e := range list {
				m, _ := e.(map[string]any)
				checkFilter(t, table, m, fields)
			}
		case k == "_not":
			m, _ := v.(map[string]any)
			checkFilter(t, table, m, fields)
		case strings.HasPrefix(k, "_"):
			t.Errorf("%s: filter operator %s at the top of a boolean expression", table, k)
		case !fields[k]:
			t.Errorf("%s: filter on %s, which is not a column or relationship", table, k)
		}
	}
}

// adminSecretLiteral matches an admin secret given a value in a file.
var adminSecretLiteral = regexp.MustCompile(`(?i)admin[_-]?secret["']?\s*[:=]\s*["']?[^\s"'$]`)

// No admin secret in the metadata or the CLI project: it only ever comes from HASURA_GRAPHQL_ADMIN_SECRET.
func TestHasuraNoAdminSecret(t *testing.T) {
	n := 0
	err := filepath.WalkDir(path(t, "deploy/hasura"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for i, line := range strings.Split(string(b), "\n") {
			if adminSecretLiteral.MatchString(line) && !strings.HasPrefix(strings.TrimSpace(line), "#") {
				t.Errorf("%s:%d: admin secret literal", p, i+1)
			}
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("walked %d files: %v", n, err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(readFile(t, "deploy/hasura/config.yaml")), &cfg); err != nil {
		t.Fatal(err)
	}
	if _, ok := cfg["admin_secret"]; ok {
		t.Error("deploy/hasura/config.yaml sets admin_secret")
	}
	if cfg["version"] != 3 || cfg["metadata_directory"] != "metadata" {
		t.Errorf("deploy/hasura/config.yaml: %v; want version 3, metadata_directory metadata", cfg)
	}
	if !adminSecretLiteral.MatchString("admin_secret: hunter2") || adminSecretLiteral.MatchString("HASURA_GRAPHQL_ADMIN_SECRET: ${X}") {
		t.Fatal("adminSecretLiteral is broken")
	}
}
