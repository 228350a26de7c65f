package pgbench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
