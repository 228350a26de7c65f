package pgbench

import (
	"context"
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// agentSetup is what the fleet agent has when it runs jobs: a configuration naming pgbench and its own long-lived
// spool publisher, here shipping to a Kafka of the test's backend.
type agentSetup struct {
	cfg   *config.Config
	pub   *publish.Publisher
	kc    *testenv.KafkaCluster
	topic string
}

func newAgentSetup(t *testing.T, kb testenv.KafkaBackend) *agentSetup {
	t.Helper()
	kc := kb.Start(t, map[string]int32{recordsTopic: 1})
	cfg := config.Default()
	cfg.Kafka.Brokers = kc.Brokers
	cfg.Producer.SpoolDir = t.TempDir()
	cfg.Producer.Topic = kc.Topic(recordsTopic)
	cfg.Producer.Tags = map[string]string{"site": "lab"}
	cfg.Producer.Pgbench.Path = pgbenchBin(t)
	pub, err := publish.Open(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return &agentSetup{cfg: &cfg, pub: pub, kc: kc, topic: cfg.Producer.Topic}
}

// records closes the publisher (the agent stopping), which delivers the spool, and returns each run's records
// from Kafka in order. No record holds $PGPASSWORD.
func (a *agentSetup) records(t *testing.T) map[uuid.UUID][]schema.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.pub.Close(ctx); err != nil {
		t.Fatalf("close the shared publisher: %v", err)
	}
	out := map[uuid.UUID][]schema.Record{}
	pw := os.Getenv("PGPASSWORD")
	for _, kr := range testenv.ConsumeAll(t, a.kc.Brokers, a.topic) {
		if pw != "" && strings.Contains(string(kr.Value), pw) {
			t.Errorf("a record holds the password: %s", kr.Value)
		}
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("record does not decode: %v\n%s", err, kr.Value)
		}
		out[r.RunID] = append(out[r.RunID], r)
	}
	return out
}

// jobDatabase returns a database for pgbench jobs, initialised at scale 1, as a job would name it: its URL
// without the password, which goes to $PGPASSWORD, where the agent's environment holds it.
func jobDatabase(t *testing.T) string {
	t.Helper()
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	pw, ok := u.User.Password()
	if !ok || pw == "" {
		t.Fatalf("the test database's URL has no password; the test is meant to pass one through the environment")
	}
	t.Setenv("PGPASSWORD", pw)
	u.User = url.User(u.User.Username())
	return u.String()
}

func decodeJobSpec(t *testing.T, v any) Spec {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSpec(b)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// progressLines counts the progress lines (one per sample) in a run's non-terminal output.
func progressLines(stdout string) int {
	n := 0
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, " | tps ") {
			n++
		}
	}
	return n
}

// TestExecuteSharedPublisher runs two pgbench jobs' runs one after the other on the agent's one publisher, as the
// agent does: each is a whole run (its own run id, run_started … run_finished, ok, one sample per progress line),
// the first names its job and group, OnStarted reports each run id once, the password comes from the
// environment and is in no record, and the publisher stays open for the next run and ships both.
func TestExecuteSharedPublisher(t *testing.T) {
	db := jobDatabase(t)
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			a := newAgentSetup(t, kb)
			spec := decodeJobSpec(t, map[string]any{"pgbench_args": []string{"-c", "2", "-T", "2", db}})
			job, group := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())

			var outs []recorder.Outcome
			var stdouts []*testenv.Buffer
			for i, jobID := range []*uuid.UUID{&job, nil} {
				started := make(chan uuid.UUID, 2)
				stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
				env := recorder.Env{Config: a.cfg, Stdout: stdout, Stderr: stderr, Publisher: a.pub,
					Name: "pgbench job", Tags: map[string]string{"run": string(rune('a' + i))},
					OnStarted: func(id uuid.UUID) { started <- id }}
				if jobID != nil {
					env.JobID, env.GroupID = jobID, &group
				}
				out := Execute(context.Background(), env, spec)
				t.Logf("run %d: %+v\nstdout:\n%s\nstderr:\n%s", i, out, stdout, stderr)
				if out.Status != schema.StatusOK || out.Exit != ExitOK || out.Err != "" || out.RunID == uuid.Nil {
					t.Fatalf("run %d: outcome %+v, want ok", i, out)
				}
				if got := <-started; got != out.RunID || len(started) != 0 {
					t.Errorf("run %d: OnStarted got %v (%d more calls), want once with %v", i, got, len(started), out.RunID)
				}
				outs, stdouts = append(outs, out), append(stdouts, stdout)
			}
			if outs[0].RunID == outs[1].RunID {
				t.Fatalf("both runs have id %v", outs[0].RunID)
			}

			runs := a.records(t)
			if len(runs) != 2 {
				t.Fatalf("records of %d runs in Kafka, want 2", len(runs))
			}
			for i, out := range outs {
				st, samples, fin := checkRunShape(t, runs[out.RunID])
				checkOneSamplePerSecond(t, samples, 2)
				if n := progressLines(stdouts[i].String()); n != len(samples) {
					t.Errorf("run %d: %d samples recorded, %d progress lines printed", i, len(samples), n)
				}
				if fin.Status != schema.StatusOK || st.Name != "pgbench job" || st.Tags["site"] != "lab" || st.Tags["run"] != string(rune('a'+i)) {
					t.Errorf("run %d: status %s, name %q, tags %v", i, fin.Status, st.Name, st.Tags)
				}
			}
			if st := runs[outs[0].RunID][0].Started; st.JobID == nil || *st.JobID != job || st.GroupID == nil || *st.GroupID != group {
				t.Errorf("the job's run_started names job %v group %v, want %v %v", st.JobID, st.GroupID, job, group)
			}
			if st := runs[outs[1].RunID][0].Started; st.JobID != nil || st.GroupID != nil {
				t.Errorf("a run without a job names job %v group %v", st.JobID, st.GroupID)
			}
		})
	}
}

