package main

import (
	"bytes"
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

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The binary as an operator runs it: migrate, topics apply, run with health endpoints, SIGTERM.
func TestSinkBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sink binary; skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "sink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, brokers := testenv.Kafka(t)
	httpAddr := freeAddr(t)
	cfgFile := filepath.Join(dir, "benchpipe.yaml")
	cfg := fmt.Sprintf("kafka: {brokers: [%s]}\nsink:\n  database_url: ${TEST_DB_URL}\n  http_addr: %q\n", brokers[0], httpAddr)
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
	if err != nil || !strings.Contains(out, "dry run: nothing changed") || !strings.Contains(out, "create           benchpipe.records") {
		t.Fatalf("topics apply --dry-run: %v\n%s", err, out)
	}
	if out, err := runCmd("bogus"); err == nil || !strings.Contains(out, "unknown command") {
		t.Fatalf("an unknown command must fail with usage: %v\n%s", err, out)
	}

	cmd := exec.Command(bin, "--config", cfgFile, "run")
	cmd.Env = env
	var logs bytes.Buffer
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

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
