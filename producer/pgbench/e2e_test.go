package pgbench

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// TestRecordsReachPostgres runs pgbench through the producer into Kafka (kfake), and the sink (in process) into
// PostgreSQL, and reads the runs and samples tables. The benchmark connects with a password in its URI and in
// $PGPASSWORD; neither may show up anywhere.
func TestRecordsReachPostgres(t *testing.T) {
	const envSecret = "sekret-in-env"
	benchURL := testenv.DatabaseURL(t)
	initDB(t, benchURL, 1)
	// The URI's password: the database's own where it checks passwords, else one that trust auth ignores.
	uriSecret := "sekret-in-uri"
	if u, err := url.Parse(benchURL); err == nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			uriSecret = pw
		} else {
			u.User = url.UserPassword(u.User.Username(), uriSecret)
			benchURL = u.String()
		}
	}
	t.Setenv("PGPASSWORD", envSecret)

	_, brokers := testenv.Kafka(t, kfake.SeedTopics(2, recordsTopic), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	conn := startSink(t, brokers)

	res := runCLI(t, context.Background(), "--config", writeConfig(t, brokers), "--name", "e2e", "--tag", "case=sink",
		"--warmup", "1s", "--", "-c", "2", "-j", "2", "-T", "3", benchURL)
	if res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	runID := runIDOf(t, res.stdout)
	_, samples, fin := checkRunShape(t, runRecords(t, brokers, runID))
	checkOneSamplePerSecond(t, samples, 3)

	deadline := time.Now().Add(20 * time.Second)
	for {
		var status string
		var n int
		err := conn.QueryRow(context.Background(), `SELECT coalesce((SELECT status FROM runs WHERE run_id = $1), ''),
			(SELECT count(*) FROM samples WHERE run_id = $1)`, runID).Scan(&status, &n)
		if err != nil {
			t.Fatal(err)
		}
		if status == "ok" && n == len(samples) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: status %q with %d samples after 20 s, want ok with %d", runID, status, n, len(samples))
		}
		time.Sleep(100 * time.Millisecond)
	}

	var (
		kind, name, host, db, version, site string
		port                                int
		ops, processed                      int64
		p99, tps, p50                       float64
	)
	err := conn.QueryRow(context.Background(), `SELECT kind, name, target_host, target_port, target_database, target_version,
		tags->>'site', ops, lat_p50_ms, lat_p99_ms, pg_tps, (summary_extra->'pgbench'->>'processed')::bigint
		FROM runs WHERE run_id = $1`, runID).Scan(&kind, &name, &host, &port, &db, &version, &site, &ops, &p50, &p99, &tps, &processed)
	if err != nil {
		t.Fatal(err)
	}
	if kind != "pgbench" || name != "e2e" || host != "127.0.0.1" || port == 0 || !strings.HasPrefix(db, "t_") || version == "" ||
		site != "lab" || ops != fin.Summary.Ops || p50 != fin.Summary.Latency.P50Ms || p99 != fin.Summary.Latency.P99Ms ||
		tps != fin.Summary.Pgbench.TPS || processed < ops {
		t.Errorf("runs row: %s %s %s:%d/%s %s site=%s ops=%d p50=%v p99=%v tps=%v processed=%d; run_finished %+v",
			kind, name, host, port, db, version, site, ops, p50, p99, tps, processed, fin.Summary.Figures)
	}
	// Each sample row is its record, warm-up included.
	var allOps int64
	for i, s := range samples {
		var phase string
		var sOps int64
		var sP99, sTPS float64
		err := conn.QueryRow(context.Background(), `SELECT phase, ops, lat_p99_ms, pg_tps FROM samples WHERE run_id = $1 AND seq = $2`,
			runID, i+1).Scan(&phase, &sOps, &sP99, &sTPS)
		if err != nil {
			t.Fatalf("sample %d: %v", i+1, err)
		}
		if phase != string(s.Phase) || sOps != s.Ops || sP99 != s.Latency.P99Ms || sTPS != s.Pgbench.TPS || sTPS <= 0 {
			t.Errorf("sample %d: row %s %d %v %v, record %+v", i+1, phase, sOps, sP99, sTPS, s)
		}
		allOps += s.Ops
	}
	if samples[0].Phase != "warmup" || samples[len(samples)-1].Phase != "measure" || allOps != processed {
		t.Errorf("phases %s…%s, all samples %d transactions, pgbench %d", samples[0].Phase, samples[len(samples)-1].Phase, allOps, processed)
	}

	// No password anywhere: not in the output, the records, or the tables.
	for where, text := range map[string]string{"stdout": res.stdout, "stderr": res.stderr,
		"records": strings.Join(rawRecords(t, brokers, 5), "\n")} {
		if strings.Contains(text, uriSecret) || strings.Contains(text, envSecret) {
			t.Errorf("a password is in %s", where)
		}
	}
	var leaks int
	if err := conn.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM runs r WHERE strpos(to_jsonb(r)::text, $1) > 0 OR strpos(to_jsonb(r)::text, $2) > 0)
		+ (SELECT count(*) FROM samples s WHERE strpos(to_jsonb(s)::text, $1) > 0 OR strpos(to_jsonb(s)::text, $2) > 0)`, uriSecret, envSecret).Scan(&leaks); err != nil || leaks != 0 {
		t.Errorf("%d rows hold a password (%v)", leaks, err)
	}
}
