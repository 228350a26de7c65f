-- TimescaleDB upgrade of 0001_core.sql. Applied only when the timescaledb extension is available, outside a
-- transaction block (a continuous aggregate cannot be created inside one). Every statement is idempotent so a
-- half-applied run can be repeated. Compression and retention policies come from the sink's config and are
-- applied at every start (schema.ApplyTimescalePolicies), not here.
CREATE EXTENSION IF NOT EXISTS timescaledb;

SELECT create_hypertable('samples', 'interval_start', chunk_time_interval => INTERVAL '1 day',
                         migrate_data => true, if_not_exists => true);

DROP VIEW IF EXISTS samples_1m;

CREATE MATERIALIZED VIEW IF NOT EXISTS samples_1m
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT run_id,
       time_bucket(INTERVAL '1 minute', interval_start) AS bucket,
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
GROUP BY run_id, bucket, phase
WITH NO DATA;

SELECT add_continuous_aggregate_policy('samples_1m', start_offset => NULL, -- NULL: samples spooled for days on a device still get materialised
                                       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute',
                                       if_not_exists => true);
