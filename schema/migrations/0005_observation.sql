-- Cluster observation (issue 15): what each node of a measured PostgreSQL cluster was, once a second, during a run;
-- what Pgpool-II saw; the events (role change, node down, split brain); the server's facts at the run's start and
-- end. Go side: schema.Observation (schema/observation.go), made by producer/observe, written by the sink
-- (schema/observation_rows.go, sink/ingest) in the transaction that stores the observation record's offset.
-- Runs on plain PostgreSQL inside the migration transaction; 0005_observation.timescale.sql makes
-- cluster_node_samples and cluster_pool_samples hypertables on sampled_at (it is in both primary keys for that).
-- Names, columns and types are the same in both variants, so Hasura's metadata does not depend on the variant.
-- Grants: the sink's role owns what it creates here, and the readers (Hasura, Grafana) get SELECT through the
-- owner's default privileges (deploy/timescaledb/100-benchpipe-roles.sh), as for every earlier table.

-- The run flag: set by the sink when an observation of the run carries an event that schema.FlagsRun accepts
-- (role_change, node_down, split_brain, pool_status); split_brain separately, for the banner's wording. Written
-- with OR (never cleared), so observations may arrive in any order after a producer's spool resends.
-- Server facts: the first observation's version and size, and the last one's counter deltas. The deltas stay
-- jsonb: pg_stat_database, pg_stat_bgwriter and pg_stat_checkpointer columns differ between server versions.
-- server_version is version() as the server reports it (target_version is what the producer's run_started says).
ALTER TABLE runs
    ADD COLUMN topology_changed     boolean NOT NULL DEFAULT false,
    ADD COLUMN split_brain          boolean NOT NULL DEFAULT false,
    ADD COLUMN server_version       text,
    ADD COLUMN server_version_num   integer,
    ADD COLUMN database_size_bytes  bigint,
    ADD COLUMN server_delta         jsonb;

CREATE INDEX runs_topology_changed_idx ON runs (started_at DESC) WHERE topology_changed;

-- cluster_observations: one row per observation (a round of probes): how many nodes answered as primary (2 or more
-- is a split brain) and, when Pgpool-II is observed, why SHOW POOL_NODES failed. A round whose every probe failed
-- leaves its trace here, not only in the per-node rows.
CREATE TABLE cluster_observations (
    run_id      uuid        NOT NULL,
    seq         bigint      NOT NULL,
    sampled_at  timestamptz NOT NULL,   -- Observation.time: when the round of probes started
    primaries   integer     NOT NULL CHECK (primaries >= 0),
    pool_error  text,                   -- credentials removed by the producer and the sink
    PRIMARY KEY (run_id, seq, sampled_at)
);

CREATE INDEX cluster_observations_run_idx ON cluster_observations (run_id, sampled_at);

-- cluster_node_samples: one row per observation and node (schema.NodeSample). (run_id, seq) is the observation
-- record, node its node; sampled_at is in the key for the hypertable of the timescale part. A node that did not
-- answer has up = false, its error, and no figures.
CREATE TABLE cluster_node_samples (
    run_id          uuid        NOT NULL,
    seq             bigint      NOT NULL,
    sampled_at      timestamptz NOT NULL,   -- Observation.time: when the round of probes started
    node            text        NOT NULL,   -- the name it was configured under
    addr            text        NOT NULL,   -- host:port, no credentials
    up              boolean     NOT NULL,
    error           text,
    role            text        CHECK (role IN ('primary', 'standby')),
    timeline        integer,
    wal_lsn         pg_lsn,                 -- primary: current; standby: replayed
    lag_bytes       bigint      CHECK (lag_bytes >= 0),
    lag_seconds     double precision CHECK (lag_seconds >= 0),
    connections     integer,
    upstream        text,                   -- a standby's sender host:port
    probe_ms        double precision,
    CONSTRAINT cluster_node_samples_node_check CHECK (node <> '' AND octet_length(node) <= 256),
    CONSTRAINT cluster_node_samples_down_check CHECK (up OR (role IS NULL AND wal_lsn IS NULL AND lag_bytes IS NULL)),
    PRIMARY KEY (run_id, seq, node, sampled_at)
);

CREATE INDEX cluster_node_samples_run_idx ON cluster_node_samples (run_id, sampled_at);

-- cluster_pool_samples: one row per observation and Pgpool-II backend (schema.PoolNodeSample, a row of SHOW
-- POOL_NODES). select_delta is the read distribution: SELECTs Pgpool sent to the backend since the previous
-- observation (0 in a run's first).
CREATE TABLE cluster_pool_samples (
    run_id             uuid        NOT NULL,
    seq                bigint      NOT NULL,
    sampled_at         timestamptz NOT NULL,
    node_id            integer     NOT NULL,
    node               text,                -- the observed node at the same host:port, if any
    addr               text        NOT NULL,
    status             text        NOT NULL, -- Pgpool's view: up, down, waiting, unused, quarantine
    pg_status          text,
    role               text,
    pg_role            text,
    lb_weight          double precision,
    select_cnt         bigint      NOT NULL CHECK (select_cnt >= 0),
    select_delta       bigint      NOT NULL CHECK (select_delta >= 0),
    replication_delay  bigint,
    PRIMARY KEY (run_id, seq, node_id, sampled_at)
);

CREATE INDEX cluster_pool_samples_run_idx ON cluster_pool_samples (run_id, sampled_at);

-- cluster_events: one row per event (schema.ClusterEvent), idx its position in the observation's list, so a
-- redelivered observation lands on the same keys.
CREATE TABLE cluster_events (
    run_id      uuid        NOT NULL,
    seq         bigint      NOT NULL,
    idx         smallint    NOT NULL CHECK (idx >= 0),
    event_time  timestamptz NOT NULL,
    kind        text        NOT NULL CHECK (kind IN ('role_change', 'node_down', 'node_up', 'split_brain', 'split_brain_end', 'pool_status')),
    node        text,
    from_state  text,                        -- role or Pgpool status before
    to_state    text,                        -- and after
    nodes       text[],                      -- split brain: the primaries
    detail      text,                        -- credentials removed by the producer and the sink
    CONSTRAINT cluster_events_split_brain_check CHECK (kind <> 'split_brain' OR cardinality(nodes) >= 2),
    PRIMARY KEY (run_id, seq, idx)
);

CREATE INDEX cluster_events_run_idx ON cluster_events (run_id, event_time);

-- run_settings: the server's non-default settings at the run's start (pg_settings with source not default,
-- client or session), one row per setting, so that compare can list the settings that differ between two runs
-- with a join.
CREATE TABLE run_settings (
    run_id   uuid NOT NULL,
    name     text NOT NULL,
    setting  text NOT NULL,
    unit     text,
    source   text NOT NULL,
    PRIMARY KEY (run_id, name)
);
