-- SINETStream perftool results, compatible with the SINETStream perftool server (seed 001) and its viewer.
-- Runs on plain PostgreSQL (>= 14, for date_bin) inside the migration transaction. 0002_perftool.timescale.sql
-- upgrades the same objects to a hypertable and continuous aggregates when TimescaleDB is available, keeping
-- every name and column.
-- Go side: package schema/sinetstream (Decode → ParseResult → NewRow; Columns() lists perftool's columns in the
-- order a Row carries them).

-- perftool: one row per perftool result line, i.e. per (publisher, thread, round).
--
-- The first ten columns are the seed server's, same names and order, so the old viewer's queries
-- (perftool(where: {publisher, timestamp}, order_by: {timestamp}) {timestamp reader_bytes_rate …}) keep working.
-- Types differ on purpose: rates are double precision instead of real (real keeps 24 bits of mantissa: a rate of
-- 123456789 bytes/s comes back as 123456792), and error counts are bigint because they are counts.
--
-- "timestamp" is when the measurement ended (writer end_time, else reader end_time, else the publish time), not
-- when the message was published: a result re-published later (a wrapper retrying, an edge device re-sending its
-- spool) is the same measurement and must land on the same key, and charts show when things were measured.
-- published_at keeps the SINETStream tstamp (or the Kafka record timestamp for bare JSON) for tracing.
--
-- Deduplication: PRIMARY KEY (publisher, "timestamp", thread_number). A perftool thread runs its rounds one after
-- another, each with a fresh writer, so one thread of one publisher never ends two rounds at the same instant
-- (ms from Java perftool, µs from Python), as long as each device publishes under its own name. The key is built
-- from the result's content, so it catches both re-delivery (the same Kafka record read twice; the sink's offset
-- bookkeeping catches that too) and re-publication (a new Kafka record, new offset and new tstamp, same result).
-- A key on (topic, partition, offset) or on the tstamp would store a re-published result twice, and the views
-- below would count it twice. The key also contains the time column, as a hypertable's unique keys must, and
-- serves the viewer's query (publisher = $1 AND "timestamp" BETWEEN $2 AND $3). Write with COPY into a temporary
-- table, then INSERT … SELECT … ON CONFLICT DO NOTHING, which also drops duplicates within one batch.
-- Limit: a result with no end time on either side falls back to the publish time, which changes when it is
-- re-published; perftool prints end times for every side that ran, so only hand-made results get there.
CREATE TABLE perftool (
    "timestamp"             timestamptz      NOT NULL,
    reader_bytes_rate       double precision,          -- reader msg_bytes_rate, bytes/s
    writer_bytes_rate       double precision,
    reader_count_rate       double precision,          -- msg_count_rate, messages/s
    writer_count_rate       double precision,
    reader_error_rate       double precision,          -- error_count_rate, errors/s
    writer_error_rate       double precision,
    reader_error_count      bigint,                    -- error_count_total
    writer_error_count      bigint,
    publisher               text             NOT NULL, -- "name", added by the wrapper that ships the result
    -- The rest of perftool's 16 fields per side. Null where the side is absent. start_time/start_time_ms (and
    -- end_*) are one instant: stored once as timestamptz, from the _ms field (Java prints it exactly); null when
    -- perftool printed 0 (a side that never started). time_ms is time × 1000 and is not stored twice.
    -- thread_number is the pair's, equal on both sides (checked by the sink).
    thread_number           integer          NOT NULL,
    writer_start_time       timestamptz,
    writer_end_time         timestamptz,
    writer_time             double precision,          -- measured duration, s
    writer_msg_count_total  bigint,
    writer_msg_bytes_total  bigint,
    writer_msg_size_min     bigint,                    -- null when no message was counted
    writer_msg_size_max     bigint,
    writer_msg_size_avg     double precision,
    reader_start_time       timestamptz,
    reader_end_time         timestamptz,
    reader_time             double precision,
    reader_msg_count_total  bigint,
    reader_msg_bytes_total  bigint,
    reader_msg_size_min     bigint,
    reader_msg_size_max     bigint,
    reader_msg_size_avg     double precision,
    published_at            timestamptz      NOT NULL,
    inserted_at             timestamptz      NOT NULL DEFAULT now(),
    -- Mirrors of the sink's checks (sinetstream.Result.Validate), so that a bad row fails loudly rather than
    -- later in a view. 256 bytes keeps the key well inside a b-tree entry.
    CONSTRAINT perftool_publisher_check CHECK (publisher <> '' AND octet_length(publisher) <= 256),
    CONSTRAINT perftool_thread_number_check CHECK (thread_number >= 0),
    CONSTRAINT perftool_side_check CHECK (writer_time IS NOT NULL OR reader_time IS NOT NULL),
    PRIMARY KEY (publisher, "timestamp", thread_number)
);

