// Package recorder is what every load command (producer mqtt, producer pgbench) does with a run's records: the
// tags from the configuration and the command line, the numbered record stream (runrec), handing each record to
// the durable spool without ever stopping the measurement, waiting a while for Kafka at the end, and the optional
// comparison with an earlier run. The commands measure; this package keeps the books the same way for both, and
// for the fleet agent's runs of the same commands: Env says where a run executes (its own spool, or the agent's
// long-lived publisher, and the job it is for), Outcome how it ended.
//
// The measurement loop never waits for the disk: Publish only queues the record for a writer goroutine, which
// owns the spool writes and keeps the records' order. A disk that is full, slow or hung costs records, never
// ticks of the loop, and never holds the end of the run beyond WriteTimeout. Records that could not be saved are
// counted and named (sequence numbers, types), fail the run's exit status and, when run_finished itself can still
// be saved, its status.
package recorder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// CloseTimeout bounds how long Close waits for the spool to reach Kafka; what is left is shipped by the next
// start or by `producer spool flush`.
const CloseTimeout = 10 * time.Second

// WriteTimeout is how long one spool write may take before the disk counts as hung: the writer warns, and Close
// stops waiting and counts what is still queued as not saved. A healthy disk, even an SD card, writes a record in
// milliseconds; a hung one would otherwise keep the producer from ever exiting. A slow disk that keeps completing
// writes is waited for.
const WriteTimeout = 5 * time.Second

// QueueLength is how many records may wait for the disk. A run makes about one record a second, so a full queue
// means the disk has not answered for an hour; further records are then counted as not saved.
const QueueLength = 4096

// ExitNotSaved is the exit status of a run that measured fine but whose records could not all be saved: the
// load commands' "failed".
const ExitNotSaved = 1

// ErrQueueFull is why a record is not saved when the disk has fallen QueueLength records behind.
var ErrQueueFull = errors.New("spool write queue full: the disk has not kept up")

// Recorder keeps one run's records. Create it with Open (its own spool) or New (a shared publisher), or through
// Env.Recorder; start the run with Begin, finish with Close.
type Recorder struct {
	command        string // "producer mqtt", for messages
	cfg            *config.Config
	pub            *publish.Publisher
	sharedPub      bool // pub belongs to the caller: Close leaves it open
	run            *runrec.Run
	stdout, stderr io.Writer

	jobID, groupID *uuid.UUID            // set on run_started (Env's job)
	onStarted      func(runID uuid.UUID) // called by the writer once run_started is dealt with

	queue      chan item
	stopWrites context.CancelCauseFunc // makes the writer give up on a disk that does not answer
	written    chan struct{}           // closed when the writer has returned

	mu        sync.Mutex
	closed    bool
	closeCode int       // Close's answer for an exit status of 0, once closed
	closeLost int       // the records Close reported not saved, once closed
	queued    int       // items handed to Publish or PublishRaw
	handled   int       // items the writer has finished with, saved or not
	writing   time.Time // when the write in progress began; zero while the writer waits for work
	lost      lost      // what was not saved
	firstErr  error     // printed once, as it happens
	closeOnce sync.Once
}

// item is one queued write: a record, or a raw value (PublishRaw).
type item struct {
	rec        *schema.Record
	topic      string
	key, value []byte
	time       time.Time
}

// name says which record it is, for errors.
func (it item) name() string {
	if it.rec != nil {
		return fmt.Sprintf("%s record %d", it.rec.Type, it.rec.Seq)
	}
	return it.describe()
}

// describe says what kind of record it is, for counts.
func (it item) describe() string {
	if it.rec != nil {
		return string(it.rec.Type)
	}
	return "value for topic " + it.topic
}

// lost counts the records that were not saved, by kind and sequence number.
type lost struct {
	n              int
	minSeq, maxSeq int64
	seqs           int // how many of them have a sequence number (records, not raw values)
	kinds          map[string]int
	first          error
}

func (l *lost) add(it item, err error) {
	l.n++
	if l.first == nil {
		l.first = err
	}
	if l.kinds == nil {
		l.kinds = map[string]int{}
	}
	l.kinds[it.describe()]++
	if it.rec == nil {
		return
	}
	if l.seqs == 0 || it.rec.Seq < l.minSeq {
		l.minSeq = it.rec.Seq
	}
	if l.seqs == 0 || it.rec.Seq > l.maxSeq {
		l.maxSeq = it.rec.Seq
	}
	l.seqs++
}

