package pgbench

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// base is the epoch second the synthetic runs start at: pgbench's benchmark start (t0).
const base = 1_800_000_000

// at is an epoch time base+s seconds.
func at(s float64) time.Time { return time.UnixMicro(base*1e6 + int64(math.Round(s*1e6))).UTC() }

func prog(s, tps float64) Progress {
	failed := int64(0)
	return Progress{Timestamp: at(s), TPS: tps, LatencyMs: 1, StddevMs: 0.5, Failed: &failed}
}

func okTx(endS float64, latUs int64) Transaction {
	return Transaction{Status: TxOK, LatencyUs: latUs, End: at(endS)}
}

func newTestSampler(mode latencyMode, threads int, duration, warmup time.Duration) *sampler {
	return newSampler(samplerConfig{mode: mode, interval: time.Second, threads: threads, duration: duration, warmup: warmup,
		start: at(-0.1), now: func() time.Time { return at(100) }})
}

func spans(ivs []intervalSample) [][2]float64 {
	var out [][2]float64
	for _, iv := range ivs {
		out = append(out, [2]float64{float64(iv.Start.UnixMicro()-base*1e6) / 1e6, float64(iv.End.UnixMicro()-base*1e6) / 1e6})
	}
	return out
}

func TestSamplerWaitsForEveryThreadsLog(t *testing.T) {
	s := newTestSampler(modeExact, 2, 0, 0)
	s.tx(0, okTx(0.5, 1000)) // before any progress line: kept until its interval is known
	s.progress(prog(1.003, 2))
	s.progress(prog(2.001, 2))
	s.tx(0, okTx(0.9, 3000))
	s.tx(0, okTx(1.5, 2000)) // thread 0 is past interval 1, thread 1 has said nothing yet
	if got := s.take(); len(got) != 0 {
		t.Fatalf("emitted %v before thread 1's log passed interval 1", spans(got))
	}
	s.tx(1, okTx(1.002, 4000)) // ends inside interval 1 (which ends at 1.003)
	s.tx(1, okTx(1.2, 5000))   // thread 1 passes interval 1
	got := s.take()
	if len(got) != 1 || got[0].Ops != 3 || got[0].Start != at(0.003) || got[0].End != at(1.003) {
		t.Fatalf("interval 1: %v ops %v", spans(got), got)
	}
	l := got[0].Latency
	if l == nil || l.MinMs != 1 || l.MaxMs != float64(hdrHigh(4000))/1000 || math.Abs(l.MeanMs-8.0/3) > 1e-9 {
		t.Errorf("latency %+v", l)
	}
	if pg := got[0].Pgbench; pg == nil || pg.TPS != 2 || pg.StddevMs != 0.5 {
		t.Errorf("pgbench figures from the progress line: %+v", pg)
	}
	// In -t mode the newest interval waits for the end of the run (its tail may belong to it).
	s.tx(0, okTx(2.3, 1000))
	s.tx(1, okTx(2.4, 1000))
	if got := s.take(); len(got) != 0 {
		t.Fatalf("newest interval emitted in -t mode: %v", spans(got))
	}
	s.finish()
	got = s.take()
	// Interval 2 gets the tail (2.3 and 2.4 are less than half an interval after 2.001).
	if len(got) != 1 || got[0].Ops != 4 || got[0].End != at(2.4) {
		t.Fatalf("after finish: %v %+v", spans(got), got)
	}
	if r := s.result(); r.whole.counts.OK != 7 || r.whole.samples != 2 || r.late != 0 {
		t.Errorf("result %+v", r)
	}
}

