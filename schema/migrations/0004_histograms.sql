-- Latency histograms (record version 2): percentiles that merge.
--
-- A sample carries its latency histogram (HdrHistogram V2 compressed, µs, 2 significant digits; see
-- schema/hist.go). Percentiles do not average, but histograms of the same geometry add bucket by bucket, so the
-- database can give the true p50/p99/p99.9 of any window, run, group of runs or device-day, exact to the
-- histogram's precision and identical to what HdrHistogram's ValueAtPercentile returns for the merged histogram.
--
-- PostgreSQL cannot inflate the V2 format in SQL, so the sink (Go) decodes each sample's histograms and keeps
-- their sums per run and minute (samples_hist_1m) and per run and hour (samples_hist_1h) as sorted arrays of
-- bucket values and counts. It adds to them in the transaction that inserts the sample rows, counting only rows
-- actually inserted, so a resent or replayed sample is merged once; it merges in Go, under a per-run lock
-- (pg_advisory_xact_lock), because merging arrays in SQL costs milliseconds per row.
-- Runs on plain PostgreSQL and with TimescaleDB alike (0004_histograms.timescale.sql only re-points samples_1m);
-- names, columns and types are the same in both variants, so Hasura's metadata does not depend on the variant.

-- The V2 compressed bytes as received (base64 decoded), for any HdrHistogram library to read. NULL when the
-- record had none (version 1 records, producers that keep no histogram).
ALTER TABLE samples
    ADD COLUMN lat_hdr              bytea,
    ADD COLUMN mqtt_uncorrected_hdr bytea;

ALTER TABLE runs
    ADD COLUMN lat_hdr              bytea,   -- the run summary's histogram (measurement phase)
    ADD COLUMN mqtt_uncorrected_hdr bytea;

-- samples_hist_1m: per run, minute (interval_start truncated to the minute, UTC) and phase, the merged histograms
-- of the samples carrying one. lat_v holds the populated buckets in ascending order, each as the highest value
-- equivalent to its bucket in µs (what ValueAtPercentile reports for it); lat_c their counts. unc_* is MQTT's
-- uncorrected series. samples counts the samples merged in (exactly-once is checked against it). The sink also
-- stores each row's percentiles (lat_count … unc_max_ms, ms), computed from the merged buckets exactly as
-- hist_percentiles computes them, so that samples_1m reads them instead of recomputing them per row.
-- samples_hist_1h is the same per hour: a 24-hour run is 24 rows there against 1,440 here, which is what keeps a
-- whole day's percentiles fast. Both are written only by the sink, in the transaction that inserts the samples.
CREATE TABLE samples_hist_1m (
    run_id       uuid        NOT NULL,
    bucket       timestamptz NOT NULL,
    phase        text        NOT NULL CHECK (phase IN ('warmup', 'measure')),
    samples      bigint      NOT NULL,
    lat_v        bigint[],
    lat_c        bigint[],
    unc_v        bigint[],
    unc_c        bigint[],
    lat_count    bigint,
    lat_p50_ms   double precision,
    lat_p90_ms   double precision,
    lat_p99_ms   double precision,
    lat_p999_ms  double precision,
    lat_max_ms   double precision,
    unc_count    bigint,
    unc_p50_ms   double precision,
    unc_p90_ms   double precision,
    unc_p99_ms   double precision,
    unc_p999_ms  double precision,
    unc_max_ms   double precision,
    PRIMARY KEY (run_id, bucket, phase),
    CHECK (cardinality(lat_v) = cardinality(lat_c) AND cardinality(unc_v) = cardinality(unc_c))
);

CREATE INDEX samples_hist_1m_bucket_idx ON samples_hist_1m (bucket);

CREATE TABLE samples_hist_1h (LIKE samples_hist_1m INCLUDING ALL);

-- The bucket arrays are a few kilobytes a row, so PostgreSQL compresses them on every write. Its default, pglz,
-- spent about 10 ms a row (the sink wrote 3,000 samples/s instead of 20,000+); lz4 does it in a twentieth of
-- that for 40 % more bytes. lz4 needs a server built with it (the timescaledb and Debian packages are); without
-- it the arrays are stored uncompressed.
DO $do$
DECLARE
    t text;
    c text;
