package observe_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
)

// The server facts of a run: version as the server says it, the settings testenv's server runs with (given on the
// command line), none of the observer's own session settings, and counter deltas that match what the run did.
func TestFacts(t *testing.T) {
	url := testenv.SuperuserDatabaseURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// autovacuum off for the table: an autoanalyze would add pg_statistic rows to the database's tup_inserted.
	if _, err := conn.Exec(ctx, "CREATE TABLE facts_load (id int, pad text) WITH (autovacuum_enabled = off)"); err != nil {
		t.Fatal(err)
	}
	start, err := observe.ReadFacts(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var versionNum int
	var version string
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, version()").Scan(&versionNum, &version); err != nil {
		t.Fatal(err)
	}
	if start.VersionNum != versionNum || start.Version != version || !strings.HasPrefix(version, "PostgreSQL ") {
		t.Errorf("version %q (%d), want %q (%d)", start.Version, start.VersionNum, version, versionNum)
	}
	settings := map[string]schema.Setting{}
	for _, s := range start.Settings {
		settings[s.Name] = s
		if s.Source == "default" || s.Source == "client" || s.Source == "session" {
			t.Errorf("setting %+v: source %s is not a server setting", s, s.Source)
		}
	}
	// What testenv.Postgres.Start passes with -c.
	for _, want := range []schema.Setting{
		{Name: "fsync", Setting: "off", Source: "command line"},
		{Name: "max_connections", Setting: "200", Source: "command line"},
		{Name: "shared_buffers", Setting: "16384", Unit: "8kB", Source: "command line"},
	} {
		if got := settings[want.Name]; got != want {
			t.Errorf("setting %s = %+v, want %+v", want.Name, got, want)
		}
	}
	if _, ok := settings["application_name"]; ok {
		t.Error("application_name (the observer's own session) is listed as a server setting")
	}
	if start.DatabaseSizeBytes <= 0 || len(start.Bgwriter) == 0 || start.Database["xact_commit"] <= 0 {
		t.Errorf("facts: size %d, bgwriter %v, database %v", start.DatabaseSizeBytes, start.Bgwriter, start.Database)
	}
	if _, ok := start.Database["numbackends"]; ok {
		t.Error("numbackends is a gauge and should not be among the counters")
	}

	// A run: 1000 rows in one transaction on another connection, which then closes (a backend reports its
	// statistics at the latest when it exits).
	const rows = 1000
	load, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := load.Exec(ctx, "INSERT INTO facts_load SELECT g, repeat('x', 500) FROM generate_series(1, $1) g", rows); err != nil {
		t.Fatal(err)
	}
	load.Close(ctx)
	var d *schema.ServerDelta
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		end, err := observe.ReadFacts(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		d = observe.Delta(start, end)
		if d.Database["tup_inserted"] >= rows || time.Now().After(deadline) {
			break
		}
	}
	if d.Database["tup_inserted"] != rows {
		t.Errorf("tup_inserted delta %v, want %d", d.Database["tup_inserted"], rows)
	}
	if d.Database["xact_commit"] < 1 || d.DatabaseSizeBytes <= 0 || d.Seconds <= 0 || !d.Since.Equal(start.Time) {
		t.Errorf("delta: xact_commit %v, size %d, seconds %v, since %s", d.Database["xact_commit"], d.DatabaseSizeBytes, d.Seconds, d.Since)
	}
	if len(d.Bgwriter) != len(start.Bgwriter) {
		t.Errorf("bgwriter delta has %d counters, the facts %d", len(d.Bgwriter), len(start.Bgwriter))
	}
	o := schema.Observation{Format: schema.ObservationFormat, Time: time.Now(), Nodes: []schema.NodeSample{}, Server: &start}
	if err := checkObservation(o); err != nil {
		t.Error(err)
	}
}
