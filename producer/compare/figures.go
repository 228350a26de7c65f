package compare

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// better says which direction of change is an improvement for a figure.
type better int

const (
	higherIsBetter better = iota
	lowerIsBetter
)

func (b better) String() string {
	if b == higherIsBetter {
		return "higher"
	}
	return "lower"
}

// figure is one compared number of a run summary.
type figure struct {
	name    string   // threshold key, table label and JSON name
	aliases []string // other names --max-regression accepts
	column  string   // runs column
	unit    string
	better  better
	count   bool // an integer count
	value   func(*runFields) *float64
	// perSecond, when set, is the figure's per-second value in a sample (nil when the sample has none): the
	// figure is then judged and gated with statistics over the runs' steady-state samples (statistics.go)
	// instead of by its run values against the threshold.
	perSecond func(*sampleFields) *float64
	// statistic names what perSecond gives, for the output ("ops/s" for a median of per-second ops/s).
	statistic string
}

func f8(v *float8) *float64 {
	if v == nil {
		return nil
	}
	x := float64(*v)
	return &x
}

func i8(v *bigint) *float64 {
	if v == nil {
		return nil
	}
	x := float64(*v)
	return &x
}

// figures are the compared figures, in table order. Figures neither run has (MQTT figures of pgbench runs and
// the other way round) are left out of the comparison.
var figures = []figure{
	{name: "throughput", aliases: []string{"ops_rate", "rate"}, column: "ops_rate", unit: "ops/s", better: higherIsBetter,
		value: func(r *runFields) *float64 { return f8(r.OpsRate) }, perSecond: sampleRate, statistic: "per-second ops/s"},
	{name: "p50", aliases: []string{"lat_p50_ms"}, column: "lat_p50_ms", unit: "ms", better: lowerIsBetter,
		value: func(r *runFields) *float64 { return f8(r.LatP50) }, perSecond: func(s *sampleFields) *float64 { return f8(s.LatP50) },
		statistic: "per-second p50"},
	{name: "p90", aliases: []string{"lat_p90_ms"}, column: "lat_p90_ms", unit: "ms", better: lowerIsBetter,
		value: func(r *runFields) *float64 { return f8(r.LatP90) }, perSecond: func(s *sampleFields) *float64 { return f8(s.LatP90) },
		statistic: "per-second p90"},
	{name: "p99", aliases: []string{"lat_p99_ms"}, column: "lat_p99_ms", unit: "ms", better: lowerIsBetter,
		value: func(r *runFields) *float64 { return f8(r.LatP99) }, perSecond: func(s *sampleFields) *float64 { return f8(s.LatP99) },
		statistic: "per-second p99"},
	{name: "p99.9", aliases: []string{"p999", "lat_p999_ms"}, column: "lat_p999_ms", unit: "ms", better: lowerIsBetter,
		value: func(r *runFields) *float64 { return f8(r.LatP999) }, perSecond: func(s *sampleFields) *float64 { return f8(s.LatP999) },
		statistic: "per-second p99.9"},
	{name: "errors", column: "errors", unit: "", better: lowerIsBetter, count: true,
		value: func(r *runFields) *float64 { return i8(r.Errors) }},
	{name: "loss", aliases: []string{"lost", "mqtt_lost"}, column: "mqtt_lost", unit: "msgs", better: lowerIsBetter, count: true,
		value: func(r *runFields) *float64 { return i8(r.MQTTLost) }},
	{name: "dup", aliases: []string{"duplicated", "mqtt_duplicated"}, column: "mqtt_duplicated", unit: "msgs", better: lowerIsBetter, count: true,
		value: func(r *runFields) *float64 { return i8(r.MQTTDuplicated) }},
	{name: "reorder", aliases: []string{"out_of_order", "mqtt_out_of_order"}, column: "mqtt_out_of_order", unit: "msgs", better: lowerIsBetter, count: true,
		value: func(r *runFields) *float64 { return i8(r.MQTTOutOfOrder) }},
	{name: "tps", aliases: []string{"pg_tps"}, column: "pg_tps", unit: "tx/s", better: higherIsBetter,
		value: func(r *runFields) *float64 { return f8(r.PgTPS) }, perSecond: sampleRate, statistic: "per-second tx/s"},
	{name: "failed", aliases: []string{"pg_failed"}, column: "pg_failed", unit: "tx", better: lowerIsBetter, count: true,
		value: func(r *runFields) *float64 { return i8(r.PgFailed) }},
}

// sampleRate is a sample's ops_rate: per-second throughput, and for pgbench runs their transactions per second.
func sampleRate(s *sampleFields) *float64 { return f8(&s.OpsRate) }

// figureName returns the canonical name of a figure named name or one of its aliases.
func figureName(name string) (string, bool) {
	name = strings.ToLower(strings.TrimSpace(name))
	for _, f := range figures {
		if f.name == name {
			return f.name, true
		}
		for _, a := range f.aliases {
			if a == name {
				return f.name, true
			}
		}
	}
	return "", false
}

