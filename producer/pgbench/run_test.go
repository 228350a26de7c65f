package pgbench

import (
	"bufio"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// loggedTx is one line of a kept per-transaction log, read without the package's parser so that the test
// checks the producer against the file itself.
type loggedTx struct {
	endUs int64
	latUs int64 // -1 for a transaction that did not succeed
}

func readKeptLogs(t *testing.T, dir string) []loggedTx {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "pgbench_log.*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no log files in %s: %v", dir, err)
	}
	var out []loggedTx
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			c := strings.Fields(sc.Text()) // client_id transaction_no latency_us script_no epoch_s epoch_us
			if len(c) != 6 {
				t.Fatalf("%s: %q", name, sc.Text())
			}
			sec, _ := strconv.ParseInt(c[4], 10, 64)
			usec, _ := strconv.ParseInt(c[5], 10, 64)
			lat, err := strconv.ParseInt(c[2], 10, 64)
			if err != nil {
				lat = -1
			}
			out = append(out, loggedTx{endUs: sec*1e6 + usec, latUs: lat})
		}
		f.Close()
	}
	return out
}

func readSummaryFile(t *testing.T, path string) (SummaryFile, runExtra) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s SummaryFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	var e runExtra
	if len(s.Extra) > 0 {
		if err := json.Unmarshal(s.Extra, &e); err != nil {
			t.Fatalf("extra: %v\n%s", err, s.Extra)
		}
	}
	return s, e
}

