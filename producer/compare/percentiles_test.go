package compare

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/schema"
)

// functionShapes are the queries of database functions the package sends (percentiles.go). contractChecker walks
// tables only, so they are checked apart from queryShapes: TestFunctionQueriesAreTracked checks the metadata
// tracks the function, and the stand-in (which serves tracked functions with the return table's permission) runs
// them in TestLatencyFromMergedHistograms.
func functionShapes() []queryShape {
	id := uuid.MustParse("0190a000-0000-7000-8000-000000000001")
	return []queryShape{{"merged percentiles", &percentilesQuery{}, percentilesVars(id)}}
}

func histOf(vs []int64) *hdrhistogram.Histogram {
	h := schema.NewHist()
	for _, v := range vs {
		_ = h.RecordValue(v)
	}
	return h
}

// latencyOf is what a version 2 producer sends for latencies h: the percentiles and h itself.
func latencyOf(h *hdrhistogram.Histogram) *schema.Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	hdr, err := schema.EncodeHist(h)
	if err != nil {
		panic(err)
	}
	l := &schema.Latency{MinMs: ms(h.Min()), P50Ms: ms(h.ValueAtPercentile(50)), P90Ms: ms(h.ValueAtPercentile(90)),
		P95Ms: ms(h.ValueAtPercentile(95)), P99Ms: ms(h.ValueAtPercentile(99)), P999Ms: ms(h.ValueAtPercentile(99.9)),
		MaxMs: ms(h.Max()), HDR: hdr}
	l.MeanMs = min(max(h.Mean()/1000, l.MinMs), l.MaxMs)
	return l
}

// histRun is an MQTT run whose n measurement samples carry histograms of random latencies around baseUs, and
// whose summary says p50 1 ms, p99 5 ms: numbers the histograms do not give, so the test sees which is used.
func histRun(seed uint64, n int, baseUs float64) (run, *hdrhistogram.Histogram) {
	rng := rand.New(rand.NewPCG(seed, 1))
	r := mqttRun(t0.Add(-time.Duration(seed)*time.Hour), mqttFigures(1000, 1, 2, 5, 8, 0, 0, 0, 0))
	whole := schema.NewHist()
	for range n {
		var lats []int64
		for range 300 {
			v := int64(baseUs/2 + rng.ExpFloat64()*baseUs/2)
			if rng.IntN(300) == 0 {
				v *= 30
			}
			lats = append(lats, v)
		}
		r.lats = append(r.lats, lats)
		r.rates = append(r.rates, 1000)
		whole.Merge(histOf(lats))
	}
	return r, whole
}

// The function query is tracked in Hasura's metadata for the anonymous role, with its row type.
func TestFunctionQueriesAreTracked(t *testing.T) {
	file := filepath.Join(metadataDir, "databases", "default", "functions", "functions.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var fns []struct {
		Function struct {
			Schema string `yaml:"schema"`
			Name   string `yaml:"name"`
		} `yaml:"function"`
	}
	if err := yaml.Unmarshal(b, &fns); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	if !slices.ContainsFunc(fns, func(f struct {
		Function struct {
			Schema string `yaml:"schema"`
			Name   string `yaml:"name"`
		} `yaml:"function"`
	}) bool {
		return f.Function.Name == "run_latency_percentiles" && (f.Function.Schema == "public" || f.Function.Schema == "")
	}) {
		t.Fatalf("%s mentions run_latency_percentiles but does not track public.run_latency_percentiles", file)
	}
}

// Where the endpoint does not serve run_latency_percentiles (Hasura with metadata from before the function was
// tracked), compare keeps the run summaries' percentiles and says so.
func TestLatencyFromSummaryWhenPercentilesAreNotServed(t *testing.T) {
	e := newEnv(t, func(md *hasurastub.Metadata) { delete(md.Functions, "run_latency_percentiles") })
	if e.servesPercentiles(t) {
		t.Fatal("the stand-in serves run_latency_percentiles with metadata that does not track it")
	}
	base, _ := histRun(1, 5, 800)
	cand, _ := histRun(2, 5, 900)
	e.write(t, base, cand)
	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	if rep.Baseline.LatencyFrom != latencyFromSummary || rep.Candidate.LatencyFrom != latencyFromSummary {
		t.Errorf("latency from %q, %q; want the summaries", rep.Baseline.LatencyFrom, rep.Candidate.LatencyFrom)
	}
	if p99 := figureNamed(rep, "p99"); p99 == nil || *p99.Baseline != 5 || *p99.Candidate != 5 {
		t.Errorf("p99 = %+v, want the summaries' 5 ms", p99)
	}
	if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "does not serve run_latency_percentiles") }) {
		t.Errorf("notes %q do not say the percentiles are the summaries'", rep.Notes)
	}
}

// Where it does, a run's p50–p99.9 are those of its merged per-second histograms, exactly HdrHistogram's
// percentiles of all its measured latencies; a version 1 baseline keeps its summary, and the notes say so.
func TestLatencyFromMergedHistograms(t *testing.T) {
	e := newEnv(t)
	if !e.servesPercentiles(t) {
		t.Fatal("the stand-in does not serve run_latency_percentiles, which deploy/hasura tracks")
	}
	base, baseWhole := histRun(3, 8, 700)
	cand, candWhole := histRun(4, 8, 1400)
	old := mqttRun(t0.Add(-10*time.Hour), mqttFigures(1000, 1, 2, 5, 8, 0, 0, 0, 0), 1000, 1000)
	e.write(t, base, cand, old)
	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	if rep.Baseline.LatencyFrom != latencyFromHistograms || rep.Candidate.LatencyFrom != latencyFromHistograms {
		t.Errorf("latency from %q, %q; want histograms", rep.Baseline.LatencyFrom, rep.Candidate.LatencyFrom)
	}
	for _, c := range []struct {
		fig string
		q   float64
	}{{"p50", 50}, {"p90", 90}, {"p99", 99}, {"p99.9", 99.9}} {
		f := figureNamed(rep, c.fig)
		wantB, wantC := float64(baseWhole.ValueAtPercentile(c.q))/1000, float64(candWhole.ValueAtPercentile(c.q))/1000
		if f == nil || *f.Baseline != wantB || *f.Candidate != wantC {
			t.Errorf("%s = %+v, want %v and %v (HdrHistogram of every measured latency)", c.fig, f, wantB, wantC)
		}
	}
	res = e.compare(t, "--json", old.id.String(), cand.id.String())
	rep = res.jsonReport(t)
	if rep.Baseline.LatencyFrom != latencyFromSummary || rep.Candidate.LatencyFrom != latencyFromHistograms ||
		!slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "the baseline's come from its summary") }) {
		t.Errorf("version 1 baseline: latency from %q, %q, notes %q", rep.Baseline.LatencyFrom, rep.Candidate.LatencyFrom, rep.Notes)
	}
}

// servesPercentiles asks the stand-in for run_latency_percentiles, as compare does.
func (e *env) servesPercentiles(t *testing.T) bool {
	t.Helper()
	c, err := newClient(e.cfg.GraphQL, "")
	if err != nil {
		t.Fatal(err)
	}
	var q percentilesQuery
	err = c.query(context.Background(), "probe", &q, percentilesVars(uuid.New()))
	if err != nil && !errors.Is(err, ErrRejected) {
		t.Fatal(err)
	}
	return err == nil
}

func figureNamed(rep report, name string) *figureResult {
	for i := range rep.Figures {
		if rep.Figures[i].Name == name {
			return &rep.Figures[i]
		}
	}
	return nil
}
