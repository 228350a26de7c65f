package pgbench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/producer/recorder/recordertest"
	"github.com/benchpipe/benchpipe/schema"
)

// TestRunUsage: a mistake on the producer's command line gives one line with the cause and one pointing at --help,
// exit 2, before pgbench runs; pgbench's own options given without "--" say where they belong.
func TestRunUsage(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string // the first line of stderr, after "producer pgbench: "
	}{
		{[]string{"-c", "8", "-T", "60", "bench"}, `unknown flag -c: pgbench's own options go after --, e.g. producer pgbench -- -c 8 -T 60 bench`},
		{[]string{"--warmup", "5", "--", "-T", "60"}, `--warmup "5": missing unit (e.g. 5s, 2m)`},
		{[]string{"--init-scale", "ten"}, `--init-scale "ten": not a whole number`},
		{[]string{"--warmup", "-1s"}, `--warmup must not be negative`},
		{[]string{"--tag", "x"}, `--tag "x": "x" is not k=v`},
		{[]string{"--", "-i", "bench"}, `-i initialises instead of benchmarking: use --init-scale N (it runs pgbench -i -s N before the run), or run pgbench -i yourself`},
	} {
		var stdout, stderr bytes.Buffer
		code := Run(context.Background(), append([]string{"--config", empty}, tc.args...), &stdout, &stderr)
		want := "producer pgbench: " + tc.want + "\nRun 'producer pgbench --help' for usage.\n"
		if code != ExitUsage || stderr.String() != want || stdout.Len() != 0 {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 2 and:\n%s", tc.args, code, stderr.String(), want)
		}
	}
}

func TestHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"--help"}, &stdout, &stderr); code != ExitOK || stderr.Len() != 0 {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	for _, want := range []string{"Usage: producer pgbench [flags] -- [pgbench options] [dbname]",
		"  --warmup D\n", "(rounded up to whole progress intervals) (default 0s)\n",
		"  --init-scale N\n", "as a phase of the run (default 0)\n", "PGPASSWORD=secret producer pgbench",
		"  --spool-dir directory\n    \tspool directory for the run's records (default producer.spool_dir from the configuration)\n"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, stdout.String())
		}
	}
}

// fullSpoolConfig writes a configuration whose spool is full and returns its path: producer.spool_max_bytes is
// the smallest allowed (1 MiB), Kafka is not there (nothing listens at kafka.brokers), and the spool already holds
// as many undelivered values as it takes, so that a publisher opened on it refuses even a value of a few bytes.
// Every record of the next run is refused with "spool is full" but run_finished, which may use the space the
// spool keeps for it.
func fullSpoolConfig(t *testing.T) string {
	t.Helper()
	path := writeConfig(t, []string{fmt.Sprintf("127.0.0.1:%d", freePort(t))})
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(b, "  spool_max_bytes: 1MiB\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	recordertest.FillSpool(t, path)
	return path
}

// notSavedLine is the recorder's account on stdout of the records it could not save.
var notSavedLine = regexp.MustCompile(`(?m)^records: (\d+) records? of (\d+) NOT SAVED`)

// TestRunSummaryJSONOutcome: --summary-json is written once the run's records are closed and tells the run's
// final outcome. A run whose records are all saved tells pgbench's: ok and exit_code 0, or pgbench's failure and
// exit status; records_not_saved is 0 and there all the same. A run whose spool is full (every record refused but
// run_finished) tells what the exit status says: an ok pgbench run is failed with recorder.ExitNotSaved,
// records_not_saved is the exact count the recorder reported and the error names it; a failed pgbench run keeps
// pgbench's status and error, which adds the count.
func TestRunSummaryJSONOutcome(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	cfgPath, brokers := kafka(t)
	unreachable := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-U", "postgres", "postgres"}
	const refused = "pgbench exited with status 1: "
	for _, tc := range []struct {
		name      string
		fullSpool bool
		args      []string
		code      int
		status    schema.Status
		errPrefix string // the error before the count of records not saved, if any
		minTotal  int    // records the run makes at least
	}{
		{name: "ok", args: []string{dbURL}, code: ExitOK, status: schema.StatusOK},
		{name: "pgbench fails", args: unreachable, code: ExitFailed, status: schema.StatusFailed, errPrefix: refused},
		{name: "records not saved", fullSpool: true, args: []string{dbURL}, code: recorder.ExitNotSaved, status: schema.StatusFailed,
			minTotal: 4}, // run_started, 2 samples or more, run_finished
		{name: "pgbench fails, records not saved", fullSpool: true, args: unreachable, code: ExitFailed, status: schema.StatusFailed,
			errPrefix: refused, minTotal: 2}, // run_started, run_finished
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--config", cfgPath}
			if tc.fullSpool {
				args = []string{"--config", fullSpoolConfig(t)}
			}
			summary := filepath.Join(t.TempDir(), "summary.json")
			args = append(args, "--summary-json", summary, "--", "-c", "1", "-T", "2")
			res := runCLI(t, context.Background(), append(args, tc.args...)...)
			if res.code != tc.code {
				t.Errorf("exit %d, want %d", res.code, tc.code)
			}
			got := recordertest.ReadFinal(t, summary)
			if got.Status != tc.status || got.ExitCode != tc.code || !strings.HasPrefix(got.Error, tc.errPrefix) {
				t.Errorf("summary file outcome %+v, want status %s, exit_code %d, error %q…", got, tc.status, tc.code, tc.errPrefix)
			}
			m := notSavedLine.FindStringSubmatch(res.stdout)
			if !tc.fullSpool {
				if m != nil || got.RecordsNotSaved != 0 || (tc.errPrefix == "" && got.Error != "") {
					t.Errorf("every record was saved, yet: summary file outcome %+v, stdout %q", got, m)
				}
				if recs := runRecords(t, brokers, runIDOf(t, res.stdout)); recs[len(recs)-1].Finished.Error != got.Error {
					t.Errorf("summary file error %q, run_finished's %q", got.Error, recs[len(recs)-1].Finished.Error)
				}
				return
			}
			if m == nil || !strings.Contains(res.stderr, "records are not being saved: publish run_started record 0 of run ") ||
				!strings.Contains(res.stderr, ": spool is full: ") {
				t.Fatalf("want every record refused by the full spool from run_started on, and stdout saying how many")
			}
			n, _ := strconv.Atoi(m[1])
			if total, _ := strconv.Atoi(m[2]); total < tc.minTotal || n != total-1 {
				t.Fatalf("%d records of %d not saved; want all but run_finished, of %d or more", n, total, tc.minTotal)
			}
			noun := "records"
			if n == 1 {
				noun = "record"
			}
			note := fmt.Sprintf("%d %s of this run not saved to the producer's spool", n, noun)
			wantErr := note
			if tc.errPrefix != "" {
				if !strings.HasSuffix(got.Error, "; "+note) || !strings.Contains(got.Error, "Connection refused") {
					t.Errorf("summary file error %q: want pgbench's, then %q", got.Error, "; "+note)
				}
				wantErr = got.Error
			}
			if got.RecordsNotSaved != n || got.Error != wantErr {
				t.Errorf("summary file outcome %+v, want records_not_saved %d and error %q", got, n, wantErr)
			}
			if tc.errPrefix == "" {
				sum, extra := readSummaryFile(t, summary)
				if sum.Samples == 0 || sum.Totals.OK == 0 || extra.PgbenchExitCode != 0 || sum.RunID != runIDOf(t, res.stdout) {
					t.Errorf("the measurement's figures are missing from the summary file: %+v", sum)
				}
			}
		})
	}
}
