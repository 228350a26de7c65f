package compare

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

func TestParseThresholds(t *testing.T) {
	cases := []struct {
		spec string
		want Thresholds
		err  string
	}{
		{"5%", Thresholds{"": 0.05}, ""},
		{"5", Thresholds{"": 0.05}, ""},
		{"0.5%", Thresholds{"": 0.005}, ""},
		{"p99=10%,throughput=3%", Thresholds{"p99": 0.10, "throughput": 0.03}, ""},
		{"2%, p99.9=1%", Thresholds{"": 0.02, "p99.9": 0.01}, ""},
		{"p999=1%,lat_p50_ms=2%,lost=0,duplicated=1,out_of_order=2,pg_tps=3,pg_failed=4,ops_rate=5", Thresholds{
			"p99.9": 0.01, "p50": 0.02, "loss": 0, "dup": 0.01, "reorder": 0.02, "tps": 0.03, "failed": 0.04, "throughput": 0.05}, ""},
		{"P99=10%", Thresholds{"p99": 0.10}, ""},
		{"p77=5%", nil, `unknown figure "p77"`},
		{"-5%", nil, "want a percentage"},
		{"p99=abc", nil, "want a percentage"},
		{"NaN", nil, "want a percentage"},
		{"Inf%", nil, "want a percentage"},
	}
	for _, tc := range cases {
		got, err := ParseThresholds(tc.spec)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: err %v, want %q", tc.spec, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.spec, err)
		case tc.err == "" && !reflect.DeepEqual(got, tc.want):
			t.Errorf("%q = %v, want %v", tc.spec, got, tc.want)
		}
	}
	var th Thresholds // the zero value works as a flag.Value
	if err := th.Set("5%"); err != nil {
		t.Fatal(err)
	}
	if err := th.Set("p99=10%"); err != nil {
		t.Fatal(err)
	}
	if th.String() != "5%,p99=10%" {
		t.Errorf("String() = %q", th.String())
	}
	if again, err := ParseThresholds(th.String()); err != nil || !reflect.DeepEqual(again, th) {
		t.Errorf("round trip: %v, %v", again, err)
	}
}

func TestCompareFigure(t *testing.T) {
	v := func(x float64) *float64 { return &x }
	latency := &figures[3] // p99: lower is better
	rate := &figures[0]    // throughput: higher is better
	gate := Thresholds{"": 0.10}
	cases := []struct {
		name       string
		f          *figure
		base, cand *float64
		t          Thresholds
		verdict    string
		worse      float64
		regression bool
	}{
		{"latency up", latency, v(10), v(12), gate, verdictWorse, 0.2, true},
		{"latency up at the limit", latency, v(10), v(11), gate, verdictWorse, 0.1, false},
		{"latency down", latency, v(10), v(5), gate, verdictBetter, -0.5, false},
		{"throughput down", rate, v(1000), v(850), gate, verdictWorse, 0.15, true},
		{"throughput up", rate, v(1000), v(2000), gate, verdictBetter, -1, false},
		{"same", rate, v(1000), v(1000), Thresholds{"": 0}, verdictSame, 0, false},
		{"up from zero", latency, v(0), v(1), Thresholds{"": 1e6}, verdictWorse, math.Inf(1), true},
		{"throughput up from zero", rate, v(0), v(1), gate, verdictBetter, math.Inf(-1), false},
		{"zero stays zero", latency, v(0), v(0), Thresholds{"": 0}, verdictSame, 0, false},
		{"missing in the candidate, gated", latency, v(1), nil, gate, verdictMissing, 0, true},
		{"missing in the candidate, not gated", latency, v(1), nil, nil, verdictMissing, 0, false},
		{"per-figure threshold wins", latency, v(10), v(12), Thresholds{"": 0.5, "p99": 0.1}, verdictWorse, 0.2, true},
		{"other figure's threshold does not apply", latency, v(10), v(12), Thresholds{"p50": 0.1}, verdictWorse, 0.2, false},
		{"new in the candidate", latency, nil, v(1), gate, verdictNew, 0, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := compareFigure(tc.f, tc.base, tc.cand, tc.t)
			if !ok {
				t.Fatal("not compared")
			}
			if r.Verdict != tc.verdict || r.Regression != tc.regression || (r.worse != tc.worse && math.Abs(r.worse-tc.worse) > 1e-12) {
				t.Fatalf("got verdict %s worse %v regression %v", r.Verdict, r.worse, r.Regression)
			}
			if tc.base != nil && *tc.base == 0 && tc.cand != nil && *tc.cand != 0 && (r.DeltaPct != nil || r.WorsePct != nil) {
				t.Errorf("relative delta from 0 should be null in JSON, got %v %v", *r.DeltaPct, *r.WorsePct)
			}
		})
	}
	if _, ok := compareFigure(latency, nil, nil, gate); ok {
		t.Error("a figure neither run has was compared")
	}
}