func TestSamplerDurationRuns(t *testing.T) {
	t.Run("last report printed: the tail joins it", func(t *testing.T) {
		s := newTestSampler(modeExact, 1, 3*time.Second, 0)
		for i := 1; i <= 3; i++ {
			s.progress(prog(float64(i)+0.002, 1))
			s.tx(0, okTx(float64(i)-0.5, 1000))
		}
		s.tx(0, okTx(3.004, 1000)) // in flight when -T ran out
		if got := s.take(); len(got) != 2 {
			t.Fatalf("want intervals 1 and 2 before the end, the last held: %v", spans(got))
		}
		s.finish()
		got := s.take()
		if len(got) != 1 || got[0].Ops != 2 || got[0].End != at(3.004) || got[0].Pgbench.TPS != 1 {
			t.Fatalf("last: %v %+v", spans(got), got)
		}
	})
	t.Run("last report missing: the rest is a sample of its own", func(t *testing.T) {
		s := newTestSampler(modeExact, 1, 3*time.Second, 0)
		s.progress(prog(1.002, 1))
		s.progress(prog(2.002, 1))
		for _, e := range []float64{0.5, 1.5, 2.5, 2.9, 3.001} {
			s.tx(0, okTx(e, 2000))
		}
		s.finish()
		got := s.take()
		if len(got) != 3 || got[2].Start != at(2.002) || got[2].End != at(3.001) || got[2].Ops != 3 {
			t.Fatalf("%v %+v", spans(got), got)
		}
		if pg := got[2].Pgbench; pg == nil || math.Abs(pg.TPS-3/0.999) > 1e-6 || pg.StddevMs != 0 {
			t.Errorf("figures computed from the log without a progress line: %+v", pg)
		}
		if got[2].Elapsed != 2999*time.Millisecond { // since t0 = the first report − 1 s = 0.002

			t.Errorf("elapsed %v", got[2].Elapsed)
		}
	})
	t.Run("no progress line at all", func(t *testing.T) {
		s := newTestSampler(modeExact, 1, 0, 0)
		s.tx(0, okTx(0.2, 1000))
		s.tx(0, okTx(0.4, 1000))
		s.finish()
		got := s.take()
		if len(got) != 1 || got[0].Start != at(-0.1) || got[0].End != at(0.4) || got[0].Ops != 2 {
			t.Fatalf("%v %+v", spans(got), got)
		}
	})
}

func TestSamplerWarmup(t *testing.T) {
	for _, tt := range []struct {
		warmup time.Duration
		phases string
	}{
		{0, "MMMM"},
		{2 * time.Second, "WWMM"},
		{1500 * time.Millisecond, "WWMM"}, // rounded up to whole intervals
		{time.Second, "WMMM"},
	} {
		s := newTestSampler(modeExact, 1, 4*time.Second, tt.warmup)
		for i := 1; i <= 4; i++ {
			s.tx(0, okTx(float64(i)-0.5, int64(i)*1000))
			s.progress(prog(float64(i)+0.001, 1))
		}
		s.tx(0, okTx(4.002, 9000))
		s.finish()
		var phases []byte
		var measured int64
		for _, iv := range s.take() {
			if iv.Phase == schema.PhaseWarmup {
				phases = append(phases, 'W')
			} else {
				phases = append(phases, 'M')
				measured += iv.Ops
			}
		}
		r := s.result()
		if string(phases) != tt.phases || r.measured.counts.OK != measured || r.whole.counts.OK != 5 ||
			r.warmupSamples != len(tt.phases)-r.measured.samples {
			t.Errorf("warm-up %v: phases %s (want %s), measured %d/%d", tt.warmup, phases, tt.phases, r.measured.counts.OK, measured)
		}
		if l := r.measured.latency(); l == nil || (tt.warmup == 2*time.Second && l.MinMs != float64(hdrLow(3000))/1000) {
			t.Errorf("warm-up %v: measured latency %+v", tt.warmup, l)
		}
	}
}