BEGIN
    FOREACH t IN ARRAY ARRAY['samples_hist_1m', 'samples_hist_1h'] LOOP
        FOREACH c IN ARRAY ARRAY['lat_v', 'lat_c', 'unc_v', 'unc_c'] LOOP
            BEGIN
                EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET COMPRESSION lz4', t, c);
            EXCEPTION WHEN feature_not_supported OR invalid_parameter_value THEN
                EXECUTE format('ALTER TABLE %I ALTER COLUMN %I SET STORAGE EXTERNAL', t, c);
            END;
        END LOOP;
    END LOOP;
END
$do$;

-- latency_percentiles is the row type the percentile functions return (Hasura tracks functions that return a
-- SETOF of a tracked table). It holds no rows. series is 'latency' (for MQTT: corrected for coordinated omission)
-- or 'uncorrected' (MQTT's latency from the actual send time); count is the number of latencies merged.
CREATE TABLE latency_percentiles (
    series   text             NOT NULL,
    count    bigint           NOT NULL,
    p50_ms   double precision NOT NULL,
    p90_ms   double precision NOT NULL,
    p99_ms   double precision NOT NULL,
    p999_ms  double precision NOT NULL,
    max_ms   double precision NOT NULL
);

-- hist_rank is HdrHistogram's rank for percentile q of total values: round-half-up of q/100·total in float8
-- (the same IEEE arithmetic as hdrhistogram-go's percentileRank), at least 1 and at most total.
CREATE FUNCTION hist_rank(q double precision, total bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT greatest(1, least(total, trunc(q / 100 * total::double precision + 0.5)::bigint))
$$;

-- hist_percentiles returns the percentiles of one sparse histogram (v ascending, as samples_hist_1m keeps
-- them): for each q, the value of the first bucket whose cumulative count reaches hist_rank(q, total), in ms.
-- No row for an empty or NULL histogram.
CREATE FUNCTION hist_percentiles(series text, v bigint[], c bigint[]) RETURNS SETOF latency_percentiles
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT series, t.total,
           min(b.v) FILTER (WHERE b.cum >= hist_rank(50, t.total)) / 1000.0::double precision,
           min(b.v) FILTER (WHERE b.cum >= hist_rank(90, t.total)) / 1000.0::double precision,
           min(b.v) FILTER (WHERE b.cum >= hist_rank(99, t.total)) / 1000.0::double precision,
           min(b.v) FILTER (WHERE b.cum >= hist_rank(99.9, t.total)) / 1000.0::double precision,
           max(b.v) / 1000.0::double precision
    FROM (SELECT u.v, sum(u.c) OVER (ORDER BY u.i) AS cum
          FROM unnest(v, c) WITH ORDINALITY AS u(v, c, i)) AS b,
         (SELECT sum(x)::bigint AS total FROM unnest(c) AS x) AS t
    WHERE t.total > 0
    GROUP BY t.total
$$;

-- hist_merged returns the merged histograms of the given runs' samples that started in [from_time, to_time)
-- (NULL: open; from_time rounded down to its minute), one row per series that has values: the core of the
-- functions below. Whole hours inside the window come from samples_hist_1h, the minutes at its edges from
-- samples_hist_1m (both hold the same samples, summed per hour or per minute).
CREATE FUNCTION hist_merged(run_ids uuid[], from_time timestamptz, to_time timestamptz, include_warmup boolean,
                            OUT series text, OUT v bigint[], OUT c bigint[]) RETURNS SETOF record
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    WITH w AS (
        SELECT f, to_time AS t,
               -- the whole hours of [f, t): from the first hour starting at or after f to the last ending by t
               date_bin('1 hour', f + INTERVAL '1 hour' - INTERVAL '1 microsecond', TIMESTAMPTZ '2000-01-03 00:00:00+00') AS fh,
               date_bin('1 hour', to_time, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS th
        FROM (SELECT date_bin('1 minute', from_time, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS f) AS x
    ), h AS (
        SELECT h.lat_v, h.lat_c, h.unc_v, h.unc_c
        FROM samples_hist_1h h, w
        WHERE h.run_id = ANY (run_ids) AND (include_warmup OR h.phase = 'measure')
          AND (w.fh IS NULL OR h.bucket >= w.fh) AND (w.th IS NULL OR h.bucket < w.th)
        UNION ALL
        SELECT m.lat_v, m.lat_c, m.unc_v, m.unc_c
        FROM samples_hist_1m m, w
        WHERE m.run_id = ANY (run_ids) AND (include_warmup OR m.phase = 'measure')
          AND (w.f IS NULL OR m.bucket >= w.f) AND (w.t IS NULL OR m.bucket < w.t)
          AND NOT (m.bucket >= coalesce(w.fh, '-infinity') AND m.bucket < coalesce(w.th, 'infinity'))
    ), u AS (
        SELECT 'latency' AS series, x.v, x.c FROM h, unnest(h.lat_v, h.lat_c) AS x(v, c)
        UNION ALL
        SELECT 'uncorrected', x.v, x.c FROM h, unnest(h.unc_v, h.unc_c) AS x(v, c)
    ), m AS (
        SELECT u.series, u.v, sum(u.c)::bigint AS c FROM u GROUP BY u.series, u.v
    )
    SELECT m.series, array_agg(m.v ORDER BY m.v), array_agg(m.c ORDER BY m.v) FROM m GROUP BY m.series
$$;

-- The API (tracked in Hasura, callable by the readers). Percentiles of the merged per-minute histograms; the
-- measurement phase only unless include_warmup. Windows are minute-granular: a window covers the minutes whose
-- start lies in [from_time rounded down to its minute, to_time); a sample counts in the minute it started in.

-- run_latency_percentiles: one run, optionally a window of it (the viewer's zoom).
CREATE FUNCTION run_latency_percentiles(run_id uuid, from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL,
                                        include_warmup boolean DEFAULT false) RETURNS SETOF latency_percentiles
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.* FROM hist_merged(ARRAY[run_id], from_time, to_time, include_warmup) AS m,
                    hist_percentiles(m.series, m.v, m.c) AS p
    ORDER BY p.series
$$;

-- runs_latency_percentiles: a set of runs merged (a fleet launch, the runs of a comparison).
CREATE FUNCTION runs_latency_percentiles(run_ids uuid[], from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL,
                                         include_warmup boolean DEFAULT false) RETURNS SETOF latency_percentiles
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.* FROM hist_merged(run_ids, from_time, to_time, include_warmup) AS m,
                    hist_percentiles(m.series, m.v, m.c) AS p
    ORDER BY p.series
$$;

-- tagged_latency_percentiles: the runs whose tags contain tags (jsonb containment, e.g. {"launch": "2026-12-03a"}),
-- optionally of one kind, merged.
CREATE FUNCTION tagged_latency_percentiles(tags jsonb, kind text DEFAULT NULL, from_time timestamptz DEFAULT NULL,
                                           to_time timestamptz DEFAULT NULL, include_warmup boolean DEFAULT false)
RETURNS SETOF latency_percentiles
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.* FROM hist_merged(ARRAY(SELECT r.run_id FROM runs r
                                      WHERE r.tags @> tagged_latency_percentiles.tags
                                        AND (tagged_latency_percentiles.kind IS NULL OR r.kind = tagged_latency_percentiles.kind)),
                                from_time, to_time, include_warmup) AS m,
                    hist_percentiles(m.series, m.v, m.c) AS p
    ORDER BY p.series
$$;

-- device_latency_percentiles: every run of one load-generating host (runs.host_name), optionally of one kind,
-- over one UTC day.
CREATE FUNCTION device_latency_percentiles(host_name text, day date, kind text DEFAULT NULL,
                                           include_warmup boolean DEFAULT false) RETURNS SETOF latency_percentiles
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT p.* FROM hist_merged(ARRAY(SELECT r.run_id FROM runs r
                                      WHERE r.host_name = device_latency_percentiles.host_name
                                        AND (device_latency_percentiles.kind IS NULL OR r.kind = device_latency_percentiles.kind)),
                                day::timestamp AT TIME ZONE 'UTC', (day + 1)::timestamp AT TIME ZONE 'UTC', include_warmup) AS m,
                    hist_percentiles(m.series, m.v, m.c) AS p
    ORDER BY p.series
$$;

-- latency_distribution is the row type of run_latency_distribution: the merged histogram itself, for a CDF.
-- value_ms is the bucket's highest equivalent value, count its values, cumulative the values up to and
-- including it, and quantile cumulative / total.
CREATE TABLE latency_distribution (
    series      text             NOT NULL,
    value_ms    double precision NOT NULL,
    count       bigint           NOT NULL,
    cumulative  bigint           NOT NULL,
    quantile    double precision NOT NULL
);

-- runs_latency_distribution: the merged histogram of a set of runs (one run: a one-element array), optionally
-- a window of them, bucket by bucket.
CREATE FUNCTION runs_latency_distribution(run_ids uuid[], from_time timestamptz DEFAULT NULL, to_time timestamptz DEFAULT NULL,
                                          include_warmup boolean DEFAULT false) RETURNS SETOF latency_distribution
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT b.series, b.v / 1000.0::double precision, b.c, b.cum, b.cum::double precision / b.total
    FROM (SELECT m.series, u.v, u.c, sum(u.c) OVER w AS cum, sum(u.c) OVER (PARTITION BY m.series) AS total
          FROM hist_merged(run_ids, from_time, to_time, include_warmup) AS m, unnest(m.v, m.c) AS u(v, c)
          WINDOW w AS (PARTITION BY m.series ORDER BY u.v)) AS b
    ORDER BY b.series, b.v
$$;

-- samples_1m gets true per-minute percentiles. Its aggregate over samples moves to samples_1m_base (with
-- TimescaleDB the continuous aggregate, see the timescale part); samples_1m joins it with samples_hist_1m.
-- lat_p50_ms and lat_p99_ms are the merged histogram's percentiles when the minute has histograms, else (version
-- 1 records, producers without histograms) the worst interval's as before; hist_samples says how many of the
-- minute's samples carried a histogram: the percentiles are exact when it equals samples.
-- With TimescaleDB installed, samples_1m is a continuous aggregate here and the timescale part does the same
-- re-pointing; DROP VIEW would refuse it.
DO $do$
BEGIN
    IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'timescaledb') THEN
        RETURN;
    END IF;
    DROP VIEW samples_1m;
    CREATE VIEW samples_1m_base AS
    SELECT run_id,
           date_bin('1 minute', interval_start, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket,
           phase,
           count(*)            AS samples,
           sum(ops)            AS ops,
           avg(ops_rate)       AS ops_rate,
           sum(bytes)          AS bytes,
           sum(errors)         AS errors,
           min(lat_min_ms)     AS lat_min_ms,
           avg(lat_mean_ms)    AS lat_mean_ms,
           max(lat_p50_ms)     AS lat_p50_ms,
           max(lat_p99_ms)     AS lat_p99_ms,
           max(lat_max_ms)     AS lat_max_ms,
           sum(mqtt_sent)      AS mqtt_sent,
           sum(mqtt_received)  AS mqtt_received,
           sum(mqtt_lost)      AS mqtt_lost,
           sum(mqtt_duplicated) AS mqtt_duplicated,
           sum(mqtt_out_of_order) AS mqtt_out_of_order,
           avg(pg_tps)         AS pg_tps,
           sum(pg_failed)      AS pg_failed,
           sum(pg_skipped)     AS pg_skipped
    FROM samples
    GROUP BY run_id, bucket, phase;
    CREATE VIEW samples_1m AS
    SELECT b.run_id, b.bucket, b.phase, b.samples, b.ops, b.ops_rate, b.bytes, b.errors, b.lat_min_ms, b.lat_mean_ms,
           coalesce(h.lat_p50_ms, b.lat_p50_ms) AS lat_p50_ms,
           coalesce(h.lat_p99_ms, b.lat_p99_ms) AS lat_p99_ms,
           b.lat_max_ms, b.mqtt_sent, b.mqtt_received, b.mqtt_lost, b.mqtt_duplicated, b.mqtt_out_of_order,
           b.pg_tps, b.pg_failed, b.pg_skipped,
           coalesce(h.samples, 0) AS hist_samples,
           h.lat_count, h.lat_p90_ms, h.lat_p999_ms,
           h.unc_p50_ms AS mqtt_uncorrected_p50_ms,
           h.unc_p99_ms AS mqtt_uncorrected_p99_ms,
           h.unc_max_ms AS mqtt_uncorrected_max_ms
    FROM samples_1m_base b
    LEFT JOIN samples_hist_1m h ON h.run_id = b.run_id AND h.bucket = b.bucket AND h.phase = b.phase;
END
$do$;
