package compare

// Tests of the statistical verdicts on runs the real sink wrote (see helpers_test.go).

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// noisy returns n per-second values around level with autocorrelated relative noise of about cv (AR(1), φ 0.5),
// the same for the same seed.
func noisy(seed uint64, n int, level, cv float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out, prev := make([]float64, n), 0.0
	for i := range out {
		prev = 0.5*prev + math.Sqrt(0.75)*rng.NormFloat64()
		out[i] = level * (1 + cv*prev)
	}
	return out
}

func mustFigure(t *testing.T, rep report, name string) figureResult {
	t.Helper()
	for _, f := range rep.Figures {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no figure %s in %+v", name, rep.Figures)
	return figureResult{}
}

// Issue 17's case: a p50 of 0.400 → 0.448 ms (+0.048 ms, +12%) on 6-second runs whose per-second p50 varies by
// 44% was a REGRESSION under --max-regression 5% (exit 1). Six samples cannot tell such a change from noise:
// the verdict is inconclusive with the 30 samples per run the method needs, and the gate passes.
func TestShortNoisyRunIsNotARegression(t *testing.T) {
	e := newEnv(t)
	base := mqttRun(t0, mqttFigures(1000, 0.400, 2.5, 6, 12, 0, 0, 0, 0), 1000, 1010, 990, 1000, 1005, 995)
	base.p50s = []float64{0.31, 0.49, 0.36, 0.45, 0.40, 0.39} // (max − min)/mean = 44%
	cand := mqttRun(t0.Add(time.Hour), mqttFigures(1000, 0.448, 2.5, 6, 12, 0, 0, 0, 0), 995, 1000, 1010, 990, 1000, 1005)
	cand.p50s = []float64{0.35, 0.55, 0.40, 0.50, 0.45, 0.44}
	e.write(t, base, cand)

	res := e.compare(t, "--json", "--max-regression", "5%", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("want exit 0 (inconclusive is not a regression)\n%v", res)
	}
	rep := res.jsonReport(t)
	p50 := mustFigure(t, rep, "p50")
	if p50.Verdict != verdictWorse || !near(*p50.WorsePct, 12) || p50.Regression || p50.Gate != gateStatistics ||
		p50.Statistic != "median of per-second p50" {
		t.Errorf("p50 = %+v", p50)
	}
	if s := p50.Stat; s == nil || s.Verdict != stat.Inconclusive || s.Need != 30 || s.BaselineSamples != 6 || s.CandidateSamples != 6 ||
		s.RelativeCI != nil || s.Confidence != 0.95 || s.MinEffect != 0.05 || !near(s.Baseline, 0.395) || !near(s.Candidate, 0.445) {
		t.Errorf("p50 stat = %+v", s)
	}
	if len(rep.Regressions) != 0 || rep.ExitCode != ExitOK || rep.Confidence != 0.95 {
		t.Errorf("regressions %v, exit %d, confidence %v", rep.Regressions, rep.ExitCode, rep.Confidence)
	}

	res = e.compare(t, "--max-regression", "5%", base.id.String(), cand.id.String())
	for _, want := range []string{
		"p50         lower   0.400 ms      0.448 ms      +0.048 ms  +12.00%  5.00%  worse\n",
		"p50         median of per-second p50    6 / 6    0.395 ms      0.445 ms      +12.66%  -       +0.74   5.00%       inconclusive (need 30 samples per run)\n",
		"\nno regression beyond the thresholds\n",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res.stdout)
		}
	}
}

// Three-minute runs: a p99 20% higher second after second is worse and fails a 10% gate; one 1% higher is not a
// change of 10% and passes; a final partial second (0.3 s at a third of the rate) is left out of the
// steady state.
func TestLongRunsAreJudged(t *testing.T) {
	e := newEnv(t)
	figs := mqttFigures(1000, 1, 2.5, 5, 12, 0, 0, 0, 0)
	mk := func(at time.Duration, seed uint64, p99 float64) run {
		r := mqttRun(t0.Add(at), figs, noisy(seed, 180, 1000, 0.02)...)
		r.p99s = noisy(seed+100, 180, p99, 0.10)
		return r
	}
	base := mk(0, 1, 5)
	slower := mk(time.Hour, 2, 6)
	same := mk(2*time.Hour, 3, 5.05)
	same.rates[179], same.lastDur = 300, 300*time.Millisecond
	e.write(t, base, slower, same)

	cases := []struct {
		name        string
		cand        run
		code        int
		regressions []string
		p99         stat.Verdict
		candSamples int
	}{
		{"p99 20% higher", slower, ExitRegression, []string{"p99"}, stat.Worse, 180},
		{"p99 1% higher", same, ExitOK, []string{}, stat.NoChange, 179},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.compare(t, "--json", "--max-regression", "p99=10%,throughput=5%", base.id.String(), tc.cand.id.String())
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%v", res.code, tc.code, res)
			}
			rep := res.jsonReport(t)
			if !slices.Equal(rep.Regressions, tc.regressions) {
				t.Errorf("regressions %v, want %v", rep.Regressions, tc.regressions)
			}
			p99, tput := mustFigure(t, rep, "p99"), mustFigure(t, rep, "throughput")
			if p99.Stat == nil || p99.Stat.Verdict != tc.p99 || p99.Stat.CandidateSamples != tc.candSamples || p99.Stat.BaselineSamples != 180 ||
				p99.Stat.MinEffect != 0.10 {
				t.Errorf("p99 stat = %+v", p99.Stat)
			}
			// Throughput is unchanged at 1000 ops/s with 2% noise: never worse, whatever the partial second.
			if tput.Stat == nil || tput.Stat.Verdict != stat.NoChange || tput.Stat.CandidateSamples != tc.candSamples || tput.Regression {
				t.Errorf("throughput stat = %+v", tput.Stat)
			}
			if f := mustFigure(t, rep, "p50"); f.Stat == nil || f.Stat.Verdict != stat.NoChange || f.Gate != "" || f.Regression {
				t.Errorf("p50 (ungated, identical per-second values) = %+v %+v", f, f.Stat)
			}
		})
	}

	res := e.compare(t, "--max-regression", "p99=10%", "--confidence", "0.99", base.id.String(), slower.id.String())
	if res.code != ExitRegression || !strings.Contains(res.stdout, "REGRESSION: p99 (+") ||
		!strings.Contains(res.stdout, "significantly worse, 99% CI +") {
		t.Errorf("%v", res)
	}
	for _, bad := range []string{"1", "0.4", "abc"} {
		if res := e.compare(t, "--confidence", bad, base.id.String(), slower.id.String()); res.code != ExitUsage ||
			!strings.Contains(res.stderr, "--confidence") {
			t.Errorf("--confidence %s: %v", bad, res)
		}
	}
}
