package publish

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/schema"
)

// Errors the Publisher returns or reports. Test for them with errors.Is.
var (
	// ErrClosed is returned by Publish after Close.
	ErrClosed = errors.New("publisher is closed")
	// ErrTooLarge is returned by Publish for a record that cannot fit one Kafka record batch.
	ErrTooLarge = errors.New("record too large")
	// ErrUndelivered is returned by Close when records remain in the spool.
	ErrUndelivered = errors.New("records remain spooled")
	// ErrSpoolInUse is returned by Open when another process holds the spool: one producer per spool_dir.
	ErrSpoolInUse = errors.New("spool is in use by another process")
	// ErrKafkaUnreachable is what Stats().LastError matches while no broker can be reached.
	ErrKafkaUnreachable = errors.New("kafka unreachable")
	// ErrKafkaAuth is what Stats().LastError matches while Kafka refuses the SASL credentials: reachable, but
	// retrying will not help until kafka.sasl is fixed.
	ErrKafkaAuth = errors.New("kafka refused the credentials")
	// ErrUnconfirmed is returned by Publish when its context ended while the spool was writing the record: the
	// disk did not confirm it in time, so it must be counted as not saved (a disk that wakes up later may still
	// store it).
	ErrUnconfirmed = errors.New("spool write not confirmed")
	// ErrSpoolFull is returned by Publish when storing the record would take the spool file past
	// producer.spool_max_bytes less the reserve kept for delivery. The message says how full the spool is, the cap
	// and the directory. Records already spooled are kept; run_finished records may still use the reserve.
	ErrSpoolFull = errors.New("spool is full")
	// ErrSpoolStuck is returned by Close when the spool's writer did not stop in time, e.g. on a hung disk. The
	// spool file is left open; the process should exit.
	ErrSpoolStuck = errors.New("spool did not respond")
)

// stopGrace bounds how long Close waits for the committer and the shipper to stop once it has stopped waiting
// for Kafka. They stop at once unless a write is stuck on the disk; the shipper's own wait for the Kafka client
// after a cancel (sendCancelWait) fits inside it.
const stopGrace = sendCancelWait + time.Second

// kafkaBatchMaxBytes is Kafka's default message.max.bytes, the largest record batch a broker accepts unless the
// topic says otherwise. franz-go's own default is a little lower (1,000,012), which would refuse records the sink
// accepts; the Publisher uses the broker's default so every record Publish admits can be sent.
const kafkaBatchMaxBytes = 1048588

// Batch and record framing around a record's key and value: the v2 record batch header is 61 bytes and a record's
// own varint fields (length, attributes, timestamp and offset deltas, key and value lengths, header count) take
// at most 32.
const batchOverhead = 61 + 32

// maxValueBytes is the largest encoded record Publish accepts with this key: schema.MaxRecordBytes (beyond which
// the sink dead-letters), and small enough that the record alone fits a batch of kafkaBatchMaxBytes.
func maxValueBytes(keyLen int) int {
	return min(schema.MaxRecordBytes, kafkaBatchMaxBytes-batchOverhead-keyLen)
}

// Publisher writes records to the spool and ships the spool to Kafka. Its methods are safe for concurrent use.
type Publisher struct {
	enabled  bool
	dir      string
	topic    string
	maxBytes int64 // producer.spool_max_bytes
	o        options
	log      *slog.Logger

	// db is replaced by a compaction, which the shipper runs holding dbMu; the committer and the status writer
	// use db holding dbMu for reading, the shipper (the only writer of db) without it.
	db           *bbolt.DB
	dbMu         sync.RWMutex
	compactAfter time.Time // the shipper's: no compaction before, after one failed
	page         int       // the database's page size, read at Open (bbolt's Info races with a growing map)
	cl           *kgo.Client
	closeClient  func() // closes cl once; the shipper may need to before its deferred close

	closeOnce sync.Once
	closeErr  error

	reqs     chan appendReq // to the committer
	quit     chan struct{}  // closed by Close: no more appends
	appended chan struct{}  // capacity 1: wakes the shipper after a commit
	stop     context.CancelFunc
	workers  sync.WaitGroup // committer, shipper and status writer

	spooled, delivered, pending, pendingBytes, quarantined, compactions atomic.Int64
	version                                                             atomic.Int64 // bumped on every change the status file shows

	mu        sync.Mutex
	lastErr   error
	lastErrAt time.Time
	drained   chan struct{} // closed and replaced whenever pending drops
}

