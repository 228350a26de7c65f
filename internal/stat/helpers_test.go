package stat

import (
	"math"
	"math/rand/v2"
)

// Test data generators. Seeds are fixed so every count a test asserts is reproducible; the assertions bound
// them with binomial margins so that the bounds are statements about the method, not about one draw.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x74657374)) }

// ar1 returns n values of a stationary Gaussian AR(1) process with lag-1 autocorrelation phi, marginal mean mu
// and marginal standard deviation sd: the shape of per-second throughput whose slow seconds come in runs.
func ar1(rng *rand.Rand, n int, phi, mu, sd float64) []float64 {
	x := make([]float64, n)
	innov := sd * math.Sqrt(1-phi*phi)
	prev := rng.NormFloat64() * sd
	for i := range x {
		if i > 0 {
			prev = phi*prev + innov*rng.NormFloat64()
		}
		x[i] = mu + prev
	}
	return x
}

// iid returns n independent normal values.
func iid(rng *rand.Rand, n int, mu, sd float64) []float64 { return ar1(rng, n, 0, mu, sd) }

// binomialUpper returns the smallest k with P(X > k) ≤ tail for X ~ Binomial(n, p): the count of events a
// correct method exceeds with probability at most tail.
func binomialUpper(n int, p, tail float64) int {
	return binomialQuantile(n, p, 1-tail)
}

// binomialLower returns the largest k with P(X < k) ≤ tail.
func binomialLower(n int, p, tail float64) int {
	cdf := 0.0
	for k := 0; k <= n; k++ {
		next := cdf + binomialPMF(n, k, p)
		if next > tail {
			return k
		}
		cdf = next
	}
	return n
}

func binomialQuantile(n int, p, q float64) int {
	cdf := 0.0
	for k := 0; k <= n; k++ {
		cdf += binomialPMF(n, k, p)
		if cdf >= q {
			return k
		}
	}
	return n
}

func binomialPMF(n, k int, p float64) float64 {
	ln, _ := math.Lgamma(float64(n + 1))
	lk, _ := math.Lgamma(float64(k + 1))
	lnk, _ := math.Lgamma(float64(n - k + 1))
	return math.Exp(ln - lk - lnk + float64(k)*math.Log(p) + float64(n-k)*math.Log1p(-p))
}
