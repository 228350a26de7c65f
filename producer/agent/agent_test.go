package agent_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
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
