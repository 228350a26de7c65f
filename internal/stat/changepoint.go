package stat

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Detector finds change points in a series of one value per run (a figure of comparable runs, oldest first). Its
// zero value is ready to use with the defaults each field documents.
//
// The method is E-divisive means (Matteson & James 2014, "A nonparametric approach for multiple change point
// analysis of multivariate data", with exponent α = 1), as Apache Otava and MongoDB's signal processing use it:
// the divergence between the values before and after a split τ of a segment is
//
//	Q̂(τ) = m·k/(m+k) · ( 2/(m·k) Σ|aᵢ−bⱼ| − 1/C(m,2) Σ|aᵢ−aⱼ| − 1/C(k,2) Σ|bᵢ−bⱼ| )
//
// over the m values a before τ and the k values b after it up to the segment's end. It grows with any change of
// distribution, not only of the mean, and needs no assumption about the noise's shape. Segments are split
// hierarchically: the split with the largest Q̂ over all current segments is tested, and kept if significant; the
// search stops at the first candidate that is not.
//
// The test is a permutation test: the values of each segment are shuffled (which destroys any change inside it),
// the largest Q̂ is computed again, and the p-value is the fraction of shuffles whose largest Q̂ reaches the
// candidate's (counting the candidate itself). On a series of independent values with no change the first test
// rejects with probability Significance, which is therefore the false-alarm rate per series.
//
// Per-run values are often autocorrelated (the infrastructure drifts for days), and shuffling them then makes
// ordinary drift look significant: with an AR(1) coefficient of 0.5 the textbook test raises a false alarm on
// half of all series with no change. So by default the series is prewhitened before the test, eₜ = xₜ − φ·xₜ₋₁
// within each segment, which leaves independent values for AR(1) noise and keeps a change at its index. φ must be
// estimated around the very changes being looked for: the first segmentation uses an estimate from the lag-1
// and lag-2 differences (a level shift touches only one or two of them, see diffAR1), each later one the
// lag-1 autocorrelation around the change points the previous one found (ar1Coefficient), until the change
// points no longer move. Candidates are still located on the original series, where a change is sharpest.
// Independent turns the prewhitening off.
type Detector struct {
	// Significance is the largest p-value a change point may have, and so the false-alarm rate on a series
	// with no change. Default 0.05; must be in (0, 0.5].
	Significance float64
	// Permutations is the number of shuffles per test. Default 199; the smallest p-value it can show is
	// 1/(Permutations+1), which must be below Significance.
	Permutations int
	// MinSegment is the fewest values between change points (and before the first, after the last). Default 5:
	// shorter segments let one outlying run register as a change, and their mean is a poor measure of its size.
	// A change in the last MinSegment−1 runs is therefore found only once enough runs follow it.
	MinSegment int
	// Independent declares the values independent: the permutation test then shuffles them as they are (the
	// textbook test). By default the noise is first prewhitened with an AR(1) fit, so that drift from run to run
	// is not taken for change.
	Independent bool
	// Seed drives the shuffles; equal seeds give equal results.
	Seed uint64
}

// ChangePoint is a change of distribution in a series.
type ChangePoint struct {
	// Index is the first value after the change: series[Index] belongs to the new segment.
	Index int `json:"index"`
	// Before and After are the means of the segments either side, each bounded by the neighbouring change points
	// (or the series' ends).
	Before float64 `json:"before"`
	After  float64 `json:"after"`
	// Relative is After/Before − 1 (NaN when Before is 0).
	Relative float64 `json:"relative"`
	// PValue is the permutation test's p-value when the change point was accepted.
	PValue float64 `json:"p_value"`
	// Q is the E-divisive divergence Q̂ of the split.
	Q float64 `json:"q"`
}

func (d Detector) withDefaults() (Detector, error) {
	var errs []error
	if d.Significance == 0 {
		d.Significance = 0.05
	}
	if !(d.Significance > 0 && d.Significance <= 0.5) {
		errs = append(errs, fmt.Errorf("significance %v: want 0 < significance ≤ 0.5", d.Significance))
	}
	if d.Permutations == 0 {
		d.Permutations = 199
	}
	if d.Permutations < 1 || 1/float64(d.Permutations+1) > d.Significance {
		errs = append(errs, fmt.Errorf("permutations %d: want at least %d for significance %v", d.Permutations,
			int(math.Ceil(1/d.Significance))-1, d.Significance))
	}
	if d.MinSegment == 0 {
		d.MinSegment = 5
	}
	if d.MinSegment < 2 {
		errs = append(errs, fmt.Errorf("min segment %d: want at least 2", d.MinSegment))
	}
	return d, errors.Join(errs...)
}

