package compare

// Tests of `producer history` and `compare --baseline history` on runs the real sink wrote (see helpers_test.go).

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// stepHistory writes 20 nightly MQTT runs of 40 steady-state seconds: median throughput 1000 ops/s for the
// first 12, 900 (−10%) from the 13th on, each run's level off by 0.5% run-to-run noise and each second by 2%;
// the per-second p99 stays at 5 ms with 5% noise. It returns the runs, oldest first.
func stepHistory(t *testing.T, e *env) []run {
	t.Helper()
	rng := rand.New(rand.NewPCG(42, 1))
	var runs []run
	for i := range 20 {
		level := 1000.0
		if i >= 12 {
			level = 900
		}
		level *= 1 + 0.005*rng.NormFloat64()
		r := mqttRun(t0.Add(time.Duration(i)*24*time.Hour), mqttFigures(level, 1, 2.5, 5, 12, 0, 0, 0, 0), noisy(uint64(i), 40, level, 0.02)...)
		r.p99s = noisy(uint64(i)+1000, 40, 5, 0.05)
		runs = append(runs, r)
	}
	e.write(t, runs...)
	return runs
}

func medianOf(xs []float64) float64 { return stat.Median(xs) }

func TestHistoryFindsTheStep(t *testing.T) {
	e := newEnv(t)
	runs := stepHistory(t, e)
	last := runs[len(runs)-1]

	res := e.history(t, "--json", "--noise", last.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	var h historyReport
	if err := json.Unmarshal([]byte(res.stdout), &h); err != nil {
		t.Fatalf("%v\n%s", err, res.stdout)
	}
	if h.Run.RunID != last.id.String() || len(h.Runs) != 20 || len(h.Series) != 2 {
		t.Fatalf("run %s, %d runs, %d series\n%s", h.Run.RunID, len(h.Runs), len(h.Series), res.stdout)
	}
	for i, p := range h.Runs {
		if p.RunID != runs[i].id.String() || p.Samples != 40 || !near(p.Values["throughput"], medianOf(runs[i].rates)) ||
			!near(p.Values["p99"], medianOf(runs[i].p99s)) {
			t.Errorf("run %d = %+v", i, p)
		}
	}
	tput, p99 := h.Series[0], h.Series[1]
	if tput.Figure != "throughput" || len(tput.ChangePoints) != 1 {
		t.Fatalf("throughput: %+v", tput)
	}
	cp := tput.ChangePoints[0]
	if cp.Index != 12 || cp.RunID != runs[12].id.String() || !cp.Worse || cp.PValue > 0.05 || cp.Relative > -0.08 || cp.Relative < -0.12 {
		t.Errorf("throughput change point = %+v, want at run 12 (the 13th), about −10%%", cp)
	}
	if tput.Segment.Runs != 8 || tput.Segment.FirstRunID != runs[12].id.String() {
		t.Errorf("throughput segment = %+v", tput.Segment)
	}
	if p99.Figure != "p99" || len(p99.ChangePoints) != 0 || p99.Segment.Runs != 20 || p99.Segment.FirstRunID != runs[0].id.String() {
		t.Errorf("p99 (no change) = %+v", p99)
	}
	// --noise: the segment's run values are the A/A runs.
	var seg []float64
	for _, r := range runs[12:] {
		seg = append(seg, medianOf(r.rates))
	}
	want, _ := stat.MeasureNoise(seg)
	one, _ := want.MinEffect(0.05, 1)
	all, _ := want.MinEffect(0.05, 8)
	if n := tput.Noise; n == nil || n.Runs != 8 || math.Abs(n.CV-want.CV) > 1e-12 || tput.MinEffect == nil ||
		math.Abs(*tput.MinEffect-one) > 1e-12 || math.Abs(*tput.MinEffectSegment-all) > 1e-12 {
		t.Errorf("throughput noise = %+v, min effect %v %v; want %+v, %v, %v", n, tput.MinEffect, tput.MinEffectSegment, want, one, all)
	}

	res = e.history(t, "--noise", last.id.String())
	for _, want := range []string{
		"throughput (median of per-second ops/s, higher is better): 20 runs, 1 change point (significance 0.05)\n",
		"  #13  " + runs[12].id.String() + "  2026-03-13T12:00:00Z",
		"  current segment: 8 runs from " + runs[12].id.String() + "\n",
		"p99 (median of per-second p99, lower is better): 20 runs, no change point (significance 0.05)\n",
		"run-to-run noise over the current segment (its runs as A/A runs), minimum effects for a false-alarm rate of 0.05:\n",
		"FIGURE      RUNS  MEAN",
		"◀ change",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res.stdout)
		}
	}

	// --kind/--device: the most recent mqtt run on pi-7 is the last one, so the same history. tps, asked for, is
	// not a figure of MQTT runs: their samples' ops_rate is the throughput, which it would repeat.
	res = e.history(t, "--json", "--kind", "mqtt", "--device", "pi-7", "--figures", "throughput,tps")
	var h2 historyReport
	if err := json.Unmarshal([]byte(res.stdout), &h2); err != nil || res.code != ExitOK {
		t.Fatalf("%v %v", err, res)
	}
	if h2.Run.RunID != last.id.String() || len(h2.Series) != 1 || len(h2.Series[0].ChangePoints) != 1 || h2.Series[0].ChangePoints[0].Index != 12 {
		t.Errorf("--kind --device: %+v", h2)
	}
	if res := e.history(t, "--kind", "pgbench", "--device", "pi-7"); res.code != ExitNoBaseline {
		t.Errorf("no pgbench runs: %v", res)
	}
	// The history of run 10 holds runs 0–10 only (those started no later than it): no change in them.
	res = e.history(t, "--json", runs[10].id.String())
	var h3 historyReport
	if err := json.Unmarshal([]byte(res.stdout), &h3); err != nil || len(h3.Runs) != 11 || len(h3.Series[0].ChangePoints) != 0 {
		t.Errorf("history of run 10: %v %+v", err, h3)
	}
}

