package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// mqttSpec is a job's spec for an MQTT run against the embedded NATS target (no external broker) measuring for d.
func mqttSpec(d time.Duration) string {
	return fmt.Sprintf(`{"embedded_target": true, "publishers": 1, "subscribers": 1, "rate": 200, "duration": %q}`, d)
}

// TestFleet is issue 14 item 7 for the agent, with real processes: three agent processes, the sink (in process,
// as the e2e tests run it) into an as-deployed PostgreSQL, Kafka on both backends. MQTT jobs run against the
// embedded target, a pgbench job against the test's PostgreSQL; the jobs are published to the jobs topic the way
// `sink api` publishes them. Every count is exact.
func TestFleet(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testFleet(t, kb) })
	}
}

func testFleet(t *testing.T, kb testenv.KafkaBackend) {
	pgbenchBin := testenv.Tool(t, "pgbench", "apt-get install -y postgresql-client")
	d := testenv.Deployed(t)
	f := newFleet(t, kb, func(c *config.Config) {
		c.Sink.DatabaseURL = d.OwnerURL
		c.Producer.Pgbench.Path = pgbenchBin
	})
	db := startSink(t, f.cfg)
	runs := readRuns(t, f.kc.Brokers, f.cfg.Producer.Topic)

	// The pgbench job's target: a database of its own; the password reaches pgbench from the agent's environment,
	// never from the job.
	target := testenv.DatabaseURL(t)
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	pass, _ := u.User.Password()
	pgEnv := []string{"PGHOST=" + u.Hostname(), "PGPORT=" + u.Port(), "PGUSER=" + u.User.Username(), "PGPASSWORD=" + pass,
		"PGDATABASE=" + strings.TrimPrefix(u.Path, "/")}

	a1 := f.startTagged("a1", map[string]string{"site": "lab", "rack": "1"})
	a2 := f.startTagged("a2", map[string]string{"site": "lab", "rack": "2"})
	a3 := f.startTagged("a3", map[string]string{"site": "field"}, pgEnv...)
	waitSQL(t, db, 30*time.Second, "all three agents online", `SELECT count(*) = 3 FROM agent_status WHERE online`)

	// 1. A launch on two agents (one group): both runs land with the job and the group, each job reports
	// accepted, running (with the run), finished ok, once each.
	group := uuid.Must(uuid.NewV7())
	j1, j2 := job("a1", schema.KindMQTT, group, mqttSpec(2*time.Second)), job("a2", schema.KindMQTT, group, mqttSpec(2*time.Second))
	f.send(jobMsg(j1), jobMsg(j2))
	for _, j := range []schema.Job{j1, j2} {
		f.waitEvent(j.ID, schema.JobFinished, 60*time.Second)
		ev := jobEventsRow(j.ID)
		runID := waitRun(t, db, j.ID, "ok")
		want := fmt.Sprintf("accepted; running %s; finished %s ok", runID, runID)
		waitSQLEqual(t, db, 20*time.Second, want, ev)
		if got := states(f.events.jobEvents(j.ID)); !reflect.DeepEqual(got, []string{"accepted", "running", "finished ok"}) {
			t.Errorf("job %s on the agents topic: %q, want accepted, running, finished ok once each", j.Agent, got)
		}
		checkSamples(t, db, runs, runID)
	}
	var groupRuns int
	var tagsOK bool
	if err := db.QueryRow(context.Background(), `SELECT count(*), bool_and(tags @> '{"test": "agent"}' AND name = 'fleet test')
		FROM runs WHERE group_id = $1 AND job_id IN ($2, $3) AND kind = 'mqtt' AND status = 'ok'`, group, j1.ID, j2.ID).Scan(&groupRuns, &tagsOK); err != nil {
		t.Fatal(err)
	}
	if groupRuns != 2 || !tagsOK {
		t.Errorf("group %s: %d ok mqtt runs with the job's name and tags, want 2", group, groupRuns)
	}

	// 2. A stop mid-run: the run is aborted, its samples kept, exactly those run_finished counts.
	j3 := job("a3", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Minute))
	f.send(jobMsg(j3))
	f.waitEvent(j3.ID, schema.JobRunning, 60*time.Second)
	waitSQL(t, db, 20*time.Second, "a3 heartbeats running j3", `SELECT state = 'running' AND job_id = $1 FROM agent_status WHERE name = 'a3'`, j3.ID)
	time.Sleep(2500 * time.Millisecond) // a few samples
	f.send(stopMsg("a3", j3.ID))
	f.waitEvent(j3.ID, schema.JobFinished, 30*time.Second)
	r3 := waitRun(t, db, j3.ID, "aborted")
	waitSQLEqual(t, db, 20*time.Second, fmt.Sprintf("accepted; running %s; finished %s aborted: %s", r3, r3, agent.ReasonStop), jobEventsRow(j3.ID))
	if n := checkSamples(t, db, runs, r3); n < 2 {
		t.Errorf("stopped run %s kept %d samples, want at least 2 (it ran 2.5s)", r3, n)
	}
	waitSQL(t, db, 20*time.Second, "a3 idle again", `SELECT state = 'idle' AND job_id IS NULL FROM agent_status WHERE name = 'a3'`)

	// 3. Busy, then SIGKILL mid-job: a job sent while one runs is rejected, not queued; the killed agent is shown
	// offline after three missed heartbeats; restarted, it reports the job aborted once and never runs it again.
	j4 := job("a1", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Minute))
	f.send(jobMsg(j4))
	f.waitEvent(j4.ID, schema.JobRunning, 60*time.Second)
	j5 := job("a1", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Second))
	f.send(jobMsg(j5))
	f.waitEvent(j5.ID, schema.JobRejected, 30*time.Second)
	waitSQLEqual(t, db, 20*time.Second, "rejected: busy: running job "+j4.ID.String(), jobEventsRow(j5.ID))
	time.Sleep(time.Second)
	a1.kill()
	killed := time.Now()
	// Offline is derived from the last heartbeat (three intervals, 0.9s, without one): within a few seconds,
	// with no heartbeat after the kill.
	waitSQL(t, db, 5*time.Second, "a1 offline after SIGKILL", `SELECT NOT online AND last_seen <= $1 FROM agent_status WHERE name = 'a1'`, killed)
	t.Logf("a1 shown offline %v after SIGKILL", time.Since(killed).Round(time.Millisecond))
	var othersOnline int
	if err := db.QueryRow(context.Background(), `SELECT count(*) FROM agent_status WHERE online AND name IN ('a2', 'a3')`).Scan(&othersOnline); err != nil {
		t.Fatal(err)
	}
	if othersOnline != 2 {
		t.Errorf("%d of a2, a3 online while a1 is down, want 2", othersOnline)
	}
	a1 = f.restart(a1)
	f.waitEvent(j4.ID, schema.JobFinished, 60*time.Second)
	r4 := waitRun(t, db, j4.ID, "aborted") // finished by the spool, which found the run open when the agent opened it
	waitSQLEqual(t, db, 20*time.Second, fmt.Sprintf("accepted; running %s; finished %s aborted: %s", r4, r4, agent.ReasonRestarted), jobEventsRow(j4.ID))
	checkSamples(t, db, runs, r4)
	waitSQL(t, db, 20*time.Second, "a1 online again", `SELECT online AND state = 'idle' FROM agent_status WHERE name = 'a1'`)

	// 4. Replays: the jobs a1 ran, finished or was killed in, published again, run nothing and report nothing.
	// A marker job after them (expired, so it runs nothing either) says a1 has read past them.
	marker := job("a1", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Second))
	marker.CreatedAt, marker.ExpiresAt = time.Now().Add(-time.Hour).UTC(), time.Now().Add(-time.Minute).UTC()
	f.send(jobMsg(j1), jobMsg(j4), jobMsg(j5), stopMsg("a1", j1.ID), jobMsg(marker))
	f.waitEvent(marker.ID, schema.JobExpired, 30*time.Second)
	if !strings.Contains(a1.stderr.String(), `msg="stop ignored: not the running job" agent=a1 job=`+j1.ID.String()) {
		t.Errorf("a1 did not log the stop of its finished job %s as ignored", j1.ID)
	}

	// 5. An offline agent's job past its expiry is reported expired when the agent comes back.
	if code := a2.stop(t); code != 0 {
		t.Fatalf("a2: SIGTERM while idle: exit %d, want 0", code)
	}
	waitSQL(t, db, 20*time.Second, "a2 offline", `SELECT NOT online FROM agent_status WHERE name = 'a2'`)
	j6 := job("a2", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Second))
	j6.ExpiresAt = time.Now().Add(time.Second).UTC()
	f.send(jobMsg(j6))
	time.Sleep(time.Until(j6.ExpiresAt) + 100*time.Millisecond)
	a2 = f.restart(a2)
	f.waitEvent(j6.ID, schema.JobExpired, 60*time.Second)
	waitSQL(t, db, 20*time.Second, "j6 expired in job_events", `SELECT count(*) = 1 FROM job_events WHERE job_id = $1 AND state = 'expired'`, j6.ID)

	// 6. A short pgbench job against the test's PostgreSQL, the password from a3's environment.
	j7 := job("a3", schema.KindPgbench, uuid.Must(uuid.NewV7()), `{"pgbench_args": ["-T", "3", "-c", "1"], "init_scale": 1}`)
	f.send(jobMsg(j7))
	f.waitEvent(j7.ID, schema.JobFinished, 120*time.Second)
	r7 := waitRun(t, db, j7.ID, "ok")
	waitSQLEqual(t, db, 20*time.Second, fmt.Sprintf("accepted; running %s; finished %s ok", r7, r7), jobEventsRow(j7.ID))
	checkSamples(t, db, runs, r7)

	// 7. SIGTERM mid-job: the job is finished aborted ("agent stopped"), the run aborted with its samples, exit 0.
	j8 := job("a3", schema.KindMQTT, uuid.Must(uuid.NewV7()), mqttSpec(time.Minute))
	f.send(jobMsg(j8))
	f.waitEvent(j8.ID, schema.JobRunning, 60*time.Second)
	time.Sleep(1500 * time.Millisecond)
	termed := time.Now()
	if code := a3.stop(t); code != 0 {
		t.Errorf("a3: SIGTERM mid-job: exit %d, want 0", code)
	}
	// The run ends at once; the spool then gets at most StopTimeout to reach Kafka.
	if took := time.Since(termed); took > agent.StopTimeout+5*time.Second {
		t.Errorf("a3 took %v to exit after SIGTERM mid-job, want at most %v and a little", took, agent.StopTimeout)
	} else {
		t.Logf("a3 exited %v after SIGTERM mid-job", took.Round(time.Millisecond))
	}
	r8 := waitRun(t, db, j8.ID, "aborted")
	waitSQLEqual(t, db, 20*time.Second, fmt.Sprintf("accepted; running %s; finished %s aborted: %s", r8, r8, agent.ReasonStopped), jobEventsRow(j8.ID))
	checkSamples(t, db, runs, r8)

	// Every job ran at most once: one run per job that ran, none for the others; the events exactly as reported.
	for _, c := range []struct {
		j    schema.Job
		runs int
	}{{j1, 1}, {j2, 1}, {j3, 1}, {j4, 1}, {j5, 0}, {marker, 0}, {j6, 0}, {j7, 1}, {j8, 1}} {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT count(*) FROM runs WHERE job_id = $1`, c.j.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != c.runs {
			t.Errorf("job %s on %s: %d runs, want %d", c.j.ID, c.j.Agent, n, c.runs)
		}
	}
	for j, want := range map[uuid.UUID][]string{
		j1.ID: {"accepted", "running", "finished ok"},
		j4.ID: {"accepted", "running", "finished aborted: " + agent.ReasonRestarted},
		j5.ID: {"rejected: busy: running job " + j4.ID.String()},
		j6.ID: {"expired"},
	} {
		got := states(f.events.jobEvents(j))
		for i := range got { // the expiry reason names times
			got[i], _, _ = strings.Cut(got[i], ": seen at")
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("job %s on the agents topic: %q, want %q", j, got, want)
		}
	}
	for _, p := range []*agentProc{a1, a2} {
		if code := p.stop(t); code != 0 {
			t.Errorf("%s: exit %d after SIGTERM", p.name, code)
		}
	}
	// a3 had the database password in its environment and ran a pgbench job with it: it never shows.
	if len(pass) < 4 {
		t.Fatalf("the test database's password %q is too short to look for", pass)
	}
	if strings.Contains(a3.stderr.String(), pass) {
		t.Errorf("a3's output shows the database password")
	}
}

// startSink runs the sink in process over cfg (its database, every topic it lists) until the test ends.
func startSink(t *testing.T, cfg config.Config) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.DiscardHandler)
	if err := ingest.Migrate(ctx, &cfg, logger); err != nil {
		t.Fatal(err)
	}
	sink, err := ingest.New(ctx, &cfg, ingest.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink: %v", err)
		}
		sink.Close()
	})
	conn, err := pgx.Connect(context.Background(), cfg.Sink.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitSQL waits until query (one boolean) is true.
func waitSQL(t *testing.T, db *pgx.Conn, timeout time.Duration, what, query string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var ok bool
		err := db.QueryRow(context.Background(), query, args...).Scan(&ok)
		if err == nil && ok {
			return
		}
		if err != nil && err != pgx.ErrNoRows {
			t.Fatalf("%s: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// jobEventsRow is a query for one job's job_events as one line: "accepted; running RUN; finished RUN ok: reason".
func jobEventsRow(job uuid.UUID) func(*pgx.Conn) (string, error) {
	return func(db *pgx.Conn) (string, error) {
		var s string
		err := db.QueryRow(context.Background(), `
			SELECT coalesce(string_agg(concat_ws(' ', state, run_id::text, status) || coalesce(': ' || reason, ''), '; '
				ORDER BY array_position(ARRAY['accepted', 'running', 'finished', 'rejected', 'expired'], state)), '')
			FROM job_events WHERE job_id = $1`, job).Scan(&s)
		return s, err
	}
}

// waitSQLEqual waits until get returns want, and fails with the last value otherwise.
func waitSQLEqual(t *testing.T, db *pgx.Conn, timeout time.Duration, want string, get func(*pgx.Conn) (string, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := get(db)
		if err != nil {
			t.Fatal(err)
		}
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("got %q, want %q", got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitRun waits until the job's run is in runs with status, and returns its id.
func waitRun(t *testing.T, db *pgx.Conn, job uuid.UUID, status string) uuid.UUID {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		var id uuid.UUID
		var got string
		err := db.QueryRow(context.Background(), `SELECT run_id, status FROM runs WHERE job_id = $1`, job).Scan(&id, &got)
		if err == nil && got == status {
			return id
		}
		if err != nil && err != pgx.ErrNoRows {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s: run status %q (%v), want %q", job, got, err, status)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkSamples checks that the run's samples in the database are exactly those its run_finished counts: seq 1 …
// run_finished's seq − 1, none missing. It returns how many.
func checkSamples(t *testing.T, db *pgx.Conn, runs *runReader, run uuid.UUID) int {
	t.Helper()
	fin := runs.finished(t, run)
	want := int(fin.Seq - 1)
	var n, lo, hi int
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := db.QueryRow(context.Background(), `SELECT count(*), coalesce(min(seq), 0), coalesce(max(seq), 0) FROM samples WHERE run_id = $1`, run).Scan(&n, &lo, &hi); err != nil {
			t.Fatal(err)
		}
		if n == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if n != want || (n > 0 && (lo != 1 || hi != want)) {
		t.Errorf("run %s: %d samples (seq %d–%d), run_finished is seq %d: want exactly seq 1–%d", run, n, lo, hi, fin.Seq, want)
	}
	return n
}

// runReader reads the records topic, keeping each run's run_finished record.
type runReader struct {
	mu       sync.Mutex
	finishes map[uuid.UUID][]schema.Record
}

func readRuns(t *testing.T, brokers []string, topic string) *runReader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r := &runReader{finishes: map[uuid.UUID][]schema.Record{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
				if m, err := schema.Decode(rec.Value); err == nil && m.Type == schema.TypeRunFinished {
					r.mu.Lock()
					r.finishes[m.RunID] = append(r.finishes[m.RunID], m)
					r.mu.Unlock()
				}
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done; cl.Close() })
	return r
}

// finished waits for the run's run_finished record and requires it to be the only one.
func (r *runReader) finished(t *testing.T, run uuid.UUID) schema.Record {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r.mu.Lock()
		fs := slices.Clone(r.finishes[run])
		r.mu.Unlock()
		if len(fs) > 0 {
			if len(fs) > 1 {
				t.Errorf("run %s has %d run_finished records, want 1", run, len(fs))
			}
			return fs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: no run_finished on the records topic within 20s", run)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