type appendReq struct {
	entry  []byte
	run    *runChange // the open-run note this record sets or clears, in the same transaction
	finish bool       // a run_finished record, which may use the space kept for delivery
	done   chan error // capacity 1: the committer never waits for a Publish that gave up
}

// Stats is a snapshot of a Publisher's counters.
type Stats struct {
	Spooled      int64     // records Publish stored since Open
	Delivered    int64     // records Kafka acknowledged since Open (and removed from the spool), earlier runs' included
	Pending      int64     // records in the spool now, earlier runs' included
	PendingBytes int64     // their size in the spool
	Quarantined  int64     // unreadable entries this Publisher moved out of the way to quarantine since Open
	Compactions  int64     // times this Publisher gave the space of delivered records back to the file system since Open
	LastError    error     // why the latest delivery attempt failed, e.g. "kafka unreachable: …"; nil once Kafka acknowledges again
	LastErrorAt  time.Time // when LastError happened
}

// Open opens (creating) cfg.Producer.SpoolDir and starts shipping it to cfg.Kafka, including records left by
// earlier runs. ctx bounds the opening only; shipping goes on until Close.
//
// With no kafka.brokers configured there is nowhere to deliver to: the Publisher is disabled (Enabled is false),
// nothing is spooled and Publish only validates. A spool another process holds makes Open fail within the lock
// timeout (WithLockTimeout) with ErrSpoolInUse.
func Open(ctx context.Context, cfg *config.Config, opts ...Option) (*Publisher, error) {
	o := defaultOptions()
	o.topic = cfg.Producer.Topic
	for _, opt := range opts {
		opt(&o)
	}
	if err := o.validate(); err != nil {
		return nil, fmt.Errorf("open publisher: %w", err)
	}
	p := &Publisher{dir: cfg.Producer.SpoolDir, topic: o.topic, maxBytes: int64(cfg.Producer.SpoolMaxBytes), o: o, log: o.logger,
		drained: make(chan struct{})}
	if len(cfg.Kafka.Brokers) == 0 {
		p.warnIfStranded()
		return p, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open publisher: %w", err)
	}
	if p.topic == "" {
		return nil, errors.New("open publisher: no topic: set producer.topic")
	}
	if p.dir == "" {
		return nil, errors.New("open publisher: no spool directory: set producer.spool_dir")
	}
	if p.maxBytes < int64(config.MinSpoolMaxBytes) {
		return nil, fmt.Errorf("open publisher: producer.spool_max_bytes is %d; set at least %s", p.maxBytes, config.MinSpoolMaxBytes)
	}
	kopts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		return nil, fmt.Errorf("open publisher: kafka client options: %w", err)
	}
	kopts = append(kopts,
		kgo.RequiredAcks(kgo.AllISRAcks()), // the default, and what idempotence needs; stated because it matters
		kgo.ProducerBatchMaxBytes(kafkaBatchMaxBytes),
		// franz-go's defaults already retry a record forever (no RecordRetries, no RecordDeliveryTimeout):
		// during an outage a batch waits in the client until a broker answers.
		kgo.WithHooks(hooks{p}),
	)
	kopts = append(kopts, o.kgoOpts...)

	db, err := p.openSpool(ctx)
	if err != nil {
		return nil, fmt.Errorf("open publisher: %w", err)
	}
	cl, err := kgo.NewClient(kopts...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open publisher: kafka client: %w", err)
	}
	p.enabled, p.db, p.cl, p.closeClient = true, db, cl, sync.OnceFunc(cl.Close)
	p.reqs = make(chan appendReq)
	p.quit = make(chan struct{})
	p.appended = make(chan struct{}, 1)

	if n := p.pending.Load(); n > 0 {
		p.log.Info("spool holds records from earlier runs; delivering them", "dir", p.dir, "records", n)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	p.stop = stop
	p.workers.Add(3)
	go func() {
		defer p.workers.Done()
		p.commitLoop()
	}()
	go func() {
		defer p.workers.Done()
		p.ship(runCtx)
	}()
	go func() {
		defer p.workers.Done()
		p.statusLoop(runCtx)
	}()
	return p, nil
}

