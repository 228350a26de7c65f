package hasurastub_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
)

// The per-minute cluster views (schema/migrations/0006_cluster_1m.sql) through the stand-in, the way the run page
// reads a long observed run: the probe past a page of per-second rows, the minutes of the nodes and of the Pgpool
// backends a page at a time in order, and from runs through their array relationships with an aggregate. Hasura's
// JSON shapes: timestamptz with its offset, bigint counts and sums as numbers, booleans.
func TestClusterMinuteViews(t *testing.T) {
	d := migratedDeployment(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Two minutes of two nodes, a round every 30 s: node1 is promoted at 05:01:30 and node0 goes down then.
	if _, err := conn.Exec(ctx, `
		INSERT INTO cluster_node_samples (run_id, seq, sampled_at, node, addr, up, role, lag_bytes, lag_seconds, connections) VALUES
		('`+runC+`', 1, '2026-01-02 05:00:00+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 3),
		('`+runC+`', 1, '2026-01-02 05:00:00+00', 'node1', 'h1:5432', true,  'standby', 72,   0.25, 1),
		('`+runC+`', 2, '2026-01-02 05:00:30+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 5),
		('`+runC+`', 2, '2026-01-02 05:00:30+00', 'node1', 'h1:5432', true,  'standby', 8,    0.5,  1),
		('`+runC+`', 3, '2026-01-02 05:01:00+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 4),
		('`+runC+`', 3, '2026-01-02 05:01:00+00', 'node1', 'h1:5432', true,  'standby', 900,  1.5,  1),
		('`+runC+`', 4, '2026-01-02 05:01:30+00', 'node0', 'h0:5432', false, NULL,      NULL, NULL, NULL),
		('`+runC+`', 4, '2026-01-02 05:01:30+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 6);
		INSERT INTO cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta) VALUES
		('`+runC+`', 1, '2026-01-02 05:00:00+00', 0, 'node0', 'h0:5432', 'up',   0,  0),
		('`+runC+`', 1, '2026-01-02 05:00:00+00', 1, 'node1', 'h1:5432', 'up',   0,  0),
		('`+runC+`', 2, '2026-01-02 05:00:30+00', 0, 'node0', 'h0:5432', 'up',   10, 10),
		('`+runC+`', 2, '2026-01-02 05:00:30+00', 1, 'node1', 'h1:5432', 'up',   30, 30),
		('`+runC+`', 3, '2026-01-02 05:01:00+00', 0, 'node0', 'h0:5432', 'up',   15, 5),
		('`+runC+`', 3, '2026-01-02 05:01:00+00', 1, 'node1', 'h1:5432', 'up',   70, 40),
		('`+runC+`', 4, '2026-01-02 05:01:30+00', 0, 'node0', 'h0:5432', 'down', 15, 0),
		('`+runC+`', 4, '2026-01-02 05:01:30+00', 1, 'node1', 'h1:5432', 'up',   120, 50);`); err != nil {
		t.Fatal(err)
	}
	srv := hasurastub.New(t, d.HasuraURL, loadMetadata(t))

	// The viewer's probe (queries.ts CLUSTER_LENGTH_PROBE_QUERY) with offsets inside and past the run's rows.
	const probe = `query ($id: uuid!, $offset: Int!) {
		nodes: cluster_node_samples(where: {run_id: {_eq: $id}}, offset: $offset, limit: 1) { seq }
		pool: cluster_pool_samples(where: {run_id: {_eq: $id}}, offset: $offset, limit: 1) { seq } }`
	if got, want := post(t, srv.URL, probe, map[string]any{"id": runC, "offset": 7}), decode(t, `{"data": {"nodes": [{"seq": 4}], "pool": [{"seq": 4}]}}`); !reflect.DeepEqual(got, want) {
		t.Errorf("probe at 7: got %v, want %v", got, want)
	}
	if got, want := post(t, srv.URL, probe, map[string]any{"id": runC, "offset": 8}), decode(t, `{"data": {"nodes": [], "pool": []}}`); !reflect.DeepEqual(got, want) {
		t.Errorf("probe at 8: got %v, want %v", got, want)
	}

	// The node minutes a page of three at a time, as RUN_NODE_MINUTES_QUERY pages them.
	const nodeMinutes = `query ($id: uuid!, $offset: Int!, $limit: Int!) {
		cluster_node_samples_1m(where: {run_id: {_eq: $id}}, order_by: [{bucket: asc}, {node: asc}], offset: $offset, limit: $limit) {
			bucket node rounds rounds_up primary_rounds standby_rounds down_rounds state state_changed last_sampled_at
			lag_bytes_max lag_bytes_last lag_seconds_max lag_seconds_last connections_max } }`
	page1 := post(t, srv.URL, nodeMinutes, map[string]any{"id": runC, "offset": 0, "limit": 3})
	page2 := post(t, srv.URL, nodeMinutes, map[string]any{"id": runC, "offset": 3, "limit": 3})
	want1 := decode(t, `{"data": {"cluster_node_samples_1m": [
		{"bucket": "2026-01-02T05:00:00+00:00", "node": "node0", "rounds": 2, "rounds_up": 2, "primary_rounds": 2, "standby_rounds": 0, "down_rounds": 0,
		 "state": "primary", "state_changed": false, "last_sampled_at": "2026-01-02T05:00:30+00:00",
		 "lag_bytes_max": null, "lag_bytes_last": null, "lag_seconds_max": null, "lag_seconds_last": null, "connections_max": 5},
		{"bucket": "2026-01-02T05:00:00+00:00", "node": "node1", "rounds": 2, "rounds_up": 2, "primary_rounds": 0, "standby_rounds": 2, "down_rounds": 0,
		 "state": "standby", "state_changed": false, "last_sampled_at": "2026-01-02T05:00:30+00:00",
		 "lag_bytes_max": 72, "lag_bytes_last": 8, "lag_seconds_max": 0.5, "lag_seconds_last": 0.5, "connections_max": 1},
		{"bucket": "2026-01-02T05:01:00+00:00", "node": "node0", "rounds": 2, "rounds_up": 1, "primary_rounds": 1, "standby_rounds": 0, "down_rounds": 1,
		 "state": "down", "state_changed": true, "last_sampled_at": "2026-01-02T05:01:30+00:00",
		 "lag_bytes_max": null, "lag_bytes_last": null, "lag_seconds_max": null, "lag_seconds_last": null, "connections_max": 4}]}}`)
	want2 := decode(t, `{"data": {"cluster_node_samples_1m": [
		{"bucket": "2026-01-02T05:01:00+00:00", "node": "node1", "rounds": 2, "rounds_up": 2, "primary_rounds": 1, "standby_rounds": 1, "down_rounds": 0,
		 "state": "primary", "state_changed": true, "last_sampled_at": "2026-01-02T05:01:30+00:00",
		 "lag_bytes_max": 900, "lag_bytes_last": null, "lag_seconds_max": 1.5, "lag_seconds_last": null, "connections_max": 6}]}}`)
	if !reflect.DeepEqual(page1, want1) {
		t.Errorf("node minutes, page 1:\ngot  %v\nwant %v", page1, want1)
	}
	if !reflect.DeepEqual(page2, want2) {
		t.Errorf("node minutes, page 2:\ngot  %v\nwant %v", page2, want2)
	}

	// The Pgpool minutes, and both views from runs: a relationship with a filter and an aggregate.
	got := post(t, srv.URL, `query ($id: uuid!) {
		cluster_pool_samples_1m(where: {run_id: {_eq: $id}}, order_by: [{bucket: asc}, {node_id: asc}]) {
			bucket node_id node addr rounds select_delta status status_changed last_sampled_at }
		runs(where: {run_id: {_eq: $id}}) {
			cluster_node_samples_1m(where: {state_changed: {_eq: true}}, order_by: {node: asc}) { node state }
			cluster_pool_samples_1m_aggregate { aggregate { count sum { select_delta } } } } }`, map[string]any{"id": runC})
	want := decode(t, `{"data": {
		"cluster_pool_samples_1m": [
			{"bucket": "2026-01-02T05:00:00+00:00", "node_id": 0, "node": "node0", "addr": "h0:5432", "rounds": 2, "select_delta": 10, "status": "up", "status_changed": false, "last_sampled_at": "2026-01-02T05:00:30+00:00"},
			{"bucket": "2026-01-02T05:00:00+00:00", "node_id": 1, "node": "node1", "addr": "h1:5432", "rounds": 2, "select_delta": 30, "status": "up", "status_changed": false, "last_sampled_at": "2026-01-02T05:00:30+00:00"},
			{"bucket": "2026-01-02T05:01:00+00:00", "node_id": 0, "node": "node0", "addr": "h0:5432", "rounds": 2, "select_delta": 5, "status": "down", "status_changed": true, "last_sampled_at": "2026-01-02T05:01:30+00:00"},
			{"bucket": "2026-01-02T05:01:00+00:00", "node_id": 1, "node": "node1", "addr": "h1:5432", "rounds": 2, "select_delta": 90, "status": "up", "status_changed": false, "last_sampled_at": "2026-01-02T05:01:30+00:00"}],
		"runs": [{
			"cluster_node_samples_1m": [{"node": "node0", "state": "down"}, {"node": "node1", "state": "primary"}],
			"cluster_pool_samples_1m_aggregate": {"aggregate": {"count": 4, "sum": {"select_delta": 135}}}}]}}`)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("pool minutes and relationships:\ngot  %v\nwant %v", got, want)
	}
}