// TestRunExactPercentiles runs -c 4 -j 2 -T 5 on a scale-1 database and checks every sample against the
// per-transaction log itself.
func TestRunExactPercentiles(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	cfgPath, brokers := kafka(t)
	summaryPath := filepath.Join(t.TempDir(), "summary.json")
	res := runCLI(t, context.Background(), "--config", cfgPath, "--keep-logs", "--summary-json", summaryPath,
		"--name", "exact", "--tag", "case=exact", "--", "-c", "4", "-j", "2", "-T", "5", dbURL)
	if res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	sum, extra := readSummaryFile(t, summaryPath)
	t.Cleanup(func() { os.RemoveAll(sum.LogDir) })
	for _, want := range []string{" measure | tps ", "/s | p99 ", "number of transactions actually processed:", "Summary", "all transactions", "records: delivered", "per-transaction logs kept in " + sum.LogDir} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("stdout lacks %q", want)
		}
	}
	if !strings.Contains(res.stderr, "starting vacuum...end.") {
		t.Errorf("pgbench's own stderr lines are not passed on:\n%s", res.stderr)
	}

	recs := runRecords(t, brokers, sum.RunID)
	started, samples, fin := checkRunShape(t, recs)
	dbName := dbURL[strings.LastIndex(dbURL, "/")+1 : strings.Index(dbURL, "?")]
	if started.Kind != "pgbench" || started.Name != "exact" || started.Tags["case"] != "exact" || started.Tags["site"] != "lab" ||
		started.Target.Host != "127.0.0.1" || started.Target.Port == 0 || started.Target.Database != dbName ||
		!strings.HasPrefix(started.Target.Version, "15") || !strings.HasPrefix(started.Tools["pgbench"], "15.") ||
		started.Host.Hostname != "pgbench-test-device" || started.Tags["device"] != "pgbench-test-device" { // producer.device wins
		t.Errorf("run_started %+v", started)
	}
	var params parameters
	if err := json.Unmarshal(started.Parameters, &params); err != nil || params.Clients != 4 || params.Threads != 2 ||
		params.DurationS != 5 || params.LatencySource != "per-transaction log" || strings.Join(params.Added, " ") != "-P 1 --progress-timestamp -l --log-prefix <private-log-dir>/pgbench_log" ||
		strings.Contains(string(started.Parameters), sum.LogDir) {
		t.Errorf("parameters %s: %v", started.Parameters, err)
	}

	// One sample per second: pgbench -T 5 -P 1 reports at 1, 2, 3, 4 and 5 s (the last when -T runs out), and
	// the transactions still in flight then end a few milliseconds later and join the fifth sample. Were the
	// last report missing, those last ~1 s would form the fifth sample instead: 5 either way. The first sample
	// starts when pgbench's benchmark clock does (one interval before its first report), so connection time is
	// inside it, as in pgbench's own first progress line. Only a stall that makes pgbench skip a report makes
	// one sample span two seconds, and then there are 4 (checkOneSamplePerSecond tells).
	checkOneSamplePerSecond(t, samples, 5)
	each, _ := intervalsOf(samples)
	if sum.Samples != len(samples) || sum.Status != schema.StatusOK || fin.Status != schema.StatusOK || fin.Summary == nil {
		t.Fatalf("summary file %+v, run_finished %+v", sum, fin)
	}
	var total int64
	for i, s := range samples {
		total += s.Ops
		d := s.End.Sub(s.Start).Seconds()
		if s.Phase != schema.PhaseMeasure || s.Pgbench == nil || s.Latency == nil || s.Errors != 0 {
			t.Fatalf("sample %d: %+v", i+1, s)
		}
		if i > 0 && !s.Start.Equal(samples[i-1].End) {
			t.Errorf("sample %d starts at %v, the previous ended at %v", i+1, s.Start, samples[i-1].End)
		}
		if i < len(samples)-1 && math.Abs(d-float64(each[i])) > 0.2 {
			t.Errorf("sample %d lasts %.3f s", i+1, d)
		}
		// The interval is pgbench's, so its count matches the tps pgbench printed for it (up to the few
		// transactions pgbench counts a moment before it logs them).
		if want := s.Pgbench.TPS * d; math.Abs(float64(s.Ops)-want) > max(5, 0.02*want) && i < len(samples)-1 {
			t.Errorf("sample %d: %d transactions in %.3f s, pgbench's progress line says %.1f tps", i+1, s.Ops, d, s.Pgbench.TPS)
		}
	}
	if extra.Pgbench == nil || total != extra.Pgbench.Processed || total != extra.WholeRun.OK || total != sum.Totals.OK || total != fin.Summary.Ops {
		t.Fatalf("transactions: samples %d, whole run %d, measured %d, run_finished %d, pgbench %+v", total, extra.WholeRun.OK, sum.Totals.OK, fin.Summary.Ops, extra.Pgbench)
	}
	if len(extra.Disagreements) > 0 || extra.LogTruncated || extra.LateTransactions != 0 || extra.UnparsedLogLines != 0 {
		t.Errorf("extra: %+v", extra)
	}
	if fin.Summary.Pgbench == nil || math.Abs(fin.Summary.Pgbench.TPS-fin.Summary.OpsRate) > 1e-9 || fin.Summary.Pgbench.StddevMs <= 0 {
		t.Errorf("summary pgbench figures %+v", fin.Summary.Pgbench)
	}

	// Recompute every percentile from the kept log files: sort each sample's latencies.
	logged := readKeptLogs(t, sum.LogDir)
	if int64(len(logged)) != total {
		t.Fatalf("%d lines in the log files, %d transactions in the samples", len(logged), total)
	}
	var all []int64
	for i, s := range samples {
		var lats []int64
		from, to := s.Start.UnixMicro(), s.End.UnixMicro()
		for _, tx := range logged {
			if tx.endUs > from && tx.endUs <= to && tx.latUs >= 0 {
				lats = append(lats, tx.latUs)
			}
		}
		if int64(len(lats)) != s.Ops {
			t.Errorf("sample %d: %d transactions, %d in the log between its start and end", i+1, s.Ops, len(lats))
		}
		checkLatency(t, "sample "+strconv.Itoa(i+1), s.Latency, lats)
		all = append(all, lats...)
	}
	checkLatency(t, "run", fin.Summary.Latency, all)
	if *extra.WholeRun.LatencyAvgMs-*extra.Pgbench.LatencyAvgMs > 0.002 {
		t.Errorf("mean %v, pgbench %v", *extra.WholeRun.LatencyAvgMs, *extra.Pgbench.LatencyAvgMs)
	}
}

