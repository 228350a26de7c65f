package recorder_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

const topic = "benchpipe.records"

// syncBuffer is a bytes.Buffer the writer goroutine and the test can share.
type syncBuffer = testenv.Buffer

func testConfig(spoolDir string, brokers ...string) *config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Producer.SpoolDir = spoolDir
	return &cfg
}

func sample() schema.Sample {
	t0 := time.Now()
	return schema.Sample{Start: t0.Add(-time.Second), End: t0, Phase: schema.PhaseMeasure, Figures: schema.Figures{Ops: 5, OpsRate: 5}}
}

func started() schema.Started {
	return schema.Started{Host: schema.Host{Hostname: "edge-1"}}
}

// fill writes zeros to a file in dir until the filesystem is full, and returns the file's path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("fill %s: %v", dir, err)
			}
			return path
		}
	}
}

// TestDiskFullFailsTheRun: the spool's disk (a real tmpfs) fills up in the middle of a run and frees up again
// before its end. Every record that did not reach the disk is counted and named, run_finished says the run failed
// because of them, the exit status is 1, and "delivered" is never said of records that were never spooled.
func TestDiskFullFailsTheRun(t *testing.T) {
	disk := testenv.Tmpfs(t, "512k")
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, topic))
	var stdout, stderr syncBuffer
	r, err := recorder.Open(context.Background(), testConfig(filepath.Join(disk, "spool"), brokers...), "producer test", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	r.Begin(schema.KindMQTT, started())
	for range 3 {
		r.Publish(r.Run().Sample(sample()))
	}
	r.WaitWritten(t, 10*time.Second)

	filler := fill(t, disk)
	const whileFull = 40
	for range whileFull {
		r.Publish(r.Run().Sample(sample()))
	}
	r.WaitWritten(t, 10*time.Second)
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	r.Publish(r.Run().Finished(schema.StatusOK, "", nil))
	code := r.Close(0)
	t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())

	const total = 1 + 3 + whileFull + 1
	got := consumeRun(t, brokers, r.Run().ID())
	var missing []int64
	for seq := int64(0); seq < total; seq++ {
		if _, ok := got[seq]; !ok {
			missing = append(missing, seq)
		}
	}
	if len(missing) == 0 {
		t.Fatalf("every record reached Kafka; the full disk refused none (tmpfs too large?)")
	}
	if code != recorder.ExitNotSaved {
		t.Errorf("Close(0) = %d, want %d: records were lost", code, recorder.ExitNotSaved)
	}
	want := fmt.Sprintf("%d records of %d not saved to the spool", len(missing), total)
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr does not say %q", want)
	}
	for _, seq := range []int64{missing[0], missing[len(missing)-1]} {
		if !strings.Contains(stderr.String(), fmt.Sprintf("seq %d", seq)) && !strings.Contains(stderr.String(), fmt.Sprintf("%d–", seq)) &&
			!strings.Contains(stderr.String(), fmt.Sprintf("–%d", seq)) && !strings.Contains(stderr.String(), fmt.Sprintf("and %d", seq)) {
			t.Errorf("stderr does not name seq %d, an end of the lost range", seq)
		}
	}
	if !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("stderr does not give the disk's error")
	}
	if strings.Contains(stdout.String(), "records: delivered") || !strings.Contains(stdout.String(), "NOT SAVED") {
		t.Errorf("stdout must not claim delivery of everything, and must say records were not saved:\n%s", stdout.String())
	}
	fin, ok := got[total-1]
	if !ok {
		t.Fatalf("run_finished (seq %d) not in Kafka; the disk had room again when it was written", total-1)
	}
	if fin.Finished.Status != schema.StatusFailed || !strings.Contains(fin.Finished.Error, fmt.Sprintf("%d records of this run not saved", len(missing))) {
		t.Errorf("run_finished = %+v; want failed, naming the %d records not saved", fin.Finished, len(missing))
	}
}

// consumeRun reads the records of run from Kafka, by seq.
func consumeRun(t *testing.T, brokers []string, run uuid.UUID) map[int64]schema.Record {
	t.Helper()
	out := map[int64]schema.Record{}
	// Close returned after Kafka acknowledged everything saved; 3 s is ample for the fetch to see it all.
	for _, kr := range testenv.Consume(t, brokers, topic, 1<<20, 3*time.Second) {
		rec, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatal(err)
		}
		if rec.RunID == run {
			out[rec.Seq] = rec
		}
	}
	return out
}

