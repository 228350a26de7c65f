package pgbench

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestMergedPercentilesMatchTheTransactionLog runs real pgbench through the producer, Kafka (kfake) and the sink
// into PostgreSQL, and checks the run's percentiles as the database merges them from the samples' histograms
// against pgbench's own per-transaction log, read here independently of the producer: equal to the HdrHistogram
// of every measured transaction's latency exactly, and within the histogram's precision of the exact order
// statistics of those latencies.
func TestMergedPercentilesMatchTheTransactionLog(t *testing.T) {
	benchURL := testenv.DatabaseURL(t)
	initDB(t, benchURL, 1)
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(2, recordsTopic), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	conn := startSink(t, brokers)

	logDir := t.TempDir()
	res := runCLI(t, context.Background(), "--config", writeConfig(t, brokers), "--name", "hist", "--warmup", "1s",
		"--keep-logs", "--log-dir", logDir, "--", "-c", "4", "-j", "2", "-T", "4", benchURL)
	if res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	runID := runIDOf(t, res.stdout)
	_, samples, _ := checkRunShape(t, runRecords(t, brokers, runID))

	deadline := time.Now().Add(20 * time.Second)
	for {
		var status string
		var n, merged int
		if err := conn.QueryRow(context.Background(), `SELECT coalesce((SELECT status FROM runs WHERE run_id = $1), ''),
			(SELECT count(*) FROM samples WHERE run_id = $1), (SELECT coalesce(sum(samples), 0) FROM samples_hist_1m WHERE run_id = $1)`,
			runID).Scan(&status, &n, &merged); err != nil {
			t.Fatal(err)
		}
		if status == "ok" && n == len(samples) && merged == len(samples) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: status %q, %d samples, %d merged after 20 s; want ok and %d", runID, status, n, merged, len(samples))
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The measured transactions, from pgbench's log files: those that ended after the warm-up (the last sample
	// also takes those that ended after pgbench's last progress report).
	var from time.Time
	for _, s := range samples {
		if s.Phase == schema.PhaseMeasure && from.IsZero() {
			from = s.Start
		}
	}
	lats := measuredLatencies(t, logDir, from)
	if len(lats) < 100 {
		t.Fatalf("%d measured transactions in the logs under %s", len(lats), logDir)
	}
	whole := schema.NewHist()
	for _, v := range lats {
		_ = whole.RecordValue(v)
	}
	var count int64
	var p50, p90, p99, p999, max float64
	if err := conn.QueryRow(context.Background(), `SELECT count, p50_ms, p90_ms, p99_ms, p999_ms, max_ms
		FROM run_latency_percentiles($1) WHERE series = 'latency'`, runID).Scan(&count, &p50, &p90, &p99, &p999, &max); err != nil {
		t.Fatal(err)
	}
	if count != int64(len(lats)) {
		t.Fatalf("merged histograms hold %d latencies, the logs %d measured transactions", count, len(lats))
	}
	sorted := slices.Clone(lats)
	slices.Sort(sorted)
	for _, c := range []struct {
		q   float64
		got float64
	}{{50, p50}, {90, p90}, {99, p99}, {99.9, p999}, {100, max}} {
		if want := float64(whole.ValueAtPercentile(c.q)) / 1000; c.got != want {
			t.Errorf("p%v = %v ms merged, %v ms from one histogram of the logged latencies", c.q, c.got, want)
		}
		exact := float64(sorted[exactRank(c.q, len(sorted))-1])
		if us := c.got * 1000; us < exact || us > exact+max1(exact/128) {
			t.Errorf("p%v = %v µs, exact order statistic of the log %v µs: outside the histogram's precision", c.q, us, exact)
		}
	}
}

func max1(x float64) float64 { return max(x, 1) }

// measuredLatencies reads every pgbench_log file under dir (pgbench's per-transaction log: client, transaction,
// latency µs, script, epoch s, µs, …) and returns the latencies of the successful transactions that ended at or
// after from.
func measuredLatencies(t *testing.T, dir string, from time.Time) []int64 {
	t.Helper()
	var out []int64
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasPrefix(d.Name(), "pgbench_log") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fields := strings.Fields(sc.Text())
			if len(fields) < 6 {
				continue
			}
			lat, err1 := strconv.ParseInt(fields[2], 10, 64)
			sec, err2 := strconv.ParseInt(fields[4], 10, 64)
			usec, err3 := strconv.ParseInt(fields[5], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				continue // failed or skipped transactions have no latency
			}
			end := time.Unix(sec, usec*1000)
			if !end.Before(from) {
				out = append(out, lat)
			}
		}
		return sc.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