// TestRunFailures: pgbench's exit status is passed on and the run is recorded as failed with pgbench's error.
func TestRunFailures(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	script := filepath.Join(t.TempDir(), "div.sql")
	if err := os.WriteFile(script, []byte("SELECT 1/0;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath, brokers := kafka(t)
	for _, tc := range []struct {
		name     string
		args     []string
		code     int
		errWants []string
		summary  bool
	}{
		{name: "script fails", args: []string{"-c", "2", "-T", "5", "-f", script, dbURL}, code: 2, summary: true,
			errWants: []string{"pgbench exited with status 2", "division by zero", "Run was aborted"}},
		{name: "server unreachable", args: []string{"-c", "2", "-T", "5", "-h", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "-U", "postgres", "postgres"}, code: 1,
			errWants: []string{"pgbench exited with status 1", "Connection refused", "Is the server running"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := runCLI(t, context.Background(), append([]string{"--config", cfgPath, "--"}, tc.args...)...)
			if res.code != tc.code {
				t.Fatalf("exit %d, want pgbench's %d", res.code, tc.code)
			}
			_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
			if fin.Status != schema.StatusFailed || len(samples) != 0 || (fin.Summary != nil) != tc.summary {
				t.Fatalf("run_finished %+v with %d samples", fin, len(samples))
			}
			for _, want := range tc.errWants {
				if !strings.Contains(fin.Error, want) {
					t.Errorf("error %q lacks %q", fin.Error, want)
				}
			}
			if tc.summary {
				var e runExtra
				if err := json.Unmarshal(fin.Summary.Extra, &e); err != nil || e.Pgbench == nil || !e.Pgbench.Aborted || e.Pgbench.Processed != 0 || e.PgbenchExitCode != 2 {
					t.Errorf("extra %s: %v", fin.Summary.Extra, err)
				}
			}
		})
	}
}

// TestRunServerStopsMidRun stops PostgreSQL while pgbench runs: pgbench's clients abort (exit 2), the run is
// recorded as failed, and the samples up to then are kept.
func TestRunServerStopsMidRun(t *testing.T) {
	pg := testenv.OwnPostgres(t)
	initDB(t, pg.URL("postgres"), 1)
	cfgPath, brokers := kafka(t)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- Run(context.Background(), []string{"--config", cfgPath, "--", "-c", "4", "-j", "2", "-T", "60", pg.URL("postgres")}, &stdout, &stderr)
	}()
	waitOutput(t, &stdout, " measure | tps ", 2, 30*time.Second)
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	var code int
	select {
	case code = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("Run did not return after the server stopped\n%s\n%s", stdout.String(), stderr.String())
	}
	t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	if code != 2 {
		t.Fatalf("exit %d, want pgbench's 2", code)
	}
	_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, stdout.String())))
	if fin.Status != schema.StatusFailed || !strings.Contains(fin.Error, "Run was aborted") || fin.Summary == nil {
		t.Fatalf("run_finished %+v", fin)
	}
	var ops int64
	for _, s := range samples {
		ops += s.Ops
	}
	if len(samples) < 2 || samples[0].Ops == 0 || samples[1].Ops == 0 || fin.Summary.Ops != ops {
		t.Fatalf("%d samples with %d transactions, summary %d", len(samples), ops, fin.Summary.Ops)
	}
	var e runExtra
	if err := json.Unmarshal(fin.Summary.Extra, &e); err != nil || e.Pgbench == nil || e.Pgbench.Processed != ops || len(e.Disagreements) > 0 {
		t.Errorf("extra %s: %v", fin.Summary.Extra, err)
	}
}

