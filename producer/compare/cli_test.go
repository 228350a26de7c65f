package compare

import (
	"strings"
	"testing"

	"github.com/google/uuid"
)

// TestUsageErrors: one line with the cause, one pointing at --help, exit 2, for flags as for arguments.
func TestUsageErrors(t *testing.T) {
	id := uuid.NewString()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--wait", "5", "--baseline", "last", id}, `--wait "5": missing unit (e.g. 5s, 2m)`},
		{[]string{"--nope", id, id}, `unknown flag --nope`},
		{[]string{id, id, "--jsn"}, `unknown flag --jsn (did you mean --json?)`},
		{[]string{id, "--baseline"}, `--baseline needs a value (--baseline last)`},
		{[]string{"not-a-uuid", id}, `RUN_A "not-a-uuid" is not a run id (a UUID)`},
	} {
		res := runCmd(t, tc.args...)
		want := "producer compare: " + tc.want + "\nRun 'producer compare --help' for usage.\n"
		if res.code != ExitUsage || res.stderr != want || res.stdout != "" {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", tc.args, res.code, res.stderr, want)
		}
	}
	res := runCmd(t, "--help")
	for _, want := range []string{"  --poll duration\n    \thow often to poll the run's state while waiting (default 1s)\n", "  --timeout duration\n    \tper-request timeout, overriding graphql.timeout (default 10s)\n"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("--help lacks %q:\n%s", want, res.stdout)
		}
	}
}