// ChangePoints returns the change points of series in index order; none for a series shorter than two
// segments. NaN values are an error.
func (d Detector) ChangePoints(series []float64) ([]ChangePoint, error) {
	d, err := d.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("change points: %w", err)
	}
	if slices.ContainsFunc(series, math.IsNaN) {
		return nil, errors.New("change points: NaN value")
	}
	s := &splitter{minSeg: d.MinSegment}

	// With dependent noise, the AR(1) coefficient must be estimated around the change points, which are what
	// is being looked for: start from none, segment, re-estimate around the segmentation found, and repeat
	// until it no longer changes (a few rounds; a strong change found first lowers the estimate, which lets
	// weaker ones be found next).
	var found []accepted
	cuts := []int{0, len(series)}
	for round := range 6 {
		phi := 0.0
		switch {
		case d.Independent:
		case round == 0:
			phi = diffAR1(series)
		default:
			phi = ar1Coefficient(series, cuts)
		}
		found = d.segment(s, series, phi)
		next := []int{0, len(series)}
		for _, f := range found {
			next = append(next, f.index)
		}
		slices.Sort(next)
		if d.Independent || (round > 0 && slices.Equal(next, cuts)) {
			break
		}
		cuts = next
	}

	slices.SortFunc(found, func(a, b accepted) int { return a.index - b.index })
	out := make([]ChangePoint, len(found))
	for i, f := range found {
		lo, hi := 0, len(series)
		if i > 0 {
			lo = found[i-1].index
		}
		if i+1 < len(found) {
			hi = found[i+1].index
		}
		before, after := mean(series[lo:f.index]), mean(series[f.index:hi])
		out[i] = ChangePoint{Index: f.index, Before: before, After: after, Relative: after/before - 1, PValue: f.p, Q: f.q}
		if before == 0 {
			out[i].Relative = math.NaN()
		}
	}
	return out, nil
}

// accepted is a change point as the segmentation accepts it.
type accepted struct {
	index int
	p, q  float64
}

// segment is E-divisive's hierarchical segmentation of series, with the noise's AR(1) coefficient taken to be
// phi. Each round's shuffles are drawn from a generator seeded afresh, so the result depends on the seed and the
// data only.
func (d Detector) segment(s *splitter, series []float64, phi float64) []accepted {
	rng := rand.New(rand.NewPCG(d.Seed, 0x65646976)) // "ediv"
	bounds := []int{0, len(series)}                  // 0, the accepted change points, len(series)
	var found []accepted
	best := map[int]split{} // best split of the segment starting at the key, kept while the segment stays whole
	scratch := make([]float64, len(series))
	for {
		// The candidate: the best split over all segments.
		cand, segStart := split{tau: -1}, 0
		for i := 0; i+1 < len(bounds); i++ {
			lo, hi := bounds[i], bounds[i+1]
			sp, ok := best[lo]
			if !ok {
				sp = s.best(series[lo:hi])
				best[lo] = sp
			}
			if sp.tau >= 0 && (cand.tau < 0 || sp.q > cand.q) {
				cand, segStart = sp, lo
			}
		}
		if cand.tau < 0 {
			return found
		}
		p := d.pvalue(rng, s, series, bounds, cand.q, phi, scratch)
		if p > d.Significance {
			return found
		}
		found = append(found, accepted{index: segStart + cand.tau, p: p, q: cand.q})
		bounds = append(bounds, segStart+cand.tau)
		slices.Sort(bounds)
		delete(best, segStart)
	}
}

// pvalue tests whether any change is left in the segments between bounds, whose best split has divergence q.
// The statistic is the largest Q̂ over the segments, and its null distribution that of the same statistic over
// the segments shuffled. With phi > 0 both are computed on the series prewhitened with that AR(1) coefficient,
// whose values are independent, and so exchangeable, when there is no change.
func (d Detector) pvalue(rng *rand.Rand, s *splitter, series []float64, bounds []int, q, phi float64, scratch []float64) float64 {
	e, observed := series, q
	if phi > 0 {
		e = prewhiten(series, bounds, phi)
		observed = maxQ(s, e, nil, bounds)
	}
	// Once more shuffles than Significance·(Permutations+1) reach the observed statistic the candidate is
	// rejected whatever the remaining ones give, so they are not drawn: a rejected candidate's p-value is not
	// reported, and the last test of every search, which usually fails, then costs a few shuffles, not all.
	atLeast := 0
	stop := int(math.Floor(d.Significance * float64(d.Permutations+1)))
	perm, rank := scratch[:len(e)], make([]int, len(e))
	copy(perm, e)
	for i := 0; i+1 < len(bounds); i++ {
		s.ranks(perm[bounds[i]:bounds[i+1]], rank[bounds[i]:bounds[i+1]])
	}
	for range d.Permutations {
		if atLeast >= stop {
			break
		}
		for i := 0; i+1 < len(bounds); i++ {
			seg, segRank := perm[bounds[i]:bounds[i+1]], rank[bounds[i]:bounds[i+1]]
			rng.Shuffle(len(seg), func(a, b int) {
				seg[a], seg[b] = seg[b], seg[a]
				segRank[a], segRank[b] = segRank[b], segRank[a]
			})
		}
		if maxQ(s, perm, rank, bounds) >= observed {
			atLeast++
		}
	}
	return float64(atLeast+1) / float64(d.Permutations+1)
}

