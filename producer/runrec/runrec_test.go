package runrec

import (
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

func started() schema.Started {
	return schema.Started{Kind: "ignored", Host: schema.Host{Hostname: "edge-1"}}
}

func sample(t0 time.Time) schema.Sample {
	return schema.Sample{Start: t0, End: t0.Add(time.Second), Phase: schema.PhaseMeasure, Figures: schema.Figures{Ops: 10, OpsRate: 10}}
}

func TestSequenceNumbersFollowTheContract(t *testing.T) {
	r := New(schema.KindMQTT, started())
	if r.ID().Version() != 7 {
		t.Errorf("run id %s is UUID version %d, want 7", r.ID(), r.ID().Version())
	}
	t0 := time.Now()
	var recs []schema.Record
	recs = append(recs, r.Started())
	for range 3 {
		recs = append(recs, r.Sample(sample(t0)))
	}
	recs = append(recs, r.Finished(schema.StatusOK, "", &schema.Summary{Start: t0, End: t0.Add(3 * time.Second)}))

	wantTypes := []string{schema.TypeRunStarted, schema.TypeSample, schema.TypeSample, schema.TypeSample, schema.TypeRunFinished}
	for i, rec := range recs {
		if rec.Seq != int64(i) || rec.Type != wantTypes[i] {
			t.Errorf("record %d: seq %d type %s, want seq %d type %s", i, rec.Seq, rec.Type, i, wantTypes[i])
		}
		if rec.RunID != r.ID() {
			t.Errorf("record %d: run id %s, want %s", i, rec.RunID, r.ID())
		}
		if rec.Time.IsZero() || time.Since(rec.Time) > time.Minute {
			t.Errorf("record %d: time %v is not now", i, rec.Time)
		}
		// Every record must pass the contract's own validation, as Publish will check it.
		if _, err := schema.Encode(rec); err != nil {
			t.Errorf("record %d does not encode: %v", i, err)
		}
	}
	if got := recs[0].Started.Kind; got != schema.KindMQTT {
		t.Errorf("started.kind = %q, want the kind given to New", got)
	}
	if recs[0].Started.StartedAt.IsZero() {
		t.Error("started_at was not set")
	}
	if again := r.Started(); again.Seq != 0 {
		t.Errorf("Started called again: seq %d, want 0", again.Seq)
	}
}

func TestFinishedWithoutSamplesIsSeqOne(t *testing.T) {
	r := New(schema.KindPgbench, started())
	f := r.Finished(schema.StatusFailed, "connection refused", nil)
	if f.Seq != 1 || f.Finished.Status != schema.StatusFailed || f.Finished.Error != "connection refused" {
		t.Errorf("got seq %d finished %+v", f.Seq, f.Finished)
	}
	if _, err := schema.Encode(f); err != nil {
		t.Errorf("encode: %v", err)
	}
}

func TestRunsHaveDistinctIDs(t *testing.T) {
	a, b := New("x", started()), New("x", started())
	if a.ID() == b.ID() {
		t.Fatal("two runs share an id")
	}
}

// TestConcurrentSamplesGetDistinctSequences runs with -race in CI: samples from many goroutines must get every
// number from 1 to n exactly once, and record time must not go backwards as seq goes up.
func TestConcurrentSamplesGetDistinctSequences(t *testing.T) {
	r := New("x", started())
	const goroutines, each = 8, 200
	var mu sync.Mutex
	var got []schema.Record
	var wg sync.WaitGroup
	t0 := time.Now()
	for range goroutines {
		wg.Go(func() {
			for range each {
				rec := r.Sample(sample(t0))
				mu.Lock()
				got = append(got, rec)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	sort.Slice(got, func(i, j int) bool { return got[i].Seq < got[j].Seq })
	for i, rec := range got {
		if rec.Seq != int64(i+1) {
			t.Fatalf("after sorting, record %d has seq %d: numbers are missing or repeated", i, rec.Seq)
		}
		if i > 0 && rec.Time.Before(got[i-1].Time) {
			t.Fatalf("seq %d has time %v before seq %d's %v", rec.Seq, rec.Time, got[i-1].Seq, got[i-1].Time)
		}
	}
	if f := r.Finished(schema.StatusOK, "", nil); f.Seq != goroutines*each+1 {
		t.Errorf("run_finished seq %d, want %d", f.Seq, goroutines*each+1)
	}
}
