package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func obsPtr[T any](v T) *T { return &v }

// splitBrainObservation is a round as producer/observe makes it right after a promotion with the old primary
// still running.
func splitBrainObservation() schema.Observation {
	at := time.Date(2026, 12, 3, 4, 16, 28, 865000000, time.UTC)
	return schema.Observation{
		Format: schema.ObservationFormat, Time: at, Primaries: 2,
		Nodes: []schema.NodeSample{
			{Node: "node0", Addr: "127.0.0.1:5432", Up: true, Role: "primary", Timeline: 1, WALLSN: "0/3000148", Connections: 3, ProbeMs: 1.2},
			{Node: "node1", Addr: "127.0.0.1:5433", Up: true, Role: "primary", Timeline: 2, WALLSN: "0/30001C0", Connections: 0, ProbeMs: 1.1},
			{Node: "node2", Addr: "127.0.0.1:5434", Up: true, Role: "standby", Timeline: 1, WALLSN: "0/3000148", LagBytes: obsPtr[int64](0), LagSeconds: obsPtr(0.0), Upstream: "127.0.0.1:5432"},
			{Node: "node3", Addr: "127.0.0.1:5435", Error: "connection refused", ProbeMs: 0.3},
		},
		Pool: []schema.PoolNodeSample{
			{NodeID: 0, Node: "node0", Addr: "127.0.0.1:5432", Status: "up", PgStatus: "up", Role: "primary", PgRole: "primary", LBWeight: 0.5, SelectCount: 120, SelectDelta: 20},
			{NodeID: 1, Node: "node1", Addr: "127.0.0.1:5433", Status: "up", PgStatus: "up", Role: "standby", PgRole: "primary", LBWeight: 0.5, SelectCount: 80, SelectDelta: 0},
		},
		Events: []schema.ClusterEvent{
			{Time: at, Kind: schema.EventRoleChange, Node: "node1", From: "standby", To: "primary"},
			{Time: at, Kind: schema.EventSplitBrain, Nodes: []string{"node0", "node1"}},
		},
	}
}

func TestObservationValidate(t *testing.T) {
	good := splitBrainObservation()
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(good)
	if err != nil {
		t.Fatal(err)
	}
	var back schema.Observation
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, good) {
		t.Fatalf("JSON round trip: %v\n%+v\n%+v", err, back, good)
	}
	cases := []struct {
		name   string
		change func(o *schema.Observation)
		field  string
		err    error
	}{
		{"unknown format", func(o *schema.Observation) { o.Format = 2 }, "observation.format", schema.ErrUnknownVersion},
		{"no time", func(o *schema.Observation) { o.Time = time.Time{} }, "observation.time", schema.ErrInvalid},
		{"nodes null", func(o *schema.Observation) { o.Nodes = nil }, "observation.nodes", schema.ErrInvalid},
		{"nameless node", func(o *schema.Observation) { o.Nodes[0].Node = "" }, "observation.nodes.0.node", schema.ErrInvalid},
		{"node twice", func(o *schema.Observation) { o.Nodes[1].Node = "node0" }, "observation.nodes.1.node", schema.ErrInvalid},
		{"password in addr", func(o *schema.Observation) { o.Nodes[0].Addr = "postgres://u:pw@db/x" }, "observation.nodes.0.addr", schema.ErrInvalid},
		{"down node with figures", func(o *schema.Observation) { o.Nodes[3].Role = "standby" }, "observation.nodes.3.up", schema.ErrInvalid},
		{"unknown role", func(o *schema.Observation) { o.Nodes[2].Role = "replica" }, "observation.nodes.2.role", schema.ErrInvalid},
		{"negative lag", func(o *schema.Observation) { o.Nodes[2].LagBytes = obsPtr[int64](-1) }, "observation.nodes.2.lag_bytes", schema.ErrInvalid},
		{"primaries miscounted", func(o *schema.Observation) { o.Primaries = 1 }, "observation.primaries", schema.ErrInvalid},
		{"negative select delta", func(o *schema.Observation) { o.Pool[1].SelectDelta = -5 }, "observation.pool.1.select_cnt", schema.ErrInvalid},
		{"unknown event", func(o *schema.Observation) { o.Events[0].Kind = "failover" }, "observation.events.0.kind", schema.ErrInvalid},
		{"event without time", func(o *schema.Observation) { o.Events[1].Time = time.Time{} }, "observation.events.1.time", schema.ErrInvalid},
		{"split brain of one", func(o *schema.Observation) { o.Events[1].Nodes = []string{"node1"} }, "observation.events.1.nodes", schema.ErrInvalid},
		{"server facts without version", func(o *schema.Observation) { o.Server = &schema.ServerFacts{Time: o.Time} }, "observation.server", schema.ErrInvalid},
	}
	for _, c := range cases {
		o := splitBrainObservation()
		c.change(&o)
		err := o.Validate()
		var fe *schema.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !errors.Is(err, c.err) {
			t.Errorf("%s: %v; want a %v on %s", c.name, err, c.err, c.field)
		}
	}
}

