package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		crashChild()
		return
	}
	testenv.Main(m)
}

const recordsTopic = "benchpipe.records"

// env is one test's pipeline: a kfake cluster, a migrated database, and a config pointing at both.
type env struct {
	cfg     *config.Config
	brokers []string
	kafka   *kfake.Cluster
	dbURL   string
	topic   string // the records topic: recordsTopic, or its unique name on a shared real broker (newEnvOn)
}

// newEnvOn is newEnv on a Kafka backend (testenv.KafkaBackends), for tests that run on kfake and the real broker.
// Topics and the group get the names the backend gives them; kafka is nil on the real broker.
func newEnvOn(t *testing.T, kb testenv.KafkaBackend, dbURL string) *env {
	t.Helper()
	kc := kb.Start(t, map[string]int32{recordsTopic: 4, "benchpipe.dead-letter": 1})
	if dbURL == "" {
		dbURL = testenv.DatabaseURL(t)
	}
	cfg := config.Default()
	cfg.Kafka.Brokers = kc.Brokers
	cfg.Topics[0].Name = kc.Topic(recordsTopic)
	cfg.Topics[0].Partitions = 4
	cfg.Sink.DeadLetterTopic = kc.Topic("benchpipe.dead-letter")
	cfg.Sink.Group = kc.Group(cfg.Sink.Group)
	cfg.Sink.DatabaseURL = dbURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.BatchSize = 2000
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	if err := ingest.Migrate(context.Background(), &cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &env{cfg: &cfg, brokers: kc.Brokers, kafka: kc.Fake, dbURL: dbURL, topic: cfg.Topics[0].Name}
}

func newEnv(t *testing.T, dbURL string, kopts ...kfake.Opt) *env {
	t.Helper()
	cluster, brokers := testenv.Kafka(t, append([]kfake.Opt{kfake.SeedTopics(4, recordsTopic), kfake.SeedTopics(1, "benchpipe.dead-letter")}, kopts...)...)
	if dbURL == "" {
		dbURL = testenv.DatabaseURL(t)
	}
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = dbURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.BatchSize = 2000
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	if err := ingest.Migrate(context.Background(), &cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	return &env{cfg: &cfg, brokers: brokers, kafka: cluster, dbURL: dbURL, topic: recordsTopic}
}

// startSink runs a sink in this process until the test ends (or the returned stop is called).
func (e *env) startSink(t *testing.T, opts ...ingest.Option) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	opts = append([]ingest.Option{ingest.WithLogger(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})))}, opts...)
	s, err := ingest.New(ctx, e.cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink Run: %v", err)
		}
		s.Close()
	}
	t.Cleanup(stop)
	return stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// makeRun builds a complete run: started, n samples, finished.
func makeRun(n int) []schema.Record {
	id := uuid.Must(uuid.NewV7())
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	recs := []schema.Record{{V: 1, Type: schema.TypeRunStarted, RunID: id, Seq: 0, Time: t0, Started: &schema.Started{
		Kind: schema.KindMQTT, Name: "e2e", Tags: map[string]string{"site": "lab"},
		Parameters: json.RawMessage(`{"qos":1,"publishers":10}`),
		Target:     schema.Target{URL: "tcp://broker:1883", Host: "broker", Port: 1883},
		Host:       schema.Host{Hostname: "pi-7", OS: "Debian 12", Arch: "arm64", CPUCores: 4, MemoryBytes: 8 << 30, DeviceModel: "Raspberry Pi 4 Model B"},
		Tools:      map[string]string{"benchpipe": "test"}, StartedAt: t0}}}
	for i := 1; i <= n; i++ {
		start := t0.Add(time.Duration(i-1) * time.Second)
		phase := schema.PhaseMeasure
		if i <= 2 {
			phase = schema.PhaseWarmup
		}
		ops := int64(900 + rand.IntN(200))
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: id, Seq: int64(i), Time: start.Add(time.Second), Sample: &schema.Sample{
			Start: start, End: start.Add(time.Second), Phase: phase,
			Figures: schema.Figures{Ops: ops, OpsRate: float64(ops), Bytes: ops * 100, Errors: int64(i % 3),
				Latency: &schema.Latency{MinMs: 0.1, MeanMs: 1.5, P50Ms: 1.2, P90Ms: 2.5, P95Ms: 3, P99Ms: 4.5 + float64(i%7), P999Ms: 12, MaxMs: 20},
				MQTT:    &schema.MQTTFigures{Sent: ops, Received: ops - 1, Lost: 1, Duplicated: 0, OutOfOrder: int64(i % 2), OfferedRate: 1000, UncorrectedP50Ms: 1.1, UncorrectedP99Ms: 4, UncorrectedMaxMs: 19}}}})
	}
	end := t0.Add(time.Duration(n) * time.Second)
	recs = append(recs, schema.Record{V: 1, Type: schema.TypeRunFinished, RunID: id, Seq: int64(n + 1), Time: end, Finished: &schema.Finished{
		Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: t0.Add(2 * time.Second), End: end,
			Figures: schema.Figures{Ops: 1000 * int64(n-2), OpsRate: 1000, Errors: 3,
				Latency: &schema.Latency{MinMs: 0.1, MeanMs: 1.5, P50Ms: 1.2, P90Ms: 2.5, P95Ms: 3, P99Ms: 6, P999Ms: 12, MaxMs: 20}},
			Extra: json.RawMessage(`{"note":"e2e"}`)}}})
	return recs
}

func produce(t testing.TB, brokers []string, topic string, recs []schema.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
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
	for i := 0; i < len(krs); i += 10000 {
		if err := cl.ProduceSync(context.Background(), krs[i:min(i+10000, len(krs))]...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

func produceRaw(t testing.TB, brokers []string, topic string, krs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(4<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if err := cl.ProduceSync(context.Background(), krs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func connect(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func count(t testing.TB, conn *pgx.Conn, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s (%s)", timeout, what, state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitRows(t testing.TB, conn *pgx.Conn, table string, want int64, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%d rows in %s", want, table), func() (bool, string) {
		n := count(t, conn, "SELECT count(*) FROM "+table)
		return n >= want, fmt.Sprintf("have %d", n)
	})
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func itoa(i int) string { return fmt.Sprint(i) }

func ftoa(f float64) string { return fmt.Sprint(f) }
