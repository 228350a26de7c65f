package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The binary as an operator runs it: migrate, topics apply, run (which creates the topics) with health endpoints,
// a run's records in Kafka become rows, SIGTERM. On kfake and on the real broker, which starts without the topics.
func TestSinkBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sink binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testSinkBinary(t, kb, bin) })
	}
}

func testSinkBinary(t *testing.T, kb testenv.KafkaBackend, bin string) {
	dir := t.TempDir()
	kc := kb.Start(t, nil) // no topics: the sink creates them
	records, deadLetter := kc.Topic("benchpipe.records"), kc.Topic("benchpipe.dead-letter")
	httpAddr := freeAddr(t)
	cfgFile := filepath.Join(dir, "benchpipe.yaml")
	cfg := fmt.Sprintf("kafka: {brokers: [%s]}\ntopics:\n  - {name: %q, partitions: 2}\n"+
		"sink:\n  database_url: ${TEST_DB_URL}\n  http_addr: %q\n  group: %q\n  dead_letter_topic: %q\n",
		kc.Brokers[0], records, httpAddr, kc.Group("benchpipe-sink"), deadLetter)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	dbURL := testenv.DatabaseURL(t)
	env := append(os.Environ(), "TEST_DB_URL="+dbURL)
	runCmd := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--config", cfgFile}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	if out, err := runCmd("migrate"); err != nil || !strings.Contains(out, "migrations applied") {
		t.Fatalf("sink migrate: %v\n%s", err, out)
	}
	if out, err := runCmd("migrate"); err != nil || !strings.Contains(out, "schema up to date") {
		t.Fatalf("second sink migrate: %v\n%s", err, out)
	}
	out, err := runCmd("topics", "apply", "--dry-run")
	if err != nil || !strings.Contains(out, "dry run: nothing changed") || !strings.Contains(out, "create           "+records) {
		t.Fatalf("topics apply --dry-run: %v\n%s", err, out)
	}
	if out, err := runCmd("bogus"); err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("an unknown command must fail with usage: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "--config", cfgFile, "run")
	cmd.Env = env
	var logs testenv.Buffer // read while the sink runs
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := false
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		resp, err := http.Get("http://" + httpAddr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				ready = true
				break
			}
		}
	}
	if !ready {
		_ = cmd.Process.Kill()
		t.Fatalf("/readyz never became ready; logs:\n%s", logs.String())
	}
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get("http://" + httpAddr + path)
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s: %v %v", path, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	for _, topic := range []string{records, deadLetter} {
		if !strings.Contains(logs.String(), "create           "+topic) {
			t.Errorf("sink run did not say it created %s:\n%s", topic, logs.String())
		}
	}

	// A whole run through the topics the sink created: exactly its rows.
	r := runrec.New(schema.KindMQTT, schema.Started{Host: schema.Host{Hostname: "pi"}})
	now := time.Now()
	produce(t, kc.Brokers, records, r.Started(), r.Sample(schema.Sample{Start: now, End: now, Phase: schema.PhaseMeasure}),
		r.Sample(schema.Sample{Start: now, End: now, Phase: schema.PhaseMeasure}), r.Finished(schema.StatusOK, "", nil))
	conn, err := pgx.Connect(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var status string
	var samples int64
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		err := conn.QueryRow(context.Background(), "SELECT status, (SELECT count(*) FROM samples WHERE run_id = $1) FROM runs WHERE run_id = $1",
			r.ID()).Scan(&status, &samples)
		if err == nil && status == "ok" && samples == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: status %q, %d samples (%v); want ok and 2; logs:\n%s", r.ID(), status, samples, err, logs.String())
		}
	}
	if n := countRows(t, conn, "SELECT count(*) FROM samples"); n != 2 {
		t.Errorf("samples = %d, want exactly 2", n)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("sink run exited with %v after SIGTERM; logs:\n%s", err, logs.String())
		}
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("sink run did not stop within 15 s of SIGTERM; logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "leaving the group") {
		t.Errorf("no clean-shutdown log line:\n%s", logs.String())
	}
}

// The HTTP server failing while the sink runs stops the sink at once with the cause, instead of being noticed
// only after the sink stopped for some other reason.
func TestHTTPServerFailureStopsTheSink(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = testenv.DatabaseURL(t)
	log := slog.New(slog.DiscardHandler)
	if err := ingest.Migrate(context.Background(), &cfg, log); err != nil {
		t.Fatal(err)
	}
	s, err := ingest.New(context.Background(), &cfg, ingest.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- consume(context.Background(), s, ln, log) }()
	time.Sleep(500 * time.Millisecond)
	ln.Close() // the server's Accept now fails for good
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "http server on") || !strings.Contains(err.Error(), "use of closed network connection") {
			t.Fatalf("consume returned %v, want the HTTP server's error", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the sink kept running for 20 s after its HTTP server failed")
	}
}

// produce writes records to topic as a producer does (keyed by run), and waits for the acknowledgements.
func produce(t *testing.T, brokers []string, topic string, recs ...schema.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var krs []*kgo.Record
	for _, r := range recs {
		v, err := schema.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		krs = append(krs, &kgo.Record{Key: r.Key(), Value: v})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func countRows(t *testing.T, conn *pgx.Conn, sql string) int64 {
	t.Helper()
	var n int64
	if err := conn.QueryRow(context.Background(), sql).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