func TestObservationRedaction(t *testing.T) {
	o := splitBrainObservation()
	o.Nodes[3].Error = `failed to connect to postgres://monitor:hunter22@db3/x: refused`
	o.Events = append(o.Events, schema.ClusterEvent{Time: o.Time, Kind: schema.EventNodeDown, Node: "node3", Detail: "host=db3 password=hunter22 refused"})
	o.PoolError = "SHOW POOL_NODES: password=hunter22"
	o.Server = &schema.ServerFacts{Version: "PostgreSQL 16.4", Time: o.Time, Settings: []schema.Setting{
		{Name: "primary_conninfo", Setting: "user=rep password=hunter22 host=db0", Source: "configuration file"}}}
	r := schema.NewRedactor("hunter22").Observation(o)
	b, _ := json.Marshal(r)
	if strings.Contains(string(b), "hunter22") {
		t.Errorf("redacted observation still holds the password: %s", b)
	}
	if r.Nodes[3].Error != "failed to connect to postgres://monitor@db3/x: refused" {
		t.Errorf("error %q", r.Nodes[3].Error)
	}
	if got, want := r.Server.Settings[0].Setting, "user=rep password="+schema.Mask+" host=db0"; got != want {
		t.Errorf("primary_conninfo %q, want %q", got, want)
	}
	if o.Nodes[3].Error == r.Nodes[3].Error || !strings.Contains(o.Events[2].Detail, "hunter22") || !strings.Contains(o.Server.Settings[0].Setting, "hunter22") {
		t.Error("Observation changed the caller's slices")
	}
	if !schema.TopologyChanged([]schema.Observation{r}) || schema.TopologyChanged([]schema.Observation{{Events: []schema.ClusterEvent{{Kind: schema.EventNodeUp}}}}) {
		t.Error("TopologyChanged: a split brain flags a run, a node coming back alone does not")
	}
}

