package pgbench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// observeYAML is the producer.pgbench.observe section for a test: nodes by name, Pgpool if pgpool is not "", and
// the interval (the timeout is 80 % of it).
func observeYAML(nodes map[string]string, pgpool string, interval time.Duration) string {
	var b strings.Builder
	b.WriteString("    observe:\n")
	if len(nodes) > 0 {
		b.WriteString("      nodes:\n")
		for name, dsn := range nodes {
			fmt.Fprintf(&b, "        %s: %q\n", name, dsn)
		}
	}
	if pgpool != "" {
		fmt.Fprintf(&b, "      pgpool: %q\n", pgpool)
	}
	fmt.Fprintf(&b, "      interval: %s\n      timeout: %s\n", interval, interval*8/10)
	return b.String()
}

// writeObserveConfig is writeConfig with a cluster to observe (its producer.pgbench section is the file's last).
func writeObserveConfig(t testing.TB, brokers []string, section string) string {
	t.Helper()
	path := writeConfig(t, brokers)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(section); err != nil {
		t.Fatal(err)
	}
	return path
}

// observedRun is one --observe run's records, taken apart.
type observedRun struct {
	observations []schema.Record // the observation records, in order
	samples      []*schema.Sample
	finished     *schema.Finished
	extra        runExtra
}

// checkObservedRun asserts the record stream of an observed run: run_started, then samples and observations
// numbered 1…n in one sequence and in that order in Kafka, the first observation before any sample (with the
// server facts), the last one just before run_finished (with the facts and their change), and Extra.observation
// counting exactly the observations published.
func checkObservedRun(t testing.TB, recs []schema.Record) observedRun {
	t.Helper()
	if len(recs) < 4 || recs[0].Type != schema.TypeRunStarted || recs[len(recs)-1].Type != schema.TypeRunFinished {
		t.Fatalf("records: %d, want run_started, observations and samples, run_finished", len(recs))
	}
	var run observedRun
	for i, r := range recs {
		if r.Seq != int64(i) {
			t.Fatalf("record %d (%s) has seq %d", i, r.Type, r.Seq)
		}
		switch r.Type {
		case schema.TypeObservation:
			if err := r.Observation.Validate(); err != nil {
				t.Fatalf("observation seq %d: %v", r.Seq, err)
			}
			run.observations = append(run.observations, r)
		case schema.TypeSample:
			run.samples = append(run.samples, r.Sample)
		}
	}
	if recs[1].Type != schema.TypeObservation || recs[1].Observation.Server == nil {
		t.Fatalf("record 1 is %s; want the first observation, with the server facts, before the load", recs[1].Type)
	}
	lastObs := recs[len(recs)-2]
	if lastObs.Type != schema.TypeObservation || lastObs.Observation.Server == nil || lastObs.Observation.Server.Delta == nil {
		t.Fatalf("the record before run_finished is %s; want the last observation with the facts and their change", lastObs.Type)
	}
	for i, o := range run.observations[1 : len(run.observations)-1] {
		if o.Observation.Server != nil {
			t.Errorf("observation %d carries server facts; only the first and the last do", i+1)
		}
	}
	run.finished = recs[len(recs)-1].Finished
	if run.finished.Summary == nil {
		t.Fatalf("run_finished without a summary: %+v", run.finished)
	}
	if err := json.Unmarshal(run.finished.Summary.Extra, &run.extra); err != nil {
		t.Fatal(err)
	}
	if run.extra.Observation == nil {
		t.Fatalf("no observation in Summary.Extra: %s", run.finished.Summary.Extra)
	}
	if run.extra.Observation.Rounds != len(run.observations) {
		t.Errorf("extra counts %d rounds, %d observations were published", run.extra.Observation.Rounds, len(run.observations))
	}
	// The summary's events are the observations' events, in order.
	var events []schema.ClusterEvent
	for _, o := range run.observations {
		events = append(events, o.Observation.Events...)
	}
	if len(events) != len(run.extra.Observation.Events) {
		t.Errorf("observations carry %d events, the summary %d", len(events), len(run.extra.Observation.Events))
	}
	return run
}

