package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/api"
)

// TestUsageErrors: one line with the cause, one pointing at --help, exit 2, whatever the mistake.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "sink: missing command: run, migrate, topics apply or api"},
		{[]string{"bogus"}, `sink: unknown command "bogus" (run, migrate, topics apply or api)`},
		{[]string{"topics"}, `sink: unknown command "topics" (run, migrate, topics apply or api)`},
		{[]string{"api", "now"}, `sink: unknown command "api now" (run, migrate, topics apply or api)`},
		{[]string{"api", "--tokn", "x"}, "sink: unknown flag --tokn"},
		{[]string{"run", "--skip-topic"}, "sink: unknown flag --skip-topic (did you mean --skip-topics?)"},
		{[]string{"--log-format", "xml", "run"}, `sink: --log-format "xml" is not text or json`},
		{[]string{"--config"}, "sink: --config needs a value (--config file)"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(tc.args, &stdout, &stderr)
		want := tc.want + "\nRun 'sink --help' for usage.\n"
		if code != 2 || stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("sink %q: exit %d\nstderr:\n%s\nwant exit 2 and:\n%s", tc.args, code, stderr.String(), want)
		}
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--help"}, &stdout, &stderr); code != 0 || stderr.Len() != 0 {
		t.Fatalf("--help: exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"sink [flags] run", "sink [flags] api ", "$BENCHPIPE_ACTION_SECRET (required", "$BENCHPIPE_OPERATOR_TOKEN", "  --log-format format\n    \tlog format on stderr: text or json (default \"text\")\n", "  --dry-run\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// TestDatabaseErrorIsOneLine: a database URL that cannot connect gives one line with the real cause, the password
// masked; not pgx's "tls error: server refused TLS connection" first (sslmode=prefer tries TLS before the real
// attempt), nor the same refusal twice.
func TestDatabaseErrorIsOneLine(t *testing.T) {
	good, err := url.Parse(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	noDB := *good
	noDB.Path, noDB.RawQuery = "/nodb", "" // default sslmode=prefer: TLS first, which the test server refuses
	wrongPW := *good
	wrongPW.RawQuery = ""
	wrongPW.User = url.UserPassword(good.User.Username(), "Secret8pw")
	addr := freeAddr(t)
	for _, tc := range []struct {
		url, want string
	}{
		{noDB.String(), "sink: connect to postgres://benchpipe@" + good.Host + "/nodb: " + good.Host + " (127.0.0.1): server error: FATAL: database \"nodb\" does not exist (SQLSTATE 3D000)\n"},
		{wrongPW.String(), "sink: connect to postgres://benchpipe@" + good.Host + good.Path + ": " + good.Host + " (127.0.0.1): failed SASL auth: FATAL: password authentication failed for user \"benchpipe\" (SQLSTATE 28P01)\n"},
		{"postgres://bench:Secret8pw@" + addr + "/db", "sink: connect to postgres://bench@" + addr + "/db: " + addr + " (127.0.0.1): dial error: dial tcp " + addr + ": connect: connection refused\n"},
	} {
		cfg := filepath.Join(t.TempDir(), "benchpipe.yaml")
		if err := os.WriteFile(cfg, []byte("sink:\n  database_url: ${TEST_DB_URL}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Setenv("TEST_DB_URL", tc.url)
		var stdout, stderr bytes.Buffer
		if code := run([]string{"--config", cfg, "migrate"}, &stdout, &stderr); code != 1 || stderr.String() != tc.want {
			t.Errorf("sink migrate with %s: exit %d, stderr:\n%s\nwant exit 1 and:\n%s", schema.RedactURL(tc.url), code, stderr.String(), tc.want)
		}
	}
}

// TestAPIBinary: `sink api` as an operator runs it. Without BENCHPIPE_ACTION_SECRET it refuses to start, with
// one line saying why; with it, it serves /healthz, /auth and /actions on fleet.api_addr, and stops cleanly on
// SIGTERM (exit 0). Neither secret reaches its output.
func TestAPIBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sink binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "sink")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.jobs"))
	addr := freeAddr(t)
	cfgFile := filepath.Join(t.TempDir(), "benchpipe.yaml")
	cfg := fmt.Sprintf("kafka: {brokers: [%s]}\nsink:\n  database_url: ${TEST_DB_URL}\nfleet:\n  api_addr: %q\n", brokers[0], addr)
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	const token, secret = "op-token-binary-7c1d", "action-secret-binary-5e2a"
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, api.EnvActionSecret+"=") && !strings.HasPrefix(kv, api.EnvOperatorToken+"=") {
			env = append(env, kv)
		}
	}
	env = append(env, "TEST_DB_URL="+testenv.DatabaseURL(t))

	// No action secret: one line, exit 1, nothing listening.
	cmd := exec.Command(bin, "--config", cfgFile, "api")
	cmd.Env = append(env, api.EnvOperatorToken+"="+token)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	want := "sink: " + api.ErrNoActionSecret.Error() + "\n"
	if code := cmd.ProcessState.ExitCode(); code != 1 || stderr.String() != want || stdout.Len() != 0 {
		t.Errorf("sink api without %s: %v, exit %d\nstderr:\n%s\nwant exit 1 and:\n%s", api.EnvActionSecret, err, code, stderr.String(), want)
	}

	// With it: serves until SIGTERM.
	var out testenv.Buffer
	cmd = exec.Command(bin, "--config", cfgFile, "--log-format", "json", "api")
	cmd.Env = append(env, api.EnvOperatorToken+"="+token, api.EnvActionSecret+"="+secret)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	get := func(path string, header ...string) (int, string) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if status, _ := get("/healthz"); status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink api did not serve /healthz within 20s:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, body := get("/auth", "Authorization", "Bearer "+token); status != 200 || body != `{"X-Hasura-Role":"operator"}`+"\n" {
		t.Errorf("/auth with the token: %d %s", status, body)
	}
	if status, body := get("/auth"); status != 200 || body != `{"X-Hasura-Role":"anonymous"}`+"\n" {
		t.Errorf("/auth without a token: %d %s", status, body)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/actions", strings.NewReader(`{"action":{"name":"stopJobs"},"input":{},"session_variables":{"x-hasura-role":"anonymous"}}`))
	req.Header.Set(api.ActionSecretHeader, secret)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 403 {
		t.Errorf("anonymous stopJobs: %v %v, want 403", resp, err)
	} else {
		resp.Body.Close()
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("sink api after SIGTERM: %v\n%s", err, out.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("sink api did not stop within 15s of SIGTERM:\n%s", out.String())
	}
	log := out.String()
	for _, want := range []string{`"msg":"api listening","addr":"` + addr + `","paths":"/auth /actions /healthz"`, `"msg":"api stopped"`} {
		if !strings.Contains(log, want) {
			t.Errorf("the log lacks %s:\n%s", want, log)
		}
	}
	if strings.Contains(log, token) || strings.Contains(log, secret) {
		t.Errorf("the log holds a secret:\n%s", log)
	}
}
