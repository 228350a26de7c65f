package hasurastub_test

// Query actions (Hasura v2: type Query in actions.graphql, `type: query` in actions.yaml, always synchronous): a
// field of query_root for the roles of their permissions, answered by the handler beside the tables' fields.

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// A query action like benchpipe's compareRuns: read-only, for anonymous and operator, its output a jsonb field;
// and the operator's mutation beside it.
const queryActionsGraphQL = `
type Query {
  stats(run: uuid!, figures: [String!], level: Float, limit: Int): StatsReport
}
type Mutation {
  stopJobs(job_id: uuid, group_id: uuid): StopResult
}
type StatsReport { report: jsonb!  note: String }
type StopResult { jobs: [LaunchedJob!]! }
type LaunchedJob { job_id: uuid!  agent: String! }
`

const queryActionsYAML = `actions:
- name: stats
  definition:
    type: query
    handler: '{{TEST_API_URL}}/actions'
    headers:
    - name: X-Benchpipe-Action-Secret
      value_from_env: TEST_ACTION_SECRET
  permissions:
  - role: anonymous
  - role: operator
- name: stopJobs
  definition:
    kind: synchronous
    handler: '{{TEST_API_URL}}/actions'
  permissions:
  - role: operator
custom_types:
  objects:
  - name: StatsReport
  - name: StopResult
  - name: LaunchedJob
`

const runID = "0190b000-0000-7000-8000-0000000000aa"

