package stats

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchpipe/benchpipe/schema"
)

// Histogram geometry: the record contract's (schema.HistSigFigs), microseconds from 1 µs to one hour, 2
// significant digits. One precision throughout, so that the percentiles of a run summary and those the database
// merges from the samples' histograms are the same numbers.
const (
	LowestMicros  = schema.HistLowestMicros
	HighestMicros = schema.HistHighestMicros
	SigFigs       = schema.HistSigFigs
)

// NewHistogram returns an empty latency histogram of the package's geometry (values in microseconds).
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(LowestMicros, HighestMicros, SigFigs)
}

// Counter identifies one of a Layout's counters: its index in Layout.Counters.
type Counter int

// Series identifies one of a Layout's latency series: its index in Layout.Series.
type Series int

// Layout names what a generator records: counters (messages sent, errors, …) and latency series (for MQTT the
// corrected and the uncorrected end-to-end latency). The generator declares Counter and Series constants that
// index these slices.
type Layout struct {
	Counters []string
	Series   []string
}

// Window holds what was recorded during one interval, or the sum of several: a value per counter and a
// histogram per latency series.
type Window struct {
	Counts []int64
	Hists  []*hdrhistogram.Histogram
}

func newWindow(l Layout) Window {
	w := Window{Counts: make([]int64, len(l.Counters)), Hists: make([]*hdrhistogram.Histogram, len(l.Series))}
	for i := range w.Hists {
		w.Hists[i] = NewHistogram()
	}
	return w
}

// Count returns counter c.
func (w *Window) Count(c Counter) int64 { return w.Counts[c] }

// Hist returns the histogram of series s (values in microseconds).
func (w *Window) Hist(s Series) *hdrhistogram.Histogram { return w.Hists[s] }

// Merge adds o into w. Both must come from the same Layout.
func (w *Window) Merge(o *Window) {
	for i, n := range o.Counts {
		w.Counts[i] += n
	}
	for i, h := range o.Hists {
		if h.TotalCount() > 0 {
			w.Hists[i].Merge(h)
		}
	}
}

// Clone returns a deep copy of w.
func (w *Window) Clone() *Window {
	o := &Window{Counts: append([]int64(nil), w.Counts...), Hists: make([]*hdrhistogram.Histogram, len(w.Hists))}
	for i, h := range w.Hists {
		o.Hists[i] = h.Clone()
	}
	return o
}

func (w *Window) reset() {
	clear(w.Counts)
	for _, h := range w.Hists {
		h.Reset()
	}
}

// Shard is the recording end one goroutine owns (a subscriber's message handler, a publisher's acknowledgement
// loop). Recording takes the shard's own mutex, which only the once-per-interval Cut contends for, so recording
// goroutines never wait for each other.
//
// A shard buffers raw latencies rather than keeping its own histograms: an HDR histogram of this geometry is
// about 26 KB, and a histogram pair per subscriber would cost tens of megabytes with a hundred clients, which
// a Raspberry Pi cannot spare. The buffer grows with the message rate, not with the number of clients, and Cut
// moves its values into the Collector's histograms.
type Shard struct {
	mu  sync.Mutex
	rec Rec
}

// Rec is a shard's content while Update holds the shard's lock.
//
// Every recording goes into the interval open when it is recorded (an operation counts in the interval in which
// it completes) and, when the caller says it is measured, into the measurement total. The two differ at the
// phase boundaries: a message sent in the warm-up and received in the first measured interval shows in that
// interval, but belongs to the warm-up's account, not to the measurement's.
type Rec struct {
	counts  []int64
	values  [][]uint32 // per series, microseconds
	mCounts []int64    // the measurement total's share
	mValues [][]uint32
}

// Add adds n to counter c of the current interval, and of the measurement total when measured.
func (r *Rec) Add(c Counter, n int64, measured bool) {
	r.counts[c] += n
	if measured {
		r.mCounts[c] += n
	}
}

// Observe records one latency in series s of the current interval, and of the measurement total when measured.
// Negative durations count as 0, durations beyond the histogram's range as its maximum.
func (r *Rec) Observe(s Series, d time.Duration, measured bool) {
	v := micros(d)
	r.values[s] = append(r.values[s], v)
	if measured {
		r.mValues[s] = append(r.mValues[s], v)
	}
}