// TestRunWarmup: samples that start within --warmup are warm-up samples, excluded from the summary; pgbench's
// own summary, which covers the whole run, is compared with the whole run.
func TestRunWarmup(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	cfgPath, brokers := kafka(t)
	summaryPath := filepath.Join(t.TempDir(), "summary.json")
	res := runCLI(t, context.Background(), "--config", cfgPath, "--warmup", "2s", "--summary-json", summaryPath, "--", "-c", "2", "-T", "4", dbURL)
	if res.code != ExitOK || !strings.Contains(res.stdout, "warm-up") || !strings.Contains(res.stdout, "warm-up samples excluded") {
		t.Fatalf("exit %d", res.code)
	}
	sum, extra := readSummaryFile(t, summaryPath)
	_, samples, fin := checkRunShape(t, runRecords(t, brokers, sum.RunID))
	checkOneSamplePerSecond(t, samples, 4)
	var warm, measured int64
	var warmSamples int
	firstMeasure := -1
	elapsed := 0
	for i, s := range samples {
		wantPhase := schema.PhaseMeasure
		if elapsed < 2 { // the sample starts within the warm-up
			wantPhase = schema.PhaseWarmup
			warm += s.Ops
			warmSamples++
		} else {
			measured += s.Ops
			if firstMeasure < 0 {
				firstMeasure = i
			}
		}
		if s.Phase != wantPhase {
			t.Errorf("sample %d: phase %s", i+1, s.Phase)
		}
		n, _ := intervalsOf([]*schema.Sample{s})
		elapsed += n[0]
	}
	if firstMeasure < 0 || fin.Summary.Ops != measured || sum.Totals.OK != measured || extra.Measured.OK != measured || extra.WarmupSamples != warmSamples ||
		!fin.Summary.Start.Equal(samples[firstMeasure].Start) || !fin.Summary.End.Equal(samples[len(samples)-1].End) {
		t.Errorf("summary %+v over %v–%v; measured %d", fin.Summary.Figures, fin.Summary.Start, fin.Summary.End, measured)
	}
	if extra.WholeRun.OK != warm+measured || extra.Pgbench.Processed != warm+measured || len(extra.Disagreements) > 0 {
		t.Errorf("whole run %+v, pgbench %+v, disagreements %q", extra.WholeRun, extra.Pgbench, extra.Disagreements)
	}
	if res := runCLI(t, context.Background(), "--config", cfgPath, "--warmup", "5s", "--", "-T", "5", dbURL); res.code != ExitUsage ||
		!strings.Contains(res.stderr, "leaves nothing to measure") {
		t.Errorf("--warmup ≥ -T: exit %d", res.code)
	}
}

// TestRunInitScale: --init-scale runs pgbench -i -s N first, as a phase of the run; a failing init fails it.
func TestRunInitScale(t *testing.T) {
	dbURL := testenv.DatabaseURL(t) // empty: the init phase creates the tables
	cfgPath, brokers := kafka(t)
	summaryPath := filepath.Join(t.TempDir(), "summary.json")
	res := runCLI(t, context.Background(), "--config", cfgPath, "--init-scale", "2", "--summary-json", summaryPath, "--", "-c", "1", "-T", "2", dbURL)
	if res.code != ExitOK || !strings.Contains(res.stdout, "phase init: pgbench -i -s 2 -- "+schema.RedactURL(dbURL)) ||
		!strings.Contains(res.stdout, "phase init done") || !strings.Contains(res.stderr, "creating primary keys") {
		t.Fatalf("exit %d", res.code)
	}
	sum, extra := readSummaryFile(t, summaryPath)
	if extra.Init == nil || extra.Init.Scale != 2 || extra.Init.Seconds <= 0 || extra.Pgbench == nil || extra.Pgbench.ScalingFactor != 2 {
		t.Errorf("init %+v, pgbench %+v", extra.Init, extra.Pgbench)
	}
	started, _, _ := checkRunShape(t, runRecords(t, brokers, sum.RunID))
	var p parameters
	if err := json.Unmarshal(started.Parameters, &p); err != nil || p.InitScale != 2 {
		t.Errorf("parameters %s", started.Parameters)
	}

	res = runCLI(t, context.Background(), "--config", cfgPath, "--init-scale", "1", "--", "-T", "2", "-h", "127.0.0.1", "-p", strconv.Itoa(freePort(t)), "postgres")
	if res.code != 1 {
		t.Fatalf("failing init: exit %d", res.code)
	}
	_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
	if fin.Status != schema.StatusFailed || len(samples) != 0 || !strings.HasPrefix(fin.Error, "init failed: pgbench -i exited with status 1") ||
		!strings.Contains(fin.Error, "Connection refused") {
		t.Errorf("run_finished %+v", fin)
	}
}

