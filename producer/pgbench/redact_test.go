package pgbench

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/schema"
)

// TestRunNeverShowsPasswords runs the real pgbench against a port nothing listens on, with passwords that
// net/url refuses ('#', '%', '/') in the URI and one in $PGPASSWORD, and searches everything the run leaves
// behind for them: stdout, stderr, --summary-json and the records as spooled to Kafka (raw) and decoded
// (parameters, target, error). libpq echoes a password it cannot percent-decode, or pieces of one holding '/'
// as port and database, in pgbench's own error text, which becomes runs.error.
func TestRunNeverShowsPasswords(t *testing.T) {
	port := strconv.Itoa(freePort(t))
	const envSecret = "Env7Secret"
	t.Setenv("PGPASSWORD", envSecret)
	for _, tc := range []struct {
		name    string
		args    []string
		leaks   []string // none of these may appear anywhere
		errWant string   // what the recorded error still says
	}{
		{name: "bad percent-encoding", args: []string{"postgresql://postgres:Zq7#k%zz@127.0.0.1:" + port + "/db"},
			leaks: []string{"Zq7", "k%zz"}, errWant: `invalid percent-encoded token: "****"`},
		{name: "slash", args: []string{"postgresql://postgres:Wv9x#y%41/Rt5tail@127.0.0.1:" + port + "/db"},
			leaks: []string{"Wv9", "Rt5"}, errWant: `invalid integer value "****" for connection option "port"`},
		{name: "decodes, wrong port", args: []string{"postgresql://postgres:Kp4%23%2F%25ok@127.0.0.1:" + port + "/db"},
			leaks: []string{"Kp4"}, errWant: "Connection refused"},
		{name: "key=value with quotes", args: []string{`host=127.0.0.1 port=` + port + ` password='Qm8 \'quoted\' pw' dbname=db`},
			leaks: []string{"Qm8", "quoted"}, errWant: "Connection refused"},
		{name: "PGPASSWORD with -h -U", args: []string{"-h", "127.0.0.1", "-p", port, "-U", "postgres", "db"},
			errWant: "Connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath, brokers := kafka(t)
			summary := filepath.Join(t.TempDir(), "summary.json")
			res := runCLI(t, context.Background(), append([]string{"--config", cfgPath, "--name", "redaction " + envSecret,
				"--summary-json", summary, "--", "-c", "1", "-T", "2"}, tc.args...)...)
			if res.code != ExitFailed {
				t.Fatalf("exit %d, want %d (pgbench could not connect)", res.code, ExitFailed)
			}
			sum, err := os.ReadFile(summary)
			if err != nil {
				t.Fatal(err)
			}
			runID := runIDOf(t, res.stdout)
			raw := strings.Join(rawRecords(t, brokers, 2), "\n")
			recs := runRecords(t, brokers, runID)
			started, _, fin := checkRunShape(t, recs)
			decoded, _ := json.Marshal(recs)
			where := map[string]string{"stdout": res.stdout, "stderr": res.stderr, "--summary-json": string(sum),
				"raw records": raw, "decoded records": string(decoded), "runs.parameters": string(started.Parameters),
				"runs.target": started.Target.URL, "runs.error": fin.Error}
			for place, text := range where {
				for _, leak := range append(tc.leaks, envSecret) {
					if strings.Contains(text, leak) {
						t.Errorf("%s holds %q:\n%s", place, leak, text)
					}
				}
			}
			if fin.Status != schema.StatusFailed || !strings.Contains(fin.Error, "pgbench exited with status 1") || !strings.Contains(fin.Error, tc.errWant) {
				t.Errorf("runs.error %q, want pgbench's error with %q", fin.Error, tc.errWant)
			}
			if started.Name != "redaction "+schema.Mask {
				t.Errorf("runs.name %q", started.Name)
			}
			var s SummaryFile
			if err := json.Unmarshal(sum, &s); err != nil || s.Error != fin.Error || s.RunID != runID {
				t.Errorf("--summary-json error %q (%v), want the record's %q", s.Error, err, fin.Error)
			}
		})
	}
}
