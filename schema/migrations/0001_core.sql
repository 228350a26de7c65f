-- benchpipe core tables: one row per run, one row per sample.
-- Runs on plain PostgreSQL (>= 14 for date_bin); 0001_core.timescale.sql upgrades the same objects to
-- TimescaleDB features when the extension is available, keeping every name and column.

CREATE SCHEMA IF NOT EXISTS benchpipe;

-- runs: written by the run_started record (seq 0) and completed by the run_finished record. Either may arrive
-- first after a producer's spool resends, so the sink merges them column by column.
CREATE TABLE runs (
    run_id              uuid PRIMARY KEY,
    kind                text        NOT NULL DEFAULT 'unknown',
    name                text,
    tags                jsonb       NOT NULL DEFAULT '{}',
    parameters          jsonb       NOT NULL DEFAULT '{}',
    target_url          text,      -- credentials removed by the producer and checked by the sink
    target_host         text,
    target_port         integer,
    target_database     text,
    target_version      text,
    host_name           text,
    host_os             text,
    host_kernel         text,
    host_arch           text,
    host_cpu_model      text,
    host_cpu_cores      integer,
    host_memory_bytes   bigint,
    host_device_model   text,
    tools               jsonb       NOT NULL DEFAULT '{}',
    started_at          timestamptz,
    status              text        NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'ok', 'failed', 'aborted')),
    error               text,
    finished_at         timestamptz,
    -- summary of the measurement phase (warm-up excluded); same figures as samples
    measure_start       timestamptz,
    measure_end         timestamptz,
    ops                 bigint,
    ops_rate            double precision,
    bytes               bigint,
    errors              bigint,
    lat_min_ms          double precision,
    lat_mean_ms         double precision,
    lat_p50_ms          double precision,
    lat_p90_ms          double precision,
    lat_p95_ms          double precision,
    lat_p99_ms          double precision,
    lat_p999_ms         double precision,
    lat_max_ms          double precision,
    mqtt_sent           bigint,
    mqtt_received       bigint,
    mqtt_lost           bigint,
    mqtt_duplicated     bigint,
    mqtt_out_of_order   bigint,
    mqtt_offered_rate   double precision,
    mqtt_uncorrected_p50_ms double precision,
    mqtt_uncorrected_p99_ms double precision,
    mqtt_uncorrected_max_ms double precision,
    pg_tps              double precision,
    pg_stddev_ms        double precision,
    pg_failed           bigint,
    pg_retried          bigint,
    pg_retries          bigint,
    pg_lag_ms           double precision,
    pg_skipped          bigint,
    summary_extra       jsonb,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX runs_started_at_idx ON runs (started_at DESC);
CREATE INDEX runs_host_kind_idx ON runs (host_name, kind, started_at DESC);
CREATE INDEX runs_status_idx ON runs (status) WHERE status = 'running';
CREATE INDEX runs_tags_idx ON runs USING gin (tags jsonb_path_ops);

-- samples: one row per measurement interval. (run_id, seq) identifies the record; interval_start is in the key
-- because a TimescaleDB hypertable's unique keys must contain its time column.
CREATE TABLE samples (
    run_id              uuid        NOT NULL,
    seq                 bigint      NOT NULL,
    interval_start      timestamptz NOT NULL,
    interval_end        timestamptz NOT NULL,
    phase               text        NOT NULL CHECK (phase IN ('warmup', 'measure')),
    ops                 bigint      NOT NULL,
    ops_rate            double precision NOT NULL,
    bytes               bigint,
    errors              bigint      NOT NULL,
    lat_min_ms          double precision,
    lat_mean_ms         double precision,
    lat_p50_ms          double precision,
    lat_p90_ms          double precision,
    lat_p95_ms          double precision,
    lat_p99_ms          double precision,
    lat_p999_ms         double precision,
    lat_max_ms          double precision,
    mqtt_sent           bigint,
    mqtt_received       bigint,
    mqtt_lost           bigint,
    mqtt_duplicated     bigint,
    mqtt_out_of_order   bigint,
    mqtt_offered_rate   double precision,
    mqtt_uncorrected_p50_ms double precision,
    mqtt_uncorrected_p99_ms double precision,
    mqtt_uncorrected_max_ms double precision,
    pg_tps              double precision,
    pg_stddev_ms        double precision,
    pg_failed           bigint,
    pg_retried          bigint,
    pg_retries          bigint,
    pg_lag_ms           double precision,
    pg_skipped          bigint,
    PRIMARY KEY (run_id, seq, interval_start)
);

CREATE INDEX samples_interval_start_idx ON samples (interval_start DESC);

-- samples_1m: per run and minute. Counts are summed, rates are averaged over the samples in the minute, latency
-- percentiles take the worst interval (a percentile of percentiles is not a percentile; the maximum is an honest
-- upper bound). With TimescaleDB this is a real-time continuous aggregate of the same name and columns.
CREATE VIEW samples_1m AS
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

-- Kafka positions of the sink, written in the same transaction as the rows they cover, so that a crash or
-- rebalance can never write a record twice or skip one.
CREATE TABLE benchpipe.sink_offsets (
    consumer_group  text    NOT NULL,
    topic           text    NOT NULL,
    partition       integer NOT NULL,
    next_offset     bigint  NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
