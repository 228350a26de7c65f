package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// validFleet returns one valid message of every kind and shape.
func validFleet() map[string]schema.FleetMessage {
	job, group, run := uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02"), uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e03"), runID
	return map[string]schema.FleetMessage{
		"job": {Type: schema.FleetJob, Time: t0, Job: &schema.Job{ID: job, GroupID: group, Agent: "pi-7", Kind: schema.KindPgbench,
			Spec: json.RawMessage(`{"duration":"60s","clients":4}`), Name: "nightly", Tags: map[string]string{"site": "lab"},
			CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}},
		"job minimal": {Type: schema.FleetJob, Time: t0, Job: &schema.Job{ID: job, GroupID: group, Agent: "pi-7", Kind: schema.KindMQTT,
			Spec: json.RawMessage(`{}`), CreatedAt: t0, ExpiresAt: t0.Add(time.Second)}},
		"job_stop": {Type: schema.FleetJobStop, Time: t0, Stop: &schema.JobStop{JobID: job, Agent: "pi-7"}},
		"heartbeat idle": {Type: schema.FleetHeartbeat, Time: t0, Heartbeat: &schema.Heartbeat{Agent: "pi-7",
			Host: schema.Host{Hostname: "pi-7", OS: "Debian 12", Arch: "arm64", CPUCores: 4, MemoryBytes: 8 << 30}, Version: "v1.4.0",
			Tags: map[string]string{"site": "lab"}, IntervalS: 5, State: schema.AgentIdle, UpSince: t0.Add(-time.Hour)}},
		"heartbeat running": {Type: schema.FleetHeartbeat, Time: t0, Heartbeat: &schema.Heartbeat{Agent: "pi_7.lab-2",
			Host: schema.Host{Hostname: "pi-7"}, IntervalS: 0.5, State: schema.AgentRunning, JobID: &job, RunID: &run, UpSince: t0}},
		"accepted": {Type: schema.FleetJobEvent, Time: t0, Event: &schema.JobEvent{JobID: job, Agent: "pi-7", State: schema.JobAccepted}},
		"running":  {Type: schema.FleetJobEvent, Time: t0, Event: &schema.JobEvent{JobID: job, Agent: "pi-7", State: schema.JobRunning, RunID: &run}},
		"finished": {Type: schema.FleetJobEvent, Time: t0, Event: &schema.JobEvent{JobID: job, Agent: "pi-7", State: schema.JobFinished, RunID: &run,
			Status: schema.StatusAborted, Reason: "stopped by the operator"}},
		"rejected": {Type: schema.FleetJobEvent, Time: t0, Event: &schema.JobEvent{JobID: job, Agent: "pi-7", State: schema.JobRejected,
			Reason: "busy: running job " + group.String()}},
		"expired": {Type: schema.FleetJobEvent, Time: t0, Event: &schema.JobEvent{JobID: job, Agent: "pi-7", State: schema.JobExpired}},
	}
}

// Every valid message encodes, decodes to itself, and is keyed by its agent.
func TestFleetRoundTrip(t *testing.T) {
	for name, m := range validFleet() {
		b, err := schema.EncodeFleet(m)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		got, err := schema.DecodeFleet(b)
		if err != nil {
			t.Fatalf("%s: decode: %v\n%s", name, err, b)
		}
		again, _ := schema.EncodeFleet(got)
		if !bytes.Equal(again, b) || got.V != schema.FleetVersion {
			t.Errorf("%s: round trip changed the message:\n%s\n%s", name, b, again)
		}
		if want := "pi-7"; name != "heartbeat running" && string(got.Key()) != want {
			t.Errorf("%s: key %q, want %q", name, got.Key(), want)
		}
	}
}

