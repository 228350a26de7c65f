// Package runrec builds one run's record stream with the sequence numbers the record contract requires:
// run_started is seq 0, samples are 1, 2, … in the order they are made, and run_finished takes the next number.
// A load generator makes a Run when it starts and hands each record it returns to publish.Publisher.Publish.
//
// Run is safe for concurrent use, so a sampler goroutine and the goroutine that ends the run can share it; the
// sequence number is taken when a record is made, so records made concurrently get distinct numbers in the order
// the calls happened.
package runrec

import (
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/schema"
)

// Run is one run's record factory.
type Run struct {
	id      uuid.UUID
	started schema.Started
	now     func() time.Time

	mu      sync.Mutex
	nextSeq int64 // seq of the next sample or run_finished record
}

// New starts a run of the given kind with a new run id (a UUIDv7, so ids sort by start time). kind overrides
// started.Kind; a zero started.StartedAt is set to now.
func New(kind string, started schema.Started) *Run {
	return newRun(kind, started, time.Now)
}

func newRun(kind string, started schema.Started, now func() time.Time) *Run {
	started.Kind = kind
	if started.StartedAt.IsZero() {
		started.StartedAt = now().UTC()
	}
	return &Run{id: uuid.Must(uuid.NewV7()), started: started, now: now, nextSeq: 1}
}

// ID returns the run id: the key of every record of the run.
func (r *Run) ID() uuid.UUID { return r.id }

// Started returns the run_started record (seq 0). It may be called again, e.g. to publish it anew; each call
// returns the same content with the current time.
func (r *Run) Started() schema.Record {
	s := r.started
	return schema.Record{V: schema.Version, Type: schema.TypeRunStarted, RunID: r.id, Seq: 0, Time: r.now().UTC(), Started: &s}
}

// Sample returns a sample record with the next sequence number (1, 2, …).
func (r *Run) Sample(s schema.Sample) schema.Record {
	seq, now := r.take()
	return schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: r.id, Seq: seq, Time: now, Sample: &s}
}

// Observation returns an observation record (a round of cluster probes) with the next sequence number: a run's
// observations and samples share one sequence.
func (r *Run) Observation(o schema.Observation) schema.Record {
	seq, now := r.take()
	return schema.Record{V: schema.Version, Type: schema.TypeObservation, RunID: r.id, Seq: seq, Time: now, Observation: &o}
}

// Finished returns the run_finished record with the next sequence number. summary is nil when the run failed
// before measuring anything. Call it once, after the last Sample: a sample made later gets a higher sequence
// number than run_finished.
func (r *Run) Finished(status schema.Status, errText string, summary *schema.Summary) schema.Record {
	seq, now := r.take()
	return schema.Record{
		V: schema.Version, Type: schema.TypeRunFinished, RunID: r.id, Seq: seq, Time: now,
		Finished: &schema.Finished{Status: status, Error: errText, FinishedAt: now, Summary: summary},
	}
}

// take returns the next sequence number and the record time, read together so that record times never go
// backwards as sequence numbers go up.
func (r *Run) take() (int64, time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := r.nextSeq
	r.nextSeq++
	return seq, r.now().UTC()
}
