// Package stat holds the statistics benchpipe decides with: whether a run is better or worse than another
// (Comparer), where a history of runs changed (Detector), and how noisy a device is (MeasureNoise). It is pure Go
// over float64 slices and knows nothing of runs, samples or databases: `producer compare`, `producer history` and
// the viewer's Go side fetch the numbers and pass them in.
//
// The pieces, each usable alone:
//
//	compare.go   Comparer.Compare: two runs' steady-state per-second samples of one figure (the caller drops
//	             the warm-up and the final partial interval) → a circular block bootstrap confidence interval of
//	             the difference of a quantile of the per-second values, absolute and relative, an effect size
//	             and a verdict: better, worse, no significant change, or inconclusive with the number of samples
//	             that would settle it. Throughput compares the median of per-second rates; p99 compares the
//	             median of the per-second p99s (the typical second's tail), or their 99th percentile for runs
//	             of at least 1,000 seconds.
//	separation.go
//	             Comparer.BlockSeparation: for runs with enough samples but fewer than 10 bootstrap blocks, an exact
//	             test on non-overlapping blocks (significant when every candidate block lies beyond every
//	             baseline block) instead of an inconclusive verdict.
//	segment.go   Comparer.CompareToSegment: one run's value against the runs of a history segment, with a t
//	             interval on their run-to-run noise (`compare --baseline history`).
//	blocklength.go
//	             BlockLength: the bootstrap's block length from the series' autocorrelation (Politis–White).
//	changepoint.go
//	             Detector.ChangePoints: E-divisive means (Matteson & James 2014, the method of Apache Otava,
//	             formerly DataStax Hunter, and MongoDB's signal processing) over one value per run, each change
//	             point confirmed by a permutation test on the series prewhitened for run-to-run drift.
//	noise.go     MeasureNoise and Noise.MinEffect: from repeated identical (A/A) runs, a figure's run-to-run
//	             noise and the minimum effect a gate needs for a chosen false-alarm rate.
//
// Why a block bootstrap: per-second samples of one run are autocorrelated (a slow second is followed by slow
// seconds: GC, compaction, a noisy neighbour), so n samples carry far less information than n independent ones.
// Tests that assume independence (t-test, Mann-Whitney, the ordinary bootstrap) then give intervals that are too
// narrow and flag noise as regressions. Resampling blocks of consecutive seconds keeps the dependence inside a
// block; the block length is chosen from the series' own autocorrelation (Politis & White 2004, with the
// correction of Patton, Politis & White 2009), see BlockLength.
//
// Everything random is driven by a seed the caller passes (math/rand/v2's PCG), so a verdict or a change point
// can be reproduced exactly. No external statistics library: gonum, the one a Go program would reach for, has
// Student's t but no block bootstrap, no Politis–White and no E-divisive, and the rest we need (order statistics,
// autocovariance, Student's t quantile by bisection on the incomplete beta function) is a few dozen lines, tested
// against R's values.
package stat
