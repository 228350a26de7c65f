-- TimescaleDB part of 0005_observation.sql. Applied only where TimescaleDB is usable, statement by statement
-- outside a transaction block, right after 0005_observation.sql. Every statement is idempotent, so a
-- half-applied run can be repeated. Not run here: TimescaleDB cannot be installed where the tests run.
--
-- The three per-second tables become hypertables on sampled_at, which their primary keys contain for that. A
-- day-long run of a three-node cluster behind Pgpool-II writes about 600,000 rows into them. Chunks of 1 day, as
-- samples has. migrate_data moves rows written before TimescaleDB became usable.
-- cluster_events and run_settings stay plain tables: a few rows per run.
-- The sink's compression and retention policies (sink.timescale) apply to them as to samples (schema.policyTables).
SELECT create_hypertable('cluster_observations', 'sampled_at', chunk_time_interval => INTERVAL '1 day',
                         migrate_data => true, if_not_exists => true);

SELECT create_hypertable('cluster_node_samples', 'sampled_at', chunk_time_interval => INTERVAL '1 day',
                         migrate_data => true, if_not_exists => true);

SELECT create_hypertable('cluster_pool_samples', 'sampled_at', chunk_time_interval => INTERVAL '1 day',
                         migrate_data => true, if_not_exists => true);