func TestTagMatchFlag(t *testing.T) {
	cases := []struct {
		in   string
		want TagMatch
		err  bool
	}{
		{"true", TagMatch{All: true}, false},
		{"false", TagMatch{}, false},
		{"site", TagMatch{Keys: []string{"site"}}, false},
		{"site, rack", TagMatch{Keys: []string{"site", "rack"}}, false},
		{",", TagMatch{}, true},
	}
	for _, tc := range cases {
		var m TagMatch
		err := m.Set(tc.in)
		if (err != nil) != tc.err || (!tc.err && !reflect.DeepEqual(m, tc.want)) {
			t.Errorf("Set(%q) = %+v, %v", tc.in, m, err)
		}
	}
}

func TestExitCode(t *testing.T) {
	for err, want := range map[error]int{
		nil:                           ExitOK,
		fmt.Errorf("x: %w", ErrUsage): ExitUsage,
		fmt.Errorf("fetch: %w", fmt.Errorf("%w: refused", ErrUnreachable)): ExitUnreachable,
		fmt.Errorf("x: %w", ErrRejected):                                   ExitRejected,
		fmt.Errorf("x: %w", ErrRunNotFound):                                ExitNotFound,
		fmt.Errorf("x: %w", ErrNoBaseline):                                 ExitNoBaseline,
		fmt.Errorf("x: %w", ErrWaitTimeout):                                ExitWaitTimeout,
		fmt.Errorf("x: %w", context.Canceled):                              ExitInterrupted,
		errors.New("something else"):                                       ExitRejected,
	} {
		if got := ExitCode(err); got != want {
			t.Errorf("ExitCode(%v) = %d, want %d", err, got, want)
		}
	}
}

// The contract check must catch what it is there to catch.
func TestContractCheckerFindsViolations(t *testing.T) {
	md, err := hasurastub.LoadMetadata(metadataDir)
	if err != nil {
		t.Fatal(err)
	}
	md.RevokeColumn("anonymous", "runs", "error")
	doc := `query ($id: uuid!) {
		runs(where: {kind: {_eq: "mqtt"}, error: {_is_null: $id}}, order_by: {target_secret: asc}) { run_id error samples { seq secret } }
		sink_offsets { topic }
	}`
	qd, err := parser.ParseQuery(&ast.Source{Input: doc})
	if err != nil {
		t.Fatal(err)
	}
	ch := &contractChecker{md: md, role: "anonymous"}
	for _, sel := range qd.Operations[0].SelectionSet {
		ch.root(sel.(*ast.Field))
	}
	want := []string{
		`literal value "mqtt"`,
		"runs where error: column not selectable",
		"runs order_by target_secret",
		"runs.error: column not selectable",
		"samples.secret: column not selectable",
		"table sink_offsets is not tracked",
	}
	got := strings.Join(ch.problems, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("problems lack %q:\n%s", w, got)
		}
	}
}
