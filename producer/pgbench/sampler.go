package pgbench

import (
	"math"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// The sampler turns pgbench's two live streams into one sample per progress interval.
//
// Interval boundaries are pgbench's own: each progress line (printed with --progress-timestamp, so it carries
// the epoch time of the report) ends an interval, and a transaction belongs to the interval in which it ended,
// by the end time pgbench wrote into the per-transaction log. Both times come from the same clock inside
// pgbench, so an interval's transaction count matches the tps pgbench printed for it, and the per-sample
// pgbench figures (tps, stddev, failed, lag, skipped, retries) can be taken from the progress line as they are.
//
// The two streams do not arrive together. pgbench writes progress lines to stderr unbuffered, but its log files
// through stdio buffers of 4 KiB per thread, flushed when full: the transactions of an interval reach the files
// later, by a fraction of a second at thousands of tps, by many seconds at a low --rate. A sample is therefore
// complete only when every thread's log has passed the end of its interval (a thread writes its transactions in
// the order they end), or when pgbench has exited and the tailer has read the files to their end. Until then it
// waits: samples may be shown late, but never short.
//
// The transactions that end after the last progress line (those in flight when -T ran out) are folded into the
// last interval when that is shorter than half an interval; otherwise they form a final sample of their own.
// To be able to fold, the sampler holds back the interval pgbench's -T says is the last (in -t mode, where the
// end is not known, the newest interval) until pgbench exits.

// Counts are the transaction counts of an interval or a run.
type Counts struct {
	OK            int64 `json:"transactions"` // successful transactions
	Failed        int64 `json:"failed"`       // failed after all tries (without --failures-detailed)
	Serialization int64 `json:"serialization_failures"`
	Deadlock      int64 `json:"deadlock_failures"`
	Skipped       int64 `json:"skipped"` // -R with -L: not sent because already late
	Retried       int64 `json:"retried"` // transactions that needed more than one try
	Retries       int64 `json:"retries"` // retries in all
}

// failures is every transaction that failed, whatever the reason.
func (c Counts) failures() int64 { return c.Failed + c.Serialization + c.Deadlock }

func (c *Counts) add(o Counts) {
	c.OK += o.OK
	c.Failed += o.Failed
	c.Serialization += o.Serialization
	c.Deadlock += o.Deadlock
	c.Skipped += o.Skipped
	c.Retried += o.Retried
	c.Retries += o.Retries
}

// txRec is one logged transaction, compact: transactions wait in this form until their interval is known.
type txRec struct {
	end     int64 // µs since the epoch
	lat     int64 // µs; TxOK only
	lag     int64 // µs; with -R
	retries int64 // with --max-tries ≠ 1
	status  TxStatus
}

func recOf(tx Transaction) txRec {
	return txRec{end: tx.End.UnixMicro(), lat: tx.LatencyUs, lag: tx.LagUs, retries: tx.Retries, status: tx.Status}
}

// tally is what the per-transaction log says about an interval or a run, besides the latency distribution.
type tally struct {
	n       Counts
	latSum  float64 // µs, for the exact mean
	latSum2 float64 // µs², for the exact standard deviation
	lagSum  float64 // µs, successful transactions under -R
	lagN    int64
}

// add counts r; for a successful transaction it returns its latency for the distribution, clamped to the
// histogram's range as stats.Rec does (never dropped).
func (t *tally) add(r txRec, opts LogOptions) (us uint32, ok bool) {
	switch r.status {
	case TxOK:
		t.n.OK++
		f := float64(r.lat)
		t.latSum += f
		t.latSum2 += f * f
		if opts.HasLag {
			t.lagSum += float64(r.lag)
			t.lagN++
		}
		ok = true
		us = uint32(min(max(r.lat, 0), stats.HighestMicros))
	case TxSkipped:
		t.n.Skipped++
		return 0, false // never tried: its retry column is meaningless
	case TxFailed:
		t.n.Failed++
	case TxSerialization:
		t.n.Serialization++
	case TxDeadlock:
		t.n.Deadlock++
	}
	if opts.HasRetries && r.retries > 0 {
		t.n.Retried++
		t.n.Retries += r.retries
	}
	return us, ok
}

func (t *tally) merge(o *tally) {
	t.n.add(o.n)
	t.latSum += o.latSum
	t.latSum2 += o.latSum2
	t.lagSum += o.lagSum
	t.lagN += o.lagN
}

// latency is the distribution in h of the successful transactions' latencies, with the exact mean (the
// histogram's own mean is taken from bucket midpoints); nil when there were none.
func (t *tally) latency(h *hdrhistogram.Histogram) *schema.Latency {
	l := stats.Latency(h)
	if l == nil || t.n.OK == 0 {
		return l
	}
	l.MeanMs = min(max(t.latSum/float64(t.n.OK)/1000, l.MinMs), l.MaxMs)
	return l
}

// stddevMs is the population standard deviation of the latencies, as pgbench computes it.
func (t *tally) stddevMs() float64 {
	if t.n.OK == 0 {
		return 0
	}
	n := float64(t.n.OK)
	mean := t.latSum / n
	return math.Sqrt(max(t.latSum2/n-mean*mean, 0)) / 1000
}

func (t *tally) lagMs() float64 {
	if t.lagN == 0 {
		return 0
	}
	return t.lagSum / float64(t.lagN) / 1000
}

// span is one interval being assembled. Its latencies wait as raw values, not in a histogram: an HDR
// histogram takes about 26 KB, and when the logs lag (a low --rate fills pgbench's 4 KiB buffers slowly)
// many intervals wait at once; the raw values cost 4 bytes per transaction (the reasoning of stats.Shard).
type span struct {
	start, end   int64 // µs since the epoch
	nominalStart time.Duration
	nominalEnd   time.Duration // on pgbench's progress grid, since the benchmark started
	prog         *Progress     // nil for a final interval without a progress line
	log          tally
	lats         []uint32 // µs, successful transactions
}

func (sp *span) add(r txRec, opts LogOptions) {
	if us, ok := sp.log.add(r, opts); ok {
		sp.lats = append(sp.lats, us)
	}
}

// intervalSample is one finished sample and what the live display shows about it.
type intervalSample struct {
	schema.Sample
	Elapsed    time.Duration // since the benchmark started, at the end of the interval
	WarmupLeft time.Duration
	Behind     time.Duration // how long after its end the interval could be completed (log buffering)
	Counts     Counts
}

// totals accumulate the samples of a run or of its measurement phase.
type totals struct {
	counts     Counts // as the samples report them
	log        tally
	hist       *hdrhistogram.Histogram // latencies, µs
	progLagSum float64                 // ms × transactions, from progress lines (modes without an exact log)
	progLagN   int64
	start, end int64 // µs
	samples    int
}

// add adds a span whose latencies are in h.
func (t *totals) add(s *span, c Counts, h *hdrhistogram.Histogram) {
	if t.samples == 0 {
		t.start = s.start
	}
	t.end = s.end
	t.samples++
	t.counts.add(c)
	t.log.merge(&s.log)
	if h.TotalCount() > 0 {
		t.hist.Merge(h)
	}
	if s.prog != nil && s.prog.LagMs != nil {
		t.progLagSum += *s.prog.LagMs * float64(c.OK)
		t.progLagN += c.OK
	}
}

func (t *totals) duration() time.Duration { return time.Duration(t.end-t.start) * time.Microsecond }

// latency is the distribution of every successful transaction the totals hold.
func (t *totals) latency() *schema.Latency { return t.log.latency(t.hist) }

// samplerConfig describes the run the sampler assembles.
type samplerConfig struct {
	mode         latencyMode
	interval     time.Duration // between progress lines
	warmup       time.Duration // samples starting within it are warm-up
	threads      int           // pgbench threads, one log file each
	logOpts      LogOptions
	duration     time.Duration // pgbench -T; 0 in -t mode
	samplingRate float64       // modeSampled
	start        time.Time     // when pgbench started: the origin while no progress line has arrived
	now          func() time.Time
}

// sampler assembles samples; see the comment at the top of the file. Its methods are safe for concurrent use:
// the stderr reader calls progress, the log tailer tx, and the run loop takes the finished samples.
type sampler struct {
	cfg    samplerConfig
	step   int64         // interval in µs
	notify chan struct{} // signalled when samples are ready

	mu           sync.Mutex
	t0           int64 // µs: one interval before the first progress report; 0 until then
	bound        int64 // µs: end of the latest known interval; 0 before the first progress line
	boundNominal time.Duration
	pending      []*span
	open         []txRec // transactions after bound
	wm           []int64 // per thread: end of the latest transaction its log delivered
	done         []intervalSample
	spare        [][]uint32              // latency buffers of emitted spans, for reuse
	scratch      *hdrhistogram.Histogram // an emitted span's latencies
	late         int64                   // transactions that arrived for an interval already emitted (see tx)
	finished     bool

	whole, measured totals
	warmupSamples   int
}

func newSampler(cfg samplerConfig) *sampler {
	if cfg.interval <= 0 {
		cfg.interval = time.Second
	}
	if cfg.now == nil {
		cfg.now = time.Now
	}
	s := &sampler{cfg: cfg, step: cfg.interval.Microseconds(), notify: make(chan struct{}, 1), scratch: stats.NewHistogram()}
	s.whole.hist = stats.NewHistogram()
	s.measured.hist = stats.NewHistogram()
	return s
}

// ready is signalled when take has samples.
func (s *sampler) ready() <-chan struct{} { return s.notify }

// take returns the samples finished since the last call, in order.
func (s *sampler) take() []intervalSample {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.done
	s.done = nil
	return r
}

func (s *sampler) newSpan(start, end int64) *span {
	sp := &span{start: start, end: end}
	if n := len(s.spare); n > 0 {
		sp.lats = s.spare[n-1]
		s.spare = s.spare[:n-1]
	}
	return sp
}

// nominal places an epoch time on pgbench's progress grid: the elapsed time since the benchmark started,
// rounded to whole intervals (reports come a few milliseconds after their grid point).
func (s *sampler) nominal(us int64) time.Duration {
	n := (us - s.t0 + s.step/2) / s.step
	return time.Duration(n*s.step) * time.Microsecond
}

// progress ends an interval at the progress line's time.
func (s *sampler) progress(p Progress) {
	end := p.Time(s.cfg.start).UnixMicro()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	if s.t0 == 0 {
		s.t0 = end - s.step
		s.bound = s.t0
	}
	if end <= s.bound {
		return // not after the previous report: nothing to end
	}
	sp := s.newSpan(s.bound, end)
	sp.prog = &p
	sp.nominalStart, sp.nominalEnd = s.boundNominal, s.nominal(end)
	keep := s.open[:0]
	for _, r := range s.open {
		if r.end <= end {
			sp.add(r, s.cfg.logOpts)
		} else {
			keep = append(keep, r)
		}
	}
	s.open = keep
	s.pending = append(s.pending, sp)
	s.bound, s.boundNominal = end, sp.nominalEnd
	s.emitReady()
}

// tx adds one logged transaction of a pgbench thread.
func (s *sampler) tx(thread int, tx Transaction) {
	r := recOf(tx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	for thread >= len(s.wm) {
		s.wm = append(s.wm, 0)
	}
	s.wm[thread] = max(s.wm[thread], r.end)
	switch {
	case s.bound == 0 || r.end > s.bound:
		s.open = append(s.open, r)
	default:
		placed := false
		for i := len(s.pending) - 1; i >= 0; i-- {
			if r.end > s.pending[i].start {
				s.pending[i].add(r, s.cfg.logOpts)
				placed = true
				break
			}
		}
		if !placed {
			// Its interval was emitted already, which the per-thread ordering rules out unless a thread's file
			// showed up late. Count it in the next sample rather than lose it, and say so in the run record.
			s.late++
			if len(s.pending) > 0 {
				s.pending[0].add(r, s.cfg.logOpts)
			} else {
				s.open = append(s.open, r)
			}
		}
	}
	if len(s.pending) > 0 && r.end > s.pending[0].end {
		s.emitReady()
	}
}

// complete reports whether every thread's log has passed the end of sp.
func (s *sampler) complete(sp *span) bool {
	if s.cfg.mode == modeProgress {
		return true
	}
	for i := 0; i < max(s.cfg.threads, len(s.wm)); i++ {
		if i >= len(s.wm) || s.wm[i] <= sp.end {
			return false
		}
	}
	return true
}

// held reports whether sp waits for the end of the run so that the last transactions can be folded into it.
func (s *sampler) held(sp *span, i int) bool {
	if s.cfg.duration > 0 {
		return sp.nominalEnd >= s.cfg.duration
	}
	return i == len(s.pending)-1
}

func (s *sampler) emitReady() {
	n := 0
	for n < len(s.pending) && s.complete(s.pending[n]) && !s.held(s.pending[n], n) {
		s.emit(s.pending[n])
		n++
	}
	if n > 0 {
		s.pending = append(s.pending[:0], s.pending[n:]...)
		s.signal()
	}
}

func (s *sampler) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// progressTail places what pgbench processed after its last progress line, when no per-transaction log says it
// (modeProgress): pgbench prints no progress line for the interval it ends in, so without this the run's last
// partial interval — up to a whole second of transactions — would be missing from the samples. processed is
// pgbench's own total ("number of transactions actually processed"); the tail holds what the samples lack of it.
func (s *sampler) progressTail(processed int64, end time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished || s.cfg.mode != modeProgress || s.bound == 0 {
		return
	}
	counted := s.whole.counts.OK
	for _, sp := range s.pending {
		counted += s.counts(sp, time.Duration(sp.end-sp.start)*time.Microsecond).OK
	}
	last := end.UnixMicro()
	if processed <= counted || last <= s.bound {
		return
	}
	sp := s.newSpan(s.bound, last)
	sp.nominalStart, sp.nominalEnd = s.boundNominal, max(s.nominal(last), s.boundNominal)
	sp.log.n.OK = processed - counted
	s.pending = append(s.pending, sp)
	s.bound, s.boundNominal = last, sp.nominalEnd
}

// finish ends the run: pgbench has exited and the tailer has read the logs to their end. It places the
// transactions logged after the last progress line and emits everything still pending.
func (s *sampler) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.finished {
		return
	}
	s.finished = true
	if len(s.open) > 0 {
		first, last := s.open[0].end, s.open[0].end
		for _, r := range s.open {
			first, last = min(first, r.end), max(last, r.end)
		}
		var sp *span
		if n := len(s.pending); n > 0 && s.pending[n-1].prog != nil && last-s.pending[n-1].end < s.step/2 {
			sp = s.pending[n-1] // a short tail: part of the last interval
			sp.end = last
		} else {
			start := s.bound
			if start == 0 { // no progress line at all: the run was shorter than an interval
				start = min(s.cfg.start.UnixMicro(), first)
				s.t0 = start
			}
			sp = s.newSpan(start, last)
			sp.nominalStart, sp.nominalEnd = s.boundNominal, max(s.nominal(last), s.boundNominal)
			s.pending = append(s.pending, sp)
		}
		for _, r := range s.open {
			sp.add(r, s.cfg.logOpts)
		}
		s.open = nil
	}
	for _, sp := range s.pending {
		s.emit(sp)
	}
	s.pending = nil
	s.signal()
}

// emit turns a finished span into a sample and adds it to the totals.
func (s *sampler) emit(sp *span) {
	h := s.scratch
	h.Reset()
	for _, us := range sp.lats {
		_ = h.RecordValue(int64(us)) // cannot fail: clamped to the histogram's range in tally.add
	}
	d := time.Duration(sp.end-sp.start) * time.Microsecond
	phase := schema.PhaseMeasure
	if s.cfg.warmup > 0 && sp.nominalStart < s.cfg.warmup {
		phase = schema.PhaseWarmup
	}
	c := s.counts(sp, d)
	f := schema.Figures{Ops: c.OK, OpsRate: stats.Rate(c.OK, d), Errors: c.failures()}
	if s.cfg.mode != modeProgress {
		f.Latency = sp.log.latency(h)
	}
	f.Pgbench = s.pgFigures(sp, c, f.OpsRate)
	start, end := time.UnixMicro(sp.start).UTC(), time.UnixMicro(sp.end).UTC()
	iv := intervalSample{
		Sample:     schema.Sample{Start: start, End: end, Phase: phase, Figures: f},
		Elapsed:    time.Duration(sp.end-s.t0) * time.Microsecond,
		WarmupLeft: max(s.cfg.warmup-sp.nominalEnd, 0),
		Behind:     max(s.cfg.now().Sub(end), 0),
		Counts:     c,
	}
	s.done = append(s.done, iv)
	s.whole.add(sp, c, h)
	if phase == schema.PhaseMeasure {
		s.measured.add(sp, c, h)
	} else {
		s.warmupSamples++
	}
	s.spare = append(s.spare, sp.lats[:0])
	sp.lats = nil
}

// counts are the interval's transaction counts: from the log when it holds every transaction, otherwise from
// the progress line (tps × the interval, and the counters pgbench printed).
func (s *sampler) counts(sp *span, d time.Duration) Counts {
	if s.cfg.mode == modeExact {
		return sp.log.n
	}
	if sp.prog == nil { // sampled mode only: a final interval without a progress line, scaled up from the sample
		c := sp.log.n
		if r := s.cfg.samplingRate; r > 0 {
			scale := func(n int64) int64 { return int64(math.Round(float64(n) / r)) }
			c = Counts{OK: scale(c.OK), Failed: scale(c.Failed), Serialization: scale(c.Serialization),
				Deadlock: scale(c.Deadlock), Skipped: scale(c.Skipped), Retried: scale(c.Retried), Retries: scale(c.Retries)}
		}
		return c
	}
	p := sp.prog
	return Counts{OK: int64(math.Round(finite(p.TPS) * d.Seconds())), Failed: deref(p.Failed),
		Skipped: deref(p.Skipped), Retried: deref(p.Retried), Retries: deref(p.Retries)}
}

// pgFigures are the pgbench figures of a sample: as pgbench printed them on the interval's progress line, or,
// for a final interval without one, computed the same way from the log.
func (s *sampler) pgFigures(sp *span, c Counts, rate float64) *schema.PgbenchFigures {
	if p := sp.prog; p != nil {
		f := &schema.PgbenchFigures{TPS: finite(p.TPS), StddevMs: finite(p.StddevMs), Failed: deref(p.Failed),
			Retried: deref(p.Retried), Retries: deref(p.Retries), Skipped: deref(p.Skipped)}
		if p.LagMs != nil {
			f.LagMs = finite(*p.LagMs)
		}
		return f
	}
	return &schema.PgbenchFigures{TPS: rate, StddevMs: sp.log.stddevMs(), Failed: c.failures(), Retried: c.Retried,
		Retries: c.Retries, LagMs: sp.log.lagMs(), Skipped: c.Skipped}
}

// result is what the sampler measured over the whole run.
type samplerResult struct {
	whole, measured totals
	warmupSamples   int
	late            int64
}

// result returns the totals; call it after finish.
func (s *sampler) result() samplerResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return samplerResult{whole: s.whole, measured: s.measured, warmupSamples: s.warmupSamples, late: s.late}
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// finite maps NaN and infinities (pgbench prints NaN when an interval completed nothing) and negatives to 0,
// which the record contract requires.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0
	}
	return f
}