// TestExecuteAbortedByContext stops a pgbench job's run mid-run by cancelling its context, as the agent's stop
// does: pgbench is stopped, the outcome is aborted, run_finished says aborted with its summary, every sample made
// is kept, and the publisher takes the next run.
func TestExecuteAbortedByContext(t *testing.T) {
	db := jobDatabase(t)
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			a := newAgentSetup(t, kb)
			spec := decodeJobSpec(t, map[string]any{"pgbench_args": []string{"-c", "2", "-T", "60", db}})
			job, group := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
			stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan recorder.Outcome, 1)
			go func() {
				done <- Execute(ctx, recorder.Env{Config: a.cfg, Stdout: stdout, Stderr: stderr, Publisher: a.pub,
					JobID: &job, GroupID: &group}, spec)
			}()
			waitOutput(t, stdout, " measure | tps ", 3, 30*time.Second)
			cancel()
			var out recorder.Outcome
			select {
			case out = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("Execute did not return within 20 s of the cancellation:\n%s", stdout)
			}
			t.Logf("outcome %+v\nstdout:\n%s\nstderr:\n%s", out, stdout, stderr)
			if out.Status != schema.StatusAborted || out.Exit != ExitAborted || out.RunID == uuid.Nil {
				t.Fatalf("outcome %+v, want aborted", out)
			}

			next := Execute(context.Background(), recorder.Env{Config: a.cfg, Publisher: a.pub},
				decodeJobSpec(t, map[string]any{"pgbench_args": []string{"-T", "1", db}}))
			if next.Status != schema.StatusOK {
				t.Fatalf("the run after the aborted one: %+v", next)
			}

			runs := a.records(t)
			st, samples, fin := checkRunShape(t, runs[out.RunID])
			if n := progressLines(stdout.String()); n != len(samples) || n < 3 {
				t.Errorf("%d samples recorded, %d progress lines printed (3 before the stop)", len(samples), n)
			}
			if fin.Status != schema.StatusAborted || fin.Summary == nil || fin.Summary.Ops == 0 {
				t.Errorf("run_finished %+v, want aborted with the measured summary", fin)
			}
			var e runExtra
			if err := json.Unmarshal(fin.Summary.Extra, &e); err != nil || e.PgbenchSignal != "terminated" {
				t.Errorf("extra %s: %v; want pgbench stopped by SIGTERM", fin.Summary.Extra, err)
			}
			if st.JobID == nil || *st.JobID != job || st.GroupID == nil || *st.GroupID != group {
				t.Errorf("run_started names job %v group %v, want %v %v", st.JobID, st.GroupID, job, group)
			}
			if len(runs[next.RunID]) < 3 {
				t.Errorf("the next run has %d records", len(runs[next.RunID]))
			}
		})
	}
}
