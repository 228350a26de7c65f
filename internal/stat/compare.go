package stat

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Direction says which way a figure improves.
type Direction int

const (
	// HigherIsBetter is throughput's direction.
	HigherIsBetter Direction = iota
	// LowerIsBetter is latency's direction.
	LowerIsBetter
)

// Verdict is the outcome of a comparison.
type Verdict int

const (
	// NoChange: no change of at least the minimum effect. Either the confidence interval of the relative change
	// lies inside ±MinEffect, or the change is significant but smaller than MinEffect.
	NoChange Verdict = iota
	// Better: the change is significant at the configured confidence, in the good direction, and its estimate is
	// at least MinEffect.
	Better
	// Worse: the change is significant at the configured confidence, in the bad direction, and its estimate is at
	// least MinEffect. The only verdict a gate should fail on.
	Worse
	// Inconclusive: the runs are too short or too noisy to tell a change of MinEffect from none; Comparison.Need
	// says how many samples per run would likely settle it.
	Inconclusive
)

var verdictNames = [...]string{"no significant change", "better", "worse", "inconclusive"}

func (v Verdict) String() string {
	if v < 0 || int(v) >= len(verdictNames) {
		return fmt.Sprintf("Verdict(%d)", int(v))
	}
	return verdictNames[v]
}

// MarshalText makes a Verdict its name in JSON.
func (v Verdict) MarshalText() ([]byte, error) { return []byte(v.String()), nil }

