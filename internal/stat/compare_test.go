package stat

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

// closedLoopRun returns the per-second throughput and p99 latency of a synthetic steady-state run of a
// closed-loop load generator (connections each waiting for a reply before sending again), with the shapes seen in
// benchpipe's MQTT and pgbench runs: the per-second mean latency wanders (AR(1) on its logarithm, 5 % spread,
// slow seconds come in runs), throughput is connections/latency, the p99 is a tail factor times the mean
// latency, and now and then a second stalls (throughput halved, p99 five times higher). A delaying proxy in
// front of the target, the slowdown of issue 17's test, adds proxyDelay to every round trip.
func closedLoopRun(rng *rand.Rand, n int, proxyDelay float64) (throughput, p99 []float64) {
	const connections, latency = 10.0, 0.002 // seconds
	wander := ar1(rng, n, 0.6, 0, 0.05)
	throughput, p99 = make([]float64, n), make([]float64, n)
	for i := range n {
		l := latency*math.Exp(wander[i]) + proxyDelay
		throughput[i] = connections / l
		p99[i] = 3 * l * math.Exp(0.05*rng.NormFloat64())
		if rng.IntN(100) == 0 {
			throughput[i] /= 2
			p99[i] *= 5
		}
	}
	return throughput, p99
}

// A 0.3 ms delaying proxy in front of a 2 ms target (−13 % throughput, +15 % p99) over 5-minute runs is "worse"
// in at least 95 % of seeds for both figures; two runs of the same set-up are "no significant change" in at
// least 95 %.
func TestCompareSlowdownAndIdenticalRuns(t *testing.T) {
	const seeds, n = 200, 300
	c := Comparer{Resamples: 500}
	type tally map[Verdict]int
	slowTP, slowP99, sameTP, sameP99 := tally{}, tally{}, tally{}, tally{}
	for seed := range uint64(seeds) {
		c.Seed = seed
		rng := newRand(seed)
		baseTP, baseP99 := closedLoopRun(rng, n, 0)
		slowTPs, slowP99s := closedLoopRun(rng, n, 0.0003)
		sameTPs, sameP99s := closedLoopRun(rng, n, 0)
		for _, cmp := range []struct {
			tally      tally
			base, cand []float64
			dir        Direction
		}{
			{slowTP, baseTP, slowTPs, HigherIsBetter},
			{slowP99, baseP99, slowP99s, LowerIsBetter},
			{sameTP, baseTP, sameTPs, HigherIsBetter},
			{sameP99, baseP99, sameP99s, LowerIsBetter},
		} {
			r, err := c.Compare(cmp.base, cmp.cand, cmp.dir)
			if err != nil {
				t.Fatal(err)
			}
			cmp.tally[r.Verdict]++
		}
	}
	want := int(math.Ceil(0.95 * seeds))
	for _, tc := range []struct {
		name    string
		tally   tally
		verdict Verdict
	}{
		{"slowdown, throughput", slowTP, Worse},
		{"slowdown, p99", slowP99, Worse},
		{"identical, throughput", sameTP, NoChange},
		{"identical, p99", sameP99, NoChange},
	} {
		t.Logf("%s: %v", tc.name, tc.tally)
		if tc.tally[tc.verdict] < want {
			t.Errorf("%s: %q in %d of %d seeds, want at least %d", tc.name, tc.verdict, tc.tally[tc.verdict], seeds, want)
		}
	}
}

