package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// producerCmd runs the producer (this test binary as the child) with args and returns its stdout, stderr and exit
// status.
func producerCmd(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), env...), envChildArgs+"="+strings.Join(args, "\x1f"))
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	// The child prints "exit N" last (see TestMain); it is not the producer's output.
	return strings.TrimSuffix(out.String(), "exit "+strconv.Itoa(cmd.ProcessState.ExitCode())+"\n"), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestUsageErrors: every subcommand answers a mistake on its command line the same way: one line with the cause,
// one pointing at --help, exit 2, nothing on stdout.
func TestUsageErrors(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.yaml")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mqtt", "--duration", "5"}, "producer mqtt: --duration \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer mqtt --help' for usage.\n"},
		{[]string{"pgbench", "-c", "8", "-T", "60", "bench"}, "producer pgbench: unknown flag -c: pgbench's own options go after --, e.g. producer pgbench -- -c 8 -T 60 bench\nRun 'producer pgbench --help' for usage.\n"},
		{[]string{"compare", "--wait", "5", "--baseline", "last", "01937d3c-0000-7000-8000-000000000000"}, "producer compare: --wait \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer compare --help' for usage.\n"},
		{[]string{"history", "--timeout", "5", "01937d3c-0000-7000-8000-000000000000"}, "producer history: --timeout \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer history --help' for usage.\n"},
		{[]string{"agent", "--heartbeat", "5s"}, "producer agent: unknown flag --heartbeat\nRun 'producer agent --help' for usage.\n"},
		{[]string{"launch", "--expires", "5", "--all", "mqtt"}, "producer launch: --expires \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer launch --help' for usage.\n"},
		{[]string{"launch", "--all", "mqtt", "--duration", "5"}, "producer launch … mqtt: --duration \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer launch … mqtt --help' for usage.\n"},
		{[]string{"jobs", "--limit", "x"}, "producer jobs: --limit \"x\": not a whole number\nRun 'producer jobs --help' for usage.\n"},
		{[]string{"history", "--kind", "mqtt"}, "producer history: want a run id, or --kind and --device (both)\nRun 'producer history --help' for usage.\n"},
		{[]string{"spool", "flush", "--timeout", "5"}, "producer spool flush: --timeout \"5\": missing unit (e.g. 5s, 2m)\nRun 'producer spool flush --help' for usage.\n"},
		{[]string{"spool", "status", "--jason"}, "producer spool status: unknown flag --jason (did you mean --json?)\nRun 'producer spool status --help' for usage.\n"},
		{[]string{"mqttt"}, "producer: unknown command \"mqttt\" (mqtt, pgbench, compare, history, spool, observe, agent, launch or jobs)\nRun 'producer --help' for usage.\n"},
	} {
		stdout, stderr, code := producerCmd(t, []string{"BENCHPIPE_CONFIG=" + empty}, tc.args...)
		if code != 2 || stderr != tc.want || stdout != "" {
			t.Errorf("producer %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2 and stderr:\n%s", strings.Join(tc.args, " "), code, stdout, stderr, tc.want)
		}
	}
	var stdout, stderr strings.Builder // no arguments: the child switch needs some, so in this process
	if code := run(context.Background(), nil, &stdout, &stderr); code != 2 || stdout.Len() != 0 ||
		stderr.String() != "producer: missing command: mqtt, pgbench, compare, history, spool, observe, agent, launch or jobs\nRun 'producer --help' for usage.\n" {
		t.Errorf("producer: exit %d, stderr:\n%s", code, stderr.String())
	}
}

// TestExampleConfig: the example file holds the sink's ${DATABASE_URL}; the producer reads no sink settings, so
// the file is good for it without that variable. Each command is stopped by a usage check made after the
// configuration is loaded, so nothing runs.
func TestExampleConfig(t *testing.T) {
	example, err := filepath.Abs("../config/benchpipe.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"DATABASE_URL=", "KAFKA_BROKERS=", "PERFTARGET_PASSWORD="}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"mqtt", "--config", example, "--size", "10"},
			"producer mqtt: size must be ≥ 40 bytes (the header carrying publisher, sequence number and send times), got 10\nRun 'producer mqtt --help' for usage.\n"},
		{[]string{"pgbench", "--config", example, "--", "-i", "bench"},
			"producer pgbench: -i initialises instead of benchmarking: use --init-scale N (it runs pgbench -i -s N before the run), or run pgbench -i yourself\nRun 'producer pgbench --help' for usage.\n"},
		{[]string{"compare", "--config", example, "01937d3c-0000-7000-8000-000000000000", "01937d3c-0000-7000-8000-000000000001"},
			"producer compare: usage: no GraphQL endpoint: set graphql.url in the configuration (e.g. http://server/v1/graphql) or pass --url\n"},
		{[]string{"history", "--config", example, "01937d3c-0000-7000-8000-000000000000"},
			"producer history: usage: no GraphQL endpoint: set graphql.url in the configuration (e.g. http://server/v1/graphql) or pass --url\n"},
	} {
		stdout, stderr, code := producerCmd(t, env, tc.args...)
		if code != 2 || stderr != tc.want || stdout != "" {
			t.Errorf("producer %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 2 and stderr:\n%s", strings.Join(tc.args, " "), code, stdout, stderr, tc.want)
		}
	}
	spool := t.TempDir()
	stdout, stderr, code := producerCmd(t, env, "spool", "status", "--config", example, "--spool-dir", spool)
	if code != 0 || !strings.Contains(stdout, spool) {
		t.Errorf("producer spool status: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
}

// TestConfigProblemsAllAtOnce: an unknown key, a value of the wrong type and an invalid value are reported together,
// each with file:line, the same way by every subcommand.
func TestConfigProblemsAllAtOnce(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	src := "kafka:\n  brokers: [nocolon]\nproducer:\n  spool_dirr: /tmp/x\ngraphql:\n  timeout: soon\n"
	if err := os.WriteFile(bad, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	problems := bad + ":2: kafka.brokers[0]: \"nocolon\" is not host:port\n" +
		bad + ":4: producer.spool_dirr: unknown key (known keys here: topic, spool_dir, spool_max_bytes, device, tags, pgbench)\n" +
		bad + ":6: graphql.timeout: cannot unmarshal !!str `soon` into time.Duration\n"
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"mqtt", "--config", bad}, 2, "producer mqtt: 3 problems in the configuration:\n" + problems},
		{[]string{"pgbench", "--config", bad, "--", "-T", "1"}, 2, "producer pgbench: 3 problems in the configuration:\n" + problems},
		{[]string{"spool", "status", "--config", bad}, 1, "producer spool status: 3 problems in the configuration:\n" + problems},
		// compare reads only graphql: kafka's values are not its business, the file's shape is.
		{[]string{"compare", "--config", bad, "01937d3c-0000-7000-8000-000000000000", "01937d3c-0000-7000-8000-000000000001"}, 2,
			"producer compare: 2 problems in the configuration:\n" + problems[strings.Index(problems, "\n")+1:]},
		{[]string{"history", "--config", bad, "01937d3c-0000-7000-8000-000000000000"}, 2,
			"producer history: 2 problems in the configuration:\n" + problems[strings.Index(problems, "\n")+1:]},
	} {
		stdout, stderr, code := producerCmd(t, nil, tc.args...)
		if code != tc.code || stderr != tc.want || stdout != "" {
			t.Errorf("producer %s: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit %d and stderr:\n%s", strings.Join(tc.args, " "), code, stdout, stderr, tc.code, tc.want)
		}
	}
}
