package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// fleetEnv is a sink reading the records topic and the fleet's two topics (format fleet) into a database set up
// as deployed.
type fleetEnv struct {
	*env
	jobs, agents string
	deploy       *testenv.Deployment
}

func newFleetEnv(t *testing.T, kb testenv.KafkaBackend) *fleetEnv {
	t.Helper()
	kc := kb.Start(t, map[string]int32{recordsTopic: 2, "benchpipe.jobs": 3, "benchpipe.agents": 3, "benchpipe.dead-letter": 1})
	d := testenv.Deployed(t)
	cfg := config.Default()
	cfg.Kafka.Brokers = kc.Brokers
	cfg.Fleet.JobsTopic, cfg.Fleet.AgentsTopic = kc.Topic("benchpipe.jobs"), kc.Topic("benchpipe.agents")
	cfg.Topics = []config.Topic{
		{Name: kc.Topic(recordsTopic), Format: config.FormatBenchpipe, Partitions: 2, ReplicationFactor: 1},
		{Name: cfg.Fleet.JobsTopic, Format: config.FormatFleet, Partitions: 3, ReplicationFactor: 1},
		{Name: cfg.Fleet.AgentsTopic, Format: config.FormatFleet, Partitions: 3, ReplicationFactor: 1},
	}
	cfg.Producer.Topic = cfg.Topics[0].Name
	cfg.Sink.DeadLetterTopic = kc.Topic("benchpipe.dead-letter")
	cfg.Sink.Group = kc.Group(cfg.Sink.Group)
	cfg.Sink.DatabaseURL = d.OwnerURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.BatchSize = 2000
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	if err := ingest.Migrate(context.Background(), &cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &fleetEnv{env: &env{cfg: &cfg, brokers: kc.Brokers, kafka: kc.Fake, dbURL: d.OwnerURL, topic: cfg.Topics[0].Name},
		jobs: cfg.Fleet.JobsTopic, agents: cfg.Fleet.AgentsTopic, deploy: d}
}

// fleetRecord is m as its Kafka record on the topic its type belongs to, keyed by the agent.
func (e *fleetEnv) fleetRecord(t *testing.T, m schema.FleetMessage) *kgo.Record {
	t.Helper()
	b, err := schema.EncodeFleet(m)
	if err != nil {
		t.Fatalf("encode %s: %v", m.Type, err)
	}
	topic := e.agents
	if m.Type == schema.FleetJob || m.Type == schema.FleetJobStop {
		topic = e.jobs
	}
	return &kgo.Record{Topic: topic, Key: m.Key(), Value: b}
}

// fleetScenario is a fleet's messages with a known outcome: two agents, two launches (groups) whose jobs end in
// every state job_status derives, and the two runs of the first launch.
type fleetScenario struct {
	now                 time.Time
	groupA, groupB      uuid.UUID
	jobs                map[string]uuid.UUID // by the state it ends in
	runOK, runAborted   uuid.UUID
	runB                uuid.UUID // the run of launch B's running job, whose records are not sent
	messages            []schema.FleetMessage
	runs                []schema.Record
	stopFirst, stopLate time.Time
}

func newFleetScenario() *fleetScenario {
	now := time.Now().UTC().Truncate(time.Microsecond)
	s := &fleetScenario{now: now, groupA: uuid.New(), groupB: uuid.New(), jobs: map[string]uuid.UUID{}}
	for _, k := range []string{"ok", "aborted", "launched", "accepted", "running", "rejected", "expired-by-time", "expired-by-agent", "events-only"} {
		s.jobs[k] = uuid.New()
	}
	at := func(d time.Duration) time.Time { return now.Add(d) }
	msg := func(t time.Time, typ string, set func(*schema.FleetMessage)) {
		m := schema.FleetMessage{Type: typ, Time: t}
		set(&m)
		s.messages = append(s.messages, m)
	}
	job := func(name, agent string, group uuid.UUID, created, expires time.Time) {
		msg(created, schema.FleetJob, func(m *schema.FleetMessage) {
			m.Job = &schema.Job{ID: s.jobs[name], GroupID: group, Agent: agent, Kind: schema.KindMQTT, Spec: json.RawMessage(`{"duration":"60s","publishers":2}`),
				Name: "fleet-" + name, Tags: map[string]string{"launch": name}, CreatedAt: created, ExpiresAt: expires}
		})
	}
	event := func(name, agent, state string, t time.Time, run *uuid.UUID, status schema.Status, reason string) {
		msg(t, schema.FleetJobEvent, func(m *schema.FleetMessage) {
			m.Event = &schema.JobEvent{JobID: s.jobs[name], Agent: agent, State: state, RunID: run, Status: status, Reason: reason}
		})
	}
	heartbeat := func(agent string, t time.Time, interval float64, job *uuid.UUID) {
		msg(t, schema.FleetHeartbeat, func(m *schema.FleetMessage) {
			h := &schema.Heartbeat{Agent: agent, Host: schema.Host{Hostname: agent + ".lab", Arch: "arm64", CPUCores: 4}, Version: "v1.2.3",
				Tags: map[string]string{"site": "lab", "at": t.Format(time.RFC3339Nano)}, IntervalS: interval, State: schema.AgentIdle, UpSince: at(-time.Hour)}
			if job != nil {
				h.State, h.JobID = schema.AgentRunning, job
			}
			m.Heartbeat = h
		})
	}
	s.runOK, s.runAborted = uuid.New(), uuid.New()

	// Launch A on both agents: pi-a's job finishes ok, pi-b's is stopped twice (the earlier stop is kept) and aborts.
	job("ok", "pi-a", s.groupA, at(-10*time.Minute), at(50*time.Minute))
	job("aborted", "pi-b", s.groupA, at(-10*time.Minute), at(50*time.Minute))
	s.stopFirst, s.stopLate = at(-8*time.Minute), at(-7*time.Minute)
	msg(s.stopLate, schema.FleetJobStop, func(m *schema.FleetMessage) {
		m.Stop = &schema.JobStop{JobID: s.jobs["aborted"], Agent: "pi-b"}
	})
	msg(s.stopFirst, schema.FleetJobStop, func(m *schema.FleetMessage) {
		m.Stop = &schema.JobStop{JobID: s.jobs["aborted"], Agent: "pi-b"}
	})
	// A stop naming another agent than the job's changes nothing.
	msg(at(-9*time.Minute), schema.FleetJobStop, func(m *schema.FleetMessage) { m.Stop = &schema.JobStop{JobID: s.jobs["ok"], Agent: "pi-b"} })
	event("ok", "pi-a", schema.JobAccepted, at(-599*time.Second), nil, "", "")
	event("ok", "pi-a", schema.JobRunning, at(-598*time.Second), &s.runOK, "", "")
	event("ok", "pi-a", schema.JobFinished, at(-5*time.Minute), &s.runOK, schema.StatusOK, "")
	event("aborted", "pi-b", schema.JobAccepted, at(-599*time.Second), nil, "", "")
	event("aborted", "pi-b", schema.JobRunning, at(-598*time.Second), &s.runAborted, "", "")
	event("aborted", "pi-b", schema.JobFinished, at(-8*time.Minute+time.Second), &s.runAborted, schema.StatusAborted, "stopped by the operator")

	// Launch B: every other state.
	job("launched", "pi-a", s.groupB, at(-time.Minute), at(time.Hour))
	job("accepted", "pi-a", s.groupB, at(-time.Minute), at(time.Hour))
	event("accepted", "pi-a", schema.JobAccepted, at(-50*time.Second), nil, "", "")
	job("running", "pi-b", s.groupB, at(-time.Minute), at(time.Hour))
	s.runB = uuid.New()
	event("running", "pi-b", schema.JobAccepted, at(-50*time.Second), nil, "", "")
	event("running", "pi-b", schema.JobRunning, at(-49*time.Second), &s.runB, "", "")
	job("rejected", "pi-b", s.groupB, at(-time.Minute), at(time.Hour))
	event("rejected", "pi-b", schema.JobRejected, at(-50*time.Second), nil, "", "busy: running job "+s.jobs["running"].String())
	// No agent took it and its time is up: expired without an event (pi-b was offline).
	job("expired-by-time", "pi-b", s.groupB, at(-20*time.Minute), at(-10*time.Minute))
	// The agent saw it after its ExpiresAt and said so.
	job("expired-by-agent", "pi-a", s.groupB, at(-20*time.Minute), at(-10*time.Minute))
	event("expired-by-agent", "pi-a", schema.JobExpired, at(-2*time.Minute), nil, "", "seen after it expired")
	// An agent's event whose job message the sink has not seen: still a job_status row, with what the event says.
	event("events-only", "pi-a", schema.JobAccepted, at(-30*time.Second), nil, "", "")

	// Heartbeats out of order (a spool resending): pi-a's newest (running job "accepted") comes between older ones.
	// pi-a beats every 30 s and was last seen 2 s ago: online; pi-b every second and last seen 10 s ago: offline.
	heartbeat("pi-a", at(-12*time.Second), 30, nil)
	heartbeat("pi-a", at(-2*time.Second), 30, ptr(s.jobs["accepted"]))
	heartbeat("pi-a", at(-7*time.Second), 30, nil)
	heartbeat("pi-a", at(-20*time.Second), 30, nil)
	heartbeat("pi-b", at(-10*time.Second), 1, ptr(s.jobs["running"]))
	heartbeat("pi-b", at(-11*time.Second), 1, nil)

	// The runs of launch A: 1000 and 250.5 operations per second, so the group's throughput is 1250.5.
	for i, r := range []struct {
		id     uuid.UUID
		job    string
		rate   float64
		status schema.Status
	}{{s.runOK, "ok", 1000, schema.StatusOK}, {s.runAborted, "aborted", 250.5, schema.StatusAborted}} {
		run := makeRun(3)
		start := at(-598*time.Second + time.Duration(i)*time.Second)
		for j := range run {
			run[j].RunID = r.id
		}
		run[0].Started.JobID, run[0].Started.GroupID = ptr(s.jobs[r.job]), ptr(s.groupA)
		run[0].Started.StartedAt = start
		fin := run[len(run)-1].Finished
		fin.Status, fin.Summary.OpsRate = r.status, r.rate
		fin.FinishedAt = at(-5*time.Minute - time.Duration(i)*time.Minute)
		s.runs = append(s.runs, run...)
	}
	return s
}

// The fleet's messages land in agents, jobs and job_events exactly once however often they are delivered, an
// agent's newest heartbeat wins whatever the order, job_status and job_groups derive every state, agent_status
// online by time, and runs name their job and launch. Bad fleet messages are dead-lettered with the reason. As
// deployed (the sink as the owner role, Hasura and Grafana reading), on kfake and on the real broker.
func TestFleetMessagesStored(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testFleetMessagesStored(t, kb) })
	}
}

