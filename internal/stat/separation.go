package stat

import (
	"fmt"
	"math"
	"slices"
)

// separation is the test of Comparer.BlockSeparation, for runs too short for the bootstrap: each run is cut
// into non-overlapping blocks of consecutive samples, of the run's own block length (BlockLength, or the
// Comparer's), so that the blocks' statistics are about independent, and the change counts as significant when
// every candidate block's statistic lies on the same side of every baseline block's. If the runs do not differ,
// the blocks are exchangeable and each of the C(ka+kb, ka) ways to split them into the two runs is equally
// likely, so a complete separation in either direction has probability p = 2/C(ka+kb, ka) (a two-sided exact
// permutation test, which needs no resampling); it is significant when p ≤ 1 − Confidence. It is conservative
// (a large change whose blocks overlap stays inconclusive) and needs at least 4 blocks per run at 95 %
// (2/C(8,4) = 0.029), which is what a 35-second run with 7-second blocks has: a slowdown of 10 ms on a 1 ms
// latency is then worse instead of inconclusive.
//
// RelativeCI and DiffCI are then the range of the block statistics' differences (smallest to largest,
// candidate block minus baseline block): every block pair lies in it, a wider and more conservative range than a
// confidence interval. ok is false when the blocks do not separate, are too few, or the baseline's blocks
// reach 0 (no relative change).
func (c Comparer) separation(baseline, candidate []float64, r Comparison, dir Direction) (Comparison, bool) {
	blockA, blockB := c.BlockLength, c.BlockLength
	if blockA == 0 {
		blockA, blockB = BlockLength(baseline), BlockLength(candidate)
	}
	a, b := blockStatistics(baseline, blockA, c.Quantile), blockStatistics(candidate, blockB, c.Quantile)
	p := 2 / binomial(len(a)+len(b), len(a))
	if !(p <= 1-c.Confidence) || slices.Min(a) <= 0 {
		return r, false
	}
	minA, maxA, minB, maxB := slices.Min(a), slices.Max(a), slices.Min(b), slices.Max(b)
	if !(minB > maxA || maxB < minA) {
		return r, false
	}
	r.BaselineBlock, r.CandidateBlock, r.Resamples = blockA, blockB, 0
	r.DiffCI = &Interval{minB - maxA, maxB - minA}
	r.RelativeCI = &Interval{minB/maxA - 1, maxB/minA - 1}
	r.verdict(dir)
	r.Reason = fmt.Sprintf("%s (blocks separate: all %d candidate blocks of %d samples on one side of all %d baseline blocks of %d, p = %.2g)",
		r.Reason, len(b), blockB, len(a), blockA, p)
	return r, true
}

// blockStatistics returns the q-quantile of each non-overlapping block of x of length block; a last partial
// block joins the one before it.
func blockStatistics(x []float64, block int, q float64) []float64 {
	k := max(1, len(x)/max(block, 1))
	out := make([]float64, k)
	for i := range k {
		end := (i + 1) * block
		if i == k-1 {
			end = len(x)
		}
		out[i] = Quantile(x[i*block:end], q)
	}
	return out
}

// binomial returns C(n, k) as a float64.
func binomial(n, k int) float64 {
	lg := func(x int) float64 { v, _ := math.Lgamma(float64(x + 1)); return v }
	return math.Round(math.Exp(lg(n) - lg(k) - lg(n-k)))
}