// maxQ returns the largest Q̂ of any split of any segment of x between bounds (−Inf when none can be split).
// rank holds each value's rank within its segment, or is nil.
func maxQ(s *splitter, x []float64, rank []int, bounds []int) float64 {
	m := math.Inf(-1)
	for i := 0; i+1 < len(bounds); i++ {
		lo, hi := bounds[i], bounds[i+1]
		var sp split
		if rank != nil {
			sp = s.bestRanked(x[lo:hi], rank[lo:hi])
		} else {
			sp = s.best(x[lo:hi])
		}
		if sp.tau >= 0 {
			m = max(m, sp.q)
		}
	}
	return m
}

// ar1Coefficient estimates the lag-1 autocorrelation of x's noise: the values minus the mean of their segment
// (cuts are the segment boundaries), lag pairs taken within segments only. It is clamped to [0, 0.95]: negative
// dependence only makes the permutation test conservative, and near 1 the series is a random walk whose level no
// test can judge.
func ar1Coefficient(x []float64, cuts []int) float64 {
	var num, den float64
	for i := 0; i+1 < len(cuts); i++ {
		seg := x[cuts[i]:cuts[i+1]]
		if len(seg) == 0 {
			continue
		}
		m := mean(seg)
		for t := range seg {
			den += (seg[t] - m) * (seg[t] - m)
			if t > 0 {
				num += (seg[t] - m) * (seg[t-1] - m)
			}
		}
	}
	if den == 0 {
		return 0
	}
	// The lag-1 autocorrelation of n values around their mean is biased low by about (1+3φ)/n (Marriott &
	// Pope 1954), for each segment whose mean is estimated; undo it, or short segments would be prewhitened too
	// little.
	phi := num / den
	phi += (1 + 3*phi) * float64(len(cuts)-1) / float64(len(x))
	return min(max(phi, 0), 0.95)
}

// prewhiten returns eₜ = xₜ − φ·xₜ₋₁ within each segment between bounds, and (1−φ)·x at a segment's first value,
// which keeps a constant level constant. For AR(1) noise the e are independent, so shuffling them is a valid
// test; a level shift δ at τ in x stays a level shift (1−φ)·δ at the same index in e, led by the full δ at τ.
func prewhiten(x []float64, bounds []int, phi float64) []float64 {
	if phi == 0 {
		return x
	}
	e := make([]float64, len(x))
	for i := 0; i+1 < len(bounds); i++ {
		for t := bounds[i]; t < bounds[i+1]; t++ {
			if t == bounds[i] {
				e[t] = (1 - phi) * x[t]
				continue
			}
			e[t] = x[t] - phi*x[t-1]
		}
	}
	return e
}

// split is the best split of a segment: tau is the index (in the segment) of the first value after it, -1 when
// the segment is too short to split.
type split struct {
	tau int
	q   float64
}

// splitter computes Q̂ for every split of a segment, reusing its scratch space. The sums of pairwise distances
// within each prefix and suffix are kept up to date value by value; the distances from a new value to those
// before it are Σ|v−u| = v·(#u<v) − Σ_{u<v} u + Σ_{u≥v} u − v·(#u≥v), whose counts and sums a Fenwick tree over
// the values' ranks gives in O(log n). So a segment costs O(n log n), not the O(n²) of summing the distances:
// the permutation test recomputes every segment's best split for each of its shuffles.
type splitter struct {
	minSeg int
	left   []float64 // left[t]: Σ|xᵢ−xⱼ| over i<j<t
	right  []float64 // right[t]: Σ|xᵢ−xⱼ| over t≤i<j
	sorted []float64
	rank   []int
	cnt    []int
	sum    []float64
}

