// Package ingest is the sink's engine: it consumes the configured Kafka topics as a consumer group, decodes and
// validates each record, and writes batches to PostgreSQL with binary COPY, exactly once.
//
// Exactly once, across crashes, restarts and rebalances, comes from one rule: the Kafka position of every partition
// is stored in benchpipe.sink_offsets in the same transaction as the rows it covers, and that transaction first
// locks the position rows (SELECT … FOR UPDATE) and drops any record below the stored position. A replay after a
// crash, or a zombie consumer still writing after it lost a partition, therefore writes nothing twice. Positions are
// restored from the database when partitions are assigned, and committed to Kafka only after the database commit
// (for lag tools; the database is the truth). Records a producer re-sent after its own crash carry the same
// (run_id, seq) and are dropped by the primary key (INSERT … ON CONFLICT DO NOTHING through a staging table).
//
// Nothing is skipped either: a batch is written for a partition only if it starts where the stored position ends
// (each batch carries the fetch position it continues from), so a batch given up at shutdown is never jumped over
// by the one after it; and a position belongs to one Kafka log (cluster id and topic id), so a Kafka replaced or a
// topic recreated under a kept database is a reset, read from its start, not a stretch of "replays" (positions.go).
//
// A record that cannot be decoded, fails validation, has an unknown format or version, or is too large goes to the
// dead-letter topic with headers saying why and where it came from; the records around it are written. So does a
// record whose row the database refuses, whatever the error's class, once the savepoint probe pins it on that row
// (probe.go); only an unavailable database is waited for without end.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/schema"
)

// Option configures a Sink.
type Option func(*options)

type options struct {
	logger          *slog.Logger
	registerer      prometheus.Registerer
	onCommit        func(CommitInfo)
	shutdownTimeout time.Duration
	stallLimit      time.Duration
	kafkaOpts       []kgo.Opt
}

// WithLogger sets the logger. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithRegisterer registers the sink's Prometheus metrics there. Default: a private registry served by Handler.
func WithRegisterer(r prometheus.Registerer) Option { return func(o *options) { o.registerer = r } }

// WithCommitHook calls fn after every database commit, with what was committed. Benchmarks use it to measure
// produce-to-row latency; it runs on the sink's loop, so keep it short.
func WithCommitHook(fn func(CommitInfo)) Option { return func(o *options) { o.onCommit = fn } }

// WithShutdownTimeout bounds how long Run keeps trying to write the batch in flight after its context is
// cancelled (for instance while the database is down). Default 30s; what is not written is re-read by the next
// consumer of the partition.
func WithShutdownTimeout(d time.Duration) Option { return func(o *options) { o.shutdownTimeout = d } }

// WithStallLimit sets how long a batch may keep failing before /readyz reports the sink not ready, with the
// reason. Default 1m. The database being unreachable makes /readyz fail at once, whatever this says.
func WithStallLimit(d time.Duration) Option { return func(o *options) { o.stallLimit = d } }

// WithKafkaOptions appends franz-go client options (tests use it to shorten timeouts).
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kafkaOpts = append(o.kafkaOpts, opts...) }
}

// CommitInfo describes one committed batch.
type CommitInfo struct {
	Records     []*kgo.Record // every record of the batch, written, skipped as duplicate or dead-lettered
	Rows        int           // rows inserted or updated
	Duplicates  int           // records dropped because they were already written
	DeadLetters int
	CommittedAt time.Time
}

// Sink consumes Kafka and writes PostgreSQL. Create it with New, run it with Run, serve Handler for metrics and
// health.
type Sink struct {
	cfg     *config.Config
	opts    options
	log     *slog.Logger
	pool    *pgxpool.Pool
	cl      *kgo.Client
	clReady chan struct{}     // closed once cl is set: the group may call back into the sink before NewClient returns
	formats map[string]string // topic → record format
	m       *metrics

	joined atomic.Bool // the group assigned us partitions at least once

	stallMu sync.Mutex
	stall   stall // the batch being retried, if any: readiness fails when it fails for too long

	posMu sync.Mutex
	pos   map[topicPartition]*chainPos // assigned partitions: where the next batch of each continues from
	gen   uint64

	hwmMu sync.Mutex
	hwm   map[topicPartition]int64 // high watermarks seen in fetches, for the lag gauge

	copiers map[string]*pgcopy.Table // per table and column list; nil: pgx's CopyFrom. Used by Run's goroutine only.

	offsets offsetCommitter // Kafka's committed offsets, following the database off the write path
}