// eventKinds lists events as "kind node from->to [nodes]".
func eventKinds(es []schema.ClusterEvent) []string {
	var out []string
	for _, e := range es {
		s := e.Kind + " " + e.Node
		if e.From != "" || e.To != "" {
			s += " " + e.From + "->" + e.To
		}
		if len(e.Nodes) > 0 {
			s += " " + strings.Join(e.Nodes, ",")
		}
		out = append(out, s)
	}
	return out
}

// waitReplayed waits until the standby has replayed everything the primary has written.
func waitReplayed(t testing.TB, c *testenv.PGCluster) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := pgx.Connect(ctx, c.Primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(ctx)
	s, err := pgx.Connect(ctx, c.Standby.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	var target string
	if err := p.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&target); err != nil {
		t.Fatal(err)
	}
	for {
		var done bool
		if err := s.QueryRow(ctx, "SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", target).Scan(&done); err != nil {
			t.Fatal(err)
		}
		if done {
			return
		}
		if ctx.Err() != nil {
			t.Fatal("the standby did not replay the primary's WAL within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startObservedCluster starts a cluster with pgbench's tables (scale 1) on both nodes, and kfake.
func startObservedCluster(t *testing.T) (*testenv.PGCluster, []string) {
	t.Helper()
	pgbenchBin(t)
	c := testenv.StartPGCluster(t)
	initDB(t, c.Primary.URL("postgres"), 1)
	waitReplayed(t, c)
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, recordsTopic), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	return c, brokers
}

// startSink runs the sink in this process from brokers into a new database, and returns a connection to it: the
// far end of the pipeline, for tests that check what an observed run becomes in the tables.
func startSink(t *testing.T, brokers []string) *pgx.Conn {
	t.Helper()
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = testenv.DatabaseURL(t)
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	logger := slog.New(slog.DiscardHandler)
	if err := ingest.Migrate(ctx, &cfg, logger); err != nil {
		t.Fatal(err)
	}
	sink, err := ingest.New(ctx, &cfg, ingest.WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sink.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sink: %v", err)
		}
		sink.Close()
	})
	conn, err := pgx.Connect(context.Background(), cfg.Sink.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// waitRunRow waits until the sink has written the run's row with its final status.
func waitRunRow(t *testing.T, db *pgx.Conn, runID uuid.UUID) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var status string
		if err := db.QueryRow(context.Background(), "SELECT coalesce((SELECT status FROM runs WHERE run_id = $1), '')", runID).Scan(&status); err != nil {
			t.Fatal(err)
		}
		if status != "" && status != string(schema.StatusRunning) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s: status %q after 20 s", runID, status)
		}
	}
}

func clusterNodes(c *testenv.PGCluster) map[string]string {
	return map[string]string{"node0": c.Primary.URL("postgres"), "node1": c.Standby.URL("postgres")}
}

// --observe without a cluster in the configuration, or with a connection string the driver cannot read, is a
// one-line usage error before anything runs or is recorded; the password in the bad string is not printed.
func TestObserveUsageErrors(t *testing.T) {
	pgbenchBin(t)
	for _, tc := range []struct {
		name, section, want string
	}{
		{"no cluster", "", "producer pgbench: --observe needs a cluster to observe: set producer.pgbench.observe.nodes (NAME: connection string) and/or .pgpool in "},
		{"bad node", observeYAML(map[string]string{"db1": "postgres://mon:hunter2-secret@db1:99999/postgres"}, "", time.Second),
			"producer pgbench: producer.pgbench.observe: node db1: cannot read connection string postgres://mon@db1:99999/postgres"},
		{"bad pgpool", observeYAML(nil, "host=pool port=notaport password=hunter2-secret", time.Second),
			"producer pgbench: producer.pgbench.observe: pgpool: cannot read connection string "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := writeObserveConfig(t, nil, tc.section)
			res := runCLI(t, context.Background(), "--config", cfg, "--observe", "--", "-T", "1", "postgres://127.0.0.1:1/none")
			lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
			if res.code != ExitUsage || res.stdout != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], tc.want) ||
				lines[1] != "Run 'producer pgbench --help' for usage." {
				t.Errorf("exit %d, stderr %q; want exit %d and the one line %q…", res.code, res.stderr, ExitUsage, tc.want)
			}
			if strings.Contains(res.stderr, "hunter2-secret") {
				t.Errorf("the password is printed: %s", res.stderr)
			}
			spool := strings.TrimSuffix(cfg, "benchpipe.yaml") + "spool"
			if _, err := os.Stat(spool); !os.IsNotExist(err) {
				t.Errorf("the spool %s exists (%v): something was recorded", spool, err)
			}
		})
	}
}

