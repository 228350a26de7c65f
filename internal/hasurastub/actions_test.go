package hasurastub_test

// The stand-in's auth webhook mode and actions, checked against a small webhook and action handler written here
// (the real ones, `sink api`, are tested in sink/api and through producer/fleetcli): what Hasura sends them, and
// what Hasura answers for each of their answers.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// The fleet design's operator API (notes/fleet-design.md), plus an action only an "admin" role may call.
const testActionsGraphQL = `
type Mutation {
  launchJobs(kind: String!, spec: jsonb!, agents: [String!], tags: jsonb, all: Boolean, name: String,
             run_tags: jsonb, expires_in_s: Int): LaunchResult
}
type Mutation {
  stopJobs(job_id: uuid, group_id: uuid): StopResult
}
type Mutation {
  purge(before: timestamptz!): Int
}
type LaunchResult { group_id: uuid!  jobs: [LaunchedJob!]! }
type LaunchedJob { job_id: uuid!  agent: String! }
type StopResult { jobs: [LaunchedJob!]! }
`

const testActionsYAML = `actions:
- name: launchJobs
  definition:
    kind: synchronous
    handler: '{{TEST_API_URL}}/actions'
    headers:
    - name: X-Benchpipe-Action-Secret
      value_from_env: TEST_ACTION_SECRET
    - name: X-Literal
      value: lit
  permissions:
  - role: operator
- name: stopJobs
  definition:
    kind: synchronous
    handler: '{{TEST_API_URL}}/actions'
    forward_client_headers: true
    headers:
    - name: X-Benchpipe-Action-Secret
      value_from_env: TEST_ACTION_SECRET
  permissions:
  - role: operator
- name: purge
  definition:
    handler: '{{TEST_API_URL}}/actions'
  permissions:
  - role: admin
custom_types:
  enums: []
  input_objects: []
  objects:
  - name: LaunchResult
  - name: LaunchedJob
  - name: StopResult
  scalars: []
`

// actionsMetadata copies the repository's metadata with the test's actions.
func actionsMetadata(t *testing.T) *hasurastub.Metadata {
	t.Helper()
	md, err := hasurastub.LoadMetadata(metadataWithActions(t, testActionsGraphQL, testActionsYAML))
	if err != nil {
		t.Fatal(err)
	}
	return md
}