func figureNames() string {
	names := make([]string, len(figures))
	for i, f := range figures {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

// Thresholds are the largest regressions allowed, as fractions (0.05 = 5%), by figure name; the key "" applies to
// every figure without an entry of its own. A figure worse than its threshold by more than the threshold is a
// regression. An empty Thresholds gates nothing.
//
// *Thresholds is a flag.Value: each Set merges a spec such as "5%" or "p99=10%,throughput=3%", so the flag can be
// repeated.
type Thresholds map[string]float64

// ParseThresholds parses a comma-separated spec: "5%" (every figure) and "name=10%" (one figure). Percentages
// may omit the % sign ("5" is 5%). Figure names: throughput, p50, p90, p99, p99.9, errors, loss, dup, reorder,
// tps, failed (and column names such as lat_p99_ms).
func ParseThresholds(spec string) (Thresholds, error) {
	t := Thresholds{}
	if err := t.Set(spec); err != nil {
		return nil, err
	}
	return t, nil
}

// Set merges spec into t.
func (t *Thresholds) Set(spec string) error {
	if *t == nil {
		*t = Thresholds{}
	}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		key, pct, hasKey := strings.Cut(part, "=")
		if !hasKey {
			key, pct = "", part
		} else if name, ok := figureName(key); ok {
			key = name
		} else {
			return fmt.Errorf("unknown figure %q in %q (figures: %s)", key, part, figureNames())
		}
		v, err := parsePercent(pct)
		if err != nil {
			return fmt.Errorf("%q: %w", part, err)
		}
		(*t)[key] = v
	}
	return nil
}

func parsePercent(s string) (float64, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "%")
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("want a percentage such as 5%% (got %q)", s)
	}
	return v / 100, nil
}

// String formats t as a spec Set accepts.
func (t Thresholds) String() string {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		p := strconv.FormatFloat(t[k]*100, 'f', -1, 64) + "%"
		if k != "" {
			p = k + "=" + p
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

// limit returns the threshold for figure name.
func (t Thresholds) limit(name string) (float64, bool) {
	if v, ok := t[name]; ok {
		return v, true
	}
	v, ok := t[""]
	return v, ok
}

// Verdicts of one figure.
const (
	verdictBetter  = "better"
	verdictSame    = "same"
	verdictWorse   = "worse"
	verdictMissing = "missing" // the baseline has it, the candidate does not
	verdictNew     = "new"     // the candidate has it, the baseline does not
)

// figureResult is the comparison of one figure; it is also the JSON form.
type figureResult struct {
	Name             string   `json:"name"`
	Column           string   `json:"column"`
	Unit             string   `json:"unit,omitempty"`
	Better           string   `json:"better"` // "higher" or "lower"
	Baseline         *float64 `json:"baseline"`
	Candidate        *float64 `json:"candidate"`
	Delta            *float64 `json:"delta"`              // candidate − baseline
	DeltaPct         *float64 `json:"delta_pct"`          // delta relative to the baseline, in %; null when the baseline is 0
	WorsePct         *float64 `json:"worse_pct"`          // how much worse, in % (negative: better); null when the baseline is 0
	MaxRegressionPct *float64 `json:"max_regression_pct"` // the threshold, in %; null when not gated
	Verdict          string   `json:"verdict"`            // better, same, worse, missing, new
	Regression       bool     `json:"regression"`         // fails the gate
	// Gate says how the figure is gated: "statistics" (a verdict of worse in Stat: significantly worse at the
	// confidence and by at least max_regression_pct), "threshold" (worse_pct above max_regression_pct), or
	// absent when it is not gated.
	Gate string `json:"gate,omitempty"`
	// Statistic names what Stat compares, e.g. "median of per-second p99"; absent for figures without
	// per-second values (the counts), which are gated by threshold.
	Statistic string `json:"statistic,omitempty"`
	// Stat is the statistical comparison of the runs' steady-state per-second samples (statistics.go); null
	// for the counts, and when it could not be computed (StatError says why).
	Stat      *stat.Comparison `json:"stat"`
	StatError string           `json:"stat_error,omitempty"`
	// Segment is, with --baseline history, the history segment Stat compares the candidate with.
	Segment *segmentInfo `json:"segment,omitempty"`

	fig   *figure
	worse float64 // fraction; ±Inf when the baseline is 0
}

// compareFigure compares one figure of two runs; it returns ok=false when neither run has it.
func compareFigure(f *figure, base, cand *float64, t Thresholds) (figureResult, bool) {
	if base == nil && cand == nil {
		return figureResult{}, false
	}
	r := figureResult{Name: f.name, Column: f.column, Unit: f.unit, Better: f.better.String(), Baseline: base,
		Candidate: cand, fig: f}
	limit, gated := t.limit(f.name)
	if gated {
		pct := limit * 100
		r.MaxRegressionPct = &pct
	}
	switch {
	case cand == nil:
		r.Verdict = verdictMissing
		r.Regression = gated
		return r, true
	case base == nil:
		r.Verdict = verdictNew
		return r, true
	}
	b, c := *base, *cand
	d := c - b
	r.Delta = &d
	worse := d // for lower-is-better figures an increase is worse
	if f.better == higherIsBetter {
		worse = -d
	}
	switch {
	case d == 0:
		r.worse = 0
	case b == 0:
		r.worse = math.Inf(sign(worse))
	default:
		r.worse = worse / math.Abs(b)
	}
	if b != 0 || d == 0 {
		dp := d / math.Abs(b) * 100
		if d == 0 {
			dp = 0
		}
		wp := r.worse * 100
		r.DeltaPct, r.WorsePct = &dp, &wp
	}
	switch {
	case r.worse > 0:
		r.Verdict = verdictWorse
	case r.worse < 0:
		r.Verdict = verdictBetter
	default:
		r.Verdict = verdictSame
	}
	// A tiny tolerance keeps "exactly at the threshold" (5% against --max-regression 5%) from failing on
	// floating-point rounding.
	r.Regression = gated && r.worse > limit+1e-12
	return r, true
}

func sign(x float64) int {
	if x < 0 {
		return -1
	}
	return 1
}

// compareFigures compares every figure either run has.
func compareFigures(base, cand *runFields, t Thresholds) []figureResult {
	var out []figureResult
	for i := range figures {
		f := &figures[i]
		if r, ok := compareFigure(f, f.value(base), f.value(cand), t); ok {
			out = append(out, r)
		}
	}
	return out
}
