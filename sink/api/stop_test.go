package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestStop: stopJobs by group sends job_stop to the group's unfinished jobs only (launched, accepted, running),
// by job to that job; a job that ended, an unknown id, both or neither id, or a non-operator produce nothing.
// The jobs' rows are what the sink writes from job messages and job events (migration 0007).
func TestStop(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			kc := kb.Start(t, map[string]int32{"benchpipe.jobs": 2})
			testStop(t, newFixture(t, kc.Brokers, kc.Topic("benchpipe.jobs")))
		})
	}
}

func testStop(t *testing.T, f *fixture) {
	group := uuid.New()
	now := time.Now()
	// One job per state, each on its own agent; the expired one was never accepted and is past its expiry.
	states := []struct{ agent, state string }{
		{"a-launched", ""}, {"b-accepted", "accepted"}, {"c-running", "running"}, {"d-finished", "finished"},
		{"e-rejected", "rejected"}, {"f-expired", "expired"},
	}
	ids := map[string]uuid.UUID{}
	for _, s := range states {
		id := uuid.New()
		ids[s.agent] = id
		f.exec(`INSERT INTO jobs (id, group_id, agent, kind, spec, name, tags, created_at, expires_at)
			VALUES ($1, $2, $3, 'mqtt', $4, 'stop test', '{}', $5, $6)`, id, group, s.agent, mqttSpec, now.Add(-time.Minute), now.Add(time.Minute))
		var events []string
		switch s.state {
		case "accepted":
			events = []string{"accepted"}
		case "running":
			events = []string{"accepted", "running"}
		case "finished":
			events = []string{"accepted", "running", "finished"}
		case "rejected", "expired":
			events = []string{s.state}
		}
		for i, e := range events {
			var run any
			var status any
			if e == "running" || e == "finished" {
				run = uuid.New()
			}
			if e == "finished" {
				status = "ok"
			}
			f.exec(`INSERT INTO job_events (job_id, state, agent, at, run_id, status, reason) VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
				id, e, s.agent, now.Add(time.Duration(i-10)*time.Second), run, status)
		}
	}
	stopped := 0
	var sentSoFar []string // the agents of every job_stop sent so far
	stop := func(what string, in map[string]any, want ...string) {
		t.Helper()
		status, out := f.action(testSecret, RoleOperator, "stopJobs", in)
		if status != 200 {
			t.Fatalf("stop %s: %d %v", what, status, out)
		}
		b, _ := json.Marshal(out)
		var res StopResult
		if err := json.Unmarshal(b, &res); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range res.Jobs {
			if ids[j.Agent] != j.JobID {
				t.Errorf("stop %s: job %s for %s, want %s", what, j.JobID, j.Agent, ids[j.Agent])
			}
			got = append(got, j.Agent)
		}
		if !slices.Equal(got, want) {
			t.Errorf("stop %s: stopped %v, want %v", what, got, want)
		}
		msgs := f.messages()
		if len(msgs) != stopped+len(want) {
			t.Fatalf("stop %s: the topic holds %d messages, want %d", what, len(msgs), stopped+len(want))
		}
		// The jobs topic has several partitions (messages keyed by agent), and records of different partitions come
		// back in no set order: the topic's job_stops are compared as a whole with every stop sent so far, not by
		// position (by position, the test failed when an earlier stop's record came back after a later one's).
		var sent []string
		for _, m := range msgs {
			if m.Type != schema.FleetJobStop || m.Stop == nil || m.Stop.JobID != ids[m.Stop.Agent] {
				t.Errorf("stop %s: message %+v", what, m)
				continue
			}
			sent = append(sent, m.Stop.Agent)
		}
		sentSoFar = append(sentSoFar, want...)
		slices.Sort(sent)
		if w := slices.Sorted(slices.Values(sentSoFar)); !slices.Equal(sent, w) {
			t.Errorf("stop %s: the topic holds job_stop for %v, want %v", what, sent, w)
		}
		stopped += len(want)
	}
	refused := func(what, role string, in map[string]any, status int, msg string) {
		t.Helper()
		got, out := f.action(testSecret, role, "stopJobs", in)
		if got != status || !strings.Contains(fmt.Sprint(out["message"]), msg) {
			t.Errorf("stop %s: %d %v, want %d and a message with %q", what, got, out, status, msg)
		}
		if n := len(f.messages()); n != stopped {
			t.Errorf("stop %s: the topic holds %d messages, want %d", what, n, stopped)
		}
	}

	refused("as anonymous", RoleAnonymous, map[string]any{"group_id": group}, 403, "stopJobs needs role operator")
	refused("neither id", RoleOperator, map[string]any{}, 400, "exactly one of job_id or group_id")
	refused("both ids", RoleOperator, map[string]any{"group_id": group, "job_id": ids["c-running"]}, 400, "exactly one of job_id or group_id")
	refused("unknown group", RoleOperator, map[string]any{"group_id": uuid.Nil}, 400, "no group 00000000-0000-0000-0000-000000000000")
	refused("not a uuid", RoleOperator, map[string]any{"job_id": "x"}, 400, "input: invalid UUID length: 1")
	refused("finished job", RoleOperator, map[string]any{"job_id": ids["d-finished"]}, 400, "has already ended (finished)")
	refused("expired job", RoleOperator, map[string]any{"job_id": ids["f-expired"]}, 400, "has already ended (expired)")

	stop("one running job", map[string]any{"job_id": ids["c-running"]}, "c-running")
	stop("the group", map[string]any{"group_id": group}, "a-launched", "b-accepted", "c-running")

	// Once every job has ended, a stop of the group says so and sends nothing.
	f.exec(`INSERT INTO job_events (job_id, state, agent, at, status) SELECT id, 'finished', agent, now(), 'aborted' FROM jobs WHERE agent IN ('a-launched', 'b-accepted', 'c-running')`)
	refused("an ended group", RoleOperator, map[string]any{"group_id": group}, 400, "every job of group "+group.String()+" has already ended")
}
