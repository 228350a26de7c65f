package pgbench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const recordsTopic = "benchpipe.records"

// pgbenchBin returns the real pgbench the tests run: /usr/bin/pgbench (Debian's wrapper, which execs the
// newest installed version), else pgbench on PATH.
func pgbenchBin(t testing.TB) string {
	t.Helper()
	return testenv.Tool(t, "pgbench", "apt-get install -y postgresql-contrib")
}

// initDB runs pgbench -i -s scale on the database.
func initDB(t testing.TB, dbURL string, scale int) {
	t.Helper()
	cmd := exec.Command(pgbenchBin(t), "-i", "-q", "-s", fmt.Sprint(scale), dbURL)
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
}

// writeConfig writes a configuration file; with brokers, records go to that Kafka cluster through a spool in a
// temporary directory.
func writeConfig(t testing.TB, brokers []string) string {
	t.Helper()
	dir := t.TempDir()
	yaml := fmt.Sprintf("producer:\n  spool_dir: %q\n  device: pgbench-test-device\n  tags: {site: lab}\n  pgbench:\n    path: %q\n", filepath.Join(dir, "spool"), pgbenchBin(t))
	if len(brokers) > 0 {
		yaml = fmt.Sprintf("kafka:\n  brokers: [%q]\n", brokers[0]) + yaml
	}
	path := filepath.Join(dir, "benchpipe.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kafka starts kfake with the records topic and returns a configuration pointing at it.
func kafka(t testing.TB) (cfgPath string, brokers []string) {
	t.Helper()
	_, brokers = testenv.Kafka(t, kfake.SeedTopics(1, recordsTopic))
	return writeConfig(t, brokers), brokers
}

// syncBuffer is a bytes.Buffer that a test may read while Run writes to it.
type syncBuffer = testenv.Buffer

// waitOutput waits until out contains want n times.
func waitOutput(t testing.TB, out *syncBuffer, want string, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for strings.Count(out.String(), want) < n {
		if time.Now().After(deadline) {
			t.Fatalf("no %d× %q in the output within %v:\n%s", n, want, timeout, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cliResult is one Run's exit code and output.
type cliResult struct {
	code           int
	stdout, stderr string
}

func runCLI(t testing.TB, ctx context.Context, args ...string) cliResult {
	t.Helper()
	var stdout, stderr syncBuffer
	code := Run(ctx, args, &stdout, &stderr)
	r := cliResult{code, stdout.String(), stderr.String()}
	t.Logf("producer pgbench %s\nexit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, r.stdout, r.stderr)
	return r
}

// runRecords reads the records of one run from Kafka, in order, up to its run_finished record.
func runRecords(t testing.TB, brokers []string, runID uuid.UUID) []schema.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(recordsTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var out []schema.Record
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("run %s: no run_finished record within 15 s; have %d records", runID, len(out))
		}
		done := false
		fs.EachRecord(func(kr *kgo.Record) {
			r, err := schema.Decode(kr.Value)
			if err != nil {
				t.Fatalf("record does not decode: %v\n%s", err, kr.Value)
			}
			if r.RunID == runID {
				out = append(out, r)
				done = done || r.Type == schema.TypeRunFinished
			}
		})
		if done {
			return out
		}
	}
}

// rawRecords returns every record value in the topic, for searching them for secrets.
func rawRecords(t testing.TB, brokers []string, want int) []string {
	t.Helper()
	var out []string
	for _, kr := range testenv.Consume(t, brokers, recordsTopic, want, 10*time.Second) {
		out = append(out, string(kr.Value))
	}
	return out
}

// samplesOf returns the sample records of a run's records.
func samplesOf(recs []schema.Record) []*schema.Sample {
	var out []*schema.Sample
	for _, r := range recs {
		if r.Type == schema.TypeSample {
			out = append(out, r.Sample)
		}
	}
	return out
}

// checkRunShape asserts the record stream of one run: run_started, samples numbered 1…n, run_finished last.
func checkRunShape(t testing.TB, recs []schema.Record) (*schema.Started, []*schema.Sample, *schema.Finished) {
	t.Helper()
	if len(recs) < 2 || recs[0].Type != schema.TypeRunStarted || recs[len(recs)-1].Type != schema.TypeRunFinished {
		t.Fatalf("records: %d, want run_started … run_finished", len(recs))
	}
	for i, r := range recs {
		if r.Seq != int64(i) {
			t.Fatalf("record %d has seq %d", i, r.Seq)
		}
		if i > 0 && i < len(recs)-1 && r.Type != schema.TypeSample {
			t.Fatalf("record %d is %s", i, r.Type)
		}
	}
	return recs[0].Started, samplesOf(recs), recs[len(recs)-1].Finished
}

// intervalsOf returns how many progress intervals (seconds) each sample spans: 1, unless pgbench stalled and
// skipped a report, in which case the sample spans the skipped ones too, as pgbench's own progress line does.
// The last sample also holds the transactions in flight when -T ran out, a few milliseconds.
func intervalsOf(samples []*schema.Sample) (each []int, total int) {
	for _, s := range samples {
		n := int(s.End.Sub(s.Start).Seconds() + 0.4)
		each = append(each, n)
		total += n
	}
	return each, total
}

// checkOneSamplePerSecond asserts that a -T run of seconds s has one sample per progress interval: s samples,
// fewer only by reports pgbench skipped, each sample then spanning them.
func checkOneSamplePerSecond(t testing.TB, samples []*schema.Sample, seconds int) {
	t.Helper()
	each, total := intervalsOf(samples)
	skipped := total - len(samples)
	if total != seconds || len(samples) != seconds-skipped || len(samples) == 0 {
		for _, s := range samples {
			t.Logf("sample %v → %v: %d transactions", s.Start, s.End, s.Ops)
		}
		t.Fatalf("%d samples spanning %v intervals, want %d one-second samples", len(samples), each, seconds)
	}
	if skipped > 0 {
		t.Logf("pgbench skipped %d progress reports (a stall): samples span %v intervals", skipped, each)
	}
}

// freePort returns a loopback port nothing listens on.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runIDOf reads the run id from Run's first stdout line ("run <id>: …").
func runIDOf(t testing.TB, stdout string) uuid.UUID {
	t.Helper()
	rest, ok := strings.CutPrefix(stdout, "run ")
	if !ok || len(rest) < 36 {
		t.Fatalf("no run id in stdout:\n%s", stdout)
	}
	id, err := uuid.Parse(rest[:36])
	if err != nil {
		t.Fatalf("run id: %v", err)
	}
	return id
}
