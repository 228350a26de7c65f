package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/spoolcmd"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
	"github.com/benchpipe/benchpipe/sink/topics"
)

// secureConfig is a device's and the sink's configuration for the real broker's SASL_SSL listener (the compose
// stack with docker-compose.sasl-ssl.yml), with topics and a group of the test's own on the shared broker.
func secureConfig(t *testing.T, s *testenv.SecureKafka) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka = s.DeviceConfig(t)
	records := testenv.UniqueName(t, "records")
	cfg.Topics = []config.Topic{{Name: records, Format: config.FormatBenchpipe, Partitions: 3, ReplicationFactor: 1, Retention: time.Hour}}
	cfg.Producer.Topic = records
	cfg.Producer.SpoolDir = filepath.Join(t.TempDir(), "spool")
	cfg.Sink.Group = testenv.UniqueName(t, "sink")
	cfg.Sink.DeadLetterTopic = testenv.UniqueName(t, "dead-letter")
	cfg.Sink.DatabaseURL = testenv.Deployed(t).OwnerURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	return cfg
}

// secureRun is a small complete run: started, three samples, finished.
func secureRun() []schema.Record {
	id := uuid.Must(uuid.NewV7())
	t0 := time.Now().UTC().Truncate(time.Microsecond)
	recs := []schema.Record{{V: 1, Type: schema.TypeRunStarted, RunID: id, Time: t0, Started: &schema.Started{
		Kind: schema.KindMQTT, Name: "sasl-ssl", Parameters: json.RawMessage(`{}`), StartedAt: t0,
		Host: schema.Host{Hostname: "pi-1", Arch: "arm64", CPUCores: 4}}}}
	for i := int64(1); i <= 3; i++ {
		start := t0.Add(time.Duration(i-1) * time.Second)
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: id, Seq: i, Time: start.Add(time.Second),
			Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: schema.PhaseMeasure,
				Figures: schema.Figures{Ops: 100, OpsRate: 100}}})
	}
	end := t0.Add(3 * time.Second)
	return append(recs, schema.Record{V: 1, Type: schema.TypeRunFinished, RunID: id, Seq: 4, Time: end,
		Finished: &schema.Finished{Status: schema.StatusOK, FinishedAt: end}})
}