func TestQueryActions(t *testing.T) {
	md, err := hasurastub.LoadMetadata(metadataWithActions(t, queryActionsGraphQL, queryActionsYAML))
	if err != nil {
		t.Fatal(err)
	}
	hook := authHook()
	handler := &recorder{respond: func(r received) (int, string) {
		input, _ := r.Body["input"].(map[string]any)
		if input["run"] == "0190b000-0000-7000-8000-0000000000bb" {
			return 400, `{"message":"run not found: run 0190b000-… does not exist","extensions":{"code":"invalid","exit_code":5}}`
		}
		return 200, `{"report":{"b":[1,2.50,{"x":null}],"a":"text"},"extra":1}`
	}}
	hookSrv, apiSrv := httptest.NewServer(hook), httptest.NewServer(handler)
	t.Cleanup(hookSrv.Close)
	t.Cleanup(apiSrv.Close)
	stub := hasurastub.New(t, migratedDB(t), md, hasurastub.WithAuthHook(hookSrv.URL+"/auth"),
		hasurastub.WithEnv(map[string]string{"TEST_API_URL": apiSrv.URL, "TEST_ACTION_SECRET": "s3cret"}))

	// Anonymous: the action beside a table's field and __typename, in the order asked; the selection set is
	// applied (extra dropped, note null, __typename the output type's name), the jsonb value passed as it is.
	const q = `query Q($run: uuid!) { __typename s: stats(run: $run, figures: ["throughput", "p99"], level: 0.9) { kind: __typename report note } runs(order_by: {run_id: asc}, limit: 1) { name } }`
	status, got := do(t, stub.URL, nil, q, map[string]any{"run": runID})
	expectBody(t, "anonymous query action", status, got,
		`{"data":{"__typename":"query_root","s":{"kind":"StatsReport","report":{"b":[1,2.50,{"x":null}],"a":"text"},"note":null},"runs":[{"name":"a"}]}}`)
	calls := handler.requests()
	if len(calls) != 1 {
		t.Fatalf("handler called %d times, want 1", len(calls))
	}
	body := calls[0].Body
	wantInput := map[string]any{"run": runID, "figures": []any{"throughput", "p99"}, "level": json.Number("0.9")}
	if !reflect.DeepEqual(body["action"], map[string]any{"name": "stats"}) || !reflect.DeepEqual(body["input"], wantInput) ||
		!reflect.DeepEqual(body["session_variables"], map[string]any{"x-hasura-role": "anonymous"}) || body["request_query"] != q {
		t.Errorf("handler got %v, want action stats, input %v, role anonymous and the query", body, wantInput)
	}
	if h := calls[0].Header; h.Get("X-Benchpipe-Action-Secret") != "s3cret" || h.Get("Content-Type") != "application/json" {
		t.Errorf("handler headers %v", h)
	}

	// Operator too; the handler's 4xx is the request's only error (no data), as for a mutation.
	status, got = do(t, stub.URL, map[string]string{"Authorization": "Bearer op"}, `{ stats(run: "0190b000-0000-7000-8000-0000000000bb") { report } runs(limit: 1) { name } }`, nil)
	expectBody(t, "operator, handler error", status, got,
		`{"errors":[{"message":"run not found: run 0190b000-… does not exist","extensions":{"code":"invalid","exit_code":5}}]}`)

	for _, tc := range []struct{ what, auth, query, want string }{
		// admin has no permission: the field does not exist in its query_root.
		{"role without permission", "Bearer admin", `{ stats(run: "` + runID + `") { report } }`,
			`{"errors":[{"message":"field 'stats' not found in type: 'query_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.stats"}}]}`},
		// A query action is not a mutation: anonymous still has no mutation_root, operator's lacks stats.
		{"anonymous mutation", "", `mutation { stats(run: "` + runID + `") { report } }`,
			`{"errors":[{"message":"no mutations exist","extensions":{"code":"validation-failed","path":"$"}}]}`},
		{"as a mutation", "Bearer op", `mutation { stats(run: "` + runID + `") { report } }`,
			`{"errors":[{"message":"field 'stats' not found in type: 'mutation_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.stats"}}]}`},
		{"missing argument", "", `{ stats { report } }`,
			`{"errors":[{"message":"missing required field 'run'","extensions":{"code":"validation-failed","path":"$.selectionSet.stats.args"}}]}`},
		{"subselection of jsonb", "", `{ stats(run: "` + runID + `") { report { a } } }`,
			`{"errors":[{"message":"unexpected subselection set for non-object field","extensions":{"code":"validation-failed","path":"$.selectionSet.stats.selectionSet.report"}}]}`},
		{"unknown output field", "", `{ stats(run: "` + runID + `") { reprot } }`,
			`{"errors":[{"message":"field 'reprot' not found in type: 'StatsReport'","extensions":{"code":"validation-failed","path":"$.selectionSet.stats.selectionSet.reprot"}}]}`},
		{"in a subscription", "", `subscription { stats(run: "` + runID + `") { report } }`,
			`{"errors":[{"message":"field 'stats' not found in type: 'subscription_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.stats"}}]}`},
	} {
		h := map[string]string{}
		if tc.auth != "" {
			h["Authorization"] = tc.auth
		}
		status, got := do(t, stub.URL, h, tc.query, nil)
		expectBody(t, tc.what, status, got, tc.want)
	}
	if n := len(handler.requests()); n != 2 {
		t.Errorf("handler called %d times, want 2: refused requests must not reach it", n)
	}

	// Over the websocket a query with an action is answered once, then complete.
	c := dialWS(t, stub.URL)
	c.send(`{"type":"connection_init","payload":{}}`)
	c.expect(`{"type":"connection_ack"}`)
	c.send(`{"type":"subscribe","id":"q","payload":{"query":"{ stats(run: \"` + runID + `\") { note t: __typename } }"}}`)
	c.expect(`{"type":"next","id":"q","payload":{"data":{"stats":{"note":null,"t":"StatsReport"}}}}`)
	c.expect(`{"type":"complete","id":"q"}`)
}

// LoadMetadata reads definition.type as Hasura does: mutation (the default) or query, the field in the matching
// root type of actions.graphql.
func TestQueryActionMetadata(t *testing.T) {
	for _, tc := range []struct{ what, yaml, want string }{
		{"query action declared under Mutation", strings.Replace(queryActionsYAML, "kind: synchronous", "type: query", 1),
			"action stopJobs: no field stopJobs in type Query"},
		{"unknown type", strings.Replace(queryActionsYAML, "type: query", "type: subscription", 1),
			"action stats: expected mutation or query, but found subscription"},
	} {
		_, err := hasurastub.LoadMetadata(metadataWithActions(t, queryActionsGraphQL, tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: LoadMetadata: %v, want %q", tc.what, err, tc.want)
		}
	}
}
