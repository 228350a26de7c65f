package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func ptr[T any](v T) *T { return &v }

// observedRun is a pgbench run with cluster observation, as producer/observe and runrec number it: run_started,
// the first observation (with the server's facts and settings), a sample, a round that sees a failover with the
// old primary still up (split brain) and a node down, a last observation with the facts' change, run_finished.
// The down node's error and event detail carry a password, as a driver's error text can.
type observedRun struct {
	id                                  uuid.UUID
	started, first, sample, split, last schema.Record
	finished                            schema.Record
	t0                                  time.Time
}

func newObservedRun() observedRun {
	id := uuid.Must(uuid.NewV7())
	t0 := time.Date(2026, 12, 3, 4, 16, 0, 0, time.UTC)
	r := observedRun{id: id, t0: t0}
	rec := func(seq int64, at time.Time) schema.Record {
		return schema.Record{V: schema.Version, Type: schema.TypeObservation, RunID: id, Seq: seq, Time: at}
	}
	nodes := func(at time.Time, split bool) []schema.NodeSample {
		second := schema.NodeSample{Node: "node1", Addr: "127.0.0.1:5433", Up: true, Role: "standby", Timeline: 1, WALLSN: "0/3000148",
			LagBytes: ptr[int64](0), LagSeconds: ptr(0.25), Connections: 1, Upstream: "127.0.0.1:5432", ProbeMs: 1.1}
		if split {
			second = schema.NodeSample{Node: "node1", Addr: "127.0.0.1:5433", Up: true, Role: "primary", Timeline: 2, WALLSN: "0/30001C0", Connections: 0, ProbeMs: 1.1}
		}
		third := schema.NodeSample{Node: "node2", Addr: "127.0.0.1:5434", Up: true, Role: "standby", Timeline: 1, WALLSN: "0/3000100",
			LagBytes: ptr[int64](72), Connections: 0, Upstream: "127.0.0.1:5432", ProbeMs: 0.9}
		if split {
			third = schema.NodeSample{Node: "node2", Addr: "127.0.0.1:5434", Error: "failed to connect to postgres://monitor:hunter22@127.0.0.1:5434/bench: connection refused", ProbeMs: 0.3}
		}
		return []schema.NodeSample{
			{Node: "node0", Addr: "127.0.0.1:5432", Up: true, Role: "primary", Timeline: 1, WALLSN: "0/3000148", Connections: 3, ProbeMs: 1.2},
			second, third,
		}
	}
	pool := func(delta int64) []schema.PoolNodeSample {
		return []schema.PoolNodeSample{
			{NodeID: 0, Node: "node0", Addr: "127.0.0.1:5432", Status: "up", PgStatus: "up", Role: "primary", PgRole: "primary", LBWeight: 0.5, SelectCount: 100 + delta, SelectDelta: delta},
			{NodeID: 1, Node: "node1", Addr: "127.0.0.1:5433", Status: "up", PgStatus: "up", Role: "standby", PgRole: "standby", LBWeight: 0.5, SelectCount: 80 + 2*delta, SelectDelta: 2 * delta, ReplicationDelay: 16},
		}
	}
	facts := schema.ServerFacts{Node: "target", Time: t0, Version: "PostgreSQL 16.4 on x86_64-pc-linux-gnu", VersionNum: 160004,
		Settings: []schema.Setting{
			{Name: "fsync", Setting: "off", Source: "command line"},
			{Name: "primary_conninfo", Setting: "user=replicator password=hunter22 host=127.0.0.1 port=5432", Source: "configuration file"},
			{Name: "shared_buffers", Setting: "16384", Unit: "8kB", Source: "configuration file"},
		},
		DatabaseSizeBytes: 7540515, Database: map[string]float64{"xact_commit": 12}, Bgwriter: map[string]float64{"buffers_alloc": 3}}

	r.started = schema.Record{V: schema.Version, Type: schema.TypeRunStarted, RunID: id, Seq: 0, Time: t0, Started: &schema.Started{
		Kind: schema.KindPgbench, Name: "observed", Target: schema.Target{Host: "127.0.0.1", Port: 9999, Database: "bench"},
		Host: schema.Host{Hostname: "lab-1"}, StartedAt: t0}}

	r.first = rec(1, t0)
	fs := facts
	r.first.Observation = &schema.Observation{Format: schema.ObservationFormat, Time: t0, Nodes: nodes(t0, false), Primaries: 1, Pool: pool(0), Server: &fs}

	r.sample = schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: id, Seq: 2, Time: t0.Add(time.Second), Sample: &schema.Sample{
		Start: t0, End: t0.Add(time.Second), Phase: schema.PhaseMeasure, Figures: schema.Figures{Ops: 100, OpsRate: 100}}}

	at := t0.Add(2 * time.Second)
	r.split = rec(3, at)
	r.split.Observation = &schema.Observation{Format: schema.ObservationFormat, Time: at, Nodes: nodes(at, true), Primaries: 2, Pool: pool(20),
		PoolError: "SHOW POOL_NODES: pcp password=hunter22 rejected",
		Events: []schema.ClusterEvent{
			{Time: at, Kind: schema.EventRoleChange, Node: "node1", From: "standby", To: "primary"},
			{Time: at, Kind: schema.EventSplitBrain, Nodes: []string{"node0", "node1"}},
			{Time: at, Kind: schema.EventNodeDown, Node: "node2", From: "up", To: "down", Detail: "host=127.0.0.1 port=5434 user=monitor password=hunter22: connection refused"},
		}}

	end := t0.Add(3 * time.Second)
	r.last = rec(4, end)
	ef := facts
	ef.Time, ef.DatabaseSizeBytes = end, 9000000
	ef.Delta = &schema.ServerDelta{Since: t0, Seconds: 3, DatabaseSizeBytes: 9000000 - 7540515, Database: map[string]float64{"xact_commit": 300}, Bgwriter: map[string]float64{"buffers_alloc": 7}}
	r.last.Observation = &schema.Observation{Format: schema.ObservationFormat, Time: end, Nodes: nodes(end, true), Primaries: 2, Pool: pool(5), Server: &ef}

	r.finished = schema.Record{V: schema.Version, Type: schema.TypeRunFinished, RunID: id, Seq: 5, Time: end, Finished: &schema.Finished{
		Status: schema.StatusOK, FinishedAt: end}}
	return r
}