// TestRunInterrupted: SIGTERM (or the caller's context) stops pgbench, and the run is recorded as aborted.
func TestRunInterrupted(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	cfgPath, brokers := kafka(t)
	for _, how := range []string{"SIGTERM", "context"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var stdout, stderr syncBuffer
			done := make(chan int, 1)
			go func() {
				done <- Run(ctx, []string{"--config", cfgPath, "--", "-c", "2", "-T", "60", dbURL}, &stdout, &stderr)
			}()
			// Run has caught SIGTERM before it prints anything, so the signal cannot kill the test binary.
			waitOutput(t, &stdout, " measure | tps ", 1, 30*time.Second)
			if how == "SIGTERM" {
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			} else {
				cancel()
			}
			var code int
			select {
			case code = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not return")
			}
			t.Logf("stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
			if code != ExitAborted || !strings.Contains(stdout.String(), "status            aborted") {
				t.Fatalf("exit %d", code)
			}
			_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, stdout.String())))
			if fin.Status != schema.StatusAborted || len(samples) == 0 || fin.Summary == nil {
				t.Fatalf("run_finished %+v, %d samples", fin, len(samples))
			}
			var e runExtra
			if err := json.Unmarshal(fin.Summary.Extra, &e); err != nil || e.PgbenchSignal != "terminated" {
				t.Errorf("extra %s: %v", fin.Summary.Extra, err)
			}
		})
	}
}

// TestRunOwnLogOptions: the user's own logging options are honoured, and what they cost is said.
func TestRunOwnLogOptions(t *testing.T) {
	dbURL := testenv.DatabaseURL(t)
	initDB(t, dbURL, 1)
	cfgPath, brokers := kafka(t)
	dir := t.TempDir()
	t.Run("own -l and --log-prefix: followed and kept", func(t *testing.T) {
		prefix := filepath.Join(dir, "mine")
		res := runCLI(t, context.Background(), "--config", cfgPath, "--", "-c", "2", "-j", "2", "-T", "2", "-l", "--log-prefix", prefix, dbURL)
		if res.code != ExitOK || !strings.Contains(res.stderr, "following your own per-transaction log "+prefix) {
			t.Fatalf("exit %d", res.code)
		}
		_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
		files, _ := filepath.Glob(prefix + ".*")
		checkOneSamplePerSecond(t, samples, 2)
		if samples[0].Latency == nil || fin.Summary.Latency == nil || len(files) != 2 {
			t.Fatalf("%d samples, files %q", len(samples), files)
		}
		var e runExtra
		if err := json.Unmarshal(fin.Summary.Extra, &e); err != nil || len(e.Disagreements) > 0 || e.LatencySource != "per-transaction log" {
			t.Errorf("extra %s", fin.Summary.Extra)
		}
	})
	t.Run("--aggregate-interval: no percentiles", func(t *testing.T) {
		res := runCLI(t, context.Background(), "--config", cfgPath, "--", "-c", "2", "-T", "2", "-l", "--aggregate-interval", "1", "--log-prefix", filepath.Join(dir, "agg"), dbURL)
		if res.code != ExitOK || !strings.Contains(res.stderr, "no latency percentiles") {
			t.Fatalf("exit %d", res.code)
		}
		_, samples, fin := checkRunShape(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
		checkOneSamplePerSecond(t, samples, 2)
		if samples[0].Latency != nil || samples[0].Ops == 0 || samples[0].Pgbench.TPS == 0 || fin.Summary.Latency != nil || fin.Summary.Ops == 0 {
			t.Fatalf("samples %+v, summary %+v", samples, fin.Summary)
		}
		// Without a per-transaction log the samples come from progress lines, and pgbench prints none for the
		// interval it ends in: the samples must still hold every transaction pgbench counted (to the rounding of
		// tps × interval, one transaction per sample).
		sum, err := ParseSummary(strings.NewReader(res.stdout))
		if err != nil {
			t.Fatal(err)
		}
		var ops int64
		for _, s := range samples {
			ops += s.Ops
		}
		if d := ops - sum.Processed; d < -int64(len(samples)) || d > int64(len(samples)) || fin.Summary.Ops != ops {
			t.Fatalf("samples hold %d transactions, the summary %d; pgbench processed %d", ops, fin.Summary.Ops, sum.Processed)
		}
	})
}
