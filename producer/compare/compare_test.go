package compare

// End-to-end tests of `producer compare` on runs the real sink wrote (see helpers_test.go). Hasura is stood in
// for by internal/hasurastub, which answers from the test database with deploy/hasura's permissions.

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/schema"
)

// pair writes a baseline and a candidate MQTT run with known figures:
//
//	figure      baseline  candidate  change
//	throughput  1000      950        5% worse
//	p50         1.2       1.3        8.33% worse
//	p90         2.5       2.5        same
//	p99         6         7.5        25% worse
//	p99.9       12        11         8.33% better
//	errors      3         5          66.67% worse
//	loss        2         1          50% better
//	dup         0         0          same
//	reorder     1         4          300% worse
func pair(t *testing.T, e *env) (base, cand run) {
	t.Helper()
	base = mqttRun(t0, mqttFigures(1000, 1.2, 2.5, 6, 12, 3, 2, 0, 1), 990, 1000, 1010)
	cand = mqttRun(t0.Add(time.Hour), mqttFigures(950, 1.3, 2.5, 7.5, 11, 5, 1, 0, 4), 940, 950, 960)
	e.write(t, base, cand)
	return base, cand
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestDeltas(t *testing.T) {
	e := newEnv(t)
	base, cand := pair(t, e)
	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	want := []struct {
		name            string
		better          string
		base, cand, pct float64
		verdict         string
	}{
		{"throughput", "higher", 1000, 950, -5, verdictWorse},
		{"p50", "lower", 1.2, 1.3, 100.0 / 12, verdictWorse},
		{"p90", "lower", 2.5, 2.5, 0, verdictSame},
		{"p99", "lower", 6, 7.5, 25, verdictWorse},
		{"p99.9", "lower", 12, 11, -100.0 / 12, verdictBetter},
		{"errors", "lower", 3, 5, 200.0 / 3, verdictWorse},
		{"loss", "lower", 2, 1, -50, verdictBetter},
		{"dup", "lower", 0, 0, 0, verdictSame},
		{"reorder", "lower", 1, 4, 300, verdictWorse},
	}
	if len(rep.Figures) != len(want) {
		t.Fatalf("figures: got %d, want %d (no pgbench figures for MQTT runs)\n%s", len(rep.Figures), len(want), res.stdout)
	}
	for i, w := range want {
		f := rep.Figures[i]
		if f.Name != w.name || f.Better != w.better || *f.Baseline != w.base || *f.Candidate != w.cand ||
			!near(*f.Delta, w.cand-w.base) || !near(*f.DeltaPct, w.pct) || f.Verdict != w.verdict || f.Regression {
			t.Errorf("figure %d: got %+v (delta %v, pct %v)\nwant %+v", i, f, *f.Delta, *f.DeltaPct, w)
		}
		worse := w.pct
		if w.better == "higher" {
			worse = -w.pct
		}
		if !near(*f.WorsePct, worse) {
			t.Errorf("%s worse_pct = %v, want %v", f.Name, *f.WorsePct, worse)
		}
	}
	if rep.Baseline.RunID != base.id.String() || rep.Candidate.RunID != cand.id.String() || rep.BaselineSelection != "explicit" {
		t.Errorf("runs: %+v / %+v / %s", rep.Baseline, rep.Candidate, rep.BaselineSelection)
	}
	// The per-second series comes from the samples the sink wrote (measurement phase only, warm-up excluded).
	s := rep.Candidate.Series
	if s.Intervals != 3 || !near(*s.ThroughputMean, 950) || !near(*s.ThroughputStddev, 10) || *s.ThroughputMin != 940 || s.Seconds != 3 {
		t.Errorf("candidate series = %+v", s)
	}
	if len(rep.Regressions) != 0 || rep.ExitCode != 0 {
		t.Errorf("regressions %v, exit %d without thresholds", rep.Regressions, rep.ExitCode)
	}
}

func TestTableOutput(t *testing.T) {
	e := newEnv(t)
	base, cand := pair(t, e)
	res := e.compare(t, base.id.String(), cand.id.String(), "--max-regression", "5%,errors=100%")
	if res.code != ExitRegression {
		t.Fatalf("%v", res)
	}
	// p50 and p99 are 8.33% and 25% worse in the run figures, but the runs have 3 per-second samples each: the
	// statistics cannot tell (inconclusive, 30 samples needed), so only the count reorder fails the gate.
	for _, want := range []string{
		"baseline   " + base.id.String() + `  mqtt "compare-test" on pi-7, started 2026-03-01T12:00:00Z, ok, 3.0 s measured`,
		"FIGURE      BETTER  BASELINE      CANDIDATE    DELTA        DELTA%    MAX      VERDICT",
		"throughput  higher  1000.0 ops/s  950.0 ops/s  -50.0 ops/s  -5.00%    5.00%    worse",
		"p50         lower   1.200 ms      1.300 ms     +0.100 ms    +8.33%    5.00%    worse",
		"p90         lower   2.500 ms      2.500 ms     0.000 ms     0.00%     5.00%    same",
		"p99         lower   6.000 ms      7.500 ms     +1.500 ms    +25.00%   5.00%    worse",
		"p99.9       lower   12.000 ms     11.000 ms    -1.000 ms    -8.33%    5.00%    better",
		"errors      lower   3             5            +2           +66.67%   100.00%  worse",
		"dup         lower   0 msgs        0 msgs       0 msgs       0.00%     5.00%    same",
		"per-second throughput (measurement phase): baseline 1000.0 ± 10.0 ops/s over 3 intervals (3 s, cv 1.0%)",
		"steady-state per-second samples (warm-up and a final partial second excluded), 95% confidence, circular block bootstrap:",
		"FIGURE      STATISTIC                   SAMPLES  BASELINE      CANDIDATE    CHANGE  95% CI  EFFECT  MIN EFFECT  VERDICT",
		"throughput  median of per-second ops/s  3 / 3    1000.0 ops/s  950.0 ops/s  -5.00%  -       -5.00   5.00%       inconclusive (need 30 samples per run)",
		"p99         median of per-second p99    3 / 3    5.000 ms      5.000 ms     +0.00%  -       +0.00   5.00%       inconclusive (need 30 samples per run)",
		"REGRESSION: reorder (300.00% worse, max 5.00%)",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res.stdout)
		}
	}
}

