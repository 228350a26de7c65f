package main

// The viewer's browser-test fixture (go run ./internal/demo --browser-fixture, started by
// viewer/test/browser/run.mjs): the demo's pipeline over a throw-away PostgreSQL set up as the compose stack sets
// one up, with runs the real sink wrote, served by the GraphQL stand-in reading as Hasura's role, with `sink api`
// (fleet.go, no agents) behind it for the actions and the auth webhook, as Hasura has it. The runs:
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
//	observed  pgbench "observed failover": 90 s with cluster observation (issue 15), published as pgbench --observe
//	        would and written by the sink: two nodes and Pgpool-II, a split brain at 10:03:14 for 10 s, a node down
//	        at 10:03:24; the flags, server facts and settings as the sink sets them
//	longObserved  pgbench "30 h observed": 30 hours of samples and of cluster observation inserted directly (three
//	        nodes, two Pgpool backends: 324,000 and 216,000 rows, more than the anonymous row limit), which the viewer
//	        draws from samples_1m and the per-minute cluster views
//	history the newest of 12 identical MQTT runs "nightly history" on pi-hist, a day apart, through the sink
//	        (history.go): throughput about 1,000 msg/s, about 800 from the 7th run, for the Trends page
//
// POST /_fixture/live?name=N&duration=D starts a live MQTT run named N measuring for D (after a 1 s warm-up) and
// answers {"run_id": …} once the sink has written its first sample, so a page opened then sees it running; it
// keeps producing one sample a second until D is over. /nobody/v1/graphql is the stand-in for a role without any
// permission (Hasura's answer to a query the role may not make). POST /_fixture/observed publishes an observed
// pgbench run in steps (observedLive), for the run page's live banner; POST /_fixture/histrun a running MQTT run of
// known latency histograms in steps (histRuns), for the run page's live CDF. One JSON line on stdout says where it
// listens and the run ids; it runs until standard input closes.

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

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// fixturePipeline stands up what the browser fixtures run on: a throw-away PostgreSQL set up as deployed and the
// demo's pipeline over it. cancel is called when stdin closes (the test runner holds it open while it needs the
// fixture); done removes it all.
func fixturePipeline(ctx context.Context, cancel context.CancelFunc, stdin io.Reader, stderr io.Writer) (*testenv.Deployment, *pipeline, func(), error) {
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		cancel()
	}()
	pg, err := testenv.StartPostgres()
	if err != nil {
		return nil, nil, nil, err
	}
	d, err := testenv.DeployDatabase(pg.URL("postgres"), "benchpipe")
	if err != nil {
		pg.Remove()
		return nil, nil, nil, err
	}
	p, err := startPipeline(ctx, stderr, d.OwnerURL)
	if err != nil {
		pg.Remove()
		return nil, nil, nil, err
	}
	return d, p, func() { p.Close(); pg.Remove() }, nil
}