// openSpool opens the database, finishes orphaned runs and counts what waits, within ctx: on a hung disk the
// writes this takes would block forever, and the producer must still be able to give up (SIGINT, flush's
// --timeout). A spool that opens after ctx ended is closed again by the goroutine that opened it.
func (p *Publisher) openSpool(ctx context.Context) (*bbolt.DB, error) {
	type result struct {
		db  *bbolt.DB
		err error
	}
	done := make(chan result) // unbuffered: a result nobody takes any more is closed here, not leaked
	go func() {
		db, err := openDB(p.dir, p.o.lockTimeout, p.maxBytes)
		if err == nil {
			if n, err := finishOrphans(db); err != nil {
				p.log.Warn("cannot close runs left unfinished by a killed producer", "dir", p.dir, "err", err)
			} else if n > 0 {
				p.log.Warn("closed runs a killed or crashed producer left unfinished; they are recorded as aborted", "runs", n)
			}
			// Count without decoding: an entry this build cannot read must not stop the producer from measuring;
			// the shipper moves it to quarantine.
			_ = db.View(func(tx *bbolt.Tx) error {
				c := tx.Bucket(bucketKey).Cursor()
				for k, v := c.First(); k != nil; k, v = c.Next() {
					p.pending.Add(1)
					p.pendingBytes.Add(int64(len(v)))
				}
				return nil
			})
			// No run writes yet, so a spool an earlier process left mostly free is compacted whatever its size.
			p.page = db.Info().PageSize
			if u, err := spoolUsage(db, filepath.Join(p.dir, dbFile), p.page); err == nil && u.worthCompacting(0) {
				if out := p.compact(db, u); out != db {
					p.retire(db)
					db = out
				}
			}
		}
		select {
		case done <- result{db, err}:
		case <-ctx.Done():
			if db != nil {
				db.Close()
			}
		}
	}()
	select {
	case r := <-done:
		return r.db, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("spool %s did not open (disk not responding?): %w", p.dir, ctxErr(ctx))
	}
}

// warnIfStranded tells a disabled Publisher's user about records an earlier configuration left in the spool.
func (p *Publisher) warnIfStranded() {
	if p.dir == "" {
		return
	}
	if _, err := os.Stat(filepath.Join(p.dir, dbFile)); err != nil {
		return
	}
	if st, err := Inspect(p.dir); err == nil && st.Records > 0 {
		p.log.Warn("kafka.brokers is not configured; records in the spool wait until it is", "dir", p.dir, "records", st.Records)
	}
}

// Enabled reports whether Publish spools records for Kafka; false when no kafka.brokers are configured.
func (p *Publisher) Enabled() bool { return p.enabled }

// Publish encodes r (validating it) and appends it to the spool for the Publisher's topic. It returns once the
// record is on disk (fsync'd), never waiting for Kafka, or when ctx ends first: then the error matches ctx's
// error, and also ErrUnconfirmed when the write had begun (the record may or may not reach the disk). A disabled
// Publisher validates r and returns.
func (p *Publisher) Publish(ctx context.Context, r schema.Record) error {
	value, err := schema.Encode(r)
	if err != nil {
		return fmt.Errorf("publish %s record %d of run %s: %w", r.Type, r.Seq, r.RunID, err)
	}
	key := r.Key()
	if limit := maxValueBytes(len(key)); len(value) > limit {
		return fmt.Errorf("publish %s record %d of run %s: %w: %d bytes encoded, the limit is %d",
			r.Type, r.Seq, r.RunID, ErrTooLarge, len(value), limit)
	}
	if !p.enabled {
		return nil
	}
	e := entry{time: r.Time, seq: r.Seq, topic: p.topic, key: key, value: value}
	req := appendReq{entry: e.marshal(), run: changeFor(r, p.topic), finish: r.Type == schema.TypeRunFinished}
	if err := p.append(ctx, req); err != nil {
		return fmt.Errorf("publish %s record %d of run %s: %w", r.Type, r.Seq, r.RunID, err)
	}
	return nil
}