// Migration 0005 applies on a database migrated as the sink does, and an observation's figures fit its typed
// columns; its checks refuse what Validate refuses. Everything is rolled back.
func TestObservationMigration(t *testing.T) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Applied, "0005_observation") {
		t.Fatalf("applied %v, want 0005_observation among them", res.Applied)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SET LOCAL search_path = public"); err != nil {
		t.Fatal(err)
	}
	o := splitBrainObservation()
	const run = "00000000-0000-0000-0000-0000000000aa"
	if _, err := tx.Exec(ctx, `INSERT INTO runs (run_id, kind, topology_changed, split_brain) VALUES ($1, 'pgbench', $2, true)`, run, schema.TopologyChanged([]schema.Observation{o})); err != nil {
		t.Fatal(err)
	}
	for _, n := range o.Nodes {
		var role, lsn *string
		if n.Up {
			role, lsn = &n.Role, &n.WALLSN
		}
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_node_samples (run_id, seq, sampled_at, node, addr, up, error, role, timeline,
			wal_lsn, lag_bytes, lag_seconds, connections, upstream, probe_ms) VALUES ($1, 7, $2, $3, $4, $5, nullif($6, ''), $7, $8, $9::pg_lsn, $10, $11, $12, nullif($13, ''), $14)`,
			run, o.Time, n.Node, n.Addr, n.Up, n.Error, role, n.Timeline, lsn, n.LagBytes, n.LagSeconds, n.Connections, n.Upstream, n.ProbeMs); err != nil {
			t.Fatalf("node %s: %v", n.Node, err)
		}
	}
	for _, p := range o.Pool {
		if _, err := tx.Exec(ctx, `INSERT INTO cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, pg_status, role, pg_role,
			lb_weight, select_cnt, select_delta, replication_delay) VALUES ($1, 7, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
			run, o.Time, p.NodeID, p.Node, p.Addr, p.Status, p.PgStatus, p.Role, p.PgRole, p.LBWeight, p.SelectCount, p.SelectDelta, p.ReplicationDelay); err != nil {
			t.Fatalf("pool node %d: %v", p.NodeID, err)
		}
	}
	insertEvent := func(idx int, e schema.ClusterEvent) error {
		_, err := tx.Exec(ctx, `INSERT INTO cluster_events (run_id, seq, idx, event_time, kind, node, from_state, to_state, nodes, detail)
			VALUES ($1, 7, $2, $3, $4, nullif($5, ''), nullif($6, ''), nullif($7, ''), $8, nullif($9, ''))`,
			run, idx, e.Time, e.Kind, e.Node, e.From, e.To, e.Nodes, e.Detail)
		return err
	}
	for i, e := range o.Events {
		if err := insertEvent(i, e); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
	}
	var lagSum, deltaSum int64
	var events int
	if err := tx.QueryRow(ctx, `SELECT (SELECT sum(pg_wal_lsn_diff(wal_lsn, '0/0'))::bigint FROM cluster_node_samples WHERE run_id = $1),
		(SELECT sum(select_delta) FROM cluster_pool_samples WHERE run_id = $1),
		(SELECT count(*) FROM cluster_events WHERE run_id = $1 AND kind = 'split_brain' AND nodes = ARRAY['node0', 'node1'])`, run).
		Scan(&lagSum, &deltaSum, &events); err != nil {
		t.Fatal(err)
	}
	if lagSum != 0x3000148*2+0x30001C0 || deltaSum != 20 || events != 1 {
		t.Errorf("stored: WAL positions sum %d, select deltas %d, split-brain rows %d", lagSum, deltaSum, events)
	}
	// The checks: a split brain of one node and an unknown kind are refused.
	for _, bad := range []schema.ClusterEvent{
		{Time: o.Time, Kind: schema.EventSplitBrain, Nodes: []string{"node1"}},
		{Time: o.Time, Kind: "failover"},
	} {
		if _, err := tx.Exec(ctx, "SAVEPOINT s"); err != nil {
			t.Fatal(err)
		}
		err := insertEvent(9, bad)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23514" {
			t.Errorf("event %+v: %v, want a check violation", bad, err)
		}
		if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT s"); err != nil {
			t.Fatal(err)
		}
	}
}