// stall is a batch that keeps failing.
type stall struct {
	since   time.Time // zero: no batch is failing
	records int
	err     error
}

type topicPartition struct {
	topic     string
	partition int32
}

// New connects to the database (lazily) and creates the consumer group client. It does not migrate: call
// Migrate (or run `sink migrate`) first.
func New(ctx context.Context, cfg *config.Config, opts ...Option) (*Sink, error) {
	o := options{logger: slog.Default(), shutdownTimeout: 30 * time.Second, stallLimit: time.Minute}
	for _, opt := range opts {
		opt(&o)
	}
	if cfg.Sink.DatabaseURL == "" {
		return nil, errors.New("sink.database_url is empty: set it in the config file, e.g. database_url: ${DATABASE_URL}")
	}
	s := &Sink{cfg: cfg, opts: o, log: o.logger, formats: map[string]string{}, hwm: map[topicPartition]int64{}, pos: map[topicPartition]*chainPos{}, clReady: make(chan struct{}), copiers: map[string]*pgcopy.Table{}}
	var topics []string
	for _, t := range cfg.SinkTopics() {
		if t.Name == cfg.Sink.DeadLetterTopic {
			continue
		}
		if _, ok := decoders[t.Format]; !ok {
			return nil, fmt.Errorf("topic %s: the sink cannot read format %q", t.Name, t.Format)
		}
		s.formats[t.Name] = t.Format
		topics = append(topics, t.Name)
	}
	if len(topics) == 0 {
		return nil, errors.New("no topics to consume: list them under topics (and optionally sink.topics)")
	}
	s.m = newMetrics(o.registerer)

	pcfg, err := pgxpool.ParseConfig(cfg.Sink.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("sink.database_url: %w", err)
	}
	pcfg.MaxConns = 4
	if s.pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("database %s: %w", schema.RedactURL(cfg.Sink.DatabaseURL), err)
	}

	kopts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		s.pool.Close()
		return nil, err
	}
	kopts = append(kopts,
		kgo.ConsumerGroup(cfg.Sink.Group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), // a new group must not skip records published before it
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.AdjustFetchOffsetsFn(s.restoreOffsets),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
			s.joined.Store(true)
			s.log.Info("partitions assigned", "partitions", assigned)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, revoked map[string][]int32) {
			// Nothing to flush here: Run allows rebalances only between batches, after the database commit.
			s.forget(revoked)
			s.log.Info("partitions revoked", "partitions", revoked)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, lost map[string][]int32) {
			if len(lost) == 0 {
				return
			}
			s.forget(lost)
			s.log.Warn("partitions lost; a batch being written for them is fenced by the stored offsets", "partitions", lost)
		}),
		kgo.FetchMaxBytes(64<<20),
		kgo.ProducerBatchMaxBytes(int32(max(cfg.Sink.MaxRecordBytes*2, 1<<20)+(64<<10))),
	)
	kopts = append(kopts, o.kafkaOpts...)
	if s.cl, err = kgo.NewClient(kopts...); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	close(s.clReady)
	// Wrong credentials never heal by retrying, and the group would retry quietly, consuming nothing: find out now.
	// Kafka being down is not an error here (Ping then fails to dial); the sink waits for it as always.
	if err := s.cl.Ping(ctx); errors.Is(err, kerr.SaslAuthenticationFailed) {
		s.cl.Close()
		s.pool.Close()
		return nil, fmt.Errorf("kafka: %w: check kafka.sasl (mechanism, username, password)", err)
	}
	return s, nil
}