// TestHungDiskNeverStopsTheLoop: the spool's disk hangs (a real ext4 frozen with fsfreeze: writes and fsyncs block
// in the kernel) in the middle of a run. The per-second loop (here every 100 ms) keeps its schedule because
// Publish never waits for the disk, and the end of the run — Ctrl-C, say — returns within WriteTimeout and a few
// seconds, reporting every record made since the disk hung as not saved.
func TestHungDiskNeverStopsTheLoop(t *testing.T) {
	disk := testenv.FreezableDisk(t)
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, topic))
	var stdout, stderr syncBuffer
	r, err := recorder.Open(context.Background(), testConfig(filepath.Join(disk.Dir, "spool"), brokers...), "producer test", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	r.Begin(schema.KindMQTT, started())
	r.WaitWritten(t, 10*time.Second)
	disk.Freeze()

	const ticks, period = 20, 100 * time.Millisecond
	type tick struct {
		at      time.Time
		publish time.Duration
	}
	done := make(chan tick)
	go func() {
		defer close(done)
		next := time.Now()
		for range ticks {
			next = next.Add(period)
			time.Sleep(time.Until(next))
			t0 := time.Now()
			r.Publish(r.Run().Sample(sample()))
			done <- tick{at: t0, publish: time.Since(t0)}
		}
	}()
	start := time.Now()
	for i := range ticks {
		select {
		case tk := <-done:
			if tk.publish > 20*time.Millisecond {
				t.Errorf("tick %d: Publish took %v; it must not wait for the disk", i, tk.publish)
			}
			// Generous: the machine may be busy; a loop waiting on the disk would be seconds late, or never come.
			if late := tk.at.Sub(start.Add(time.Duration(i+1) * period)); late > 500*time.Millisecond {
				t.Errorf("tick %d ran %v late", i, late)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("tick %d did not come within 2 s: the loop is stuck on the hung disk", i)
		}
	}
	r.Publish(r.Run().Finished(schema.StatusAborted, "interrupted", nil))

	closed := make(chan int)
	closeStart := time.Now()
	go func() { closed <- r.Close(130) }()
	const bound = recorder.WriteTimeout + 5*time.Second
	select {
	case code := <-closed:
		took := time.Since(closeStart)
		t.Logf("Close took %v\nstdout:\n%s\nstderr:\n%s", took, stdout.String(), stderr.String())
		if code != 130 {
			t.Errorf("Close(130) = %d; the interrupted status stays", code)
		}
	case <-time.After(bound):
		t.Fatalf("Close did not return within %v on a hung disk", bound)
	}
	want := fmt.Sprintf("%d records of %d not saved to the spool", ticks+1, ticks+2)
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), fmt.Sprintf("seq 1–%d: 1 run_finished, %d sample", ticks+1, ticks)) {
		t.Errorf("stderr does not say %q, seq 1–%d", want, ticks+1)
	}
	if !strings.Contains(stdout.String(), "NOT SAVED") || strings.Contains(stdout.String(), "delivered to Kafka") {
		t.Errorf("stdout must say records were not saved, and not claim delivery:\n%s", stdout.String())
	}
}

// TestQueueOverflowIsCounted: while the disk hangs, records pile up in the writer's queue; once QueueLength wait,
// each further record fails at once, counted and reported while the run goes on, never blocking Publish.
func TestQueueOverflowIsCounted(t *testing.T) {
	disk := testenv.FreezableDisk(t)
	var stdout, stderr syncBuffer
	// Kafka down: nothing is deleted from the spool, so nothing but these records writes to the disk.
	r, err := recorder.Open(context.Background(), testConfig(filepath.Join(disk.Dir, "spool"), "127.0.0.1:1"), "producer test", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	r.Begin(schema.KindMQTT, started())
	r.WaitWritten(t, 10*time.Second)
	disk.Freeze()
	r.Publish(r.Run().Sample(sample())) // the writer takes it and hangs with the disk
	deadline := time.Now().Add(5 * time.Second)
	for r.Queued() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the writer never took the first record")
		}
		time.Sleep(time.Millisecond)
	}
	const over = 3
	start := time.Now()
	for range recorder.QueueLength + over {
		r.Publish(r.Run().Sample(sample()))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d Publish calls took %v", recorder.QueueLength+over, took)
	}
	if got := stderr.String(); !strings.Contains(got, "records are not being saved") || !strings.Contains(got, "spool write queue full") ||
		!strings.Contains(got, fmt.Sprintf("(%d records waiting)", recorder.QueueLength)) {
		t.Errorf("no overflow reported while the run goes on; stderr:\n%s", got)
	}
	if code := r.Close(0); code != recorder.ExitNotSaved {
		t.Errorf("Close(0) = %d, want %d", code, recorder.ExitNotSaved)
	}
	total := 1 + 1 + recorder.QueueLength + over
	want := fmt.Sprintf("%d records of %d not saved to the spool", total-1, total)
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), fmt.Sprintf("seq 1–%d", total-1)) {
		t.Errorf("stderr does not say %q, seq 1–%d:\n%s", want, total-1, stderr.String())
	}
}