// A select-only run through Pgpool-II, observed: the reads reach both nodes, and every SELECT Pgpool sent while
// the run was observed is one of pgbench's, exactly: its transactions (one SELECT each in the built-in
// select-only script) plus the two SELECTs pgbench makes before the run for the built-in scripts (GetTableInfo in
// pgbench.c: count(*) of pgbench_branches for the scale, and pgbench_accounts' partitioning). -n leaves out the
// VACUUMs, which are no SELECTs anyway. The observer's own queries are not counted: its nodes are probed
// directly, SHOW POOL_NODES is answered by Pgpool itself, and the facts are read before the first round and
// after the last.
func TestObserveSelectOnlyThroughPgpool(t *testing.T) {
	c, brokers := startObservedCluster(t)
	cfg := writeObserveConfig(t, brokers, observeYAML(clusterNodes(c), c.Pool.URL("postgres"), 500*time.Millisecond))
	// -C: a connection per transaction, so that Pgpool picks a node for every transaction (it picks one per
	// session) and both get reads whatever the luck.
	res := runCLI(t, context.Background(), "--config", cfg, "--observe", "--", "-S", "-C", "-n", "-c", "2", "-j", "2", "-T", "3", c.Pool.URL("postgres"))
	if res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	run := checkObservedRun(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
	perNode := map[int]int64{}
	for i, o := range run.observations {
		ob := o.Observation
		if len(ob.Nodes) != 2 || ob.Nodes[0].Node != "node0" || ob.Nodes[0].Role != schema.RolePrimary ||
			ob.Nodes[1].Node != "node1" || ob.Nodes[1].Role != schema.RoleStandby || ob.Primaries != 1 {
			t.Errorf("observation %d: nodes %+v; want node0 primary and node1 standby, both up", i, ob.Nodes)
		}
		if len(ob.Pool) != 2 || ob.PoolError != "" {
			t.Fatalf("observation %d: pool %+v (%s); want both backends", i, ob.Pool, ob.PoolError)
		}
		for _, p := range ob.Pool {
			if p.Node != fmt.Sprintf("node%d", p.NodeID) || p.Status != "up" || (i == 0 && p.SelectDelta != 0) {
				t.Errorf("observation %d: pool row %+v", i, p)
			}
			perNode[p.NodeID] += p.SelectDelta
		}
	}
	processed := run.extra.Pgbench.Processed
	t.Logf("reads per node %v, pgbench processed %d, %d observations", perNode, processed, len(run.observations))
	if perNode[0] == 0 || perNode[1] == 0 {
		t.Errorf("reads per node %v; want reads on both", perNode)
	}
	if perNode[0]+perNode[1] != processed+2 {
		t.Errorf("Pgpool sent %d SELECTs while observed (%v), want pgbench's %d transactions + 2", perNode[0]+perNode[1], perNode, processed)
	}
	x := run.extra.Observation
	if x.TopologyChanged || x.SplitBrain || x.MaxPrimaries != 1 || len(x.Events) != 0 || strings.Contains(res.stderr, "warning") {
		t.Errorf("a steady cluster's run: extra %+v, stderr %q", x, res.stderr)
	}
}

// runInBackground starts Run and returns its output buffers and a channel delivering its exit code.
func runInBackground(t *testing.T, args ...string) (stdout, stderr *syncBuffer, code <-chan int) {
	t.Helper()
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	ch := make(chan int, 1)
	go func() { ch <- Run(context.Background(), args, stdout, stderr) }()
	return stdout, stderr, ch
}

func waitExit(t *testing.T, stdout, stderr *syncBuffer, code <-chan int) int {
	t.Helper()
	select {
	case c := <-code:
		t.Logf("exit %d\nstdout:\n%s\nstderr:\n%s", c, stdout.String(), stderr.String())
		return c
	case <-time.After(2 * time.Minute):
		t.Fatalf("Run did not return within 2 minutes:\n%s\n%s", stdout.String(), stderr.String())
		return -1
	}
}

// findEvent returns the first event of kind and the record of the observation that carried it.
func findEvent(run observedRun, kind string) (schema.ClusterEvent, schema.Record, bool) {
	for _, o := range run.observations {
		for _, e := range o.Observation.Events {
			if e.Kind == kind {
				return e, o, true
			}
		}
	}
	return schema.ClusterEvent{}, schema.Record{}, false
}

// The standby is promoted halfway through a run while the old primary goes on taking the load: the observation
// published next holds node1's role change and the split brain (within 2 s of the promotion, with the default 1 s
// interval), every later round counts two primaries, and the run is flagged in its record and with a warning as
// the run's last line. Through the whole pipeline (kfake, the sink), the runs row is flagged and the cluster
// tables hold every round, node and event.
func TestObserveSplitBrain(t *testing.T) {
	c, brokers := startObservedCluster(t)
	db := startSink(t, brokers)
	cfg := writeObserveConfig(t, brokers, observeYAML(clusterNodes(c), "", time.Second))
	stdout, stderr, code := runInBackground(t, "--config", cfg, "--observe", "--", "-S", "-c", "2", "-j", "2", "-T", "6", c.Primary.URL("postgres"))
	waitOutput(t, stdout, "s measure |", 2, time.Minute)
	promoteStart := time.Now()
	if err := c.Promote(context.Background()); err != nil {
		t.Fatal(err)
	}
	promoted := time.Now()
	if got := waitExit(t, stdout, stderr, code); got != ExitOK {
		t.Fatalf("exit %d; the old primary kept the load and the run should be ok", got)
	}
	run := checkObservedRun(t, runRecords(t, brokers, runIDOf(t, stdout.String())))
	x := run.extra.Observation
	if got, want := eventKinds(x.Events), []string{"role_change node1 standby->primary", "split_brain  node0,node1"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	e, rec, _ := findEvent(run, schema.EventSplitBrain)
	seen := rec.Time.Sub(promoted)
	t.Logf("promote took %v; split brain probed %v after it ended, published %v after it ended", promoted.Sub(promoteStart),
		e.Time.Sub(promoted), seen)
	if seen > 2*time.Second || e.Time.Before(promoteStart.Add(-time.Second)) {
		t.Errorf("split brain event at %v in a record made at %v; the promotion ran %v → %v: want it seen within 2 s",
			e.Time, rec.Time, promoteStart, promoted)
	}
	after := false
	for _, o := range run.observations {
		after = after || o.Seq == rec.Seq
		if after && o.Observation.Primaries != 2 {
			t.Errorf("observation seq %d after the split brain counts %d primaries", o.Seq, o.Observation.Primaries)
		}
	}
	if !x.TopologyChanged || !x.SplitBrain || x.MaxPrimaries != 2 {
		t.Errorf("extra %+v; want the run flagged with a split brain of 2 primaries", x)
	}
	lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	wantLast := "producer pgbench: warning: split brain during the run (2 primaries at once): " + x.Events[0].Time.Format("2006-01-02T15:04:05.000Z") +
		" role_change node=node1 standby->primary; " + x.Events[1].Time.Format("2006-01-02T15:04:05.000Z") +
		" split_brain primaries=node0,node1; the figures are not a steady cluster's"
	if last != wantLast {
		t.Errorf("stderr's last line %q, want %q", last, wantLast)
	}
	if n := strings.Count(stderr.String(), "producer pgbench: cluster: "); n != 2 {
		t.Errorf("%d events printed as they came, want 2", n)
	}

	// The far end: the runs row is flagged, and the cluster tables hold exactly what the records carried.
	runID := runIDOf(t, stdout.String())
	waitRunRow(t, db, runID)
	first := run.observations[0].Observation.Server
	var (
		topo, split              bool
		versionNum               *int32
		rounds, nodeRows, events int
		settings                 int
		kinds                    []string
	)
	err := db.QueryRow(context.Background(), `SELECT topology_changed, split_brain, server_version_num,
		(SELECT count(*) FROM cluster_observations WHERE run_id = $1), (SELECT count(*) FROM cluster_node_samples WHERE run_id = $1),
		(SELECT count(*) FROM cluster_events WHERE run_id = $1), (SELECT count(*) FROM run_settings WHERE run_id = $1),
		(SELECT array_agg(kind || ' ' || coalesce(node, '') ORDER BY seq, idx) FROM cluster_events WHERE run_id = $1)
		FROM runs WHERE run_id = $1`, runID).Scan(&topo, &split, &versionNum, &rounds, &nodeRows, &events, &settings, &kinds)
	if err != nil {
		t.Fatal(err)
	}
	if !topo || !split || versionNum == nil || int(*versionNum) != first.VersionNum || rounds != len(run.observations) ||
		nodeRows != 2*len(run.observations) || events != 2 || settings != len(first.Settings) ||
		!slices.Equal(kinds, []string{"role_change node1", "split_brain "}) {
		t.Errorf("runs row: topology_changed %v split_brain %v server_version_num %v; %d observation rows, %d node rows, %d events %q, %d settings; "+
			"want flagged, version %d, %d observations, %d node rows, 2 events, %d settings", topo, split, versionNum, rounds, nodeRows,
			events, kinds, settings, first.VersionNum, len(run.observations), 2*len(run.observations), len(first.Settings))
	}
}

// The standby stops mid-run: one node_down event for node1, then node1 is down in every round; the run is flagged
// (topology changed, no split brain). The nodes' password comes from the environment through ${OBS_PW} in the
// configuration, and is nowhere in the output or the records, the down node's error included.
func TestObserveNodeDown(t *testing.T) {
	c, brokers := startObservedCluster(t)
	const secret = "obs-sekret-pw"
	t.Setenv("OBS_PW", secret) // the test cluster trusts loopback: the password is sent, never checked
	nodes := map[string]string{}
	for name, dsn := range clusterNodes(c) {
		nodes[name] = strings.Replace(dsn, "postgres://postgres@", "postgres://postgres:${OBS_PW}@", 1)
	}
	cfg := writeObserveConfig(t, brokers, observeYAML(nodes, "", time.Second))
	stdout, stderr, code := runInBackground(t, "--config", cfg, "--observe", "--", "-S", "-c", "2", "-j", "2", "-T", "5", c.Primary.URL("postgres"))
	waitOutput(t, stdout, "s measure |", 2, time.Minute)
	if err := c.Standby.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	if got := waitExit(t, stdout, stderr, code); got != ExitOK {
		t.Fatalf("exit %d", got)
	}
	recs := runRecords(t, brokers, runIDOf(t, stdout.String()))
	for _, r := range recs {
		b, err := schema.Encode(r)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), secret) {
			t.Errorf("the password is in the %s record %d", r.Type, r.Seq)
		}
	}
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Error("the password is in the output")
	}
	run := checkObservedRun(t, recs)
	x := run.extra.Observation
	if got, want := eventKinds(x.Events), []string{"node_down node1"}; !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	e, rec, _ := findEvent(run, schema.EventNodeDown)
	t.Logf("node_down published %v after the standby stopped: %s", rec.Time.Sub(stopped), e.Detail)
	if e.Detail == "" || rec.Time.Sub(stopped) > 2*time.Second {
		t.Errorf("node_down %+v in a record made %v after the stop; want a reason, within 2 s", e, rec.Time.Sub(stopped))
	}
	after := false
	for _, o := range run.observations {
		after = after || o.Seq == rec.Seq
		if n1 := o.Observation.Nodes[1]; n1.Up == after || !o.Observation.Nodes[0].Up {
			t.Errorf("observation seq %d: node0 up %v, node1 up %v; want node1 down from seq %d on", o.Seq, o.Observation.Nodes[0].Up, n1.Up, rec.Seq)
		}
	}
	if !x.TopologyChanged || x.SplitBrain || x.MaxPrimaries != 1 {
		t.Errorf("extra %+v; want topology changed, no split brain", x)
	}
	if !strings.Contains(stderr.String(), "producer pgbench: warning: the cluster's topology changed during the run: ") {
		t.Errorf("no topology warning on stderr")
	}
}

