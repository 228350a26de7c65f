package hasurastub_test

// These tests check the stand-in for Hasura itself (Hasura cannot run here): that it reads the repository's
// metadata, answers the query shapes it claims to support with Hasura's JSON shapes, computed by PostgreSQL from a
// real database, and fails the way Hasura fails for fields the role may not read and for mistyped variables.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const metadataDir = "../../deploy/hasura/metadata"

const (
	runA = "0190a000-0000-7000-8000-00000000000a"
	runB = "0190a000-0000-7000-8000-00000000000b"
	runC = "0190a000-0000-7000-8000-00000000000c"
)

// migratedDB returns a test database set up as the compose stack sets it up, migrated and holding three runs and
// a few samples of run A written by the owner, and the URL the stub reads it with: Hasura's role, as in the stack.
func migratedDB(t *testing.T) string {
	t.Helper()
	return migratedDeployment(t).HasuraURL
}

// migratedDeployment is migratedDB for tests that also write to the database as its owner.
func migratedDeployment(t *testing.T) *testenv.Deployment {
	t.Helper()
	d := testenv.Deployed(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `
		INSERT INTO runs (run_id, kind, name, tags, parameters, host_name, started_at, status, ops, ops_rate, lat_p99_ms) VALUES
		('`+runA+`', 'mqtt', 'a', '{"site":"lab"}', '{"qos":1,"publishers":10}', 'pi-7', '2026-01-02 03:04:05.123456+00', 'ok', 9000000000, 1000.5, 4.25),
		('`+runB+`', 'mqtt', 'b', '{"site":"lab","rack":"b"}', '{"qos":0}', 'pi-8', '2026-01-02 04:00:00+00', 'failed', 10, 2.5, NULL),
		('`+runC+`', 'pgbench', NULL, '{}', '{}', 'pi-7', '2026-01-02 05:00:00+00', 'running', NULL, NULL, NULL);
		INSERT INTO samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors, lat_p99_ms) VALUES
		('`+runA+`', 1, '2026-01-02 03:04:05+00', '2026-01-02 03:04:06+00', 'warmup', 900, 900, 0, 5),
		('`+runA+`', 2, '2026-01-02 03:04:06+00', '2026-01-02 03:04:07+00', 'measure', 1000, 1000, 1, 4),
		('`+runA+`', 3, '2026-01-02 03:04:07+00', '2026-01-02 03:04:08+00', 'measure', 1001, 1001, 0, 4.5);`); err != nil {
		t.Fatal(err)
	}
	return d
}

func loadMetadata(t *testing.T) *hasurastub.Metadata {
	t.Helper()
	md, err := hasurastub.LoadMetadata(metadataDir)
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// post sends a GraphQL request and returns the decoded response body.
func post(t *testing.T, url, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %s", resp.Status)
	}
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func decode(t *testing.T, s string) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("bad want JSON %s: %v", s, err)
	}
	return v
}

func TestLoadMetadataFollowsIncludes(t *testing.T) {
	md := loadMetadata(t)
	for _, name := range []string{"runs", "samples", "samples_1m", "perftool", "viewer_config"} {
		if md.Tables[name] == nil {
			t.Errorf("table %s not loaded (tables: %v)", name, md.TableNames())
		}
	}
	runs := md.Tables["runs"]
	perm := runs.Select["anonymous"]
	if perm == nil || !perm.Column("lat_p999_ms") || !perm.Column("parameters") || perm.Limit != 5000 {
		t.Fatalf("runs anonymous permission: %+v", perm)
	}
	if r := runs.Relationships["samples"]; r == nil || !r.Array || r.RemoteName != "samples" || r.ColumnMapping["run_id"] != "run_id" {
		t.Errorf("runs.samples relationship: %+v", r)
	}
	if r := md.Tables["samples"].Relationships["run"]; r == nil || r.Array || r.RemoteName != "runs" {
		t.Errorf("samples.run relationship: %+v", r)
	}
}

