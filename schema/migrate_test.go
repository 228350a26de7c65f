package schema_test

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func connect(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func TestMigrateTwiceIsNoop(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	first, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	all, _ := schema.Migrations()
	if len(first.Applied) != len(all) {
		t.Fatalf("first run applied %v, want all %d migrations", first.Applied, len(all))
	}
	second, err := schema.Migrate(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(second.Applied) != 0 {
		t.Fatalf("second run applied %v, want nothing", second.Applied)
	}
	// The plain-PostgreSQL stand-ins carry the TimescaleDB names.
	for _, rel := range []string{"runs", "samples", "samples_1m", "benchpipe.sink_offsets"} {
		var ok bool
		if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", rel).Scan(&ok); err != nil || !ok {
			t.Errorf("relation %s missing after migrate (err %v)", rel, err)
		}
	}
}

func TestConcurrentMigrateIsSafe(t *testing.T) {
	url := testenv.DatabaseURL(t)
	const n = 4
	var wg sync.WaitGroup
	results := make([]schema.MigrateResult, n)
	errs := make([]error, n)
	for i := range n {
		conn := connect(t, url)
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = schema.Migrate(context.Background(), conn)
		}()
	}
	wg.Wait()
	total := 0
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("migrator %d: %v", i, errs[i])
		}
		total += len(results[i].Applied)
	}
	all, _ := schema.Migrations()
	if total != len(all) {
		t.Fatalf("%d migrators applied %d migrations in total, want each applied exactly once (%d)", n, total, len(all))
	}
	var recorded int
	conn := connect(t, url)
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM benchpipe.schema_migrations").Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	if recorded != len(all) {
		t.Fatalf("schema_migrations has %d rows, want %d", recorded, len(all))
	}
}

func TestChangedMigrationIsAnError(t *testing.T) {
	ctx := context.Background()
	conn := connect(t, testenv.DatabaseURL(t))
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "UPDATE benchpipe.schema_migrations SET checksum = 'deadbeefdeadbeef' WHERE version = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := schema.Migrate(ctx, conn); err == nil {
		t.Fatal("Migrate accepted a migration whose text changed after it was applied")
	}
}

func TestSplitStatements(t *testing.T) {
	script := `-- leading comment
CREATE TABLE a (x text DEFAULT ';');
/* block; comment */ SELECT 1;
CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql;
SELECT $1::int;
SELECT "semi;colon" FROM a;
-- trailing comment only`
	got := schema.SplitStatements(script)
	want := []string{
		"-- leading comment\nCREATE TABLE a (x text DEFAULT ';')",
		"/* block; comment */ SELECT 1",
		"CREATE FUNCTION f() RETURNS int AS $body$ SELECT 1; $body$ LANGUAGE sql",
		"SELECT $1::int",
		`SELECT "semi;colon" FROM a`,
	}
	if len(got) != len(want) {
		t.Fatalf("got %d statements %q, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("statement %d = %q, want %q", i, got[i], want[i])
		}
	}
}
