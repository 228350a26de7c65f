package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestFleetOperator is issue 14 item 7 driven as an operator drives it, with the built binaries: `sink topics
// apply`, `sink migrate`, `sink run` and `sink api` (its token and action secret in its environment only) over an
// as-deployed PostgreSQL (the sink as the database's owner, the GraphQL endpoint as Hasura's role), three `producer
// agent` services (heartbeat 300 ms; lab-1 and lab-2 share site=lab), and the operator's `producer launch` and
// `producer jobs` against the GraphQL endpoint. Hasura cannot run here (it ships as a Docker image), so
// internal/hasurastub stands in for it, in process, with the repository's metadata and actions, in webhook mode
// against sink api. Kafka is each of testenv.KafkaBackends. Every count is exact.
func TestFleetOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the producer and sink binaries and runs a fleet; skipped with -short")
	}
	bins := buildFleetBins(t)
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testFleetOperator(t, kb, bins) })
	}
}

// launchOutput is `producer launch`'s output: the group, then one line per job.
var launchOutput = regexp.MustCompile(`^group ([0-9a-f-]{36})\n((?:  \S+\s+job [0-9a-f-]{36}\n)+)`)

// launched parses launch's output into the group id and agent → job id.
func launched(t *testing.T, stdout string) (string, map[string]string) {
	t.Helper()
	m := launchOutput.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("launch output is not a group and its jobs:\n%s", stdout)
	}
	jobs := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(m[2]), "\n") {
		f := strings.Fields(line)
		jobs[f[0]] = f[2]
	}
	return m[1], jobs
}

// oneLine reports whether s is exactly one line.
func oneLine(s string) bool { return strings.Count(s, "\n") == 1 && strings.HasSuffix(s, "\n") }