// UnmarshalText reads a Verdict's name.
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, name := range verdictNames {
		if string(b) == name {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("unknown verdict %q", b)
}

// Interval is a confidence interval [Lo, Hi].
type Interval struct {
	Lo float64 `json:"lo"`
	Hi float64 `json:"hi"`
}

// Contains reports whether v lies in the interval, bounds included; a nil interval contains nothing.
func (i *Interval) Contains(v float64) bool { return i != nil && i.Lo <= v && v <= i.Hi }

// Comparer compares two runs' per-second samples of one figure. Its zero value is ready to use with the
// defaults each field documents; a Comparer is a value and safe to use from several goroutines.
type Comparer struct {
	// Confidence of the intervals and of the verdict's significance. Default 0.95; must be in [0.5, 1).
	Confidence float64
	// MinEffect is the smallest relative change (0.05 = 5 %) that counts as better or worse; smaller significant
	// changes are NoChange. Default 0.05. Derive it from the device's noise with Noise.MinEffect rather than
	// guessing: a run-to-run spread that the per-second samples of one run do not show (a different VM placement,
	// a warmer cache) makes identical runs differ significantly, and only MinEffect keeps the gate from firing on
	// it.
	MinEffect float64
	// Quantile is the compared statistic: 0.5 (the default) compares medians, the robust choice for per-second
	// throughput; 0.99 compares the 99th percentiles of the per-second values, which needs at least 10/(1−q)
	// samples (1,000 for 0.99) before it is judged. A negative value is an error; 0 means the default.
	Quantile float64
	// Resamples is the number of bootstrap resamples. Default 2,000, enough for 95 % intervals to be stable to
	// about a tenth of their width; more costs proportionally more time.
	Resamples int
	// BlockLength forces the bootstrap's block length in samples for both runs; 0 (the default) chooses each run's
	// own with BlockLength (Politis–White). 1 is the ordinary (independent) bootstrap, wrong for autocorrelated
	// samples and offered only to measure how wrong.
	BlockLength int
	// MinSamples is the fewest samples per run judged at all. Default 30.
	MinSamples int
	// Seed drives the resampling; equal seeds give equal results.
	Seed uint64
	// BlockSeparation judges runs that have MinSamples but too few blocks for the bootstrap (fewer than 10 of
	// the chosen length: strongly autocorrelated seconds) with an exact test instead of calling them
	// inconclusive: see separation. Off by default; only medians (and quantiles between 0.25 and 0.75) are
	// judged this way.
	BlockSeparation bool
}

// Comparison is the result of Comparer.Compare. Relative figures are fractions (0.05 = +5 %) of the baseline's
// statistic; signs are candidate minus baseline whatever the direction, the verdict says which way is good.
type Comparison struct {
	Quantile   float64 `json:"quantile"`   // the compared statistic (0.5 = median)
	Confidence float64 `json:"confidence"` // of the intervals
	MinEffect  float64 `json:"min_effect"` // relative

	Baseline  float64 `json:"baseline"`  // the statistic over the baseline's samples
	Candidate float64 `json:"candidate"` // the statistic over the candidate's samples

	// Diff is Candidate − Baseline, DiffCI its bootstrap confidence interval (nil when the runs are too short
	// to judge).
	Diff   float64   `json:"diff"`
	DiffCI *Interval `json:"diff_ci,omitempty"`
	// Relative is Candidate/Baseline − 1, RelativeCI its bootstrap confidence interval (nil when the runs are
	// too short to judge, or when resamples of the baseline reach 0 so that no relative change is defined).
	Relative   float64   `json:"relative"`
	RelativeCI *Interval `json:"relative_ci,omitempty"`
	// EffectSize is Diff in units of the runs' pooled standard deviation of the samples (Cohen's d for the
	// chosen statistic): how large the change is against the second-to-second spread, whatever the unit.
	EffectSize float64 `json:"effect_size"`

	Significant bool    `json:"significant"` // RelativeCI excludes 0
	Verdict     Verdict `json:"verdict"`
	Reason      string  `json:"reason"` // the verdict in a sentence
	// Need is, for an Inconclusive verdict, the number of samples per run at which the comparison would likely
	// be conclusive; 0 otherwise. For too-short runs it is the minimum the method needs; for noisy ones it is
	// extrapolated from the interval's width, which shrinks as 1/√n, to the length at which the half-width is
	// MinEffect/2.
	Need int `json:"need,omitempty"`

	BaselineSamples  int    `json:"baseline_samples"`
	CandidateSamples int    `json:"candidate_samples"`
	BaselineBlock    int    `json:"baseline_block"`  // bootstrap block length used, in samples
	CandidateBlock   int    `json:"candidate_block"` // bootstrap block length used, in samples
	Resamples        int    `json:"resamples"`
	Seed             uint64 `json:"seed"`
}

// ErrNonPositiveBaseline is returned when the baseline's statistic is zero or negative: a relative change from it
// means nothing.
var ErrNonPositiveBaseline = errors.New("baseline statistic is not positive: relative change undefined")

func (c Comparer) withDefaults() (Comparer, error) {
	var errs []error
	if c.Confidence == 0 {
		c.Confidence = 0.95
	}
	if !(c.Confidence >= 0.5 && c.Confidence < 1) {
		errs = append(errs, fmt.Errorf("confidence %v: want 0.5 ≤ confidence < 1", c.Confidence))
	}
	if c.MinEffect == 0 {
		c.MinEffect = 0.05
	}
	if !(c.MinEffect > 0) || math.IsInf(c.MinEffect, 0) {
		errs = append(errs, fmt.Errorf("min effect %v: want a positive fraction (0.05 = 5%%)", c.MinEffect))
	}
	if c.Quantile == 0 {
		c.Quantile = 0.5
	}
	if !(c.Quantile > 0 && c.Quantile < 1) {
		errs = append(errs, fmt.Errorf("quantile %v: want 0 < quantile < 1", c.Quantile))
	}
	if c.Resamples == 0 {
		c.Resamples = 2000
	}
	if c.Resamples < 100 {
		errs = append(errs, fmt.Errorf("resamples %d: want at least 100", c.Resamples))
	}
	if c.BlockLength < 0 {
		errs = append(errs, fmt.Errorf("block length %d: want 0 (automatic) or more", c.BlockLength))
	}
	if c.MinSamples == 0 {
		c.MinSamples = 30
	}
	if c.MinSamples < 2 {
		errs = append(errs, fmt.Errorf("min samples %d: want at least 2", c.MinSamples))
	}
	return c, errors.Join(errs...)
}

// Compare compares the candidate run's samples with the baseline's for a figure that improves in direction dir.
// The samples are the runs' steady-state per-second values in time order (order matters: it carries the
// autocorrelation); the caller leaves out the warm-up and the final partial interval. NaN samples are an error.
//
// The confidence intervals are percentile intervals of a circular block bootstrap: each run is resampled on its
// own (they are independent) by concatenating blocks of consecutive samples that start at uniformly drawn
// positions and wrap around the run's end, the statistic is computed on each resample, and the interval is
// between the (1−confidence)/2 and (1+confidence)/2 quantiles of the resampled differences. With automatic
// block lengths each run's resampled statistics are first widened around its estimate by the block bootstrap's
// known variance bias (see blockLength), which brings the coverage of 95 % intervals on autocorrelated samples
// from about 91 % to 93–96 % (TestCompareCoverageAR1).
func (c Comparer) Compare(baseline, candidate []float64, dir Direction) (Comparison, error) {
	c, err := c.withDefaults()
	if err != nil {
		return Comparison{}, fmt.Errorf("compare: %w", err)
	}
	if dir != HigherIsBetter && dir != LowerIsBetter {
		return Comparison{}, fmt.Errorf("compare: unknown direction %d", dir)
	}
	if len(baseline) == 0 || len(candidate) == 0 {
		return Comparison{}, fmt.Errorf("compare: no samples (baseline %d, candidate %d)", len(baseline), len(candidate))
	}
	if slices.ContainsFunc(baseline, math.IsNaN) || slices.ContainsFunc(candidate, math.IsNaN) {
		return Comparison{}, errors.New("compare: NaN sample")
	}

	r := Comparison{
		Quantile: c.Quantile, Confidence: c.Confidence, MinEffect: c.MinEffect,
		Baseline: Quantile(baseline, c.Quantile), Candidate: Quantile(candidate, c.Quantile),
		BaselineSamples: len(baseline), CandidateSamples: len(candidate),
		Resamples: c.Resamples, Seed: c.Seed,
	}
	if !(r.Baseline > 0) {
		return Comparison{}, fmt.Errorf("compare: %w (%v)", ErrNonPositiveBaseline, r.Baseline)
	}
	r.Diff = r.Candidate - r.Baseline
	r.Relative = r.Candidate/r.Baseline - 1
	if pooled := math.Sqrt((variance(baseline) + variance(candidate)) / 2); pooled > 0 {
		r.EffectSize = r.Diff / pooled
	}
	r.BaselineBlock, r.CandidateBlock = c.BlockLength, c.BlockLength
	scaleA, scaleB := 1.0, 1.0
	if c.BlockLength == 0 {
		var biasA, biasB float64
		r.BaselineBlock, biasA = blockLength(baseline)
		r.CandidateBlock, biasB = blockLength(candidate)
		scaleA, scaleB = varianceCorrection(biasA), varianceCorrection(biasB)
	}

	// Too short to judge: fewer than MinSamples, fewer than 10 samples beyond the quantile (the resampled
	// quantile is then one of a few extreme values), or fewer than 10 blocks (the bootstrap then mostly
	// reshuffles a handful of blocks; the block length of fewer than MinSamples is not worth estimating).
	tail := min(c.Quantile, 1-c.Quantile)
	n := min(len(baseline), len(candidate))
	need := max(c.MinSamples, int(math.Ceil(10/tail-1e-9)))
	if n >= need {
		need = max(need, 10*max(r.BaselineBlock, r.CandidateBlock))
	}
	if n < need && c.BlockSeparation && n >= c.MinSamples && tail >= 0.25 {
		if sep, ok := c.separation(baseline, candidate, r, dir); ok {
			return sep, nil
		}
	}
	if n < need {
		r.Verdict, r.Need = Inconclusive, need
		r.Reason = fmt.Sprintf("too short to judge: %d samples, need at least %d per run", n, need)
		return r, nil
	}

	diffs, rels := c.bootstrap(baseline, candidate, r.BaselineBlock, r.CandidateBlock, scaleA, scaleB)
	alpha := 1 - c.Confidence
	slices.Sort(diffs)
	slices.Sort(rels)
	r.DiffCI = &Interval{quantileSorted(diffs, alpha/2), quantileSorted(diffs, 1-alpha/2)}
	rel := Interval{quantileSorted(rels, alpha/2), quantileSorted(rels, 1-alpha/2)}
	if math.IsInf(rel.Lo, 0) || math.IsInf(rel.Hi, 0) {
		r.Verdict = Inconclusive
		r.Reason = "inconclusive: the baseline's resampled statistic reaches 0 (idle seconds), so no relative change is defined"
		return r, nil
	}
	r.RelativeCI = &rel
	r.verdict(dir)
	return r, nil
}

// varianceCorrection returns the factor by which to widen a run's bootstrap distribution around its estimate
// to undo the block bootstrap's relative variance bias (see blockLength). The correction is first-order, so it
// is capped at √2 (a bias of −50 %), beyond which the block is too short for the series anyway.
func varianceCorrection(bias float64) float64 {
	return math.Sqrt(1 / (1 + max(bias, -0.5)))
}

// bootstrap returns the resampled differences and relative differences of the statistic, each run's resampled
// statistic widened around its estimate by its scale.
func (c Comparer) bootstrap(baseline, candidate []float64, blockA, blockB int, scaleA, scaleB float64) (diffs, rels []float64) {
	rng := rand.New(rand.NewPCG(c.Seed, 0x62656e6368706970)) // "benchpip": a fixed second word of state
	a, b := newRankedSample(baseline), newRankedSample(candidate)
	estA, estB := quantileSorted(a.sorted, c.Quantile), quantileSorted(b.sorted, c.Quantile)
	diffs = make([]float64, c.Resamples)
	rels = make([]float64, c.Resamples)
	for i := range c.Resamples {
		qa := estA + scaleA*(a.resample(rng, blockA, c.Quantile)-estA)
		qb := estB + scaleB*(b.resample(rng, blockB, c.Quantile)-estB)
		diffs[i] = qb - qa
		rels[i] = qb/qa - 1
		if qa <= 0 { // a resample of a baseline with zeros in it: no relative change from 0
			rels[i] = math.Inf(1)
			if qb < qa {
				rels[i] = math.Inf(-1)
			}
		}
	}
	return diffs, rels
}

// resample draws one circular block bootstrap resample of the sample (as rank counts) and returns its
// q-quantile.
func (r *rankedSample) resample(rng *rand.Rand, block int, q float64) float64 {
	n := len(r.rank)
	for filled := 0; filled < n; {
		i := rng.IntN(n)
		for end := min(filled+block, n); filled < end; filled++ {
			r.counts[r.rank[i]]++
			if i++; i == n {
				i = 0
			}
		}
	}
	return r.quantileOfCounts(n, q)
}

// verdict fills Significant, Verdict, Reason and Need from the intervals.
func (r *Comparison) verdict(dir Direction) {
	// Orient so that positive is an improvement.
	est, ci := r.Relative, *r.RelativeCI
	if dir == LowerIsBetter {
		est, ci = -est, Interval{-ci.Hi, -ci.Lo}
	}
	m := r.MinEffect
	r.Significant = ci.Lo > 0 || ci.Hi < 0
	pct := func(v float64) string { return fmt.Sprintf("%+.2f%%", 100*v) }
	switch {
	case r.Significant && math.Abs(est) >= m:
		r.Verdict = Better
		if est < 0 {
			r.Verdict = Worse
		}
		r.Reason = fmt.Sprintf("%s: %s (%.0f%% CI %s … %s), at least the minimum effect %s", r.Verdict,
			pct(r.Relative), 100*r.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi), pct(m)[1:])
	case r.Significant:
		r.Verdict = NoChange
		r.Reason = fmt.Sprintf("significant but below the minimum effect %s: %s (%.0f%% CI %s … %s)",
			pct(m)[1:], pct(r.Relative), 100*r.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi))
	case ci.Lo > -m && ci.Hi < m:
		r.Verdict = NoChange
		r.Reason = fmt.Sprintf("no significant change: %s (%.0f%% CI %s … %s) within ±%s",
			pct(r.Relative), 100*r.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi), pct(m)[1:])
	default:
		// Neither significant nor shown to be smaller than m. The interval's half-width shrinks as 1/√n; at
		// half of m, a run with no change lands inside ±m and one with a change of 1.5·m is significant, each in
		// about 95 % of cases, so that is the length asked for. n is the runs' harmonic mean length: what
		// matters is 1/n_baseline + 1/n_candidate.
		r.Verdict = Inconclusive
		half := (ci.Hi - ci.Lo) / 2
		na, nb := float64(r.BaselineSamples), float64(r.CandidateSamples)
		n := 2 * na * nb / (na + nb)
		need := math.Ceil(n * (half / (m / 2)) * (half / (m / 2)))
		r.Need = math.MaxInt32
		if need < math.MaxInt32 { // false for +Inf and NaN too
			r.Need = max(int(need), max(r.BaselineSamples, r.CandidateSamples)+1)
		}
		r.Reason = fmt.Sprintf("inconclusive: %s (%.0f%% CI %s … %s) cannot tell a %s change from none; about %d samples per run would",
			pct(r.Relative), 100*r.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi), pct(m)[1:], r.Need)
	}
}

// variance returns the sample variance of x.
func variance(x []float64) float64 {
	s := stddev(x)
	return s * s
}
