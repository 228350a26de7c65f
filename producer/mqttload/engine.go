package mqttload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// Counters the engine records (see layout).
const (
	cSent          stats.Counter = iota // publishes confirmed (QoS 0: written to the connection)
	cReceived                           // deliveries of this run's messages, duplicates included
	cBytes                              // payload bytes of those deliveries
	cErrors                             // publish errors + disconnects + failed subscriptions
	cPublishErrors                      // publishes that failed or were not confirmed before the end
	cDisconnects                        // connections the broker or network dropped
	cGaps                               // sequence numbers skipped by an arrival: provisional loss, per interval
	cDuplicated                         // deliveries of a sequence number already received
	cOutOfOrder                         // arrivals of a sequence number that had been skipped
)

// Latency series.
const (
	sCorrected   stats.Series = iota // receive time − intended send time: corrected for coordinated omission
	sUncorrected                     // receive time − actual send time
)

var layout = stats.Layout{
	Counters: []string{"sent", "received", "bytes", "errors", "publish_errors", "disconnects", "gaps", "duplicated", "out_of_order"},
	Series:   []string{"latency", "uncorrected_latency"},
}

// ackGrace is how long a stopped run waits for outstanding publishes to be confirmed before counting them failed.
const ackGrace = 2 * time.Second

// drainQuiet ends the drain early when no message has arrived for this long.
const drainQuiet = time.Second

// clock gives the times written into payloads and compared on receipt: Unix nanoseconds that advance with the
// monotonic clock, so a wall-clock step during a run cannot distort a latency.
type clock struct {
	epoch   time.Time
	epochNs int64
}

func newClock() clock {
	t := time.Now()
	return clock{epoch: t, epochNs: t.UnixNano()}
}

func (c clock) now() int64               { return c.epochNs + int64(time.Since(c.epoch)) }
func (c clock) ns(t time.Time) int64     { return c.epochNs + int64(t.Sub(c.epoch)) }
func (c clock) time(ns int64) time.Time  { return c.epoch.Add(time.Duration(ns - c.epochNs)) }
func (c clock) sinceNs(ns int64) float64 { return time.Duration(c.now() - ns).Seconds() }

// Interval is what the engine reports at the end of every sample interval.
type Interval struct {
	schema.Sample
	Elapsed    time.Duration // since publishing started
	WarmupLeft time.Duration // of the warm-up, after this interval
	Draining   bool          // publishing is over; waiting for the last deliveries
}

// Totals are a run's counts over the measurement phase (warm-up excluded): the messages scheduled to be sent in
// it (by their intended send time), whenever they were confirmed, received or found missing, so that
// Sent·matching subscribers = Received − Duplicated − ReceivedUnconfirmed + Lost holds exactly. (Samples count
// a message in the interval in which it completed instead.) With several subscribers, a message is expected
// once per subscriber whose filter matches its topic.
type Totals struct {
	Sent                int64 // publishes confirmed (QoS 0: handed to the connection)
	Received            int64 // deliveries, duplicates included
	Bytes               int64 // payload bytes received
	Errors              int64 // PublishErrors + Disconnects + failed subscriptions
	PublishErrors       int64
	Disconnects         int64
	Lost                int64 // exact: confirmed publishes a matching subscriber never received
	Duplicated          int64
	OutOfOrder          int64
	ReceivedUnconfirmed int64 // received although the publisher saw the publish fail
	Foreign             int64 // messages ignored as not this run's (whole run)
}

// Result is how a run ended and what it measured.
type Result struct {
	Status schema.Status
	Err    error // why the run failed or was aborted; nil when Status is ok
	// Partial is true when publishing stopped before the planned end (interrupted, or a connection dropped):
	// the figures cover the time until then.
	Partial bool
	// Summary covers the measurement phase; nil when the run ended during the warm-up.
	Summary     *schema.Summary
	Uncorrected *schema.Latency // the full uncorrected distribution (Summary carries p50, p99 and max)
	Totals      Totals
	Elapsed     time.Duration // from the first publish to the end, warm-up included
}

