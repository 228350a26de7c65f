package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// EnvRequireTools names the variable CI sets after installing every tool (.ci/ensure-tools): with it, a test that
// would skip because a tool is missing fails instead, so a broken install can't pass as a green run.
const EnvRequireTools = "BENCHPIPE_REQUIRE_TOOLS"

// Tool finds an external program the test runs for real: on PATH, else in /usr/sbin or /usr/bin (Debian puts
// daemons such as mosquitto and nginx in /usr/sbin, which is not on every user's PATH). When it is missing the
// test is skipped with install, the command that provides it, or fails when EnvRequireTools is set.
func Tool(tb testing.TB, name, install string) string {
	tb.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv(EnvRequireTools) != "" {
		tb.Fatalf("%s not found and %s is set: install it (%s) or run .ci/ensure-tools as root", name, EnvRequireTools, install)
	}
	tb.Skipf("%s not installed, test skipped: %s (or run .ci/ensure-tools as root)", name, install)
	return ""
}