func runFixture(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	d, p, done, err := fixturePipeline(ctx, cancel, stdin, stderr)
	if err != nil {
		return err
	}
	defer done()

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
	if ids["observed"], err = p.observedRun(ctx); err != nil {
		return err
	}
	if ids["longObserved"], err = insertLongObservedRun(ctx, p.db); err != nil {
		return err
	}
	hist, err := p.historyRunsThroughSink(ctx)
	if err != nil {
		return err
	}
	ids["history"] = hist[len(hist)-1]

	live := &liveRuns{p: p, ctx: ctx}
	defer live.wait()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	url := "http://" + ln.Addr().String()
	// sink api, as the demo runs it (no agents): the stand-in calls its actions (compareRuns, runHistory; the
	// fleet's) and its auth webhook, which makes the pages' requests anonymous; it reads runs back from the stand-in.
	f, err := p.startFleet(ctx, nil, stderr, url+hasurastub.Path, d.GrafanaURL)
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
		"/_fixture/observed": &observedLive{p: p, runs: map[string][]schema.Record{}},
		"/_fixture/histrun":  &histRuns{p: p, runs: map[string]*histRun{}},
		"/nobody/v1/graphql": http.StripPrefix("/nobody", nobody),
	}, append(f.stubOptions(), hasurastub.WithKeepAlive(time.Second))...)
	if err != nil {
		return err
	}
	defer v.Close()
	go func() { _ = v.http.Serve(ln) }()
	ready, _ := json.Marshal(map[string]any{"url": url + "/", "runs": ids})
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
func insertBigRun(ctx context.Context, db *pgxpool.Pool) (uuid.UUID, error) {
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
func insertLongRun(ctx context.Context, db *pgxpool.Pool) (uuid.UUID, error) {
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

// insertLongObservedRun writes a finished 30-hour pgbench run observed every second (issue 15), its rows inserted
// directly as insertLongRun's: 108,000 samples at 500 tx/s, and per round three nodes (324,000 rows) and two
// Pgpool-II backends (216,000 rows), more than the anonymous role's row limit on each, so the viewer draws its
// cluster charts from cluster_node_samples_1m and cluster_pool_samples_1m, 1,800 minutes. db-0 is the primary
// until a switchover at 20:00:00 makes db-1 the primary; db-2 is down from 01:00:00 to 02:00:00 on the second day.
// In the last hour db-2 lags by 500,000 bytes (500 s) and backend 1 gets 100 SELECTs a round instead of 60: steps a
// view cut at the row limit would never show. The run is flagged (topology_changed) with its four events.
func insertLongObservedRun(ctx context.Context, db *pgxpool.Pool) (uuid.UUID, error) {
	id := uuid.New()
	const t0 = "2025-11-01 00:00:00+00"
	for _, q := range []string{`
		INSERT INTO public.runs (run_id, kind, name, tags, parameters, host_name, started_at, status, finished_at,
			measure_start, measure_end, ops, ops_rate, errors, lat_p50_ms, lat_p99_ms, pg_tps, topology_changed, split_brain)
		VALUES ($1, 'pgbench', '30 h observed', '{}', '{"observe": true}', 'pg-lab', $2, 'ok',
			$2::timestamptz + interval '108000 s', $2::timestamptz + interval '60 s',
			$2::timestamptz + interval '108000 s', 53970000, 500, 0, 2, 6, 500, true, false)`, `
		INSERT INTO public.samples (run_id, seq, interval_start, interval_end, phase, ops, ops_rate, errors,
			lat_p50_ms, lat_p90_ms, lat_p95_ms, lat_p99_ms, lat_p999_ms, lat_max_ms, pg_tps, pg_failed)
		SELECT $1, i, t, t + interval '1 s', CASE WHEN i <= 60 THEN 'warmup' ELSE 'measure' END,
			500, 500, 0, 2, 3, 4, 6, 9, 12, 500, 0
		FROM generate_series(1, 108000) AS i, LATERAL (SELECT $2::timestamptz + (i - 1) * interval '1 s' AS t) AS v`, `
		INSERT INTO public.cluster_node_samples (run_id, seq, sampled_at, node, addr, up, role, lag_bytes, lag_seconds, connections)
		SELECT $1, s + 1, $2::timestamptz + s * interval '1 s', 'db-' || n, 'db-' || n || ':5432', NOT down,
			CASE WHEN down THEN NULL WHEN prim THEN 'primary' ELSE 'standby' END,
			CASE WHEN down OR prim THEN NULL WHEN n = 2 AND s >= 104400 THEN 500000 ELSE 1000 + s % 60 * 10 END,
			CASE WHEN down OR prim THEN NULL WHEN n = 2 AND s >= 104400 THEN 500 ELSE (1000 + s % 60 * 10) / 1000.0 END,
			CASE WHEN down THEN NULL ELSE 4 END
		FROM generate_series(0, 107999) AS s, generate_series(0, 2) AS n,
			LATERAL (SELECT n = 2 AND s >= 90000 AND s < 93600 AS down, (n = 0 AND s < 72000) OR (n = 1 AND s >= 72000) AS prim) AS d`, `
		INSERT INTO public.cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta)
		SELECT $1, s + 1, $2::timestamptz + s * interval '1 s', b, 'db-' || b, 'db-' || b || ':5432', 'up', s * 100,
			CASE WHEN b = 0 THEN 40 WHEN s >= 104400 THEN 100 ELSE 60 END
		FROM generate_series(0, 107999) AS s, generate_series(0, 1) AS b`, `
		INSERT INTO public.cluster_events (run_id, seq, idx, event_time, kind, node, from_state, to_state, detail) VALUES
		($1, 72001, 0, $2::timestamptz + interval '72000 s', 'role_change', 'db-0', 'primary', 'standby', NULL),
		($1, 72001, 1, $2::timestamptz + interval '72000 s', 'role_change', 'db-1', 'standby', 'primary', NULL),
		($1, 90001, 0, $2::timestamptz + interval '90000 s', 'node_down', 'db-2', NULL, NULL, 'connection refused'),
		($1, 93601, 0, $2::timestamptz + interval '93600 s', 'node_up', 'db-2', NULL, NULL, NULL)`,
	} {
		if _, err := db.Exec(ctx, q, id, t0); err != nil {
			return uuid.Nil, fmt.Errorf("insert the 30-hour observed run: %w", err)
		}
	}
	return id, nil
}

// observedRun publishes a finished pgbench run with cluster observation (issue 15) as pgbench --observe would, record
// by record through Kafka, and waits until the sink has written it: its flags, server facts and settings are the
// sink's doing. (A real primary, standby and Pgpool-II are producer/pgbench's tests; here the rounds must be the
// same every time.) 90 one-second rounds from 2026-02-01 10:02:00, round k at 10:02:00 + k s, each followed by the
// sample of the second it starts (round k seq 2k+1, its sample 2k+2, in the run's one sequence). Nodes pg-a
// (127.0.0.1:5433) and pg-b (127.0.0.1:5434) behind Pgpool-II:
//
//	k <  74  pg-a primary (timeline 1), pg-b its standby lagging (k mod 5)·8 KiB and (k mod 5)·0.05 s
//	k = 74   pg-b promoted while pg-a runs on: role_change and split_brain [pg-a pg-b] at 10:03:14
//	k = 84   pg-a down ("connection refused"): node_down and split_brain_end at 10:03:24 (10 s of split brain)
//	k = 85   Pgpool marks backend 0 (pg-a) down: pool_status up → down at 10:03:25
//
// Reads per round: 0 in round 0, then 120 to pg-a and 80 to pg-b up to round 83, then 0 and 200. Throughput is
// 500 tx/s, 300 during the split brain, 0 with 20 failed in the two seconds after pg-a went away. The first round
// carries the server's facts (17.2, 23,456,789 bytes, 3 settings), the last their change over the run. So the
// viewer must show 2 node lanes, 1 standby's lag, 2 backends' reads, each over 90 rounds, and 5 events.
func (p *pipeline) observedRun(ctx context.Context) (uuid.UUID, error) {
	id := uuid.Must(uuid.NewV7())
	recs := observedRecords(id, time.Date(2026, 2, 1, 10, 2, 0, 0, time.UTC))
	if err := p.publishRecords(ctx, recs); err != nil {
		return uuid.Nil, fmt.Errorf("observed run: %w", err)
	}
	if err := p.waitFinished(ctx, id); err != nil {
		return uuid.Nil, err
	}
	return id, p.waitObserved(ctx, id, observedRounds, 5)
}

// The observed run's rounds (observedRecords): round k is recs[1+2k] and its sample recs[2+2k].
const observedRounds = 90

// observedRecords returns the records of the observed run (see observedRun) from t0: run_started, then per round
// its observation and its sample, then run_finished.
func observedRecords(id uuid.UUID, t0 time.Time) []schema.Record {
	const rounds, promoted, down, poolDown, warmup = observedRounds, 74, 84, 85, 5
	at := func(k int) time.Time { return t0.Add(time.Duration(k) * time.Second) }
	rec := func(typ string, seq int64, t time.Time) schema.Record {
		return schema.Record{V: schema.Version, Type: typ, RunID: id, Seq: seq, Time: t}
	}
	lat := &schema.Latency{MinMs: 1, MeanMs: 2.5, P50Ms: 2, P90Ms: 4, P95Ms: 5, P99Ms: 9, P999Ms: 12, MaxMs: 15}
	started := rec(schema.TypeRunStarted, 0, t0)
	started.Started = &schema.Started{Kind: schema.KindPgbench, Name: "observed failover", Tags: map[string]string{"env": "lab"},
		Parameters: json.RawMessage(`{"clients": 4, "observe": true}`),
		Target:     schema.Target{Host: "127.0.0.1", Port: 9999, Database: "bench"}, Host: schema.Host{Hostname: "pg-lab"}, StartedAt: t0}
	recs := []schema.Record{started}
	settings := []schema.Setting{
		{Name: "max_connections", Setting: "200", Source: "configuration file"},
		{Name: "shared_buffers", Setting: "16384", Unit: "8kB", Source: "configuration file"},
		{Name: "synchronous_commit", Setting: "off", Source: "configuration file"},
	}
	var ops, failed int64
	for k := range rounds {
		// The interval [k, k+1) s, sent when it ends.
		rate, errs := int64(500), int64(0)
		switch {
		case k >= promoted && k < down:
			rate = 300
		case k == down || k == down+1:
			rate, errs = 0, 20
		}
		sm := rec(schema.TypeSample, int64(2*k+2), at(k+1))
		sm.Sample = &schema.Sample{Start: at(k), End: at(k + 1), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: rate, OpsRate: float64(rate), Errors: errs, Pgbench: &schema.PgbenchFigures{TPS: float64(rate), Failed: errs}}}
		if rate > 0 {
			sm.Sample.Latency = lat
		}
		if k < warmup {
			sm.Sample.Phase = schema.PhaseWarmup
		} else {
			ops, failed = ops+rate, failed+errs
		}

		// The round at k.
		a := schema.NodeSample{Node: "pg-a", Addr: "127.0.0.1:5433", Up: true, Role: schema.RolePrimary, Timeline: 1,
			WALLSN: fmt.Sprintf("0/%X", 0x1000000+k*0x10000), Connections: 5, ProbeMs: 1.5}
		lagB, lagS := int64(k%5)*8192, float64(k%5)*0.05
		b := schema.NodeSample{Node: "pg-b", Addr: "127.0.0.1:5434", Up: true, Role: schema.RoleStandby, Timeline: 1,
			WALLSN: a.WALLSN, LagBytes: &lagB, LagSeconds: &lagS, Connections: 5, Upstream: a.Addr, ProbeMs: 1.5}
		if k >= promoted {
			b = schema.NodeSample{Node: "pg-b", Addr: b.Addr, Up: true, Role: schema.RolePrimary, Timeline: 2, WALLSN: b.WALLSN, Connections: 5, ProbeMs: 1.5}
		}
		if k >= down {
			a = schema.NodeSample{Node: "pg-a", Addr: a.Addr, Up: false, Error: "connection refused", ProbeMs: 0.4}
		}
		primaries := 0
		for _, n := range []schema.NodeSample{a, b} {
			if n.Role == schema.RolePrimary {
				primaries++
			}
		}
		reads := func(perRound, after int64) (cnt, delta int64) {
			cnt = perRound*int64(min(k, down-1)) + after*int64(max(k-(down-1), 0))
			switch {
			case k == 0:
				return cnt, 0
			case k < down:
				return cnt, perRound
			}
			return cnt, after
		}
		aCnt, aDelta := reads(120, 0)
		bCnt, bDelta := reads(80, 200)
		aStatus := "up"
		if k >= poolDown {
			aStatus = "down"
		}
		o := &schema.Observation{Format: schema.ObservationFormat, Time: at(k), Nodes: []schema.NodeSample{a, b}, Primaries: primaries,
			Pool: []schema.PoolNodeSample{
				{NodeID: 0, Node: "pg-a", Addr: a.Addr, Status: aStatus, PgStatus: aStatus, Role: "primary", PgRole: "primary", LBWeight: 0.5, SelectCount: aCnt, SelectDelta: aDelta},
				{NodeID: 1, Node: "pg-b", Addr: b.Addr, Status: "up", PgStatus: "up", Role: "standby", PgRole: b.Role, LBWeight: 0.5, SelectCount: bCnt, SelectDelta: bDelta},
			}}
		switch k {
		case promoted:
			o.Events = []schema.ClusterEvent{
				{Time: at(k), Kind: schema.EventRoleChange, Node: "pg-b", From: schema.RoleStandby, To: schema.RolePrimary},
				{Time: at(k), Kind: schema.EventSplitBrain, Nodes: []string{"pg-a", "pg-b"}},
			}
		case down:
			o.Events = []schema.ClusterEvent{
				{Time: at(k), Kind: schema.EventNodeDown, Node: "pg-a", From: "up", To: "down", Detail: "connection refused"},
				{Time: at(k), Kind: schema.EventSplitBrainEnd, Nodes: []string{"pg-b"}},
			}
		case poolDown:
			o.Events = []schema.ClusterEvent{{Time: at(k), Kind: schema.EventPoolStatus, Node: "pg-a", From: "up", To: "down"}}
		}
		facts := schema.ServerFacts{Node: "pg-a", Time: at(k), Version: "PostgreSQL 17.2 on x86_64-pc-linux-gnu (fixture)", VersionNum: 170002,
			Settings: settings, DatabaseSizeBytes: 23456789,
			Database: map[string]float64{"xact_commit": 1000, "xact_rollback": 0, "blks_hit": 5000, "blks_read": 10, "deadlocks": 0},
			Bgwriter: map[string]float64{"buffers_clean": 0, "maxwritten_clean": 0}}
		switch k {
		case 0:
			o.Server = &facts
		case rounds - 1:
			facts.Node, facts.DatabaseSizeBytes = "pg-b", 23456789+1048576
			facts.Delta = &schema.ServerDelta{Since: t0, Seconds: 89, DatabaseSizeBytes: 1048576,
				Database: map[string]float64{"xact_commit": 37040, "xact_rollback": 40, "blks_hit": 1234567, "blks_read": 321, "deadlocks": 0},
				Bgwriter: map[string]float64{"buffers_clean": 12, "maxwritten_clean": 0}}
			o.Server = &facts
		}
		ob := rec(schema.TypeObservation, int64(2*k+1), at(k))
		ob.Observation = o
		recs = append(recs, ob, sm)
	}
	end := at(rounds)
	fin := rec(schema.TypeRunFinished, 2*rounds+1, end)
	measured := float64(rounds - warmup)
	fin.Finished = &schema.Finished{Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: at(warmup), End: end,
		Figures: schema.Figures{Ops: ops, OpsRate: float64(ops) / measured, Errors: failed, Latency: lat,
			Pgbench: &schema.PgbenchFigures{TPS: float64(ops) / measured, Failed: failed}}}}
	return append(recs, fin)
}