// Close releases the database pool and leaves the group. Run must have returned.
func (s *Sink) Close() {
	s.cl.CloseAllowingRebalance()
	s.pool.Close()
}

// Pool is the sink's database pool (for migrations and health checks from the same process).
func (s *Sink) Pool() *pgxpool.Pool { return s.pool }

// Run consumes until ctx is cancelled, then writes the batch in flight (bounded by the shutdown timeout), commits
// and returns. It returns an error only when it cannot go on at all.
//
// Decoding and writing overlap: while one batch is written (PostgreSQL's work), the next is polled and decoded
// (the sink's), which is worth about a third of the throughput on two cores. Rebalances are still allowed only
// between written batches: whenever nothing is in flight, and at least every rebalanceEvery under continuous load,
// the loop waits for the write in flight before allowing one.
func (s *Sink) Run(ctx context.Context) error {
	s.offsets.init()
	commitsDone := make(chan struct{})
	go func() {
		defer close(commitsDone)
		s.offsets.run(s.cl, s.log)
	}()
	defer func() { s.offsets.stop(); <-commitsDone }()
	// A write is a batch and the cancel of its done context: the writer cancels it once the result is in written,
	// which wakes a collect that holds records for the next batch (see collect).
	type write struct {
		b    *batch
		done context.CancelFunc
	}
	jobs := make(chan write)
	written := make(chan map[topicPartition]refusal, 1)
	// What follows a commit (metrics, Kafka offsets, the commit hook) runs in a goroutine of its own, in commit
	// order, so the writer starts the next transaction at once: done by the writer, it kept PostgreSQL waiting 2–6 ms
	// after each 10,000-row commit, a few percent of the sink's rate.
	commits := make(chan commit, 2)
	var writer, committer sync.WaitGroup
	committer.Go(func() {
		for c := range commits {
			s.afterCommit(c)
		}
	})
	writer.Go(func() {
		for w := range jobs {
			refused, c := s.flush(ctx, w.b)
			if c != nil {
				commits <- *c
			}
			written <- refused
			w.done()
		}
	})
	var writeDone context.Context // done once the write in flight has finished; nil with none in flight
	waitWritten := func() {
		if writeDone != nil {
			if refused := <-written; len(refused) > 0 && ctx.Err() == nil {
				// Between batches, with rebalances blocked: the partitions are still ours.
				s.reseek(refused)
			}
			writeDone = nil
		}
	}
	lastAllowed := time.Now()
	var runErr error
	for {
		idle := writeDone == nil
		recs, err := s.collect(ctx, writeDone)
		if idle {
			// With nothing in flight collect returns at its first poll with records, and a rebalance could happen
			// until then: the time the loop waited idle does not count against rebalanceEvery.
			lastAllowed = time.Now()
		}
		recs, parts := s.take(recs)
		if len(recs) > 0 {
			b := s.decode(recs, writeDone) // overlaps the write in flight
			b.parts = parts
			waitWritten()
			var done context.CancelFunc
			writeDone, done = context.WithCancel(ctx)
			jobs <- write{b, done}
		}
		if len(recs) == 0 || time.Since(lastAllowed) > rebalanceEvery || err != nil || ctx.Err() != nil {
			waitWritten()
			s.cl.AllowRebalance()
			lastAllowed = time.Now()
		}
		if err != nil {
			runErr = err
			break
		}
		if ctx.Err() != nil {
			break
		}
	}
	waitWritten()
	close(jobs)
	writer.Wait()
	close(commits)
	committer.Wait() // before the deferred last Kafka offset commit
	return runErr
}

var errClientClosed = errors.New("kafka client closed")

// rebalanceEvery is how long continuous load may hold a rebalance back. Allowing one means letting the write in
// flight finish before the next batch is polled, so the database waits for a poll and a decode: once a second that
// cost about a tenth of the sink's rate. A member joining the group waits at most this long more, far inside
// Kafka's rebalance timeout (60 s).
const rebalanceEvery = 5 * time.Second