// metadataWithActions copies the repository's metadata into a directory with the given actions.graphql and
// actions.yaml, and returns the directory.
func metadataWithActions(t *testing.T, sdl, yaml string) string {
	t.Helper()
	dir := t.TempDir()
	err := filepath.WalkDir(metadataDir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(metadataDir, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dir, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"actions.graphql": sdl, "actions.yaml": yaml} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// received is one request a test handler got.
type received struct {
	Method string
	Header http.Header
	Body   map[string]any
}

// recorder is an HTTP handler that records each request and answers with respond.
type recorder struct {
	mu      sync.Mutex
	got     []received
	respond func(r received) (int, string)
}

func (h *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rec := received{Method: r.Method, Header: r.Header.Clone()}
	if len(b) > 0 {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		_ = dec.Decode(&rec.Body)
	}
	h.mu.Lock()
	h.got = append(h.got, rec)
	h.mu.Unlock()
	status, body := h.respond(rec)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (h *recorder) requests() []received {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]received(nil), h.got...)
}

// authHook answers as benchpipe's webhook does, plus the failures the stub must translate.
func authHook() *recorder {
	return &recorder{respond: func(r received) (int, string) {
		switch r.Header.Get("Authorization") {
		case "":
			return 200, `{"X-Hasura-Role":"anonymous"}`
		case "Bearer op":
			return 200, `{"X-Hasura-Role":"operator","X-Hasura-User-Id":"7","Not-A-Session-Var":"x"}`
		case "Bearer admin":
			return 200, `{"x-hasura-role":"admin"}`
		case "Bearer norole":
			return 200, `{"X-Hasura-User-Id":"7"}`
		case "Bearer teapot":
			return 418, `{}`
		}
		return 401, `{"error":"no"}`
	}}
}

const (
	groupID = "0190b000-0000-7000-8000-000000000001"
	jobID   = "0190b000-0000-7000-8000-000000000002"
)

// actionHandler answers launchJobs and stopJobs by the kind (or job id) asked for.
func actionHandler() *recorder {
	return &recorder{respond: func(r received) (int, string) {
		input, _ := r.Body["input"].(map[string]any)
		switch input["kind"] {
		case "none":
			return 400, `{"message":"no agent matches tags {\"site\":\"mars\"}","extensions":{"code":"no-agents","tags":{"site":"mars"}}}`
		case "plain":
			return 422, `{"message":"bad spec","code":"bad-spec"}`
		case "nomessage":
			return 400, `{"error":"x"}`
		case "boom":
			return 500, `{"message":"hidden"}`
		case "nogroup":
			return 200, `{"jobs":[]}`
		case "notjson":
			return 200, `ok`
		}
		return 200, `{"group_id":"` + groupID + `","jobs":[{"job_id":"` + jobID + `","agent":"pi-1","extra":1},{"job_id":"` + jobID + `","agent":"pi-2"}],"extra":"x"}`
	}}
}

type actionEnv struct {
	stub    *hasurastub.Server
	hook    *recorder
	handler *recorder
}

func newActionEnv(t *testing.T, opts ...hasurastub.Option) *actionEnv {
	t.Helper()
	e := &actionEnv{hook: authHook(), handler: actionHandler()}
	hookSrv := httptest.NewServer(e.hook)
	t.Cleanup(hookSrv.Close)
	apiSrv := httptest.NewServer(e.handler)
	t.Cleanup(apiSrv.Close)
	opts = append([]hasurastub.Option{hasurastub.WithAuthHook(hookSrv.URL + "/auth"),
		hasurastub.WithEnv(map[string]string{"TEST_API_URL": apiSrv.URL, "TEST_ACTION_SECRET": "s3cret"})}, opts...)
	e.stub = hasurastub.New(t, migratedDB(t), actionsMetadata(t), opts...)
	return e
}

// do posts a GraphQL request with the given headers and returns the HTTP status and the body, re-encoded.
func do(t *testing.T, url string, header map[string]string, query string, vars map[string]any) (int, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fleet-test/1")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, canonical(t, string(b))
}

func canonical(t *testing.T, s string) string {
	t.Helper()
	v := decode(t, s)
	b, _ := json.Marshal(v)
	return string(b)
}

func expectBody(t *testing.T, what string, status int, got, want string) {
	t.Helper()
	if status != http.StatusOK {
		t.Errorf("%s: HTTP %d, want 200 (Hasura answers every /v1/graphql error with 200)", what, status)
	}
	if w := canonical(t, want); got != w {
		t.Errorf("%s:\n got %s\nwant %s", what, got, w)
	}
}

const launchQuery = `mutation Launch($spec: jsonb!) { launchJobs(kind: "mqtt", spec: $spec, tags: {site: "lab"}, expires_in_s: 60) { group_id jobs { agent id: job_id } } }`

func TestAuthHookDecidesTheRole(t *testing.T) {
	e := newActionEnv(t)
	op := map[string]string{"Authorization": "Bearer op"}

	// Anonymous (no Authorization): reads as before, and has no mutations at all.
	status, got := do(t, e.stub.URL, nil, `{ runs(order_by: {run_id: asc}, limit: 1) { name } }`, nil)
	expectBody(t, "anonymous query", status, got, `{"data":{"runs":[{"name":"a"}]}}`)
	status, got = do(t, e.stub.URL, nil, launchQuery, map[string]any{"spec": map[string]any{}})
	expectBody(t, "anonymous launch", status, got, `{"errors":[{"message":"no mutations exist","extensions":{"code":"validation-failed","path":"$"}}]}`)

	// The webhook got GET with the client's headers, minus those Hasura does not forward.
	hook := e.hook.requests()
	if len(hook) != 2 {
		t.Fatalf("webhook called %d times, want 2 (once per request)", len(hook))
	}
	for _, r := range hook {
		if r.Method != http.MethodGet || r.Header.Get("User-Agent") == "fleet-test/1" || r.Header.Get("Content-Type") != "" || r.Body != nil {
			t.Errorf("webhook request: %s %v %v", r.Method, r.Header, r.Body)
		}
	}

	// Refused, failing and unreachable webhooks give Hasura's errors, with HTTP 200.
	for _, c := range []struct{ auth, want string }{
		{"Bearer wrong", `{"errors":[{"message":"Authentication hook unauthorized this request","extensions":{"code":"access-denied","path":"$"}}]}`},
		{"Bearer teapot", `{"errors":[{"message":"Invalid response from authorization hook","extensions":{"code":"unexpected","path":"$"}}]}`},
		{"Bearer norole", `{"errors":[{"message":"x-hasura-role not found in session variables","extensions":{"code":"invalid-params","path":"$"}}]}`},
	} {
		status, got = do(t, e.stub.URL, map[string]string{"Authorization": c.auth}, `{ runs { name } }`, nil)
		expectBody(t, c.auth, status, got, c.want)
	}
	if r := e.hook.requests()[2]; r.Header.Get("Authorization") != "Bearer wrong" {
		t.Errorf("webhook got Authorization %q, want the client's", r.Header.Get("Authorization"))
	}
	gone := hasurastub.New(t, migratedDB(t), loadMetadata(t), hasurastub.WithAuthHook("http://127.0.0.1:1/auth"))
	status, got = do(t, gone.URL, op, `{ runs { name } }`, nil)
	expectBody(t, "unreachable webhook", status, got, `{"errors":[{"message":"webhook authentication request failed","extensions":{"code":"unexpected","path":"$"}}]}`)

	// The operator's role has the actions it is permitted, and not the others.
	status, got = do(t, e.stub.URL, op, `mutation { purge(before: "2026-01-01T00:00:00Z") }`, nil)
	expectBody(t, "operator purge", status, got, `{"errors":[{"message":"field 'purge' not found in type: 'mutation_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.purge"}}]}`)
	status, got = do(t, e.stub.URL, map[string]string{"Authorization": "Bearer admin"}, launchQuery, map[string]any{"spec": map[string]any{}})
	expectBody(t, "admin launch", status, got, `{"errors":[{"message":"field 'launchJobs' not found in type: 'mutation_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs"}}]}`)
	status, got = do(t, e.stub.URL, op, `mutation { insert_runs(objects: []) { affected_rows } }`, nil)
	expectBody(t, "operator insert", status, got, `{"errors":[{"message":"field 'insert_runs' not found in type: 'mutation_root'","extensions":{"code":"validation-failed","path":"$.selectionSet.insert_runs"}}]}`)
	if n := len(e.handler.requests()); n != 0 {
		t.Errorf("action handler called %d times by refused requests", n)
	}
	var roles []string
	for _, r := range e.stub.Requests() {
		roles = append(roles, r.Role)
	}
	if want := []string{"anonymous", "anonymous", "", "", "", "operator", "admin", "operator"}; !reflect.DeepEqual(roles, want) {
		t.Errorf("recorded roles %q, want %q", roles, want)
	}
}

func TestActionCallsTheHandlerAsHasuraDoes(t *testing.T) {
	e := newActionEnv(t)
	op := map[string]string{"Authorization": "Bearer op", "X-Hasura-Role": "admin", "Origin": "http://viewer"}
	spec := map[string]any{"publishers": 2, "duration": "10s"}
	status, got := do(t, e.stub.URL, op, launchQuery, map[string]any{"spec": spec})
	expectBody(t, "launch", status, got, `{"data":{"launchJobs":{"group_id":"`+groupID+`","jobs":[{"agent":"pi-1","id":"`+jobID+`"},{"agent":"pi-2","id":"`+jobID+`"}]}}}`)

	reqs := e.handler.requests()
	if len(reqs) != 1 {
		t.Fatalf("handler called %d times, want 1", len(reqs))
	}
	r := reqs[0]
	body, _ := json.Marshal(r.Body)
	want := canonical(t, `{"action":{"name":"launchJobs"},"input":{"kind":"mqtt","spec":{"publishers":2,"duration":"10s"},"tags":{"site":"lab"},"expires_in_s":60},
		"session_variables":{"x-hasura-role":"operator","x-hasura-user-id":"7"},"request_query":`+mustJSON(launchQuery)+`}`)
	if string(body) != want {
		t.Errorf("handler body\n got %s\nwant %s", body, want)
	}
	// launchJobs does not forward the client's headers: only its own and Content-Type.
	if r.Method != http.MethodPost || r.Header.Get("X-Benchpipe-Action-Secret") != "s3cret" || r.Header.Get("X-Literal") != "lit" ||
		r.Header.Get("Content-Type") != "application/json" || r.Header.Get("Authorization") != "" || r.Header.Get("X-Forwarded-Origin") != "" {
		t.Errorf("handler request: %s %v", r.Method, r.Header)
	}

	// stopJobs forwards them: Authorization passes, session-variable headers and ignored ones do not, Origin and
	// User-Agent become X-Forwarded-*.
	status, got = do(t, e.stub.URL, op, `mutation { stopJobs(group_id: "`+groupID+`") { jobs { job_id } } }`, nil)
	expectBody(t, "stop", status, got, `{"data":{"stopJobs":{"jobs":[{"job_id":"`+jobID+`"},{"job_id":"`+jobID+`"}]}}}`)
	r = e.handler.requests()[1]
	if r.Header.Get("Authorization") != "Bearer op" || r.Header.Get("X-Hasura-Role") != "" || r.Header.Get("Origin") != "" ||
		r.Header.Get("X-Forwarded-Origin") != "http://viewer" || r.Header.Get("X-Forwarded-User-Agent") != "fleet-test/1" ||
		r.Header.Get("X-Benchpipe-Action-Secret") != "s3cret" {
		t.Errorf("forwarded headers: %v", r.Header)
	}
	if in, _ := json.Marshal(r.Body["input"]); string(in) != `{"group_id":"`+groupID+`"}` {
		t.Errorf("stop input %s: an omitted nullable argument must be absent", in)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestActionErrorsAreHasuras(t *testing.T) {
	e := newActionEnv(t)
	op := map[string]string{"Authorization": "Bearer op"}
	launch := func(kind string) (int, string) {
		return do(t, e.stub.URL, op, `mutation ($k: String!) { launchJobs(kind: $k, spec: {}) { group_id } }`, map[string]any{"k": kind})
	}
	for _, c := range []struct{ kind, want string }{
		// A 4xx with extensions: Hasura passes the handler's extensions as they are.
		{"none", `{"errors":[{"message":"no agent matches tags {\"site\":\"mars\"}","extensions":{"code":"no-agents","tags":{"site":"mars"}}}]}`},
		{"plain", `{"errors":[{"message":"bad spec","extensions":{"code":"bad-spec","path":"$"}}]}`},
		{"nomessage", `{"errors":[{"message":"the key 'message' was not present","extensions":{"code":"parse-failed","path":"$"}}]}`},
		{"boom", `{"errors":[{"message":"internal error","extensions":{"code":"unexpected","path":"$"}}]}`},
		{"nogroup", `{"errors":[{"message":"field \"group_id\" expected in webhook response, but not found","extensions":{"code":"unexpected","path":"$"}}]}`},
		{"notjson", `{"errors":[{"message":"not a valid json response from webhook","extensions":{"code":"unexpected","path":"$"}}]}`},
	} {
		status, got := launch(c.kind)
		expectBody(t, c.kind, status, got, c.want)
	}
	if n := len(e.handler.requests()); n != 6 {
		t.Errorf("handler called %d times, want 6", n)
	}

	// Validation happens before the handler is called.
	for _, c := range []struct{ query, want string }{
		{`mutation { launchJobs(spec: {}) { group_id } }`,
			`{"errors":[{"message":"missing required field 'kind'","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs.args"}}]}`},
		{`mutation ($s: String = "x") { launchJobs(kind: "mqtt", spec: $s) { group_id } }`,
			`{"errors":[{"message":"variable 's' is declared as 'String', but used where 'jsonb!' is expected","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs.args.spec"}}]}`},
		{`mutation { launchJobs(kind: 1, spec: {}) { group_id } }`,
			`{"errors":[{"message":"expected a string for type 'String', but found a number","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs.args.kind"}}]}`},
		{`mutation { launchJobs(kind: "m", spec: {}, agent: "x") { group_id } }`,
			`{"errors":[{"message":"'launchJobs' has no argument named 'agent'","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs"}}]}`},
		{`mutation { launchJobs(kind: "m", spec: {}) { group } }`,
			`{"errors":[{"message":"field 'group' not found in type: 'LaunchResult'","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs.selectionSet.group"}}]}`},
		{`mutation { launchJobs(kind: "m", spec: {}) }`,
			`{"errors":[{"message":"missing selection set for 'LaunchResult'","extensions":{"code":"validation-failed","path":"$.selectionSet.launchJobs"}}]}`},
	} {
		status, got := do(t, e.stub.URL, op, c.query, nil)
		expectBody(t, c.query, status, got, c.want)
	}
	if n := len(e.handler.requests()); n != 6 {
		t.Errorf("handler called %d times after validation errors, want still 6", n)
	}
}

// An action whose handler template names an unset variable is inconsistent metadata: left out of the schema.
func TestActionWithUnsetEnvIsLeftOut(t *testing.T) {
	srv := hasurastub.New(t, migratedDB(t), actionsMetadata(t), hasurastub.WithRole("operator"),
		hasurastub.WithEnv(map[string]string{"TEST_API_URL": "http://127.0.0.1:1"}))
	want := []string{"action launchJobs: environment variable TEST_ACTION_SECRET not set", "action stopJobs: environment variable TEST_ACTION_SECRET not set"}
	if got := srv.InconsistentObjects(); !reflect.DeepEqual(got, want) {
		t.Errorf("inconsistent objects %q, want %q", got, want)
	}
	status, got := do(t, srv.URL, nil, launchQuery, map[string]any{"spec": map[string]any{}})
	expectBody(t, "launch", status, got, `{"errors":[{"message":"no mutations exist","extensions":{"code":"validation-failed","path":"$"}}]}`)
}

// On the websocket the connection is authenticated once, at connection_init, with the init payload's headers.
func TestActionOverWebsocket(t *testing.T) {
	e := newActionEnv(t)
	c := dialWS(t, e.stub.URL)
	c.send(`{"type":"connection_init","payload":{"headers":{"Authorization":"Bearer op"}}}`)
	c.expect(`{"type":"connection_ack"}`)
	c.send(`{"type":"subscribe","id":"m","payload":{"query":"mutation { launchJobs(kind: \"mqtt\", spec: {}, all: true) { jobs { agent } } }"}}`)
	c.expect(`{"type":"next","id":"m","payload":{"data":{"launchJobs":{"jobs":[{"agent":"pi-1"},{"agent":"pi-2"}]}}}}`)
	c.expect(`{"type":"complete","id":"m"}`)
	if r := e.hook.requests(); len(r) != 1 || r[0].Header.Get("Authorization") != "Bearer op" {
		t.Errorf("webhook requests %v, want one with the init payload's Authorization", r)
	}
	if r := e.handler.requests(); len(r) != 1 || !reflect.DeepEqual(r[0].Body["input"], map[string]any{"kind": "mqtt", "spec": map[string]any{}, "all": true}) {
		t.Errorf("handler requests %v", r)
	}

	refused := dialWS(t, e.stub.URL)
	refused.send(`{"type":"connection_init","payload":{"headers":{"Authorization":"Bearer wrong"}}}`)
	if _, err := refused.next(5 * time.Second); websocket.CloseStatus(err) != 4403 {
		t.Fatalf("refused connection_init: %v, want close 4403", err)
	}
	if !strings.Contains(e.hook.requests()[1].Header.Get("Authorization"), "wrong") {
		t.Errorf("second webhook call: %v", e.hook.requests()[1].Header)
	}
}
