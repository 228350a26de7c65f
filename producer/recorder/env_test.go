package recorder_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// run makes one run of three samples through env and returns its outcome after closing, and the run ids
// OnStarted was called with.
func run(t *testing.T, env recorder.Env) (recorder.Outcome, []uuid.UUID) {
	t.Helper()
	var calls []uuid.UUID // appended by the writer goroutine, read after Close has waited for it
	env.OnStarted = func(id uuid.UUID) { calls = append(calls, id) }
	r, err := env.Prepared().Recorder(context.Background(), "producer test")
	if err != nil {
		t.Fatal(err)
	}
	r.Begin(schema.KindMQTT, started())
	for range 3 {
		r.Publish(r.Run().Sample(sample()))
	}
	r.Publish(r.Run().Finished(schema.StatusOK, "", nil))
	out := recorder.CloseOutcome(r, recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusOK})
	return out, calls
}

// TestEnvSharedPublisher: runs recorded through an Env with the agent's publisher leave it open for the next run,
// name the Env's job and group on run_started, call OnStarted once with the run id, and Close waits for the spool
// only: with Kafka down it returns at once, the records waiting in the spool, delivered once Kafka is back.
func TestEnvSharedPublisher(t *testing.T) {
	seeds, up := testenv.KafkaBackend{Name: testenv.BackendKfake}.Down(t, topic, 1)
	cfg := testConfig(filepath.Join(t.TempDir(), "spool"), seeds...)
	pub, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	job, group := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	var stdout testenv.Buffer
	env := recorder.Env{Config: cfg, Stdout: &stdout, Publisher: pub, JobID: &job, GroupID: &group}

	start := time.Now()
	first, calls1 := run(t, env)
	env.JobID, env.GroupID = nil, nil
	second, calls2 := run(t, env)
	if took := time.Since(start); took > recorder.CloseTimeout/2 {
		t.Errorf("two runs took %v with Kafka down: Close waited for Kafka, not for the spool", took)
	}
	for i, c := range []struct {
		out   recorder.Outcome
		calls []uuid.UUID
	}{{first, calls1}, {second, calls2}} {
		if c.out.Status != schema.StatusOK || c.out.Exit != 0 || c.out.NotSaved || c.out.NotSavedRecords != 0 || c.out.Err != "" {
			t.Errorf("run %d: outcome %+v", i, c.out)
		}
		if len(c.calls) != 1 || c.calls[0] != c.out.RunID {
			t.Errorf("run %d: OnStarted calls %v, want one with %v", i, c.calls, c.out.RunID)
		}
	}
	if st := pub.Stats(); st.Spooled != 10 || st.Pending != 10 || st.Delivered != 0 {
		t.Errorf("publisher stats %+v; want the two runs' 10 records spooled and waiting for Kafka", st)
	}
	if got := strings.Count(stdout.String(), "records: saved to the spool"); got != 2 {
		t.Errorf("stdout says %d times where the records are, want 2:\n%s", got, stdout.String())
	}

	brokers := up()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for pub.Stats().Delivered < 10 && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatal(err)
	}
	byRun := map[uuid.UUID][]schema.Record{}
	for _, kr := range testenv.ConsumeAll(t, brokers, topic) {
		rec, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatal(err)
		}
		byRun[rec.RunID] = append(byRun[rec.RunID], rec)
	}
	if len(byRun[first.RunID]) != 5 || len(byRun[second.RunID]) != 5 {
		t.Fatalf("records in Kafka: %d and %d, want 5 of each run", len(byRun[first.RunID]), len(byRun[second.RunID]))
	}
	if st := byRun[first.RunID][0].Started; st.JobID == nil || *st.JobID != job || st.GroupID == nil || *st.GroupID != group {
		t.Errorf("first run_started names job %v group %v, want %v %v", st.JobID, st.GroupID, job, group)
	}
	if st := byRun[second.RunID][0].Started; st.JobID != nil || st.GroupID != nil {
		t.Errorf("second run_started names job %v group %v, want none", st.JobID, st.GroupID)
	}
}

// TestCloseOutcomeNotSaved: an ok run whose records could not be saved (here: the agent's publisher was closed
// under it) ends failed, NotSaved, with ExitNotSaved, their count and a reason counting them; an aborted run keeps
// its status and exit code, and its reason and count say what was not saved too.
func TestCloseOutcomeNotSaved(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, topic))
	cfg := testConfig(filepath.Join(t.TempDir(), "spool"), brokers...)
	pub, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var stderr testenv.Buffer
	env := recorder.Env{Config: cfg, Stderr: &stderr, Publisher: pub}
	out, calls := run(t, env)
	// run_started, 3 samples, run_finished: none reaches the closed spool.
	want := recorder.Outcome{RunID: out.RunID, Status: schema.StatusFailed, Err: "5 records of this run not saved to the producer's spool",
		Exit: recorder.ExitNotSaved, NotSaved: true, NotSavedRecords: 5}
	if out != want || out.RunID == uuid.Nil {
		t.Errorf("outcome %+v, want %+v", out, want)
	}
	if !strings.Contains(stderr.String(), "5 records of 5 not saved to the spool") {
		t.Errorf("stderr does not report the 5 records the outcome counts:\n%s", stderr.String())
	}
	if len(calls) != 1 || calls[0] != out.RunID {
		t.Errorf("OnStarted calls %v: it is called even when run_started could not be saved", calls)
	}

	r, err := env.Recorder(context.Background(), "producer test")
	if err != nil {
		t.Fatal(err)
	}
	r.Begin(schema.KindMQTT, started())
	aborted := recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusAborted, Err: "interrupted", Exit: 130}
	want = recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusAborted, Exit: 130, NotSavedRecords: 1,
		Err: "interrupted; 1 record of this run not saved to the producer's spool"}
	if got := recorder.CloseOutcome(r, aborted); got != want {
		t.Errorf("aborted run with its run_started not saved: %+v, want %+v", got, want)
	}
}

// TestCloseOutcomeCountsWhatCloseReported: a record published after the records were closed is counted as not
// saved by the recorder, but the outcome keeps the count Close reported (and --summary-json shows): asking again
// gives the same answer.
func TestCloseOutcomeCountsWhatCloseReported(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, topic))
	cfg := testConfig(filepath.Join(t.TempDir(), "spool"), brokers...)
	pub, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close(context.Background())
	r := recorder.New(context.Background(), pub, cfg, "producer test", &testenv.Buffer{}, &testenv.Buffer{})
	r.Begin(schema.KindMQTT, started())
	r.Publish(r.Run().Finished(schema.StatusOK, "", nil))
	first := recorder.CloseOutcome(r, recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusOK})
	want := recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusOK}
	if first != want {
		t.Errorf("outcome %+v, want %+v: both records were saved", first, want)
	}
	r.Publish(r.Run().Sample(sample())) // too late: counted, not saved
	if again := recorder.CloseOutcome(r, recorder.Outcome{RunID: r.Run().ID(), Status: schema.StatusOK}); again != want {
		t.Errorf("outcome after a late record %+v, want %+v as Close reported", again, want)
	}
}
