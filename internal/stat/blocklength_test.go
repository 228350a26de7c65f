package stat

import (
	"math"
	"slices"
	"testing"
)

// For AR(1) noise with coefficient φ the block length minimising the circular block bootstrap's error is
// (6φ²/(1−φ²)²)^⅓ n^⅓ (Politis & White 2004, from Ĝ = 2φσ²/(1−φ)² and ĝ(0) = σ²(1+φ)/(1−φ)); the automatic
// rule must find it from the data, and 1 for independent samples (up to 3 by chance).
func TestBlockLengthAR1(t *testing.T) {
	const n = 3600
	for _, phi := range []float64{0, 0.5, 0.8} {
		want := math.Cbrt(6*phi*phi/((1-phi*phi)*(1-phi*phi))) * math.Cbrt(n)
		var got []float64
		for seed := range 30 {
			got = append(got, float64(BlockLength(ar1(newRand(uint64(seed)), n, phi, 100, 5))))
		}
		med := Median(got)
		switch {
		case phi == 0 && (med > 1 || slices.Max(got) > 3):
			t.Errorf("independent samples: block lengths %v, want a median of 1 and none over 3", got)
		case phi > 0 && math.Abs(med/want-1) > 0.2:
			t.Errorf("φ=%v: median block length %v (of %v), want %.1f ± 20%%", phi, med, got, want)
		}
		t.Logf("φ=%v: theory %.1f, median of 30 series %v", phi, want, med)
	}
	if got := BlockLength([]float64{1, 2, 3}); got != 1 {
		t.Errorf("3 samples: block length %d, want 1", got)
	}
	if got := BlockLength(make([]float64, 100)); got != 1 {
		t.Errorf("constant series: block length %d, want 1", got)
	}
}
