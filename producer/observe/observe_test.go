package observe_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	schemaOnce sync.Once
	obsSchema  *jsonschema.Schema
	schemaErr  error
)

// checkObservation returns why o is not a valid observation: Validate's verdict, then the JSON Schema's (the
// record contract's $defs.observation in schema/record.schema.json) on its JSON encoding, so every observation a
// test sees checks both.
func checkObservation(o schema.Observation) error {
	if err := o.Validate(); err != nil {
		return err
	}
	schemaOnce.Do(func() {
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSONSchema))
		if err != nil {
			schemaErr = err
			return
		}
		c := jsonschema.NewCompiler()
		if schemaErr = c.AddResource("record.schema.json", doc); schemaErr != nil {
			return
		}
		c.AssertFormat()
		obsSchema, schemaErr = c.Compile("record.schema.json#/$defs/observation")
	})
	if schemaErr != nil {
		return schemaErr
	}
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return err
	}
	if err := obsSchema.Validate(v); err != nil {
		return fmt.Errorf("JSON Schema: %w\n%s", err, b)
	}
	return nil
}

// nodesOf returns the observer's node list for the fixture cluster, primary first.
func nodesOf(c *testenv.PGCluster) []observe.Node {
	return []observe.Node{{Name: "node0", DSN: c.Primary.URL("postgres")}, {Name: "node1", DSN: c.Standby.URL("postgres")}}
}

func newObserver(t *testing.T, cfg observe.Config) *observe.Observer {
	t.Helper()
	o, err := observe.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.Close)
	return o
}

