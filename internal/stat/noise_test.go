package stat

import (
	"math"
	"strings"
	"testing"
)

func TestMeasureNoise(t *testing.T) {
	n, err := MeasureNoise([]float64{98, 100, 102})
	if err != nil {
		t.Fatal(err)
	}
	if n.Runs != 3 || n.Mean != 100 || n.StdDev != 2 || n.CV != 0.02 || math.Abs(n.Spread-0.02) > 1e-15 {
		t.Errorf("noise %+v, want 3 runs, mean 100, stddev 2, CV 0.02, spread 0.02", n)
	}
	// t(0.95; 2) = 2.919986 (R: qt(0.95, 2)); 2.919986 × 0.02 × √2 = 0.082590, × √(1+1/4) = 0.065293.
	for _, tc := range []struct {
		baselineRuns int
		want         float64
	}{{1, 0.082590}, {4, 0.065293}} {
		m, err := n.MinEffect(0.05, tc.baselineRuns)
		if err != nil || math.Abs(m-tc.want) > 1e-6 {
			t.Errorf("MinEffect(0.05, %d) = %v, %v; want %v", tc.baselineRuns, m, err, tc.want)
		}
	}
	for _, tc := range []struct {
		values []float64
		want   string
	}{
		{[]float64{1, 2}, "at least 3"},
		{[]float64{1, 2, math.Inf(1)}, "not finite"},
		{[]float64{-1, 0, 1}, "not positive"},
	} {
		if _, err := MeasureNoise(tc.values); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("MeasureNoise(%v): error %v, want %q", tc.values, err, tc.want)
		}
	}
	for _, fa := range []float64{0, 0.5, math.NaN()} {
		if _, err := n.MinEffect(fa, 1); err == nil {
			t.Errorf("MinEffect(%v) accepted", fa)
		}
	}
	if _, err := (Noise{}).MinEffect(0.05, 1); err == nil {
		t.Error("MinEffect of an unmeasured Noise accepted")
	}
}

// The minimum effect derived from A/A runs gives the false-alarm rate asked for: over 2,000 calibrations (10 A/A
// runs with 3 % noise each), a fresh identical run falls more than the minimum effect below a baseline (one run,
// or the mean of five) in 5 % of cases, within the binomial 0.1 % bounds.
func TestMinEffectFalseAlarmRate(t *testing.T) {
	const trials, runs, rate = 2000, 10, 0.05
	lo, hi := binomialLower(trials, rate, 0.001), binomialUpper(trials, rate, 0.001)
	rng := newRand(11)
	for _, baselineRuns := range []int{1, 5} {
		alarms := 0
		for range trials {
			noise, err := MeasureNoise(iid(rng, runs, 100, 3))
			if err != nil {
				t.Fatal(err)
			}
			m, err := noise.MinEffect(rate, baselineRuns)
			if err != nil {
				t.Fatal(err)
			}
			baseline := mean(iid(rng, baselineRuns, 100, 3))
			if candidate := 100 + 3*rng.NormFloat64(); candidate/baseline-1 <= -m {
				alarms++
			}
		}
		t.Logf("baseline of %d runs: %d false alarms in %d (want %d–%d)", baselineRuns, alarms, trials, lo, hi)
		if alarms < lo || alarms > hi {
			t.Errorf("baseline of %d runs: %d false alarms in %d, want %d–%d", baselineRuns, alarms, trials, lo, hi)
		}
	}
}

// The gate end to end: runs whose level varies from run to run by 3 % (what the per-second samples of one run do
// not show) on top of autocorrelated per-second noise. The bootstrap finds that two identical runs differ
// significantly most of the time; only a minimum effect calibrated on A/A runs keeps the gate's false alarms at
// the rate asked for, while a 20 % slowdown still fails it. Each seed calibrates afresh on 10 A/A runs (the
// rate holds over calibrations: one calibration from few runs can be low or high).
func TestGateWithCalibratedMinEffect(t *testing.T) {
	const seeds, n, rate = 200, 300, 0.05
	bound := binomialUpper(seeds, rate, 0.001)
	for _, tc := range []struct {
		name     string
		fixed    float64 // minimum effect; 0: calibrated
		slowdown float64
		check    func(worse int) bool
		want     string
	}{
		{"identical runs, minimum effect 0.5 %", 0.005, 1, func(w int) bool { return w > bound }, "more than the bound: calibration is needed"},
		{"identical runs, calibrated minimum effect", 0, 1, func(w int) bool { return w <= bound }, "at most the bound"},
		{"20 % slowdown, calibrated minimum effect", 0, 0.8, func(w int) bool { return w >= int(0.95*seeds) }, "at least 95 %"},
	} {
		worse := 0
		var effects []float64
		for seed := range uint64(seeds) {
			rng := newRand(seed)
			run := func(level float64) []float64 {
				return ar1(rng, n, 0.6, level*(1+0.03*rng.NormFloat64()), level*0.05)
			}
			m := tc.fixed
			if m == 0 {
				var aa []float64
				for range 10 {
					aa = append(aa, Median(run(1000)))
				}
				noise, err := MeasureNoise(aa)
				if err != nil {
					t.Fatal(err)
				}
				if m, err = noise.MinEffect(rate, 1); err != nil {
					t.Fatal(err)
				}
			}
			effects = append(effects, m)
			base, cand := run(1000), run(1000*tc.slowdown)
			r, err := Comparer{MinEffect: m, Resamples: 500, Seed: seed}.Compare(base, cand, HigherIsBetter)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict == Worse {
				worse++
			}
		}
		t.Logf("%s (median %.2f %%): worse in %d of %d (false-alarm bound %d)", tc.name, 100*Median(effects), worse, seeds, bound)
		if !tc.check(worse) {
			t.Errorf("%s: worse in %d of %d, want %s", tc.name, worse, seeds, tc.want)
		}
	}
}
