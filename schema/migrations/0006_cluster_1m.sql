-- Cluster observation per minute (issue 15 × issue 16 item 3): long observed runs shown whole.
--
-- pgbench --observe stores a row per second per node (cluster_node_samples) and per Pgpool-II backend
-- (cluster_pool_samples): a 24-hour run of three nodes is 259,200 node rows, more than the anonymous role's row
-- limit. As samples_1m does for samples, these views give a row per run, minute and node (or backend), so the run
-- page draws a long run's cluster charts from them (viewer/src/observe.ts). The events (cluster_events) stay exact:
-- a role change or split brain shorter than a minute is still an event with its time.
--
-- Plain views: the rows of one run are found through the tables' (run_id, sampled_at) indexes, since run_id is a
-- grouping column and Hasura's filter on it is pushed below the aggregation. Measured on PostgreSQL 15 (2 cores,
-- loaded): a 24-hour run of three nodes (259,200 node rows) reads as its 4,320 node minutes in 0.4-0.7 s, its 86,400
-- rounds of two Pgpool backends as 2,880 backend minutes in 0.24-0.42 s, with or without ten other such runs in
-- the tables (schema/cluster1m_test.go, TestCluster1mViewSpeed). That is once per page load of a long run, so no
-- sink-maintained rollup (as samples_hist_1m is) is needed. No timescale variant: the views read the
-- hypertables of 0005_observation.timescale.sql as they read plain tables, and names, columns and types are the
-- same in both variants, so Hasura's metadata does not depend on the variant.
-- Grants: the sink's role owns the views, and the readers (Hasura, Grafana) get SELECT through the owner's default
-- privileges on tables, which cover views (deploy/timescaledb/100-benchpipe-roles.sh), as samples_1m's.
--
-- Minutes are date_bin('1 minute', sampled_at) from the same origin as samples_1m's buckets, so the cluster's
-- minutes line up with the samples' on the run page.

-- cluster_node_samples_1m: per run, minute and node. rounds counts the node's rows in the minute, rounds_up those
-- it answered in; primary_rounds, standby_rounds and down_rounds the rounds it was in each state (an answering node
-- without a role counts in neither). state is the node's state at the minute's last round (down, primary, standby;
-- NULL for an answering node without a role), at last_sampled_at; state_changed says whether the node was in more
-- than one state within the minute (a failover, a node going down or coming back). lag_*_max are the worst lag of
-- the minute, lag_*_last the lag at its last round (NULL when the node was not a standby then);
-- connections_max the most connections seen.
CREATE VIEW cluster_node_samples_1m AS
SELECT run_id,
       date_bin('1 minute', sampled_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket,
       node,
       count(*)                                      AS rounds,
       count(*) FILTER (WHERE up)                    AS rounds_up,
       count(*) FILTER (WHERE role = 'primary')      AS primary_rounds,
       count(*) FILTER (WHERE role = 'standby')      AS standby_rounds,
       count(*) FILTER (WHERE NOT up)                AS down_rounds,
       (array_agg(CASE WHEN up THEN role ELSE 'down' END ORDER BY sampled_at DESC))[1] AS state,
       count(DISTINCT CASE WHEN up THEN coalesce(role, 'up') ELSE 'down' END) > 1 AS state_changed,
       max(sampled_at)                               AS last_sampled_at,
       max(lag_bytes)                                AS lag_bytes_max,
       (array_agg(lag_bytes ORDER BY sampled_at DESC))[1] AS lag_bytes_last,
       max(lag_seconds)                              AS lag_seconds_max,
       (array_agg(lag_seconds ORDER BY sampled_at DESC))[1] AS lag_seconds_last,
       max(connections)                              AS connections_max
FROM cluster_node_samples
GROUP BY run_id, bucket, node;

-- cluster_pool_samples_1m: per run, minute and Pgpool-II backend. select_delta is the sum of the backend's
-- select_delta over the minute's rounds: the SELECTs Pgpool sent it in that minute (the read distribution per
-- minute). node and addr are the backend's at the minute's last round, status Pgpool's view of it then (up, down,
-- waiting, …), status_changed whether it had more than one status within the minute.
CREATE VIEW cluster_pool_samples_1m AS
SELECT run_id,
       date_bin('1 minute', sampled_at, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket,
       node_id,
       (array_agg(node ORDER BY sampled_at DESC))[1]   AS node,
       (array_agg(addr ORDER BY sampled_at DESC))[1]   AS addr,
       count(*)                                        AS rounds,
       sum(select_delta)::bigint                       AS select_delta,
       (array_agg(status ORDER BY sampled_at DESC))[1] AS status,
       count(DISTINCT status) > 1                      AS status_changed,
       max(sampled_at)                                 AS last_sampled_at
FROM cluster_pool_samples
GROUP BY run_id, bucket, node_id;
