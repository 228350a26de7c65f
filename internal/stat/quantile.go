package stat

import (
	"math"
	"slices"
)

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of x by linear interpolation between order statistics (the
// definition R calls type 7, also NumPy's and Excel's default). x is not modified. It returns NaN for an empty x.
func Quantile(x []float64, q float64) float64 {
	if len(x) == 0 || q < 0 || q > 1 || math.IsNaN(q) {
		return math.NaN()
	}
	s := slices.Clone(x)
	slices.Sort(s)
	return quantileSorted(s, q)
}

// Median returns the median of x (Quantile(x, 0.5)).
func Median(x []float64) float64 { return Quantile(x, 0.5) }

// quantileSorted is Quantile over an already sorted slice.
func quantileSorted(s []float64, q float64) float64 {
	lo, hi, frac := quantilePos(len(s), q)
	return s[lo] + frac*(s[hi]-s[lo])
}

// quantilePos returns the two order statistics (0-based) the type 7 q-quantile of n values interpolates between
// and the weight of the upper one.
func quantilePos(n int, q float64) (lo, hi int, frac float64) {
	h := float64(n-1) * q
	lo = int(math.Floor(h))
	hi = min(lo+1, n-1)
	return lo, hi, h - float64(lo)
}

// mean returns the arithmetic mean of x.
func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

// stddev returns the sample standard deviation of x (n−1 in the denominator).
func stddev(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := mean(x)
	var ss float64
	for _, v := range x {
		ss += (v - m) * (v - m)
	}
	return math.Sqrt(ss / float64(len(x)-1))
}

// rankedSample is a fixed set of values prepared for the bootstrap: a resample is a multiset of the original
// indices, so its quantile is found by counting how often each rank was drawn, in O(n) and without sorting.
type rankedSample struct {
	sorted []float64 // the values in ascending order
	rank   []int32   // rank[i] is the position of value i in sorted
	counts []int32   // scratch: how often each rank was drawn
}

func newRankedSample(x []float64) *rankedSample {
	idx := make([]int, len(x))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		switch {
		case x[a] < x[b]:
			return -1
		case x[a] > x[b]:
			return 1
		}
		return 0
	})
	r := &rankedSample{sorted: make([]float64, len(x)), rank: make([]int32, len(x)), counts: make([]int32, len(x))}
	for pos, i := range idx {
		r.sorted[pos] = x[i]
		r.rank[i] = int32(pos)
	}
	return r
}

// quantileOfCounts returns the type 7 q-quantile of the resample whose rank counts are in r.counts (n draws),
// and clears the counts for the next resample.
func (r *rankedSample) quantileOfCounts(n int, q float64) float64 {
	lo, hi, frac := quantilePos(n, q)
	vlo, vhi := math.NaN(), math.NaN()
	seen := 0
	for pos, c := range r.counts {
		seen += int(c)
		if seen > lo && math.IsNaN(vlo) {
			vlo = r.sorted[pos]
		}
		if seen > hi {
			vhi = r.sorted[pos]
			break
		}
	}
	clear(r.counts)
	return vlo + frac*(vhi-vlo)
}