// A run published through the spool with a device's SASL_SSL settings (TLS with the stack's CA, SCRAM-SHA-512)
// reaches PostgreSQL through a sink that connects the same way, against the real broker configured from
// docker-compose.yml + docker-compose.sasl-ssl.yml. A wrong password loses nothing: the producer names the
// authentication failure, the records wait in the spool, and go once the password is right; a sink with a wrong
// password stops with the same error instead of consuming nothing quietly.
func TestSASLSSLEndToEnd(t *testing.T) {
	s := testenv.ApacheKafkaSASLSSL(t)
	cfg := secureConfig(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// `sink topics apply`, over SASL_SSL (the broker creates no topic by itself).
	opts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		t.Fatal(err)
	}
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	changes, err := topics.Apply(ctx, kadm.NewClient(admCl), topics.Wanted(&cfg), false)
	admCl.Close()
	if err != nil || len(changes) != 2 {
		t.Fatalf("topics apply over SASL_SSL: %d changes, err %v; want the records and dead-letter topics created", len(changes), err)
	}
	if err := ingest.Migrate(ctx, &cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}

	// A producer with the wrong password: the records stay in the spool and the error says why.
	bad := cfg
	bad.Kafka.SASL.Password = "not-the-password"
	run := secureRun()
	pub, err := publish.Open(ctx, &bad, publish.WithLogger(slog.New(slog.NewTextHandler(testLog{t}, nil))))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range run {
		if err := pub.Publish(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	var lastErr error
	deadline := time.Now().Add(30 * time.Second)
	for lastErr == nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		lastErr = pub.Stats().LastError
	}
	short, cancelShort := context.WithTimeout(ctx, time.Second)
	closeErr := pub.Close(short)
	cancelShort()
	if lastErr == nil || !strings.Contains(lastErr.Error(), "SASL_AUTHENTICATION_FAILED") ||
		!errors.Is(lastErr, publish.ErrKafkaAuth) || errors.Is(lastErr, publish.ErrKafkaUnreachable) {
		t.Errorf("producer with a wrong password: last delivery error %v, want ErrKafkaAuth (not unreachable) with SASL_AUTHENTICATION_FAILED", lastErr)
	}
	if !errors.Is(closeErr, publish.ErrUndelivered) {
		t.Errorf("Close with a wrong password: %v, want ErrUndelivered", closeErr)
	}
	if st, err := publish.Inspect(cfg.Producer.SpoolDir); err != nil || st.Records != int64(len(run)) {
		t.Fatalf("spool after a wrong password: %+v, %v; want all %d records kept", st, err, len(run))
	}
	// `producer spool flush` with it says the credentials were refused, not that Kafka is unreachable.
	badFile := filepath.Join(t.TempDir(), "bad.yaml")
	bad.Kafka.SASL.Password = "${KAFKA_PASSWORD}"
	raw, err := yaml.Marshal(bad)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(badFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("KAFKA_PASSWORD", "not-the-password")
	var flushOut, flushErr strings.Builder
	code := spoolcmd.Run(ctx, []string{"flush", "--config", badFile, "--timeout", "5s"}, &flushOut, &flushErr)
	if want := "producer spool flush: kafka refused the credentials (check kafka.sasl: mechanism, username, password)"; code != 1 ||
		!strings.HasPrefix(flushErr.String(), want) || !strings.Contains(flushErr.String(), "SASL_AUTHENTICATION_FAILED") ||
		!strings.Contains(flushErr.String(), "run 'producer spool flush' again once kafka.sasl is right") || strings.Contains(flushErr.String(), "not-the-password") {
		t.Errorf("spool flush with a wrong password: exit %d, stderr:\n%s\nwant exit 1 starting %q, without the password", code, flushErr.String(), want)
	}

	// A sink with the wrong password stops with the authentication error.
	badSink := cfg
	badSink.Kafka.SASL.Password = "not-the-password"
	badSink.Sink.Group = testenv.UniqueName(t, "bad-sink")
	sctx, scancel := context.WithTimeout(ctx, 30*time.Second)
	sk, err := ingest.New(sctx, &badSink, ingest.WithLogger(slog.New(slog.NewTextHandler(testLog{t}, nil))))
	if err == nil {
		err = sk.Run(sctx)
		sk.Close()
	}
	scancel()
	if err == nil || !strings.Contains(err.Error(), "SASL_AUTHENTICATION_FAILED") {
		t.Errorf("sink with a wrong password: %v, want an error naming SASL_AUTHENTICATION_FAILED", err)
	}

	// The right password: the sink consumes, and the same spool delivers every record exactly once.
	p := &pipeline{cfg: &cfg}
	p.sink(t)
	pub, err = publish.Open(ctx, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Close(ctx); err != nil {
		t.Fatalf("Close with the right password: %v", err)
	}
	conn := connect(t, cfg.Sink.DatabaseURL)
	if status := waitFinished(t, conn, run[0].RunID, 60*time.Second); status != string(schema.StatusOK) {
		t.Errorf("run status %q, want ok", status)
	}
	var samples, distinct int64
	if err := conn.QueryRow(ctx, "SELECT count(*), count(DISTINCT seq) FROM samples WHERE run_id = $1", run[0].RunID).Scan(&samples, &distinct); err != nil {
		t.Fatal(err)
	}
	if samples != 3 || distinct != 3 {
		t.Errorf("samples: %d rows, %d distinct; want 3 and 3", samples, distinct)
	}
	if st, err := publish.Inspect(cfg.Producer.SpoolDir); err != nil || st.Records != 0 {
		t.Errorf("spool after delivery: %+v, %v; want empty", st, err)
	}
}