func TestThresholds(t *testing.T) {
	e := newEnv(t)
	base, cand := pair(t, e)
	cases := []struct {
		name        string
		flags       []string
		code        int
		regressions []string
	}{
		{"none", nil, ExitOK, nil},
		// The runs have 3 per-second samples: throughput, p50 and p99 (5%, 8.33%, 25% worse in the run figures)
		// are inconclusive and never fail the gate; the counts are gated by their totals.
		{"overall 5%: the counts fail, the short runs' rates and latencies are inconclusive", []string{"--max-regression", "5%"}, ExitRegression, []string{"errors", "reorder"}},
		{"overall 300%", []string{"--max-regression", "300%"}, ExitOK, nil},
		{"overall 299%", []string{"--max-regression", "299"}, ExitRegression, []string{"reorder"}},
		{"per figure overrides overall", []string{"--max-regression", "400%,reorder=200%"}, ExitRegression, []string{"reorder"}},
		{"p99 25% worse over 3 seconds is inconclusive", []string{"--max-regression", "p99=20%"}, ExitOK, nil},
		{"per figure only", []string{"--max-regression", "errors=66%"}, ExitRegression, []string{"errors"}},
		{"per figure at the limit", []string{"--max-regression", "reorder=300%"}, ExitOK, nil},
		{"better and same figures never trip", []string{"--max-regression", "p99.9=0%,dup=0%,p90=0,loss=0"}, ExitOK, nil},
		{"repeated flag merges", []string{"--max-regression", "400%", "--max-regression", "errors=60%"}, ExitRegression, []string{"errors"}},
		{"aliases", []string{"--max-regression", "lat_p99_ms=0%,out_of_order=299%"}, ExitRegression, []string{"reorder"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.compare(t, append([]string{"--json", base.id.String(), cand.id.String()}, tc.flags...)...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want %d\n%v", res.code, tc.code, res)
			}
			rep := res.jsonReport(t)
			if !slices.Equal(rep.Regressions, tc.regressions) && !(len(rep.Regressions) == 0 && len(tc.regressions) == 0) {
				t.Errorf("regressions %v, want %v", rep.Regressions, tc.regressions)
			}
			if rep.ExitCode != tc.code {
				t.Errorf("exit_code in JSON %d, want %d", rep.ExitCode, tc.code)
			}
		})
	}
	for _, bad := range []string{"p77=5%", "-5%", "abc", "p99=", "p99=x%"} {
		t.Run("usage "+bad, func(t *testing.T) {
			res := e.compare(t, base.id.String(), cand.id.String(), "--max-regression", bad)
			if res.code != ExitUsage || !strings.Contains(res.stderr, "max-regression") {
				t.Fatalf("%v", res)
			}
		})
	}
}

