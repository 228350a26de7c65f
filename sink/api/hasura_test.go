package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// TestThroughHasura is the operator API as deployed: GraphQL requests go to the Hasura stand-in
// (internal/hasurastub; Hasura itself ships only as a Docker image) loaded with deploy/hasura/metadata, which asks
// sink api's /auth who the caller is and POSTs launchJobs/stopJobs to /actions with the action secret from its
// environment; the agents exist because the real sink stored their heartbeats, and the launched jobs and stops
// reach the tables through the same sink. Anonymous and wrong-token callers launch nothing.
func TestThroughHasura(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testThroughHasura(t, kb) })
	}
}

func testThroughHasura(t *testing.T, kb testenv.KafkaBackend) {
	ctx := context.Background()
	kc := kb.Start(t, map[string]int32{"benchpipe.jobs": 3, "benchpipe.agents": 3})
	jobs, agents := kc.Topic("benchpipe.jobs"), kc.Topic("benchpipe.agents")
	f := newFixture(t, kc.Brokers, jobs)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	// The sink, reading both fleet topics into the fixture's database.
	scfg := *f.cfg
	scfg.Topics = []config.Topic{
		{Name: jobs, Format: config.FormatFleet, Partitions: 3, ReplicationFactor: 1},
		{Name: agents, Format: config.FormatFleet, Partitions: 3, ReplicationFactor: 1},
	}
	scfg.Fleet.AgentsTopic = agents
	scfg.Sink.Group = kc.Group("benchpipe-sink")
	scfg.Sink.DeadLetterTopic = kc.Topic("benchpipe.dead-letter")
	scfg.Sink.HTTPAddr = ""
	scfg.Sink.FlushInterval = 50 * time.Millisecond
	sink, err := ingest.New(ctx, &scfg, ingest.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sctx, stopSink := context.WithCancel(ctx)
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sink.Run(sctx) }()
	t.Cleanup(func() {
		stopSink()
		<-sinkDone
		sink.Close()
	})

	// Three agents' heartbeats, as `producer agent` publishes them.
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	now := time.Now().UTC()
	for name, site := range map[string]string{"a1": "lab", "a2": "lab", "b1": "office"} {
		m := schema.FleetMessage{Type: schema.FleetHeartbeat, Time: now, Heartbeat: &schema.Heartbeat{Agent: name,
			Tags: map[string]string{"site": site}, IntervalS: 5, State: schema.AgentIdle, UpSince: now.Add(-time.Minute)}}
		b, err := schema.EncodeFleet(m)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: agents, Key: m.Key(), Value: b}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	waitRows(t, f.db.OwnerURL, `SELECT count(*) FROM agent_status WHERE online`, 3)

	// Hasura, with sink api as its auth webhook and action handler.
	api := strings.TrimSuffix(f.url, "/")
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	gql := hasurastub.New(t, f.db.HasuraURL, md, hasurastub.WithAuthHook(api+"/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": api, "BENCHPIPE_ACTION_SECRET": testSecret}))
	ask := func(authorization, query string, vars map[string]any) map[string]any {
		t.Helper()
		return askGraphQL(t, gql.URL, authorization, query, vars)
	}
	const launch = `mutation Launch($spec: jsonb!, $tags: jsonb) {
  launchJobs(kind: "mqtt", spec: $spec, tags: $tags, name: "through hasura") { group_id jobs { job_id agent } }
}`
	vars := map[string]any{"spec": json.RawMessage(mqttSpec), "tags": map[string]string{"site": "lab"}}
	errorOf := func(out map[string]any) string {
		errs, _ := out["errors"].([]any)
		if len(errs) != 1 || out["data"] != nil {
			return ""
		}
		return errs[0].(map[string]any)["message"].(string)
	}
	for _, tc := range []struct{ what, authorization, want string }{
		// Hasura's answer to a role without any mutation: the anonymous schema has no mutation_root at all.
		{"anonymous", "", "no mutations exist"},
		{"a wrong token", "Bearer " + testToken + "0", "Authentication hook unauthorized this request"},
		{"a wrong scheme", "Basic " + testToken, "Authentication hook unauthorized this request"},
	} {
		if out := ask(tc.authorization, launch, vars); errorOf(out) != tc.want {
			t.Errorf("launch as %s: %v, want the error %q", tc.what, out, tc.want)
		}
	}
	if n := len(f.messages()); n != 0 {
		t.Fatalf("refused launches produced %d messages", n)
	}

	out := ask("Bearer "+testToken, launch, vars)
	b, _ := json.Marshal(out["data"])
	var data struct{ LaunchJobs LaunchResult }
	if err := json.Unmarshal(b, &data); err != nil || out["errors"] != nil || len(data.LaunchJobs.Jobs) != 2 ||
		data.LaunchJobs.Jobs[0].Agent != "a1" || data.LaunchJobs.Jobs[1].Agent != "a2" {
		t.Fatalf("operator launch: %v", out)
	}
	group := data.LaunchJobs.GroupID
	if msgs := f.messages(); len(msgs) != 2 || msgs[0].Job.GroupID != group || msgs[1].Job.GroupID != group {
		t.Fatalf("after the launch the jobs topic holds %+v, want 2 jobs of group %s", msgs, group)
	}
	waitRows(t, f.db.OwnerURL, `SELECT count(*) FROM job_status WHERE group_id = '`+group.String()+`' AND state = 'launched' AND name = 'through hasura'`, 2)

	// An operator stops the launch; the sink records the stop on both jobs.
	const stop = `mutation Stop($g: uuid) { stopJobs(group_id: $g) { jobs { job_id agent } } }`
	if out := ask("", stop, map[string]any{"g": group}); errorOf(out) != "no mutations exist" {
		t.Errorf("anonymous stop: %v", out)
	}
	out = ask("Bearer "+testToken, stop, map[string]any{"g": group})
	if b, _ := json.Marshal(out); out["errors"] != nil || strings.Count(string(b), `"job_id"`) != 2 {
		t.Fatalf("operator stop: %s", b)
	}
	types := map[string]int{}
	for _, m := range f.messages() {
		types[m.Type]++
	}
	if len(types) != 2 || types[schema.FleetJob] != 2 || types[schema.FleetJobStop] != 2 {
		t.Fatalf("after the stop the jobs topic holds %v, want 2 jobs and 2 stops", types)
	}
	waitRows(t, f.db.OwnerURL, `SELECT count(*) FROM jobs WHERE group_id = '`+group.String()+`' AND stop_requested_at IS NOT NULL`, 2)
}

// waitRows waits until the count query answers want (the sink writes what Kafka holds a moment later).
func waitRows(t *testing.T, url, query string, want int) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := conn.QueryRow(ctx, query).Scan(&n); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		if n == want || time.Now().After(deadline) {
			break
		}
	}
	if n != want {
		t.Fatalf("%s: %d, want %d", query, n, want)
	}
}