// compare --baseline history gates against the current segment (the 8 runs at 900 ops/s), not against the
// runs before the step (against which a run at 900 ops/s would be 10% worse): a candidate at the segment's level
// passes, one 10% below it fails a 5% gate.
func TestCompareBaselineHistory(t *testing.T) {
	e := newEnv(t)
	runs := stepHistory(t, e)
	var seg []float64
	for _, r := range runs[12:] {
		seg = append(seg, medianOf(r.rates))
	}
	level := stat.Median(seg)
	at := t0.Add(30 * 24 * time.Hour)
	mk := func(at time.Time, seed uint64, l float64) run {
		r := mqttRun(at, mqttFigures(l, 1, 2.5, 5, 12, 0, 0, 0, 0), noisy(seed, 40, l, 0.02)...)
		r.p99s = noisy(seed+1000, 40, 5, 0.05)
		return r
	}
	same, slower := mk(at, 500, level), mk(at.Add(time.Hour), 501, 0.90*level)
	e.write(t, same, slower)

	cases := []struct {
		name        string
		cand        run
		code        int
		regressions []string
		verdict     stat.Verdict
		before      int // runs of the history before the candidate: the first candidate is in the second's
	}{
		{"at the segment's level", same, ExitOK, []string{}, stat.NoChange, 20},
		{"10% below it", slower, ExitRegression, []string{"throughput"}, stat.Worse, 21},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.compare(t, "--json", "--baseline", "history", "--max-regression", "throughput=5%,p99=10%", tc.cand.id.String())
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%v", res.code, tc.code, res)
			}
			rep := res.jsonReport(t)
			if !slices.Equal(rep.Regressions, tc.regressions) || rep.BaselineSelection != "history" || rep.HistoryRuns != tc.before {
				t.Errorf("regressions %v, selection %s, history runs %d", rep.Regressions, rep.BaselineSelection, rep.HistoryRuns)
			}
			f := mustFigure(t, rep, "throughput")
			wantSeg := tc.before - 12
			if f.Stat == nil || f.Stat.Verdict != tc.verdict || f.Segment == nil || f.Segment.Runs != wantSeg ||
				f.Segment.FirstRunID != runs[12].id.String() || f.Stat.BaselineSamples != wantSeg || f.Stat.CandidateSamples != 1 {
				t.Errorf("throughput = %+v, stat %+v", f, f.Stat)
			}
			if p := mustFigure(t, rep, "p99"); p.Stat == nil || p.Stat.Verdict != stat.NoChange || p.Segment.Runs != tc.before {
				t.Errorf("p99 = %+v", p.Stat)
			}
		})
	}
	res := e.compare(t, "--baseline", "history", "--max-regression", "throughput=5%", slower.id.String())
	for _, want := range []string{
		"baseline: the history of 21 comparable runs before the candidate",
		"against the current segment of each figure's history",
		"REGRESSION: throughput (-",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res.stdout)
		}
	}
	// The first run has no history.
	if res := e.compare(t, "--baseline", "history", runs[0].id.String()); res.code != ExitNoBaseline {
		t.Errorf("first run: %v", res)
	}
}

// history runs `producer history` with the env's configuration.
func (e *env) history(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := RunHistory(ctx, append([]string{"--config", e.cfgFile}, args...), &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}
