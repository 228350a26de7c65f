package agent_test

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/schema"
)

// TestJobsNotRun covers what an agent does with jobs it must not run, in one agent process: heartbeats from the
// start, a job seen after its expiry reported expired, a replayed job not handled again (also after a restart),
// another agent's job and a stop for an unknown job ignored, a spec the kind refuses rejected with the reason, and
// SIGTERM while idle exits 0.
func TestJobsNotRun(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			f := newFleet(t, kb, func(c *config.Config) { c.Producer.Tags = map[string]string{"site": "lab"} })
			a := f.start("a1")
			hs := f.waitHeartbeats("a1", 3, 30*time.Second)
			for _, h := range hs[:3] {
				if h.State != schema.AgentIdle || h.JobID != nil || h.IntervalS != 0.3 || h.Host.Hostname == "" ||
					!reflect.DeepEqual(h.Tags, map[string]string{"site": "lab"}) || !h.UpSince.Equal(hs[0].UpSince) {
					t.Errorf("heartbeat %+v: want idle, interval 0.3, host facts, tags site=lab, one up_since", h)
				}
			}

			group := uuid.Must(uuid.NewV7())
			expired := job("a1", schema.KindMQTT, group, `{"embedded_target": true}`)
			expired.CreatedAt = time.Now().Add(-2 * time.Minute).UTC()
			expired.ExpiresAt = time.Now().Add(-time.Minute).UTC()
			other := job("zz", schema.KindMQTT, group, `{"embedded_target": true}`)
			badSpec := job("a1", schema.KindMQTT, group, `{"no_such_field": 1}`)
			f.send(jobMsg(expired), jobMsg(other), stopMsg("a1", uuid.Must(uuid.NewV7())), jobMsg(badSpec), jobMsg(expired))
			f.waitEvent(expired.ID, schema.JobExpired, 30*time.Second)
			evs := f.waitEvent(badSpec.ID, schema.JobRejected, 30*time.Second)
			if len(evs) != 1 || evs[0].Reason != `mqtt spec: json: unknown field "no_such_field"` {
				t.Errorf("bad spec: events %q, want one rejected with the spec's error", states(evs))
			}
			if code := a.stop(t); code != 0 {
				t.Fatalf("SIGTERM while idle: exit %d, want 0", code)
			}
			if !strings.Contains(a.stderr.String(), "stop ignored: not the running job") {
				t.Errorf("the stop for an unknown job was not logged as ignored:\n%s", a.stderr.String())
			}

			// The restarted agent reads the topic again (its offsets are committed, but it must not rely on that):
			// the replayed expired job is still reported exactly once.
			b := f.restart(a)
			f.send(jobMsg(expired))
			n := len(f.events.heartbeats("a1"))
			hs = f.waitHeartbeats("a1", n+3, 30*time.Second)
			if last := hs[len(hs)-1]; last.UpSince.Equal(hs[0].UpSince) {
				t.Errorf("the restarted agent's up_since %v is the first process's", last.UpSince)
			}
			if code := b.stop(t); code != 0 {
				t.Fatalf("second SIGTERM: exit %d", code)
			}
			if got := states(f.events.jobEvents(expired.ID)); len(got) != 1 || !strings.HasPrefix(got[0], "expired: seen at ") {
				t.Errorf("expired job, sent three times over a restart: events %q, want exactly one expired", got)
			}
			if got := f.events.jobEvents(other.ID); len(got) != 0 {
				t.Errorf("another agent's job: events %q, want none", states(got))
			}
		})
	}
}

