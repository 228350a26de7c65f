package mqttload

import (
	"context"
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

// agentSetup is what the fleet agent has when it runs jobs: a configuration and its own long-lived spool
// publisher, here shipping to a Kafka of the test's backend.
type agentSetup struct {
	cfg   *config.Config
	pub   *publish.Publisher
	kc    *testenv.KafkaCluster
	topic string
}

func newAgentSetup(t *testing.T, kb testenv.KafkaBackend) *agentSetup {
	t.Helper()
	kc := kb.Start(t, map[string]int32{"benchpipe.records": 1})
	cfg := config.Default()
	cfg.Kafka.Brokers = kc.Brokers
	cfg.Producer.SpoolDir = t.TempDir()
	cfg.Producer.Topic = kc.Topic("benchpipe.records")
	cfg.Producer.Tags = map[string]string{"site": "lab"}
	pub, err := publish.Open(context.Background(), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pub.Close(context.Background()) })
	return &agentSetup{cfg: &cfg, pub: pub, kc: kc, topic: cfg.Producer.Topic}
}

// records closes the publisher (the agent stopping), which delivers the spool, and returns each run's records
// from Kafka in order.
func (a *agentSetup) records(t *testing.T) map[uuid.UUID][]schema.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.pub.Close(ctx); err != nil {
		t.Fatalf("close the shared publisher: %v", err)
	}
	out := map[uuid.UUID][]schema.Record{}
	for _, kr := range testenv.ConsumeAll(t, a.kc.Brokers, a.topic) {
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("record does not decode: %v\n%s", err, kr.Value)
		}
		out[r.RunID] = append(out[r.RunID], r)
	}
	return out
}

// checkRun asserts one run's record stream — run_started (seq 0), samples 1…n, run_finished n+1 with status —
// and that it holds exactly one sample per progress line the run printed. It returns run_started and the sample
// count.
func checkRun(t *testing.T, recs []schema.Record, status schema.Status, stdout string) (*schema.Started, int) {
	t.Helper()
	if len(recs) < 2 || recs[0].Type != schema.TypeRunStarted || recs[len(recs)-1].Type != schema.TypeRunFinished {
		t.Fatalf("%d records, want run_started … run_finished", len(recs))
	}
	for i, r := range recs {
		if r.Seq != int64(i) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && i < len(recs)-1 && r.Type != schema.TypeSample {
			t.Fatalf("record %d is a %s", i, r.Type)
		}
	}
	samples := len(recs) - 2
	if lines := progressLines(stdout); samples != lines {
		t.Errorf("%d samples recorded, %d progress lines printed:\n%s", samples, lines, stdout)
	}
	if f := recs[len(recs)-1].Finished; f.Status != status {
		t.Errorf("run_finished status %s (%s), want %s", f.Status, f.Error, status)
	}
	return recs[0].Started, samples
}

// progressLines counts the progress lines (one per sample) in a run's non-terminal output.
func progressLines(stdout string) int {
	n := 0
	for _, l := range strings.Split(stdout, "\n") {
		if strings.Contains(l, " | sent ") {
			n++
		}
	}
	return n
}

func decodeSpec(t *testing.T, js string) Spec {
	t.Helper()
	s, err := DecodeSpec([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestExecuteSharedPublisher runs two jobs' runs one after the other on the agent's one publisher, as the agent
// does: each is a whole run (its own run id, run_started … run_finished, ok), the first names its job and group,
// OnStarted reports each run id once, and the publisher stays open for the next run and ships both.
func TestExecuteSharedPublisher(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			a := newAgentSetup(t, kb)
			spec := decodeSpec(t, `{"embedded_target": true, "qos": 1, "rate": 200, "duration": "2s"}`)
			job, group := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())

			var outs []recorder.Outcome
			var stdouts []*testenv.Buffer
			for i, jobID := range []*uuid.UUID{&job, nil} {
				started := make(chan uuid.UUID, 2)
				stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
				env := recorder.Env{Config: a.cfg, Stdout: stdout, Stderr: stderr, Publisher: a.pub,
					Name: "job run", Tags: map[string]string{"run": string(rune('a' + i))},
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
				if !strings.Contains(stdout.String(), "records: saved to the spool") {
					t.Errorf("run %d: stdout does not say where the records are:\n%s", i, stdout)
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
				st, samples := checkRun(t, runs[out.RunID], schema.StatusOK, stdouts[i].String())
				if samples < 2 {
					t.Errorf("run %d: %d samples for a 2 s run", i, samples)
				}
				if st.Name != "job run" || st.Tags["site"] != "lab" || st.Tags["run"] != string(rune('a'+i)) {
					t.Errorf("run %d: name %q, tags %v", i, st.Name, st.Tags)
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

// TestExecuteAbortedByContext stops a job's run mid-run by cancelling its context, as the agent's stop does: the
// outcome is aborted, run_finished says aborted, every sample made is kept, and the publisher takes the next run.
func TestExecuteAbortedByContext(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			a := newAgentSetup(t, kb)
			spec := decodeSpec(t, `{"embedded_target": true, "qos": 1, "rate": 200, "duration": "60s"}`)
			job, group := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
			stdout, stderr := &testenv.Buffer{}, &testenv.Buffer{}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan recorder.Outcome, 1)
			go func() {
				done <- Execute(ctx, recorder.Env{Config: a.cfg, Stdout: stdout, Stderr: stderr, Publisher: a.pub,
					JobID: &job, GroupID: &group}, spec)
			}()
			deadline := time.Now().Add(20 * time.Second)
			for progressLines(stdout.String()) < 3 {
				if time.Now().After(deadline) {
					t.Fatalf("no 3 progress lines within 20 s:\n%s\n%s", stdout, stderr)
				}
				time.Sleep(20 * time.Millisecond)
			}
			stopped := time.Now()
			cancel()
			var out recorder.Outcome
			select {
			case out = <-done:
			case <-time.After(20 * time.Second):
				t.Fatalf("Execute did not return within 20 s of the cancellation:\n%s", stdout)
			}
			t.Logf("outcome %+v after %v\nstdout:\n%s\nstderr:\n%s", out, time.Since(stopped), stdout, stderr)
			if out.Status != schema.StatusAborted || out.Exit != ExitAborted || out.RunID == uuid.Nil {
				t.Fatalf("outcome %+v, want aborted", out)
			}

			// The publisher outlives the aborted run: the next one runs on it.
			next := Execute(context.Background(), recorder.Env{Config: a.cfg, Publisher: a.pub},
				decodeSpec(t, `{"embedded_target": true, "rate": 100, "duration": "1s"}`))
			if next.Status != schema.StatusOK {
				t.Fatalf("the run after the aborted one: %+v", next)
			}

			runs := a.records(t)
			recs := runs[out.RunID]
			st, samples := checkRun(t, recs, schema.StatusAborted, stdout.String())
			if samples < 3 {
				t.Errorf("%d samples kept, want the 3 printed before the stop at least", samples)
			}
			if st.JobID == nil || *st.JobID != job || st.GroupID == nil || *st.GroupID != group {
				t.Errorf("run_started names job %v group %v, want %v %v", st.JobID, st.GroupID, job, group)
			}
			fin := recs[len(recs)-1].Finished
			if fin.Summary == nil || fin.Summary.Ops == 0 {
				t.Errorf("the aborted run's summary is %+v, want its measured figures", fin.Summary)
			}
			if len(runs[next.RunID]) < 3 {
				t.Errorf("the next run has %d records", len(runs[next.RunID]))
			}
		})
	}
}