func TestSamplerStatuses(t *testing.T) {
	s := newSampler(samplerConfig{mode: modeExact, interval: time.Second, threads: 1, logOpts: LogOptions{HasLag: true, HasRetries: true}})
	s.progress(prog(1, 5))
	for _, tx := range []Transaction{
		{Status: TxOK, LatencyUs: 1000, LagUs: 100, Retries: 2, End: at(0.1)},
		{Status: TxOK, LatencyUs: 3000, LagUs: 300, End: at(0.2)},
		{Status: TxFailed, Retries: 9, End: at(0.3)},
		{Status: TxSerialization, End: at(0.4)},
		{Status: TxDeadlock, Retries: 1, End: at(0.5)},
		{Status: TxSkipped, Retries: 4294967295, End: at(0.6)}, // pgbench prints tries-1 of an untried one
		{Status: TxOK, LatencyUs: 2000, End: at(1.5)},
	} {
		s.tx(0, tx)
	}
	s.finish()
	r := s.result()
	want := Counts{OK: 3, Failed: 1, Serialization: 1, Deadlock: 1, Skipped: 1, Retried: 3, Retries: 12}
	if r.whole.counts != want {
		t.Errorf("counts %+v, want %+v", r.whole.counts, want)
	}
	if lag := r.whole.log.lagMs(); math.Abs(lag-0.4/3*1) > 1e-9 {
		t.Errorf("lag %v ms", lag)
	}
	if sd := r.whole.log.stddevMs(); math.Abs(sd-math.Sqrt(2.0/3)) > 1e-9 {
		t.Errorf("stddev %v ms", sd)
	}
	f := measuredFigures(r, modeExact)
	if f.Errors != 3 || f.Pgbench.Failed != 3 || f.Pgbench.Skipped != 1 || f.Pgbench.Retries != 12 {
		t.Errorf("figures %+v %+v", f, f.Pgbench)
	}
}

func TestSamplerLateTransaction(t *testing.T) {
	// pgbench was said to run one thread, but a second thread's file appears after interval 1 was emitted.
	s := newTestSampler(modeExact, 1, 0, 0)
	s.progress(prog(1, 1))
	s.progress(prog(2, 1))
	s.tx(0, okTx(1.5, 1000))
	if got := s.take(); len(got) != 1 {
		t.Fatalf("%v", spans(got))
	}
	s.tx(1, okTx(0.5, 1000)) // belongs to interval 1, already gone
	s.finish()
	got := s.take()
	if r := s.result(); r.late != 1 || r.whole.counts.OK != 2 || len(got) != 1 || got[0].Ops != 2 {
		t.Errorf("late %d, total %d, last sample %+v", r.late, r.whole.counts.OK, got)
	}
}

func TestSamplerProgressOnly(t *testing.T) {
	s := newTestSampler(modeProgress, 2, 0, 0)
	lag := 0.25
	p := prog(1.5, 1000) // an interval of 1.5 s: reports were skipped
	p.LagMs = &lag
	s.progress(prog(1, 800))
	s.progress(p)
	got := s.take()
	if len(got) != 1 || got[0].Ops != 800 || got[0].Latency != nil || got[0].Pgbench.LagMs != 0 {
		t.Fatalf("%+v", got)
	}
	s.finish()
	got = s.take()
	if len(got) != 1 || got[0].Ops != 500 || got[0].Pgbench.LagMs != 0.25 {
		t.Fatalf("%+v", got)
	}
	f := measuredFigures(s.result(), modeProgress)
	// The lag is averaged over the transactions of the intervals that report one.
	if f.Ops != 1300 || f.Latency != nil || f.Pgbench.LagMs != 0.25 {
		t.Errorf("figures %+v %+v", f, f.Pgbench)
	}
}

// hdrHigh and hdrLow are the values the histogram reports for an exact value: the top and bottom of its
// bucket (the contract's 2 significant digits).
func hdrHigh(us int64) int64 {
	h := stats.NewHistogram()
	_ = h.RecordValue(us)
	return h.Max()
}

func hdrLow(us int64) int64 {
	h := stats.NewHistogram()
	_ = h.RecordValue(us)
	return h.Min()
}

// exactRank is the rank HdrHistogram uses for a percentile: round-half-up of p% of n, at least 1.
func exactRank(p float64, n int) int {
	return min(max(int(p/100*float64(n)+0.5), 1), n)
}

