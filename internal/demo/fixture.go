package main

// The viewer's browser-test fixture (go run ./internal/demo --browser-fixture, started by
// viewer/test/browser/run.mjs): the demo's pipeline over a throw-away PostgreSQL set up as the compose stack sets
// one up, with runs the real sink wrote, served by the GraphQL stand-in reading as Hasura's role. The runs:
//
//	base    MQTT "baseline qos1", 4 s at 400 msg/s after a 1 s warm-up, also a perftool result (--perftool-compat,
//	        published as this machine, the client that measured)
//	tuned   MQTT "tuned qos1", the same at 500 msg/s, also a perftool result
//
// and, beside them, what a SINETStream perftool client "perftool-pi" sends through its wrapper: 3 rounds of 4
// threads (perftool's own multi-thread results, which benchpipe's one-line --perftool-compat never has), in
// SINETStream v3 framing to the perftool topic, written by the same sink, for the per-thread perftool charts.
//	pg      pgbench "tpcb scale 1" (the real pgbench against the fixture's PostgreSQL)
//	failed  MQTT "unreachable broker", which fails to connect: a failed run with its error
//	big     "100k samples": 100,000 one-second samples inserted directly (not through the sink), for the render
//	        timing test, with merged per-minute histograms of known figures for the window-percentile test; the
//	        sink's throughput is measured by make bench-sink, not here
//	long    "30 h run": 108,000 one-second samples inserted directly, more than the anonymous row limit, which the
//	        viewer draws from samples_1m
//	observed  pgbench "observed failover": 90 s with cluster observation (issue 15) inserted directly: two nodes and
//	        Pgpool-II, a split brain at 10:03:14 for 10 s, a node down at 10:03:24, the flags, server facts, settings
//
// POST /_fixture/live?name=N&duration=D starts a live MQTT run named N measuring for D (after a 1 s warm-up) and
// answers {"run_id": …} once the sink has written its first sample, so a page opened then sees it running; it
// keeps producing one sample a second until D is over. /nobody/v1/graphql is the stand-in for a role without any
// permission (Hasura's answer to a query the role may not make). One JSON line on stdout says where it listens and
// the run ids; it runs until standard input closes.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

