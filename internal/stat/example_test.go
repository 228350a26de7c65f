package stat_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// perSecond returns n seconds of throughput around level with autocorrelated 5 % noise.
func perSecond(seed uint64, n int, level float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	x, prev := make([]float64, n), 0.0
	for i := range x {
		prev = 0.6*prev + 0.8*rng.NormFloat64()
		x[i] = level * (1 + 0.05*prev)
	}
	return x
}

func ExampleComparer_Compare() {
	baseline := perSecond(1, 600, 1000) // 10 minutes of steady state, warm-up already dropped
	candidate := perSecond(2, 600, 900) // 10 % slower
	r, err := stat.Comparer{MinEffect: 0.03, Seed: 1}.Compare(baseline, candidate, stat.HigherIsBetter)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: median %.0f → %.0f ops/s (%+.1f %%, 95 %% CI %+.1f … %+.1f %%)\n", r.Verdict, r.Baseline, r.Candidate,
		100*r.Relative, 100*r.RelativeCI.Lo, 100*r.RelativeCI.Hi)

	short, _ := stat.Comparer{}.Compare(baseline[:20], candidate[:20], stat.HigherIsBetter)
	fmt.Println(short.Reason)
	// Output:
	// worse: median 998 → 898 ops/s (-10.0 %, 95 % CI -11.0 … -8.5 %)
	// too short to judge: 20 samples, need at least 30 per run
}

func ExampleDetector_ChangePoints() {
	// 60 nightly runs: 1000 ops/s, then 930 from run 40 on, with 2 % noise.
	rng := rand.New(rand.NewPCG(3, 1))
	var history []float64
	for i := range 60 {
		level := 1000.0
		if i >= 40 {
			level = 930
		}
		history = append(history, level*(1+0.02*rng.NormFloat64()))
	}
	cps, err := stat.Detector{Seed: 1}.ChangePoints(history)
	if err != nil {
		panic(err)
	}
	for _, cp := range cps {
		fmt.Printf("run %d: %.0f → %.0f (%+.1f %%), p = %.3f\n", cp.Index, cp.Before, cp.After, 100*cp.Relative, cp.PValue)
	}
	// Output:
	// run 40: 1003 → 933 (-7.0 %), p = 0.005
}

func ExampleNoise_MinEffect() {
	// Median throughput of five identical runs on one device.
	noise, err := stat.MeasureNoise([]float64{1012, 987, 1003, 995, 1021})
	if err != nil {
		panic(err)
	}
	m, _ := noise.MinEffect(0.05, 1)
	fmt.Printf("noise %.1f %%; a gate with 5 %% false alarms ignores changes under %.1f %%\n", 100*noise.CV, 100*m)
	// Output:
	// noise 1.3 %; a gate with 5 % false alarms ignores changes under 4.0 %
}
