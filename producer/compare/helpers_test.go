package compare

// The tests compare runs that the real sink wrote: records are encoded with schema.Encode, produced into kfake
// (franz-go's in-process Kafka), consumed by ingest's sink running in this process, and written to a real
// PostgreSQL test database. Hasura cannot run here, so internal/hasurastub stands in for it: it answers the
// GraphQL queries from that database, with the permissions of deploy/hasura/metadata.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	graphql "github.com/hasura/go-graphql-client"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	recordsTopic = "benchpipe.records"
	metadataDir  = "../../deploy/hasura/metadata"
	testHeader   = "X-Benchpipe-Test"
)

// env is one test's pipeline: kfake, the sink, a migrated database, and the Hasura stand-in serving it.
type env struct {
	brokers []string
	db      *pgx.Conn
	stub    *hasurastub.Server
	cfgFile string // configuration pointing graphql.url at the stub
	cfg     *config.Config

	// anyDocuments turns off the check that every document sent is one contract_test.go knows, for tests that
	// send deliberately wrong ones.
	anyDocuments bool
}

// newEnv builds the pipeline. edit, when given, changes the Hasura metadata before the stub serves it.
func newEnv(t *testing.T, edit ...func(*hasurastub.Metadata)) *env {
	t.Helper()
	ctx := context.Background()
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(2, recordsTopic))
	db := testenv.Deployed(t) // the sink writes as the owner, the stub reads as Hasura's role, as in the stack
	dbURL := db.OwnerURL
	scfg := config.Default()
	scfg.Kafka.Brokers = brokers
	scfg.Sink.DatabaseURL = dbURL
	scfg.Sink.HTTPAddr = ""
	scfg.Sink.FlushInterval = 20 * time.Millisecond
	log := slog.New(slog.DiscardHandler)
	if err := ingest.Migrate(ctx, &scfg, log); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	s, err := ingest.New(sctx, &scfg, ingest.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(sctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink Run: %v", err)
		}
		s.Close()
	})

	md, err := hasurastub.LoadMetadata(metadataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range edit {
		e(md)
	}
	stub := hasurastub.New(t, db.HasuraURL, md)
	e := &env{brokers: brokers, stub: stub}
	// Every document the package sends must be one contract_test.go checks against the metadata.
	t.Cleanup(func() {
		if e.anyDocuments {
			return
		}
		known := knownDocuments(t)
		for _, d := range stub.Documents() {
			if !slices.Contains(known, d) {
				t.Errorf("a query the contract test does not know was sent:\n%s", d)
			}
		}
	})

	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })

	cfgFile := filepath.Join(t.TempDir(), "benchpipe.yaml")
	yaml := fmt.Sprintf("graphql:\n  url: %s\n  timeout: 5s\n  headers:\n    %s: \"yes\"\n", stub.URL, testHeader)
	if err := os.WriteFile(cfgFile, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	e.db, e.cfgFile, e.cfg = conn, cfgFile, cfg
	return e
}