// checkLatency asserts that l is what HdrHistogram reports for exactly the latencies lats (µs), with the exact
// mean.
func checkLatency(t *testing.T, what string, l *schema.Latency, lats []int64) {
	t.Helper()
	if len(lats) == 0 {
		if l != nil {
			t.Errorf("%s: latency %+v for no transactions", what, l)
		}
		return
	}
	if l == nil {
		t.Errorf("%s: no latency for %d transactions", what, len(lats))
		return
	}
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	var sum float64
	for _, v := range sorted {
		sum += float64(v)
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	for _, c := range []struct {
		name string
		got  float64
		want float64
	}{
		{"min", l.MinMs, ms(hdrLow(sorted[0]))},
		{"p50", l.P50Ms, ms(hdrHigh(sorted[exactRank(50, len(sorted))-1]))},
		{"p90", l.P90Ms, ms(hdrHigh(sorted[exactRank(90, len(sorted))-1]))},
		{"p95", l.P95Ms, ms(hdrHigh(sorted[exactRank(95, len(sorted))-1]))},
		{"p99", l.P99Ms, ms(hdrHigh(sorted[exactRank(99, len(sorted))-1]))},
		{"p99.9", l.P999Ms, ms(hdrHigh(sorted[exactRank(99.9, len(sorted))-1]))},
		{"max", l.MaxMs, ms(hdrHigh(sorted[len(sorted)-1]))},
		{"mean", l.MeanMs, min(max(sum/float64(len(sorted))/1000, l.MinMs), l.MaxMs)},
	} {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s: %s = %v ms, want %v ms (from %d sorted latencies)", what, c.name, c.got, c.want, len(sorted))
		}
	}
	// And the bucket is tight: within 1/128 of the exact order statistic (2 significant digits; was 0.1% at 3).
	if p99 := float64(sorted[exactRank(99, len(sorted))-1]) / 1000; l.P99Ms < p99 || l.P99Ms > p99*(1+1.0/128)+0.001 {
		t.Errorf("%s: p99 %v ms, exact %v ms", what, l.P99Ms, p99)
	}
}

func TestSamplerPercentilesAreExact(t *testing.T) {
	s := newTestSampler(modeExact, 3, 0, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	var all []int64
	per := map[int][]int64{}
	for i := 1; i <= 3; i++ {
		s.progress(prog(float64(i), 1))
	}
	for th := 0; th < 3; th++ {
		for k := 0; k < 3000; k++ {
			end := float64(k)/1000 + 0.0005 // 0..3 s, in order within the thread
			lat := int64(rng.ExpFloat64()*2000) + 50
			if rng.IntN(100) == 0 {
				lat *= 300 // a tail
			}
			s.tx(th, okTx(end, lat))
			all = append(all, lat)
			iv := int(end) + 1
			per[iv] = append(per[iv], lat)
		}
	}
	s.finish()
	got := s.take()
	if len(got) != 3 {
		t.Fatalf("%v", spans(got))
	}
	for i, iv := range got {
		checkLatency(t, "interval "+string(rune('1'+i)), iv.Latency, per[i+1])
	}
	r := s.result()
	checkLatency(t, "total", r.whole.latency(), all)
}

// TestSamplerReplaysCapturedRun feeds a run captured from pgbench 15 (-c 4 -j 2 -T 2 -R 400 -L 1 -l -P 1
// --progress-timestamp, in testdata/pg15/txlog-rate) through the parsers and the sampler, the logs arriving
// after the progress lines as they do live, and compares the result with pgbench's own summary.
func TestSamplerReplaysCapturedRun(t *testing.T) {
	dir := "testdata/pg15/txlog-rate"
	b := readBenchArgs(strings.Fields("-c 4 -j 2 -T 2 -R 400 -L 1 -l -P 1 --progress-timestamp"), 15)
	s := newSampler(samplerConfig{mode: modeExact, interval: time.Second, threads: b.threads, logOpts: b.logOptions(),
		duration: b.duration, start: time.Unix(1795447622, 0)})
	for _, line := range strings.Split(readTestdata(t, filepath.Join(dir, "stderr")), "\n") {
		if l, err := ClassifyStderr(line); err == nil && l.Kind == StderrProgress {
			s.progress(l.Progress)
		}
	}
	for thread, name := range []string{"pgbench_log.5618", "pgbench_log.5618.1"} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			tx, err := ParseLogLine(sc.Text(), b.logOptions())
			if err != nil {
				t.Fatal(err)
			}
			s.tx(thread, tx)
		}
		f.Close()
	}
	s.finish()
	got := s.take()
	if len(got) != 2 {
		t.Fatalf("%d samples", len(got))
	}
	for i, want := range []struct {
		tps     float64
		skipped int64
	}{{263, 74}, {305, 99}} {
		iv := got[i]
		if iv.Pgbench.TPS != want.tps || iv.Pgbench.Skipped != want.skipped || iv.Pgbench.LagMs == 0 {
			t.Errorf("sample %d: pgbench figures %+v", i+1, iv.Pgbench)
		}
		// The log agrees with the progress line up to transactions that straddle the report.
		if d := iv.End.Sub(iv.Start).Seconds(); math.Abs(float64(iv.Ops)-want.tps*d) > 3 || math.Abs(float64(iv.Counts.Skipped-want.skipped)) > 3 {
			t.Errorf("sample %d: %d transactions and %d skipped in %.3f s", i+1, iv.Ops, iv.Counts.Skipped, d)
		}
	}
	sum, err := ParseSummary(strings.NewReader(readTestdata(t, filepath.Join(dir, "stdout"))))
	if err != nil {
		t.Fatal(err)
	}
	r := s.result()
	w := makeWholeRun(r, modeExact)
	if w.OK != 569 || w.Skipped != 173 {
		t.Errorf("whole run %+v", w)
	}
	if d := disagreements(w, sum, false); len(d) > 0 {
		t.Errorf("disagreements with pgbench's summary: %q", d)
	}
	if lag := r.whole.log.lagMs(); math.Abs(lag-0.280) > 0.01 {
		t.Errorf("lag %.3f ms, pgbench says 0.280", lag)
	}
}