func runFixture(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() { // the test runner holds standard input open while it needs the fixture
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	pg, err := testenv.StartPostgres()
	if err != nil {
		return err
	}
	defer pg.Remove()
	d, err := testenv.DeployDatabase(pg.URL("postgres"), "benchpipe")
	if err != nil {
		return err
	}
	p, err := startPipeline(ctx, stderr, d.OwnerURL)
	if err != nil {
		return err
	}
	defer p.Close()

	ids := map[string]uuid.UUID{}
	mqttRun := func(key, name string, rate int) error {
		id, err := p.mqtt(ctx, io.Discard, "--publishers", "2", "--subscribers", "2", "--qos", "1", "--rate", fmt.Sprint(rate),
			"--warmup", "1s", "--duration", "4s", "--name", name, "--tag", "env=lab", "--tag", "qos=1", "--perftool-compat", perftoolTopic)
		ids[key] = id
		return err
	}
	if err := mqttRun("base", "baseline qos1", 400); err != nil {
		return err
	}
	if err := mqttRun("tuned", "tuned qos1", 500); err != nil {
		return err
	}
	if ids["pg"], err = p.pgbench(ctx, io.Discard, "--name", "tpcb scale 1", "--tag", "env=prod", "--init-scale", "1",
		"--", "-c", "2", "-j", "1", "-T", "3"); err != nil {
		return err
	}
	// Nothing listens on port 1: the run fails to connect, and is recorded as failed with the reason.
	_, _ = p.mqtt(ctx, io.Discard, "--broker", "tcp://127.0.0.1:1", "--connect-timeout", "1s", "--duration", "1s", "--name", "unreachable broker")
	for key, id := range ids {
		if err := p.waitFinished(ctx, id); err != nil {
			return fmt.Errorf("%s: %w", key, err)
		}
	}
	if ids["failed"], err = p.runNamed(ctx, "unreachable broker"); err != nil {
		return err
	}
	if err := p.waitFinished(ctx, ids["failed"]); err != nil {
		return err
	}
	for _, key := range []string{"base", "tuned"} {
		if _, err := p.waitPerftool(ctx, ids[key]); err != nil {
			return err
		}
	}
	if err := p.perftoolClient(ctx, perftoolClientName, perftoolThreads, perftoolRounds, time.Now()); err != nil {
		return err
	}
	if ids["big"], err = insertBigRun(ctx, p.db); err != nil {
		return err
	}
	if ids["long"], err = insertLongRun(ctx, p.db); err != nil {
		return err
	}
	if ids["observed"], err = insertObservedRun(ctx, p.db); err != nil {
		return err
	}

	live := &liveRuns{p: p, ctx: ctx}
	defer live.wait()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	md, err := metadata()
	if err != nil {
		return err
	}
	nobody, err := hasurastub.Open(ctx, d.HasuraURL, md, hasurastub.WithRole("nobody"))
	if err != nil {
		return err
	}
	defer nobody.Close()
	v, err := newViewerServer(ctx, "viewer/dist", d.HasuraURL, map[string]http.Handler{
		"/_fixture/live":     live,
		"/nobody/v1/graphql": http.StripPrefix("/nobody", nobody),
	}, hasurastub.WithKeepAlive(time.Second))
	if err != nil {
		return err
	}
	defer v.Close()
	go func() { _ = v.http.Serve(ln) }()
	ready, _ := json.Marshal(map[string]any{"url": "http://" + ln.Addr().String() + "/", "runs": ids})
	fmt.Fprintf(stdout, "%s\n", ready)
	<-ctx.Done()
	return nil
}

// runNamed returns the newest run called name.
func (p *pipeline) runNamed(ctx context.Context, name string) (uuid.UUID, error) {
	var id uuid.UUID
	err := p.until(ctx, fmt.Sprintf("run %q in the database", name), func() (bool, error) {
		err := p.db.QueryRow(ctx, "SELECT run_id FROM public.runs WHERE name = $1 ORDER BY started_at DESC LIMIT 1", name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil, err
	})
	return id, err
}

// insertBigRun writes a finished run with 100,000 one-second samples straight into the tables (generate_series),
// for the viewer's render timing: wobbling rate and latency, warm-up first, a few errors and losses.
func insertBigRun(ctx context.Context, db *pgx.Conn) (uuid.UUID, error) {
	id := uuid.New()
	_, err := db.Exec(ctx, `
		INSERT INTO public.runs (run_id, kind, name, tags, parameters, host_name, started_at, status, finished_at,
			measure_start, measure_end, ops, ops_rate, errors, lat_p50_ms, lat_p99_ms)
		VALUES ($1, 'mqtt', '100k samples', '{}', '{}', 'pi-big', '2026-01-01 00:00:00+00', 'ok',
			'2026-01-01 00:00:00+00'::timestamptz + interval '100000 s', '2026-01-01 00:01:00+00',
			'2026-01-01 00:00:00+00'::timestamptz + interval '100000 s', 499700000, 5000, 0, 1, 3.3)`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 100k-sample run: %w", err)
	}
	_, err = db.Exec(ctx, `
		INSERT INTO public.samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors,
			lat_p50_ms, lat_p90_ms, lat_p95_ms, lat_p99_ms, lat_p999_ms, lat_max_ms, mqtt_lost)
		SELECT $1, i, t, t + interval '1 s', CASE WHEN i <= 60 THEN 'warmup' ELSE 'measure' END,
			r::bigint, r, CASE WHEN i % 97 = 0 THEN 2 ELSE 0 END, q, q * 1.6, q * 2, q * 3.1, q * 5, q * 8, CASE WHEN i % 131 = 0 THEN 1 ELSE 0 END
		FROM generate_series(1, 100000) AS i,
			LATERAL (SELECT '2026-01-01 00:00:00+00'::timestamptz + (i - 1) * interval '1 s' AS t,
				round(5000 * (1 + sin(i / 17.0) * 0.1 + sin(i / 3.1) * 0.03)) AS r,
				1 + sin(i / 17.0) * 0.1 + sin(i / 3.1) * 0.03 AS q) AS v`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 100k-sample run: %w", err)
	}
	// Its merged histograms, as the sink keeps them (values in µs): in measurement minute m (from 00:01), 60 values
	// of (1 + m mod 5) ms, so a window's true percentiles are known exactly (00:01–00:03: 60 at 1 ms, 60 at 2 ms) and
	// differ from the whole run's; the warm-up minute holds 60 values of 50 ms. The hourly rows sum the minutes.
	_, err = db.Exec(ctx, `
		INSERT INTO public.samples_hist_1m (run_id, bucket, phase, samples, lat_v, lat_c)
		SELECT $1, '2026-01-01 00:00:00+00'::timestamptz + m * interval '1 minute',
			CASE WHEN m = 0 THEN 'warmup' ELSE 'measure' END, 60,
			ARRAY[CASE WHEN m = 0 THEN 50000 ELSE 1000 * (1 + (m - 1) % 5) END]::bigint[], ARRAY[60]::bigint[]
		FROM generate_series(0, 100000 / 60 - 1) AS m`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 100k-sample run's histograms: %w", err)
	}
	_, err = db.Exec(ctx, `
		INSERT INTO public.samples_hist_1h (run_id, bucket, phase, samples, lat_v, lat_c)
		SELECT run_id, hour, phase, sum(samples)::bigint, array_agg(v ORDER BY v), array_agg(c ORDER BY v)
		FROM (SELECT run_id, date_bin('1 hour', bucket, '2000-01-03 00:00:00+00') AS hour, phase,
				sum(samples) AS samples, v, sum(c)::bigint AS c
			FROM public.samples_hist_1m, unnest(lat_v, lat_c) AS u(v, c)
			WHERE run_id = $1 GROUP BY 1, 2, 3, 5) AS b
		GROUP BY run_id, hour, phase`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 100k-sample run's histograms: %w", err)
	}
	return id, nil
}

// insertLongRun writes a finished 30-hour run, 108,000 one-second samples: more than the anonymous role's row limit
// on samples (100,000), so the viewer draws it from samples_1m, 1,800 minutes, to show it whole. Its rate steps up
// by 1,000 ops/s in its last hour, which a view cut at the row limit would never show.
func insertLongRun(ctx context.Context, db *pgx.Conn) (uuid.UUID, error) {
	id := uuid.New()
	_, err := db.Exec(ctx, `
		INSERT INTO public.runs (run_id, kind, name, tags, parameters, host_name, started_at, status, finished_at,
			measure_start, measure_end, ops, ops_rate, errors, lat_p50_ms, lat_p99_ms)
		VALUES ($1, 'mqtt', '30 h run', '{}', '{}', 'pi-big', '2025-12-01 00:00:00+00', 'ok',
			'2025-12-01 00:00:00+00'::timestamptz + interval '108000 s', '2025-12-01 00:01:00+00',
			'2025-12-01 00:00:00+00'::timestamptz + interval '108000 s', 543600000, 5033, 0, 1, 3)`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 30-hour run: %w", err)
	}
	_, err = db.Exec(ctx, `
		INSERT INTO public.samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors,
			lat_p50_ms, lat_p90_ms, lat_p95_ms, lat_p99_ms, lat_p999_ms, lat_max_ms, mqtt_lost)
		SELECT $1, i, t, t + interval '1 s', CASE WHEN i <= 60 THEN 'warmup' ELSE 'measure' END,
			r, r, 0, 1, 1.5, 2, 3, 5, 8, 0
		FROM generate_series(1, 108000) AS i,
			LATERAL (SELECT '2025-12-01 00:00:00+00'::timestamptz + (i - 1) * interval '1 s' AS t,
				CASE WHEN i > 104400 THEN 6000 ELSE 5000 END AS r) AS v`, id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("insert the 30-hour run: %w", err)
	}
	return id, nil
}

// insertObservedRun writes a finished pgbench run with cluster observation (issue 15) straight into the tables, as
// the sink stores an observed run's records, for the viewer's cluster charts, banner and flag. 90 one-second rounds
// from 2026-02-01 10:02:00 (round k at 10:02:00 + k s; observations take the even seqs of the run's sequence,
// samples the odd ones), nodes pg-a (127.0.0.1:5433) and pg-b (127.0.0.1:5434) behind Pgpool-II:
//
//	k <  74  pg-a primary (timeline 1), pg-b standby lagging (k mod 5)·8 KiB and (k mod 5)·0.05 s
//	k = 74   pg-b promoted while pg-a runs on: role_change and split_brain [pg-a pg-b] at 10:03:14
//	k = 84   pg-a down ("connection refused"): node_down and split_brain_end at 10:03:24 (10 s of split brain)
//	k = 85   Pgpool marks backend 0 (pg-a) down: pool_status up → down at 10:03:25
//
// Reads per round: 0 in round 0, then 120 to pg-a and 80 to pg-b up to round 83, then 0 and 200. The run is
// flagged (topology_changed, split_brain) and carries server facts (17.2, 22.4 MiB, counter deltas, 3 settings).
// So the viewer must show 2 node lanes, 1 standby's lag, 2 backends' reads, each over 90 rounds, and 5 events.
func insertObservedRun(ctx context.Context, db *pgx.Conn) (uuid.UUID, error) {
	id := uuid.New()
	steps := []struct{ what, sql string }{
		{"run", `
		INSERT INTO public.runs (run_id, kind, name, tags, parameters, host_name, target_host, target_port, target_database,
			started_at, status, finished_at, measure_start, measure_end, ops, ops_rate, errors, pg_tps, pg_failed,
			lat_p50_ms, lat_p99_ms, topology_changed, split_brain, server_version, server_version_num, database_size_bytes, server_delta)
		VALUES ($1, 'pgbench', 'observed failover', '{"env": "lab"}', '{"clients": 4, "observe": true}', 'pg-lab', '127.0.0.1', 9999, 'bench',
			'2026-02-01 10:02:00+00', 'ok', '2026-02-01 10:03:30+00', '2026-02-01 10:02:05+00', '2026-02-01 10:03:30+00',
			39500, 464.7, 40, 464.7, 40, 2, 9, true, true, 'PostgreSQL 17.2 on x86_64-pc-linux-gnu (fixture)', 170002, 23456789,
			'{"since": "2026-02-01T10:02:00Z", "seconds": 90, "database_size_bytes": 1048576,
			  "database": {"xact_commit": 37040, "xact_rollback": 40, "blks_hit": 1234567, "blks_read": 321, "deadlocks": 0},
			  "bgwriter": {"buffers_clean": 12, "maxwritten_clean": 0}}')`},
		// Throughput drops while two primaries take writes, and transactions fail while pg-a is gone.
		{"samples", `
		INSERT INTO public.samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors,
			lat_p50_ms, lat_p90_ms, lat_p95_ms, lat_p99_ms, lat_p999_ms, lat_max_ms)
		SELECT $1, 2 * k + 1, t, t + interval '1 s', CASE WHEN k < 5 THEN 'warmup' ELSE 'measure' END, r, r,
			CASE WHEN k IN (84, 85) THEN 20 ELSE 0 END, 2, 4, 5, 9, 12, 15
		FROM generate_series(0, 89) AS k,
			LATERAL (SELECT '2026-02-01 10:02:00+00'::timestamptz + k * interval '1 s' AS t,
				CASE WHEN k BETWEEN 74 AND 83 THEN 300 WHEN k IN (84, 85) THEN 0 ELSE 500 END AS r) AS v`},
		{"node samples", `
		INSERT INTO public.cluster_node_samples (run_id, seq, sampled_at, node, addr, up, error, role, timeline, wal_lsn,
			lag_bytes, lag_seconds, connections, upstream, probe_ms)
		SELECT $1, 2 * k + 2, '2026-02-01 10:02:00+00'::timestamptz + k * interval '1 s', n.node, n.addr, n.up,
			CASE WHEN n.up THEN NULL ELSE 'connection refused' END, n.role,
			CASE WHEN NOT n.up THEN NULL WHEN n.node = 'pg-b' AND k >= 74 THEN 2 ELSE 1 END,
			CASE WHEN n.up THEN ('0/' || to_hex(16777216 + k * 65536))::pg_lsn END,
			CASE WHEN n.role = 'standby' THEN (k % 5) * 8192 END, CASE WHEN n.role = 'standby' THEN (k % 5) * 0.05 END,
			CASE WHEN n.up THEN 5 END, CASE WHEN n.role = 'standby' THEN '127.0.0.1:5433' END, 1.5
		FROM generate_series(0, 89) AS k,
			LATERAL (VALUES
				('pg-a', '127.0.0.1:5433', k < 84, CASE WHEN k < 84 THEN 'primary' END),
				('pg-b', '127.0.0.1:5434', true, CASE WHEN k < 74 THEN 'standby' ELSE 'primary' END)) AS n(node, addr, up, role)`},
		{"pool samples", `
		INSERT INTO public.cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, pg_status, role, pg_role,
			lb_weight, select_cnt, select_delta, replication_delay)
		SELECT $1, 2 * k + 2, '2026-02-01 10:02:00+00'::timestamptz + k * interval '1 s', b.id, b.node, b.addr,
			CASE WHEN b.id = 0 AND k >= 85 THEN 'down' ELSE 'up' END, CASE WHEN b.id = 0 AND k >= 84 THEN 'down' ELSE 'up' END,
			CASE WHEN b.id = 0 THEN 'primary' ELSE 'standby' END, CASE WHEN b.id = 0 OR k < 74 THEN (CASE WHEN b.id = 0 THEN 'primary' ELSE 'standby' END) ELSE 'primary' END,
			0.5, b.per_round * LEAST(k, 83) + b.after * GREATEST(k - 83, 0),
			CASE WHEN k = 0 THEN 0 WHEN k <= 83 THEN b.per_round ELSE b.after END, 0
		FROM generate_series(0, 89) AS k,
			LATERAL (VALUES (0, 'pg-a', '127.0.0.1:5433', 120, 0), (1, 'pg-b', '127.0.0.1:5434', 80, 200)) AS b(id, node, addr, per_round, after)`},
		{"events", `
		INSERT INTO public.cluster_events (run_id, seq, idx, event_time, kind, node, from_state, to_state, nodes, detail)
		VALUES ($1, 150, 0, '2026-02-01 10:03:14+00', 'role_change', 'pg-b', 'standby', 'primary', NULL, NULL),
			($1, 150, 1, '2026-02-01 10:03:14+00', 'split_brain', NULL, NULL, NULL, '{pg-a,pg-b}', NULL),
			($1, 170, 0, '2026-02-01 10:03:24+00', 'node_down', 'pg-a', 'primary', NULL, NULL, 'connection refused'),
			($1, 170, 1, '2026-02-01 10:03:24+00', 'split_brain_end', NULL, NULL, NULL, '{pg-b}', NULL),
			($1, 172, 0, '2026-02-01 10:03:25+00', 'pool_status', 'pg-a', 'up', 'down', NULL, NULL)`},
		{"settings", `
		INSERT INTO public.run_settings (run_id, name, setting, unit, source)
		VALUES ($1, 'max_connections', '200', NULL, 'configuration file'), ($1, 'shared_buffers', '16384', '8kB', 'configuration file'),
			($1, 'synchronous_commit', 'off', NULL, 'configuration file')`},
	}
	for _, s := range steps {
		if _, err := db.Exec(ctx, s.sql, id); err != nil {
			return uuid.Nil, fmt.Errorf("insert the observed run's %s: %w", s.what, err)
		}
	}
	return id, nil
}

// liveRuns starts live MQTT runs on request, each with its own spool so that they may overlap.
type liveRuns struct {
	p   *pipeline
	ctx context.Context
	wg  sync.WaitGroup
	mu  sync.Mutex
	n   int
}

func (l *liveRuns) wait() { l.wg.Wait() }

func (l *liveRuns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	name := r.URL.Query().Get("name")
	dur, err := time.ParseDuration(r.URL.Query().Get("duration"))
	if name == "" || err != nil {
		http.Error(w, "want ?name=N&duration=D", http.StatusBadRequest)
		return
	}
	l.mu.Lock()
	l.n++
	spool := fmt.Sprintf("live-spool-%d", l.n)
	l.mu.Unlock()
	cfgFile, err := l.p.writeConfig(spool)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		_, _ = l.p.mqttWith(l.ctx, cfgFile, io.Discard, "--publishers", "1", "--subscribers", "1", "--qos", "1", "--rate", "200",
			"--warmup", "1s", "--duration", dur.String(), "--name", name, "--tag", "env=lab")
	}()
	id, err := l.p.runNamed(r.Context(), name)
	if err == nil {
		err = l.p.until(r.Context(), "a first sample of "+name, func() (bool, error) {
			var n int
			err := l.p.db.QueryRow(r.Context(), "SELECT count(*) FROM public.samples WHERE run_id = $1", id).Scan(&n)
			return n > 0, err
		})
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"run_id": id.String()})
}

