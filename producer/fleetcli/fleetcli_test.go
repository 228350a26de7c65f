package fleetcli

// `producer launch` and `producer jobs` against the operator API as deployed: the Hasura stand-in
// (internal/hasurastub, since Hasura cannot run here) with the repository's metadata, its auth webhook and actions
// pointing at the real `sink api` handler (sink/api) over a migrated PostgreSQL and Kafka (testenv.KafkaBackends).
// The jobs' and job events' rows the sink would write from the fleet topics are inserted by the test.

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/api"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	token  = "op-token-launch-7c1d"
	secret = "action-secret-launch-2e9f"
)

type env struct {
	t          *testing.T
	db         *testenv.Deployment
	brokers    []string
	topic      string
	configFile string
	stub       *hasurastub.Server
}

func newEnv(t *testing.T, kb testenv.KafkaBackend) *env {
	t.Helper()
	kc := kb.Start(t, map[string]int32{"benchpipe.jobs": 1})
	e := &env{t: t, db: testenv.Deployed(t), brokers: kc.Brokers, topic: kc.Topic("benchpipe.jobs")}
	cfg := config.Default()
	cfg.Kafka.Brokers = e.brokers
	cfg.Sink.DatabaseURL = e.db.OwnerURL
	cfg.Fleet.JobsTopic = e.topic
	ctx := context.Background()
	if err := ingest.Migrate(ctx, &cfg, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	cfg.Sink.DatabaseURL = e.db.GrafanaURL // sink api's read-only role, as deployed
	a, err := api.New(ctx, &cfg, api.WithOperatorToken(token), api.WithActionSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	apiSrv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { apiSrv.Close(); a.Close() })

	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	e.stub = hasurastub.New(t, e.db.HasuraURL, md, hasurastub.WithAuthHook(apiSrv.URL+"/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": apiSrv.URL, "BENCHPIPE_ACTION_SECRET": secret}))
	if bad := e.stub.InconsistentObjects(); len(bad) > 0 {
		t.Fatalf("metadata: %v", bad)
	}
	e.configFile = filepath.Join(t.TempDir(), "benchpipe.yaml")
	if err := os.WriteFile(e.configFile, []byte("graphql:\n  url: "+e.stub.URL+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, a := range []struct{ name, tags string }{{"pi-1", `{"site":"lab"}`}, {"pi-2", `{"site":"lab"}`}, {"pi-3", `{"site":"office"}`}} {
		e.exec(`INSERT INTO agents (name, host, version, tags, interval_s, state, up_since, first_seen, last_seen)
			VALUES ($1, '{}', 'test', $2, 5, 'idle', $3, $3, $3)`, a.name, a.tags, now)
	}
	t.Setenv(EnvOperatorToken, token)
	pollInterval = 20 * time.Millisecond
	return e
}

func (e *env) exec(sql string, args ...any) {
	e.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.db.OwnerURL)
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

// messages returns the jobs topic's messages.
func (e *env) messages() []schema.FleetMessage {
	e.t.Helper()
	var out []schema.FleetMessage
	for _, r := range testenv.ConsumeAll(e.t, e.brokers, e.topic) {
		m, err := schema.DecodeFleet(r.Value)
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

// store writes the job messages as the sink does (jobs rows).
func (e *env) store(msgs []schema.FleetMessage) {
	e.t.Helper()
	for _, m := range msgs {
		if m.Job == nil {
			continue
		}
		j := m.Job
		tags, _ := json.Marshal(j.Tags)
		e.exec(`INSERT INTO jobs (id, group_id, agent, kind, spec, name, tags, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9) ON CONFLICT DO NOTHING`,
			j.ID, j.GroupID, j.Agent, j.Kind, string(j.Spec), j.Name, string(tags), j.CreatedAt, j.ExpiresAt)
	}
}

// event writes a job event as the sink does from an agent's job_event.
func (e *env) event(job, state, agent string, runID, status, reason any) {
	e.t.Helper()
	e.exec(`INSERT INTO job_events (job_id, state, agent, at, run_id, status, reason) VALUES ($1, $2, $3, now(), $4, $5, $6)`,
		job, state, agent, runID, status, reason)
}

type result struct {
	code           int
	stdout, stderr string
}

func (e *env) run(cmd func(context.Context, []string, io.Writer, io.Writer) int, args ...string) result {
	e.t.Helper()
	var out, errb strings.Builder
	code := cmd(context.Background(), append([]string{"--config", e.configFile}, args...), &out, &errb)
	r := result{code, out.String(), errb.String()}
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, token) || strings.Contains(s, secret) {
			e.t.Errorf("output holds a secret:\n%s", s)
		}
	}
	return r
}

var launchOut = regexp.MustCompile(`^group ([0-9a-f-]{36})\n((?:  \S+\s+job [0-9a-f-]{36}\n)+)$`)

// launched parses launch's output: the group id and agent → job id.
func launched(t *testing.T, stdout string) (string, map[string]string) {
	t.Helper()
	m := launchOut.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("launch output:\n%s", stdout)
	}
	jobs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(m[2]), "\n") {
		f := strings.Fields(line)
		jobs[f[0]] = f[2]
	}
	return m[1], jobs
}