// Bench is a connected benchmark: Connect opens every client, Run runs the load once, Close disconnects.
type Bench struct {
	cfg  Config
	clk  clock
	col  *stats.Collector
	errs *stats.Shard // disconnects and subscription failures
	pubs []*publisher
	subs []*subscriber

	// Set by Run before publishers start.
	startNs, measureNs, endNs int64
	abandon                   chan struct{} // closed when a stopped run stops waiting for confirmations

	foreign      atomic.Int64 // messages that are not this run's (other runs, retained leftovers)
	delivered    atomic.Int64 // distinct messages of this run received, over all subscribers
	lastDelivery atomic.Int64 // clock time of the latest delivery
	pubEnd       atomic.Int64 // clock time when the last publisher finished

	ran      atomic.Bool
	stopping atomic.Bool // the run is over: connection losses from now on are our own disconnects
	failOnce sync.Once
	failed   chan struct{} // closed by fail
	failErr  error         // written before failed is closed

	closeOnce sync.Once

	// onDelivery, when set (by tests), sees every delivery's latencies as the subscriber measured them, for an
	// independent computation of the distribution the histograms summarise. Called from paho's delivery goroutines.
	onDelivery func(corrected, uncorrected time.Duration, measured bool)
}

// Connect validates cfg, connects every subscriber and publisher (subscribers first, each subscribed before
// Connect returns) and returns the Bench ready to Run. An unreachable broker gives an error wrapping ErrConnect.
func Connect(ctx context.Context, cfg Config) (*Bench, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	for cfg.RunTag == 0 {
		cfg.RunTag = rand.Uint64()
	}
	b := &Bench{cfg: cfg, clk: newClock(), col: stats.NewCollector(layout), failed: make(chan struct{}), abandon: make(chan struct{})}
	b.errs = b.col.NewShard()
	tag := fmt.Sprintf("%08x", uint32(cfg.RunTag>>32))
	for j := 0; j < cfg.Subscribers; j++ {
		s := &subscriber{id: j, name: fmt.Sprintf("%s-%s-s%d", cfg.ClientIDPrefix, tag, j), filter: expandTopic(cfg.SubscribeTopic, j),
			shard: b.col.NewShard(), b: b, streams: map[uint32]*stream{}}
		for _, i := range cfg.matchedPublishers(j) {
			s.streams[uint32(i)] = &stream{}
		}
		b.subs = append(b.subs, s)
	}
	perPub, extra := uint64(cfg.Count)/uint64(cfg.Publishers), uint64(cfg.Count)%uint64(cfg.Publishers)
	for i := 0; i < cfg.Publishers; i++ {
		p := &publisher{id: i, name: fmt.Sprintf("%s-%s-p%d", cfg.ClientIDPrefix, tag, i), topic: expandTopic(cfg.Topic, i), shard: b.col.NewShard()}
		if cfg.Count > 0 {
			p.limit = perPub
			if uint64(i) < extra {
				p.limit++
			}
			if p.limit == 0 { // more publishers than messages: this one has nothing to send
				p.idle = true
			}
		}
		b.pubs = append(b.pubs, p)
	}

	if err := b.connectAll(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if cfg.lateJoin == 0 {
		if err := b.subscribeAll(); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

// connectAll connects all clients, several at a time: NATS stores every MQTT session in JetStream, which makes
// a connect take milliseconds, and a hundred of them in a row would delay the start noticeably.
func (b *Bench) connectAll(ctx context.Context) error {
	type conn struct {
		name string
		set  func(mqtt.Client)
	}
	var conns []conn
	for _, s := range b.subs {
		conns = append(conns, conn{s.name, func(c mqtt.Client) { s.client = c }})
	}
	for _, p := range b.pubs {
		conns = append(conns, conn{p.name, func(c mqtt.Client) { p.client = c }})
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 8)
	)
	for _, c := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			mu.Lock()
			failed := first != nil
			mu.Unlock()
			if failed {
				return
			}
			cl, err := dial(ctx, &b.cfg, c.name, func(err error) { b.connectionLost(c.name, err) })
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = err
				}
				return
			}
			c.set(cl)
		}()
	}
	wg.Wait()
	return first
}