// grow makes the scratch space hold segments of n values.
func (s *splitter) grow(n int) {
	if cap(s.left) < n+1 {
		s.left, s.right = make([]float64, n+1), make([]float64, n+1)
		s.sorted, s.rank = make([]float64, n), make([]int, n)
		s.cnt, s.sum = make([]int, n+1), make([]float64, n+1)
	}
}

// ranks fills rank with the rank of each value of x among them; equal values share a rank (their distance is 0
// whichever side of the other each is counted).
func (s *splitter) ranks(x []float64, rank []int) {
	s.grow(len(x))
	sorted := s.sorted[:len(x)]
	copy(sorted, x)
	slices.Sort(sorted)
	for i, v := range x {
		rank[i], _ = slices.BinarySearch(sorted, v)
	}
}

// best returns the split of x with the largest Q̂.
func (s *splitter) best(x []float64) split {
	if len(x) < 2*s.minSeg {
		return split{tau: -1}
	}
	s.grow(len(x))
	rank := s.rank[:len(x)]
	s.ranks(x, rank)
	return s.bestRanked(x, rank)
}

// bestRanked is best with the ranks of x given: a shuffle of a segment keeps its values, so the permutation test
// ranks each segment once and shuffles the ranks along with the values.
func (s *splitter) bestRanked(x []float64, rank []int) split {
	n := len(x)
	if n < 2*s.minSeg {
		return split{tau: -1}
	}
	s.grow(n)
	left, right := s.left[:n+1], s.right[:n+1]

	// pairwise fills out[t] (t = 0..n) with the sum of distances among the first t values taken in order
	// (forward) or among the last t (backward, stored at out[n−t]).
	pairwise := func(out []float64, forward bool) {
		cnt, sum := s.cnt[:n+1], s.sum[:n+1]
		clear(cnt)
		clear(sum)
		var total float64
		acc := 0.0
		for k := range n {
			i := k
			if !forward {
				i = n - 1 - k
			}
			v, r := x[i], rank[i]
			// Count and sum of the values before with a smaller rank (Fenwick prefix over ranks < r).
			below, belowSum := 0, 0.0
			for j := r; j > 0; j -= j & -j {
				below += cnt[j]
				belowSum += sum[j]
			}
			acc += v*float64(below) - belowSum + (total - belowSum) - v*float64(k-below)
			for j := r + 1; j <= n; j += j & -j {
				cnt[j]++
				sum[j] += v
			}
			total += v
			if forward {
				out[k+1] = acc
			} else {
				out[n-1-k] = acc
			}
		}
	}
	left[0], right[n] = 0, 0
	pairwise(left, true)
	pairwise(right, false)

	total := left[n]
	best := split{tau: -1}
	for tau := s.minSeg; tau <= n-s.minSeg; tau++ {
		m, k := float64(tau), float64(n-tau)
		within := left[tau]/(m*(m-1)/2) + right[tau]/(k*(k-1)/2)
		cross := total - left[tau] - right[tau]
		q := m * k / (m + k) * (2*cross/(m*k) - within)
		if best.tau < 0 || q > best.q {
			best = split{tau: tau, q: q}
		}
	}
	return best
}

// diffAR1 estimates the lag-1 autocorrelation φ of x's noise from its lag-1 and lag-2 differences: for AR(1)
// noise Var(xₜ₊₂−xₜ)/Var(xₜ₊₁−xₜ) = 1+φ, and a level shift touches only one or two differences, which the
// winsorized variance clips.
func diffAR1(x []float64) float64 {
	n := len(x)
	if n < 8 {
		return 0
	}
	d1 := make([]float64, 0, n-1)
	d2 := make([]float64, 0, n-2)
	for t := 1; t < n; t++ {
		d1 = append(d1, x[t]-x[t-1])
		if t > 1 {
			d2 = append(d2, x[t]-x[t-2])
		}
	}
	v1, v2 := winsorizedVar(d1), winsorizedVar(d2)
	if v1 == 0 {
		return 0
	}
	return min(max(v2/v1-1, 0), 0.95)
}

// winsorizedVar returns the mean square of x (centred at its median) with values clipped at 2.5 robust
// standard deviations.
func winsorizedVar(x []float64) float64 {
	m := Median(x)
	c := 2.5 * 1.4826 * mad(x)
	var ss float64
	for _, v := range x {
		d := min(max(v-m, -c), c)
		ss += d * d
	}
	return ss / float64(len(x))
}

// mad returns the median absolute deviation from the median.
func mad(x []float64) float64 {
	m := Median(x)
	dev := make([]float64, len(x))
	for i, v := range x {
		dev[i] = math.Abs(v - m)
	}
	return Median(dev)
}
