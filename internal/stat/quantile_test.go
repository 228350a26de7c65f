package stat

import (
	"math"
	"slices"
	"testing"
)

func TestQuantile(t *testing.T) {
	// Expected values are R's quantile(x, q, type = 7).
	for _, tc := range []struct {
		x    []float64
		q    float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, 0.5, 2.5},
		{[]float64{4, 3, 2, 1}, 0.25, 1.75},
		{[]float64{1, 2, 3, 4}, 0.99, 3.97},
		{[]float64{1, 2, 3, 4}, 0, 1},
		{[]float64{1, 2, 3, 4}, 1, 4},
		{[]float64{7}, 0.3, 7},
		{[]float64{10, 0, 5}, 0.5, 5},
	} {
		if got := Quantile(tc.x, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("Quantile(%v, %v) = %v, want %v", tc.x, tc.q, got, tc.want)
		}
	}
	if got := Quantile(nil, 0.5); !math.IsNaN(got) {
		t.Errorf("Quantile(nil) = %v, want NaN", got)
	}
	x := []float64{3, 1, 2}
	Median(x)
	if !slices.Equal(x, []float64{3, 1, 2}) {
		t.Errorf("Median modified its argument: %v", x)
	}
}

// The bootstrap finds a resample's quantile by counting ranks; it must be exactly the quantile of the resample
// written out, ties included.
func TestQuantileOfCountsMatchesQuantile(t *testing.T) {
	rng := newRand(7)
	for trial := range 500 {
		n := 1 + rng.IntN(60)
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(10)) // many ties
		}
		r := newRankedSample(x)
		var resample []float64
		for range n {
			i := rng.IntN(n)
			r.counts[r.rank[i]]++
			resample = append(resample, x[i])
		}
		q := []float64{0.5, 0.99, 0.01, 0, 1, rng.Float64()}[trial%6]
		if got, want := r.quantileOfCounts(n, q), Quantile(resample, q); got != want {
			t.Fatalf("trial %d: quantile %v of %v by counts = %v, want %v", trial, q, resample, got, want)
		}
		if slices.ContainsFunc(r.counts, func(c int32) bool { return c != 0 }) {
			t.Fatalf("trial %d: counts not cleared", trial)
		}
	}
}

func TestStudentTQuantile(t *testing.T) {
	// Expected values are R's qt(p, df).
	for _, tc := range []struct{ p, df, want float64 }{
		{0.975, 10, 2.228139},
		{0.95, 4, 2.131847},
		{0.95, 19, 1.729133},
		{0.995, 1, 63.656741},
		{0.05, 9, -1.833113},
		{0.975, 1e6, 1.959966},
		{0.5, 3, 0},
	} {
		if got := StudentTQuantile(tc.p, tc.df); math.Abs(got-tc.want) > 1e-5 {
			t.Errorf("StudentTQuantile(%v, %v) = %.6f, want %.6f", tc.p, tc.df, got, tc.want)
		}
	}
}
