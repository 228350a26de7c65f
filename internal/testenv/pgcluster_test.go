package testenv_test

import (
	"context"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/jackc/pgx/v5"
)

// The cluster is what it says: node0 a primary, node1 a standby streaming from it that sees its writes, Pgpool in
// front knowing both as up with those roles, and reads through Pgpool reaching both nodes. Then a promotion makes
// two primaries.
func TestPGCluster(t *testing.T) {
	c := testenv.StartPGCluster(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	inRecovery := func(url string) bool {
		t.Helper()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var rec bool
		if err := conn.QueryRow(ctx, "SELECT pg_is_in_recovery()").Scan(&rec); err != nil {
			t.Fatal(err)
		}
		return rec
	}
	if inRecovery(c.Primary.URL("postgres")) || !inRecovery(c.Standby.URL("postgres")) {
		t.Fatal("want node0 primary and node1 in recovery")
	}

	// Writes on the primary arrive on the standby.
	wctx, wcancel := context.WithTimeout(ctx, 300*time.Millisecond)
	rows, err := testenv.WriteLoad(wctx, c.Primary.URL("postgres"))
	wcancel()
	if err != nil || rows == 0 {
		t.Fatalf("write load: %d rows, %v", rows, err)
	}
	standby, err := pgx.Connect(ctx, c.Standby.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer standby.Close(ctx)
	var onStandby int64
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := standby.QueryRow(ctx, "SELECT count(*) FROM testenv_writes").Scan(&onStandby)
		if err == nil && onStandby == rows || time.Now().After(deadline) {
			break
		}
	}
	if onStandby != rows {
		t.Fatalf("standby has %d rows, primary committed %d", onStandby, rows)
	}
	var app, slot string
	primary, err := pgx.Connect(ctx, c.Primary.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer primary.Close(ctx)
	if err := primary.QueryRow(ctx, "SELECT application_name, (SELECT slot_name FROM pg_replication_slots WHERE active) FROM pg_stat_replication").Scan(&app, &slot); err != nil || app != "node1" || slot != "node1" {
		t.Fatalf("pg_stat_replication application_name %q, active slot %q (err %v); want node1 streaming through slot node1", app, slot, err)
	}

	// Pgpool: both nodes up, roles as started, weights equal; select counts rise on both under a select load.
	before, err := c.Pool.PoolNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkNodes := func(nodes []testenv.PoolNode, roles ...string) {
		t.Helper()
		if len(nodes) != 2 {
			t.Fatalf("SHOW POOL_NODES: %d nodes, want 2: %+v", len(nodes), nodes)
		}
		ports := []int{c.Primary.Port, c.Standby.Port}
		for i, n := range nodes {
			if n.ID != i || n.Port != ports[i] || n.Status != "up" || n.PgStatus != "up" || n.Role != roles[i] || n.PgRole != roles[i] {
				t.Errorf("SHOW POOL_NODES row %d = %+v; want node %d on port %d, up, role %s", i, n, i, ports[i], roles[i])
			}
		}
	}
	checkNodes(before, "primary", "standby")
	const sessions, queries = 40, 5
	if err := testenv.SelectLoad(ctx, c.Pool.URL("postgres"), sessions, queries); err != nil {
		t.Fatal(err)
	}
	after, err := c.Pool.PoolNodes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	checkNodes(after, "primary", "standby")
	d0, d1 := after[0].SelectCount-before[0].SelectCount, after[1].SelectCount-before[1].SelectCount
	if d0+d1 != sessions*queries || d0 == 0 || d1 == 0 {
		t.Errorf("select_cnt deltas node0 %d node1 %d; want %d in all, some on each node", d0, d1, sessions*queries)
	}
	// Whole sessions go to one node: each delta is a multiple of the queries per session.
	if d0%queries != 0 || d1%queries != 0 {
		t.Errorf("select_cnt deltas %d and %d are not whole sessions of %d queries", d0, d1, queries)
	}

	// Promotion: the old primary still runs, and both are primaries now.
	if err := c.Promote(ctx); err != nil {
		t.Fatal(err)
	}
	if inRecovery(c.Primary.URL("postgres")) || inRecovery(c.Standby.URL("postgres")) {
		t.Fatal("after the promotion both nodes should be primaries")
	}
}