// TestSamplerCountsMatchCapturedSummaries replays every captured pgbench 15 run with a per-transaction log
// and checks the counts against pgbench's own summary: successes, failures by kind, retries, skipped.
func TestSamplerCountsMatchCapturedSummaries(t *testing.T) {
	for _, tc := range []struct {
		dir, args string
		want      Counts
	}{
		{"txlog-plain", "-c 2 -j 2 -t 15 -l", Counts{OK: 30}},
		{"txlog-rate", "-c 4 -j 2 -T 2 -R 400 -L 1 -l -P 1 --progress-timestamp", Counts{OK: 569, Skipped: 173}},
		{"txlog-serial", "-c 8 -j 2 -t 25 -l --max-tries 3 --failures-detailed", Counts{OK: 72, Serialization: 128, Retried: 169, Retries: 314}},
		{"txlog-deadlock", "-f deadlock.sql -c 4 -j 2 -t 15 -R 200 -l --max-tries 2 --failures-detailed", Counts{OK: 41, Deadlock: 19, Retried: 39, Retries: 39}},
		{"txlog-failed", "-c 8 -j 2 -t 20 -l", Counts{OK: 23, Failed: 137}},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := filepath.Join("testdata/pg15", tc.dir)
			b := readBenchArgs(strings.Fields(tc.args), 15)
			s := newSampler(samplerConfig{mode: modeExact, interval: time.Second, threads: b.threads, logOpts: b.logOptions(),
				duration: b.duration, start: time.Unix(1795447000, 0)})
			for _, line := range strings.Split(readTestdata(t, filepath.Join(dir, "stderr")), "\n") {
				if l, err := ClassifyStderr(line); err == nil && l.Kind == StderrProgress {
					s.progress(l.Progress)
				}
			}
			files, _ := filepath.Glob(filepath.Join(dir, "pgbench_log.*"))
			for _, name := range files {
				thread := 0
				if parts := strings.Split(filepath.Base(name), "."); len(parts) == 3 {
					thread = 1
				}
				for _, line := range strings.Split(strings.TrimSuffix(readTestdata(t, name), "\n"), "\n") {
					tx, err := ParseLogLine(line, b.logOptions())
					if err != nil {
						t.Fatal(err)
					}
					s.tx(thread, tx)
				}
			}
			s.finish()
			r := s.result()
			if r.whole.counts != tc.want {
				t.Errorf("counts %+v, want %+v", r.whole.counts, tc.want)
			}
			sum, err := ParseSummary(strings.NewReader(readTestdata(t, filepath.Join(dir, "stdout"))))
			if err != nil {
				t.Fatal(err)
			}
			// Only the counts: without -P pgbench derives its latency average instead of measuring it.
			for _, d := range disagreements(makeWholeRun(r, modeExact), sum, true) {
				if !strings.HasPrefix(d, "latency") {
					t.Errorf("disagreement: %s", d)
				}
			}
		})
	}
}
