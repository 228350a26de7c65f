package compare

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// Statistical judgement of the figures that have per-second values (throughput, tps and the latency
// percentiles): instead of comparing two run values against a threshold, which fires on noise (a +0.048 ms p50
// change on a 6-second run whose seconds vary by 44 %), stat.Comparer compares the two runs' steady-state
// per-second samples with a circular block bootstrap and says better, worse, no significant change, or
// inconclusive with the samples it would need. Runs with the 30 samples the method needs but fewer than 10
// bootstrap blocks of their strongly autocorrelated seconds are judged by stat.Comparer.BlockSeparation's exact
// test on non-overlapping blocks (a slowdown whose every block lies beyond every baseline block is worse on a
// 35-second run). The gate fails on such a figure only when the verdict is worse:
// significant at --confidence and at least its --max-regression worse. Counts (errors, loss, dup, reorder,
// failed) are events, not noisy rates: they keep the threshold on their run totals.

// DefaultConfidence is the confidence of the statistical verdicts when Options.Confidence is zero.
const DefaultConfidence = 0.95

// DefaultMinEffect is the minimum effect of a figure judged with statistics that no --max-regression gates:
// its verdict is then informative only, and a change smaller than this is reported as no change.
const DefaultMinEffect = 0.05

// statSeed seeds the bootstrap: a fixed seed makes the same two runs give the same verdict every time.
const statSeed = 1

// Gates of a figure (figureResult.Gate).
const (
	gateStatistics = "statistics" // worse at the confidence and by at least the threshold (stat.Worse)
	gateThreshold  = "threshold"  // run values worse by more than the threshold
)

// longRun is the steady-state length, in samples, from which a p99 figure is compared by the 99th percentile of
// its per-second p99s rather than their median (stat.Comparer needs 10/(1−q) samples for a quantile q).
const longRun = 1000

// steadyState returns the samples a comparison judges: the measurement phase (the queries fetch only that
// phase, so the warm-up is already excluded) without a final partial interval. A run's last sample covers the
// time from the last full interval to the end of the run, often a fraction of a second whose rate is a poor
// estimate; it is dropped when it is shorter than 90 % of the run's median interval.
func steadyState(samples []sampleFields) []sampleFields {
	if len(samples) < 2 {
		return samples
	}
	d := make([]time.Duration, len(samples))
	for i, s := range samples {
		d[i] = s.IntervalEnd.Sub(s.IntervalStart.Time)
	}
	slices.Sort(d)
	median := d[len(d)/2]
	last := samples[len(samples)-1]
	if last.IntervalEnd.Sub(last.IntervalStart.Time) < median*9/10 {
		return samples[:len(samples)-1]
	}
	return samples
}

// perSecondSeries returns f's per-second values over the samples, in time order; samples without the value
// (a second with no completed operation has no latency) are left out.
func perSecondSeries(f *figure, samples []sampleFields) []float64 {
	out := make([]float64, 0, len(samples))
	for i := range samples {
		if v := f.perSecond(&samples[i]); v != nil && !math.IsNaN(*v) {
			out = append(out, *v)
		}
	}
	return out
}

// quantileFor returns the quantile of the per-second values that figure f is compared by, for runs whose
// shorter steady state has n samples: the median, except for p99 on runs of at least longRun seconds, where the
// 99th percentile of the per-second p99s is what a tail gate is about and is estimable.
func quantileFor(f *figure, n int) float64 {
	if f.name == "p99" && n >= longRun {
		return 0.99
	}
	return 0.5
}

// minEffect is the smallest change a statistical verdict on the named figure counts: its --max-regression when
// one gates it (reported by gated), else DefaultMinEffect, which only informs.
func (t Thresholds) minEffect(name string) (minEffect float64, gated bool) {
	limit, gated := t.limit(name)
	if !gated {
		return DefaultMinEffect, false
	}
	// stat.Comparer takes 0 for its default; a --max-regression of 0 means any significant worsening.
	return max(limit, 1e-12), true
}

func (f *figure) direction() stat.Direction {
	if f.better == higherIsBetter {
		return stat.HigherIsBetter
	}
	return stat.LowerIsBetter
}

// judge compares the runs' steady-state samples for every figure that has per-second values, and makes the
// statistical verdict the gate of those figures. confidence 0 is DefaultConfidence.
func judge(results []figureResult, base, cand *runFields, t Thresholds, confidence float64) {
	if confidence == 0 {
		confidence = DefaultConfidence
	}
	bs, cs := steadyState(base.Samples), steadyState(cand.Samples)
	for i := range results {
		r := &results[i]
		minEffect, gated := t.minEffect(r.Name)
		if r.fig.perSecond == nil {
			if gated {
				r.Gate = gateThreshold
			}
			continue
		}
		if gated {
			r.Gate = gateStatistics
		}
		a, b := perSecondSeries(r.fig, bs), perSecondSeries(r.fig, cs)
		q := quantileFor(r.fig, min(len(a), len(b)))
		r.Statistic = "median of " + r.fig.statistic
		if q != 0.5 {
			r.Statistic = "99th percentile of " + r.fig.statistic
		}
		if len(a) == 0 || len(b) == 0 {
			r.StatError = fmt.Sprintf("no per-second values to judge (baseline %d, candidate %d samples with %s)", len(a), len(b), r.Column)
		} else {
			c, err := stat.Comparer{Confidence: confidence, MinEffect: minEffect, Quantile: q, Seed: statSeed, BlockSeparation: true}.Compare(a, b, r.fig.direction())
			if err != nil {
				r.StatError = err.Error()
			} else {
				r.Stat = &c
			}
		}
		// A figure the candidate lacks (a failed run has no summary) stays a regression when gated; otherwise only
		// a significant worsening of at least the threshold is one.
		if gated && r.Verdict != verdictMissing {
			r.Regression = r.Stat != nil && r.Stat.Verdict == stat.Worse
		}
	}
}