// The SINETStream perftool client of the fixture: its name, threads and rounds.
const (
	perftoolClientName = "perftool-pi"
	perftoolThreads    = 4
	perftoolRounds     = 3
)

// perftoolClient sends what a SINETStream perftool client sends through its wrapper for rounds rounds of threads
// threads, the last round ending 10 s before now, each round lasting 10 s: one result line per thread and round,
// named after the client, in SINETStream message format v3, to the perftool topic over the Kafka protocol; then it
// waits until the sink has written every line. Thread t writes 1000·(t+1) msg/s of 1 KiB and reads them all; the
// last thread counts two errors in its first round, so every thread's line differs.
func (p *pipeline) perftoolClient(ctx context.Context, name string, threads, rounds int, now time.Time) error {
	step(p.out, "perftool client %q: %d rounds of %d threads to %s", name, rounds, threads, perftoolTopic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.cfg.Kafka.Brokers...), kgo.DefaultProduceTopic(perftoolTopic))
	if err != nil {
		return err
	}
	defer cl.Close()
	const size, seconds = 1024, 10.0
	var recs []*kgo.Record
	for r := range rounds {
		for t := range threads {
			end := now.Add(-time.Duration(10+20*(rounds-1-r))*time.Second + time.Duration(t)*7*time.Millisecond).Truncate(time.Millisecond)
			start := end.Add(-time.Duration(seconds * float64(time.Second)))
			count := int64(1000 * (t + 1) * int(seconds))
			errs := int64(0)
			if t == threads-1 && r == 0 {
				errs = 2
			}
			side := func(errs int64) *sinetstream.Side {
				sz := int64(size)
				return &sinetstream.Side{ThreadNumber: t,
					StartTime: float64(start.UnixMilli()) / 1000, StartTimeMillis: float64(start.UnixMilli()),
					EndTime: float64(end.UnixMilli()) / 1000, EndTimeMillis: float64(end.UnixMilli()),
					Time: seconds, TimeMillis: seconds * 1000,
					MsgCountTotal: count, MsgCountRate: float64(count) / seconds,
					MsgBytesTotal: count * size, MsgBytesRate: float64(count*size) / seconds,
					MsgSizeMin: &sz, MsgSizeMax: &sz, MsgSizeAvg: size,
					ErrorCountTotal: errs, ErrorCountRate: float64(errs) / seconds}
			}
			payload, err := sinetstream.MarshalResult(sinetstream.Result{Name: name, Writer: side(errs), Reader: side(0)})
			if err != nil {
				return err
			}
			recs = append(recs, &kgo.Record{Value: sinetstream.EncodeV3(end, payload)})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("perftool client %s: %w", name, err)
	}
	return p.until(ctx, fmt.Sprintf("the %d perftool results of %s in the database", len(recs), name), func() (bool, error) {
		var n int
		err := p.db.QueryRow(ctx, "SELECT count(*) FROM public.perftool WHERE publisher = $1", name).Scan(&n)
		return n == len(recs), err
	})
}