// A write load (pgbench's tpcb-like) on the primary: the standby's lag in bytes is known in every round and more
// than zero in some.
func TestObserveLagUnderWrites(t *testing.T) {
	c, brokers := startObservedCluster(t)
	cfg := writeObserveConfig(t, brokers, observeYAML(clusterNodes(c), "", 250*time.Millisecond))
	res := runCLI(t, context.Background(), "--config", cfg, "--observe", "--", "-c", "4", "-j", "2", "-T", "3", c.Primary.URL("postgres"))
	if res.code != ExitOK {
		t.Fatalf("exit %d", res.code)
	}
	run := checkObservedRun(t, runRecords(t, brokers, runIDOf(t, res.stdout)))
	var lagged int
	var most int64
	for _, o := range run.observations {
		n0, n1 := o.Observation.Nodes[0], o.Observation.Nodes[1]
		if n0.LagBytes != nil || n1.Role != schema.RoleStandby || n1.LagBytes == nil {
			t.Fatalf("observation seq %d: node0 %+v node1 %+v; want the standby's lag known, the primary's not", o.Seq, n0, n1)
		}
		if *n1.LagBytes > 0 {
			lagged++
		}
		most = max(most, *n1.LagBytes)
	}
	t.Logf("%d of %d observations saw the standby behind, at most %d bytes", lagged, len(run.observations), most)
	if lagged == 0 {
		t.Errorf("no observation of %d saw the standby behind under %d transactions of writes", len(run.observations), run.extra.Pgbench.Processed)
	}
	if x := run.extra.Observation; x.TopologyChanged || len(x.Events) != 0 {
		t.Errorf("extra %+v; want no events", x)
	}
}