// A failed candidate without a summary lacks every figure; with thresholds that is a regression, without it is
// only reported.
func TestFailedCandidateWithoutSummary(t *testing.T) {
	e := newEnv(t)
	base := mqttRun(t0, mqttFigures(1000, 1.2, 2.5, 6, 12, 3, 2, 0, 1), 1000)
	cand := mqttRun(t0.Add(time.Hour), schema.Figures{}, 10)
	cand.status, cand.summary, cand.errText = schema.StatusFailed, nil, "broker unreachable"
	e.write(t, base, cand)

	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	if len(rep.Figures) != 9 || rep.Figures[0].Verdict != verdictMissing || rep.Figures[0].Candidate != nil {
		t.Errorf("figures = %+v", rep.Figures)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool {
		return strings.Contains(n, "candidate run's status is failed: broker unreachable (it has no summary)")
	}) {
		t.Errorf("notes = %q", rep.Notes)
	}
	res = e.compare(t, "--json", "--max-regression", "p99=50%", base.id.String(), cand.id.String())
	if res.code != ExitRegression || !slices.Equal(res.jsonReport(t).Regressions, []string{"p99"}) {
		t.Fatalf("%v", res)
	}
}

func TestPgbenchFigures(t *testing.T) {
	e := newEnv(t)
	pg := func(started time.Time, tps float64, failed int64) run {
		r := mqttRun(started, schema.Figures{OpsRate: tps, Errors: failed,
			Latency: &schema.Latency{MinMs: 1, MeanMs: 2, P50Ms: 2, P90Ms: 3, P95Ms: 4, P99Ms: 5, P999Ms: 9, MaxMs: 10},
			Pgbench: &schema.PgbenchFigures{TPS: tps, Failed: failed}}, tps)
		r.kind, r.params = schema.KindPgbench, `{"clients":8,"duration":"60s"}`
		return r
	}
	base, cand := pg(t0, 2000, 0), pg(t0.Add(time.Minute), 2100, 4)
	e.write(t, base, cand)
	res := e.compare(t, "--json", "--max-regression", "10%", "--baseline", "last", cand.id.String())
	if res.code != ExitRegression {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	var names []string
	for _, f := range rep.Figures {
		names = append(names, f.Name)
	}
	if got := strings.Join(names, ","); got != "throughput,p50,p90,p99,p99.9,errors,tps,failed" {
		t.Errorf("figures = %s", got)
	}
	tps := rep.Figures[6]
	if tps.Verdict != verdictBetter || !near(*tps.DeltaPct, 5) {
		t.Errorf("tps = %+v", tps)
	}
	// failed goes from 0 to 4: infinitely worse, so it trips any threshold.
	if !slices.Equal(rep.Regressions, []string{"errors", "failed"}) || rep.Figures[7].DeltaPct != nil {
		t.Errorf("regressions = %v, failed = %+v", rep.Regressions, rep.Figures[7])
	}
	if rep.Baseline.RunID != base.id.String() {
		t.Errorf("baseline %s, want %s", rep.Baseline.RunID, base.id)
	}
}

func TestBaselineLast(t *testing.T) {
	e := newEnv(t)
	figs := mqttFigures(1000, 1.2, 2.5, 6, 12, 3, 2, 0, 1)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	cand := mqttRun(at(0), figs, 1000)
	oldest := mqttRun(at(-3*time.Hour), figs, 1000)
	sameTags := mqttRun(at(-2*time.Hour), figs, 1000)
	sameTags.params = `{"rate":1000, "publishers":10, "qos":1}` // equal as JSON, though written differently
	otherTags := mqttRun(at(-90*time.Minute), figs, 1000)
	otherTags.tags = map[string]string{"site": "lab2", "fw": "v2"}
	otherHost := mqttRun(at(-time.Hour), figs, 1000)
	otherHost.host = "pi-8"
	otherParams := mqttRun(at(-time.Hour), figs, 1000)
	otherParams.params = `{"qos":1,"publishers":10,"rate":2000}`
	otherKind := mqttRun(at(-time.Hour), figs, 1000)
	otherKind.kind = schema.KindPgbench
	failed := mqttRun(at(-50*time.Minute), figs, 1000)
	failed.status = schema.StatusFailed
	aborted := mqttRun(at(-45*time.Minute), figs, 1000)
	aborted.status = schema.StatusAborted
	running := mqttRun(at(-30*time.Minute), figs, 1000)
	running.status = ""
	later := mqttRun(at(time.Hour), figs, 1000)
	e.write(t, cand, oldest, sameTags, otherTags, otherHost, otherParams, otherKind, failed, aborted, running, later)

	cases := []struct {
		name  string
		flags []string
		want  run
		note  string
	}{
		{"tags ignored", nil, otherTags, ""},
		{"same tags", []string{"--same-tags"}, sameTags, ""},
		{"same site tag", []string{"--same-tags=site"}, sameTags, ""},
		{"same fw tag", []string{"--same-tags=fw"}, otherTags, ""},
		{"a tag the run lacks", []string{"--same-tags=rack"}, otherTags, `has no tag "rack"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.compare(t, append([]string{"--json", "--baseline", "last", cand.id.String()}, tc.flags...)...)
			if res.code != ExitOK {
				t.Fatalf("%v", res)
			}
			rep := res.jsonReport(t)
			if rep.Baseline.RunID != tc.want.id.String() || rep.BaselineSelection != "last" {
				t.Fatalf("baseline %s, want %s", rep.Baseline.RunID, tc.want.id)
			}
			if tc.note != "" && !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, tc.note) }) {
				t.Errorf("notes %q lack %q", rep.Notes, tc.note)
			}
		})
	}
	// The oldest run has no earlier comparable run.
	res := e.compare(t, "--baseline", "last", oldest.id.String())
	if res.code != ExitNoBaseline || !strings.Contains(res.stderr, `no comparable baseline for run `+oldest.id.String()+`: no earlier mqtt run on pi-7 with the same parameters {"qos":1,"rate":1000,"publishers":10} finished ok`) {
		t.Fatalf("%v", res)
	}
}

func TestNotFoundAndNoBaseline(t *testing.T) {
	e := newEnv(t)
	base, cand := pair(t, e)
	lonely := mqttRun(t0, mqttFigures(1, 1, 1, 1, 1, 0, 0, 0, 0), 1)
	lonely.params = `{"qos":2}`
	e.write(t, lonely)
	missing := uuid.Must(uuid.NewV7()).String()

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"candidate", []string{base.id.String(), missing}, ExitNotFound, "run not found: candidate run " + missing + " does not exist"},
		{"baseline", []string{missing, cand.id.String()}, ExitNotFound, "run not found: baseline run " + missing + " does not exist"},
		{"explicit baseline flag", []string{"--baseline", missing, cand.id.String()}, ExitNotFound, "baseline run " + missing},
		{"last of a missing run", []string{"--baseline", "last", missing}, ExitNotFound, "candidate run " + missing},
		{"no baseline", []string{"--baseline", "last", lonely.id.String()}, ExitNoBaseline,
			`no earlier mqtt run on pi-7 with the same parameters {"qos":2} finished ok; run the benchmark again`},
		{"no baseline with tags", []string{"--baseline", "last", "--same-tags", lonely.id.String()}, ExitNoBaseline,
			`and tags {"fw":"v2","site":"lab"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.compare(t, tc.args...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.msg) || res.stdout != "" {
				t.Fatalf("want exit %d and %q\n%v", tc.code, tc.msg, res)
			}
		})
	}
	t.Run("json error document", func(t *testing.T) {
		res := e.compare(t, "--json", base.id.String(), missing)
		if res.code != ExitNotFound || !strings.Contains(res.stdout, `"code": "run_not_found"`) || !strings.Contains(res.stdout, `"exit_code": 5`) {
			t.Fatalf("%v", res)
		}
	})
}

func TestEndpointProblems(t *testing.T) {
	id1, id2 := uuid.NewString(), uuid.NewString()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer hang.Close()
	notFound := httptest.NewServer(http.NotFoundHandler())
	defer notFound.Close()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<html>welcome</html>")) }))
	defer html.Close()
	forbidden := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusForbidden) }))
	defer forbidden.Close()
	e := newEnv(t)
	down := e.stub.URL
	e.stub.Close()

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"connection refused", []string{"--url", down}, ExitUnreachable, "connection refused"},
		{"timeout", []string{"--url", hang.URL + "/v1/graphql", "--timeout", "200ms"}, ExitUnreachable, "no answer from " + hang.URL + "/v1/graphql within 200ms"},
		{"wrong path", []string{"--url", notFound.URL}, ExitUnreachable, "answered HTTP 404: is graphql.url (or --url) the GraphQL endpoint"},
		{"not GraphQL", []string{"--url", html.URL}, ExitUnreachable, "did not answer with GraphQL JSON"},
		{"forbidden", []string{"--url", forbidden.URL}, ExitRejected, "answered HTTP 403 no: the endpoint wants credentials"},
		{"no url", []string{"--config", "/dev/null"}, ExitUsage, "no GraphQL endpoint: set graphql.url"},
		{"bad url", []string{"--url", "server:8080"}, ExitUsage, "is not an http(s) URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := runCmd(t, append(tc.args, id1, id2)...)
			if res.code != tc.code || !strings.Contains(res.stderr, tc.msg) {
				t.Fatalf("want exit %d and %q\n%v", tc.code, tc.msg, res)
			}
		})
	}
}