func testFleetOperator(t *testing.T, kb testenv.KafkaBackend, bins fleetBins) {
	began := time.Now()
	lab1 := &fleetAgent{name: "lab-1", tags: map[string]string{"site": "lab", "rack": "1"}}
	lab2 := &fleetAgent{name: "lab-2", tags: map[string]string{"site": "lab", "rack": "2"}}
	edge := &fleetAgent{name: "edge-1", tags: map[string]string{"site": "edge"}}
	w := newFleetWorld(t, kb, bins, []*fleetAgent{lab1, lab2, edge})
	t.Logf("deployment up, three agents online: %v", time.Since(began).Round(time.Millisecond))
	ctx := context.Background()
	mqtt := func(d string) []string {
		return []string{"mqtt", "--embedded-target", "--rate", "200", "--duration", d}
	}
	var allJobs []string // every job launched: each must have run exactly once

	// 1. A launch by tag: one job on each lab agent, in one group; both runs land with the group and their job,
	// ok; edge-1 gets nothing.
	code, out, errOut := w.operator(w.token, append([]string{"launch", "--tag", "site=lab", "--name", "fleet e2e"}, mqtt("3s")...)...)
	if code != 0 || errOut != "" {
		t.Fatalf("launch --tag site=lab: exit %d\n%s%s", code, out, errOut)
	}
	group, jobs := launched(t, out)
	if len(jobs) != 2 || jobs["lab-1"] == "" || jobs["lab-2"] == "" {
		t.Fatalf("launch --tag site=lab launched %v, want one job on lab-1 and one on lab-2", jobs)
	}
	allJobs = append(allJobs, jobs["lab-1"], jobs["lab-2"])
	w.waitCount(90*time.Second, 2, `SELECT count(*) FROM job_status WHERE group_id = $1 AND state = 'finished' AND status = 'ok'`, group)
	w.waitCount(30*time.Second, 2, `SELECT count(*) FROM runs WHERE group_id = $1 AND job_id = ANY($2::uuid[]) AND status = 'ok' AND name = 'fleet e2e'`,
		group, []string{jobs["lab-1"], jobs["lab-2"]})
	if n := w.count(`SELECT count(*) FROM runs WHERE group_id = $1`, group); n != 2 {
		t.Errorf("group %s: %d runs, want 2", group, n)
	}
	for agent, job := range jobs { // each job's run is its own agent's: the job, its events and its run agree
		if n := w.count(`SELECT count(*) FROM job_status s JOIN jobs j ON j.id = s.id JOIN runs r ON r.run_id = s.run_id
			WHERE s.id = $1 AND j.agent = $2 AND s.agent = $2 AND r.job_id = s.id`, job, agent); n != 1 {
			t.Errorf("job %s on %s: %d job/run rows that agree, want 1", job, agent, n)
		}
	}
	if n := w.count(`SELECT (SELECT count(*) FROM jobs WHERE agent = 'edge-1') + (SELECT count(*) FROM job_events WHERE agent = 'edge-1')`); n != 0 {
		t.Errorf("edge-1 (site=edge) has %d jobs and job events after a launch on site=lab, want 0", n)
	}
	// producer jobs --group lists both, finished ok, with their runs, in its order (newest first, then by id).
	rows, err := w.conn.Query(ctx, `SELECT id, agent, run_id FROM job_status WHERE group_id = $1 ORDER BY created_at DESC, id`, group)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	tw := tabwriter.NewWriter(&want, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tAGENT\tKIND\tSTATE\tRUN\tREASON")
	for rows.Next() {
		var id, run uuid.UUID
		var agent string
		if err := rows.Scan(&id, &agent, &run); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(tw, "%s\t%s\tmqtt\tfinished ok\t%s\t-\n", id, agent, run)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	_ = tw.Flush()
	if code, out, errOut := w.operator("", "jobs", "--group", group); code != 0 || out != want.String() || errOut != "" {
		t.Errorf("producer jobs --group (anonymous: a read): exit %d\n%s%s\nwant:\n%s", code, out, errOut, want.String())
	}
	t.Logf("1. launch by tag: 2 jobs, 2 runs ok in group %s: %v", group, time.Since(began).Round(time.Millisecond))

	// 2. Without the token, and with a wrong one: refused in one line, non-zero, nothing produced.
	jobsTopic := w.cfg.Fleet.JobsTopic
	before := w.topicRecords(jobsTopic)
	launchArgs := append([]string{"launch", "--tag", "site=lab"}, mqtt("3s")...)
	code, out, errOut = w.operator("", launchArgs...)
	if code != 2 || out != "" || !oneLine(errOut) || !strings.HasPrefix(errOut, "producer launch: BENCHPIPE_OPERATOR_TOKEN is not set") {
		t.Errorf("launch without the token: exit %d, stdout %q, stderr %q; want 2 and one line naming BENCHPIPE_OPERATOR_TOKEN", code, out, errOut)
	}
	code, out, errOut = w.operator(w.token+"x", launchArgs...)
	if code != 1 || out != "" || !oneLine(errOut) || !strings.Contains(errOut, "refused the operator token") {
		t.Errorf("launch with a wrong token: exit %d, stdout %q, stderr %q; want 1 and one line saying the token was refused", code, out, errOut)
	}
	code, out, errOut = w.operator(w.token+"x", "jobs", "stop", "--group", group)
	if code != 1 || out != "" || !oneLine(errOut) || !strings.Contains(errOut, "refused the operator token") {
		t.Errorf("jobs stop with a wrong token: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	if after := w.topicRecords(jobsTopic); after != before {
		t.Errorf("the jobs topic went from %d to %d records through refused launches, want no change", before, after)
	}
	if before != 2 {
		t.Errorf("the jobs topic holds %d records after one launch on two agents, want 2", before)
	}

	// 3. A long job on one agent, stopped mid-run by `producer jobs stop`: aborted, every sample kept.
	code, out, errOut = w.operator(w.token, append([]string{"launch", "--agent", "edge-1"}, mqtt("60s")...)...)
	if code != 0 {
		t.Fatalf("launch --agent edge-1: exit %d\n%s%s", code, out, errOut)
	}
	_, jobs = launched(t, out)
	stopped := jobs["edge-1"]
	allJobs = append(allJobs, stopped)
	w.waitCount(60*time.Second, 1, `SELECT count(*) FROM job_status WHERE id = $1 AND state = 'running'`, stopped)
	time.Sleep(2500 * time.Millisecond) // a few samples
	code, out, errOut = w.operator(w.token, "jobs", "stop", stopped)
	if code != 0 || out != "stop requested  edge-1  job "+stopped+"\n" {
		t.Errorf("jobs stop %s: exit %d %q %q", stopped, code, out, errOut)
	}
	w.waitCount(30*time.Second, 1, `SELECT count(*) FROM job_status WHERE id = $1 AND state = 'finished' AND status = 'aborted' AND reason = 'stop requested'`, stopped)
	w.waitCount(30*time.Second, 1, `SELECT count(*) FROM runs WHERE job_id = $1 AND status = 'aborted'`, stopped)
	var stoppedRun uuid.UUID
	if err := w.conn.QueryRow(ctx, `SELECT run_id FROM runs WHERE job_id = $1`, stopped).Scan(&stoppedRun); err != nil {
		t.Fatal(err)
	}
	if n := w.checkSamples(stoppedRun); n < 2 {
		t.Errorf("the stopped run kept %d samples, want at least 2 (it ran 2.5s)", n)
	}
	t.Logf("3. stop mid-run: aborted with its samples: %v", time.Since(began).Round(time.Millisecond))

	// 4. SIGKILL lab-1 mid-job: shown offline within a few heartbeats, the others online; restarted, it reports the
	// job finished aborted once and runs nothing again.
	code, out, errOut = w.operator(w.token, append([]string{"launch", "--agent", "lab-1"}, mqtt("60s")...)...)
	if code != 0 {
		t.Fatalf("launch --agent lab-1: exit %d\n%s%s", code, out, errOut)
	}
	_, jobs = launched(t, out)
	killedJob := jobs["lab-1"]
	allJobs = append(allJobs, killedJob)
	w.waitCount(60*time.Second, 1, `SELECT count(*) FROM job_status WHERE id = $1 AND state = 'running'`, killedJob)
	time.Sleep(time.Second)
	_ = lab1.proc.cmd.Process.Signal(syscall.SIGKILL)
	<-lab1.proc.done
	killed := time.Now()
	// Offline is three heartbeat intervals (0.9 s) without a heartbeat; allow a few more for a loaded machine.
	w.waitCount(5*time.Second, 1, `SELECT count(*) FROM agent_status WHERE name = 'lab-1' AND NOT online AND last_seen <= $1`, killed)
	offlineAfter := time.Since(killed)
	if n := w.count(`SELECT count(*) FROM agent_status WHERE online AND name IN ('lab-2', 'edge-1')`); n != 2 {
		t.Errorf("%d of lab-2 and edge-1 online while lab-1 is down, want 2", n)
	}
	if n := w.count(`SELECT count(*) FROM job_status WHERE id = $1 AND state = 'running'`, killedJob); n != 1 {
		t.Errorf("the killed agent's job is not shown running while it is down (%d rows)", n)
	}
	t.Logf("4. lab-1 shown offline %v after SIGKILL", offlineAfter.Round(time.Millisecond))
	// A launch by tag while lab-1 is down selects the online lab agent only.
	code, out, errOut = w.operator(w.token, append([]string{"launch", "--tag", "site=lab"}, mqtt("1s")...)...)
	downGroup, jobs := launched(t, out)
	if code != 0 || len(jobs) != 1 || jobs["lab-2"] == "" {
		t.Errorf("launch --tag site=lab with lab-1 down: exit %d, jobs %v; want one job, on lab-2\n%s%s", code, jobs, out, errOut)
	}
	for _, j := range jobs {
		allJobs = append(allJobs, j)
	}
	w.startAgent(lab1)
	w.waitCount(60*time.Second, 1, `SELECT count(*) FROM job_status WHERE id = $1 AND state = 'finished' AND status = 'aborted' AND reason = 'agent restarted mid-job'`, killedJob)
	w.waitCount(30*time.Second, 1, `SELECT count(*) FROM runs WHERE job_id = $1 AND status = 'aborted'`, killedJob)
	if n := w.count(`SELECT count(*) FROM job_events WHERE job_id = $1 AND state = 'finished'`, killedJob); n != 1 {
		t.Errorf("the killed job has %d finished rows, want 1", n)
	}
	w.waitCount(30*time.Second, 1, `SELECT count(*) FROM job_status WHERE group_id = $1 AND agent = 'lab-2' AND state = 'finished' AND status = 'ok'`, downGroup)
	w.waitCount(30*time.Second, 3, `SELECT count(*) FROM agent_status WHERE online AND state = 'idle'`)

	// 5. launch --wait on every online agent exits 0 once all finished ok.
	code, out, errOut = w.operator(w.token, append([]string{"launch", "--all", "--wait"}, mqtt("2s")...)...)
	waitGroup, jobs := launched(t, out)
	if code != 0 || errOut != "" || len(jobs) != 3 || !strings.HasSuffix(out, "group "+waitGroup+": 3 of 3 jobs finished ok\n") {
		t.Errorf("launch --all --wait: exit %d, want 0 and 3 of 3 finished ok:\n%s%s", code, out, errOut)
	}
	for _, j := range jobs {
		allJobs = append(allJobs, j)
	}
	w.waitCount(30*time.Second, 3, `SELECT count(*) FROM runs WHERE group_id = $1 AND status = 'ok'`, waitGroup)
	t.Logf("5. launch --all --wait: 3 of 3 ok: %v", time.Since(began).Round(time.Millisecond))

	// 6. Anonymous GraphQL reads the fleet's state but not the jobs' specs, and cannot launch or stop; an operator
	// reads the specs. The errors are Hasura's, through the stand-in.
	before = w.topicRecords(jobsTopic)
	for _, c := range []struct{ what, query, want string }{
		{"read jobs", `{ jobs { id spec } }`, "field 'jobs' not found in type: 'query_root'"},
		{"read a job's spec from job_status", `{ job_status { id spec } }`, "field 'spec' not found in type: 'job_status'"},
		{"launch", `mutation { launchJobs(kind: "mqtt", spec: {embedded_target: true}, all: true) { group_id } }`, "no mutations exist"},
		{"stop", `mutation { stopJobs(group_id: "` + group + `") { jobs { job_id } } }`, "no mutations exist"},
	} {
		if data, errs := w.graphql("", c.query, nil); len(errs) != 1 || errs[0] != c.want || (len(data) > 0 && string(data) != "null") {
			t.Errorf("anonymous %s: data %s, errors %q; want the error %q", c.what, data, errs, c.want)
		}
	}
	var anon struct {
		JobStatus []struct{ ID string } `json:"job_status"`
	}
	data, errs := w.graphql("", `query ($g: uuid!) { job_status(where: {group_id: {_eq: $g}}) { id state status } }`, map[string]any{"g": group})
	if err := json.Unmarshal(data, &anon); err != nil || len(errs) != 0 || len(anon.JobStatus) != 2 {
		t.Errorf("anonymous job_status of group %s: %s %q, want its 2 jobs", group, data, errs)
	}
	var op struct {
		Jobs []struct {
			ID   string          `json:"id"`
			Spec json.RawMessage `json:"spec"`
		} `json:"jobs"`
	}
	data, errs = w.graphql("Bearer "+w.token, `{ jobs { id spec } }`, nil)
	if err := json.Unmarshal(data, &op); err != nil || len(errs) != 0 || len(op.Jobs) != len(allJobs) {
		t.Errorf("the operator reads %d jobs (%q), want %d", len(op.Jobs), errs, len(allJobs))
	}
	if after := w.topicRecords(jobsTopic); after != before {
		t.Errorf("anonymous GraphQL moved the jobs topic from %d to %d records", before, after)
	}

	// Every job ran exactly once.
	if n := w.count(`SELECT count(*) FROM jobs`); n != len(allJobs) {
		t.Errorf("%d jobs in the table, launched %d", n, len(allJobs))
	}
	if n := w.count(`SELECT count(*) FROM (SELECT j.id FROM jobs j JOIN runs r ON r.job_id = j.id GROUP BY j.id HAVING count(*) = 1) x WHERE id = ANY($1::uuid[])`, allJobs); n != len(allJobs) {
		t.Errorf("%d of the %d jobs have exactly one run", n, len(allJobs))
	}
	if n := w.count(`SELECT count(*) FROM runs`); n != len(allJobs) {
		t.Errorf("%d runs, want %d (one per job)", n, len(allJobs))
	}
	if n := w.fleetEvents(killedJob, schema.JobFinished); n != 1 {
		t.Errorf("the agents topic holds %d finished events of the killed job, want 1", n)
	}

	// Orderly shutdown: every service stops on SIGTERM with status 0.
	for _, a := range []*fleetAgent{lab1, lab2, edge} {
		if code := a.proc.stop(t); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", a.proc.name, code)
		}
	}
	for _, p := range []*proc{w.sink, w.api} {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", p.name, code)
		}
	}

	// sink api said why it refused each wrong token (the two above), without the token (checked below).
	if n := strings.Count(w.api.out.String(), "auth: refused a request with a wrong operator credential"); n != 2 {
		t.Errorf("sink api logged %d refused credentials, want 2 (launch and jobs stop with a wrong token):\n%s", n, w.api.out.String())
	}

	// 7. No secret anywhere: in any process's output, the fleet topics' records, or the tables.
	w.checkNoSecrets()
	t.Logf("fleet as an operator drives it on %s: %v", kb.Name, time.Since(began).Round(time.Millisecond))
}

// checkSamples checks that run's samples are exactly those its run_finished counts (seq 1 … run_finished's seq −
// 1), run_finished read from the records topic, and returns how many.
func (w *fleetWorld) checkSamples(run uuid.UUID) int {
	w.t.Helper()
	var fins []schema.Record
	for _, rec := range testenv.ConsumeAll(w.t, w.kc.Brokers, w.cfg.Producer.Topic) {
		if m, err := schema.Decode(rec.Value); err == nil && m.Type == schema.TypeRunFinished && m.RunID == run {
			fins = append(fins, m)
		}
	}
	if len(fins) != 1 {
		w.t.Fatalf("run %s: %d run_finished records on the records topic, want 1", run, len(fins))
	}
	want := int(fins[0].Seq - 1)
	w.waitCount(20*time.Second, want, `SELECT count(*) FROM samples WHERE run_id = $1`, run)
	if n := w.count(`SELECT count(DISTINCT seq) FROM samples WHERE run_id = $1 AND seq BETWEEN 1 AND $2`, run, want); n != want {
		w.t.Errorf("run %s: %d distinct samples with seq 1–%d, want %d", run, n, want, want)
	}
	return want
}

// fleetEvents counts the job events of job in state on the agents topic.
func (w *fleetWorld) fleetEvents(job, state string) int {
	w.t.Helper()
	n := 0
	for _, rec := range testenv.ConsumeAll(w.t, w.kc.Brokers, w.cfg.Fleet.AgentsTopic) {
		m, err := schema.DecodeFleet(rec.Value)
		if err != nil {
			w.t.Errorf("agents topic: %v", err)
			continue
		}
		if m.Event != nil && m.Event.JobID.String() == job && m.Event.State == state {
			n++
		}
	}
	return n
}

// checkNoSecrets looks for every secret of the deployment in every process's and command's output, every record of
// the jobs, agents and records topics, and every row of the fleet's tables, runs and samples.
func (w *fleetWorld) checkNoSecrets() {
	w.t.Helper()
	places := map[string]string{}
	for i, p := range w.procs {
		if p.out.String() == "" { // each logs at least its start
			w.t.Errorf("%s printed nothing: the secrets check would look at nothing", p.name)
		}
		places[fmt.Sprintf("output of %s (#%d)", p.name, i)] = p.out.String()
	}
	places["the commands' output"] = strings.Join(w.cliOut, "\n")
	for _, topic := range []string{w.cfg.Fleet.JobsTopic, w.cfg.Fleet.AgentsTopic, w.cfg.Producer.Topic} {
		var b strings.Builder
		for _, rec := range testenv.ConsumeAll(w.t, w.kc.Brokers, topic) {
			b.Write(rec.Key)
			b.Write(rec.Value)
			for _, h := range rec.Headers {
				b.WriteString(h.Key)
				b.Write(h.Value)
			}
		}
		places["topic "+topic] = b.String()
	}
	for _, table := range []string{"agents", "jobs", "job_events", "runs", "samples"} {
		var s string
		if err := w.conn.QueryRow(context.Background(), `SELECT coalesce(string_agg(t::text, E'\n'), '') FROM `+table+` t`).Scan(&s); err != nil {
			w.t.Fatal(err)
		}
		places["table "+table] = s
	}
	if len(places["table agents"]) == 0 || len(places["topic "+w.cfg.Fleet.JobsTopic]) == 0 {
		w.t.Fatal("nothing to look in: the agents table or the jobs topic is empty")
	}
	for place, text := range places {
		for what, secret := range w.secrets() {
			if strings.Contains(text, secret) {
				w.t.Errorf("%s shows %s", place, what)
			}
		}
	}
}