// Observation records land in the typed tables exactly once, in any order, redacted, readable by Hasura's role;
// an invalid one goes to the dead letters with its reason. As deployed (the sink as the owner role), on kfake and
// on the real broker.
func TestObservationsLandInTypedTables(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testObservationsLandInTypedTables(t, kb) })
	}
}

func testObservationsLandInTypedTables(t *testing.T, kb testenv.KafkaBackend) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	e := newEnvOn(t, kb, d.OwnerURL)
	r := newObservedRun()
	e.startSink(t)
	conn := connect(t, d.OwnerURL)

	// The split-brain round first, alone: its run has no row yet (run_started comes later, as after a spool
	// resend). The flag makes one; run_started must complete it without clearing the flag.
	produce(t, e.brokers, e.topic, []schema.Record{r.split})
	waitStored(t, conn, 1)
	var kind string
	var topology, split bool
	if err := conn.QueryRow(ctx, "SELECT kind, topology_changed, split_brain FROM runs WHERE run_id = $1", r.id).Scan(&kind, &topology, &split); err != nil {
		t.Fatalf("the run row the flags make: %v", err)
	}
	if kind != "unknown" || !topology || !split {
		t.Fatalf("before run_started: kind %s, topology_changed %v, split_brain %v; want unknown, true, true", kind, topology, split)
	}

	// Then the rest in order, an invalid observation among them, then the whole run again (a producer's resend):
	// everything lands on the keys it has.
	invalid := r.last
	invalid.Seq = 9
	bad := strings.Replace(mustEncode(t, invalid), `"primaries":2`, `"primaries":1`, 1)
	// With them, in the same produce call (so most likely the same batch), a record only the database refuses
	// (NUL in a text column): the savepoint probe then writes every row of the batch with a statement of its own,
	// WAL positions as text parameters, and must blame that record alone.
	rest := []schema.Record{r.started, r.first, r.sample, r.last, r.finished}
	other := makeRun(1)[0]
	nul := strings.Replace(mustEncode(t, other), `"name":"e2e"`, `"name":"e\u0000e"`, 1)
	var krs []*kgo.Record
	for _, rec := range rest {
		krs = append(krs, &kgo.Record{Key: rec.Key(), Value: []byte(mustEncode(t, rec))})
	}
	krs = append(krs, &kgo.Record{Key: invalid.Key(), Value: []byte(bad)}, &kgo.Record{Key: other.Key(), Value: []byte(nul)})
	produceRaw(t, e.brokers, e.topic, krs...)
	all := append([]schema.Record{r.split}, rest...)
	produce(t, e.brokers, e.topic, all)
	waitStored(t, conn, int64(1+len(krs)+len(all)))

	dead := testenv.Consume(t, e.brokers, e.cfg.Sink.DeadLetterTopic, 2, 20*time.Second)
	reasons := map[string]string{}
	for _, d := range dead {
		reasons[string(d.Value)] = headers(d)[ingest.HeaderError]
	}
	if len(dead) != 2 || reasons[bad] != "observation.primaries: 1, but 2 nodes answered as primary" || !strings.HasPrefix(reasons[nul], "database: ") {
		t.Errorf("dead letters: %d, reasons %q; want the invalid observation (primaries miscounted) and the NUL record (database)", len(dead), slices.Collect(maps.Values(reasons)))
	}

	for table, want := range map[string]int64{
		"cluster_observations": 3,
		"cluster_node_samples": 9, // 3 observations × 3 nodes
		"cluster_pool_samples": 6, // 3 × 2 backends
		"cluster_events":       3,
		"run_settings":         3, // the first facts' settings only
		"samples":              1,
		"runs":                 1,
	} {
		if n := count(t, conn, "SELECT count(*) FROM "+table); n != want {
			t.Errorf("%s has %d rows, want %d", table, n, want)
		}
	}

	if got, want := rowsText(t, conn, `SELECT seq, sampled_at = $1, primaries, coalesce(pool_error, '-') FROM cluster_observations ORDER BY seq`, r.t0),
		"1 true 1 -|3 false 2 SHOW POOL_NODES: pcp password="+schema.Mask+" rejected|4 false 2 -"; got != want {
		t.Errorf("cluster_observations:\n got %s\nwant %s", got, want)
	}
	// Every typed column of the split round, as the viewer reads it.
	got := rowsText(t, conn, `SELECT seq, node, up, coalesce(role, '-'), coalesce(timeline, -1), coalesce(wal_lsn::text, '-'),
		coalesce(lag_bytes, -1), coalesce(lag_seconds, -1), coalesce(connections, -1), coalesce(upstream, '-'), probe_ms, coalesce(error, '-')
		FROM cluster_node_samples WHERE seq = 3 ORDER BY node`)
	want := "3 node0 true primary 1 0/3000148 -1 -1 3 - 1.2 -|" +
		"3 node1 true primary 2 0/30001C0 -1 -1 0 - 1.1 -|" +
		"3 node2 false - -1 - -1 -1 -1 - 0.3 failed to connect to postgres://monitor@127.0.0.1:5434/bench: connection refused"
	if got != want {
		t.Errorf("cluster_node_samples of seq 3:\n got %s\nwant %s", got, want)
	}
	if got, want := rowsText(t, conn, `SELECT seq, node, lag_bytes, lag_seconds, upstream FROM cluster_node_samples WHERE seq = 1 AND role = 'standby' ORDER BY node`),
		"1 node1 0 0.25 127.0.0.1:5432|1 node2 72 <nil> 127.0.0.1:5432"; got != want {
		t.Errorf("standbys of seq 1: got %s, want %s", got, want)
	}
	if got, want := rowsText(t, conn, `SELECT seq, node_id, node, status, pg_role, lb_weight, select_cnt, select_delta, replication_delay
		FROM cluster_pool_samples ORDER BY seq, node_id`),
		"1 0 node0 up primary 0.5 100 0 0|1 1 node1 up standby 0.5 80 0 16|3 0 node0 up primary 0.5 120 20 0|3 1 node1 up standby 0.5 120 40 16|"+
			"4 0 node0 up primary 0.5 105 5 0|4 1 node1 up standby 0.5 90 10 16"; got != want {
		t.Errorf("cluster_pool_samples:\n got %s\nwant %s", got, want)
	}
	if got, want := rowsText(t, conn, `SELECT seq, idx, event_time = $1, kind, coalesce(node, '-'), coalesce(from_state, '-'), coalesce(to_state, '-'),
		coalesce(array_to_string(nodes, ','), '-'), coalesce(detail, '-') FROM cluster_events ORDER BY idx`, r.split.Observation.Time),
		"3 0 true role_change node1 standby primary - -|3 1 true split_brain - - - node0,node1 -|"+
			"3 2 true node_down node2 up down - host=127.0.0.1 port=5434 user=monitor password="+schema.Mask+" connection refused"; got != want {
		t.Errorf("cluster_events:\n got %s\nwant %s", got, want)
	}
	if got, want := rowsText(t, conn, `SELECT name, setting, coalesce(unit, '-'), source FROM run_settings ORDER BY name`),
		"fsync off - command line|primary_conninfo user=replicator password="+schema.Mask+" host=127.0.0.1 port=5432 - configuration file|shared_buffers 16384 8kB configuration file"; got != want {
		t.Errorf("run_settings:\n got %s\nwant %s", got, want)
	}
	if n := count(t, conn, `SELECT (SELECT count(*) FROM cluster_node_samples WHERE error LIKE '%hunter22%')
		+ (SELECT count(*) FROM cluster_events WHERE detail LIKE '%hunter22%') + (SELECT count(*) FROM run_settings WHERE setting LIKE '%hunter22%')
		+ (SELECT count(*) FROM cluster_observations WHERE pool_error LIKE '%hunter22%')`); n != 0 {
		t.Errorf("%d rows hold the password", n)
	}

	// The run: run_started's and run_finished's columns, the flags, the first facts and the last one's change.
	var status, version string
	var versionNum int
	var size int64
	var delta []byte
	if err := conn.QueryRow(ctx, `SELECT kind, status, topology_changed, split_brain, server_version, server_version_num, database_size_bytes, server_delta
		FROM runs WHERE run_id = $1`, r.id).Scan(&kind, &status, &topology, &split, &version, &versionNum, &size, &delta); err != nil {
		t.Fatal(err)
	}
	if kind != "pgbench" || status != "ok" || !topology || !split || version != "PostgreSQL 16.4 on x86_64-pc-linux-gnu" || versionNum != 160004 || size != 7540515 {
		t.Errorf("run: kind %s, status %s, topology_changed %v, split_brain %v, version %q (%d), size %d; want pgbench, ok, true, true, PostgreSQL 16.4 (160004), 7540515",
			kind, status, topology, split, version, versionNum, size)
	}
	var gotDelta, wantDelta schema.ServerDelta
	if err := json.Unmarshal(delta, &gotDelta); err != nil {
		t.Fatalf("server_delta %s: %v", delta, err)
	}
	wantDelta = *r.last.Observation.Server.Delta
	if gotDelta.Seconds != 3 || gotDelta.DatabaseSizeBytes != 1459485 || gotDelta.Database["xact_commit"] != 300 || gotDelta.Bgwriter["buffers_alloc"] != 7 || !gotDelta.Since.Equal(wantDelta.Since) {
		t.Errorf("server_delta = %s, want %+v", delta, wantDelta)
	}

	// Hasura's role reads what the sink wrote, over a fresh login.
	hasura := connect(t, d.HasuraURL)
	if n := count(t, hasura, `SELECT (SELECT count(*) FROM public.cluster_observations) + (SELECT count(*) FROM public.cluster_node_samples) + (SELECT count(*) FROM public.cluster_pool_samples)
		+ (SELECT count(*) FROM public.cluster_events) + (SELECT count(*) FROM public.run_settings)
		+ (SELECT count(*) FROM public.runs WHERE topology_changed AND split_brain)`); n != 3+9+6+3+3+1 {
		t.Errorf("as %s: %d rows, want %d", testenv.HasuraRole, n, 3+9+6+3+3+1)
	}
}

