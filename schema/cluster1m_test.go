package schema_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// rowTexts runs query and returns each row's only column (a text).
func rowTexts(t *testing.T, conn *pgx.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The per-minute cluster views (0006_cluster_1m.sql) on a constructed run: two nodes and two Pgpool backends, three
// minutes of rounds every 20 s. node0 is primary, goes down at 10:01:40 and comes back as a standby at 10:02:20;
// node1 is a standby with lag until it is promoted at 10:01:20. Another run's rows in the same minutes must not mix
// in. Migrated and written as the deployed owner, read as the Hasura role (the grants come from the owner's
// default privileges).
func TestCluster1mViews(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	owner := connect(t, d.OwnerURL)
	res, err := schema.Migrate(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(res.Applied, "0006_cluster_1m") {
		t.Fatalf("applied %v, want 0006_cluster_1m among them", res.Applied)
	}
	const run, other = "00000000-0000-0000-0000-0000000000c1", "00000000-0000-0000-0000-0000000000c2"
	if _, err := owner.Exec(ctx, `
		INSERT INTO public.cluster_node_samples (run_id, seq, sampled_at, node, addr, up, role, lag_bytes, lag_seconds, connections) VALUES
		-- minute 10:00: node0 primary, node1 standby with lag
		($1, 1, '2026-03-01 10:00:00+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 5),
		($1, 1, '2026-03-01 10:00:00+00', 'node1', 'h1:5432', true,  'standby', 100,  0.1,  1),
		($1, 2, '2026-03-01 10:00:20+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 7),
		($1, 2, '2026-03-01 10:00:20+00', 'node1', 'h1:5432', true,  'standby', 250,  0.5,  2),
		($1, 3, '2026-03-01 10:00:40+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 6),
		($1, 3, '2026-03-01 10:00:40+00', 'node1', 'h1:5432', true,  'standby', 50,   0.2,  1),
		-- minute 10:01: node1 promoted at :20 (two primaries), node0 down at :40
		($1, 4, '2026-03-01 10:01:00+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 6),
		($1, 4, '2026-03-01 10:01:00+00', 'node1', 'h1:5432', true,  'standby', 10,   0.05, 1),
		($1, 5, '2026-03-01 10:01:20+00', 'node0', 'h0:5432', true,  'primary', NULL, NULL, 4),
		($1, 5, '2026-03-01 10:01:20+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 3),
		($1, 6, '2026-03-01 10:01:40+00', 'node0', 'h0:5432', false, NULL,      NULL, NULL, NULL),
		($1, 6, '2026-03-01 10:01:40+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 8),
		-- minute 10:02: node0 back as a standby at :20
		($1, 7, '2026-03-01 10:02:00+00', 'node0', 'h0:5432', false, NULL,      NULL, NULL, NULL),
		($1, 7, '2026-03-01 10:02:00+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 9),
		($1, 8, '2026-03-01 10:02:20+00', 'node0', 'h0:5432', true,  'standby', 400,  0.4,  2),
		($1, 8, '2026-03-01 10:02:20+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 9),
		($1, 9, '2026-03-01 10:02:40+00', 'node0', 'h0:5432', true,  'standby', 200,  0.3,  2),
		($1, 9, '2026-03-01 10:02:40+00', 'node1', 'h1:5432', true,  'primary', NULL, NULL, 7),
		-- another run in the same minute
		($2, 1, '2026-03-01 10:00:30+00', 'node0', 'h0:5432', true,  'standby', 9999, 99,   99)`, run, other); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Exec(ctx, `
		INSERT INTO public.cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta) VALUES
		($1, 1, '2026-03-01 10:00:00+00', 0, 'node0', 'h0:5432', 'up',   0,  0),
		($1, 1, '2026-03-01 10:00:00+00', 1, 'node1', 'h1:5432', 'up',   0,  0),
		($1, 2, '2026-03-01 10:00:20+00', 0, 'node0', 'h0:5432', 'up',   5,  5),
		($1, 2, '2026-03-01 10:00:20+00', 1, 'node1', 'h1:5432', 'up',   10, 10),
		($1, 3, '2026-03-01 10:00:40+00', 0, 'node0', 'h0:5432', 'up',   12, 7),
		($1, 3, '2026-03-01 10:00:40+00', 1, 'node1', 'h1:5432', 'up',   22, 12),
		($1, 4, '2026-03-01 10:01:00+00', 0, 'node0', 'h0:5432', 'up',   15, 3),
		($1, 4, '2026-03-01 10:01:00+00', 1, 'node1', 'h1:5432', 'up',   42, 20),
		($1, 5, '2026-03-01 10:01:20+00', 0, 'node0', 'h0:5432', 'up',   19, 4),
		($1, 5, '2026-03-01 10:01:20+00', 1, 'node1', 'h1:5432', 'up',   72, 30),
		($1, 6, '2026-03-01 10:01:40+00', 0, 'node0', 'h0:5432', 'down', 19, 0),
		($1, 6, '2026-03-01 10:01:40+00', 1, 'node1', 'h1:5432', 'up',   112, 40),
		($1, 7, '2026-03-01 10:02:00+00', 0, 'node0', 'h0:5432', 'down', 19, 0),
		($1, 7, '2026-03-01 10:02:00+00', 1, 'node1', 'h1:5432', 'up',   113, 1),
		($1, 8, '2026-03-01 10:02:20+00', 0, 'node0', 'h0:5432', 'down', 19, 0),
		($1, 8, '2026-03-01 10:02:20+00', 1, 'node1', 'h1:5432', 'up',   115, 2),
		($1, 9, '2026-03-01 10:02:40+00', 0, NULL,    'h0:5433', 'up',   20, 1),
		($1, 9, '2026-03-01 10:02:40+00', 1, 'node1', 'h1:5432', 'up',   118, 3),
		($2, 1, '2026-03-01 10:00:30+00', 0, 'node0', 'h0:5432', 'up',   500, 500)`, run, other); err != nil {
		t.Fatal(err)
	}

	reader := connect(t, d.HasuraURL)
	if _, err := reader.Exec(ctx, "SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	// bucket node | rounds up primary standby down | state changed last | lag_bytes max last | lag_seconds max last | connections max
	nodes := rowTexts(t, reader, `SELECT concat_ws(' ', to_char(bucket, 'HH24:MI'), node, '|', rounds, rounds_up, primary_rounds, standby_rounds,
		down_rounds, '|', coalesce(state, '-'), state_changed, to_char(last_sampled_at, 'HH24:MI:SS'), '|', coalesce(lag_bytes_max::text, '-'),
		coalesce(lag_bytes_last::text, '-'), '|', coalesce(lag_seconds_max::text, '-'), coalesce(lag_seconds_last::text, '-'), '|',
		coalesce(connections_max::text, '-'))
		FROM public.cluster_node_samples_1m WHERE run_id = $1 ORDER BY bucket, node`, run)
	wantNodes := []string{
		"10:00 node0 | 3 3 3 0 0 | primary f 10:00:40 | - - | - - | 7",
		"10:00 node1 | 3 3 0 3 0 | standby f 10:00:40 | 250 50 | 0.5 0.2 | 2",
		"10:01 node0 | 3 2 2 0 1 | down t 10:01:40 | - - | - - | 6",
		"10:01 node1 | 3 3 2 1 0 | primary t 10:01:40 | 10 - | 0.05 - | 8",
		"10:02 node0 | 3 2 0 2 1 | standby t 10:02:40 | 400 200 | 0.4 0.3 | 2",
		"10:02 node1 | 3 3 3 0 0 | primary f 10:02:40 | - - | - - | 9",
	}
	if !slices.Equal(nodes, wantNodes) {
		t.Errorf("cluster_node_samples_1m:\n%s\nwant\n%s", strings.Join(nodes, "\n"), strings.Join(wantNodes, "\n"))
	}
	// bucket node_id node addr | rounds select_delta | status changed last
	pool := rowTexts(t, reader, `SELECT concat_ws(' ', to_char(bucket, 'HH24:MI'), node_id, coalesce(node, '-'), addr, '|', rounds, select_delta, '|',
		status, status_changed, to_char(last_sampled_at, 'HH24:MI:SS'))
		FROM public.cluster_pool_samples_1m WHERE run_id = $1 ORDER BY bucket, node_id`, run)
	wantPool := []string{
		"10:00 0 node0 h0:5432 | 3 12 | up f 10:00:40",
		"10:00 1 node1 h1:5432 | 3 22 | up f 10:00:40",
		"10:01 0 node0 h0:5432 | 3 7 | down t 10:01:40",
		"10:01 1 node1 h1:5432 | 3 90 | up f 10:01:40",
		"10:02 0 - h0:5433 | 3 1 | up t 10:02:40",
		"10:02 1 node1 h1:5432 | 3 6 | up f 10:02:40",
	}
	if !slices.Equal(pool, wantPool) {
		t.Errorf("cluster_pool_samples_1m:\n%s\nwant\n%s", strings.Join(pool, "\n"), strings.Join(wantPool, "\n"))
	}
	// The other run has its own minute; Grafana reads the views too.
	grafana := connect(t, d.GrafanaURL)
	var otherRows, otherDelta int64
	if err := grafana.QueryRow(ctx, `SELECT (SELECT count(*) FROM public.cluster_node_samples_1m WHERE run_id = $1),
		(SELECT sum(select_delta) FROM public.cluster_pool_samples_1m WHERE run_id = $1)`, other).Scan(&otherRows, &otherDelta); err != nil {
		t.Fatal(err)
	}
	if otherRows != 1 || otherDelta != 500 {
		t.Errorf("other run: %d node minutes, %d selects; want 1 and 500", otherRows, otherDelta)
	}
	if got := schemaOf(t, owner, []string{"cluster_node_samples_1m", "cluster_pool_samples_1m"}); !slices.Equal(got["cluster_node_samples_1m"], []string{"public"}) ||
		!slices.Equal(got["cluster_pool_samples_1m"], []string{"public"}) {
		t.Errorf("views in schemas %v, want public", got)
	}
}

// The per-minute views are fast enough as plain views: one 24-hour observed run of three nodes (259,200 node rows,
// 86,400 rounds of two Pgpool backends) next to an hour of another run, read the way the run page reads it (one
// run, in minute order), exactly 1,440 minutes per node and backend. The run's filter must apply below the
// aggregation (the aggregate makes only this run's groups), and the tables' (run_id, sampled_at) indexes must be
// able to serve it: here the run is most of the table and a sequential scan is the right plan, so the index is
// checked with sequential scans disabled (among many runs the planner picks it itself: see the README's figures).
// The times are logged (figures for the README); the bound is loose, for a loaded 2-core machine.
func TestCluster1mViewSpeed(t *testing.T) {
	if testing.Short() {
		t.Skip("inserts 864,000 rows")
	}
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	const run, other = "00000000-0000-0000-0000-0000000000d1", "00000000-0000-0000-0000-0000000000d2"
	start := time.Now()
	for id, seconds := range map[string]int{run: 86400, other: 3600} {
		// Every second for 24 hours (the other run: an hour): node0 primary, node1 and node2 standbys with lag; node2 down in hour 5.
		if _, err := conn.Exec(ctx, `
			INSERT INTO public.cluster_node_samples (run_id, seq, sampled_at, node, addr, up, role, lag_bytes, lag_seconds, connections)
			SELECT $1, s, TIMESTAMPTZ '2026-03-02 00:00:00+00' + s * INTERVAL '1 second', 'node' || n, 'h' || n || ':5432',
			       NOT (n = 2 AND s / 3600 = 5),
			       CASE WHEN n = 2 AND s / 3600 = 5 THEN NULL WHEN n = 0 THEN 'primary' ELSE 'standby' END,
			       CASE WHEN n = 0 OR (n = 2 AND s / 3600 = 5) THEN NULL ELSE (s * 7 + n) % 5000 END,
			       CASE WHEN n = 0 OR (n = 2 AND s / 3600 = 5) THEN NULL ELSE ((s * 7 + n) % 5000) / 1000.0 END,
			       CASE WHEN n = 2 AND s / 3600 = 5 THEN NULL ELSE 4 + s % 3 END
			FROM generate_series(0, $2 - 1) AS s, generate_series(0, 2) AS n`, id, seconds); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `
			INSERT INTO public.cluster_pool_samples (run_id, seq, sampled_at, node_id, node, addr, status, select_cnt, select_delta)
			SELECT $1, s, TIMESTAMPTZ '2026-03-02 00:00:00+00' + s * INTERVAL '1 second', b, 'node' || b, 'h' || b || ':5432', 'up', s * 3, 3
			FROM generate_series(0, $2 - 1) AS s, generate_series(0, 1) AS b`, id, seconds); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE public.cluster_node_samples; ANALYZE public.cluster_pool_samples"); err != nil {
		t.Fatal(err)
	}
	t.Logf("inserted 270,000 node and 180,000 pool rows in %v", time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		view, query, index string
		rows               int
		checksum           string // a figure of the result that depends on every minute
		checkQuery         string
	}{
		{"cluster_node_samples_1m",
			`SELECT bucket, node, rounds, rounds_up, primary_rounds, standby_rounds, down_rounds, state, state_changed, last_sampled_at,
				lag_bytes_max, lag_bytes_last, lag_seconds_max, lag_seconds_last, connections_max
			 FROM public.cluster_node_samples_1m WHERE run_id = $1 ORDER BY bucket, node LIMIT 50000`,
			"cluster_node_samples_run_idx", 3 * 1440, "259200 259200 60 60",
			`SELECT concat_ws(' ', sum(rounds), sum(primary_rounds + standby_rounds + down_rounds), count(*) FILTER (WHERE state = 'down'),
				count(*) FILTER (WHERE rounds_up = 0)) FROM public.cluster_node_samples_1m WHERE run_id = $1`},
		{"cluster_pool_samples_1m",
			`SELECT bucket, node_id, node, addr, rounds, select_delta, status, status_changed, last_sampled_at
			 FROM public.cluster_pool_samples_1m WHERE run_id = $1 ORDER BY bucket, node_id LIMIT 50000`,
			"cluster_pool_samples_run_idx", 2 * 1440, "172800 518400 0",
			`SELECT concat_ws(' ', sum(rounds), sum(select_delta), count(*) FILTER (WHERE status_changed)) FROM public.cluster_pool_samples_1m WHERE run_id = $1`},
	} {
		plan := strings.Join(rowTexts(t, conn, "EXPLAIN (ANALYZE, BUFFERS) "+c.query, run), "\n")
		if !regexp.MustCompile(`Aggregate .*actual time=\S+ rows=` + strconv.Itoa(c.rows) + ` `).MatchString(plan) {
			t.Errorf("%s: the aggregate does not make exactly the run's %d groups (the filter is not below it):\n%s", c.view, c.rows, plan)
		}
		tx, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.Exec(ctx, "SET LOCAL enable_seqscan = off"); err != nil {
			t.Fatal(err)
		}
		rows, err := tx.Query(ctx, "EXPLAIN "+c.query, run)
		if err != nil {
			t.Fatal(err)
		}
		indexPlan, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		tx.Rollback(ctx)
		if p := strings.Join(indexPlan, "\n"); !strings.Contains(p, c.index) || strings.Contains(p, "Seq Scan") {
			t.Errorf("%s: the run's rows cannot be found through %s:\n%s", c.view, c.index, p)
		}
		best := time.Duration(1 << 62)
		var n int
		for range 3 {
			t0 := time.Now()
			rows, err := conn.Query(ctx, c.query, run)
			if err != nil {
				t.Fatal(err)
			}
			n = 0
			for rows.Next() {
				n++
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			best = min(best, time.Since(t0))
		}
		if n != c.rows {
			t.Errorf("%s: %d rows, want %d", c.view, n, c.rows)
		}
		if got := rowTexts(t, conn, c.checkQuery, run); len(got) != 1 || got[0] != c.checksum {
			t.Errorf("%s: figures %v, want %q", c.view, got, c.checksum)
		}
		t.Logf("%s: one 24-hour run, %d rows in %v (best of 3); plan:\n%s", c.view, n, best.Round(time.Millisecond), plan)
		if best > 5*time.Second {
			t.Errorf("%s: %v for a 24-hour run; the view is too slow for the run page", c.view, best)
		}
	}
}
