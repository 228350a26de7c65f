package hasurastub_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// The cluster-observation tables (issue 15) through the stand-in, the way the run page reads them: runs' flags and
// server facts, and its array relationships to the node and Pgpool samples, events and settings, with Hasura's
// JSON shapes for pg_lsn (a string), text[] (a JSON array), smallint and jsonb.
func TestObservationTables(t *testing.T) {
	d := migratedDeployment(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `
		UPDATE runs SET topology_changed = true, split_brain = true, server_version = 'PostgreSQL 16.4', server_version_num = 160004,
			database_size_bytes = 7540515, server_delta = '{"seconds": 3, "database": {"xact_commit": 300}}' WHERE run_id = '`+runC+`';
		INSERT INTO cluster_node_samples (run_id, seq, sampled_at, node, addr, up, error, role, timeline, wal_lsn, lag_bytes, lag_seconds, connections, probe_ms) VALUES
		('`+runC+`', 1, '2026-01-02 05:00:01+00', 'node0', '127.0.0.1:5432', true, NULL, 'primary', 1, '0/3000148', NULL, NULL, 3, 1.2),
		('`+runC+`', 1, '2026-01-02 05:00:01+00', 'node1', '127.0.0.1:5433', true, NULL, 'standby', 1, '0/3000100', 72, 0.25, 0, 1.1),
		('`+runC+`', 2, '2026-01-02 05:00:02+00', 'node0', '127.0.0.1:5432', true, NULL, 'primary', 1, '0/3000148', NULL, NULL, 3, 1.2),
		('`+runC+`', 2, '2026-01-02 05:00:02+00', 'node1', '127.0.0.1:5433', true, NULL, 'primary', 2, '0/30001C0', NULL, NULL, 0, 1.1);
		INSERT INTO cluster_observations (run_id, seq, sampled_at, primaries, pool_error) VALUES
		('`+runC+`', 1, '2026-01-02 05:00:01+00', 1, NULL), ('`+runC+`', 2, '2026-01-02 05:00:02+00', 2, 'SHOW POOL_NODES: timeout');
		INSERT INTO cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta) VALUES
		('`+runC+`', 1, '2026-01-02 05:00:01+00', 0, 'node0', '127.0.0.1:5432', 'up', 100, 0),
		('`+runC+`', 2, '2026-01-02 05:00:02+00', 0, 'node0', '127.0.0.1:5432', 'up', 120, 20),
		('`+runC+`', 2, '2026-01-02 05:00:02+00', 1, 'node1', '127.0.0.1:5433', 'up', 140, 40);
		INSERT INTO cluster_events (run_id, seq, idx, event_time, kind, node, from_state, to_state, nodes) VALUES
		('`+runC+`', 2, 0, '2026-01-02 05:00:02+00', 'role_change', 'node1', 'standby', 'primary', NULL),
		('`+runC+`', 2, 1, '2026-01-02 05:00:02+00', 'split_brain', NULL, NULL, NULL, '{node0,node1}');
		INSERT INTO run_settings (run_id, name, setting, unit, source) VALUES
		('`+runC+`', 'fsync', 'off', NULL, 'command line'), ('`+runC+`', 'shared_buffers', '16384', '8kB', 'configuration file');`); err != nil {
		t.Fatal(err)
	}
	srv := hasurastub.New(t, d.HasuraURL, loadMetadata(t))
	got := post(t, srv.URL, `query ($wal: pg_lsn!) { runs(where: {split_brain: {_eq: true}}) {
		run_id topology_changed split_brain server_version server_version_num database_size_bytes server_delta
		cluster_observations(where: {primaries: {_gte: 2}}) { seq primaries pool_error }
		cluster_events(order_by: {idx: asc}) { idx kind node from_state to_state nodes event_time }
		cluster_node_samples(where: {wal_lsn: {_gt: $wal}}, order_by: [{seq: asc}, {node: asc}]) { seq node role wal_lsn lag_bytes lag_seconds }
		cluster_pool_samples_aggregate(where: {seq: {_eq: 2}}) { aggregate { sum { select_delta } } }
		run_settings(order_by: {name: asc}) { name setting unit }
		flagged: cluster_events_aggregate { aggregate { count } } } }`, map[string]any{"wal": "0/3000100"})
	want := decode(t, `{"data": {"runs": [{"run_id": "`+runC+`", "topology_changed": true, "split_brain": true, "server_version": "PostgreSQL 16.4",
		"server_version_num": 160004, "database_size_bytes": 7540515, "server_delta": {"seconds": 3, "database": {"xact_commit": 300}},
		"cluster_observations": [{"seq": 2, "primaries": 2, "pool_error": "SHOW POOL_NODES: timeout"}],
		"cluster_events": [
			{"idx": 0, "kind": "role_change", "node": "node1", "from_state": "standby", "to_state": "primary", "nodes": null, "event_time": "2026-01-02T05:00:02+00:00"},
			{"idx": 1, "kind": "split_brain", "node": null, "from_state": null, "to_state": null, "nodes": ["node0", "node1"], "event_time": "2026-01-02T05:00:02+00:00"}],
		"cluster_node_samples": [
			{"seq": 1, "node": "node0", "role": "primary", "wal_lsn": "0/3000148", "lag_bytes": null, "lag_seconds": null},
			{"seq": 2, "node": "node0", "role": "primary", "wal_lsn": "0/3000148", "lag_bytes": null, "lag_seconds": null},
			{"seq": 2, "node": "node1", "role": "primary", "wal_lsn": "0/30001C0", "lag_bytes": null, "lag_seconds": null}],
		"cluster_pool_samples_aggregate": {"aggregate": {"sum": {"select_delta": 60}}},
		"run_settings": [{"name": "fsync", "setting": "off", "unit": null}, {"name": "shared_buffers", "setting": "16384", "unit": "8kB"}],
		"flagged": {"aggregate": {"count": 2}}}]}}`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
}
