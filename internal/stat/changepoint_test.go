package stat

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

// steps returns a series of segments with the given lengths and means, noise AR(1) with coefficient phi and
// standard deviation sd, and the indices where the segments change.
func steps(seed uint64, phi, sd float64, lengths []int, means []float64) (x []float64, changes []int) {
	rng := newRand(seed)
	for i, n := range lengths {
		if i > 0 {
			changes = append(changes, len(x))
		}
		x = append(x, ar1(rng, n, phi, means[i], sd)...)
	}
	return x, changes
}

// Known change points are found at their index. The thresholds are a little under what the method achieves
// (logged), so that a change making it worse fails; a 3σ step is inherently located within a run or two, not
// always exactly.
func TestChangePointsFound(t *testing.T) {
	const seeds = 100
	for _, tc := range []struct {
		name           string
		phi, sd        float64
		lengths        []int
		means          []float64
		exact, within2 int // of seeds: all change points at their index / within 2 runs, and no others
	}{
		{"iid, two 5σ steps", 0, 2, []int{40, 30, 30}, []float64{100, 110, 95}, 90, 97},
		{"iid, two 3σ steps", 0, 2, []int{40, 30, 30}, []float64{100, 106, 100}, 45, 85},
		{"iid, one 2σ step", 0, 2, []int{50, 50}, []float64{100, 104}, 50, 88},
		{"history of 200 runs, −10 % at run 150, 3 % noise", 0, 3, []int{150, 50}, []float64{100, 90}, 85, 92},
		{"same, AR(1) 0.3 noise", 0.3, 3, []int{150, 50}, []float64{100, 90}, 80, 88},
		{"AR(1) 0.3, two 5σ steps", 0.3, 2, []int{40, 30, 30}, []float64{100, 110, 100}, 72, 80},
		{"AR(1) 0.5, two 5σ steps", 0.5, 2, []int{40, 30, 30}, []float64{100, 110, 100}, 55, 60},
	} {
		exact, within2 := 0, 0
		for seed := range uint64(seeds) {
			x, want := steps(seed, tc.phi, tc.sd, tc.lengths, tc.means)
			cps, err := Detector{Seed: seed}.ChangePoints(x)
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) != len(want) {
				continue
			}
			e, w := true, true
			for i, cp := range cps {
				e = e && cp.Index == want[i]
				w = w && math.Abs(float64(cp.Index-want[i])) <= 2
			}
			if e {
				exact++
			}
			if w {
				within2++
			}
		}
		t.Logf("%s: exact in %d, within 2 in %d of %d seeds", tc.name, exact, within2, seeds)
		if exact < tc.exact || within2 < tc.within2 {
			t.Errorf("%s: exact in %d, within 2 in %d of %d seeds; want at least %d and %d", tc.name, exact, within2, seeds, tc.exact, tc.within2)
		}
	}
}

// Stationary noise has no change point: over 200 seeds, series of 100 values raise at most as many false alarms
// as the significance (5 %) allows, up to the binomial 0.1 % bound, for independent and autocorrelated noise.
// The textbook test (Independent) holds on independent noise and fails on autocorrelated noise, which is why
// the default prewhitens.
func TestChangePointsFalseAlarms(t *testing.T) {
	const seeds, n, alpha = 200, 100, 0.05
	bound := binomialUpper(seeds, alpha, 0.001)
	for _, tc := range []struct {
		name        string
		phi         float64
		independent bool
		holds       bool
	}{
		{"iid", 0, false, true},
		{"AR(1) 0.3", 0.3, false, true},
		{"AR(1) 0.5", 0.5, false, true},
		{"AR(1) 0.7", 0.7, false, true},
		{"iid, textbook test", 0, true, true},
		{"AR(1) 0.5, textbook test", 0.5, true, false},
	} {
		alarms := 0
		for seed := range uint64(seeds) {
			x := ar1(newRand(seed+1000), n, tc.phi, 100, 2)
			cps, err := Detector{Seed: seed, Significance: alpha, Independent: tc.independent}.ChangePoints(x)
			if err != nil {
				t.Fatal(err)
			}
			if len(cps) > 0 {
				alarms++
			}
		}
		t.Logf("%s: false alarms in %d of %d series (%.1f %%; allowed %d)", tc.name, alarms, seeds, 100*float64(alarms)/seeds, bound)
		if tc.holds && alarms > bound {
			t.Errorf("%s: false alarms in %d of %d series, want at most %d", tc.name, alarms, seeds, bound)
		}
		if !tc.holds && alarms <= bound {
			t.Errorf("%s: false alarms in %d of %d series, expected more than %d: the case no longer shows why prewhitening is needed", tc.name, alarms, seeds, bound)
		}
	}
}

// E-divisive sees changes of distribution, not only of the mean: the same mean with four times the spread.
func TestChangePointsSpreadChange(t *testing.T) {
	const seeds = 100
	within2 := 0
	for seed := range uint64(seeds) {
		rng := newRand(seed)
		x := append(iid(rng, 60, 100, 1), iid(rng, 60, 100, 4)...)
		cps, err := Detector{Seed: seed}.ChangePoints(x)
		if err != nil {
			t.Fatal(err)
		}
		if len(cps) == 1 && math.Abs(float64(cps[0].Index-60)) <= 2 {
			within2++
		}
	}
	t.Logf("spread ×4 at 60 of 120: found within 2 in %d of %d seeds", within2, seeds)
	if within2 < 70 {
		t.Errorf("spread ×4: found within 2 in %d of %d seeds, want at least 70", within2, seeds)
	}
}

func TestChangePointsResult(t *testing.T) {
	x, _ := steps(5, 0, 1, []int{30, 30}, []float64{100, 120})
	d := Detector{Seed: 9}
	cps, err := d.ChangePoints(x)
	if err != nil {
		t.Fatal(err)
	}
	if len(cps) != 1 || cps[0].Index != 30 {
		t.Fatalf("change points %+v, want one at 30", cps)
	}
	cp := cps[0]
	before, after := mean(x[:30]), mean(x[30:])
	if cp.Before != before || cp.After != after || cp.Relative != after/before-1 {
		t.Errorf("before %v after %v relative %v, want the segments' means %v, %v and %v", cp.Before, cp.After, cp.Relative, before, after, after/before-1)
	}
	if cp.PValue != 1.0/200 {
		t.Errorf("p-value %v of a 20σ step, want the smallest 199 shuffles can give, 1/200", cp.PValue)
	}
	again, _ := d.ChangePoints(x)
	if !reflect.DeepEqual(cps, again) {
		t.Errorf("same seed, different results: %+v, %+v", cps, again)
	}
	if cps, _ := d.ChangePoints(x[:9]); len(cps) != 0 {
		t.Errorf("9 values, shorter than two segments of 5: change points %+v", cps)
	}
}

func TestChangePointsErrors(t *testing.T) {
	_, err := Detector{Significance: 0.7, Permutations: -3, MinSegment: 1}.ChangePoints([]float64{1, 2, 3})
	for _, want := range []string{"significance 0.7", "permutations -3", "min segment 1"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v: want it to name %q (every problem at once)", err, want)
		}
	}
	if _, err := (Detector{Significance: 0.01, Permutations: 50}).ChangePoints(nil); err == nil || !strings.Contains(err.Error(), "at least 99") {
		t.Errorf("50 permutations at 1 %%: error %v, want one asking for at least 99", err)
	}
	if _, err := (Detector{}).ChangePoints([]float64{1, math.NaN()}); err == nil {
		t.Error("NaN accepted")
	}
}
