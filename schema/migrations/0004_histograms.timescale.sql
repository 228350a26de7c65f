-- TimescaleDB part of 0004_histograms.sql. Applied only where TimescaleDB is usable, statement by statement
-- outside a transaction block, after 0004_histograms.sql (whose samples_1m step does nothing when the extension
-- is installed). Every statement is idempotent, so a half-applied run can be repeated. Not run here: TimescaleDB
-- cannot be installed where the tests run.
--
-- samples_1m, the continuous aggregate of 0001_core.timescale.sql, becomes samples_1m_base (the name the plain
-- variant gives the same aggregate), and samples_1m a view joining it with samples_hist_1m, with the column list
-- and definition of the plain variant, as 0002_perftool.timescale.sql puts views over its aggregates. A continuous
-- aggregate cannot join samples_hist_1m itself, and cannot merge histograms: PostgreSQL has no aggregate that
-- adds arrays bucket by bucket. Renaming keeps the aggregate's materialised data and its refresh policy (both
-- refer to it by id, not by name).
--
-- States this handles: a fresh database (samples_1m is the aggregate, no samples_1m_base); a database migrated
-- without TimescaleDB and upgraded later (0001's timescale part dropped 0004's samples_1m view and made the
-- aggregate; samples_1m_base is 0004's plain view, dropped here to make room); a repeated run (samples_1m_base is
-- already the aggregate).
-- samples_hist_1m and _1h stay plain tables: one row per run and minute or hour, written by the sink.
DO $do$
BEGIN
    IF NOT EXISTS (SELECT FROM timescaledb_information.continuous_aggregates
                   WHERE view_schema = 'public' AND view_name = 'samples_1m_base') THEN
        DROP VIEW IF EXISTS samples_1m_base;
        ALTER MATERIALIZED VIEW samples_1m RENAME TO samples_1m_base;
    END IF;
END
$do$;

CREATE OR REPLACE VIEW samples_1m AS
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