// publishRecords sends benchmark records to the producers' topic, keyed by run as a producer keys them, in one
// Kafka record batch as long as they fit in one (kgo's 1 MB): they are only buffered until the flush, so the sink
// fetches them together and, within its batch_size, writes them in one transaction, and a page never sees part of
// a step (histRuns relies on it). ProduceSync would send the first record alone while buffering the rest.
func (p *pipeline) publishRecords(ctx context.Context, recs []schema.Record) error {
	step(p.out, "%d records of run %s to %s", len(recs), recs[0].RunID, p.cfg.Producer.Topic)
	cl, err := kgo.NewClient(kgo.SeedBrokers(p.cfg.Kafka.Brokers...), kgo.DefaultProduceTopic(p.cfg.Producer.Topic), kgo.ManualFlushing())
	if err != nil {
		return err
	}
	defer cl.Close()
	krecs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		v, err := schema.Encode(r)
		if err != nil {
			return fmt.Errorf("record %d: %w", r.Seq, err)
		}
		krecs[i] = &kgo.Record{Key: r.Key(), Value: v}
	}
	var produced kgo.FirstErrPromise
	for _, kr := range krecs {
		cl.Produce(ctx, kr, produced.Promise())
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err := produced.Err(); err != nil {
		return fmt.Errorf("publish run %s: %w", recs[0].RunID, err)
	}
	return nil
}