// Two devices whose agents have one name (left at the same host name): the group's static member id is the name,
// so the second agent's join fences the first out. The first stops with exit status 3 and says why; the second
// takes the jobs alone, each exactly once.
func TestDuplicateNameStopsTheFencedAgent(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			f := newFleet(t, kb, nil)
			group := uuid.Must(uuid.NewV7())
			expiredJob := func() schema.Job {
				j := job("pi", schema.KindMQTT, group, `{"embedded_target": true}`)
				j.CreatedAt, j.ExpiresAt = time.Now().Add(-2*time.Minute).UTC(), time.Now().Add(-time.Minute).UTC()
				return j
			}
			// The first agent has joined the jobs group once it has consumed a job (an expired one: reported at once).
			first := f.start("pi")
			j1 := expiredJob()
			f.send(jobMsg(j1))
			f.waitEvent(j1.ID, schema.JobExpired, 30*time.Second)
			f.waitCommitted(agent.GroupName("pi"), 1) // else the second agent reads j1 again: its memory is its own

			second := f.startWith(&agentProc{name: "pi", cfg: f.cfgFile, spool: filepath.Join(f.dir, "spool-pi-2")})
			select {
			case <-first.done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the first agent still runs 60 s after a second one took its name:\n%s", first.stderr.String())
			}
			want := `another agent named "pi" joined the jobs group ` + agent.GroupName("pi") + " and Kafka fenced this one out"
			if first.code != agent.ExitNameTaken || !strings.Contains(first.stderr.String(), want) {
				t.Errorf("first agent: exit %d, want %d, and a log saying %q:\n%s", first.code, agent.ExitNameTaken, want, first.stderr.String())
			}

			// The second serves alone: a new job is handled once, by it.
			j2 := expiredJob()
			f.send(jobMsg(j2))
			f.waitEvent(j2.ID, schema.JobExpired, 30*time.Second)
			if code := second.stop(t); code != agent.ExitOK {
				t.Errorf("second agent: exit %d after SIGTERM, want 0:\n%s", code, second.stderr.String())
			}
			for _, j := range []schema.Job{j1, j2} {
				if got := states(f.events.jobEvents(j.ID)); len(got) != 1 || !strings.HasPrefix(got[0], "expired: ") {
					t.Errorf("job %s: events %q, want exactly one expired", j.ID, got)
				}
			}
		})
	}
}

// A full disk under the job memory: once bbolt must grow agent.db and cannot, the agent cannot remember a job, so it
// must neither run it (at most once needs the memory) nor drop it. It stops with the cause, that job's offset
// uncommitted; started again with space, it takes up where it stopped. The memory is on a small tmpfs
// (fleet.state_dir), the spool elsewhere. The jobs are expired ones (each settled with one note and one event), many
// enough that agent.db must grow; every one is reported exactly once.
func TestFullDiskStopsAgentAndKeepsTheJobs(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			state := testenv.Tmpfs(t, "512k")
			f := newFleet(t, kb, func(c *config.Config) { c.Fleet.StateDir = state })
			a := f.start("a1")
			f.waitHeartbeats("a1", 2, 30*time.Second)

			filler := filepath.Join(state, "filler")
			fill, err := os.Create(filler)
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 4096)
			for {
				if _, err := fill.Write(chunk); err != nil {
					if !errors.Is(err, syscall.ENOSPC) {
						t.Fatalf("filling the tmpfs: %v", err)
					}
					break
				}
			}
			fill.Close()

			group := uuid.Must(uuid.NewV7())
			var jobs []schema.Job
			var msgs []schema.FleetMessage
			for range 1000 {
				j := job("a1", schema.KindMQTT, group, `{"embedded_target": true}`)
				j.CreatedAt, j.ExpiresAt = time.Now().Add(-2*time.Minute).UTC(), time.Now().Add(-time.Minute).UTC()
				jobs, msgs = append(jobs, j), append(msgs, jobMsg(j))
			}
			f.send(msgs...)
			select {
			case <-a.done:
			case <-time.After(60 * time.Second):
				t.Fatalf("the agent still runs 60 s after its job memory filled up:\n%s", a.stderr.String())
			}
			out := a.stderr.String()
			if a.code != agent.ExitFailed || !strings.Contains(out, "no space left on device") || !strings.Contains(out, "the job is read again when the agent starts") {
				t.Fatalf("agent with a full disk: exit %d, want %d and the cause:\n%s", a.code, agent.ExitFailed, out)
			}
			reported := 0
			for _, j := range jobs {
				reported += len(f.events.jobEvents(j.ID))
			}
			if reported == 0 || reported == len(jobs) {
				t.Fatalf("%d of %d jobs reported before the disk was full: the test did not fill agent.db's disk mid-way", reported, len(jobs))
			}

			if err := os.Remove(filler); err != nil {
				t.Fatal(err)
			}
			b := f.restart(a)
			f.waitEvent(jobs[len(jobs)-1].ID, schema.JobExpired, 60*time.Second)
			if code := b.stop(t); code != agent.ExitOK {
				t.Errorf("restarted agent: exit %d after SIGTERM:\n%s", code, b.stderr.String())
			}
			for i, j := range jobs {
				if got := states(f.events.jobEvents(j.ID)); len(got) != 1 || !strings.HasPrefix(got[0], "expired: ") {
					t.Errorf("job %d of %d: events %q, want exactly one expired (%d reported before the restart)", i+1, len(jobs), got, reported)
				}
			}
		})
	}
}