func TestPermissionDenied(t *testing.T) {
	cases := []struct {
		name string
		edit func(md *hasurastub.Metadata)
		msg  string
	}{
		{"revoked column", func(md *hasurastub.Metadata) { md.RevokeColumn("anonymous", "runs", "lat_p999_ms") },
			"field 'lat_p999_ms' not found in type: 'runs' [validation-failed at $.selectionSet.runs_by_pk.selectionSet.lat_p999_ms]"},
		{"samples not selectable", func(md *hasurastub.Metadata) { delete(md.Tables["samples"].Select, "anonymous") },
			"field 'samples' not found in type: 'runs'"},
		{"runs not selectable", func(md *hasurastub.Metadata) { delete(md.Tables["runs"].Select, "anonymous") },
			"field 'runs_by_pk' not found in type: 'query_root'"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.edit)
			res := e.compare(t, "--baseline", "last", uuid.NewString())
			if res.code != ExitRejected || !strings.Contains(res.stderr, tc.msg) ||
				!strings.Contains(res.stderr, "the anonymous role must be allowed to select") {
				t.Fatalf("%v", res)
			}
		})
	}
	// Revoking a column only the baseline search uses shows up there.
	e := newEnv(t, func(md *hasurastub.Metadata) { md.RevokeColumn("anonymous", "runs", "parameters") })
	res := e.compare(t, "--baseline", "last", uuid.NewString())
	if res.code != ExitRejected || !strings.Contains(res.stderr, "field 'parameters' not found in type: 'runs'") {
		t.Fatalf("%v", res)
	}
}