// subscribeAll subscribes every subscriber and waits for the broker's SUBACKs.
func (b *Bench) subscribeAll() error {
	for _, s := range b.subs {
		tok := s.client.Subscribe(s.filter, b.cfg.QoS, s.onMessage)
		if !tok.WaitTimeout(b.cfg.ConnectTimeout) {
			return fmt.Errorf("subscribe %s to %q: no SUBACK within %v", s.name, s.filter, b.cfg.ConnectTimeout)
		}
		if err := tok.Error(); err != nil {
			return fmt.Errorf("subscribe %s to %q: %w", s.name, s.filter, err)
		}
		if st, ok := tok.(*mqtt.SubscribeToken); ok {
			if code := st.Result()[s.filter]; code == 0x80 {
				return fmt.Errorf("subscribe %s to %q: the broker refused the subscription (not authorised for this topic?)", s.name, s.filter)
			}
		}
	}
	return nil
}

// connectionLost records a dropped connection and fails the run, unless the run is over and it is our own
// disconnect.
func (b *Bench) connectionLost(name string, err error) {
	if b.stopping.Load() {
		return
	}
	measured := b.clk.now() >= b.measureNs
	b.errs.Update(func(r *stats.Rec) {
		r.Add(cDisconnects, 1, measured)
		r.Add(cErrors, 1, measured)
	})
	b.fail(fmt.Errorf("%s lost its connection to the broker: %w", name, err))
}

func (b *Bench) fail(err error) {
	b.failOnce.Do(func() {
		b.failErr = err
		close(b.failed)
	})
}

// BrokerVersion asks the broker for its version where brokers publish it, on the retained topic
// $SYS/broker/version (Mosquitto and others). It returns "" when nothing arrives within timeout; NATS, for one,
// does not publish $SYS topics to MQTT clients.
func (b *Bench) BrokerVersion(timeout time.Duration) string {
	if len(b.pubs) == 0 {
		return ""
	}
	const topic = "$SYS/broker/version"
	c := b.pubs[0].client
	got := make(chan string, 1)
	tok := c.Subscribe(topic, 0, func(_ mqtt.Client, m mqtt.Message) {
		select {
		case got <- string(m.Payload()):
		default:
		}
	})
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	var v string
	if tok.WaitTimeout(timeout) && tok.Error() == nil {
		select {
		case v = <-got:
		case <-deadline.C:
		}
	}
	c.Unsubscribe(topic).WaitTimeout(timeout)
	return v
}

// Close disconnects every client. It is safe to call more than once.
func (b *Bench) Close() {
	b.closeOnce.Do(func() {
		b.stopping.Store(true)
		var wg sync.WaitGroup
		disconnect := func(c mqtt.Client) {
			if c == nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				c.Disconnect(100) // ms to let outstanding acknowledgements go out
			}()
		}
		for _, p := range b.pubs {
			disconnect(p.client)
		}
		for _, s := range b.subs {
			disconnect(s.client)
		}
		wg.Wait()
	})
}

