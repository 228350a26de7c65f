package main

import (
	"bytes"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestUsageErrors: one line with the cause, one pointing at --help, exit 2, whatever the mistake.
func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "sink: missing command: run, migrate or topics apply"},
		{[]string{"bogus"}, `sink: unknown command "bogus" (run, migrate or topics apply)`},
		{[]string{"topics"}, `sink: unknown command "topics" (run, migrate or topics apply)`},
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
	for _, want := range []string{"sink [flags] run", "  --log-format format\n    \tlog format on stderr: text or json (default \"text\")\n", "  --dry-run\n"} {
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