// String says which records: "seq 12–18: 6 sample, 1 run_finished".
func (l *lost) String() string {
	var kinds []string
	for k, n := range l.kinds {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	s := strings.Join(kinds, ", ")
	switch {
	case l.seqs == 0:
		return s
	case l.minSeq == l.maxSeq:
		return fmt.Sprintf("seq %d: %s", l.minSeq, s)
	case int64(l.seqs) == l.maxSeq-l.minSeq+1:
		return fmt.Sprintf("seq %d–%d: %s", l.minSeq, l.maxSeq, s)
	}
	return fmt.Sprintf("%d records between seq %d and %d: %s", l.seqs, l.minSeq, l.maxSeq, s)
}

func records(n int) string {
	if n == 1 {
		return "1 record"
	}
	return fmt.Sprintf("%d records", n)
}

// Open opens the spool (and starts shipping it) for command.
func Open(ctx context.Context, cfg *config.Config, command string, stdout, stderr io.Writer) (*Recorder, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	pub, err := publish.Open(ctx, cfg, publish.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("run records: %w", err)
	}
	return start(ctx, cfg, pub, false, command, stdout, stderr), nil
}

// New keeps one run's records in pub, a publisher the caller owns and keeps open across runs (the fleet agent's
// spool): Close waits for this run's records to be in the spool, as with Open, but neither closes pub nor waits
// for Kafka, which pub's owner ships to.
func New(ctx context.Context, pub *publish.Publisher, cfg *config.Config, command string, stdout, stderr io.Writer) *Recorder {
	return start(ctx, cfg, pub, true, command, stdout, stderr)
}

func start(ctx context.Context, cfg *config.Config, pub *publish.Publisher, shared bool, command string, stdout, stderr io.Writer) *Recorder {
	// The writes outlive the command's ctx: after Ctrl-C (or the agent's stop) the run is still finished as
	// aborted and saved.
	wctx, stop := context.WithCancelCause(context.WithoutCancel(ctx))
	r := &Recorder{command: command, cfg: cfg, pub: pub, sharedPub: shared, stdout: stdout, stderr: stderr,
		queue: make(chan item, QueueLength), stopWrites: stop, written: make(chan struct{})}
	go r.writeLoop(wctx)
	return r
}

// Tags merges producer.tags, producer.device (as the "device" tag) and the command line's --tag values, the last
// winning. Nil when there are none.
func (r *Recorder) Tags(flagTags map[string]string) map[string]string {
	t := map[string]string{}
	for k, v := range r.cfg.Producer.Tags {
		t[k] = v
	}
	if r.cfg.Producer.Device != "" {
		t["device"] = r.cfg.Producer.Device
	}
	for k, v := range flagTags {
		t[k] = v
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// Host returns this machine's facts for run_started, with producer.device, when set, as the host name: that is
// the name the viewer lists as the device and `producer compare --baseline last` matches on.
func (r *Recorder) Host() schema.Host {
	h := hostinfo.Collect()
	if r.cfg.Producer.Device != "" {
		h.Hostname = r.cfg.Producer.Device
	}
	return h
}

// Begin starts the run's record stream with its run_started record, naming the job and group of the Env the
// recorder came from, if any.
func (r *Recorder) Begin(kind string, s schema.Started) {
	if s.JobID == nil {
		s.JobID = r.jobID
	}
	if s.GroupID == nil {
		s.GroupID = r.groupID
	}
	r.run = runrec.New(kind, s)
	r.Publish(r.run.Started())
}

// Run is the run Begin started.
func (r *Recorder) Run() *runrec.Run { return r.run }

// Publish queues a record for the spool and returns at once: the measurement loop never waits for the disk. A
// record that can't be saved (the disk is full or failing, the queue is full, the record is invalid) is counted,
// the first failure is reported on stderr as it happens, and the run goes on: the measurement is still worth its
// printed summary and --summary-json. Close says which records were lost and fails the exit status.
func (r *Recorder) Publish(rec schema.Record) {
	r.enqueue(item{rec: &rec})
}

// PublishRaw queues a value that is not a benchpipe record (e.g. a SINETStream perftool result) for topic, keyed
// by the run id, on the same terms as Publish. It never fails by itself: a value not saved is counted with the
// records.
func (r *Recorder) PublishRaw(topic string, value []byte) error {
	r.enqueue(item{topic: topic, key: []byte(r.run.ID().String()), value: value, time: time.Now()})
	return nil
}

func (r *Recorder) enqueue(it item) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queued++
	if r.closed {
		r.failLocked(it, fmt.Errorf("%s after the records were closed: %w", it.name(), publish.ErrClosed))
		return
	}
	select {
	case r.queue <- it:
	default:
		r.failLocked(it, fmt.Errorf("%s: %w (%d records waiting)", it.name(), ErrQueueFull, len(r.queue)))
	}
}

// failLocked counts it as not saved. r.mu is held.
func (r *Recorder) failLocked(it item, err error) {
	r.handled++
	r.lost.add(it, err)
	if r.firstErr == nil {
		r.firstErr = err
		fmt.Fprintf(r.stderr, "%s: records are not being saved: %v\n", r.command, err)
	}
}

// writeLoop is the spool's only writer for this run: it takes the queue in order, so records keep their order on
// disk, and runs until the queue is closed. Once ctx ends (the disk did not answer within WriteTimeout) every
// write still queued fails at once.
func (r *Recorder) writeLoop(ctx context.Context) {
	defer close(r.written)
	for it := range r.queue {
		r.mu.Lock()
		r.writing = time.Now()
		r.mu.Unlock()
		// A hung disk fails nothing by itself: say so while the run goes on, not only at its end.
		slow := time.AfterFunc(WriteTimeout, func() {
			fmt.Fprintf(r.stderr, "%s: warning: the spool's disk has not completed a write for %v; records wait in memory (at most %d)\n",
				r.command, WriteTimeout, QueueLength)
		})
		err := r.write(ctx, it)
		slow.Stop()
		r.mu.Lock()
		r.writing = time.Time{}
		if err != nil {
			r.failLocked(it, err)
		} else {
			r.handled++
		}
		r.mu.Unlock()
		if it.rec != nil && it.rec.Type == schema.TypeRunStarted && r.onStarted != nil {
			// Once, after the write: the run is in the spool, or its record was counted lost and the run goes on
			// regardless, as it does for the command.
			r.onStarted(it.rec.RunID)
			r.onStarted = nil
		}
	}
}

func (r *Recorder) write(ctx context.Context, it item) error {
	if it.rec == nil {
		return r.pub.PublishRaw(ctx, it.topic, it.key, it.value, it.time)
	}
	rec := *it.rec
	if rec.Type == schema.TypeRunFinished {
		rec = r.amend(rec)
	}
	return r.pub.Publish(ctx, rec)
}

// amend makes run_finished say that records of the run were lost: the writer has dealt with every earlier record
// by now, so the count is complete. An ok run becomes failed, since the database will not hold all it measured.
func (r *Recorder) amend(rec schema.Record) schema.Record {
	r.mu.Lock()
	n, which, first := r.lost.n, r.lost.String(), r.lost.first
	r.mu.Unlock()
	if n == 0 {
		return rec
	}
	f := *rec.Finished
	note := fmt.Sprintf("%s of this run not saved to the producer's spool (%s): %v", records(n), which, first)
	if f.Status == schema.StatusOK {
		f.Status, f.Error = schema.StatusFailed, note
	} else {
		f.Error = strings.TrimPrefix(f.Error+"; "+note, "; ")
	}
	rec.Finished = &f
	return rec
}

// Close finishes the records and returns the exit status for code, the command's own: code, or ExitNotSaved when
// code is 0 and records could not be saved. It waits for queued records to reach the disk unless a write has taken
// WriteTimeout (a hung disk), then up to CloseTimeout for the spool to reach Kafka, and says where the records are: "delivered to Kafka" only when
// every record was saved and delivered. Safe to call more than once.
func (r *Recorder) Close(code int) int {
	r.closeOnce.Do(r.close)
	if code == 0 {
		return r.closeCode
	}
	return code
}

func (r *Recorder) close() {
	r.mu.Lock()
	r.closed = true
	close(r.queue) // under mu: enqueue never sends on a closed queue
	r.mu.Unlock()

	hung := r.waitWritten()
	r.stopWrites(nil)

	r.mu.Lock()
	l, which, total := r.lost, r.lost.String(), r.queued
	r.mu.Unlock()
	r.closeLost = l.n
	if l.n > 0 {
		r.closeCode = ExitNotSaved
		fmt.Fprintf(r.stderr, "%s: %s of %d not saved to the spool in %s: %s; first error: %v\n",
			r.command, records(l.n), total, r.cfg.Producer.SpoolDir, which, l.first)
	}

	if r.sharedPub {
		if r.run != nil && l.n == 0 {
			fmt.Fprintf(r.stdout, "records: saved to the spool in %s\n", r.cfg.Producer.SpoolDir)
		}
		return
	}
	if !r.pub.Enabled() {
		if r.run != nil {
			fmt.Fprintf(r.stdout, "records: not sent (kafka.brokers is not configured)\n")
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	if hung {
		// Nothing can be deleted from a spool whose disk does not answer, so waiting for Kafka is pointless.
		cancel()
	}
	err := r.pub.Close(ctx)
	switch {
	case l.n > 0:
		saved := "the saved ones were delivered to Kafka topic " + r.cfg.Producer.Topic
		if err != nil {
			saved = "the saved ones stay in the spool"
			fmt.Fprintf(r.stderr, "%s: %v\n", r.command, err)
		}
		fmt.Fprintf(r.stdout, "records: %s of %d NOT SAVED (%s); %s\n", records(l.n), total, which, saved)
	case err != nil:
		fmt.Fprintf(r.stderr, "%s: %v\n", r.command, err)
	default:
		fmt.Fprintf(r.stdout, "records: delivered to Kafka topic %s\n", r.cfg.Producer.Topic)
	}
}

// waitWritten waits until the writer has written the queue, or until one write has taken WriteTimeout: then the
// disk is hung, and the writer gives up on what is still queued rather than the producer on exiting. It reports
// whether the disk hung.
func (r *Recorder) waitWritten() bool {
	tick := time.NewTicker(WriteTimeout / 20)
	defer tick.Stop()
	for {
		select {
		case <-r.written:
			return false
		case <-tick.C:
			r.mu.Lock()
			began := r.writing
			r.mu.Unlock()
			if !began.IsZero() && time.Since(began) >= WriteTimeout {
				r.stopWrites(fmt.Errorf("the disk did not answer within %v", WriteTimeout))
				<-r.written
				return true
			}
		}
	}
}
