package stat

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// CompareToSegment compares one candidate run's value of a figure with the values of the runs of a segment of
// its history (comparable runs with no change point among them, oldest first), for a figure that improves in
// direction dir. Each value must be the same statistic of a run (the median of its steady-state per-second
// throughput, the median of its per-second p99s), so that the segment's spread is the run-to-run noise of the
// compared number.
//
// Why not pool the segment's per-second samples and bootstrap them against the candidate's: identical runs
// differ by more than their per-second samples suggest (a VM placed elsewhere, a warmer cache), so the pooled
// comparison would call that run-to-run spread significant. The segment measures it directly: with the
// segment's k values of mean μ̂ and standard deviation s, an identical run differs from μ̂ by a t-distributed
// amount of scale s·√(1+1/k) (Student's t, k−1 degrees of freedom; the same model as Noise.MinEffect). So the
// relative change's confidence interval is
//
//	Relative ± t((1+Confidence)/2; k−1) · CV · √(1 + 1/k)
//
// and the verdict follows the rules of Compare: worse or better when the interval excludes 0 and the change is
// at least MinEffect. In the Comparison, Baseline is the segment's mean, BaselineSamples the segment's runs and
// CandidateSamples 1; EffectSize is Diff in units of the run-to-run standard deviation; Quantile, Resamples,
// blocks and Seed are zero (nothing is resampled). Need, for an Inconclusive verdict, counts segment runs: 3
// when the segment is shorter (its noise is then unknown), else the runs after which the interval would be
// narrow enough, or 0 when no number of runs would do because the run-to-run noise itself is wider than
// MinEffect/2 (the interval cannot shrink below t·CV however long the segment).
func (c Comparer) CompareToSegment(segment []float64, candidate float64, dir Direction) (Comparison, error) {
	c, err := c.withDefaults()
	if err != nil {
		return Comparison{}, fmt.Errorf("compare to segment: %w", err)
	}
	if dir != HigherIsBetter && dir != LowerIsBetter {
		return Comparison{}, fmt.Errorf("compare to segment: unknown direction %d", dir)
	}
	if len(segment) == 0 {
		return Comparison{}, errors.New("compare to segment: no runs in the segment")
	}
	notFinite := func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) }
	if slices.ContainsFunc(segment, notFinite) || notFinite(candidate) {
		return Comparison{}, errors.New("compare to segment: value not finite")
	}
	k := len(segment)
	r := Comparison{Confidence: c.Confidence, MinEffect: c.MinEffect, Baseline: mean(segment), Candidate: candidate,
		BaselineSamples: k, CandidateSamples: 1}
	if !(r.Baseline > 0) {
		return Comparison{}, fmt.Errorf("compare to segment: %w (%v)", ErrNonPositiveBaseline, r.Baseline)
	}
	r.Diff = candidate - r.Baseline
	r.Relative = candidate/r.Baseline - 1
	if k < 3 {
		r.Verdict, r.Need = Inconclusive, 3
		r.Reason = fmt.Sprintf("too few runs to judge: the segment has %d, need at least 3 to know the run-to-run noise", k)
		return r, nil
	}
	noise, err := MeasureNoise(segment)
	if err != nil {
		return Comparison{}, fmt.Errorf("compare to segment: %w", err)
	}
	if noise.StdDev > 0 {
		r.EffectSize = r.Diff / noise.StdDev
	}
	half := segmentHalfWidth(c.Confidence, noise.CV, k)
	r.RelativeCI = &Interval{r.Relative - half, r.Relative + half}
	r.DiffCI = &Interval{r.RelativeCI.Lo * r.Baseline, r.RelativeCI.Hi * r.Baseline}
	r.verdict(dir)
	if r.Verdict == Inconclusive {
		pct := func(v float64) string { return fmt.Sprintf("%+.2f%%", 100*v) }
		r.Need = segmentRunsNeeded(c.Confidence, noise.CV, c.MinEffect/2, k)
		if r.Need > 0 {
			r.Reason = fmt.Sprintf("inconclusive: %s (%.0f%% CI %s … %s) cannot tell a %s change from none; a segment of about %d runs would",
				pct(r.Relative), 100*c.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi), pct(c.MinEffect)[1:], r.Need)
		} else {
			r.Reason = fmt.Sprintf("inconclusive: %s (%.0f%% CI %s … %s); the run-to-run noise (CV %.2f%%) is too large to tell a %s change from none however many runs",
				pct(r.Relative), 100*c.Confidence, pct(r.RelativeCI.Lo), pct(r.RelativeCI.Hi), 100*noise.CV, pct(c.MinEffect)[1:])
		}
	}
	return r, nil
}

// segmentHalfWidth is the half-width of the relative change's interval against a segment of k runs.
func segmentHalfWidth(confidence, cv float64, k int) float64 {
	return StudentTQuantile((1+confidence)/2, float64(k-1)) * cv * math.Sqrt(1+1/float64(k))
}

// segmentRunsNeeded returns the fewest segment runs, more than k, whose interval's half-width is at most target;
// 0 when none is (the half-width falls with k towards the normal quantile times CV, never below it). The
// half-width decreases with k, so a doubling search and a bisection find it in a few dozen evaluations.
func segmentRunsNeeded(confidence, cv, target float64, k int) int {
	const most = 1 << 20
	if StudentTQuantile((1+confidence)/2, most)*cv*math.Sqrt(1+1.0/most) > target {
		return 0
	}
	lo, hi := k, k+1 // half-width(lo) > target
	for segmentHalfWidth(confidence, cv, hi) > target {
		lo, hi = hi, min(2*hi, most)
	}
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if segmentHalfWidth(confidence, cv, mid) > target {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}