// watch runs o in the background and returns its observations as they come; it stops when the test ends.
func watch(t *testing.T, o *observe.Observer) <-chan schema.Observation {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan schema.Observation, 1000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = o.Run(ctx, func(obs schema.Observation) {
			if err := checkObservation(obs); err != nil {
				t.Errorf("observation at %s does not validate: %v", obs.Time, err)
			}
			ch <- obs
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

// next returns the next observation, failing the test when none comes within d.
func next(t *testing.T, ch <-chan schema.Observation, d time.Duration) schema.Observation {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(d):
		t.Fatalf("no observation within %s", d)
		return schema.Observation{}
	}
}

func checkHealthy(t *testing.T, o schema.Observation, c *testenv.PGCluster) {
	t.Helper()
	if len(o.Nodes) != 2 || len(o.Events) != 0 || o.Primaries != 1 {
		t.Fatalf("healthy cluster: %d nodes, %d primaries, events %+v; want 2, 1, none", len(o.Nodes), o.Primaries, o.Events)
	}
	n0, n1 := o.Nodes[0], o.Nodes[1]
	if n0.Node != "node0" || !n0.Up || n0.Role != schema.RolePrimary || n0.Timeline != 1 || n0.LagBytes != nil || n0.LagSeconds != nil {
		t.Errorf("node0 = %+v; want an up primary on timeline 1 without lag", n0)
	}
	if n1.Node != "node1" || !n1.Up || n1.Role != schema.RoleStandby || n1.Timeline != 1 || n1.LagBytes == nil || n1.LagSeconds == nil {
		t.Errorf("node1 = %+v; want an up standby on timeline 1 with lag figures", n1)
	}
	if want := "127.0.0.1:" + strconv.Itoa(c.Primary.Port); n1.Upstream != want || n0.Addr != want {
		t.Errorf("node1 streams from %q, node0 is at %q; want both %s", n1.Upstream, n0.Addr, want)
	}
}

// A select-only load through Pgpool shows in the select-count deltas of both nodes, and in nothing else: the deltas
// add up to the queries run, whole sessions per node. The observer's own probes go to the nodes directly and are
// not counted.
func TestSelectDistribution(t *testing.T) {
	c := testenv.StartPGCluster(t)
	ctx := context.Background()
	o := newObserver(t, observe.Config{Nodes: nodesOf(c), Pgpool: c.Pool.URL("postgres")})
	first := o.Round(ctx)
	checkHealthy(t, first, c)
	if err := checkObservation(first); err != nil {
		t.Error(err)
	}
	if first.PoolError != "" || len(first.Pool) != 2 {
		t.Fatalf("first round: pool %+v, error %q", first.Pool, first.PoolError)
	}
	for i, p := range first.Pool {
		if p.SelectDelta != 0 {
			t.Errorf("first round: node %d select_delta %d; the first round is the baseline, want 0", i, p.SelectDelta)
		}
	}
	const sessions, queries = 40, 5
	if err := testenv.SelectLoad(ctx, c.Pool.URL("postgres"), sessions, queries); err != nil {
		t.Fatal(err)
	}
	second := o.Round(ctx)
	checkHealthy(t, second, c)
	if err := checkObservation(second); err != nil {
		t.Error(err)
	}
	if len(second.Pool) != 2 {
		t.Fatalf("second round: pool %+v, error %q", second.Pool, second.PoolError)
	}
	roles := []string{"primary", "standby"}
	var total int64
	for i, p := range second.Pool {
		if p.NodeID != i || p.Node != "node"+strconv.Itoa(i) || p.Status != "up" || p.Role != roles[i] || p.PgRole != roles[i] || p.LBWeight != 0.5 {
			t.Errorf("pool node %d = %+v; want node%d, up, %s, weight 0.5", i, p, i, roles[i])
		}
		if p.SelectDelta == 0 || p.SelectDelta%queries != 0 || p.SelectCount-first.Pool[i].SelectCount != p.SelectDelta {
			t.Errorf("pool node %d: select_delta %d (count %d → %d); want some whole sessions of %d", i, p.SelectDelta, first.Pool[i].SelectCount, p.SelectCount, queries)
		}
		total += p.SelectDelta
	}
	if total != sessions*queries {
		t.Errorf("select deltas add up to %d, want %d", total, sessions*queries)
	}
	third := o.Round(ctx)
	for i, p := range third.Pool {
		if p.SelectDelta != 0 {
			t.Errorf("a round without load: node %d select_delta %d, want 0", i, p.SelectDelta)
		}
	}

	// Pgpool alone: no nodes of its own, Pgpool's view of both, no primaries counted (only probed nodes count).
	only := newObserver(t, observe.Config{Pgpool: c.Pool.URL("postgres")}).Round(ctx)
	if err := checkObservation(only); err != nil {
		t.Error(err)
	}
	if len(only.Nodes) != 0 || only.Primaries != 0 || len(only.Pool) != 2 || only.Pool[0].Node != "" || only.Pool[1].Status != "up" || len(only.Events) != 0 {
		t.Errorf("Pgpool-only round: %+v", only)
	}
}

// Promoting the standby while the old primary runs is a split brain, seen within 2 s of the promotion with both
// primaries named, in the same round as node1's role change; node1 is on timeline 2 from then on.
func TestSplitBrain(t *testing.T) {
	c := testenv.StartPGCluster(t)
	o := newObserver(t, observe.Config{Nodes: nodesOf(c)})
	ch := watch(t, o)
	checkHealthy(t, next(t, ch, 5*time.Second), c)

	before := time.Now()
	if err := c.Promote(context.Background()); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	var got schema.Observation
	for got.Events == nil {
		select {
		case obs := <-ch:
			got = obs
		case <-time.After(time.Until(promoted.Add(2 * time.Second))):
			t.Fatalf("no event within 2 s of the promotion")
		}
	}
	t.Logf("split brain seen at %s, %s after pg_promote returned", got.Time.Format(time.StampMicro), got.Time.Sub(promoted))
	want := []string{"role_change node1 standby->primary", "split_brain [node0 node1]"}
	if ev := events(got); !slices.Equal(ev, want) {
		t.Fatalf("events %q, want %q", ev, want)
	}
	for _, e := range got.Events {
		if e.Time.Before(before.Add(-time.Second)) || e.Time.After(promoted.Add(2*time.Second)) {
			t.Errorf("%s at %s: the promotion ran from %s to %s", e.Kind, e.Time, before, promoted)
		}
	}
	if got.Primaries != 2 || got.Nodes[1].Timeline != 2 || got.Nodes[0].Timeline != 1 || got.Nodes[1].LagBytes != nil {
		t.Errorf("after promotion: %d primaries, timelines %d and %d, node1 lag %v; want 2 primaries on timelines 1 and 2, no lag",
			got.Primaries, got.Nodes[0].Timeline, got.Nodes[1].Timeline, got.Nodes[1].LagBytes)
	}
	// The split brain is reported once, not every second.
	for range 2 {
		if obs := next(t, ch, 3*time.Second); len(obs.Events) != 0 || obs.Primaries != 2 {
			t.Errorf("later round: %d primaries, events %q; want 2 and none", obs.Primaries, events(obs))
		}
	}
}

// Stopping the standby is a node-down event within 2 s; Pgpool's health check marks it down too; starting it
// again is a node-up event.
func TestNodeDown(t *testing.T) {
	c := testenv.StartPGCluster(t)
	o := newObserver(t, observe.Config{Nodes: nodesOf(c), Pgpool: c.Pool.URL("postgres")})
	ch := watch(t, o)
	checkHealthy(t, next(t, ch, 5*time.Second), c)

	if err := c.Standby.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	var down, poolDown *schema.ClusterEvent
	var all []string
	for deadline := stopped.Add(15 * time.Second); poolDown == nil && time.Now().Before(deadline); {
		obs := next(t, ch, 3*time.Second)
		all = append(all, events(obs)...)
		for _, e := range obs.Events {
			switch {
			case e.Kind == schema.EventNodeDown && down == nil:
				down = &e
				if !obs.Nodes[0].Up || obs.Nodes[1].Up || obs.Nodes[1].Error == "" || obs.Primaries != 1 {
					t.Errorf("node-down round: nodes %+v", obs.Nodes)
				}
			case e.Kind == schema.EventPoolStatus:
				poolDown = &e
			}
		}
	}
	if down == nil || down.Node != "node1" || down.Detail == "" {
		t.Fatalf("node-down event %+v; events seen %q", down, all)
	}
	t.Logf("node down seen %s after the stop: %s", down.Time.Sub(stopped), down.Detail)
	if d := down.Time.Sub(stopped); d > 2*time.Second {
		t.Errorf("node-down seen %s after the stop, want within 2 s", d)
	}
	if poolDown == nil || poolDown.Node != "node1" || poolDown.From != "up" || poolDown.To != "down" {
		t.Errorf("pgpool status event %+v, want node1 up->down; events seen %q", poolDown, all)
	}
	if n := countKind(all, schema.EventNodeDown); n != 1 {
		t.Errorf("%d node-down events, want 1: %q", n, all)
	}

	if err := c.Standby.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		obs := next(t, ch, 3*time.Second)
		if ev := events(obs); len(ev) > 0 {
			if !slices.Equal(ev, []string{"node_up node1 ->standby"}) {
				t.Errorf("after the restart: events %q, want node1 up as a standby", ev)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no node-up event within 5 s of the restart")
		}
	}
}

// A write load on the primary shows as standby lag in bytes above 0, and the lag goes back to exactly 0 once the
// standby has caught up.
func TestWriteLag(t *testing.T) {
	c := testenv.StartPGCluster(t)
	o := newObserver(t, observe.Config{Nodes: nodesOf(c), Interval: 200 * time.Millisecond, Timeout: 150 * time.Millisecond})
	ch := watch(t, o)
	checkHealthy(t, next(t, ch, 5*time.Second), c)

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	loadDone := make(chan error, 1)
	go func() {
		rows, err := testenv.WriteLoad(ctx, c.Primary.URL("postgres"))
		if err == nil && rows == 0 {
			err = context.Canceled
		}
		loadDone <- err
	}()
	var maxLag int64
	var rounds int
	var firstPos, lastPos string
	for ctx.Err() == nil {
		obs := next(t, ch, 2*time.Second)
		rounds++
		if len(obs.Events) != 0 {
			t.Errorf("events under write load: %q", events(obs))
		}
		if l := obs.Nodes[1].LagBytes; l != nil && *l > maxLag {
			maxLag = *l
		}
		if firstPos == "" {
			firstPos = obs.Nodes[0].WALLSN
		}
		lastPos = obs.Nodes[0].WALLSN
	}
	if err := <-loadDone; err != nil {
		t.Fatalf("write load: %v", err)
	}
	t.Logf("%d rounds under load, largest lag %d bytes, primary WAL %s → %s", rounds, maxLag, firstPos, lastPos)
	if maxLag <= 0 {
		t.Errorf("largest standby lag under write load %d bytes, want > 0", maxLag)
	}
	if firstPos == lastPos {
		t.Errorf("the primary's WAL position did not move under write load (%s)", firstPos)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		obs := next(t, ch, 2*time.Second)
		if l := obs.Nodes[1].LagBytes; l != nil && *l == 0 && obs.Nodes[1].LagSeconds != nil && *obs.Nodes[1].LagSeconds == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("standby lag did not return to 0 within 10 s: %+v", obs.Nodes[1])
		}
	}
}

func events(o schema.Observation) []string {
	var out []string
	for _, e := range o.Events {
		s := e.Kind
		if e.Node != "" {
			s += " " + e.Node
		}
		if e.From != "" || e.To != "" {
			s += " " + e.From + "->" + e.To
		}
		if len(e.Nodes) > 0 {
			s += " [" + strings.Join(e.Nodes, " ") + "]"
		}
		out = append(out, s)
	}
	return out
}

func countKind(events []string, kind string) int {
	n := 0
	for _, e := range events {
		if e == kind || len(e) > len(kind) && e[:len(kind)+1] == kind+" " {
			n++
		}
	}
	return n
}

// The observer needs no superuser: a role in pg_monitor, logging in with a password (SCRAM), gets every figure,
// the standby's upstream and timeline included, and the server facts.
func TestMonitorRole(t *testing.T) {
	c := testenv.StartPGCluster(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, c.Primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "CREATE ROLE monitor LOGIN PASSWORD 'mon-pass-7' IN ROLE pg_monitor"); err != nil {
		t.Fatal(err)
	}
	asMonitor := func(p *testenv.Postgres) string {
		return fmt.Sprintf("postgres://monitor:mon-pass-7@127.0.0.1:%d/postgres?sslmode=disable", p.Port)
	}
	var o schema.Observation
	// The role reaches the standby by replication; wait until it can log in there.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		o = newObserver(t, observe.Config{Nodes: []observe.Node{{Name: "node0", DSN: asMonitor(c.Primary)}, {Name: "node1", DSN: asMonitor(c.Standby)}}}).Round(ctx)
		if o.Nodes[1].Up || time.Now().After(deadline) {
			break
		}
	}
	checkHealthy(t, o, c)
	if err := checkObservation(o); err != nil {
		t.Error(err)
	}
	conn, err := pgx.Connect(ctx, asMonitor(c.Primary))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	f, err := observe.ReadFacts(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var dataDir bool
	for _, s := range f.Settings {
		dataDir = dataDir || s.Name == "data_directory" && s.Setting == c.Primary.Dir+"/data"
	}
	if !dataDir || f.Database["xact_commit"] <= 0 {
		t.Errorf("facts as pg_monitor: data_directory shown %v, xact_commit %v", dataDir, f.Database["xact_commit"])
	}
}