// An observation without events never lowers a run's flags, whichever comes first: the split round after the
// last one here (the reverse of the order above), written in separate batches.
func TestObservationFlagsAreNeverCleared(t *testing.T) {
	e := newEnv(t, "")
	r := newObservedRun()
	quiet := r.first // no events
	quiet.Seq = 6
	quiet.Observation = &schema.Observation{Format: schema.ObservationFormat, Time: r.t0.Add(5 * time.Second), Nodes: []schema.NodeSample{}}
	// A later round that only sees a role change raises topology_changed again but not split_brain: it must not
	// lower split_brain either.
	roleOnly := r.first
	roleOnly.Seq = 7
	at := r.t0.Add(6 * time.Second)
	roleOnly.Observation = &schema.Observation{Format: schema.ObservationFormat, Time: at, Nodes: []schema.NodeSample{},
		Events: []schema.ClusterEvent{{Time: at, Kind: schema.EventRoleChange, Node: "node0", From: "primary", To: "standby"}}}
	e.startSink(t)
	conn := connect(t, e.dbURL)
	produce(t, e.brokers, e.topic, []schema.Record{r.started, r.split})
	waitStored(t, conn, 2)
	produce(t, e.brokers, e.topic, []schema.Record{quiet, roleOnly, r.finished, r.started})
	waitStored(t, conn, 6)
	var topology, split bool
	var status string
	if err := conn.QueryRow(context.Background(), "SELECT topology_changed, split_brain, status FROM runs WHERE run_id = $1", r.id).Scan(&topology, &split, &status); err != nil {
		t.Fatal(err)
	}
	if !topology || !split || status != "ok" {
		t.Errorf("after a quiet observation, a role change alone, run_finished and a resent run_started: topology_changed %v, split_brain %v, status %s; want true, true, ok", topology, split, status)
	}
	// A run whose observations saw nothing is not flagged.
	other := newObservedRun()
	produce(t, e.brokers, e.topic, []schema.Record{other.started, other.first, other.finished})
	waitStored(t, conn, 9)
	if err := conn.QueryRow(context.Background(), "SELECT topology_changed, split_brain FROM runs WHERE run_id = $1", other.id).Scan(&topology, &split); err != nil {
		t.Fatal(err)
	}
	if topology || split {
		t.Errorf("a run without events: topology_changed %v, split_brain %v; want false, false", topology, split)
	}
}