// record.schema.json's observation branch describes what Decode accepts for an observation record: the Go
// observations validate, and each invalid shape fails both. Its $defs.observation alone (what producer/observe's
// tests compile) is checked too.
func TestObservationJSONSchema(t *testing.T) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("record.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	sch, err := c.Compile("record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	payload, err := c.Compile("record.schema.json#/$defs/observation")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(sch *jsonschema.Schema, b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}
	record := func(o schema.Observation) schema.Record {
		return schema.Record{V: schema.Version, Type: schema.TypeObservation, RunID: uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"),
			Seq: 3, Time: o.Time, Observation: &o}
	}
	withFacts := splitBrainObservation()
	withFacts.Server = &schema.ServerFacts{Node: "node0", Time: withFacts.Time, Version: "PostgreSQL 15.10", VersionNum: 150010,
		Settings: []schema.Setting{{Name: "fsync", Setting: "off", Source: "command line"}}, DatabaseSizeBytes: 7540515,
		Database: map[string]float64{"xact_commit": 12}, Bgwriter: map[string]float64{"buffers_alloc": 3},
		Delta: &schema.ServerDelta{Since: withFacts.Time, Seconds: 60, Database: map[string]float64{"xact_commit": 2}, Bgwriter: map[string]float64{}}}
	pgpoolOnly := schema.Observation{Format: schema.ObservationFormat, Time: withFacts.Time, Nodes: []schema.NodeSample{}}
	for name, o := range map[string]schema.Observation{"split brain": splitBrainObservation(), "with facts": withFacts, "pgpool only": pgpoolOnly} {
		b, err := schema.Encode(record(o))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if err := validate(sch, b); err != nil {
			t.Errorf("%s: valid observation record fails the JSON Schema: %v\n%s", name, err, b)
		}
		p, _ := json.Marshal(o)
		if err := validate(payload, p); err != nil {
			t.Errorf("%s: valid observation fails $defs.observation: %v\n%s", name, err, p)
		}
	}
	good, err := schema.Encode(record(splitBrainObservation()))
	if err != nil {
		t.Fatal(err)
	}
	manyEvents := splitBrainObservation()
	for range 1000 {
		manyEvents.Events = append(manyEvents.Events, manyEvents.Events[0])
	}
	tooMany, _ := json.Marshal(record(manyEvents)) // json.Marshal: Encode would refuse it
	for _, bad := range []string{
		strings.Replace(string(good), `"format":1`, `"format":2`, 1),
		strings.Replace(string(good), `"error":"connection refused"`, `"error":"connection refused","role":"standby"`, 1),
		strings.Replace(string(good), `"nodes":["node0","node1"]`, `"nodes":["node1"]`, 1),
		strings.Replace(string(good), `"kind":"role_change"`, `"kind":"failover"`, 1),
		strings.Replace(string(good), `"role":"standby","timeline":1`, `"role":"replica","timeline":1`, 1),
		strings.Replace(string(good), `"addr":"127.0.0.1:5432"`, `"addr":"postgres://u:pw@127.0.0.1:5432/x"`, 1),
		strings.Replace(string(good), `"select_delta":20`, `"select_delta":-20`, 1),
		strings.Replace(string(good), `"primaries":2`, `"primaries":2,"extra":1`, 1),
		strings.Replace(string(good), `"wal_lsn":"0/3000148"`, `"wal_lsn":"0/zz"`, 1),
		strings.Replace(string(good), `"timeline":2`, `"timeline":2147483648`, 1),
		strings.Replace(string(good), `"node":"node0"`, `"node":"`+strings.Repeat("n", 257)+`"`, 1),
		strings.Replace(string(good), `"node_id":1`, `"node_id":-1`, 1),
		strings.Replace(string(good), `"seq":3`, `"seq":0`, 1),
		strings.Replace(string(good), `"type":"observation"`, `"type":"sample"`, 1),
		string(tooMany),
		`{"v":2,"type":"observation","run_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01","seq":3,"time":"2026-12-03T04:16:28Z","observation":{"format":1,"time":"2026-12-03T04:16:28Z","nodes":null,"primaries":0}}`,
	} {
		if bad == string(good) {
			t.Fatalf("replacement did not apply to %s", good)
		}
		if validate(sch, []byte(bad)) == nil {
			t.Errorf("JSON Schema accepts an invalid observation record: %.300s", bad)
		}
		if _, err := schema.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode accepts an invalid observation record: %.300s", bad)
		}
	}
}

// WAL positions reach pg_lsn columns in PostgreSQL's notation and back.
func TestParseLSN(t *testing.T) {
	for s, want := range map[string]schema.LSN{"0/0": 0, "0/3000148": 0x3000148, "16/B374D848": 0x16B374D848, "FFFFFFFF/FFFFFFFF": -1} {
		l, err := schema.ParseLSN(s)
		if err != nil || l != want || l.String() != s {
			t.Errorf("ParseLSN(%q) = %v (%s), %v; want %v", s, int64(l), l, err, int64(want))
		}
	}
	for _, s := range []string{"", "0", "0/", "/1", "0/1/2", "1FFFFFFFF/0", "0/g", "-1/0"} {
		if _, err := schema.ParseLSN(s); err == nil {
			t.Errorf("ParseLSN(%q) accepted", s)
		}
	}
}
