package stat

import (
	"math"
	"testing"
)

func TestCompareToSegment(t *testing.T) {
	// Ten runs with a mean of 1000 and a standard deviation of 10 (CV 1 %).
	seg := []float64{990, 1010, 990, 1010, 990, 1010, 990, 1010, 990, 1010}
	sd := stddev(seg)
	half := StudentTQuantile(0.975, 9) * sd / 1000 * math.Sqrt(1.1)
	cases := []struct {
		name      string
		candidate float64
		dir       Direction
		verdict   Verdict
	}{
		{"identical", 1000, HigherIsBetter, NoChange},
		{"10% slower", 900, HigherIsBetter, Worse},
		{"10% faster", 1100, HigherIsBetter, Better},
		{"latency 10% higher", 1100, LowerIsBetter, Worse},
		{"3% slower: significant, below the minimum effect", 970, HigherIsBetter, NoChange},
	}
	for _, tc := range cases {
		r, err := Comparer{}.CompareToSegment(seg, tc.candidate, tc.dir)
		if err != nil {
			t.Fatal(err)
		}
		rel := tc.candidate/1000 - 1
		if r.Verdict != tc.verdict || r.Baseline != 1000 || math.Abs(r.Relative-rel) > 1e-12 ||
			math.Abs(r.RelativeCI.Lo-(rel-half)) > 1e-12 || math.Abs(r.RelativeCI.Hi-(rel+half)) > 1e-12 ||
			r.BaselineSamples != 10 || r.CandidateSamples != 1 || r.Need != 0 {
			t.Errorf("%s: %+v (interval %+v), want %s, relative %v ± %v", tc.name, r, *r.RelativeCI, tc.verdict, rel, half)
		}
	}
	if r, _ := (Comparer{}).CompareToSegment(seg, 970, HigherIsBetter); !r.Significant {
		t.Errorf("3%% slower against 1%% noise over 10 runs should be significant: %+v", r)
	}

	// Two runs: the noise is unknown.
	r, err := Comparer{}.CompareToSegment([]float64{1000, 1010}, 500, HigherIsBetter)
	if err != nil || r.Verdict != Inconclusive || r.Need != 3 || r.RelativeCI != nil {
		t.Errorf("two runs: %+v, %v", r, err)
	}
	// Noise of 5 % per run and a 5 % minimum effect: t·CV alone exceeds 2.5 %, so no segment length would do.
	noisy := []float64{950, 1050, 950, 1050, 950, 1050}
	r, _ = Comparer{}.CompareToSegment(noisy, 980, HigherIsBetter)
	if r.Verdict != Inconclusive || r.Need != 0 {
		t.Errorf("noisy segment: %+v", r)
	}
	// 1 % noise, a 5 % minimum effect and 3 runs: inconclusive now (t(0.975; 2) = 4.30 makes the interval
	// ±4.97 %), a segment of 9 would: the first length whose half-width is at most 2.5 % (t(0.975; 8) = 2.31 gives 2.43 %).
	r, _ = Comparer{}.CompareToSegment([]float64{990, 1010, 1000}, 990, HigherIsBetter)
	if r.Verdict != Inconclusive || r.Need != 9 || segmentHalfWidth(0.95, 0.01, 9) > 0.025 ||
		segmentHalfWidth(0.95, 0.01, 8) <= 0.025 {
		t.Errorf("short segment: %+v", r)
	}
	if _, err := (Comparer{}).CompareToSegment([]float64{1, 2, math.NaN()}, 1, HigherIsBetter); err == nil {
		t.Error("NaN accepted")
	}
}