func micros(d time.Duration) uint32 {
	us := int64(d / time.Microsecond)
	switch {
	case us < 0:
		return 0
	case us > HighestMicros:
		return uint32(HighestMicros)
	}
	return uint32(us)
}

// Update runs f with the shard locked, so that everything f records lands in the same interval. f must be
// quick and must not block.
func (s *Shard) Update(f func(r *Rec)) {
	s.mu.Lock()
	f(&s.rec)
	s.mu.Unlock()
}

// Add adds n to counter c (see Rec.Add).
func (s *Shard) Add(c Counter, n int64, measured bool) {
	s.mu.Lock()
	s.rec.Add(c, n, measured)
	s.mu.Unlock()
}

// Observe records one latency in series s (see Rec.Observe).
func (s *Shard) Observe(sr Series, d time.Duration, measured bool) {
	s.mu.Lock()
	s.rec.Observe(sr, d, measured)
	s.mu.Unlock()
}

// Collector gathers the shards of one run. Cut, Total and NewShard may be called from any goroutine.
type Collector struct {
	layout Layout

	mu       sync.Mutex // guards everything below
	shards   []*Shard
	interval Window
	total    Window
	spare    [][]uint32 // swapped into a shard at Cut so that draining never copies under the shard's lock
	mSpare   [][]uint32
}

// NewCollector returns a collector for layout l.
func NewCollector(l Layout) *Collector {
	return &Collector{layout: l, interval: newWindow(l), total: newWindow(l),
		spare: make([][]uint32, len(l.Series)), mSpare: make([][]uint32, len(l.Series))}
}

// Layout returns the collector's layout.
func (c *Collector) Layout() Layout { return c.layout }

// NewShard returns a new shard whose recordings the next Cut collects.
func (c *Collector) NewShard() *Shard {
	n, m := len(c.layout.Counters), len(c.layout.Series)
	s := &Shard{rec: Rec{counts: make([]int64, n), values: make([][]uint32, m), mCounts: make([]int64, n), mValues: make([][]uint32, m)}}
	c.mu.Lock()
	c.shards = append(c.shards, s)
	c.mu.Unlock()
	return s
}

// Cut ends the current interval: it drains every shard and returns what they recorded since the previous Cut.
// What was recorded as measured is added to the measurement total. The returned window is valid until the next
// Cut.
func (c *Collector) Cut() *Window {
	c.mu.Lock()
	defer c.mu.Unlock()
	w := &c.interval
	w.reset()
	c.drain(w)
	return w
}

// drain moves every shard's recordings into w (nil: drop the interval share) and the measured share into the
// total. c.mu must be held.
func (c *Collector) drain(w *Window) {
	for _, s := range c.shards {
		s.mu.Lock()
		for i, n := range s.rec.counts {
			if w != nil {
				w.Counts[i] += n
			}
			c.total.Counts[i] += s.rec.mCounts[i]
		}
		clear(s.rec.counts)
		clear(s.rec.mCounts)
		// Swap buffers under the lock; record the values after releasing it.
		taken, mTaken := s.rec.values, s.rec.mValues
		s.rec.values, s.rec.mValues = c.spare, c.mSpare
		s.mu.Unlock()
		for i, vs := range taken {
			if w != nil {
				recordAll(w.Hists[i], vs)
			}
			taken[i] = vs[:0]
		}
		for i, vs := range mTaken {
			recordAll(c.total.Hists[i], vs)
			mTaken[i] = vs[:0]
		}
		c.spare, c.mSpare = taken, mTaken
	}
}

func recordAll(h *hdrhistogram.Histogram, vs []uint32) {
	for _, v := range vs {
		_ = h.RecordValue(int64(v)) // cannot fail: micros clamps to the histogram's range
	}
}

// Total returns a copy of everything recorded as measured, including what was recorded since the last Cut.
// What was recorded since the last Cut is taken out of the shards: call it once the run is over.
func (c *Collector) Total() *Window {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.drain(nil)
	return c.total.Clone()
}
