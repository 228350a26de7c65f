package observe_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
)

// A run through Pgpool-II with the standby promoted halfway: the session's first observation carries the primary's
// facts, the rounds show the split brain, the summary flags the run, and the last observation's facts count
// exactly the rows the run inserted.
func TestSession(t *testing.T) {
	c := testenv.StartPGCluster(t)
	ctx := context.Background()
	target := c.Pool.URL("postgres")
	load, err := pgx.Connect(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer load.Close(ctx)
	// Created before the run: creating a table inserts catalog rows, which tup_inserted would count.
	if _, err := load.Exec(ctx, "CREATE TABLE run_rows (id int, pad text) WITH (autovacuum_enabled = off)"); err != nil {
		t.Fatal(err)
	}

	// A backend reports its statistics when it goes idle, at most once a second, else 10 s later; Pgpool keeps the
	// backend after the client leaves. pg_stat_force_next_flush() (PostgreSQL 15) makes the report at the end of
	// the statement complete, before the client hears back; the hint keeps Pgpool from sending it to the standby.
	flush := func() {
		t.Helper()
		if _, err := load.Exec(ctx, "/*NO LOAD BALANCE*/ SELECT pg_stat_force_next_flush()"); err != nil {
			t.Fatal(err)
		}
	}
	flush() // the catalog rows CREATE TABLE inserted are counted before the run starts

	var mu sync.Mutex
	var emitted []schema.Observation
	s, err := observe.StartSession(ctx, observe.Config{Nodes: nodesOf(c), Pgpool: target}, target, func(o schema.Observation) {
		mu.Lock()
		defer mu.Unlock()
		emitted = append(emitted, o)
	})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(emitted) != 1 || emitted[0].Server == nil || len(emitted[0].Events) != 0 {
		t.Fatalf("StartSession emitted %+v; want one observation with the server facts and no events", emitted)
	}
	start := *emitted[0].Server
	mu.Unlock()
	// The facts are the primary's even through Pgpool: the standby alone has cluster_name set.
	for _, st := range start.Settings {
		if st.Name == "cluster_name" {
			t.Errorf("start facts read from the standby (cluster_name = %s)", st.Setting)
		}
	}

	const batches, perBatch = 50, 100
	for b := range batches {
		if _, err := load.Exec(ctx, "INSERT INTO run_rows SELECT g, repeat('x', 200) FROM generate_series(1, $1) g", perBatch); err != nil {
			t.Fatal(err)
		}
		if b == batches/2 {
			if err := c.Promote(ctx); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // a round or two sees both primaries
		}
	}
	flush()
	last, sum, err := s.Stop(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if last.Server == nil || last.Server.Delta == nil {
		t.Fatalf("last observation without facts and delta: %+v", last)
	}
	if got := last.Server.Delta.Database["tup_inserted"]; got != batches*perBatch {
		t.Errorf("tup_inserted over the run %v, want %d", got, batches*perBatch)
	}
	if !sum.SplitBrain || !sum.TopologyChanged || sum.MaxPrimaries != 2 {
		t.Errorf("summary %+v; want the split brain flagged with 2 primaries", sum)
	}
	var kinds []string
	for _, e := range sum.Events {
		kinds = append(kinds, e.Kind+" "+e.Node)
	}
	if !slices.Equal(kinds, []string{"role_change node1", "split_brain "}) {
		t.Errorf("events %q, want node1's role change and the split brain", kinds)
	}
	mu.Lock()
	defer mu.Unlock()
	if sum.Rounds != len(emitted)+1 {
		t.Errorf("summary counts %d rounds, %d were emitted plus the last", sum.Rounds, len(emitted))
	}
	for i, o := range append(emitted, last) {
		if err := checkObservation(o); err != nil {
			t.Errorf("observation %d: %v", i, err)
		}
		if i > 0 && !o.Time.After(emitted[i-1].Time) {
			t.Errorf("observation %d at %s is not after the previous one", i, o.Time)
		}
		if i > 0 && i < len(emitted) && o.Server != nil {
			t.Errorf("observation %d carries server facts; only the first and the last do", i)
		}
	}
}