// With --observe, a target the observer cannot read its facts from fails the run before the load, in one line,
// with a failed run record and no sample.
func TestObserveTargetUnreachable(t *testing.T) {
	pgbenchBin(t)
	_, brokers := kafka(t)
	port := freePort(t)
	cfg := writeObserveConfig(t, brokers, observeYAML(map[string]string{"db1": fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", port)}, "", time.Second))
	res := runCLI(t, context.Background(), "--config", cfg, "--observe", "--", "-T", "1", fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres", port))
	if res.code != ExitFailed {
		t.Fatalf("exit %d, want %d", res.code, ExitFailed)
	}
	lines := strings.Split(strings.TrimSuffix(res.stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "producer pgbench: --observe: connect to the target for its server facts: ") {
		t.Errorf("stderr %q; want one line saying the target's facts could not be read", res.stderr)
	}
	recs := runRecords(t, brokers, runIDOf(t, res.stdout))
	if len(recs) != 2 || recs[1].Type != schema.TypeRunFinished || recs[1].Finished.Status != schema.StatusFailed ||
		recs[1].Finished.Summary != nil || !strings.HasPrefix(recs[1].Finished.Error, "--observe: connect to the target") {
		t.Errorf("records %+v; want run_started and a failed run_finished without a summary", recs)
	}
}