// PublishRaw spools a value that is not a benchmark record — e.g. a SINETStream perftool result for an existing
// perftool server — for topic, with the same durability and the same ctx rules as Publish.
func (p *Publisher) PublishRaw(ctx context.Context, topic string, key, value []byte, t time.Time) error {
	if limit := maxValueBytes(len(key)); len(value) > limit {
		return fmt.Errorf("publish to %s: %w: %d bytes, the limit is %d", topic, ErrTooLarge, len(value), limit)
	}
	if !p.enabled {
		return nil
	}
	e := entry{time: t, topic: topic, key: key, value: value}
	if err := p.append(ctx, appendReq{entry: e.marshal()}); err != nil {
		return fmt.Errorf("publish to %s: %w", topic, err)
	}
	return nil
}

// append hands req to the committer and waits until it is on disk, the Publisher closes, or ctx ends. The
// committer may be stuck in a write on a hung disk; ctx is what keeps the caller from being stuck with it.
func (p *Publisher) append(ctx context.Context, req appendReq) error {
	// Checked first so that an ended ctx or a closed Publisher fail the same way every time, whatever select
	// would pick.
	if ctx.Err() != nil {
		return fmt.Errorf("not spooled: %w", ctxErr(ctx))
	}
	select {
	case <-p.quit:
		return ErrClosed
	default:
	}
	req.done = make(chan error, 1)
	select {
	case p.reqs <- req:
	case <-p.quit:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("not spooled: the spool in %s was still busy with earlier records: %w", p.dir, ctxErr(ctx))
	}
	select {
	case err := <-req.done:
		if err != nil {
			return fmt.Errorf("append to spool %s: %w", p.dir, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: the write to the spool in %s had not completed: %w", ErrUnconfirmed, p.dir, ctxErr(ctx))
	}
}

// ctxErr is ctx's error, with its cause when one was given (e.g. "the disk did not answer within 5s").
func ctxErr(ctx context.Context) error {
	err := ctx.Err()
	if cause := context.Cause(ctx); cause != nil && cause != err {
		return fmt.Errorf("%w: %w", err, cause)
	}
	return err
}

// commitLoop is the spool's only appender. It commits whatever appends have queued up while the previous commit
// was syncing in one transaction, so concurrent publishers share an fsync instead of queueing for one each,
// while a lone publisher never waits for a batch to fill.
func (p *Publisher) commitLoop() {
	const maxGroup = 1024
	for {
		var group []appendReq
		select {
		case req := <-p.reqs:
			group = append(group, req)
		case <-p.quit:
			return
		}
	more:
		for len(group) < maxGroup {
			select {
			case r := <-p.reqs:
				group = append(group, r)
			default:
				break more
			}
		}
		p.dbMu.RLock()
		refused := p.room(group)
		values := make([][]byte, 0, len(group))
		var changes []*runChange
		var size int64
		for i, r := range group {
			if refused[i] != nil {
				continue
			}
			values = append(values, r.entry)
			size += int64(len(r.entry))
			if r.run != nil {
				changes = append(changes, r.run)
			}
		}
		var err error
		if len(values) > 0 {
			err = appendEntries(p.db, values, changes)
		}
		p.dbMu.RUnlock()
		if isMaxSize(err) {
			err = p.fullError(0, err)
		}
		if err == nil && len(values) > 0 {
			p.spooled.Add(int64(len(values)))
			p.pending.Add(int64(len(values)))
			p.pendingBytes.Add(size)
			p.version.Add(1)
			select {
			case p.appended <- struct{}{}:
			default:
			}
		}
		for i, r := range group {
			if refused[i] != nil {
				r.done <- refused[i]
			} else {
				r.done <- err
			}
		}
	}
}

// fileBytes is the size of spool.db on disk; 0 when it cannot be read.
func (p *Publisher) fileBytes() int64 {
	fi, err := os.Stat(filepath.Join(p.dir, dbFile))
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Stats returns the Publisher's counters.
func (p *Publisher) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Stats{
		Spooled:      p.spooled.Load(),
		Delivered:    p.delivered.Load(),
		Pending:      p.pending.Load(),
		PendingBytes: p.pendingBytes.Load(),
		Quarantined:  p.quarantined.Load(),
		Compactions:  p.compactions.Load(),
		LastError:    p.lastErr,
		LastErrorAt:  p.lastErrAt,
	}
}

// Close stops accepting records and waits until the spool is drained or ctx ends, then stops shipping. Records
// still in the spool stay there for the next Open; Close then returns an error matching ErrUndelivered and ctx's
// error. A write stuck on a hung disk does not hold Close beyond ctx and a few seconds' grace: it then returns an
// error matching ErrSpoolStuck and leaves the spool file open (the kernel releases it when the process exits).
// Close is safe to call more than once.
func (p *Publisher) Close(ctx context.Context) error {
	if !p.enabled {
		return nil
	}
	p.closeOnce.Do(func() { p.closeErr = p.close(ctx) })
	return p.closeErr
}

func (p *Publisher) close(ctx context.Context) error {
	close(p.quit)
	waitErr := p.waitDrained(ctx)

	p.stop()
	stopped := make(chan struct{})
	go func() {
		p.workers.Wait()
		close(stopped)
	}()
	grace := time.NewTimer(stopGrace)
	defer grace.Stop()
	var err error
	select {
	case <-stopped:
	case <-grace.C:
		// Closing the database now would wait for the stuck transaction too. The goroutines and the file are
		// left to the process's exit; what is on disk is whatever the last completed commit wrote.
		return fmt.Errorf("%w: a write to %s has not completed for %v; the spool is left as the last completed write left it",
			ErrSpoolStuck, p.dir, stopGrace)
	}
	_ = os.Remove(filepath.Join(p.dir, statusFile))
	dbErr := p.db.Close()

	if waitErr != nil {
		st := p.Stats()
		why := ""
		if st.LastError != nil {
			why = fmt.Sprintf(" (last delivery error: %v)", st.LastError)
		}
		err = fmt.Errorf("%w: %d records stay in %s for the next producer run or `producer spool flush`%s: %w",
			ErrUndelivered, st.Pending, p.dir, why, waitErr)
	}
	if dbErr != nil {
		err = errors.Join(err, fmt.Errorf("close spool %s: %w", p.dir, dbErr))
	}
	return err
}

// waitDrained returns when the spool is empty, or ctx's error when it ends first.
func (p *Publisher) waitDrained(ctx context.Context) error {
	for {
		p.mu.Lock()
		ch := p.drained
		p.mu.Unlock()
		if p.pending.Load() == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// recordDelivered is called by the shipper after records were acknowledged and removed from the spool.
func (p *Publisher) recordDelivered(n, bytes int64) {
	p.delivered.Add(n)
	p.pending.Add(-n)
	p.pendingBytes.Add(-bytes)
	p.version.Add(1)
	p.mu.Lock()
	close(p.drained)
	p.drained = make(chan struct{})
	if p.lastErr != nil {
		p.log.Info("kafka delivery resumed", "delivered", n, "pending", p.pending.Load())
		p.lastErr, p.lastErrAt = nil, time.Time{}
	}
	p.mu.Unlock()
}

// fail records why delivery failed. Only the change from working to failing is logged: an outage must not fill
// the log with one line per retry.
func (p *Publisher) fail(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.lastErr == nil {
		p.log.Warn("kafka delivery stalled; records stay in the spool until Kafka takes them",
			"err", err, "pending", p.pending.Load(), "dir", p.dir)
	}
	p.lastErr, p.lastErrAt = err, time.Now()
	p.version.Add(1)
}

// hooks feeds franz-go's connection errors into Stats: while no broker answers, produce requests are never
// sent, so no record fails and this is the only sign of the outage.
type hooks struct{ p *Publisher }

func (h hooks) OnBrokerConnect(_ kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	switch {
	case err == nil:
	case errors.Is(err, kerr.SaslAuthenticationFailed), errors.Is(err, kerr.UnsupportedSaslMechanism), errors.Is(err, kerr.IllegalSaslState):
		// The hook also reports the connection's SASL flow: the broker answered, and said no.
		h.p.fail(fmt.Errorf("%w (check kafka.sasl: mechanism, username, password): %w", ErrKafkaAuth, err))
	default:
		h.p.fail(fmt.Errorf("%w: %w", ErrKafkaUnreachable, err))
	}
}
