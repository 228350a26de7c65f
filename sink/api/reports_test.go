package api

// compareRuns and runHistory (issue 17) as the viewer calls them: GraphQL to the Hasura stand-in
// (internal/hasurastub; Hasura ships only as a Docker image) in webhook mode in front of the real sink api, which
// reads the runs back through the same stand-in, as `producer compare` does. The runs are records the real sink
// wrote into PostgreSQL from Kafka (kfake). Each report must be the CLI's --json document for the same arguments.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// statsRun is an MQTT run on pi-7 that finished ok: one warm-up second, then its per-second throughputs and p99s.
type statsRun struct {
	id          uuid.UUID
	started     time.Time
	level       float64
	rates, p99s []float64
}

// noisy is producer/compare's test series: n values around level with AR(1) noise of coefficient of variation cv.
func noisy(seed uint64, n int, level, cv float64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out, prev := make([]float64, n), 0.0
	for i := range out {
		prev = 0.5*prev + math.Sqrt(0.75)*rng.NormFloat64()
		out[i] = level * (1 + cv*prev)
	}
	return out
}

// stepHistory is producer/compare's history test data (stepHistory in history_test.go): 20 nightly runs of 40
// steady-state seconds, median throughput 1000 ops/s for the first 12 and 900 (−10%) from the 13th on, each run's
// level off by 0.5% and each second by 2%; the per-second p99 stays at 5 ms with 5% noise.
func stepHistory() []statsRun {
	rng := rand.New(rand.NewPCG(42, 1))
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var runs []statsRun
	for i := range 20 {
		level := 1000.0
		if i >= 12 {
			level = 900
		}
		level *= 1 + 0.005*rng.NormFloat64()
		runs = append(runs, statsRun{id: uuid.Must(uuid.NewV7()), started: t0.Add(time.Duration(i) * 24 * time.Hour), level: level,
			rates: noisy(uint64(i), 40, level, 0.02), p99s: noisy(uint64(i)+1000, 40, 5, 0.05)})
	}
	return runs
}

// records are the run's records as `producer mqtt` publishes them.
func (r statsRun) records() []schema.Record {
	recs := []schema.Record{{V: 1, Type: schema.TypeRunStarted, RunID: r.id, Time: r.started, Started: &schema.Started{
		Kind: schema.KindMQTT, Name: "stats-test", Tags: map[string]string{"site": "lab"}, Parameters: json.RawMessage(`{"qos":1,"rate":1000}`),
		Target: schema.Target{URL: "tcp://broker:1883", Host: "broker", Port: 1883},
		Host:   schema.Host{Hostname: "pi-7", OS: "Debian 12", Arch: "arm64", CPUCores: 4},
		Tools:  map[string]string{"benchpipe": "test"}, StartedAt: r.started}}}
	rates, p99s := append([]float64{r.rates[0] / 2}, r.rates...), append([]float64{9}, r.p99s...)
	for i, rate := range rates {
		start := r.started.Add(time.Duration(i) * time.Second)
		phase := schema.PhaseMeasure
		if i == 0 {
			phase = schema.PhaseWarmup
		}
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: r.id, Seq: int64(i + 1), Time: start.Add(time.Second),
			Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: phase, Figures: schema.Figures{Ops: int64(rate), OpsRate: rate,
				Latency: &schema.Latency{MinMs: 0.5, MeanMs: 1, P50Ms: 1, P90Ms: 2, P95Ms: 2.5, P99Ms: p99s[i], P999Ms: 12, MaxMs: 20}}}})
	}
	end := r.started.Add(time.Duration(len(rates)) * time.Second)
	sum := schema.Figures{Ops: int64(r.level * 40), OpsRate: r.level,
		Latency: &schema.Latency{MinMs: 0.5, MeanMs: 1, P50Ms: 1, P90Ms: 2.5, P95Ms: 3, P99Ms: 5, P999Ms: 12, MaxMs: 20},
		MQTT:    &schema.MQTTFigures{Sent: int64(r.level * 40), Received: int64(r.level * 40), OfferedRate: 1000}}
	return append(recs, schema.Record{V: 1, Type: schema.TypeRunFinished, RunID: r.id, Seq: int64(len(recs)), Time: end,
		Finished: &schema.Finished{Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: r.started.Add(time.Second), End: end, Figures: sum}}})
}

// statsStack is Kafka, the real sink, the database, sink api and the Hasura stand-in in front of it.
type statsStack struct {
	gql     *hasurastub.Server
	cliConf string // a configuration pointing producer compare/history at the stand-in
	api     *fixture
}

