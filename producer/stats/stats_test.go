package stats

import (
	"bytes"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

const (
	cOps Counter = iota
	cErrors
)

const (
	sLatency Series = iota
	sOther
)

var testLayout = Layout{Counters: []string{"ops", "errors"}, Series: []string{"latency", "other"}}

func TestCollectorConcurrentShards(t *testing.T) {
	c := NewCollector(testLayout)
	const shards, perShard = 8, 5000
	var wg sync.WaitGroup
	for i := 0; i < shards; i++ {
		s := c.NewShard()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < perShard; j++ {
				s.Update(func(r *Rec) {
					r.Add(cOps, 1, true)
					r.Observe(sLatency, time.Duration(j+1)*time.Microsecond, true)
				})
			}
		}()
	}
	// Cut while the shards record: nothing may be lost or counted twice.
	var ops, hist int64
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for finished := false; !finished; {
		select {
		case <-done:
			finished = true
		case <-time.After(time.Millisecond):
		}
		w := c.Cut()
		ops += w.Count(cOps)
		hist += w.Hist(sLatency).TotalCount()
	}
	if ops != shards*perShard || hist != shards*perShard {
		t.Fatalf("ops %d, histogram count %d, want %d", ops, hist, shards*perShard)
	}
	tot := c.Total()
	if tot.Count(cOps) != shards*perShard || tot.Hist(sLatency).TotalCount() != shards*perShard {
		t.Fatalf("total ops %d, histogram %d", tot.Count(cOps), tot.Hist(sLatency).TotalCount())
	}
	// The max is its bucket's highest value: within 1/128 at the contract's 2 significant digits.
	if got := tot.Hist(sLatency).Max(); got < perShard || got > perShard+perShard/128 {
		t.Fatalf("max %d µs, want ≈%d", got, perShard)
	}
}

// The measurement total holds what the recorder marked measured, whichever interval it landed in: a warm-up
// message received in the first measured interval shows in that interval but not in the total, and a measured
// one recorded after the last Cut (a late confirmation) is in the total.
func TestCollectorTotalHoldsWhatWasMeasured(t *testing.T) {
	c := NewCollector(testLayout)
	s := c.NewShard()
	s.Add(cOps, 7, false)
	s.Observe(sLatency, 100*time.Second, false) // a warm-up outlier must not reach the total
	if w := c.Cut(); w.Count(cOps) != 7 || w.Hist(sLatency).TotalCount() != 1 {
		t.Fatalf("warm-up interval: ops %d, hist %d", w.Count(cOps), w.Hist(sLatency).TotalCount())
	}
	s.Update(func(r *Rec) {
		r.Add(cOps, 2, false) // sent in the warm-up, completed now
		r.Observe(sLatency, 50*time.Second, false)
		r.Add(cOps, 3, true)
		r.Add(cErrors, 1, true)
		r.Observe(sLatency, 2*time.Millisecond, true)
	})
	w := c.Cut()
	if w.Count(cOps) != 5 || w.Count(cErrors) != 1 || w.Hist(sLatency).TotalCount() != 2 {
		t.Fatalf("first measured interval: %v, %d latencies", w.Counts, w.Hist(sLatency).TotalCount())
	}
	s.Add(cOps, 4, true) // after the last Cut
	tot := c.Total()
	if tot.Count(cOps) != 7 || tot.Count(cErrors) != 1 || tot.Hist(sLatency).TotalCount() != 1 || tot.Hist(sLatency).Max() > 2000+2000/128 {
		t.Fatalf("total counts %v, %d latencies, max %d µs", tot.Counts, tot.Hist(sLatency).TotalCount(), tot.Hist(sLatency).Max())
	}
	// An interval with nothing recorded is empty, not a repeat of the previous one.
	if w := c.Cut(); w.Count(cOps) != 0 || w.Hist(sLatency).TotalCount() != 0 {
		t.Fatalf("empty interval: %v", w.Counts)
	}
}

func TestMicrosClamps(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want uint32
	}{{-time.Second, 0}, {0, 0}, {1500 * time.Nanosecond, 1}, {2 * time.Hour, uint32(HighestMicros)}} {
		if got := micros(tc.d); got != tc.want {
			t.Errorf("micros(%v) = %d, want %d", tc.d, got, tc.want)
		}
	}
}

func TestLatency(t *testing.T) {
	if Latency(NewHistogram()) != nil {
		t.Fatal("empty histogram should give nil")
	}
	h := NewHistogram()
	for v := int64(1); v <= 1000; v++ { // 1 ms … 1000 ms, uniform
		_ = h.RecordValue(v * 1000)
	}
	l := Latency(h)
	// 2 significant digits (the contract's geometry): a bucket spans at most 1/128 of its values.
	within := func(name string, got, want float64) {
		t.Helper()
		if got < want*(1-1.0/128) || got > want*(1+1.0/128) {
			t.Errorf("%s = %v, want ≈%v", name, got, want)
		}
	}
	within("min", l.MinMs, 1)
	within("p50", l.P50Ms, 500)
	within("p90", l.P90Ms, 900)
	within("p95", l.P95Ms, 950)
	within("p99", l.P99Ms, 990)
	within("p99.9", l.P999Ms, 999)
	within("max", l.MaxMs, 1000)
	within("mean", l.MeanMs, 500.5)
	// The histogram travels with the figures, and gives the same percentiles when the database reads it back.
	_, hist, err := schema.DecodeHist(l.HDR)
	if err != nil {
		t.Fatalf("Latency.HDR: %v", err)
	}
	for p, want := range map[float64]float64{50: l.P50Ms, 90: l.P90Ms, 99: l.P99Ms, 99.9: l.P999Ms, 100: l.MaxMs} {
		if got := float64(hist.ValueAtPercentile(p)) / 1000; got != want || hist.Total() != 1000 {
			t.Errorf("p%v of the encoded histogram = %v ms (of %d values), figures say %v", p, got, hist.Total(), want)
		}
	}
	// The contract's invariants hold.
	f := schema.Figures{Ops: 1000, Latency: l}
	r := schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: [16]byte{1}, Seq: 1, Time: time.Now(),
		Sample: &schema.Sample{Start: time.Now(), End: time.Now(), Phase: schema.PhaseMeasure, Figures: f}}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}

	one := NewHistogram()
	_ = one.RecordValue(12345)
	if l := Latency(one); l.MinMs > l.MeanMs || l.MeanMs > l.MaxMs {
		t.Fatalf("single value: %+v", l)
	}
}

