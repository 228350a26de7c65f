package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	testToken  = "op-token-9f3c1e5a7b"
	testSecret = "action-secret-4d2b8a"
)

// fixture is one API server over a migrated database and a Kafka, driven over HTTP as Hasura drives it.
type fixture struct {
	t       *testing.T
	cfg     *config.Config
	db      *testenv.Deployment
	brokers []string
	topic   string // fleet.jobs_topic
	url     string
	log     *testenv.Buffer
}

// newFixture migrates a fresh database as the sink does and starts the API on brokers (fleet.jobs_topic = topic).
func newFixture(t *testing.T, brokers []string, topic string, opts ...Option) *fixture {
	t.Helper()
	db := testenv.Deployed(t)
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = db.OwnerURL
	cfg.Fleet.JobsTopic = topic
	cfg.Fleet.JobExpiry = 90 * time.Second
	ctx := context.Background()
	if err := ingest.Migrate(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	f := &fixture{t: t, cfg: &cfg, db: db, brokers: brokers, topic: topic, log: &testenv.Buffer{}}
	all := append([]Option{WithLogger(slog.New(slog.NewTextHandler(f.log, nil))), WithOperatorToken(testToken), WithActionSecret(testSecret)}, opts...)
	// sink api connects as the stack's read-only role, as docker-compose.yml and deploy/k8s set it up; f.cfg
	// keeps the owner's URL for a sink a test runs beside it.
	apiCfg := cfg
	apiCfg.Sink.DatabaseURL = db.GrafanaURL
	s, err := New(ctx, &apiCfg, all...)
	if err != nil {
		t.Fatalf("api.New: %v", err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		s.Close()
		for _, secret := range []string{testToken, testSecret} {
			if bytes.Contains([]byte(f.log.String()), []byte(secret)) {
				t.Errorf("the log holds a secret:\n%s", f.log.String())
			}
		}
	})
	f.url = srv.URL
	return f
}

// exec runs SQL on the test database as the sink's role (fixtures: the agents' and jobs' rows the sink would
// have written from heartbeats and job messages).
func (f *fixture) exec(sql string, args ...any) {
	f.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, f.db.OwnerURL)
	if err != nil {
		f.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		f.t.Fatalf("%s: %v", sql, err)
	}
}

// agent inserts an agent as the sink stores its last heartbeat; online when its last heartbeat is recent.
func (f *fixture) agent(name string, tags map[string]string, online bool) {
	f.t.Helper()
	seen := time.Now()
	if !online {
		seen = seen.Add(-time.Hour)
	}
	tj, _ := json.Marshal(tags)
	f.exec(`INSERT INTO agents (name, host, version, tags, interval_s, state, up_since, first_seen, last_seen)
		VALUES ($1, '{}', 'test', $2, 5, 'idle', $3, $3, $3)`, name, string(tj), seen)
}

// action POSTs an action call as Hasura makes it, with the action secret (secret) and the session's role.
func (f *fixture) action(secret, role, name string, input any) (int, map[string]any) {
	f.t.Helper()
	in, err := json.Marshal(input)
	if err != nil {
		f.t.Fatal(err)
	}
	sess := map[string]string{}
	if role != "" {
		sess["x-hasura-role"] = role
	}
	body, _ := json.Marshal(map[string]any{
		"action": map[string]string{"name": name}, "input": json.RawMessage(in),
		"session_variables": sess, "request_query": "mutation { " + name + " { __typename } }",
	})
	req, _ := http.NewRequest(http.MethodPost, f.url+"/actions", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hasura-graphql-engine/v2.48.9")
	if secret != "" {
		req.Header.Set(ActionSecretHeader, secret)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		f.t.Fatalf("%s: answer is not JSON: %v", name, err)
	}
	return resp.StatusCode, out
}

// jobs returns every message of the jobs topic, decoded, failing on any that does not decode.
func (f *fixture) messages() []schema.FleetMessage {
	f.t.Helper()
	var out []schema.FleetMessage
	for _, r := range testenv.ConsumeAll(f.t, f.brokers, f.topic) {
		m, err := schema.DecodeFleet(r.Value)
		if err != nil {
			f.t.Fatalf("jobs topic: %v\n%s", err, r.Value)
		}
		if string(r.Key) != string(m.Key()) {
			f.t.Errorf("record key %q, want the agent %q", r.Key, m.Key())
		}
		out = append(out, m)
	}
	return out
}

// askGraphQL sends a GraphQL request to url, with Authorization when given, and returns the decoded answer
// (numbers as written).
func askGraphQL(t *testing.T, url, authorization, query string, vars map[string]any) map[string]any {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}
