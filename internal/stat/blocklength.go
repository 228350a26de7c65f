package stat

import "math"

// autocovariances returns the sample autocovariances of x at lags 0..maxLag (the biased estimator, dividing by
// n, which keeps the sequence positive semi-definite).
func autocovariances(x []float64, maxLag int) []float64 {
	n := len(x)
	m := mean(x)
	maxLag = min(maxLag, n-1)
	r := make([]float64, maxLag+1)
	for k := 0; k <= maxLag; k++ {
		var s float64
		for t := 0; t+k < n; t++ {
			s += (x[t] - m) * (x[t+k] - m)
		}
		r[k] = s / float64(n)
	}
	return r
}

// Autocorrelation returns the sample autocorrelation of x at lags 0..maxLag (1 at lag 0). A constant series has
// no defined autocorrelation; it returns zeros beyond lag 0 for it.
func Autocorrelation(x []float64, maxLag int) []float64 {
	r := autocovariances(x, maxLag)
	if r[0] == 0 {
		out := make([]float64, len(r))
		out[0] = 1
		return out
	}
	out := make([]float64, len(r))
	for k := range r {
		out[k] = r[k] / r[0]
	}
	return out
}

// BlockLength returns the block length for a circular block bootstrap of x chosen by the automatic rule of
// Politis & White (2004) as corrected by Patton, Politis & White (2009): the autocorrelation is cut off at the
// first lag after which K_n = max(5, ⌈√log10 n⌉) consecutive autocorrelations are insignificant (|ρ| < 2√(log10 n / n)),
// the spectral quantities are estimated with a flat-top lag window up to twice that lag, and the block length
// minimising the bootstrap variance's mean squared error is (2Ĝ²/D̂)^⅓ n^⅓. The result is at least 1 (independent
// samples) and at most min(3√n, n/3), the authors' cap. Series shorter than 8 get 1: their autocorrelation cannot
// be estimated.
func BlockLength(x []float64) int {
	b, _ := blockLength(x)
	return b
}

// blockLength is BlockLength that also returns the relative bias of the circular block bootstrap's variance
// with that block length, −Ĝ/(b·ĝ(0)) (Künsch 1989, Lahiri 2003: blocks cut the dependence between their
// ends, so the bootstrap sees less variance than there is, by about 1/b of the autocovariances weighted by lag).
func blockLength(x []float64) (int, float64) {
	n := len(x)
	if n < 8 {
		return 1, 0
	}
	fn := float64(n)
	kn := max(5, int(math.Ceil(math.Sqrt(math.Log10(fn)))))
	mmax := int(math.Ceil(math.Sqrt(fn))) + kn
	mmax = min(mmax, n-1)
	bmax := math.Ceil(min(3*math.Sqrt(fn), fn/3))
	threshold := 2 * math.Sqrt(math.Log10(fn)/fn)

	cov := autocovariances(x, mmax)
	if cov[0] == 0 {
		return 1, 0
	}
	rho := func(k int) float64 { return cov[k] / cov[0] }

	mhat := mmax
	for m := 1; m+kn <= mmax; m++ {
		insignificant := true
		for j := 1; j <= kn; j++ {
			if math.Abs(rho(m+j)) >= threshold {
				insignificant = false
				break
			}
		}
		if insignificant {
			mhat = m
			break
		}
	}
	bigM := min(2*mhat, mmax)

	// Flat-top lag window: 1 up to half of M, then linearly down to 0 at M.
	lambda := func(t float64) float64 {
		t = math.Abs(t)
		switch {
		case t <= 0.5:
			return 1
		case t <= 1:
			return 2 * (1 - t)
		}
		return 0
	}
	g := 0.0      // Ĝ = Σ λ(k/M)|k|R(k) over k = −M..M
	sigma2 := 0.0 // ĝ(0) = Σ λ(k/M)R(k), the long-run variance
	for k := -bigM; k <= bigM; k++ {
		ak := k
		if ak < 0 {
			ak = -ak
		}
		w := lambda(float64(k) / float64(bigM))
		g += w * float64(ak) * cov[ak]
		sigma2 += w * cov[ak]
	}
	d := 4.0 / 3.0 * sigma2 * sigma2 // D̂ of the circular block bootstrap
	if d <= 0 || g == 0 {
		return 1, 0
	}
	b := max(1, int(math.Round(min(math.Cbrt(2*g*g/d)*math.Cbrt(fn), bmax))))
	return b, -g / (float64(b) * sigma2)
}
