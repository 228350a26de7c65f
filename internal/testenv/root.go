package testenv

import (
	"os"
	"testing"
)

// Root skips the test unless it runs as root, saying why it needs root (a tmpfs or loop mount, a new PID
// namespace); with EnvRequireTools set it fails instead, like a missing tool.
func Root(tb testing.TB, why string) {
	tb.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(EnvRequireTools) != "" {
		tb.Fatalf("not root and %s is set: this test needs root for %s", EnvRequireTools, why)
	}
	tb.Skipf("not root, test skipped: it needs root for %s", why)
}
