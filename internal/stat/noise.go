package stat

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Noise is a figure's run-to-run noise on one device, measured from repeated identical (A/A) runs: same
// parameters, same device, nothing changed between them.
type Noise struct {
	Runs   int     `json:"runs"`   // how many A/A runs it was measured from
	Mean   float64 `json:"mean"`   // the runs' mean value of the figure
	StdDev float64 `json:"stddev"` // sample standard deviation between runs
	// CV is StdDev/Mean: the relative noise, comparable across figures and devices.
	CV float64 `json:"cv"`
	// Spread is the largest relative distance of one run from the runs' median, shown so that an outlying A/A
	// run is noticed rather than silently inflating StdDev.
	Spread float64 `json:"spread"`
}

// MeasureNoise returns the noise of a figure given its value in each of at least 3 A/A runs. Measure each run the
// way the gate compares runs (Comparer's statistic over the same steady state: the median of per-second
// throughput, the median of per-second p99s), so that the noise is that of the compared number. Values must be
// finite with a positive mean.
func MeasureNoise(values []float64) (Noise, error) {
	if len(values) < 3 {
		return Noise{}, fmt.Errorf("measure noise: %d runs, need at least 3 repeated identical runs", len(values))
	}
	if slices.ContainsFunc(values, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }) {
		return Noise{}, errors.New("measure noise: value not finite")
	}
	n := Noise{Runs: len(values), Mean: mean(values), StdDev: stddev(values)}
	if !(n.Mean > 0) {
		return Noise{}, fmt.Errorf("measure noise: mean %v is not positive, relative noise undefined", n.Mean)
	}
	n.CV = n.StdDev / n.Mean
	med := Median(values)
	for _, v := range values {
		n.Spread = max(n.Spread, math.Abs(v/med-1))
	}
	return n, nil
}

// MinEffect returns the relative change a gate should ignore for a false-alarm rate falseAlarm (0.05 = one
// identical run in twenty fails the gate) when a candidate run is compared with the mean of baselineRuns runs
// (1 for `compare` against one run, the current segment's length for a history baseline).
//
// With per-run noise σ estimated by the A/A runs' standard deviation s on Runs−1 degrees of freedom, the
// difference between a new identical run and the baseline's mean has standard deviation σ·√(1+1/baselineRuns),
// and (difference)/(s·√(1+1/baselineRuns)) follows Student's t with Runs−1 degrees of freedom. A gate fails only
// on a regression (one direction), so the minimum effect is the one-sided quantile:
//
//	MinEffect = t(1−falseAlarm; Runs−1) · CV · √(1 + 1/baselineRuns)
//
// Few A/A runs give a large t quantile, and so a conservative (large) minimum effect: with 5 runs t is 2.13 at
// 5 %, with 20 runs 1.73, against 1.64 for a known σ.
func (n Noise) MinEffect(falseAlarm float64, baselineRuns int) (float64, error) {
	if !(falseAlarm > 0 && falseAlarm < 0.5) {
		return 0, fmt.Errorf("min effect: false-alarm rate %v: want 0 < rate < 0.5", falseAlarm)
	}
	if baselineRuns < 1 {
		return 0, fmt.Errorf("min effect: %d baseline runs: want at least 1", baselineRuns)
	}
	if n.Runs < 2 {
		return 0, fmt.Errorf("min effect: noise from %d runs: measure it with MeasureNoise", n.Runs)
	}
	t := StudentTQuantile(1-falseAlarm, float64(n.Runs-1))
	return t * n.CV * math.Sqrt(1+1/float64(baselineRuns)), nil
}

// StudentTQuantile returns the p-quantile of Student's t distribution with df degrees of freedom.
func StudentTQuantile(p, df float64) float64 {
	if !(p > 0 && p < 1) || !(df > 0) {
		return math.NaN()
	}
	if p == 0.5 {
		return 0
	}
	if p < 0.5 {
		return -StudentTQuantile(1-p, df)
	}
	// Bisection on the CDF: monotone, and 100 halvings of a bracket are exact to float64 precision.
	lo, hi := 0.0, 1.0
	for studentTCDF(hi, df) < p {
		lo, hi = hi, 2*hi
		if hi > 1e12 {
			return math.Inf(1)
		}
	}
	for range 100 {
		mid := (lo + hi) / 2
		if studentTCDF(mid, df) < p {
			lo = mid
		} else {
			hi = mid
		}
	}
	return (lo + hi) / 2
}

// studentTCDF returns P(T ≤ t) for Student's t with df degrees of freedom.
func studentTCDF(t, df float64) float64 {
	x := df / (df + t*t)
	tail := 0.5 * regIncBeta(df/2, 0.5, x)
	if t > 0 {
		return 1 - tail
	}
	return tail
}

// regIncBeta returns the regularized incomplete beta function I_x(a, b), by its continued fraction evaluated
// with the modified Lentz method (the expansion converges fast for x < (a+1)/(a+b+2); the symmetry
// I_x(a,b) = 1 − I_{1−x}(b,a) covers the rest).
func regIncBeta(a, b, x float64) float64 {
	switch {
	case x <= 0:
		return 0
	case x >= 1:
		return 1
	}
	if x > (a+1)/(a+b+2) {
		return 1 - regIncBeta(b, a, 1-x)
	}
	la, _ := math.Lgamma(a)
	lb, _ := math.Lgamma(b)
	lab, _ := math.Lgamma(a + b)
	front := math.Exp(lab-la-lb+a*math.Log(x)+b*math.Log1p(-x)) / a

	const tiny = 1e-300
	f, c, d := 1.0, 1.0, 0.0
	for i := 0; i <= 300; i++ {
		m := float64(i / 2)
		var num float64
		switch {
		case i == 0:
			num = 1
		case i%2 == 0:
			num = m * (b - m) * x / ((a + 2*m - 1) * (a + 2*m))
		default:
			num = -(a + m) * (a + b + m) * x / ((a + 2*m) * (a + 2*m + 1))
		}
		d = 1 + num*d
		if math.Abs(d) < tiny {
			d = tiny
		}
		d = 1 / d
		c = 1 + num/c
		if math.Abs(c) < tiny {
			c = tiny
		}
		cd := c * d
		f *= cd
		if math.Abs(1-cd) < 1e-15 {
			return front * (f - 1)
		}
	}
	return front * (f - 1)
}
