-- TimescaleDB upgrade of 0002_perftool.sql. Applied only when the timescaledb extension is available (0001's
-- TimescaleDB part creates it), statement by statement outside a transaction block, right after 0002_perftool.sql.
-- Every statement is idempotent, so a half-applied run can be repeated.
--
-- perftool becomes a hypertable. The per-thread bucket views become views over real-time continuous aggregates
-- (perftool_thread_<W>_cagg) with the same columns, replaced in place, so the seed-named per-publisher views
-- perftool_30sec … perftool_10min, which sum over threads (see 0002_perftool.sql for why), keep their definition
-- and now read materialized buckets. The sum cannot itself be a continuous aggregate: that would aggregate an
-- aggregate, and TimescaleDB allows a continuous aggregate on another one only with a wider bucket.
-- Names, columns and types are those of 0002_perftool.sql, so Hasura metadata does not depend on the variant.
--
-- Needs TimescaleDB >= 2.13 (materialized_only = false is spelled out because 2.13 made it default to true).

-- Chunks of 7 days: perftool writes a few rows per publisher and minute, so finer chunks would only add
-- planning work. migrate_data moves rows written before TimescaleDB was installed.
SELECT create_hypertable('perftool', 'timestamp', chunk_time_interval => INTERVAL '7 days',
                         migrate_data => true, if_not_exists => true);

-- Each aggregate has the column list, expressions and types of the plain perftool_thread_<W> view, with
-- time_bucket in place of date_bin (same buckets: both start from 2000-01-03 00:00 UTC for these widths).
-- The bucket is grouped by its expression, not its alias, because the alias is also a column of perftool.
CREATE MATERIALIZED VIEW IF NOT EXISTS perftool_thread_30sec_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '30 seconds', "timestamp") AS "timestamp",
       avg(reader_bytes_rate)                     AS reader_bytes_rate,
       avg(writer_bytes_rate)                     AS writer_bytes_rate,
       avg(reader_count_rate)                     AS reader_count_rate,
       avg(writer_count_rate)                     AS writer_count_rate,
       avg(reader_error_rate)                     AS reader_error_rate,
       avg(writer_error_rate)                     AS writer_error_rate,
       avg(reader_error_count::double precision)  AS reader_error_count,
       avg(writer_error_count::double precision)  AS writer_error_count,
       publisher,
       thread_number,
       count(*)                                   AS result_count
FROM perftool
GROUP BY time_bucket(INTERVAL '30 seconds', "timestamp"), publisher, thread_number
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS perftool_thread_1min_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', "timestamp") AS "timestamp",
       avg(reader_bytes_rate)                     AS reader_bytes_rate,
       avg(writer_bytes_rate)                     AS writer_bytes_rate,
       avg(reader_count_rate)                     AS reader_count_rate,
       avg(writer_count_rate)                     AS writer_count_rate,
       avg(reader_error_rate)                     AS reader_error_rate,
       avg(writer_error_rate)                     AS writer_error_rate,
       avg(reader_error_count::double precision)  AS reader_error_count,
       avg(writer_error_count::double precision)  AS writer_error_count,
       publisher,
       thread_number,
       count(*)                                   AS result_count
FROM perftool
GROUP BY time_bucket(INTERVAL '1 minute', "timestamp"), publisher, thread_number
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS perftool_thread_2min_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '2 minutes', "timestamp") AS "timestamp",
       avg(reader_bytes_rate)                     AS reader_bytes_rate,
       avg(writer_bytes_rate)                     AS writer_bytes_rate,
       avg(reader_count_rate)                     AS reader_count_rate,
       avg(writer_count_rate)                     AS writer_count_rate,
       avg(reader_error_rate)                     AS reader_error_rate,
       avg(writer_error_rate)                     AS writer_error_rate,
       avg(reader_error_count::double precision)  AS reader_error_count,
       avg(writer_error_count::double precision)  AS writer_error_count,
       publisher,
       thread_number,
       count(*)                                   AS result_count
