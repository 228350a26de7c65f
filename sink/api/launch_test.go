package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/schema"
)

const mqttSpec = `{"broker": "tcp://perftarget:1883", "publishers": 2, "duration": "5s", "qos": 1}`

// TestLaunch: launchJobs by names, by tags and all produces exactly one job message per selected agent to
// fleet.jobs_topic, one group id per launch, the spec as the kind's decoder reads it, expires_at = created_at +
// expiry; and every refused launch produces nothing (the topic's messages are counted after each).
func TestLaunch(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			kc := kb.Start(t, map[string]int32{"benchpipe.jobs": 3})
			f := newFixture(t, kc.Brokers, kc.Topic("benchpipe.jobs"))
			f.agent("a1", map[string]string{"site": "lab", "arch": "arm64"}, true)
			f.agent("a2", map[string]string{"site": "lab"}, true)
			f.agent("a3", map[string]string{"site": "lab"}, false)
			f.agent("b1", map[string]string{"site": "office"}, true)
			testLaunch(t, f)
		})
	}
}

func testLaunch(t *testing.T, f *fixture) {
	want, err := mqttload.DecodeSpec([]byte(mqttSpec))
	if err != nil {
		t.Fatal(err)
	}
	wantJSON, _ := json.Marshal(want)
	wantSpec := string(wantJSON)
	var produced []schema.FleetMessage // every message the topic must hold so far, in launch order per agent
	launch := func(what string, sel map[string]any, agents []string, expiry time.Duration) {
		t.Helper()
		in := map[string]any{"kind": "mqtt", "spec": json.RawMessage(mqttSpec), "name": "night " + what, "run_tags": map[string]string{"ticket": "14"}}
		for k, v := range sel {
			in[k] = v
		}
		before := time.Now().UTC()
		status, out := f.action(testSecret, RoleOperator, "launchJobs", in)
		after := time.Now().UTC()
		if status != 200 {
			t.Fatalf("launch %s: %d %v", what, status, out)
		}
		b, _ := json.Marshal(out)
		var res LaunchResult
		if err := json.Unmarshal(b, &res); err != nil || res.GroupID == uuid.Nil || len(res.Jobs) != len(agents) {
			t.Fatalf("launch %s: answer %s (%v), want a group id and %d jobs", what, b, err, len(agents))
		}
		msgs := f.messages()
		if len(msgs) != len(produced)+len(agents) {
			t.Fatalf("launch %s: the topic holds %d messages, want %d", what, len(msgs), len(produced)+len(agents))
		}
		byID := map[uuid.UUID]schema.FleetMessage{}
		for _, m := range msgs {
			byID[m.Job.ID] = m
		}
		for i, j := range res.Jobs {
			if j.Agent != agents[i] {
				t.Errorf("launch %s: job %d for %s, want %s", what, i, j.Agent, agents[i])
			}
			m, ok := byID[j.JobID]
			if !ok {
				t.Fatalf("launch %s: job %s (%s) is not on the topic", what, j.JobID, j.Agent)
			}
			job := m.Job
			if m.Type != schema.FleetJob || job.GroupID != res.GroupID || job.Agent != j.Agent || job.Kind != "mqtt" ||
				string(job.Spec) != wantSpec || job.Name != "night "+what || fmt.Sprint(job.Tags) != "map[ticket:14]" {
				t.Errorf("launch %s: message %+v\nwant group %s, agent %s, spec %s", what, job, res.GroupID, j.Agent, wantSpec)
			}
			if job.CreatedAt.Before(before.Truncate(time.Microsecond)) || job.CreatedAt.After(after) || !job.ExpiresAt.Equal(job.CreatedAt.Add(expiry)) || !m.Time.Equal(job.CreatedAt) {
				t.Errorf("launch %s: created %s expires %s (sent %s), want created in [%s, %s] and expiring %s later",
					what, job.CreatedAt, job.ExpiresAt, m.Time, before, after, expiry)
			}
			produced = append(produced, m)
		}
	}
	refused := func(what, secret, role string, in map[string]any, status int, code, msg string) {
		t.Helper()
		got, out := f.action(secret, role, "launchJobs", in)
		if got != status || out["extensions"].(map[string]any)["code"] != code || !strings.Contains(fmt.Sprint(out["message"]), msg) {
			t.Errorf("%s: %d %v, want %d, code %s, a message with %q", what, got, out, status, code, msg)
		}
		if n := len(f.messages()); n != len(produced) {
			t.Errorf("%s: the topic holds %d messages, want %d: a refused launch produced", what, n, len(produced))
		}
	}
	sel := func(kv ...any) map[string]any {
		m := map[string]any{"kind": "mqtt", "spec": json.RawMessage(mqttSpec)}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	names := sel("agents", []string{"a1"})

	launch("by names", map[string]any{"agents": []string{"a3", "a1", "a1"}}, []string{"a1", "a3"}, 90*time.Second)
	launch("by tags", map[string]any{"tags": map[string]string{"site": "lab"}, "expires_in_s": 30}, []string{"a1", "a2"}, 30*time.Second)
	launch("all", map[string]any{"all": true}, []string{"a1", "a2", "b1"}, 90*time.Second)
	launch("by two tags", map[string]any{"tags": map[string]string{"site": "lab", "arch": "arm64"}, "all": false}, []string{"a1"}, 90*time.Second)

	for _, tc := range []struct {
		what, secret, role string
		in                 map[string]any
		status             int
		code, msg          string
	}{
		{"no action secret", "", RoleOperator, names, 401, codeUnauthorized, "missing or wrong X-Benchpipe-Action-Secret"},
		{"wrong action secret", testSecret + "x", RoleOperator, names, 401, codeUnauthorized, "missing or wrong"},
		{"action secret prefix", testSecret[:5], RoleOperator, names, 401, codeUnauthorized, "missing or wrong"},
		{"role anonymous", testSecret, RoleAnonymous, names, 403, codeForbidden, "launchJobs needs role operator (this request's role: anonymous)"},
		{"no role", testSecret, "", names, 403, codeForbidden, "this request's role: none"},
		{"admin role", testSecret, "admin", names, 403, codeForbidden, "this request's role: admin"},
		{"no selection", testSecret, RoleOperator, sel(), 400, codeInvalid, "exactly one of agents"},
		{"all false", testSecret, RoleOperator, sel("all", false), 400, codeInvalid, "exactly one of agents"},
		{"two selections", testSecret, RoleOperator, sel("agents", []string{"a1"}, "all", true), 400, codeInvalid, "exactly one of agents"},
		{"empty agents", testSecret, RoleOperator, sel("agents", []string{}), 400, codeInvalid, "no agent matches: agents is empty"},
		{"unknown agent", testSecret, RoleOperator, sel("agents", []string{"a1", "zz", "yy"}), 400, codeInvalid, "no agent matches yy, zz"},
		{"bad agent name", testSecret, RoleOperator, sel("agents", []string{"a b"}), 400, codeInvalid, `"a b" is not an agent name`},
		{"tags nobody has", testSecret, RoleOperator, sel("tags", map[string]string{"site": "moon"}), 400, codeInvalid, `no agent matches tags {"site":"moon"}`},
		{"tags only an offline agent has", testSecret, RoleOperator, sel("tags", map[string]string{"site": "lab", "arch": "x86"}), 400, codeInvalid, "no agent matches tags"},
		{"empty tags", testSecret, RoleOperator, sel("tags", map[string]string{}), 400, codeInvalid, "tags is empty"},
		{"tags not strings", testSecret, RoleOperator, sel("tags", map[string]int{"n": 1}), 400, codeInvalid, "tags must be a JSON object of strings"},
		{"unknown kind", testSecret, RoleOperator, map[string]any{"kind": "nats", "spec": map[string]any{}, "all": true}, 400, codeInvalid, `kind "nats" is not mqtt or pgbench`},
		{"spec not an object", testSecret, RoleOperator, map[string]any{"kind": "mqtt", "spec": "tcp://x", "all": true}, 400, codeInvalid, "spec must be a JSON object"},
		{"spec unknown field", testSecret, RoleOperator, map[string]any{"kind": "mqtt", "spec": map[string]any{"publisher": 2}, "all": true}, 400, codeInvalid, "publisher"},
		{"spec invalid", testSecret, RoleOperator, map[string]any{"kind": "mqtt", "spec": map[string]any{"qos": 3}, "all": true}, 400, codeInvalid, "--qos must be 0, 1 or 2"},
		{"spec password in the broker URL", testSecret, RoleOperator, map[string]any{"kind": "mqtt", "spec": map[string]any{"broker": "tcp://bench:Hunter2pw@perftarget:1883"}, "all": true}, 400, codeInvalid, "spec holds a secret (spec.broker holds a credential)"},
		{"spec password field", testSecret, RoleOperator, map[string]any{"kind": "mqtt", "spec": map[string]any{"password": "Hunter2pw"}, "all": true}, 400, codeInvalid, "spec holds a secret (spec.password)"},
		{"pgbench password in conninfo", testSecret, RoleOperator, map[string]any{"kind": "pgbench", "spec": map[string]any{"pgbench_args": []string{"-T", "5", "host=db password=Hunter2pw dbname=bench"}}, "all": true}, 400, codeInvalid, "spec holds a secret (spec.pgbench_args[2] holds a credential)"},
		{"pgbench init", testSecret, RoleOperator, map[string]any{"kind": "pgbench", "spec": map[string]any{"pgbench_args": []string{"-i"}}, "all": true}, 400, codeInvalid, "-i initialises"},
		{"run tag with a password", testSecret, RoleOperator, sel("all", true, "run_tags", map[string]string{"db": "postgres://u:Hunter2pw@db/x"}), 400, codeInvalid, "run_tags.db holds a secret"},
		{"name with a password", testSecret, RoleOperator, sel("all", true, "name", "host=db password=Hunter2pw"), 400, codeInvalid, "name holds a secret"},
		{"expiry zero", testSecret, RoleOperator, sel("all", true, "expires_in_s", 0), 400, codeInvalid, "expires_in_s 0 is not between 1 and 604800"},
		{"unknown argument", testSecret, RoleOperator, sel("all", true, "agent", "a1"), 400, codeInvalid, `input: unknown field "agent"`},
	} {
		refused(tc.what, tc.secret, tc.role, tc.in, tc.status, tc.code, tc.msg)
	}
	if strings.Contains(f.log.String(), "Hunter2pw") {
		t.Errorf("the log holds a refused spec's password:\n%s", f.log.String())
	}
}