// waitObserved waits until the sink has written rounds rounds (two nodes, two Pgpool backends each) and events
// events of run id.
func (p *pipeline) waitObserved(ctx context.Context, id uuid.UUID, rounds, events int) error {
	return p.until(ctx, fmt.Sprintf("%d rounds and %d events of run %s in the database", rounds, events, id), func() (bool, error) {
		var n, m, e int
		err := p.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.cluster_node_samples WHERE run_id = $1),
			(SELECT count(*) FROM public.cluster_pool_samples WHERE run_id = $1), (SELECT count(*) FROM public.cluster_events WHERE run_id = $1)`, id).Scan(&n, &m, &e)
		return n == 2*rounds && m == 2*rounds && e == events, err
	})
}

// observedLive serves POST /_fixture/observed?step=…: the observed run's records (observedRecords, from 80 s ago)
// published in three steps, each answered once the sink has written it, so a page can watch the run change:
//
//	step=start              run_started and rounds 0–59, steady; answers {"run_id", "t0"}
//	step=failover&id=ID     rounds 60–79: pg-b promoted at round 74, a split brain still on at round 79
//	step=finish&id=ID       rounds 80–89 (pg-a down, the split brain over, Pgpool's status) and run_finished
type observedLive struct {
	p    *pipeline
	mu   sync.Mutex
	runs map[string][]schema.Record
}

func (o *observedLive) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	step, key := q.Get("step"), q.Get("id")
	var t0 time.Time
	o.mu.Lock()
	if step == "start" {
		id := uuid.Must(uuid.NewV7())
		key, t0 = id.String(), time.Now().UTC().Truncate(time.Second).Add(-80*time.Second)
		o.runs[key] = observedRecords(id, t0)
	}
	recs, ok := o.runs[key]
	o.mu.Unlock()
	// Records [from, to) of the run, then what the sink must have written.
	from, to, rounds, events := 0, 1+2*60, 60, 0
	switch step {
	case "start":
	case "failover":
		from, to, rounds, events = 1+2*60, 1+2*80, 80, 2
	case "finish":
		from, to, rounds, events = 1+2*80, len(recs), observedRounds, 5
	default:
		ok = false
	}
	if !ok {
		http.Error(w, "want ?step=start, or ?step=failover|finish&id=ID of a started run", http.StatusBadRequest)
		return
	}
	id := recs[0].RunID
	err := o.p.publishRecords(ctx, recs[from:to])
	if err == nil {
		err = o.p.waitObserved(ctx, id, rounds, events)
	}
	if err == nil && step == "finish" {
		err = o.p.waitFinished(ctx, id)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	answer := map[string]string{"run_id": id.String()}
	if step == "start" {
		answer["t0"] = t0.Format(time.RFC3339)
	}
	_ = json.NewEncoder(w).Encode(answer)
}

// A histRuns step publishes histRunStep one-second measurement samples, each of histRunLatencies latencies.
const (
	histRunStep      = 3
	histRunLatencies = 100
)

// histRuns serves POST /_fixture/histrun?step=…: a running MQTT run whose samples carry latency histograms of known
// counts, published in steps through Kafka and the sink like any producer's records, each step answered once the
// sink has written it, so that a page can watch the run's CDF follow it exactly:
//
//	step=start[&name=N]   run_started and histRunStep samples (name: "histogram run" unless given)
//	step=more&id=ID       histRunStep more samples
//	step=finish&id=ID     run_finished (status ok, with the whole run's summary)
//
// Sample j (from 0) holds histRunLatencies latencies of 1 + j mod 3 ms, the same in its corrected (latency.hdr) and
// uncorrected (mqtt.uncorrected_hdr) histograms, its percentiles read off them. Samples are one second each, from 10
// s before start, all in the measurement phase. Each step answers {"run_id", "samples", "latencies"}: the samples
// published so far and the latencies runs_latency_distribution (what the viewer's CDF reads) now holds for the run,
// histRunLatencies per sample once the sink has written them.
type histRuns struct {
	p    *pipeline
	mu   sync.Mutex
	runs map[string]*histRun
}

// histRun is what histRuns has published of one run.
type histRun struct {
	id       uuid.UUID
	t0       time.Time
	samples  int
	finished bool
}

func (hr *histRuns) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	q := r.URL.Query()
	step := q.Get("step")
	// The records of the step, made under the lock so that overlapping steps of one run take their own seqs.
	hr.mu.Lock()
	run := hr.runs[q.Get("id")]
	var recs []schema.Record
	var err error
	switch {
	case step == "start":
		name := q.Get("name")
		if name == "" {
			name = "histogram run"
		}
		run = &histRun{id: uuid.Must(uuid.NewV7()), t0: time.Now().UTC().Truncate(time.Second).Add(-10 * time.Second)}
		hr.runs[run.id.String()] = run
		recs = append(recs, run.started(name))
		fallthrough
	case step == "more" && run != nil && !run.finished:
		var more []schema.Record
		more, err = run.more(histRunStep)
		recs = append(recs, more...)
	case step == "finish" && run != nil && !run.finished:
		var fin schema.Record
		fin, err = run.finish()
		recs = append(recs, fin)
	default:
		hr.mu.Unlock()
		http.Error(w, "want ?step=start[&name=N], or ?step=more|finish&id=ID of a started, unfinished run", http.StatusBadRequest)
		return
	}
	id, samples := run.id, run.samples
	hr.mu.Unlock()
	ctx := r.Context()
	var latencies int64
	if err == nil {
		err = hr.p.publishRecords(ctx, recs)
	}
	if err == nil {
		err = hr.p.waitHistSamples(ctx, id, samples)
	}
	if err == nil && step == "finish" {
		err = hr.p.waitFinished(ctx, id)
	}
	if err == nil {
		err = hr.p.db.QueryRow(ctx, `SELECT coalesce(sum(count), 0)::bigint FROM public.runs_latency_distribution(ARRAY[$1::uuid])
			WHERE series = 'latency'`, id).Scan(&latencies)
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("histogram run %s, step %s: %v", id, step, err), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"run_id": id.String(), "samples": samples, "latencies": latencies})
}

func (h *histRun) rec(typ string, seq int64, t time.Time) schema.Record {
	return schema.Record{V: schema.Version, Type: typ, RunID: h.id, Seq: seq, Time: t}
}

func (h *histRun) at(j int) time.Time { return h.t0.Add(time.Duration(j) * time.Second) }

func (h *histRun) started(name string) schema.Record {
	r := h.rec(schema.TypeRunStarted, 0, h.t0)
	r.Started = &schema.Started{Kind: schema.KindMQTT, Name: name, Tags: map[string]string{"env": "lab"},
		Parameters: json.RawMessage(`{"publishers": 1, "subscribers": 1, "qos": 1, "rate": 100}`),
		Target:     schema.Target{URL: "tcp://127.0.0.1:1883", Host: "127.0.0.1", Port: 1883}, Host: hostinfo.Collect(), StartedAt: h.t0}
	return r
}

// more returns the run's next n samples (seq = sample number, from 1).
func (h *histRun) more(n int) ([]schema.Record, error) {
	recs := make([]schema.Record, 0, n)
	for range n {
		j := h.samples
		hist := stats.NewHistogram()
		if err := hist.RecordValues(int64(1+j%3)*1000, histRunLatencies); err != nil {
			return nil, err
		}
		f := histFigures(hist)
		sm := h.rec(schema.TypeSample, int64(j+1), h.at(j+1))
		sm.Sample = &schema.Sample{Start: h.at(j), End: h.at(j + 1), Phase: schema.PhaseMeasure, Figures: f}
		recs = append(recs, sm)
		h.samples++
	}
	return recs, nil
}

// finish returns the run's run_finished, its summary over every sample published.
func (h *histRun) finish() (schema.Record, error) {
	hist := stats.NewHistogram()
	for j := range h.samples {
		if err := hist.RecordValues(int64(1+j%3)*1000, histRunLatencies); err != nil {
			return schema.Record{}, err
		}
	}
	f := histFigures(hist)
	f.OpsRate = float64(f.Ops) / float64(max(h.samples, 1))
	if f.MQTT != nil {
		f.MQTT.OfferedRate = f.OpsRate
	}
	end := h.at(h.samples)
	fin := h.rec(schema.TypeRunFinished, int64(h.samples+1), end)
	fin.Finished = &schema.Finished{Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: h.t0, End: end, Figures: f}}
	h.finished = true
	return fin, nil
}

// histFigures returns the figures of an MQTT interval whose every message arrived, with latencies hist (µs): its
// count as the ops and messages of one second, its summary (stats.Latency, as the generator makes it) as both the
// corrected and the uncorrected latency. Latency is nil when hist is empty.
func histFigures(hist *hdrhistogram.Histogram) schema.Figures {
	n := hist.TotalCount()
	f := schema.Figures{Ops: n, OpsRate: float64(n), MQTT: &schema.MQTTFigures{Sent: n, Received: n, OfferedRate: float64(n)}}
	if f.Latency = stats.Latency(hist); f.Latency != nil {
		f.MQTT.UncorrectedP50Ms, f.MQTT.UncorrectedP99Ms, f.MQTT.UncorrectedMaxMs = f.Latency.P50Ms, f.Latency.P99Ms, f.Latency.MaxMs
		f.MQTT.UncorrectedHDR = f.Latency.HDR
	}
	return f
}

// waitHistSamples waits until the run's row is written and the sink has merged samples samples of run id into its
// per-minute histograms (it does so in the transaction that writes them).
func (p *pipeline) waitHistSamples(ctx context.Context, id uuid.UUID, samples int) error {
	return p.until(ctx, fmt.Sprintf("run %s and %d of its samples in samples_hist_1m", id, samples), func() (bool, error) {
		var run bool
		var n int
		err := p.db.QueryRow(ctx, `SELECT EXISTS (SELECT FROM public.runs WHERE run_id = $1),
			coalesce((SELECT sum(samples) FROM public.samples_hist_1m WHERE run_id = $1), 0)`, id).Scan(&run, &n)
		return run && n >= samples, err
	})
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