// knownDocuments are the documents of queryShapes, as go-graphql-client builds them.
func knownDocuments(t testing.TB) []string {
	var out []string
	for _, s := range append(queryShapes(), functionShapes()...) {
		d, err := graphql.ConstructQuery(s.q, s.vars)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}

// run describes a run to write through the pipeline.
type run struct {
	id        uuid.UUID
	kind      string
	host      string
	params    string // JSON object
	tags      map[string]string
	startedAt time.Time
	status    schema.Status   // "" = still running: no run_finished record
	summary   *schema.Figures // nil = finished without a summary
	rates     []float64       // ops_rate of the per-second measurement samples (one warm-up sample comes first)
	errText   string
	// lats, when set, are the latencies (µs) of each measurement sample: the samples then carry their histograms
	// (record version 2) and percentiles taken from them.
	lats [][]int64
	// obs are the run's cluster observations (pgbench --observe), numbered after the samples.
	obs []schema.Observation
	// p50s and p99s, when set (and lats is not), are the per-second p50 and p99 of each measurement sample.
	p50s, p99s []float64
	// lastDur, when set, is the length of the final measurement sample: a final partial interval.
	lastDur time.Duration
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// mqttRun is an MQTT run on pi-7 that finished ok, with the given summary and samples.
func mqttRun(started time.Time, f schema.Figures, rates ...float64) run {
	return run{id: uuid.Must(uuid.NewV7()), kind: schema.KindMQTT, host: "pi-7", params: `{"qos":1,"publishers":10,"rate":1000}`,
		tags: map[string]string{"site": "lab", "fw": "v2"}, startedAt: started, status: schema.StatusOK, summary: &f, rates: rates}
}

// mqttFigures builds an MQTT summary.
func mqttFigures(rate, p50, p90, p99, p999 float64, errs, lost, dup, reorder int64) schema.Figures {
	return schema.Figures{Ops: int64(rate * 60), OpsRate: rate, Errors: errs,
		Latency: &schema.Latency{MinMs: 0.1, MeanMs: p50, P50Ms: p50, P90Ms: p90, P95Ms: p90, P99Ms: p99, P999Ms: p999, MaxMs: p999 * 2},
		MQTT: &schema.MQTTFigures{Sent: int64(rate * 60), Received: int64(rate*60) - lost, Lost: lost, Duplicated: dup,
			OutOfOrder: reorder, OfferedRate: 1000}}
}

// records returns the run's records: run_started, one warm-up and the measurement samples, run_finished.
func (r run) records() []schema.Record {
	recs := []schema.Record{{V: 1, Type: schema.TypeRunStarted, RunID: r.id, Seq: 0, Time: r.startedAt, Started: &schema.Started{
		Kind: r.kind, Name: "compare-test", Tags: r.tags, Parameters: json.RawMessage(r.params),
		Target: schema.Target{URL: "tcp://broker:1883", Host: "broker", Port: 1883},
		Host:   schema.Host{Hostname: r.host, OS: "Debian 12", Arch: "arm64", CPUCores: 4},
		Tools:  map[string]string{"benchpipe": "test"}, StartedAt: r.startedAt}}}
	rates := append([]float64{r.rates0()}, r.rates...)
	for i, rate := range rates {
		start := r.startedAt.Add(time.Duration(i) * time.Second)
		phase := schema.PhaseMeasure
		if i == 0 {
			phase = schema.PhaseWarmup
		}
		lat := &schema.Latency{MinMs: 0.5, MeanMs: 1, P50Ms: 1, P90Ms: 2, P95Ms: 2.5, P99Ms: 3 + float64(i), P999Ms: 9, MaxMs: 10}
		v := 1
		if r.lats != nil && i > 0 {
			lat, v = latencyOf(histOf(r.lats[i-1])), schema.Version
		}
		if r.p50s != nil && i > 0 {
			lat.P50Ms, lat.MinMs = r.p50s[i-1], r.p50s[i-1]/2
		}
		if r.p99s != nil && i > 0 {
			lat.P99Ms = r.p99s[i-1]
		}
		end := start.Add(time.Second)
		if r.lastDur > 0 && i == len(rates)-1 {
			end = start.Add(r.lastDur)
		}
		recs = append(recs, schema.Record{V: v, Type: schema.TypeSample, RunID: r.id, Seq: int64(i + 1), Time: end,
			Sample: &schema.Sample{Start: start, End: end, Phase: phase, Figures: schema.Figures{
				Ops: int64(rate), OpsRate: rate, Errors: int64(i % 2), Latency: lat}}})
	}
	for _, o := range r.obs {
		recs = append(recs, schema.Record{V: schema.Version, Type: schema.TypeObservation, RunID: r.id, Seq: int64(len(recs)), Time: o.Time, Observation: &o})
	}
	if r.status == "" {
		return recs
	}
	end := r.startedAt.Add(time.Duration(len(rates)) * time.Second)
	fin := &schema.Finished{Status: r.status, Error: r.errText, FinishedAt: end}
	if r.summary != nil {
		fin.Summary = &schema.Summary{Start: r.startedAt.Add(time.Second), End: end, Figures: *r.summary}
	}
	return append(recs, schema.Record{V: 1, Type: schema.TypeRunFinished, RunID: r.id, Seq: int64(len(recs)), Time: end, Finished: fin})
}

func (r run) rates0() float64 {
	if len(r.rates) > 0 {
		return r.rates[0] / 2
	}
	return 1
}

// write produces the runs' records and waits until the sink has written all of them.
func (e *env) write(t *testing.T, runs ...run) {
	t.Helper()
	var recs []schema.Record
	for _, r := range runs {
		recs = append(recs, r.records()...)
	}
	e.produce(t, recs...)
	for _, r := range runs {
		e.waitWritten(t, r)
	}
}

func (e *env) produce(t *testing.T, recs ...schema.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(recordsTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var krs []*kgo.Record
	for _, r := range recs {
		b, err := schema.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		krs = append(krs, &kgo.Record{Key: r.Key(), Value: b})
	}
	if err := cl.ProduceSync(context.Background(), krs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// waitWritten waits until r's row has its final status and all its samples.
func (e *env) waitWritten(t *testing.T, r run) {
	t.Helper()
	want := string(r.status)
	if want == "" {
		want = string(schema.StatusRunning)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		var status string
		var samples, obs int
		err := e.db.QueryRow(context.Background(),
			`SELECT coalesce((SELECT status FROM runs WHERE run_id = $1), ''), (SELECT count(*) FROM samples WHERE run_id = $1),
			(SELECT count(*) FROM cluster_observations WHERE run_id = $1)`,
			r.id).Scan(&status, &samples, &obs)
		if err != nil {
			t.Fatal(err)
		}
		if status == want && samples == len(r.rates)+1 && obs == len(r.obs) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s not written: status %q, %d samples, %d observations", r.id, status, samples, obs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// result is one Run of the command.
type result struct {
	code           int
	stdout, stderr string
}

// compare runs `producer compare` with the env's configuration.
func (e *env) compare(t *testing.T, args ...string) result {
	t.Helper()
	return runCmd(t, append([]string{"--config", e.cfgFile}, args...)...)
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	code := Run(ctx, args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// jsonReport decodes --json output.
func (r result) jsonReport(t *testing.T) report {
	t.Helper()
	var rep report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("decode --json output: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return rep
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, strings.TrimSpace(r.stderr))
}
