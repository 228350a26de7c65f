package agent_test

import (
	"context"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/agent"
)

func TestUsage(t *testing.T) {
	t.Setenv("BENCHPIPE_CONFIG", "")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{"help", []string{"--help"}, 0, "Usage: producer agent [flags]", ""},
		{"unknown flag", []string{"--nme", "x"}, 2, "", "producer agent: unknown flag --nme (did you mean --name?)\n"},
		{"argument", []string{"run"}, 2, "", "producer agent: unexpected argument \"run\" (producer agent takes flags only)\n"},
		{"bad name", []string{"--name", "a b"}, 2, "", "producer agent: --name \"a b\" is not an agent name (letters, digits, . _ -, at most 128; give --name)\n"},
		{"no brokers", []string{"--name", "a"}, 2, "", "producer agent: kafka.brokers is empty: an agent takes its jobs from Kafka\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr testenv.Buffer
			code := agent.Run(context.Background(), tc.args, &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tc.stdout) {
				t.Errorf("stdout %q does not contain %q", stdout.String(), tc.stdout)
			}
			// The first line is the error; the second says where to read more.
			if first, _, _ := strings.Cut(stderr.String(), "Run '"); first != tc.stderr {
				t.Errorf("stderr %q, want %q", first, tc.stderr)
			}
		})
	}
}