// The bootstrap interval's coverage on AR(1) samples with a known difference: medians 1000 and 950 (−5 %), lag-1
// autocorrelation 0.6, 10-minute runs. Over 200 seeds, the 95 % intervals must contain the true difference as
// often as a correct 95 % interval would (within the binomial 0.1 % bounds), and the ordinary bootstrap, which
// ignores the autocorrelation, must not.
func TestCompareCoverageAR1(t *testing.T) {
	const seeds, n = 200, 600
	lo, hi := binomialLower(seeds, 0.95, 0.001), binomialUpper(seeds, 0.95, 0.001)
	for _, tc := range []struct {
		name  string
		block int
		ok    bool
	}{
		{"block bootstrap", 0, true},
		{"ordinary bootstrap", 1, false},
	} {
		rel, diff := 0, 0
		for seed := range uint64(seeds) {
			rng := newRand(seed)
			a, b := ar1(rng, n, 0.6, 1000, 50), ar1(rng, n, 0.6, 950, 50)
			r, err := Comparer{Seed: seed, Resamples: 500, BlockLength: tc.block}.Compare(a, b, HigherIsBetter)
			if err != nil {
				t.Fatal(err)
			}
			if r.RelativeCI.Contains(-0.05) {
				rel++
			}
			if r.DiffCI.Contains(-50) {
				diff++
			}
		}
		t.Logf("%s: coverage of the relative difference %d/%d, of the difference %d/%d (correct: %d–%d)",
			tc.name, rel, seeds, diff, seeds, lo, hi)
		inside := func(k int) bool { return lo <= k && k <= hi }
		if tc.ok && (!inside(rel) || !inside(diff)) {
			t.Errorf("%s: coverage %d and %d of %d, want %d–%d", tc.name, rel, diff, seeds, lo, hi)
		}
		if !tc.ok && (inside(rel) || inside(diff)) {
			t.Errorf("%s: coverage %d and %d of %d inside %d–%d: the test no longer shows why blocks are needed",
				tc.name, rel, diff, seeds, lo, hi)
		}
	}
}

func TestCompareTooShort(t *testing.T) {
	rng := newRand(1)
	ar := ar1(rng, 100, 0.95, 100, 5)
	arBlock := 10 * max(BlockLength(ar), BlockLength(ar[:99]))
	for _, tc := range []struct {
		name       string
		c          Comparer
		base, cand []float64
		need       int
	}{
		{"fewer than MinSamples", Comparer{}, iid(rng, 20, 100, 5), iid(rng, 25, 100, 5), 30},
		{"MinSamples set", Comparer{MinSamples: 50}, iid(rng, 40, 100, 5), iid(rng, 40, 100, 5), 50},
		{"p99 needs 10 samples beyond it", Comparer{Quantile: 0.99}, iid(rng, 600, 100, 5), iid(rng, 2000, 100, 5), 1000},
		{"fewer than 10 blocks", Comparer{}, ar, ar[:99], arBlock},
	} {
		r, err := tc.c.Compare(tc.base, tc.cand, HigherIsBetter)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if r.Verdict != Inconclusive || r.Need != tc.need || r.RelativeCI != nil || r.DiffCI != nil {
			t.Errorf("%s: verdict %v, need %d, CI %v; want inconclusive, need %d, no interval", tc.name, r.Verdict, r.Need, r.RelativeCI, tc.need)
		}
		if !strings.Contains(r.Reason, "too short") {
			t.Errorf("%s: reason %q", tc.name, r.Reason)
		}
	}
	if arBlock <= 100 {
		t.Fatalf("the AR(1) case needs a block longer than 10 samples to test the block rule, got %d", arBlock/10)
	}
}

// A 1-minute run whose per-second values spread by 10 % cannot tell a 2 % change from none; the comparison says
// so and how many samples would. Runs of that length with no change are then "no significant change" in about
// 95 % of seeds: at least the binomial 0.1 % bound for 95 %.
func TestCompareInconclusiveNeed(t *testing.T) {
	c := Comparer{MinEffect: 0.02, Resamples: 500}
	r, err := c.Compare(iid(newRand(1), 60, 100, 10), iid(newRand(2), 60, 100, 10), HigherIsBetter)
	if err != nil {
		t.Fatal(err)
	}
	if r.Verdict != Inconclusive || r.Need <= 60 {
		t.Fatalf("verdict %v, need %d: want inconclusive with need > 60 (%s)", r.Verdict, r.Need, r.Reason)
	}
	t.Logf("60 samples: %s", r.Reason)
	settled := 0
	const seeds = 100
	for seed := range uint64(seeds) {
		c.Seed = seed
		r, err := c.Compare(iid(newRand(2*seed+10), r.Need, 100, 10), iid(newRand(2*seed+11), r.Need, 100, 10), HigherIsBetter)
		if err != nil {
			t.Fatal(err)
		}
		if r.Verdict == NoChange {
			settled++
		}
	}
	want := binomialLower(seeds, 0.95, 0.001)
	t.Logf("with %d samples: no significant change in %d of %d seeds (want ≥ %d)", r.Need, settled, seeds, want)
	if settled < want {
		t.Errorf("with the %d samples asked for, no significant change in %d of %d seeds, want at least %d", r.Need, settled, seeds, want)
	}
}