func TestAfterRunWaitsForTheRun(t *testing.T) {
	e := newEnv(t)
	base := mqttRun(t0, mqttFigures(1000, 1.2, 2.5, 6, 12, 3, 2, 0, 1), 1000)
	e.write(t, base)
	// reorder is a count, gated by its total (one-second runs give the statistics nothing to judge).
	cand := mqttRun(t0.Add(time.Hour), mqttFigures(1000, 1.2, 2.5, 9, 12, 3, 2, 0, 4), 1000)
	recs := cand.records()

	type outcome struct {
		code int
		err  error
	}
	done := make(chan outcome, 1)
	var out bytes.Buffer
	opts := Options{MaxRegression: Thresholds{"reorder": 0.10}, Wait: 30 * time.Second, PollInterval: 20 * time.Millisecond}
	go func() {
		code, err := AfterRun(context.Background(), e.cfg, cand.id, "last", opts, &out)
		done <- outcome{code, err}
	}()
	// Not visible yet, then running, then finished: AfterRun must wait through all three.
	time.Sleep(150 * time.Millisecond)
	e.produce(t, recs[:len(recs)-1]...)
	cand.status = ""
	e.waitWritten(t, cand)
	select {
	case o := <-done:
		t.Fatalf("AfterRun returned before the run finished: %d %v", o.code, o.err)
	case <-time.After(150 * time.Millisecond):
	}
	e.produce(t, recs[len(recs)-1])
	o := <-done
	if o.code != ExitRegression || o.err != nil {
		t.Fatalf("AfterRun = %d, %v\n%s", o.code, o.err, out.String())
	}
	if !strings.Contains(out.String(), "REGRESSION: reorder (300.00% worse, max 10.00%)") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestAfterRunTimesOut(t *testing.T) {
	e := newEnv(t)
	r := mqttRun(t0, schema.Figures{}, 1000)
	r.status = ""
	e.write(t, r)
	var out bytes.Buffer
	start := time.Now()
	code, err := AfterRun(context.Background(), e.cfg, r.id, "", Options{Wait: 300 * time.Millisecond, PollInterval: 20 * time.Millisecond, JSON: true}, &out)
	if code != ExitWaitTimeout || !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "is still running after 300ms") {
		t.Fatalf("AfterRun = %d, %v", code, err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if !strings.Contains(out.String(), `"code": "wait_timeout"`) {
		t.Errorf("--json error document missing: %s", out.String())
	}
	// A run that never appears times out the same way, saying so.
	_, err = AfterRun(context.Background(), e.cfg, uuid.New(), "last", Options{Wait: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond}, &out)
	if !errors.Is(err, ErrWaitTimeout) || !strings.Contains(err.Error(), "not visible over GraphQL yet") {
		t.Fatalf("err = %v", err)
	}
	// An endpoint that stays unreachable reports that, not a timeout.
	e.stub.Close()
	code, err = AfterRun(context.Background(), e.cfg, r.id, "last", Options{Wait: 200 * time.Millisecond, PollInterval: 20 * time.Millisecond}, &out)
	if code != ExitUnreachable || !errors.Is(err, ErrUnreachable) {
		t.Fatalf("AfterRun = %d, %v", code, err)
	}
}

func TestWaitFlag(t *testing.T) {
	e := newEnv(t)
	base, cand := pair(t, e)
	res := e.compare(t, "--wait", "10s", "--poll", "20ms", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	r := mqttRun(t0.Add(2*time.Hour), schema.Figures{}, 1000)
	r.status = ""
	e.write(t, r)
	res = e.compare(t, "--wait", "200ms", "--poll", "20ms", "--baseline", "last", r.id.String())
	if res.code != ExitWaitTimeout || !strings.Contains(res.stderr, "timed out waiting for the run to finish") {
		t.Fatalf("%v", res)
	}
}

func TestUsage(t *testing.T) {
	res := runCmd(t, "--help")
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	for _, want := range []string{"producer compare [flags] RUN_A RUN_B", "--baseline last|history|RUN_ID RUN_ID", "Exit status:", "-confidence", "--baseline history gates against the run's history",
		"  1    regression", "  3    GraphQL endpoint unreachable", "  4    the endpoint refused the query: permission denied",
		"  5    run not found", "  6    no comparable baseline", "  7    timed out waiting", "-max-regression 5%", "-same-tags"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	id := uuid.NewString()
	for _, args := range [][]string{
		{},
		{id},
		{id, id, id},
		{"--baseline", "last"},
		{"--baseline", "last", id, id},
		{"--baseline", "yesterday", id},
		{"not-a-uuid", id},
		{id, "not-a-uuid"},
		{"--same-tags", id, id},
		{"--nope", id, id},
		{"--wait", "-1s", "--baseline", "last", id},
		{"--confidence", "1", id, id},
	} {
		res := runCmd(t, args...)
		if res.code != ExitUsage || !strings.Contains(res.stderr, "producer compare") {
			t.Errorf("%q: %v", args, res)
		}
	}
	// Flags may follow the run ids.
	res = runCmd(t, id, id, "--url", "server:1")
	if res.code != ExitUsage || !strings.Contains(res.stderr, `"server:1" is not an http(s) URL`) {
		t.Errorf("%v", res)
	}
}