CREATE INDEX perftool_timestamp_idx ON perftool ("timestamp" DESC);

-- Buckets. For every width W in 30 seconds, 1, 2 and 10 minutes:
--
--   perftool_thread_<W>  per bucket, publisher and thread: the average of each figure over the thread's results
--                        that ended in the bucket, and how many there were (result_count).
--   perftool_<W>         per bucket and publisher, the seed's view names and columns: the SUM over threads of
--                        those per-thread averages, plus thread_count and result_count.
--
-- Why: perftool runs its threads at the same time, so the publisher's throughput is the sum of its threads'
-- rates, while the rounds of one thread follow each other, so over time they are averaged. For a run with T
-- threads and R rounds in a bucket,  Σ_t (1/R · Σ_r rate[t,r]) = 1/R · Σ_r (Σ_t rate[t,r]):  the rates of the
-- threads of each round are summed, and those sums are averaged over the bucket's rounds. The seed averaged
-- over all rows instead, reporting a 4-thread run at a quarter of its throughput.
-- Error counts get the same treatment (errors per round across all threads, averaged over rounds).
-- Approximation, from grouping by thread_number rather than by run (a result carries no run id): when two runs
-- of one publisher with different thread counts share a bucket, thread t's average mixes both runs. When a
-- round's threads end on both sides of a bucket boundary, each bucket sums the threads it holds.
--
-- The per-thread level exists as its own view because a TimescaleDB continuous aggregate can aggregate only once
-- and cannot sit on another one of the same bucket width: with TimescaleDB the per-thread views become views over
-- continuous aggregates and the per-publisher sum stays a plain view on top (see 0002_perftool.timescale.sql).
-- Buckets start at multiples of W from 2000-01-03 00:00 UTC, the origin time_bucket() uses, so both variants
-- cut the same buckets (the origin is spelled with its offset: a bare literal would take the session's zone).
CREATE VIEW perftool_thread_30sec AS
SELECT date_bin(INTERVAL '30 seconds', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00') AS "timestamp",
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
GROUP BY date_bin(INTERVAL '30 seconds', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00'), publisher, thread_number;

CREATE VIEW perftool_thread_1min AS
SELECT date_bin(INTERVAL '1 minute', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00') AS "timestamp",
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
GROUP BY date_bin(INTERVAL '1 minute', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00'), publisher, thread_number;

CREATE VIEW perftool_thread_2min AS
SELECT date_bin(INTERVAL '2 minutes', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00') AS "timestamp",
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
GROUP BY date_bin(INTERVAL '2 minutes', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00'), publisher, thread_number;

CREATE VIEW perftool_thread_10min AS
SELECT date_bin(INTERVAL '10 minutes', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00') AS "timestamp",
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
GROUP BY date_bin(INTERVAL '10 minutes', "timestamp", TIMESTAMPTZ '2000-01-03 00:00:00+00'), publisher, thread_number;

-- The seed's views, by name and column. sum() skips nulls: a thread without a reader side adds nothing to
-- reader_*; a bucket where no thread has one shows null.
CREATE VIEW perftool_30sec AS
SELECT "timestamp",
       sum(reader_bytes_rate)   AS reader_bytes_rate,
       sum(writer_bytes_rate)   AS writer_bytes_rate,
       sum(reader_count_rate)   AS reader_count_rate,
       sum(writer_count_rate)   AS writer_count_rate,
       sum(reader_error_rate)   AS reader_error_rate,
       sum(writer_error_rate)   AS writer_error_rate,
       sum(reader_error_count)  AS reader_error_count,
       sum(writer_error_count)  AS writer_error_count,
       publisher,
       count(*)                 AS thread_count,
       sum(result_count)::bigint AS result_count
FROM perftool_thread_30sec
GROUP BY "timestamp", publisher;

CREATE VIEW perftool_1min AS
SELECT "timestamp",
       sum(reader_bytes_rate)   AS reader_bytes_rate,
       sum(writer_bytes_rate)   AS writer_bytes_rate,
       sum(reader_count_rate)   AS reader_count_rate,
       sum(writer_count_rate)   AS writer_count_rate,
       sum(reader_error_rate)   AS reader_error_rate,
       sum(writer_error_rate)   AS writer_error_rate,
       sum(reader_error_count)  AS reader_error_count,
       sum(writer_error_count)  AS writer_error_count,
       publisher,
       count(*)                 AS thread_count,
       sum(result_count)::bigint AS result_count
FROM perftool_thread_1min
GROUP BY "timestamp", publisher;

CREATE VIEW perftool_2min AS
SELECT "timestamp",
       sum(reader_bytes_rate)   AS reader_bytes_rate,
       sum(writer_bytes_rate)   AS writer_bytes_rate,
       sum(reader_count_rate)   AS reader_count_rate,
       sum(writer_count_rate)   AS writer_count_rate,
       sum(reader_error_rate)   AS reader_error_rate,
       sum(writer_error_rate)   AS writer_error_rate,
       sum(reader_error_count)  AS reader_error_count,
       sum(writer_error_count)  AS writer_error_count,
       publisher,
       count(*)                 AS thread_count,
       sum(result_count)::bigint AS result_count
FROM perftool_thread_2min
GROUP BY "timestamp", publisher;

CREATE VIEW perftool_10min AS
SELECT "timestamp",
       sum(reader_bytes_rate)   AS reader_bytes_rate,
       sum(writer_bytes_rate)   AS writer_bytes_rate,
       sum(reader_count_rate)   AS reader_count_rate,
       sum(writer_count_rate)   AS writer_count_rate,
       sum(reader_error_rate)   AS reader_error_rate,
       sum(writer_error_rate)   AS writer_error_rate,
       sum(reader_error_count)  AS reader_error_count,
       sum(writer_error_count)  AS writer_error_count,
       publisher,
       count(*)                 AS thread_count,
       sum(result_count)::bigint AS result_count
FROM perftool_thread_10min
GROUP BY "timestamp", publisher;

-- The seed server's raw table, kept by name and columns (its Kafka Connect sink named tables after the topic) for
-- exports and ad-hoc queries written against it. The sink may store every JSON payload here as received
-- (sinetstream.NewRawRow), including results the perftool table rejects, so a bad result can be inspected and
-- replayed instead of vanishing. Not deduplicated: it is a log of what arrived. Nothing reads it for the views.
CREATE TABLE "perftool-sinetstream-result" (
    tstamp  timestamptz,
    msg     jsonb
);

CREATE INDEX "perftool-sinetstream-result_tstamp_idx" ON "perftool-sinetstream-result" (tstamp DESC);

-- The viewer's saved settings, as in the seed. The default row's config is empty: the viewer then uses its
-- built-in settings; this migration does not invent a config format the viewer has not defined.
CREATE TABLE viewer_config (
    id       serial PRIMARY KEY,
    name     text UNIQUE,
    comment  text,
    config   jsonb
);

INSERT INTO viewer_config (name, comment, config)
VALUES ('default', 'Used when no other configuration is selected.', '{}');