FROM perftool
GROUP BY time_bucket(INTERVAL '2 minutes', "timestamp"), publisher, thread_number
WITH NO DATA;

CREATE MATERIALIZED VIEW IF NOT EXISTS perftool_thread_10min_cagg
WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '10 minutes', "timestamp") AS "timestamp",
       avg(reader_bytes_rate)                     AS reader_bytes_rate,
       avg(writer_bytes_rate)                     AS writer_bytes_rate,
       avg(reader_count_rate)                     AS reader_count_rate,
       avg(writer_count_rate)                     AS writer_count_rate,
       avg(reader_error_rate)                     AS reader_error_rate,
       avg(writer_error_rate)                     AS writer_error_rate,
       avg(reader_error_count::double precision)  AS reader_error_count,
       avg(writer_error_count::double precision)  AS writer_error_count,
       publisher,
       thread_number,
       count(*)                                   AS result_count
FROM perftool
GROUP BY time_bucket(INTERVAL '10 minutes', "timestamp"), publisher, thread_number
WITH NO DATA;

-- Swap the plain per-thread views for the aggregates. CREATE OR REPLACE keeps the dependent perftool_<W> views
-- and works only if names and types match column for column, which is the consistency check.
CREATE OR REPLACE VIEW perftool_thread_30sec AS
SELECT "timestamp", reader_bytes_rate, writer_bytes_rate, reader_count_rate, writer_count_rate,
       reader_error_rate, writer_error_rate, reader_error_count, writer_error_count,
       publisher, thread_number, result_count
FROM perftool_thread_30sec_cagg;

CREATE OR REPLACE VIEW perftool_thread_1min AS
SELECT "timestamp", reader_bytes_rate, writer_bytes_rate, reader_count_rate, writer_count_rate,
       reader_error_rate, writer_error_rate, reader_error_count, writer_error_count,
       publisher, thread_number, result_count
FROM perftool_thread_1min_cagg;

CREATE OR REPLACE VIEW perftool_thread_2min AS
SELECT "timestamp", reader_bytes_rate, writer_bytes_rate, reader_count_rate, writer_count_rate,
       reader_error_rate, writer_error_rate, reader_error_count, writer_error_count,
       publisher, thread_number, result_count
FROM perftool_thread_2min_cagg;

CREATE OR REPLACE VIEW perftool_thread_10min AS
SELECT "timestamp", reader_bytes_rate, writer_bytes_rate, reader_count_rate, writer_count_rate,
       reader_error_rate, writer_error_rate, reader_error_count, writer_error_count,
       publisher, thread_number, result_count
FROM perftool_thread_10min_cagg;

-- Refresh over all history (start_offset NULL): edge devices re-send spooled results hours late, and a refresh
-- window that stops an hour back would leave those rows out of every materialized bucket for good. A refresh
-- only recomputes buckets that changed, so the open window costs little. end_offset of one bucket leaves the
-- bucket still being written to the real-time part of the query.
SELECT add_continuous_aggregate_policy('perftool_thread_30sec_cagg', start_offset => NULL,
                                       end_offset => INTERVAL '30 seconds', schedule_interval => INTERVAL '1 minute',
                                       if_not_exists => true);

SELECT add_continuous_aggregate_policy('perftool_thread_1min_cagg', start_offset => NULL,
                                       end_offset => INTERVAL '1 minute', schedule_interval => INTERVAL '1 minute',
                                       if_not_exists => true);

SELECT add_continuous_aggregate_policy('perftool_thread_2min_cagg', start_offset => NULL,
                                       end_offset => INTERVAL '2 minutes', schedule_interval => INTERVAL '2 minutes',
                                       if_not_exists => true);

SELECT add_continuous_aggregate_policy('perftool_thread_10min_cagg', start_offset => NULL,
                                       end_offset => INTERVAL '10 minutes', schedule_interval => INTERVAL '5 minutes',
                                       if_not_exists => true);
