package hasurastub_test

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// histogramDB is migratedDB with the sink's per-minute and per-hour histograms of runs A and B (values in µs):
// run A measures 50 at 1 ms, 45 at 2 ms, 5 at 3 ms in minute 03:04 and 100 at 4 ms in 03:05, after one 9 ms
// warm-up value in 03:03; run B measures 10 at 2 ms in 04:00.
func histogramDB(t *testing.T) string {
	t.Helper()
	d := migratedDeployment(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `
		INSERT INTO samples_hist_1m (run_id, bucket, phase, samples, lat_v, lat_c) VALUES
		('`+runA+`', '2026-01-02 03:03+00', 'warmup', 1, '{9000}', '{1}'),
		('`+runA+`', '2026-01-02 03:04+00', 'measure', 60, '{1000,2000,3000}', '{50,45,5}'),
		('`+runA+`', '2026-01-02 03:05+00', 'measure', 60, '{4000}', '{100}'),
		('`+runB+`', '2026-01-02 04:00+00', 'measure', 10, '{2000}', '{10}');
		INSERT INTO samples_hist_1h (run_id, bucket, phase, samples, lat_v, lat_c) VALUES
		('`+runA+`', '2026-01-02 03:00+00', 'warmup', 1, '{9000}', '{1}'),
		('`+runA+`', '2026-01-02 03:00+00', 'measure', 120, '{1000,2000,3000,4000}', '{50,45,5,100}'),
		('`+runB+`', '2026-01-02 04:00+00', 'measure', 10, '{2000}', '{10}');`); err != nil {
		t.Fatal(err)
	}
	return d.HasuraURL
}

// Tracked functions are root fields taking args: {…} (named arguments, the omitted ones at their SQL defaults)
// and the return table's where, order_by, limit, offset and aggregate, with the figures the database merges.
func TestFunctions(t *testing.T) {
	db := histogramDB(t)
	srv := hasurastub.New(t, db, loadMetadata(t))
	const pcols = "{ series count p50_ms p90_ms p99_ms p999_ms max_ms }"
	cases := []struct {
		name, query string
		vars        map[string]any
		want        string
	}{
		{"a whole run, measurement only (include_warmup defaults to false)",
			`query ($id: uuid!) { run_latency_percentiles(args: {run_id: $id}) ` + pcols + ` }`, map[string]any{"id": runA},
			`{"run_latency_percentiles": [{"series": "latency", "count": 200, "p50_ms": 3, "p90_ms": 4, "p99_ms": 4, "p999_ms": 4, "max_ms": 4}]}`},
		{"with the warm-up",
			`query ($id: uuid!) { run_latency_percentiles(args: {run_id: $id, include_warmup: true}) { count max_ms } }`, map[string]any{"id": runA},
			`{"run_latency_percentiles": [{"count": 201, "max_ms": 9}]}`},
		{"a window, rounded down to its minute",
			`query ($id: uuid!, $from: timestamptz, $to: timestamptz) { w: run_latency_percentiles(args: {run_id: $id, from_time: $from, to_time: $to}) ` + pcols + ` }`,
			map[string]any{"id": runA, "from": "2026-01-02T03:04:30Z", "to": "2026-01-02T03:05:00Z"},
			`{"w": [{"series": "latency", "count": 100, "p50_ms": 1, "p90_ms": 2, "p99_ms": 3, "p999_ms": 3, "max_ms": 3}]}`},
		{"runs merged, uuid[] as _uuid",
			`query ($ids: _uuid!) { runs_latency_percentiles(args: {run_ids: $ids}) { count p50_ms p99_ms } }`, map[string]any{"ids": "{" + runA + "," + runB + "}"},
			`{"runs_latency_percentiles": [{"count": 210, "p50_ms": 2, "p99_ms": 4}]}`},
		{"tagged, jsonb literal",
			`{ tagged_latency_percentiles(args: {tags: {rack: "b"}, kind: "mqtt"}) { count p50_ms } }`, nil,
			`{"tagged_latency_percentiles": [{"count": 10, "p50_ms": 2}]}`},
		{"a device's day",
			`query ($d: date!) { device_latency_percentiles(args: {host_name: "pi-8", day: $d}) { count max_ms } }`, map[string]any{"d": "2026-01-02"},
			`{"device_latency_percentiles": [{"count": 10, "max_ms": 2}]}`},
		{"distribution with where, order_by and limit",
			`{ runs_latency_distribution(args: {run_ids: "{` + runA + `}"}, where: {quantile: {_gte: 0.5}}, order_by: {value_ms: desc}, limit: 2) { value_ms count cumulative quantile } }`, nil,
			`{"runs_latency_distribution": [{"value_ms": 4, "count": 100, "cumulative": 200, "quantile": 1}, {"value_ms": 3, "count": 5, "cumulative": 100, "quantile": 0.5}]}`},
		{"aggregate over a function",
			`{ runs_latency_distribution_aggregate(args: {run_ids: "{` + runA + `}"}) { aggregate { count sum { count } } } }`, nil,
			`{"runs_latency_distribution_aggregate": {"aggregate": {"count": 4, "sum": {"count": 200}}}}`},
		{"no histograms: no rows",
			`query ($id: uuid!) { run_latency_percentiles(args: {run_id: $id}) { count } }`, map[string]any{"id": runC},
			`{"run_latency_percentiles": []}`},
	}
	// The operator (a signed-in viewer sends its token on every request) calls them as anonymous does.
	op := hasurastub.New(t, db, loadMetadata(t), hasurastub.WithRole("operator"))
	for _, tc := range cases {
		for _, role := range []struct {
			name, url string
		}{{"anonymous", srv.URL}, {"operator", op.URL}} {
			t.Run(role.name+"/"+tc.name, func(t *testing.T) {
				got := post(t, role.url, tc.query, tc.vars)
				if got["errors"] != nil {
					t.Fatalf("errors: %v", got["errors"])
				}
				if want := decode(t, tc.want); !reflect.DeepEqual(got["data"], want) {
					gb, _ := json.Marshal(got["data"])
					t.Fatalf("data\n got %s\nwant %s", gb, tc.want)
				}
			})
		}
	}
}