// rowsText runs q and returns its rows as "v v v|v v v", each value as fmt prints it.
func rowsText(t *testing.T, conn *pgx.Conn, q string, args ...any) string {
	t.Helper()
	rows, err := conn.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimSpace(fmt.Sprintln(vals...)))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(out, "|")
}

// The server's facts give the same run row whichever observation arrives first: the first facts' version, size and
// settings, the last facts' change. A run whose first facts never arrive still gets the version from the last.
func TestServerFactsInAnyOrder(t *testing.T) {
	e := newEnv(t, "")
	e.startSink(t)
	conn := connect(t, e.dbURL)
	late, onlyLast := newObservedRun(), newObservedRun()
	produce(t, e.brokers, e.topic, []schema.Record{late.last})
	waitStored(t, conn, 1)
	produce(t, e.brokers, e.topic, []schema.Record{late.first, onlyLast.last})
	waitStored(t, conn, 3)
	got := rowsText(t, conn, `SELECT r.run_id = $1, server_version, server_version_num, coalesce(database_size_bytes, -1), server_delta->>'seconds',
		(SELECT count(*) FROM run_settings s WHERE s.run_id = r.run_id) FROM runs r ORDER BY 1 DESC`, late.id)
	if want := "true PostgreSQL 16.4 on x86_64-pc-linux-gnu 160004 7540515 3 3|false PostgreSQL 16.4 on x86_64-pc-linux-gnu 160004 -1 3 0"; got != want {
		t.Errorf("runs:\n got %s\nwant %s", got, want)
	}
}
