package stat

import (
	"math"
	"testing"
)

// The splitter's running sums must give the Q̂ of the definition, computed here directly from the pairwise
// distances, for every split.
func TestSplitterMatchesDefinition(t *testing.T) {
	rng := newRand(21)
	for trial := range 200 {
		n := 10 + rng.IntN(60)
		x := make([]float64, n)
		for i := range x {
			x[i] = float64(rng.IntN(8)) + 0.5*rng.NormFloat64()*float64(trial%2) // ties on even trials
		}
		s := &splitter{minSeg: 5}
		got := s.best(x)
		want := split{tau: -1}
		for tau := 5; tau <= n-5; tau++ {
			a, b := x[:tau], x[tau:]
			var cross, wa, wb float64
			for _, u := range a {
				for _, v := range b {
					cross += math.Abs(u - v)
				}
			}
			for i := range a {
				for j := i + 1; j < len(a); j++ {
					wa += math.Abs(a[i] - a[j])
				}
			}
			for i := range b {
				for j := i + 1; j < len(b); j++ {
					wb += math.Abs(b[i] - b[j])
				}
			}
			m, k := float64(len(a)), float64(len(b))
			q := m * k / (m + k) * (2*cross/(m*k) - wa/(m*(m-1)/2) - wb/(k*(k-1)/2))
			if want.tau < 0 || q > want.q+1e-9 {
				want = split{tau, q}
			}
		}
		if got.tau != want.tau || math.Abs(got.q-want.q) > 1e-9*math.Max(1, math.Abs(want.q)) {
			t.Fatalf("trial %d (n=%d): best split %+v, want %+v", trial, n, got, want)
		}
	}
}