// collect polls until it holds batch_size records, or holds some and the database is idle: with no write in
// flight (writeDone nil), or once the write in flight has finished (writeDone done), so a record waits for the
// database only as long as the database is busy, as in a group commit. While a write is in flight, flush_interval
// bounds how long a partial batch is held, and collect returns when the write finishes or after flush_interval even
// holding nothing, so that Run can finish that write and allow a waiting rebalance instead of blocking it until
// records arrive.
func (s *Sink) collect(ctx context.Context, writeDone context.Context) ([]*kgo.Record, error) {
	var recs []*kgo.Record
	pctx := ctx
	if writeDone != nil {
		// The poll wakes when the write finishes (the writer cancels writeDone, a child of ctx) or at the deadline.
		var cancel context.CancelFunc
		pctx, cancel = context.WithTimeout(writeDone, s.cfg.Sink.FlushInterval)
		defer cancel()
	}
	limit := s.cfg.Sink.BatchSize
	for len(recs) < limit {
		fetches := s.cl.PollRecords(pctx, limit-len(recs))
		if fetches.IsClientClosed() {
			return recs, errClientClosed
		}
		var fatal error
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return
			}
			s.m.fetchErrors.Inc()
			if errors.Is(err, kerr.UnknownTopicID) && fatal == nil {
				// kgo reports this only once it persists: the topic now has another id, and the client never
				// follows a topic to its new id. The stored positions are checked against the new log when the
				// sink starts again.
				fatal = fmt.Errorf("topic %s partition %d: %w: the topic was deleted and created again, or Kafka replaced, while the sink ran; restart the sink to consume the new log from its start", topic, partition, err)
				return
			}
			s.log.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
		})
		s.hwmMu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			if p.HighWatermark >= 0 {
				s.hwm[topicPartition{p.Topic, p.Partition}] = p.HighWatermark
			}
		})
		s.hwmMu.Unlock()
		fetches.EachRecord(func(r *kgo.Record) { recs = append(recs, r) })
		if fatal != nil {
			return recs, fatal
		}
		if writeDone == nil {
			if len(recs) > 0 || ctx.Err() != nil {
				break
			}
			// A poll that returned only errors (Kafka unreachable, a group rejoin failing) still blocks rebalances
			// until allowed. Holding nothing and writing nothing, allow them, or the group could never be rejoined.
			s.cl.AllowRebalance()
			continue
		}
		if pctx.Err() != nil { // the write finished, the deadline passed, or ctx was cancelled
			break
		}
	}
	return recs, nil
}