func TestRate(t *testing.T) {
	if Rate(10, 0) != 0 || Rate(10, 2*time.Second) != 5 {
		t.Fatal("Rate")
	}
	f := Figures(10, 100, 1, 2*time.Second, nil)
	if f.OpsRate != 5 || f.Latency != nil || f.Bytes != 100 || f.Errors != 1 {
		t.Fatalf("%+v", f)
	}
}

func TestSchedule(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	s := Schedule{Start: t0, Warmup: 2500 * time.Millisecond}
	var ends []time.Duration
	var phases []schema.Phase
	for at := t0; len(ends) < 5; {
		at = s.Next(at)
		ends = append(ends, at.Sub(t0))
		phases = append(phases, s.Phase(at))
	}
	// The warm-up's last interval absorbs the half second left over; the measurement's intervals count from its
	// start, so none of them is a sliver.
	wantEnds := []time.Duration{time.Second, 2500 * time.Millisecond, 3500 * time.Millisecond, 4500 * time.Millisecond, 5500 * time.Millisecond}
	wantPhases := []schema.Phase{schema.PhaseWarmup, schema.PhaseWarmup, schema.PhaseMeasure, schema.PhaseMeasure, schema.PhaseMeasure}
	for i := range wantEnds {
		if ends[i] != wantEnds[i] || phases[i] != wantPhases[i] {
			t.Fatalf("interval %d ends %v (%s), want %v (%s)", i, ends[i], phases[i], wantEnds[i], wantPhases[i])
		}
	}
	// A late tick does not skip a boundary and keeps its scheduled phase.
	if got := s.Next(t0.Add(3600 * time.Millisecond)); got != t0.Add(4500*time.Millisecond) {
		t.Fatalf("Next after 3.6s = %v", got.Sub(t0))
	}
	if got := s.WarmupLeft(t0.Add(time.Second)); got != 1500*time.Millisecond {
		t.Fatalf("WarmupLeft = %v", got)
	}
	if got := (Schedule{Start: t0}).Phase(t0.Add(time.Second)); got != schema.PhaseMeasure {
		t.Fatalf("no warm-up: phase %s", got)
	}
}

func TestProgressPlainLines(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, false)
	p.Show(Line{Elapsed: time.Second, Phase: schema.PhaseWarmup, WarmupLeft: 2 * time.Second,
		Rates: []RateValue{{"sent", 1000}, {"recv", 998}}, P99Ms: 1.234, HasP99: true})
	p.Show(Line{Elapsed: 4 * time.Second, Phase: schema.PhaseMeasure, Rates: []RateValue{{"sent", 1000}}, Errors: 2})
	p.Done()
	got := b.String()
	want := "    1s warm-up    2s left | sent 1000/s | recv 998/s | p99 1.23 ms | errors 0\n" +
		"    4s measure | sent 1000/s | p99 - | errors 2\n"
	if got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	if strings.Contains(got, "\r") {
		t.Fatal("carriage return in non-terminal output")
	}
}

func TestProgressTerminalRewritesInPlace(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, true)
	p.Show(Line{Elapsed: time.Second, Phase: schema.PhaseMeasure, Rates: []RateValue{{"sent", 123456}}, Note: "draining"})
	p.Show(Line{Elapsed: 2 * time.Second, Phase: schema.PhaseMeasure})
	p.Done()
	out := b.String()
	if strings.Count(out, "\r") != 2 || strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("%q", out)
	}
	// The shorter second line blanks out the rest of the first.
	parts := strings.Split(strings.TrimSuffix(out, "\n"), "\r")
	if len(parts[1]) != len(parts[2]) {
		t.Fatalf("second line not padded: %q", out)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tb := Table{Title: "Summary", Rows: []Row{{"messages sent", "10"}, {"errors", "0"}},
		Latency: []LatencyRow{{"corrected", &schema.Latency{MinMs: 1, MeanMs: 2, P50Ms: 2, P90Ms: 3, P95Ms: 3, P99Ms: 4, P999Ms: 5, MaxMs: 6}}, {"uncorrected", nil}}}
	if _, err := tb.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"Summary\n", "messages sent  10", "p99.9", "6.000", "uncorrected    no samples"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}

// unwrapWriter is a filter over another writer, as schema.Redactor's writer is.
type unwrapWriter struct{ w io.Writer }

func (u unwrapWriter) Write(p []byte) (int, error) { return u.w.Write(p) }
func (u unwrapWriter) Unwrap() io.Writer           { return u.w }

// A filtering writer over a terminal is a terminal: the progress line keeps rewriting itself in place when the
// output passes through the redactor.
func TestIsTerminalUnwraps(t *testing.T) {
	pt, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer pt.Close()
	if !IsTerminal(pt) || !IsTerminal(unwrapWriter{unwrapWriter{pt}}) {
		t.Error("a terminal behind a filter is not seen as one")
	}
	if IsTerminal(unwrapWriter{io.Discard}) || IsTerminal(&bytes.Buffer{}) {
		t.Error("a non-terminal is seen as one")
	}
}
