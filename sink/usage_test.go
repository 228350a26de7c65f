package main

import (
	"bytes"
	"strings"
	"testing"
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