// Measure connects, runs the load once and disconnects: Connect, Run and Close in one call.
func Measure(ctx context.Context, cfg Config, onInterval func(Interval)) (*Result, error) {
	b, err := Connect(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Run(ctx, onInterval), nil
}

// Run publishes on the schedule, reports every interval to onInterval (from Run's goroutine; it may be nil),
// and returns when publishing has ended and the last deliveries arrived, when ctx ends (status aborted) or when
// a connection drops (status failed). Run may be called once; Close the Bench afterwards.
func (b *Bench) Run(ctx context.Context, onInterval func(Interval)) *Result {
	if !b.ran.CompareAndSwap(false, true) {
		return &Result{Status: schema.StatusFailed, Err: errors.New("mqttload: Bench.Run called twice")}
	}
	cfg := &b.cfg
	start := time.Now()
	sched := stats.Schedule{Start: start, Warmup: cfg.Warmup, Interval: cfg.Interval}
	b.startNs = b.clk.ns(start)
	b.measureNs = b.startNs + int64(cfg.Warmup)
	if cfg.Duration > 0 {
		b.endNs = b.measureNs + int64(cfg.Duration)
	}

	pubCtx, stopPubs := context.WithCancel(context.Background())
	defer stopPubs()
	var helpers sync.WaitGroup // the publishers' waiter and the late subscriber
	defer helpers.Wait()
	var pubWG sync.WaitGroup
	for _, p := range b.pubs {
		if p.idle {
			p.measureAt = 0
			continue
		}
		pubWG.Add(1)
		go func() {
			defer pubWG.Done()
			p.run(pubCtx, b)
		}()
	}
	allPubsDone := make(chan struct{})
	helpers.Add(1)
	go func() {
		defer helpers.Done()
		pubWG.Wait()
		b.pubEnd.Store(b.clk.now())
		close(allPubsDone)
	}()
	if cfg.lateJoin > 0 {
		helpers.Add(1)
		go func() {
			defer helpers.Done()
			select {
			case <-time.After(cfg.lateJoin):
			case <-pubCtx.Done():
				return
			}
			if err := b.subscribeAll(); err != nil {
				b.errs.Add(cErrors, 1, b.clk.now() >= b.measureNs)
				b.fail(err)
			}
		}()
	}

	res := &Result{Status: schema.StatusOK}
	step := sched.Step()
	schedEnd := b.scheduleEnd()
	lastCut := start
	draining := false
	// Samples are whole intervals. The run's end is not one: after the last publish, the last deliveries
	// trickle in for a few milliseconds, and reported on their own they would make a sliver of an interval whose
	// rate (four messages in 1.25 ms: 3,200 msg/s) is a spike in every per-second statistic and chart. So near
	// the end — once the schedule leaves less than a whole interval, and during the drain — each interval is held
	// back until the next one is cut, and a final remainder shorter than half an interval is merged into the held
	// one. A longer remainder (publishing ended well into its interval, or an interruption or failure cut it
	// short) keeps its real duration: its rate is measured over enough time to mean something. Elsewhere
	// intervals are reported as soon as they end.
	var held *pendingInterval
	emit := func(p *pendingInterval) {
		d := p.end.Sub(p.start)
		iv := Interval{
			Sample:     schema.Sample{Start: p.start, End: p.end, Phase: p.phase, Figures: b.figures(p.w, d)},
			Elapsed:    p.end.Sub(start),
			WarmupLeft: sched.WarmupLeft(p.scheduled),
			Draining:   p.draining,
		}
		if onInterval != nil {
			onInterval(iv)
		}
	}
	cut := func(scheduled, at time.Time, final bool) {
		p := &pendingInterval{w: b.col.Cut(), start: lastCut, end: at, scheduled: scheduled, phase: sched.Phase(scheduled), draining: draining}
		lastCut = at
		if held != nil {
			if final && at.Sub(p.start) < step/2 && held.phase == p.phase {
				held.w.Merge(p.w)
				held.end, held.draining = at, p.draining
				emit(held)
				held = nil
				return
			}
			emit(held)
			held = nil
		}
		if !final && (draining || !schedEnd.IsZero() && !scheduled.Add(step).Before(schedEnd)) {
			p.w = p.w.Clone() // Cut's window is reused by the next Cut
			held = p
			return
		}
		emit(p)
	}

	next := sched.Next(start)
	timer := time.NewTimer(time.Until(next))
	defer timer.Stop()
	var drainTick <-chan time.Time
	var expected int64
	var drainDeadline time.Time
	pubsDone := allPubsDone
loop:
	for {
		select {
		case <-timer.C:
			now := time.Now()
			cut(next, now, false)
			next = sched.Next(later(next, now))
			timer.Reset(time.Until(next))
		case <-ctx.Done():
			res.Status, res.Err, res.Partial = schema.StatusAborted, fmt.Errorf("interrupted: %w", context.Cause(ctx)), true
			break loop
		case <-b.failed:
			res.Status, res.Err, res.Partial = schema.StatusFailed, b.failErr, true
			break loop
		case <-pubsDone:
			pubsDone = nil
			draining = true
			expected = b.expectedDeliveries()
			drainDeadline = time.Now().Add(cfg.Drain)
			t := time.NewTicker(10 * time.Millisecond)
			defer t.Stop()
			drainTick = t.C
			if b.drained(expected, drainDeadline) {
				break loop
			}
		case <-drainTick:
			if b.drained(expected, drainDeadline) {
				break loop
			}
		}
	}

	// Stop publishing; give outstanding publishes a moment to be confirmed, then count the rest as failed.
	stoppedAt := time.Now()
	stopPubs()
	select {
	case <-allPubsDone:
	case <-time.After(ackGrace):
		close(b.abandon)
		<-allPubsDone
	}
	end := stoppedAt
	if res.Status == schema.StatusOK {
		// The drain may have waited for messages that never came; the run ended with its last event.
		end = b.clk.time(max(b.pubEnd.Load(), b.lastDelivery.Load()))
	}
	end = later(end, lastCut)
	if end.After(lastCut) {
		cut(end, end, true)
	} else if held != nil {
		emit(held)
	}
	res.Elapsed = end.Sub(start)

	// The measurement is the messages scheduled in the measurement phase; its time runs from the warm-up's end
	// to the end of the schedule (or of publishing, when the schedule has no end or the run stopped early), so
	// that its throughput is the measured count over the measured time.
	measureEnd := b.clk.time(b.pubEnd.Load())
	if res.Status != schema.StatusOK {
		measureEnd = stoppedAt
	}
	if !schedEnd.IsZero() && (res.Status == schema.StatusOK || measureEnd.After(schedEnd)) {
		measureEnd = schedEnd
	}

	if cfg.Retain && res.Status == schema.StatusOK {
		b.clearRetained()
	}
	b.Close()
	b.summarise(res, sched.MeasureStart(), measureEnd)
	return res
}

// pendingInterval is an interval cut but not yet reported (see Run).
type pendingInterval struct {
	w          *stats.Window
	start, end time.Time
	scheduled  time.Time // the schedule's boundary that ended it
	phase      schema.Phase
	draining   bool
}

// scheduleEnd is when the publishing schedule ends, when that is known in advance: the end of --duration, or
// with --count at a fixed rate the time the message after the last one would be due. Zero otherwise.
func (b *Bench) scheduleEnd() time.Time {
	end := b.endNs
	if b.cfg.Rate > 0 && b.cfg.Count > 0 {
		if c := b.startNs + int64(float64(b.cfg.Count)*1e9/b.cfg.Rate); end == 0 || c < end {
			end = c
		}
	}
	if end == 0 {
		return time.Time{}
	}
	return b.clk.time(end)
}

// expectedDeliveries counts the deliveries a complete run brings: every confirmed publish once per subscriber
// whose filter matches its topic. Call it after the publishers finished.
func (b *Bench) expectedDeliveries() int64 {
	var n int64
	for _, s := range b.subs {
		for i := range s.streams {
			if int(i) < len(b.pubs) {
				p := b.pubs[i]
				n += int64(p.issued) - int64(len(p.failed))
			}
		}
	}
	return n
}

// drained reports whether the drain is over: everything expected arrived, nothing arrived for a while, or the
// drain timed out.
func (b *Bench) drained(expected int64, deadline time.Time) bool {
	if b.delivered.Load() >= expected || !time.Now().Before(deadline) {
		return true
	}
	last := max(b.lastDelivery.Load(), b.pubEnd.Load())
	return b.clk.sinceNs(last) >= min(drainQuiet, b.cfg.Drain).Seconds()
}

// clearRetained removes the retained messages the run left (a zero-length retained publish deletes one), so the
// next run's subscribers don't start with them.
func (b *Bench) clearRetained() {
	for _, p := range b.pubs {
		if p.client != nil && p.client.IsConnected() {
			p.client.Publish(p.topic, 1, true, []byte{}).WaitTimeout(2 * time.Second)
		}
	}
}

// figures converts an interval or the measurement total into the record's figures.
func (b *Bench) figures(w *stats.Window, d time.Duration) schema.Figures {
	ops := w.Count(cReceived)
	if b.cfg.Subscribers == 0 { // publish-only: the operations are the publishes
		ops = w.Count(cSent)
	}
	f := stats.Figures(ops, w.Count(cBytes), w.Count(cErrors), d, w.Hist(sCorrected))
	m := &schema.MQTTFigures{
		Sent:        w.Count(cSent),
		Received:    w.Count(cReceived),
		Lost:        w.Count(cGaps),
		Duplicated:  w.Count(cDuplicated),
		OutOfOrder:  w.Count(cOutOfOrder),
		OfferedRate: b.cfg.Rate,
	}
	if u := stats.Latency(w.Hist(sUncorrected)); u != nil {
		m.UncorrectedP50Ms, m.UncorrectedP99Ms, m.UncorrectedMaxMs = u.P50Ms, u.P99Ms, u.MaxMs
		m.UncorrectedHDR = u.HDR
	}
	f.MQTT = m
	return f
}

// summaryExtra is Summary.Extra for an MQTT run.
type summaryExtra struct {
	Partial             bool            `json:"partial"`
	Disconnects         int64           `json:"disconnects"`
	PublishErrors       int64           `json:"publish_errors"`
	ReceivedUnconfirmed int64           `json:"received_unconfirmed"`
	ForeignMessages     int64           `json:"foreign_messages"`
	SentRate            float64         `json:"sent_rate"`
	Uncorrected         *schema.Latency `json:"uncorrected_latency,omitempty"`
}

// summarise fills res's totals and summary once every client is disconnected. The measurement phase runs from
// measureStart to measureEnd.
func (b *Bench) summarise(res *Result, measureStart, measureEnd time.Time) {
	outcomes := make([]pubOutcome, len(b.pubs))
	var pubErrs int64
	var firstPubErr error
	for i, p := range b.pubs {
		outcomes[i] = pubOutcome{issued: p.issued, failed: p.failed, measureAt: p.measureAt}
		pubErrs += int64(len(p.failed))
		if firstPubErr == nil {
			firstPubErr = p.firstErr
		}
	}
	var lost, unconfirmed int64
	for _, s := range b.subs {
		s.shard.Update(func(*stats.Rec) { // the streams are the handler's; take its lock
			for i, st := range s.streams {
				if int(i) < len(outcomes) {
					l := st.account(outcomes[i])
					lost += int64(l.lost)
					unconfirmed += int64(l.unconfirmed)
				}
			}
		})
	}
	if res.Status == schema.StatusOK && pubErrs > 0 {
		res.Status = schema.StatusFailed
		res.Err = fmt.Errorf("%d publishes failed or were not confirmed (first: %w)", pubErrs, firstPubErr)
	}

	tot := b.col.Total()
	res.Totals = Totals{
		Sent:                tot.Count(cSent),
		Received:            tot.Count(cReceived),
		Bytes:               tot.Count(cBytes),
		Errors:              tot.Count(cErrors),
		PublishErrors:       tot.Count(cPublishErrors),
		Disconnects:         tot.Count(cDisconnects),
		Lost:                lost,
		Duplicated:          tot.Count(cDuplicated),
		OutOfOrder:          tot.Count(cOutOfOrder),
		ReceivedUnconfirmed: unconfirmed,
	}
	// Foreign messages are counted over the whole run: they say something about the setup, not the phase.
	res.Totals.Foreign = b.foreign.Load()
	res.Uncorrected = stats.Latency(tot.Hist(sUncorrected))
	if !measureEnd.After(measureStart) {
		return // ended during the warm-up: nothing was measured
	}
	d := measureEnd.Sub(measureStart)
	f := b.figures(tot, d)
	f.MQTT.Lost = lost // the exact count replaces the provisional gaps
	extra, _ := json.Marshal(summaryExtra{
		Partial:             res.Partial,
		Disconnects:         res.Totals.Disconnects,
		PublishErrors:       res.Totals.PublishErrors,
		ReceivedUnconfirmed: unconfirmed,
		ForeignMessages:     res.Totals.Foreign,
		SentRate:            stats.Rate(res.Totals.Sent, d),
		Uncorrected:         withoutHDR(res.Uncorrected), // the histogram is in mqtt.uncorrected_hdr
	})
	res.Summary = &schema.Summary{Start: measureStart, End: measureEnd, Figures: f, Extra: extra}
}

// withoutHDR returns a copy of l without its histogram, nil for nil.
func withoutHDR(l *schema.Latency) *schema.Latency {
	if l == nil {
		return nil
	}
	c := *l
	c.HDR = ""
	return &c
}

// errUnconfirmed is the error of a publish still unconfirmed when the run stopped waiting.
var errUnconfirmed = errors.New("publish not confirmed before the run ended")

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