func TestFunctionErrorsHaveHasuraShapes(t *testing.T) {
	md := loadMetadata(t)
	md.RevokeColumn("anonymous", "latency_percentiles", "p999_ms")
	md.Functions["device_latency_percentiles"].Roles = nil
	srv := hasurastub.New(t, histogramDB(t), md)
	cases := []struct {
		name, query string
		vars        map[string]any
		code, msg   string
		path        string
	}{
		{"unknown argument", `query ($id: uuid!) { run_latency_percentiles(args: {run: $id}) { count } }`, map[string]any{"id": runA}, "validation-failed",
			"field 'run' not found in type: 'run_latency_percentiles_args'", "$.selectionSet.run_latency_percentiles.args.args.run"},
		{"variable of the wrong type", `query ($id: String!) { run_latency_percentiles(args: {run_id: $id}) { count } }`, map[string]any{"id": runA}, "validation-failed",
			"variable 'id' is declared as 'String!', but used where 'uuid' is expected", "$.selectionSet.run_latency_percentiles.args.args.run_id"},
		{"uuid[] declared as [uuid!]", `query ($ids: [uuid!]!) { runs_latency_percentiles(args: {run_ids: $ids}) { count } }`, map[string]any{"ids": []string{runA}}, "validation-failed",
			"variable 'ids' is declared as '[uuid!]!', but used where '_uuid' is expected", "$.selectionSet.runs_latency_percentiles.args.args.run_ids"},
		{"literal of the wrong type", `query ($id: uuid!) { run_latency_percentiles(args: {run_id: $id, include_warmup: "yes"}) { count } }`, map[string]any{"id": runA}, "validation-failed",
			"expected a boolean for type 'Boolean', but found a string", "$.selectionSet.run_latency_percentiles.args.args.include_warmup"},
		{"required argument missing", `{ run_latency_percentiles(args: {include_warmup: true}) { count } }`, nil, "validation-failed",
			"missing required field 'run_id'", "$.selectionSet.run_latency_percentiles.args.args"},
		{"args missing", `{ run_latency_percentiles { count } }`, nil, "validation-failed",
			"missing required field 'args'", "$.selectionSet.run_latency_percentiles.args"},
		{"column the return table's permission withholds", `query ($id: uuid!) { run_latency_percentiles(args: {run_id: $id}) { p999_ms } }`, map[string]any{"id": runA}, "validation-failed",
			"field 'p999_ms' not found in type: 'latency_percentiles'", "$.selectionSet.run_latency_percentiles.selectionSet.p999_ms"},
		{"function without a permission for the role", `{ device_latency_percentiles(args: {host_name: "pi-8", day: "2026-01-02"}) { count } }`, nil, "validation-failed",
			"field 'device_latency_percentiles' not found in type: 'query_root'", "$.selectionSet.device_latency_percentiles"},
		{"bad uuid array literal", `{ runs_latency_percentiles(args: {run_ids: "nope"}) { count } }`, nil, "data-exception",
			`malformed array literal: "nope"`, "$"},
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

// The return table's row limit caps a function's rows, as it caps the table's.
func TestFunctionRowsAreCappedByTheReturnTablesLimit(t *testing.T) {
	md := loadMetadata(t)
	md.Tables["latency_distribution"].Select["anonymous"].Limit = 3
	srv := hasurastub.New(t, histogramDB(t), md)
	got := post(t, srv.URL, `{ runs_latency_distribution(args: {run_ids: "{`+runA+`}"}) { value_ms } }`, nil)
	want := decode(t, `{"runs_latency_distribution": [{"value_ms": 1}, {"value_ms": 2}, {"value_ms": 3}]}`)
	if !reflect.DeepEqual(got["data"], want) {
		t.Fatalf("data = %v, want %v (errors %v)", got["data"], want, got["errors"])
	}
}

// A tracked function the database lacks makes the metadata inconsistent, as in Hasura.
func TestTrackedFunctionMissingIsInconsistent(t *testing.T) {
	md := loadMetadata(t)
	md.Functions["nope"] = &hasurastub.Function{Schema: "public", Name: "nope", GraphQLName: "nope", Roles: []string{"anonymous"}}
	srv, err := hasurastub.Start(context.Background(), migratedDB(t), md)
	if err == nil {
		srv.Close()
		t.Fatal("Start succeeded with a tracked function that does not exist")
	}
	if !strings.Contains(err.Error(), `function "public"."nope" is tracked but does not exist`) {
		t.Fatalf("error = %v", err)
	}
}