func testFleetMessagesStored(t *testing.T, kb testenv.KafkaBackend) {
	ctx := context.Background()
	e := newFleetEnv(t, kb)
	s := newFleetScenario()
	var krs []*kgo.Record
	for _, m := range s.messages {
		krs = append(krs, e.fleetRecord(t, m))
	}
	for _, r := range s.runs {
		krs = append(krs, &kgo.Record{Topic: e.topic, Key: r.Key(), Value: []byte(mustEncode(t, r))})
	}
	// Bad messages among them: each goes to the dead letters with why.
	hb := e.fleetRecord(t, s.messages[len(s.messages)-1])
	wrongKey := &kgo.Record{Topic: e.agents, Key: []byte("pi-z"), Value: hb.Value}
	badKind := strings.Replace(string(e.fleetRecord(t, s.messages[0]).Value), `"kind":"mqtt"`, `"kind":"iperf"`, 1)
	futureV := strings.Replace(string(hb.Value), `"v":1`, `"v":2`, 1)
	poison := []struct {
		rec    *kgo.Record
		reason string
	}{
		{&kgo.Record{Topic: e.agents, Key: []byte("pi-a"), Value: []byte(`{"v":1,"type":"heartbeat"`)}, "unexpected EOF"},
		{wrongKey, `record key "pi-z" is not the agent name "pi-b"`},
		{&kgo.Record{Topic: e.jobs, Key: []byte("pi-a"), Value: []byte(badKind)}, `job.kind: "iperf" is not mqtt or pgbench`},
		{&kgo.Record{Topic: e.agents, Key: hb.Key, Value: []byte(futureV)}, "fleet message version 2 is not supported"},
		{&kgo.Record{Topic: e.agents, Key: []byte("pi-a"), Value: []byte(`{"v":1,"type":"heartbeat","time":"2026-01-01T00:00:00Z","heartbeat":{"agent":"pi-a","host":{"hostname":"x"},"interval_s":5,"state":"idle","up_since":"2026-01-01T00:00:00Z","cpu":1}}`)}, "cpu"},
		// Valid, but PostgreSQL refuses NUL in text: found by the sink's savepoint probe, the rest of the batch kept.
		{e.fleetRecord(t, schema.FleetMessage{Type: schema.FleetJobEvent, Time: s.now, Event: &schema.JobEvent{JobID: uuid.New(), Agent: "pi-b",
			State: schema.JobRejected, Reason: "bad\x00reason"}}), "database: "},
	}
	for _, p := range poison {
		krs = append(krs, p.rec)
	}
	produceRaw(t, e.brokers, "", krs...)
	reg := prometheus.NewRegistry()
	stop := e.startSink(t, ingest.WithRegisterer(reg))
	conn := connect(t, e.dbURL)
	waitStored(t, conn, int64(len(krs)))
	checkRowsByTable(t, reg, s)

	want := fleetWant(s)
	checkFleetTables(t, conn, s, want)
	dead := testenv.Consume(t, e.brokers, e.cfg.Sink.DeadLetterTopic, len(poison), 20*time.Second)
	if len(dead) != len(poison) {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dead), len(poison))
	}
	for _, d := range dead {
		h := headers(d)
		if !slices.ContainsFunc(poison, func(p struct {
			rec    *kgo.Record
			reason string
		}) bool {
			return string(p.rec.Value) == string(d.Value) && strings.Contains(h[ingest.HeaderError], p.reason) && h[ingest.HeaderTopic] == p.rec.Topic
		}) {
			t.Errorf("dead letter from %s with error %q matches no bad message", h[ingest.HeaderTopic], h[ingest.HeaderError])
		}
	}

	// Every fleet message and run record again, in reverse order (a producer's spool resending after a crash, at
	// new offsets), and the sink restarted: nothing changes.
	stop()
	var again []*kgo.Record
	for i := len(krs) - len(poison) - 1; i >= 0; i-- {
		again = append(again, &kgo.Record{Topic: krs[i].Topic, Key: krs[i].Key, Value: krs[i].Value})
	}
	produceRaw(t, e.brokers, "", again...)
	e.startSink(t)
	waitStored(t, conn, int64(len(krs)+len(again)))
	checkFleetTables(t, conn, s, want)

	// The readers as deployed: Hasura's and Grafana's roles read the tables and views (default privileges).
	for _, url := range []string{e.deploy.HasuraURL, e.deploy.GrafanaURL} {
		reader := connect(t, url)
		var agents, jobs, groups, events int64
		if err := reader.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.agent_status), (SELECT count(*) FROM public.job_status),
			(SELECT count(*) FROM public.job_groups), (SELECT count(*) FROM public.jobs) + (SELECT count(*) FROM public.job_events)`).Scan(&agents, &jobs, &groups, &events); err != nil {
			t.Fatalf("reader role: %v", err)
		}
		if agents != 2 || jobs != 9 || groups != 2 || events != 8+12 {
			t.Errorf("reader sees %d agents, %d job_status rows, %d groups, %d jobs+events; want 2, 9, 2, 20", agents, jobs, groups, events)
		}
	}
	if e.kafka != nil { // the metadata does not depend on the broker: once is enough
		checkFleetGraphQL(t, e.deploy, s)
	}
}

// checkRowsByTable: benchpipe_sink_rows_total counts each fleet statement under the table it writes (it once
// counted every one as a runs row).
func checkRowsByTable(t *testing.T, reg *prometheus.Registry, s *fleetScenario) {
	t.Helper()
	want := map[string]float64{}
	for _, m := range s.messages {
		want[map[string]string{schema.FleetHeartbeat: "agents", schema.FleetJob: "jobs", schema.FleetJobStop: "jobs", schema.FleetJobEvent: "job_events"}[m.Type]]++
	}
	for _, r := range s.runs {
		if r.Type == schema.TypeRunStarted || r.Type == schema.TypeRunFinished {
			want["runs"]++
		}
	}
	// The counters move just after the commit that the stored positions show: wait for them to settle.
	var got map[string]float64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		got = map[string]float64{}
		for _, f := range families {
			if f.GetName() != "benchpipe_sink_rows_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				if table := m.GetLabel()[0].GetValue(); want[table] > 0 || table == "runs" {
					got[table] = m.GetCounter().GetValue()
				}
			}
		}
		if reflect.DeepEqual(got, want) || time.Now().After(deadline) {
			break
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("benchpipe_sink_rows_total by table = %v, want %v", got, want)
	}
}

// fleetWant is what the tables and views must hold for s.
func fleetWant(s *fleetScenario) map[string][]string {
	id := func(k string) string { return s.jobs[k].String() }
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	return map[string][]string{
		// name state job_id first_seen last_seen interval_s online tags.at version host.hostname
		"agent_status": {
			fmt.Sprintf("pi-a running %s %s %s 30 true %s v1.2.3 pi-a.lab", id("accepted"), ts(s.now.Add(-20*time.Second)), ts(s.now.Add(-2*time.Second)), ts(s.now.Add(-2*time.Second))),
			fmt.Sprintf("pi-b running %s %s %s 1 false %s v1.2.3 pi-b.lab", id("running"), ts(s.now.Add(-11*time.Second)), ts(s.now.Add(-10*time.Second)), ts(s.now.Add(-10*time.Second))),
		},
		// name agent state status run_id reason group
		"job_status": {
			"<nil> pi-a accepted <nil> <nil> <nil> <nil>",
			fmt.Sprintf("fleet-aborted pi-b finished aborted %s stopped by the operator A", s.runAborted),
			"fleet-accepted pi-a accepted <nil> <nil> <nil> B",
			"fleet-expired-by-agent pi-a expired <nil> <nil> seen after it expired B",
			"fleet-expired-by-time pi-b expired <nil> <nil> no agent took the job before it expired B",
			"fleet-launched pi-a launched <nil> <nil> <nil> B",
			fmt.Sprintf("fleet-ok pi-a finished ok %s <nil> A", s.runOK),
			fmt.Sprintf("fleet-rejected pi-b rejected <nil> <nil> busy: running job %s B", id("running")),
			fmt.Sprintf("fleet-running pi-b running <nil> %s <nil> B", s.runB),
		},
		// group jobs running finished ok failed aborted rejected expired runs ops_rate started finished
		"job_groups": {
			fmt.Sprintf("A 2 0 2 1 0 1 0 0 2 1250.5 %s %s", ts(s.now.Add(-598*time.Second)), ts(s.now.Add(-5*time.Minute))),
			"B 6 2 0 0 0 0 1 2 0 <nil> <nil> <nil>",
		},
	}
}

func checkFleetTables(t *testing.T, conn *pgx.Conn, s *fleetScenario, want map[string][]string) {
	t.Helper()
	ctx := context.Background()
	group := func(g *uuid.UUID) string {
		switch {
		case g == nil:
			return "<nil>"
		case *g == s.groupA:
			return "A"
		case *g == s.groupB:
			return "B"
		}
		return g.String()
	}
	str := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	got := map[string][]string{}
	rows, _ := conn.Query(ctx, `SELECT name, state, job_id, first_seen, last_seen, interval_s, online, tags->>'at', version, host->>'hostname'
		FROM agent_status ORDER BY name`)
	for rows.Next() {
		var name, state, version, hostname, at string
		var job uuid.UUID
		var first, last time.Time
		var interval float32
		var online bool
		if err := rows.Scan(&name, &state, &job, &first, &last, &interval, &online, &at, &version, &hostname); err != nil {
			t.Fatal(err)
		}
		got["agent_status"] = append(got["agent_status"], fmt.Sprintf("%s %s %s %s %s %v %v %s %s %s", name, state, job, ts(first), ts(last), interval, online, at, version, hostname))
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, _ = conn.Query(ctx, `SELECT name, agent, state, status, run_id, reason, group_id FROM job_status ORDER BY name NULLS FIRST`)
	for rows.Next() {
		var name, status, reason *string
		var agent, state string
		var run, g *uuid.UUID
		if err := rows.Scan(&name, &agent, &state, &status, &run, &reason, &g); err != nil {
			t.Fatal(err)
		}
		r := "<nil>"
		if run != nil {
			r = run.String()
		}
		got["job_status"] = append(got["job_status"], fmt.Sprintf("%s %s %s %s %s %s %s", str(name), agent, state, str(status), r, str(reason), group(g)))
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	rows, _ = conn.Query(ctx, `SELECT group_id, jobs, running, finished, ok, failed, aborted, rejected, expired, runs, ops_rate, started_at, finished_at
		FROM job_groups ORDER BY jobs`)
	for rows.Next() {
		var g uuid.UUID
		var n [9]int64
		var rate *float64
		var started, finished *time.Time
		if err := rows.Scan(&g, &n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &n[7], &n[8], &rate, &started, &finished); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("%s %d %d %d %d %d %d %d %d %d", group(&g), n[0], n[1], n[2], n[3], n[4], n[5], n[6], n[7], n[8])
		if rate == nil {
			line += " <nil> <nil> <nil>"
		} else {
			line += fmt.Sprintf(" %v %s %s", *rate, ts(*started), ts(*finished))
		}
		got["job_groups"] = append(got["job_groups"], line)
	}
	if rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	for _, view := range []string{"agent_status", "job_status", "job_groups"} {
		if !slices.Equal(got[view], want[view]) {
			t.Errorf("%s:\n%s\nwant\n%s", view, strings.Join(got[view], "\n"), strings.Join(want[view], "\n"))
		}
	}

	// The tables: exact row counts (every message once), the earliest stop kept, runs naming their job and launch.
	var agents, jobs, events, stopped, runs int64
	var stopAt time.Time
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM jobs), (SELECT count(*) FROM job_events),
		(SELECT count(*) FROM jobs WHERE stop_requested_at IS NOT NULL), (SELECT stop_requested_at FROM jobs WHERE id = $1),
		(SELECT count(*) FROM runs WHERE group_id = $2 AND (run_id, job_id) IN (($3, $4), ($5, $6)))`,
		s.jobs["aborted"], s.groupA, s.runOK, s.jobs["ok"], s.runAborted, s.jobs["aborted"]).Scan(&agents, &jobs, &events, &stopped, &stopAt, &runs); err != nil {
		t.Fatal(err)
	}
	if agents != 2 || jobs != 8 || events != 12 || stopped != 1 || !stopAt.Equal(s.stopFirst) || runs != 2 {
		t.Errorf("agents %d, jobs %d, job_events %d, stopped jobs %d (at %s), runs of launch A naming their job %d; want 2, 8, 12, 1 (at %s), 2",
			agents, jobs, events, stopped, ts(stopAt), runs, ts(s.stopFirst))
	}
	// The job's spec and run tags as launched.
	var spec, tags string
	if err := conn.QueryRow(ctx, `SELECT spec::text, tags::text FROM jobs WHERE id = $1`, s.jobs["ok"]).Scan(&spec, &tags); err != nil {
		t.Fatal(err)
	}
	if spec != `{"duration": "60s", "publishers": 2}` || tags != `{"launch": "ok"}` {
		t.Errorf("jobs spec %s, tags %s", spec, tags)
	}
}