// fleetBad are messages DecodeFleet refuses, with the field it names; fleet.schema.json refuses them too.
var fleetBad = []struct {
	name, from, old, new, field string
}{
	{"future version", "job", `"v":1`, `"v":2`, "v"},
	{"unknown type", "job", `"type":"job"`, `"type":"jab"`, "type"},
	{"type and body disagree", "job_stop", `"type":"job_stop"`, `"type":"heartbeat"`, "heartbeat"},
	{"unknown field", "job", `"name":"nightly"`, `"name":"nightly","password":"x"`, "job.password"},
	{"no time", "job_stop", `"time":"2026-11-23T12:00:00.123456Z",`, ``, "time"},
	{"nil job id", "job", `"id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02"`, `"id":"00000000-0000-0000-0000-000000000000"`, "job.id"},
	{"agent name with a space", "job", `"agent":"pi-7"`, `"agent":"pi 7"`, "job.agent"},
	{"unknown kind", "job", `"kind":"pgbench"`, `"kind":"iperf"`, "job.kind"},
	{"spec not an object", "job", `"spec":{"duration":"60s","clients":4}`, `"spec":["60s"]`, "job.spec"},
	{"expires before created", "job", `"expires_at":"2026-11-23T12:10:00.123456Z"`, `"expires_at":"2026-11-23T11:00:00Z"`, "job.expires_at"},
	{"stop without agent", "job_stop", `,"agent":"pi-7"`, ``, "stop.agent"},
	{"unknown host fact", "heartbeat idle", `"hostname":"pi-7",`, `"hostname":"pi-7","gpu":"none",`, "heartbeat.host.gpu"},
	{"interval zero", "heartbeat idle", `"interval_s":5`, `"interval_s":0`, "heartbeat.interval_s"},
	{"unknown agent state", "heartbeat idle", `"state":"idle"`, `"state":"busy"`, "heartbeat.state"},
	{"running without a job", "heartbeat running", `"state":"running","job_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02",`, `"state":"running",`, "heartbeat.job_id"},
	{"idle with a job", "heartbeat running", `"state":"running"`, `"state":"idle"`, "heartbeat.job_id"},
	{"running event without run", "running", `,"run_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, ``, "event.run_id"},
	{"finished without status", "finished", `,"status":"aborted"`, ``, "event.status"},
	{"unknown event state", "accepted", `"state":"accepted"`, `"state":"paused"`, "event.state"},
}

func TestDecodeFleetRefuses(t *testing.T) {
	valid := validFleet()
	for _, c := range fleetBad {
		b, err := schema.EncodeFleet(valid[c.from])
		if err != nil {
			t.Fatal(err)
		}
		bad := strings.Replace(string(b), c.old, c.new, 1)
		if bad == string(b) {
			t.Fatalf("%s: %q not found in %s", c.name, c.old, b)
		}
		_, err = schema.DecodeFleet([]byte(bad))
		var fe *schema.FieldError
		switch {
		case err == nil:
			t.Errorf("%s: DecodeFleet accepts %s", c.name, bad)
		case errors.As(err, &fe) && fe.Field != c.field:
			t.Errorf("%s: error names field %q (%v), want %q", c.name, fe.Field, err, c.field)
		case !errors.As(err, &fe) && !strings.Contains(err.Error(), c.field):
			t.Errorf("%s: error %v does not name %q", c.name, err, c.field)
		}
	}
}

// fleet.schema.json describes what DecodeFleet accepts: every valid Go message validates, and the messages
// DecodeFleet refuses fail it.
func TestFleetJSONSchemaMatchesDecoder(t *testing.T) {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.FleetJSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("fleet.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	sch, err := c.Compile("fleet.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}
	valid := validFleet()
	for name, m := range valid {
		b, _ := schema.EncodeFleet(m)
		if err := validate(b); err != nil {
			t.Errorf("%s: valid message fails the JSON Schema: %v\n%s", name, err, b)
		}
	}
	for _, c := range fleetBad {
		b, _ := schema.EncodeFleet(valid[c.from])
		bad := strings.Replace(string(b), c.old, c.new, 1)
		if c.name == "expires before created" {
			continue // an order between two fields: JSON Schema cannot say it (the description does)
		}
		if validate([]byte(bad)) == nil {
			t.Errorf("%s: the JSON Schema accepts %s", c.name, bad)
		}
	}
}

// The fleet's views are fast enough as plain views for a year of launches: 200 agents, 2,000 launches of 10 jobs
// (20,000 jobs, 60,000 job events, 20,000 runs), read the way the viewer and the launch action read them. Every
// answer is checked exactly; the times are logged (figures for the README); the bound is loose, for a loaded
// 2-core machine, but catches a plan costly enough to be JIT-compiled (seconds, as job_status's first form was).
func TestFleetViewsSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 100,000 rows")
	}
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// Job j (0..19999) is in launch j/10 on agent j%200; its run has ops_rate j%10 + 1, so every launch sums to 55.
	// The last launch's jobs are still running; every other job finished ok, but each launch's job 9, aborted.
	if _, err := conn.Exec(ctx, `
		INSERT INTO public.agents (name, host, version, tags, interval_s, state, first_seen, last_seen)
		SELECT 'pi-' || a, jsonb_build_object('hostname', 'pi-' || a), 'v1', jsonb_build_object('rack', (a % 4)::text),
		       CASE WHEN a % 2 = 0 THEN 60 ELSE 5 END, 'idle', now() - interval '1 day',
		       CASE WHEN a % 2 = 0 THEN now() ELSE now() - interval '1 minute' END
		FROM generate_series(0, 199) a;
		INSERT INTO public.jobs (id, group_id, agent, kind, spec, created_at, expires_at)
		SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(j), 12, '0'))::uuid, ('00000000-0000-0000-0002-' || lpad(to_hex(j / 10), 12, '0'))::uuid,
		       'pi-' || j % 200, 'mqtt', '{"duration": "60s"}', TIMESTAMPTZ '2026-01-01 00:00:00+00' + (j / 10) * interval '1 hour',
		       TIMESTAMPTZ '2026-01-01 00:10:00+00' + (j / 10) * interval '1 hour'
		FROM generate_series(0, 19999) j;
		INSERT INTO public.job_events (job_id, state, agent, at, run_id, status)
		SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(j), 12, '0'))::uuid, st, 'pi-' || j % 200,
		       TIMESTAMPTZ '2026-01-01 00:00:01+00' + (j / 10) * interval '1 hour' + o * interval '1 second',
		       CASE WHEN st = 'accepted' THEN NULL ELSE ('00000000-0000-0000-0003-' || lpad(to_hex(j), 12, '0'))::uuid END,
		       CASE WHEN st = 'finished' THEN CASE WHEN j % 10 = 9 THEN 'aborted' ELSE 'ok' END END
		FROM generate_series(0, 19999) j, unnest(ARRAY['accepted', 'running', 'finished']) WITH ORDINALITY AS s(st, o)
		WHERE st <> 'finished' OR j < 19990;
		INSERT INTO public.runs (run_id, kind, started_at, finished_at, status, ops_rate, job_id, group_id)
		SELECT ('00000000-0000-0000-0003-' || lpad(to_hex(j), 12, '0'))::uuid, 'mqtt',
		       TIMESTAMPTZ '2026-01-01 00:00:02+00' + (j / 10) * interval '1 hour', TIMESTAMPTZ '2026-01-01 00:01:02+00' + (j / 10) * interval '1 hour',
		       'ok', j % 10 + 1, ('00000000-0000-0000-0001-' || lpad(to_hex(j), 12, '0'))::uuid, ('00000000-0000-0000-0002-' || lpad(to_hex(j / 10), 12, '0'))::uuid
		FROM generate_series(0, 19999) j;
		ANALYZE public.agents; ANALYZE public.jobs; ANALYZE public.job_events; ANALYZE public.runs;`); err != nil {
		t.Fatal(err)
	}
	last := "00000000-0000-0000-0002-0000000007cf" // launch 1999
	for _, c := range []struct{ what, query, want string }{
		{"the launches page: newest 50 launches with totals",
			`SELECT count(*) || ' ' || sum(jobs) || ' ' || sum(running) || ' ' || sum(ok) || ' ' || sum(aborted) || ' ' || sum(runs) || ' ' || sum(ops_rate)
			 FROM (SELECT * FROM public.job_groups ORDER BY created_at DESC LIMIT 50) g`,
			"50 500 10 441 49 500 2750"},
		{"one launch's totals", `SELECT jobs || ' ' || running || ' ' || finished || ' ' || runs || ' ' || ops_rate FROM public.job_groups WHERE group_id = '` + last + `'`,
			"10 10 0 10 55"},
		{"one launch's jobs", `SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'running') FROM public.job_status WHERE group_id = '` + last + `'`,
			"10 10"},
		{"one job", `SELECT state || ' ' || status FROM public.job_status WHERE id = '00000000-0000-0000-0001-000000000009'`, "finished aborted"},
		{"an agent's last 20 jobs", `SELECT count(*) || ' ' || min(state) FROM (SELECT * FROM public.job_status WHERE agent = 'pi-7' ORDER BY created_at DESC LIMIT 20) j`,
			"20 finished"},
		{"agents", `SELECT count(*) || ' ' || count(*) FILTER (WHERE online) FROM public.agent_status`, "200 100"},
	} {
		start := time.Now()
		var got string
		if err := conn.QueryRow(ctx, c.query).Scan(&got); err != nil {
			t.Fatalf("%s: %v", c.what, err)
		}
		took := time.Since(start)
		t.Logf("%s: %v", c.what, took.Round(time.Millisecond))
		if got != c.want {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
		if took > 2*time.Second { // about 0.1 s here; a JIT-compiled plan took 3-10 s
			t.Errorf("%s took %v", c.what, took)
		}
	}
}
