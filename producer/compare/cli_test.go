package compare

import (
	"strings"
	"testing"
	"time"

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

// TestParametersDifferListsKeys: two runs whose parameters differ in two keys; the note names those keys with both
// values instead of printing both parameter objects.
func TestParametersDifferListsKeys(t *testing.T) {
	e := newEnv(t)
	figs := mqttFigures(1000, 1.2, 2.5, 6, 12, 0, 0, 0, 0)
	base := mqttRun(t0, figs, 1000)
	base.params = `{"publishers":10,"qos":1,"rate":1000,"topic":"bench/{id}"}`
	cand := mqttRun(t0.Add(time.Hour), figs, 1000)
	cand.params = `{"topic":"bench/{id}","rate":2000,"qos":1,"publishers":10,"warmup_s":10}`
	e.write(t, base, cand)
	res := e.compare(t, base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	const want = "note: the parameters differ (baseline → candidate): rate 1000 → 2000; warmup_s (none) → 10\n"
	if !strings.Contains(res.stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, res.stdout)
	}
}