// checkFleetGraphQL reads the fleet's views through the Hasura stand-in (internal/hasurastub: Hasura cannot run
// here) with the repository's metadata, as Hasura's own role: anonymous reads the views and their relationships
// (runs' job and launch, a launch's runs with their summed throughput) but no spec, the operator reads jobs too.
func checkFleetGraphQL(t *testing.T, d *testenv.Deployment, s *fleetScenario) {
	t.Helper()
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	anon := hasurastub.New(t, d.HasuraURL, md)
	op := hasurastub.New(t, d.HasuraURL, md, hasurastub.WithRole("operator"))
	ask := func(srv *hasurastub.Server, query string, vars map[string]any) string {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return string(out)
	}
	sameJSON := func(what, got, want string) {
		t.Helper()
		var g, w any
		if err := json.Unmarshal([]byte(got), &g); err != nil {
			t.Fatalf("%s: %v: %s", what, err, got)
		}
		if err := json.Unmarshal([]byte(want), &w); err != nil {
			t.Fatalf("%s: want: %v", what, err)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s:\n%s\nwant\n%s", what, got, want)
		}
	}
	launches := `{ job_groups(order_by: {jobs: asc}) { jobs ok aborted ops_rate
		group_runs(order_by: {ops_rate: desc}) { ops_rate job { agent state status } job_group { runs } } }
		agent_status(order_by: {name: asc}) { name online job { state } jobs_aggregate { aggregate { count } } } }`
	wantLaunches := `{"data": {"job_groups": [
		{"jobs": 2, "ok": 1, "aborted": 1, "ops_rate": 1250.5, "group_runs": [
			{"ops_rate": 1000, "job": {"agent": "pi-a", "state": "finished", "status": "ok"}, "job_group": {"runs": 2}},
			{"ops_rate": 250.5, "job": {"agent": "pi-b", "state": "finished", "status": "aborted"}, "job_group": {"runs": 2}}]},
		{"jobs": 6, "ok": 0, "aborted": 0, "ops_rate": null, "group_runs": []}],
		"agent_status": [
		{"name": "pi-a", "online": true, "job": {"state": "accepted"}, "jobs_aggregate": {"aggregate": {"count": 5}}},
		{"name": "pi-b", "online": false, "job": {"state": "running"}, "jobs_aggregate": {"aggregate": {"count": 4}}}]}}`
	for _, srv := range []*hasurastub.Server{anon, op} {
		sameJSON("launches and agents", ask(srv, launches, nil), wantLaunches)
	}
	for _, q := range []struct{ query, want string }{
		{`{ jobs { id } }`, `field 'jobs' not found in type: 'query_root'`},
		{`{ job_status { spec } }`, `field 'spec' not found in type: 'job_status'`},
		{`{ job_status { job { spec } } }`, `field 'job' not found in type: 'job_status'`},
	} {
		if got := ask(anon, q.query, nil); !strings.Contains(got, q.want) {
			t.Errorf("anonymous %s: %s, want an error %q", q.query, got, q.want)
		}
	}
	sameJSON("operator's job", ask(op, `query ($id: uuid!) { jobs(where: {id: {_eq: $id}}) { spec tags status { state } runs { ops_rate } } }`,
		map[string]any{"id": s.jobs["ok"]}),
		`{"data": {"jobs": [{"spec": {"duration": "60s", "publishers": 2}, "tags": {"launch": "ok"}, "status": {"state": "finished"}, "runs": [{"ops_rate": 1000}]}]}}`)
}