func TestQueries(t *testing.T) {
	srv := hasurastub.New(t, migratedDB(t), loadMetadata(t))
	cases := []struct {
		name  string
		query string
		vars  map[string]any
		want  string // the data object
	}{
		{
			name:  "by pk with custom scalars and nested samples",
			query: `query ($id: uuid!, $phase: String!) { r: runs_by_pk(run_id: $id) { run_id started_at ops ops_rate tags __typename samples(where: {phase: {_eq: $phase}}, order_by: {seq: desc}, limit: 1) { seq lat_p99_ms } } }`,
			vars:  map[string]any{"id": runA, "phase": "measure"},
			want: `{"r": {"run_id": "` + runA + `", "started_at": "2026-01-02T03:04:05.123456+00:00", "ops": 9000000000, "ops_rate": 1000.5,
				"tags": {"site": "lab"}, "__typename": "runs", "samples": [{"seq": 3, "lat_p99_ms": 4.5}]}}`,
		},
		{
			name:  "by pk miss is null",
			query: `query ($id: uuid!) { runs_by_pk(run_id: $id) { run_id } }`,
			vars:  map[string]any{"id": "0190a000-0000-7000-8000-0000000000ff"},
			want:  `{"runs_by_pk": null}`,
		},
		{
			name:  "jsonb equality ignores key order",
			query: `query ($p: jsonb!) { runs(where: {parameters: {_eq: $p}}) { name } }`,
			vars:  map[string]any{"p": map[string]any{"publishers": 10, "qos": 1}},
			want:  `{"runs": [{"name": "a"}]}`,
		},
		{
			name:  "jsonb contains and has_key, ordered",
			query: `query ($t: jsonb!, $k: String!) { c: runs(where: {tags: {_contains: $t}}, order_by: [{started_at: desc}]) { name } k: runs(where: {tags: {_has_key: $k}}) { name } }`,
			vars:  map[string]any{"t": map[string]any{"site": "lab"}, "k": "rack"},
			want:  `{"c": [{"name": "b"}, {"name": "a"}], "k": [{"name": "b"}]}`,
		},
		{
			name:  "in, not, or, is_null, lt with timestamptz, nulls first on desc",
			query: `query ($kinds: [String!], $before: timestamptz!) { runs(where: {_or: [{kind: {_in: $kinds}, _not: {status: {_eq: "failed"}}}, {name: {_is_null: true}}], started_at: {_lt: $before}}, order_by: {name: desc}) { run_id name } }`,
			vars:  map[string]any{"kinds": []string{"mqtt"}, "before": "2026-01-03T00:00:00Z"},
			want:  `{"runs": [{"run_id": "` + runC + `", "name": null}, {"run_id": "` + runA + `", "name": "a"}]}`,
		},
		{
			name:  "object relationship and relationship in where",
			query: `query ($k: String!) { samples(where: {run: {kind: {_eq: $k}}, phase: {_neq: "warmup"}}, order_by: {seq: asc}) { seq run { name } } }`,
			vars:  map[string]any{"k": "mqtt"},
			want:  `{"samples": [{"seq": 2, "run": {"name": "a"}}, {"seq": 3, "run": {"name": "a"}}]}`,
		},
		{
			name:  "limit, offset and query_root typename",
			query: `{ __typename runs(order_by: {started_at: asc}, limit: 1, offset: 1) { name } }`,
			want:  `{"__typename": "query_root", "runs": [{"name": "b"}]}`,
		},
		{
			name:  "distinct_on with the viewer's filter-option and device queries",
			query: `{ kinds: runs(distinct_on: kind, order_by: {kind: asc}) { kind } devices: runs(distinct_on: host_name, order_by: [{host_name: asc}, {started_at: desc_nulls_last}], where: {host_name: {_is_null: false}}) { host_name name } }`,
			want:  `{"kinds": [{"kind": "mqtt"}, {"kind": "pgbench"}], "devices": [{"host_name": "pi-7", "name": null}, {"host_name": "pi-8", "name": "b"}]}`,
		},
		{
			name: "aggregate: count, count distinct, avg, sum, min, max, nodes, typename",
			query: `query ($k: String!) { runs_aggregate(where: {kind: {_eq: $k}}, order_by: {started_at: asc}) { __typename aggregate { count n: count(columns: [host_name], distinct: true) avg { ops_rate } sum { ops } min { started_at name } max { ops_rate } }
				nodes { name } } samples_aggregate(where: {phase: {_eq: "measure"}}) { aggregate { count sum { ops } } } }`,
			vars: map[string]any{"k": "mqtt"},
			want: `{"runs_aggregate": {"__typename": "runs_aggregate", "aggregate": {"count": 2, "n": 2, "avg": {"ops_rate": 501.5}, "sum": {"ops": 9000000010},
				"min": {"started_at": "2026-01-02T03:04:05.123456+00:00", "name": "a"}, "max": {"ops_rate": 1000.5}}, "nodes": [{"name": "a"}, {"name": "b"}]},
				"samples_aggregate": {"aggregate": {"count": 2, "sum": {"ops": 2001}}}}`,
		},
		{
			// Hasura generates <rel>_aggregate for an array relationship whose remote permission allows aggregations
			// (https://hasura.io/docs/latest/queries/postgres/aggregation-queries/#nested-aggregate-queries): per
			// parent row, over that row's related rows only. The viewer's running totals of live runs use it.
			name:  "array relationship aggregate, per parent row",
			query: `query ($p: String!) { runs(order_by: {started_at: asc}) { name samples_aggregate(where: {phase: {_eq: $p}}) { aggregate { count sum { ops errors } max { lat_p99_ms interval_end } min { interval_start } } } } }`,
			vars:  map[string]any{"p": "measure"},
			want: `{"runs": [
				{"name": "a", "samples_aggregate": {"aggregate": {"count": 2, "sum": {"ops": 2001, "errors": 1}, "max": {"lat_p99_ms": 4.5, "interval_end": "2026-01-02T03:04:08+00:00"}, "min": {"interval_start": "2026-01-02T03:04:06+00:00"}}}},
				{"name": "b", "samples_aggregate": {"aggregate": {"count": 0, "sum": {"ops": null, "errors": null}, "max": {"lat_p99_ms": null, "interval_end": null}, "min": {"interval_start": null}}}},
				{"name": null, "samples_aggregate": {"aggregate": {"count": 0, "sum": {"ops": null, "errors": null}, "max": {"lat_p99_ms": null, "interval_end": null}, "min": {"interval_start": null}}}}]}`,
		},
		{
			name:  "aggregate over no rows",
			query: `{ runs_aggregate(where: {host_name: {_eq: "nowhere"}}) { aggregate { count max { ops } } nodes { run_id } } }`,
			want:  `{"runs_aggregate": {"aggregate": {"count": 0, "max": {"ops": null}}, "nodes": []}}`,
		},
		{
			name:  "empty list is []",
			query: `query ($h: String!) { runs(where: {host_name: {_eq: $h}}) { run_id } }`,
			vars:  map[string]any{"h": "nowhere"},
			want:  `{"runs": []}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := post(t, srv.URL, tc.query, tc.vars)
			if got["errors"] != nil {
				t.Fatalf("errors: %v", got["errors"])
			}
			if want := decode(t, tc.want); !reflect.DeepEqual(got["data"], want) {
				gb, _ := json.Marshal(got["data"])
				t.Fatalf("data\n got %s\nwant %s", gb, tc.want)
			}
		})
	}
	if n := len(srv.Documents()); n != len(cases) {
		t.Errorf("Documents() recorded %d, want %d", n, len(cases))
	}
}

func TestErrorsHaveHasuraShapes(t *testing.T) {
	db := migratedDB(t)
	md := loadMetadata(t)
	md.RevokeColumn("anonymous", "runs", "lat_p99_ms")
	srv := hasurastub.New(t, db, md)
	cases := []struct {
		name, query string
		vars        map[string]any
		code, msg   string
		path        string
	}{
		{"revoked column", `{ runs { run_id lat_p99_ms } }`, nil, "validation-failed",
			"field 'lat_p99_ms' not found in type: 'runs'", "$.selectionSet.runs.selectionSet.lat_p99_ms"},
		{"revoked column in where", `query ($v: float8!) { runs(where: {lat_p99_ms: {_gt: $v}}) { run_id } }`, map[string]any{"v": 1}, "validation-failed",
			"field 'lat_p99_ms' not found in type: 'runs_bool_exp'", "$.selectionSet.runs.args.where.lat_p99_ms"},
		{"untracked table", `{ sink_offsets { topic } }`, nil, "validation-failed",
			"field 'sink_offsets' not found in type: 'query_root'", "$.selectionSet.sink_offsets"},
		{"unknown column in nested relationship", `{ runs { samples { nope } } }`, nil, "validation-failed",
			"field 'nope' not found in type: 'samples'", "$.selectionSet.runs.selectionSet.samples.selectionSet.nope"},
		{"variable of the wrong type", `query ($id: String!) { runs_by_pk(run_id: $id) { run_id } }`, map[string]any{"id": runA}, "validation-failed",
			"variable 'id' is declared as 'String!', but used where 'uuid!' is expected", "$.selectionSet.runs_by_pk.args.run_id"},
		{"jsonb sent as String", `query ($p: String!) { runs(where: {parameters: {_eq: $p}}) { run_id } }`, map[string]any{"p": "{}"}, "validation-failed",
			"variable 'p' is declared as 'String!', but used where 'jsonb' is expected", "$.selectionSet.runs.args.where.parameters._eq"},
		{"missing variable", `query ($id: uuid!) { runs_by_pk(run_id: $id) { run_id } }`, nil, "validation-failed",
			`expecting a value for non-nullable variable: "id"`, "$"},
		{"unexpected variable", `{ runs { run_id } }`, map[string]any{"x": 1}, "validation-failed",
			"unexpected variables in variableValues: x", "$"},
		{"null comparison", `query ($k: String) { runs(where: {kind: {_eq: $k}}) { run_id } }`, map[string]any{"k": nil}, "validation-failed",
			"unexpected null value for type 'String'", "$.selectionSet.runs.args.where.kind._eq"},
		{"bad uuid", `query ($id: uuid!) { runs_by_pk(run_id: $id) { run_id } }`, map[string]any{"id": "nope"}, "data-exception",
			`invalid input syntax for type uuid: "nope"`, "$"},
		{"syntax", `{ runs { run_id }`, nil, "validation-failed", "not a valid graphql query", "$.query"},
		{"mutation", `mutation { delete_runs { affected_rows } }`, nil, "validation-failed", "no mutations exist", "$"},
		{"string for enum", `{ runs(order_by: {name: "asc"}) { run_id } }`, nil, "validation-failed",
			"expected one of the values ['asc', 'asc_nulls_first', 'asc_nulls_last', 'desc', 'desc_nulls_first', 'desc_nulls_last'] for type 'order_by', but found a string", "$.selectionSet.runs.args.order_by.name"},
		{"distinct_on not leading order_by", `{ runs(distinct_on: host_name, order_by: {started_at: asc}) { run_id } }`, nil, "validation-failed",
			`"distinct_on" columns must match initial "order_by" columns`, "$.selectionSet.runs.args"},
		{"avg of a text column", `{ runs_aggregate { aggregate { avg { name } } } }`, nil, "validation-failed",
			"field 'name' not found in type: 'runs_avg_fields'", "$.selectionSet.runs_aggregate.selectionSet.aggregate.selectionSet.avg.selectionSet.name"},
		{"aggregate of a revoked column", `{ runs_aggregate { aggregate { max { lat_p99_ms } } } }`, nil, "validation-failed",
			"field 'lat_p99_ms' not found in type: 'runs_max_fields'", "$.selectionSet.runs_aggregate.selectionSet.aggregate.selectionSet.max.selectionSet.lat_p99_ms"},
		{"subscription over HTTP", `subscription { runs { run_id } }`, nil, "unexpected-payload",
			"subscriptions are not supported over HTTP, use websockets instead", "$"},
		{"distinct_on a column that does not exist", `{ viewer_config(distinct_on: [name, nope]) { id } }`, nil, "validation-failed",
			"expected one of the values ['comment', 'config', 'id', 'name'] for type 'viewer_config_select_column', but found an enum", "$.selectionSet.viewer_config.args.distinct_on[1]"},
		{"stream in a query", `query ($s: bigint!) { samples_stream(batch_size: 1, cursor: {initial_value: {seq: $s}}) { seq } }`, map[string]any{"s": 0}, "validation-failed",
			"field 'samples_stream' not found in type: 'query_root'", "$.selectionSet.samples_stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := post(t, srv.URL, tc.query, tc.vars)
			if got["data"] != nil {
				t.Fatalf("data with an error: %v", got["data"])
			}
			errs, _ := got["errors"].([]any)
			if len(errs) != 1 {
				t.Fatalf("errors = %v", got["errors"])
			}
			e := errs[0].(map[string]any)
			ext := e["extensions"].(map[string]any)
			if e["message"] != tc.msg || ext["code"] != tc.code || ext["path"] != tc.path {
				t.Fatalf("error\n got %q code %v path %v\nwant %q code %s path %s", e["message"], ext["code"], ext["path"], tc.msg, tc.code, tc.path)
			}
		})
	}
}

func TestPermissionRowFilterAndLimit(t *testing.T) {
	db := migratedDB(t)
	md := loadMetadata(t)
	md.Tables["runs"].Select["anonymous"].Filter = map[string]any{"status": map[string]any{"_neq": "running"}}
	md.Tables["runs"].Select["anonymous"].Limit = 1
	srv := hasurastub.New(t, db, md)
	got := post(t, srv.URL, `query ($c: uuid!) { all: runs(order_by: {started_at: desc}) { name } c: runs_by_pk(run_id: $c) { name }
		agg: runs_aggregate(order_by: {started_at: desc}) { aggregate { count } nodes { name } } }`, map[string]any{"c": runC})
	// The permission's limit applies to the rows an aggregate sees too: count and nodes alike.
	want := decode(t, `{"all": [{"name": "b"}], "c": null, "agg": {"aggregate": {"count": 1}, "nodes": [{"name": "b"}]}}`)
	if !reflect.DeepEqual(got["data"], want) {
		t.Fatalf("data = %v, want %v (errors %v)", got["data"], want, got["errors"])
	}
}

func TestInconsistentMetadataIsAnError(t *testing.T) {
	url := testenv.Deployed(t).HasuraURL // not migrated: no tracked table exists
	md := loadMetadata(t)
	srv, err := hasurastub.Start(context.Background(), url, md)
	if err == nil {
		srv.Close()
		t.Fatal("Start succeeded on a database without the tracked tables")
	}
	if !strings.Contains(err.Error(), "inconsistent metadata") || !strings.Contains(err.Error(), `"public"."runs"`) {
		t.Fatalf("error = %v", err)
	}
}

func TestClosedServerRefusesConnections(t *testing.T) {
	srv := hasurastub.New(t, migratedDB(t), loadMetadata(t))
	srv.Close()
	if _, err := http.Post(srv.URL, "application/json", strings.NewReader(`{"query":"{ runs { run_id } }"}`)); err == nil {
		t.Fatal("request to a closed stub succeeded")
	}
}

// <rel>_aggregate follows the remote table's permission, as Hasura's schema does: without allow_aggregations on
// samples the field does not exist on runs; with it, the remote row filter and row limit apply per parent row.
func TestRelationshipAggregateFollowsTheRemotePermission(t *testing.T) {
	db := migratedDB(t)
	const q = `{ runs(where: {name: {_eq: "a"}}) { samples_aggregate { aggregate { count } } } }`

	md := loadMetadata(t)
	md.Tables["samples"].Select["anonymous"].AllowAggregations = false
	got := post(t, hasurastub.New(t, db, md).URL, q, nil)
	want := decode(t, `[{"message": "field 'samples_aggregate' not found in type: 'runs'",
		"extensions": {"code": "validation-failed", "path": "$.selectionSet.runs.selectionSet.samples_aggregate"}}]`)
	if !reflect.DeepEqual(got["errors"], want) {
		t.Errorf("without allow_aggregations: errors = %v, want %v", got["errors"], want)
	}

	// Run a has 3 samples, 2 of them measured.
	for _, tc := range []struct {
		name   string
		filter map[string]any
		limit  int
		want   string
	}{
		{"the remote row filter", map[string]any{"phase": map[string]any{"_eq": "measure"}}, 100000, `{"count": 2, "min": {"seq": 2}}`},
		{"the remote row limit", nil, 1, `{"count": 1}`},
	} {
		md = loadMetadata(t)
		md.Tables["samples"].Select["anonymous"].Filter = tc.filter
		md.Tables["samples"].Select["anonymous"].Limit = tc.limit
		sel := "count min { seq }"
		if tc.limit == 1 {
			sel = "count" // which row a limit without order keeps is the database's choice, in Hasura too
		}
		got = post(t, hasurastub.New(t, db, md).URL, `{ runs(where: {name: {_eq: "a"}}) { samples_aggregate { aggregate { `+sel+` } } } }`, nil)
		if want := decode(t, `{"runs": [{"samples_aggregate": {"aggregate": `+tc.want+`}}]}`); !reflect.DeepEqual(got["data"], want) {
			t.Errorf("%s: data = %v, want %v (errors %v)", tc.name, got["data"], want, got["errors"])
		}
	}
}