func TestCompareDeterministic(t *testing.T) {
	rng := newRand(3)
	a, b := ar1(rng, 900, 0.5, 100, 5), ar1(rng, 900, 0.5, 90, 5)
	r1, err1 := Comparer{Seed: 42}.Compare(a, b, HigherIsBetter)
	r2, err2 := Comparer{Seed: 42}.Compare(a, b, HigherIsBetter)
	r3, err3 := Comparer{Seed: 43}.Compare(a, b, HigherIsBetter)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(r1, r2) {
		t.Errorf("same seed, different results:\n%+v\n%+v", r1, r2)
	}
	if *r1.RelativeCI == *r3.RelativeCI {
		t.Errorf("seeds 42 and 43 gave the same interval %v: the seed does not drive the resampling", r1.RelativeCI)
	}
	if r1.Verdict != Worse || r3.Verdict != Worse {
		t.Errorf("a 10 %% drop: verdicts %v and %v, want worse", r1.Verdict, r3.Verdict)
	}
	if want := (Quantile(b, 0.5) - Quantile(a, 0.5)) / math.Sqrt((variance(a)+variance(b))/2); r1.EffectSize != want {
		t.Errorf("effect size %v, want %v", r1.EffectSize, want)
	}
}

func TestCompareErrors(t *testing.T) {
	x := iid(newRand(1), 100, 100, 5)
	_, err := Comparer{Confidence: 1.5, MinEffect: -1, Quantile: 2, Resamples: 10, BlockLength: -1, MinSamples: 1}.Compare(x, x, HigherIsBetter)
	for _, want := range []string{"confidence 1.5", "min effect -1", "quantile 2", "resamples 10", "block length -1", "min samples 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want it to name %q (every problem at once)", err, want)
		}
	}
	if _, err := (Comparer{}).Compare(x, x, Direction(7)); err == nil {
		t.Error("unknown direction accepted")
	}
	if _, err := (Comparer{}).Compare(nil, x, HigherIsBetter); err == nil {
		t.Error("empty baseline accepted")
	}
	if _, err := (Comparer{}).Compare(x, append([]float64{math.NaN()}, x...), HigherIsBetter); err == nil {
		t.Error("NaN sample accepted")
	}
	if _, err := (Comparer{}).Compare(make([]float64, 100), x, HigherIsBetter); !errors.Is(err, ErrNonPositiveBaseline) {
		t.Errorf("zero baseline: error %v, want ErrNonPositiveBaseline", err)
	}
}

// --json carries the comparison: it must encode whatever the verdict, intervals included or left out.
func TestComparisonJSON(t *testing.T) {
	rng := newRand(4)
	short, err := Comparer{}.Compare(iid(rng, 10, 100, 5), iid(rng, 10, 100, 5), HigherIsBetter)
	if err != nil {
		t.Fatal(err)
	}
	judged, err := Comparer{Seed: 1}.Compare(iid(rng, 100, 100, 5), iid(rng, 100, 80, 5), HigherIsBetter)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		r    Comparison
		want []string
	}{
		{short, []string{`"verdict":"inconclusive"`, `"need":30`}},
		{judged, []string{`"verdict":"worse"`, `"relative_ci":{"lo":`, `"diff_ci":{"lo":`}},
	} {
		b, err := json.Marshal(tc.r)
		if err != nil {
			t.Fatalf("%s: %v", tc.r.Verdict, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s", b)
				t.Errorf("JSON of a %s comparison lacks %s", tc.r.Verdict, w)
			}
		}
		if tc.r.Verdict == Inconclusive && strings.Contains(string(b), "_ci") {
			t.Errorf("too short to judge, yet intervals in %s", b)
		}
	}
}

func TestVerdictJSON(t *testing.T) {
	for v := NoChange; v <= Inconclusive; v++ {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var back Verdict
		if err := json.Unmarshal(b, &back); err != nil || back != v {
			t.Errorf("%v → %s → %v, %v", v, b, back, err)
		}
	}
	if b, _ := json.Marshal(Worse); string(b) != `"worse"` {
		t.Errorf("Worse is %s in JSON", b)
	}
}