func newStatsStack(t *testing.T, runs []statsRun) *statsStack {
	t.Helper()
	ctx := context.Background()
	const recordsTopic, jobsTopic = "benchpipe.records", "benchpipe.jobs"
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(2, recordsTopic, jobsTopic))
	db := testenv.Deployed(t)
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = db.OwnerURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.FlushInterval = 20 * time.Millisecond
	cfg.Fleet.JobsTopic = jobsTopic
	quiet := slog.New(slog.DiscardHandler)
	if err := ingest.Migrate(ctx, &cfg, quiet); err != nil {
		t.Fatal(err)
	}
	sctx, stopSink := context.WithCancel(ctx)
	sink, err := ingest.New(sctx, &cfg, ingest.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sink.Run(sctx) }()
	t.Cleanup(func() {
		stopSink()
		<-sinkDone
		sink.Close()
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(recordsTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var krs []*kgo.Record
	for _, r := range runs {
		for _, rec := range r.records() {
			b, err := schema.Encode(rec)
			if err != nil {
				t.Fatal(err)
			}
			krs = append(krs, &kgo.Record{Key: rec.Key(), Value: b})
		}
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	waitRows(t, db.OwnerURL, `SELECT count(*) FROM runs WHERE status = 'ok'`, len(runs))
	waitRows(t, db.OwnerURL, `SELECT count(*) FROM samples`, 41*len(runs))

	// sink api and Hasura name each other: sink api's listener first, its handler once Hasura's URL is known.
	var handler atomic.Pointer[http.Handler]
	apiSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(apiSrv.Close)
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	gql := hasurastub.New(t, db.HasuraURL, md, hasurastub.WithAuthHook(apiSrv.URL+"/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": apiSrv.URL, "BENCHPIPE_ACTION_SECRET": testSecret}))
	apiCfg := cfg // the sink above keeps &cfg
	apiCfg.GraphQL.URL = gql.URL
	apiCfg.Sink.DatabaseURL = db.GrafanaURL // sink api's read-only role, as deployed
	f := &fixture{t: t, cfg: &apiCfg, db: db, brokers: brokers, topic: jobsTopic, url: apiSrv.URL, log: &testenv.Buffer{}}
	s, err := New(ctx, &apiCfg, WithLogger(slog.New(slog.NewTextHandler(f.log, nil))), WithOperatorToken(testToken), WithActionSecret(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	h := s.Handler()
	handler.Store(&h)

	conf := filepath.Join(t.TempDir(), "benchpipe.yaml")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("graphql:\n  url: %s\n", gql.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	return &statsStack{gql: gql, cliConf: conf, api: f}
}

// ask sends a GraphQL request to the stand-in (see askGraphQL).
func (st *statsStack) ask(t *testing.T, authorization, query string, vars map[string]any) map[string]any {
	t.Helper()
	return askGraphQL(t, st.gql.URL, authorization, query, vars)
}

// cli runs `producer compare` or `producer history` (run) against the stand-in and returns its exit code and
// stdout decoded (numbers as written).
func (st *statsStack) cli(t *testing.T, run func(context.Context, []string, io.Writer, io.Writer) int, args ...string) (int, any) {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, append([]string{"--config", st.cliConf}, args...), &out, &errOut)
	return code, decodeNumbers(t, out.Bytes())
}

func decodeNumbers(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return v
}

func compareCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return compare.Run(ctx, args, stdout, stderr)
}

func historyCLI(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return compare.RunHistory(ctx, args, stdout, stderr)
}

// errorOf returns the only error of a GraphQL answer that has no data, or "".
func errorOf(out map[string]any) (string, map[string]any) {
	errs, _ := out["errors"].([]any)
	if len(errs) != 1 || out["data"] != nil {
		return "", nil
	}
	e := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	return e["message"].(string), ext
}

func TestStatisticsThroughHasura(t *testing.T) {
	runs := stepHistory()
	st := newStatsStack(t, runs)
	base, cand, last := runs[11], runs[12], runs[len(runs)-1]

	// compareRuns, anonymous: the report is the CLI's --json document, value for value.
	const compareQ = `query C($a: uuid!, $b: uuid!, $m: String, $c: Float) {
  compareRuns(baseline: $a, candidate: $b, max_regression: $m, confidence: $c) { report }
}`
	for _, tc := range []struct {
		vars map[string]any
		args []string
		exit int
	}{
		{map[string]any{"a": base.id, "b": cand.id, "m": "5%"}, []string{"--max-regression", "5%"}, compare.ExitRegression},
		{map[string]any{"a": base.id, "b": cand.id, "m": "p99=10%,throughput=20%", "c": 0.9}, []string{"--max-regression", "p99=10%,throughput=20%", "--confidence", "0.9"}, compare.ExitOK},
		{map[string]any{"a": runs[3].id, "b": runs[4].id}, nil, compare.ExitOK},
	} {
		a, b := tc.vars["a"].(uuid.UUID).String(), tc.vars["b"].(uuid.UUID).String()
		code, want := st.cli(t, compareCLI, append(append([]string{"--json"}, tc.args...), a, b)...)
		if code != tc.exit {
			t.Fatalf("producer compare %v: exit %d, want %d", tc.args, code, tc.exit)
		}
		out := st.ask(t, "", compareQ, tc.vars)
		data, _ := out["data"].(map[string]any)
		got, _ := data["compareRuns"].(map[string]any)
		if got == nil || !reflect.DeepEqual(got["report"], want) {
			t.Fatalf("compareRuns %v:\n%v\nwant the CLI's report\n%v", tc.args, out, want)
		}
		if rep := want.(map[string]any); rep["exit_code"] != json.Number(fmt.Sprint(tc.exit)) {
			t.Errorf("compareRuns %v: exit_code %v, want %d", tc.args, rep["exit_code"], tc.exit)
		}
	}
	// The −10% step fails a 5% gate on throughput only.
	out := st.ask(t, "", compareQ, map[string]any{"a": base.id, "b": cand.id, "m": "5%"})
	if rep := out["data"].(map[string]any)["compareRuns"].(map[string]any)["report"].(map[string]any); !reflect.DeepEqual(rep["regressions"], []any{"throughput"}) {
		t.Errorf("regressions %v, want [throughput]", rep["regressions"])
	}

	// runHistory on the last run: the change point at the 13th run (index 12), as `producer history --json --noise`.
	const historyQ = `query H($r: uuid!, $f: [String!], $a: Float, $s: Float, $l: Int) {
  runHistory(run_id: $r, figures: $f, false_alarm: $a, significance: $s, limit: $l) { report }
}`
	for _, tc := range []struct {
		vars map[string]any
		args []string
		runs int
	}{
		{map[string]any{"r": last.id}, nil, 20},
		{map[string]any{"r": last.id, "f": []string{"throughput", "p50"}, "a": 0.01, "s": 0.01, "l": 15}, []string{"--figures", "throughput,p50", "--false-alarm", "0.01", "--significance", "0.01", "--limit", "15"}, 15},
	} {
		code, want := st.cli(t, historyCLI, append(append([]string{"--json", "--noise"}, tc.args...), last.id.String())...)
		if code != compare.ExitOK {
			t.Fatalf("producer history %v: exit %d", tc.args, code)
		}
		out := st.ask(t, "Bearer "+testToken, historyQ, tc.vars) // the operator may read too
		data, _ := out["data"].(map[string]any)
		got, _ := data["runHistory"].(map[string]any)
		if got == nil || !reflect.DeepEqual(got["report"], want) {
			t.Fatalf("runHistory %v:\n%v\nwant the CLI's report\n%v", tc.args, out, want)
		}
		rep := want.(map[string]any)
		series := rep["series"].([]any)[0].(map[string]any)
		cps := series["change_points"].([]any)
		if len(rep["runs"].([]any)) != tc.runs || series["figure"] != "throughput" || len(cps) != 1 ||
			cps[0].(map[string]any)["run_id"] != cand.id.String() || cps[0].(map[string]any)["index"] != json.Number(fmt.Sprint(tc.runs-8)) {
			t.Errorf("runHistory %v: %d runs, throughput change points %v; want %d runs and one at run %s", tc.args, len(rep["runs"].([]any)), cps, tc.runs, cand.id)
		}
	}

	// Bad input: the CLI's own message (its --json error), as an "invalid" action error with the CLI's exit code.
	unknown := uuid.Must(uuid.NewV7())
	for _, tc := range []struct {
		query string
		vars  map[string]any
		run   func(context.Context, []string, io.Writer, io.Writer) int
		args  []string
		exit  int
	}{
		{compareQ, map[string]any{"a": base.id, "b": unknown}, compareCLI, []string{base.id.String(), unknown.String()}, compare.ExitNotFound},
		{compareQ, map[string]any{"a": base.id, "b": cand.id, "m": "p98=5%"}, compareCLI, []string{"--max-regression", "p98=5%", base.id.String(), cand.id.String()}, compare.ExitUsage},
		{compareQ, map[string]any{"a": base.id, "b": cand.id, "c": 2}, compareCLI, []string{"--confidence", "2", base.id.String(), cand.id.String()}, compare.ExitUsage},
		{compareQ, map[string]any{"a": base.id, "b": cand.id, "c": 0}, compareCLI, []string{"--confidence", "0", base.id.String(), cand.id.String()}, compare.ExitUsage},
		{historyQ, map[string]any{"r": unknown}, historyCLI, []string{"--noise", unknown.String()}, compare.ExitNotFound},
		{historyQ, map[string]any{"r": last.id, "f": []string{"errors"}}, historyCLI, []string{"--noise", "--figures", "errors", last.id.String()}, compare.ExitUsage},
		{historyQ, map[string]any{"r": last.id, "l": 201}, historyCLI, []string{"--noise", "--limit", "201", last.id.String()}, compare.ExitUsage},
	} {
		code, doc := st.cli(t, tc.run, append([]string{"--json"}, tc.args...)...)
		want := doc.(map[string]any)["error"].(map[string]any)["message"].(string)
		msg, ext := errorOf(st.ask(t, "", tc.query, tc.vars))
		if code != tc.exit || msg != want || ext["code"] != codeInvalid || ext["exit_code"] != json.Number(fmt.Sprint(tc.exit)) {
			t.Errorf("%v: error %q %v, want %q (code invalid, exit_code %d; the CLI exited %d)", tc.args, msg, ext, want, tc.exit, code)
		}
	}

	// The mutations stay the operator's: anonymous has no mutation_root at all, and sink api refuses the role even
	// if Hasura's permissions were wrong; no action secret, no answer.
	if msg, _ := errorOf(st.ask(t, "", `mutation { stopJobs(group_id: "`+unknown.String()+`") { jobs { job_id } } }`, nil)); msg != "no mutations exist" {
		t.Errorf("anonymous stopJobs through Hasura: %q, want no mutations exist", msg)
	}
	f := st.api
	for _, name := range []string{"launchJobs", "stopJobs"} {
		if status, out := f.action(testSecret, RoleAnonymous, name, map[string]any{"group_id": unknown}); status != http.StatusForbidden ||
			out["message"] != name+" needs role operator (this request's role: anonymous)" {
			t.Errorf("anonymous %s at /actions: %d %v, want 403", name, status, out)
		}
	}
	if status, out := f.action(testSecret, "viewer", "compareRuns", map[string]any{"baseline": base.id, "candidate": cand.id}); status != http.StatusForbidden ||
		out["message"] != "compareRuns needs role anonymous or operator (this request's role: viewer)" {
		t.Errorf("compareRuns as viewer: %d %v, want 403", status, out)
	}
	for _, secret := range []string{"", testSecret + "x"} {
		if status, out := f.action(secret, RoleAnonymous, "compareRuns", map[string]any{"baseline": base.id, "candidate": cand.id}); status != http.StatusUnauthorized ||
			!strings.Contains(fmt.Sprint(out["message"]), ActionSecretHeader) {
			t.Errorf("compareRuns with secret %q: %d %v, want 401", secret, status, out)
		}
	}
	if n := len(f.messages()); n != 0 {
		t.Errorf("the jobs topic holds %d messages; nothing was launched", n)
	}
}

// Without graphql.url sink api starts, its mutations work, and the query actions say what to configure.
func TestStatisticsWithoutGraphQL(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.jobs"))
	f := newFixture(t, brokers, "benchpipe.jobs")
	f.agent("a1", nil, true)
	for _, tc := range []struct {
		name  string
		input map[string]any
	}{
		{"compareRuns", map[string]any{"baseline": uuid.New(), "candidate": uuid.New()}},
		{"runHistory", map[string]any{"run_id": uuid.New()}},
	} {
		status, out := f.action(testSecret, RoleAnonymous, tc.name, tc.input)
		want := tc.name + ": sink api has no graphql.url in its configuration, so it cannot read runs; set graphql.url to the GraphQL endpoint (in the compose stack http://hasura:8080/v1/graphql)"
		if status != http.StatusBadRequest || out["message"] != want {
			t.Errorf("%s: %d %v, want 400 %q", tc.name, status, out, want)
		}
	}
	if status, out := f.action(testSecret, RoleOperator, "launchJobs", map[string]any{"kind": "mqtt", "spec": json.RawMessage(mqttSpec), "agents": []string{"a1"}}); status != http.StatusOK {
		t.Errorf("launchJobs without graphql.url: %d %v", status, out)
	}
	if n := len(f.messages()); n != 1 {
		t.Errorf("the jobs topic holds %d messages, want the 1 job launched", n)
	}
}
