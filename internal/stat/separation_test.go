package stat

import (
	"math"
	"testing"
)

// strongly autocorrelated seconds (φ 0.9): the automatic block is long, and 35 seconds hold fewer than 10 blocks.
func TestBlockSeparation(t *testing.T) {
	base := ar1(newRand(1), 35, 0.9, 1, 0.05)    // 1 ms latency
	slowed := ar1(newRand(2), 35, 0.9, 11, 0.05) // 10 ms more
	same := ar1(newRand(3), 35, 0.9, 1, 0.05)    // no change
	if BlockLength(base) < 4 || BlockLength(slowed) < 4 {
		t.Fatalf("blocks %d, %d: the case needs fewer than 10 blocks per run", BlockLength(base), BlockLength(slowed))
	}
	plain, err := Comparer{}.Compare(base, slowed, LowerIsBetter)
	if err != nil || plain.Verdict != Inconclusive || plain.RelativeCI != nil {
		t.Fatalf("without BlockSeparation: %+v, %v", plain, err)
	}
	r, err := Comparer{BlockSeparation: true}.Compare(base, slowed, LowerIsBetter)
	if err != nil || r.Verdict != Worse || !r.Significant || r.Need != 0 || r.RelativeCI == nil || !(r.RelativeCI.Lo > 5) {
		t.Fatalf("with BlockSeparation: %+v, %v", r, err)
	}
	wantA, wantB := blockStatistics(base, r.BaselineBlock, 0.5), blockStatistics(slowed, r.CandidateBlock, 0.5)
	if lo := minOf(wantB)/maxOf(wantA) - 1; math.Abs(r.RelativeCI.Lo-lo) > 1e-12 {
		t.Errorf("relative range starts at %v, want %v", r.RelativeCI.Lo, lo)
	}
	if r, _ := (Comparer{BlockSeparation: true}).Compare(base, same, LowerIsBetter); r.Verdict != Inconclusive || r.Need == 0 {
		t.Errorf("no change: %+v", r)
	}
	// Runs long enough for the bootstrap are judged by it, as without the option.
	long1, long2 := ar1(newRand(4), 600, 0.5, 1000, 50), ar1(newRand(5), 600, 0.5, 1000, 50)
	x, _ := Comparer{Seed: 1}.Compare(long1, long2, HigherIsBetter)
	y, _ := Comparer{Seed: 1, BlockSeparation: true}.Compare(long1, long2, HigherIsBetter)
	if *x.RelativeCI != *y.RelativeCI || x.Verdict != y.Verdict {
		t.Errorf("long runs: %+v vs %+v", x, y)
	}
}

// Under no change the separation test raises a false alarm with probability at most 1 − Confidence. Counted are
// the runs too short for the bootstrap, which it judges; the others are the bootstrap's, whose coverage
// compare_test.go checks.
func TestBlockSeparationFalseAlarms(t *testing.T) {
	const trials = 2000
	for _, phi := range []float64{0.8, 0.9} {
		alarms, judged := 0, 0
		for seed := range uint64(trials) {
			a, b := ar1(newRand(10+2*seed), 40, phi, 100, 5), ar1(newRand(11+2*seed), 40, phi, 100, 5)
			r, err := Comparer{BlockSeparation: true}.Compare(a, b, HigherIsBetter)
			if err != nil {
				t.Fatal(err)
			}
			if r.Resamples == 0 || r.RelativeCI == nil { // decided by separation, or too short even for it
				judged++
				if r.Significant {
					alarms++
				}
			}
		}
		if limit := binomialUpper(trials, 0.05, 0.001); alarms > limit || judged < trials/2 {
			t.Errorf("φ %v: %d false alarms in %d runs (%d judged by separation), more than %d (5%%)", phi, alarms, trials, judged, limit)
		}
		t.Logf("φ %v: %d false alarms of %d, %d judged by separation", phi, alarms, trials, judged)
	}
}

func minOf(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = min(m, v)
	}
	return m
}

func maxOf(x []float64) float64 {
	m := x[0]
	for _, v := range x {
		m = max(m, v)
	}
	return m
}

func TestBinomial(t *testing.T) {
	for _, c := range []struct {
		n, k int
		want float64
	}{{8, 4, 70}, {16, 5, 4368}, {28, 8, 3108105}, {6, 0, 1}} {
		if got := binomial(c.n, c.k); got != c.want {
			t.Errorf("C(%d, %d) = %v, want %v", c.n, c.k, got, c.want)
		}
	}
}