func TestLaunchAndJobs(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testLaunchAndJobs(t, newEnv(t, kb)) })
	}
}

func testLaunchAndJobs(t *testing.T, e *env) {
	mqttArgs := []string{"--broker", "tcp://perftarget:1883", "--publishers", "2", "--duration", "5s", "--qos", "1"}

	// By tag: one job per online lab agent, one group, the spec as producer mqtt's parser reads the flags.
	r := e.run(RunLaunch, append([]string{"--tag", "site=lab", "--name", "night", "--run-tag", "ticket=14", "--expires", "90s", "mqtt"}, mqttArgs...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("launch: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	group, jobs := launched(t, r.stdout)
	if len(jobs) != 2 || jobs["pi-1"] == "" || jobs["pi-2"] == "" {
		t.Fatalf("launched %v, want pi-1 and pi-2", jobs)
	}
	want, _, err := mqttload.ParseSpec(mqttArgs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages on the jobs topic, want 2", len(msgs))
	}
	for _, m := range msgs {
		j := m.Job
		got, err := mqttload.DecodeSpec(j.Spec)
		if err != nil || m.Type != schema.FleetJob || j.GroupID.String() != group || jobs[j.Agent] != j.ID.String() ||
			j.Kind != "mqtt" || j.Name != "night" || !reflect.DeepEqual(j.Tags, map[string]string{"ticket": "14"}) ||
			j.ExpiresAt.Sub(j.CreatedAt) != 90*time.Second || !reflect.DeepEqual(got, want) {
			t.Errorf("job message %+v (spec %s, %v)", j, j.Spec, err)
		}
	}
	e.store(msgs)

	// pgbench: producer flags, then pgbench's after "--"; an offline-or-not agent named explicitly gets its job.
	pgArgs := []string{"--warmup", "2s", "--", "-c", "4", "-T", "10", "bench"}
	r = e.run(RunLaunch, append([]string{"--agent", "pi-3", "pgbench"}, pgArgs...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("launch pgbench: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	pgGroup, pgJobs := launched(t, r.stdout)
	wantPG, _, err := pgbench.ParseSpec(pgArgs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	wantPGJSON, err := json.Marshal(wantPG)
	if err != nil {
		t.Fatal(err)
	}
	all := e.messages()
	if len(all) != 3 {
		t.Fatalf("%d messages on the jobs topic, want 3", len(all))
	}
	if j := all[2].Job; j == nil || j.Kind != "pgbench" || j.Agent != "pi-3" || j.ID.String() != pgJobs["pi-3"] || j.GroupID.String() != pgGroup ||
		string(j.Spec) != string(wantPGJSON) || j.ExpiresAt.Sub(j.CreatedAt) != 10*time.Minute {
		t.Errorf("pgbench job %+v, spec %s want %s", j, j.Spec, wantPGJSON)
	}

	// Refusals on the operator's machine: nothing reaches the API, nothing is produced.
	for _, c := range []struct {
		args   []string
		stderr string
	}{
		{append([]string{"--all", "mqtt"}, "--qos", "3"), "producer launch … mqtt: "},
		{[]string{"--all", "mqtt", "--broker", "tcp://user:hunter2@perftarget:1883"}, "producer launch … mqtt: "},
		{[]string{"--all", "mqtt", "--summary-json", "x.json"}, "producer launch: --summary-json is a flag of a local run, not of a job: the agent uses its own configuration\n"},
		{[]string{"--all", "--tag", "site=lab", "mqtt"}, "producer launch: choose the agents with exactly one of --agent, --tag and --all\n"},
		{[]string{"--all", "iperf"}, "producer launch: unknown job kind \"iperf\": mqtt or pgbench\n"},
		{[]string{"--all", "pgbench", "--", "-c", "2", "host=db password=hunter2"}, "producer launch … pgbench: "},
		{[]string{"--all", "pgbench", "--pgbench", "/opt/pg/bin/pgbench"}, "producer launch: --pgbench is a flag of a local run"},
	} {
		r := e.run(RunLaunch, c.args...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, c.stderr) || strings.Count(r.stderr, "\n") != 2 || strings.Contains(r.stderr, "hunter2") {
			t.Errorf("launch %q: exit %d\nstdout %q\nstderr %q", c.args, r.code, r.stdout, r.stderr)
		}
	}
	// The kind's own parser gives the kind's own message.
	var direct strings.Builder
	mqttload.Run(context.Background(), []string{"--qos", "3"}, io.Discard, &direct)
	firstLine := func(s string) string { return strings.SplitN(strings.SplitN(s, "\n", 2)[0], ": ", 2)[1] }
	if r := e.run(RunLaunch, "--all", "mqtt", "--qos", "3"); firstLine(r.stderr) != firstLine(direct.String()) {
		t.Errorf("launch --qos 3 says %q, producer mqtt says %q", r.stderr, direct.String())
	}

	// Without the token, or with a wrong one: refused, with the variable named.
	t.Setenv(EnvOperatorToken, "")
	r = e.run(RunLaunch, "--all", "mqtt")
	if r.code != 2 || r.stderr != "producer launch: "+errNoToken.Error()+"\n" {
		t.Errorf("launch without token: exit %d %q", r.code, r.stderr)
	}
	t.Setenv(EnvOperatorToken, "not-the-token")
	r = e.run(RunLaunch, "--all", "mqtt")
	if r.code != 1 || !strings.Contains(r.stderr, "refused the operator token (Authentication hook unauthorized this request): check BENCHPIPE_OPERATOR_TOKEN") {
		t.Errorf("launch with a wrong token: exit %d %q", r.code, r.stderr)
	}
	t.Setenv(EnvOperatorToken, token)
	// A selection the API refuses: its message.
	r = e.run(RunLaunch, "--tag", "site=mars", "mqtt")
	if r.code != 1 || !strings.HasPrefix(r.stderr, "producer launch: launch: no agent matches") {
		t.Errorf("launch on no agent: exit %d %q", r.code, r.stderr)
	}
	if n := len(e.messages()); n != 3 {
		t.Fatalf("%d messages after the refused launches, want still 3", n)
	}

	// producer jobs lists the group's jobs with their states, as the agents reported them.
	run1 := "0190c000-0000-7000-8000-000000000001"
	e.event(jobs["pi-1"], "accepted", "pi-1", nil, nil, nil)
	e.event(jobs["pi-1"], "running", "pi-1", run1, nil, nil)
	e.event(jobs["pi-2"], "rejected", "pi-2", nil, nil, "busy: running job 0190c000-0000-7000-8000-0000000000ff")
	r = e.run(RunJobs, "--group", group)
	ids := []string{jobs["pi-1"], jobs["pi-2"]}
	sort.Strings(ids)
	lines := map[string]string{
		jobs["pi-1"]: jobs["pi-1"] + "  pi-1   mqtt  running   " + run1 + "  -",
		jobs["pi-2"]: jobs["pi-2"] + "  pi-2   mqtt  rejected  -                                     busy: running job 0190c000-0000-7000-8000-0000000000ff",
	}
	wantList := "JOB                                   AGENT  KIND  STATE     RUN                                   REASON\n" + lines[ids[0]] + "\n" + lines[ids[1]] + "\n"
	if r.code != 0 || r.stdout != wantList {
		t.Errorf("jobs --group: exit %d %s\n got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, wantList)
	}
	if r := e.run(RunJobs, "--agent", "pi-3"); r.code != 0 || r.stdout != "no jobs\n" {
		t.Errorf("jobs --agent pi-3: exit %d %q", r.code, r.stdout)
	}

	// producer jobs stop: the group's running job gets a stop; the rejected one none.
	r = e.run(RunJobs, "stop", "--group", group)
	if r.code != 0 || r.stdout != "stop requested  pi-1  job "+jobs["pi-1"]+"\n" {
		t.Errorf("jobs stop --group: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	msgs = e.messages()
	if len(msgs) != 4 || msgs[3].Type != schema.FleetJobStop || msgs[3].Stop.JobID.String() != jobs["pi-1"] || msgs[3].Stop.Agent != "pi-1" {
		t.Fatalf("after stop: %d messages, last %+v", len(msgs), msgs[len(msgs)-1])
	}
	r = e.run(RunJobs, "stop", jobs["pi-2"])
	if r.code != 1 || !strings.Contains(r.stderr, "nothing to stop: job "+jobs["pi-2"]+" has already ended (rejected)") {
		t.Errorf("stop a rejected job: exit %d %q", r.code, r.stderr)
	}
	t.Setenv(EnvOperatorToken, "")
	if r := e.run(RunJobs, "stop", jobs["pi-1"]); r.code != 2 || r.stderr != "producer jobs stop: "+errNoToken.Error()+"\n" {
		t.Errorf("stop without token: exit %d %q", r.code, r.stderr)
	}
	// Listing is a read: anonymous may.
	if r := e.run(RunJobs, "--group", group); r.code != 0 || r.stdout != wantList {
		t.Errorf("jobs without token: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	t.Setenv(EnvOperatorToken, token)
	if n := len(e.messages()); n != 4 {
		t.Errorf("%d messages at the end, want 4", n)
	}
}

// --wait follows the group until every job ended; exit 0 only when all finished ok.
func TestLaunchWait(t *testing.T) {
	e := newEnv(t, testenv.KafkaBackends(t)[0])
	for _, c := range []struct {
		name   string
		status [2]string
		code   int
		last   string
	}{
		{"all ok", [2]string{"ok", "ok"}, 0, "2 of 2 jobs finished ok"},
		{"one aborted", [2]string{"ok", "aborted"}, 1, "1 of 2 jobs finished ok"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := &testenv.Buffer{}
			var errb strings.Builder
			done := make(chan int, 1)
			before := len(e.messages())
			go func() {
				done <- RunLaunch(context.Background(), []string{"--config", e.configFile, "--agent", "pi-1", "--agent", "pi-2", "--wait", "mqtt"}, out, &errb)
			}()
			waitFor := func(s string) {
				t.Helper()
				deadline := time.Now().Add(10 * time.Second)
				for !strings.Contains(out.String(), s) {
					if time.Now().After(deadline) {
						t.Fatalf("waiting for %q; output:\n%s%s", s, out.String(), errb.String())
					}
					time.Sleep(10 * time.Millisecond)
				}
			}
			waitFor("  pi-2")
			group, jobs := launched(t, out.String())
			msgs := e.messages()[before:]
			if len(msgs) != 2 {
				t.Fatalf("%d new job messages, want 2", len(msgs))
			}
			e.store(msgs)
			runs := [2]string{"0190c000-0000-7000-8000-0000000000a1", "0190c000-0000-7000-8000-0000000000a2"}
			if c.code != 0 {
				runs = [2]string{"0190c000-0000-7000-8000-0000000000b1", "0190c000-0000-7000-8000-0000000000b2"}
			}
			for i, agent := range []string{"pi-1", "pi-2"} {
				e.event(jobs[agent], "running", agent, runs[i], nil, nil)
				waitFor(agent + "  " + jobs[agent] + "  running run " + runs[i] + "\n")
			}
			for i, agent := range []string{"pi-1", "pi-2"} {
				e.event(jobs[agent], "finished", agent, runs[i], c.status[i], nil)
			}
			select {
			case code := <-done:
				wantTail := "pi-1  " + jobs["pi-1"] + "  finished " + c.status[0] + "\n"
				if code != c.code || !strings.Contains(out.String(), wantTail) || !strings.HasSuffix(out.String(), "group "+group+": "+c.last+"\n") || errb.String() != "" {
					t.Errorf("exit %d, want %d; output:\n%s%s", code, c.code, out.String(), errb.String())
				}
				if n := strings.Count(out.String(), "\n"); n != 3+2*2+1 {
					t.Errorf("%d lines, want 8 (group, 2 jobs, 2 states each, the total):\n%s", n, out.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("launch --wait did not end; output:\n%s", out.String())
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []struct {
		cmd  func(context.Context, []string, io.Writer, io.Writer) int
		args []string
		want string
	}{
		{RunLaunch, []string{"--help"}, "producer launch (--agent NAME ... | --tag k=v ... | --all) [flags] mqtt"},
		{RunJobs, []string{"--help"}, "producer jobs stop JOB_ID"},
		{RunJobs, []string{"stop", "--help"}, "--group"},
		{RunLaunch, []string{"--all", "mqtt", "--help"}, "--publishers"},
	} {
		var out, errb strings.Builder
		if code := c.cmd(context.Background(), c.args, &out, &errb); code != 0 || !strings.Contains(out.String(), c.want) || errb.String() != "" {
			t.Errorf("%q: exit %d, stdout lacks %q:\n%s%s", c.args, code, c.want, out.String(), errb.String())
		}
	}
}