// flush writes b, retrying with capped backoff while the database (or Kafka, for dead letters) is unavailable,
// and returns the partitions it refused (see write). No new records are polled meanwhile: that is the
// backpressure. After ctx is cancelled it keeps trying for the shutdown timeout, then gives up without committing;
// the records are read again by whoever consumes next, and a later batch of the same partitions is refused rather
// than written past them.
//
// A failure that may be a row's fault (see classify) sends the batch to the probe, which finds the row and moves
// its record to the dead letters, so no record holds its partition for long; an unknown error is retried a few
// times first. Only an unavailable database or Kafka is waited out indefinitely.
func (s *Sink) flush(ctx context.Context, b *batch) (map[topicPartition]refusal, *commit) {
	var giveUp <-chan time.Time
	backoff := 100 * time.Millisecond
	unknowns := 0
	for attempt := 1; ; attempt++ {
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 60*time.Second)
		start := time.Now()
		res, err := s.write(wctx, b)
		if err == nil {
			cancel()
			s.setStall(stall{})
			s.m.writeSeconds.Observe(time.Since(start).Seconds())
			s.m.batchRecords.Observe(float64(len(b.recs)))
			if attempt > 1 {
				s.log.Info("write succeeded after retrying", "attempts", attempt)
			}
			return res.refused, &commit{b, res, time.Now()}
		}
		s.m.writeErrors.Inc()
		s.noteFailure(len(b.recs), err)
		kind := classify(err)
		if kind == unknown {
			unknowns++
		}
		if kind == refused || (kind == unknown && unknowns%unknownAttempts == 0) {
			culprits, probeErr := s.findRefusedRecords(wctx, b, kind)
			for _, c := range culprits {
				// A row the database refuses must not stall the pipeline: move it to the dead letters, write the rest.
				s.log.Warn("database refused a record; dead-lettering it", "topic", c.src.Topic, "partition", c.src.Partition, "offset", c.src.Offset, "err", c.err)
				b.reject(c.src, "database: "+c.err.Error())
			}
			if len(culprits) > 0 {
				cancel()
				unknowns = 0
				continue
			}
			if probeErr != nil {
				s.log.Warn("could not probe the batch for a refused record", "err", probeErr)
			} else {
				s.log.Warn("write fails for no single record; retrying", "records", len(b.recs), "err", err)
			}
		}
		cancel()
		if attempt == 1 || attempt%20 == 0 {
			s.log.Warn("write failed; retrying", "attempt", attempt, "records", len(b.recs), "err", err)
		}
		if ctx.Err() != nil && giveUp == nil {
			giveUp = time.After(s.opts.shutdownTimeout)
		}
		select {
		case <-time.After(backoff):
		case <-giveUp:
			s.log.Error("shutting down with a batch not written; it will be consumed again", "records", len(b.recs))
			return nil, nil
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (s *Sink) setStall(st stall) {
	s.stallMu.Lock()
	s.stall = st
	s.stallMu.Unlock()
}

// noteFailure records a failed write of the batch being retried, keeping the time its first attempt failed.
func (s *Sink) noteFailure(records int, err error) {
	s.stallMu.Lock()
	if s.stall.since.IsZero() {
		s.stall.since = time.Now()
	}
	s.stall.records, s.stall.err = records, err
	s.stallMu.Unlock()
}

// commit is a written batch, what the write did, and when it committed.
type commit struct {
	b   *batch
	res writeResult
	at  time.Time
}

// afterCommit accounts for a committed batch: metrics, the Kafka offsets to commit, the commit hook.
func (s *Sink) afterCommit(c commit) {
	b, res, now := c.b, c.res, c.at
	for topic, n := range b.consumed {
		s.m.consumed.WithLabelValues(topic).Add(float64(n))
	}
	for topic, n := range res.written {
		s.m.written.WithLabelValues(topic).Add(float64(n))
	}
	for topic, n := range res.duplicates {
		s.m.duplicates.WithLabelValues(topic).Add(float64(n))
	}
	for _, d := range b.dead {
		if !res.skipped[d.src] && !res.held[d.src] {
			s.m.deadLettered.WithLabelValues(d.src.Topic).Inc()
		}
	}
	for table, n := range res.rows {
		s.m.rows.WithLabelValues(table).Add(float64(n))
	}
	for _, r := range b.recs {
		if !r.Timestamp.IsZero() {
			s.m.endToEnd.Observe(now.Sub(r.Timestamp).Seconds())
		}
	}
	s.hwmMu.Lock()
	for tp, next := range res.next {
		if hwm, ok := s.hwm[tp]; ok {
			s.m.lag.WithLabelValues(tp.topic, fmt.Sprint(tp.partition)).Set(float64(max(hwm-next, 0)))
		}
	}
	s.hwmMu.Unlock()
	// Kafka's committed offsets follow the database for tools that read group lag; the database stays the truth.
	committed := make([]*kgo.Record, 0, len(b.recs))
	for _, r := range b.recs {
		if !res.held[r] {
			committed = append(committed, r)
		}
	}
	s.offsets.add(committed)
	if s.opts.onCommit != nil {
		total := 0
		for _, n := range res.duplicates {
			total += n
		}
		rows := 0
		for _, n := range res.rows {
			rows += n
		}
		s.opts.onCommit(CommitInfo{Records: b.recs, Rows: rows, Duplicates: total, DeadLetters: len(b.dead), CommittedAt: now})
	}
}

// Ready reports whether the sink can do its work: the database answers, the group has assigned partitions, and
// no batch has been failing for longer than the stall limit (a sink that retries forever with the database up is
// stuck, not ready).
func (s *Sink) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	if !s.joined.Load() {
		return errors.New("not yet a member of consumer group " + s.cfg.Sink.Group)
	}
	s.stallMu.Lock()
	st := s.stall
	s.stallMu.Unlock()
	if !st.since.IsZero() {
		if d := time.Since(st.since); d > s.opts.stallLimit {
			return fmt.Errorf("a batch of %d records has been failing for %s: %w", st.records, d.Round(time.Second), st.err)
		}
	}
	return nil
}

// Migrate applies the schema migrations and the TimescaleDB policies from the config, on one pooled connection.
func Migrate(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.Sink.DatabaseURL == "" {
		return errors.New("sink.database_url is empty: set it in the config file, e.g. database_url: ${DATABASE_URL}")
	}
	conn, err := pgx.Connect(ctx, cfg.Sink.DatabaseURL)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", schema.RedactURL(cfg.Sink.DatabaseURL), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Policies are set under the migration lock, so sinks starting together do not race on them.
	res, err := schema.Migrate(ctx, conn, schema.WithTimescalePolicy(schema.TimescalePolicy{
		CompressAfter: cfg.Sink.Timescale.CompressAfter, RetainFor: cfg.Sink.Timescale.RetainFor}))
	if err != nil {
		return err
	}
	if len(res.Moved) > 0 {
		log.Warn("moved tables from schema benchpipe to public, where Hasura and Grafana read them", "moved", res.Moved)
	}
	if res.TimescaleNote != "" {
		log.Warn(res.TimescaleNote)
	}
	if len(res.Applied) == 0 {
		log.Info("schema up to date", "timescaledb", res.Timescale)
	} else {
		log.Info("migrations applied", "applied", res.Applied, "timescaledb", res.Timescale)
	}
	if len(res.Policies) > 0 {
		log.Info("timescaledb policies changed", "changes", res.Policies)
	}
	return nil
}

// offsetCommitter commits the written records' offsets to Kafka in a goroutine of its own, so that the writer
// never waits for Kafka between two database transactions (a commit is a round trip to the group coordinator,
// about a tenth of the time of a 10,000-row write on a real broker). The offsets are for tools that read group lag:
// the stored positions in the database decide where the sink continues. Pending offsets keep the highest record
// of each partition, so a commit that waits for the one before it loses nothing; Run commits what is pending
// before it returns.
type offsetCommitter struct {
	mu      sync.Mutex
	pending map[topicPartition]*kgo.Record
	wake    chan struct{}
	done    chan struct{}
}

func (c *offsetCommitter) init() {
	c.pending, c.wake, c.done = map[topicPartition]*kgo.Record{}, make(chan struct{}, 1), make(chan struct{})
}

// add queues recs' offsets and returns at once.
func (c *offsetCommitter) add(recs []*kgo.Record) {
	c.mu.Lock()
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if cur := c.pending[tp]; cur == nil || r.Offset > cur.Offset {
			c.pending[tp] = r
		}
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// run commits whatever is pending whenever add wakes it, until stop; then once more.
func (c *offsetCommitter) run(cl *kgo.Client, log *slog.Logger) {
	for {
		select {
		case <-c.wake:
			c.commit(cl, log)
		case <-c.done:
			c.commit(cl, log)
			return
		}
	}
}

func (c *offsetCommitter) stop() { close(c.done) }

func (c *offsetCommitter) commit(cl *kgo.Client, log *slog.Logger) {
	c.mu.Lock()
	recs := make([]*kgo.Record, 0, len(c.pending))
	for _, r := range c.pending {
		recs = append(recs, r)
	}
	clear(c.pending)
	c.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.CommitRecords(ctx, recs...); err != nil {
		log.Debug("kafka offset commit failed (the database holds the positions)", "err", err)
	}
}
