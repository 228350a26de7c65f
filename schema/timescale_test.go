package schema_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// The decision over the server's facts. TimescaleDB cannot be installed here, so "available" and "preloaded" are
// simulated as facts; TestTimescaleFactsFromServer checks, on the real server, the query that reads them.
func TestUseTimescale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		facts schema.TimescaleFacts
		use   bool
		note  string // a substring of the note; "" = no note
	}{
		{"not on the server", schema.TimescaleFacts{}, false, ""},
		{"not on the server, preload readable", schema.TimescaleFacts{PreloadKnown: true}, false, ""},
		{"installed", schema.TimescaleFacts{Installed: true, Available: true, Preload: "timescaledb", PreloadKnown: true}, true, ""},
		// Installed by someone who could: trust it even when this role cannot read the setting.
		{"installed, preload unreadable", schema.TimescaleFacts{Installed: true, Available: true}, true, ""},
		{"available and preloaded", schema.TimescaleFacts{Available: true, Preload: "pg_stat_statements, timescaledb", PreloadKnown: true}, true, ""},
		// The case that ended in FATAL at every start (issue 11 item 9).
		{"available, not preloaded", schema.TimescaleFacts{Available: true, Preload: "pg_stat_statements", PreloadKnown: true}, false,
			`not loaded (shared_preload_libraries = "pg_stat_statements"): using plain PostgreSQL tables and views. To use TimescaleDB, add timescaledb to shared_preload_libraries`},
		{"available, nothing preloaded", schema.TimescaleFacts{Available: true, PreloadKnown: true}, false, `shared_preload_libraries = ""`},
		{"available, preload unreadable", schema.TimescaleFacts{Available: true, Role: "sink"}, false,
			"role sink may not read shared_preload_libraries"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			use, note := schema.UseTimescale(tc.facts)
			if use != tc.use {
				t.Errorf("use = %v, want %v", use, tc.use)
			}
			if tc.note == "" && note != "" || tc.note != "" && !strings.Contains(note, tc.note) {
				t.Errorf("note = %q, want one containing %q", note, tc.note)
			}
		})
	}
}

func TestPreloads(t *testing.T) {
	for setting, want := range map[string]bool{
		"":                                    false,
		"timescaledb":                         true,
		"pg_stat_statements,timescaledb":      true,
		` pg_stat_statements , "timescaledb"`: true,
		"$libdir/timescaledb":                 true,
		"timescaledb.so":                      true,
		"pg_stat_statements":                  false,
		"timescaledb_toolkit":                 false,
		"not_timescaledb":                     false,
	} {
		if got := schema.Preloads(setting); got != want {
			t.Errorf("Preloads(%q) = %v, want %v", setting, got, want)
		}
	}
}

// The facts as the real server reports them (no TimescaleDB installed here): shared_preload_libraries readable by the
// owner (a superuser, as in the compose stack) and hidden from a role without pg_read_all_settings.
func TestTimescaleFactsFromServer(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	owner := connect(t, d.OwnerURL)
	var preload string
	var available bool
	if err := owner.QueryRow(ctx, `SELECT current_setting('shared_preload_libraries'),
		(SELECT count(*) FROM pg_available_extension_versions WHERE name = 'timescaledb') > 0`).Scan(&preload, &available); err != nil {
		t.Fatal(err)
	}
	f, err := schema.ReadTimescaleFacts(ctx, owner)
	if err != nil {
		t.Fatal(err)
	}
	want := schema.TimescaleFacts{Available: available, Preload: preload, PreloadKnown: true, Role: testenv.OwnerRole}
	if f != want {
		t.Errorf("as owner: facts %+v, want %+v", f, want)
	}
	f, err = schema.ReadTimescaleFacts(ctx, connect(t, d.HasuraURL))
	if err != nil {
		t.Fatal(err)
	}
	if want := (schema.TimescaleFacts{Available: available, Role: testenv.HasuraRole}); f != want {
		t.Errorf("as hasura: facts %+v, want %+v", f, want)
	}
}

// fakeTimescaleServer starts a PostgreSQL that lists timescaledb in pg_available_extensions without loading it,
// which is what a server with TimescaleDB installed but missing from shared_preload_libraries reports. Nothing of
// the system changes: the server binaries are copied into a private tree that mirrors the installed layout
// (PostgreSQL finds its share and lib directories relative to its own binary), with links to the real files plus
// a timescaledb.control. Simulated: the extension's script ends the session, as TimescaleDB's library ends it
// with FATAL "extension "timescaledb" must be preloaded" when CREATE EXTENSION runs without the preload.
func fakeTimescaleServer(t *testing.T) *testenv.Postgres {
	t.Helper()
	bin, err := testenv.BinDir()
	if err != nil {
		t.Skipf("PostgreSQL server binaries: %v", err)
	}
	out, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir", "--pkglibdir").Output()
	if err != nil {
		t.Fatalf("pg_config: %v", err)
	}
	dirs := strings.Fields(string(out))
	if len(dirs) != 2 {
		t.Fatalf("pg_config printed %q", out)
	}
	share, lib := dirs[0], dirs[1]
	// Not t.TempDir: the server runs as postgres when the tests run as root, and must reach these files.
	root, err := os.MkdirTemp("", "benchpipe-fakets-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{bin, filepath.Dir(lib), filepath.Join(share, "extension")} {
		must(os.MkdirAll(root+d, 0o755))
	}
	for _, prog := range []string{"postgres", "initdb"} {
		data, err := os.ReadFile(filepath.Join(bin, prog))
		must(err)
		must(os.WriteFile(filepath.Join(root+bin, prog), data, 0o755))
	}
	must(os.Symlink(lib, root+lib))
	entries, err := os.ReadDir(share)
	must(err)
	for _, e := range entries {
		if e.Name() != "extension" {
			must(os.Symlink(filepath.Join(share, e.Name()), filepath.Join(root+share, e.Name())))
		}
	}
	entries, err = os.ReadDir(filepath.Join(share, "extension"))
	must(err)
	for _, e := range entries {
		must(os.Symlink(filepath.Join(share, "extension", e.Name()), filepath.Join(root+share, "extension", e.Name())))
	}
	ext := filepath.Join(root+share, "extension")
	must(os.WriteFile(filepath.Join(ext, "timescaledb.control"), []byte(
		"comment = 'stand-in: available, not preloaded'\ndefault_version = '2.99.0'\nrelocatable = false\n"), 0o644))
	must(os.WriteFile(filepath.Join(ext, "timescaledb--2.99.0.sql"), []byte(
		"SELECT pg_catalog.pg_terminate_backend(pg_catalog.pg_backend_pid());\n"), 0o644))
	must(filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			err = os.Chmod(p, 0o755)
		}
		return err
	}))
	t.Setenv("BENCHPIPE_PG_BIN", root+bin)
	return testenv.OwnPostgres(t)
}

// TimescaleDB available but not preloaded (issue 11 item 9): Migrate applies the plain variant, says what to
// change, and does not try CREATE EXTENSION, which would end the session at every start.
func TestMigrateTimescaleAvailableNotPreloaded(t *testing.T) {
	ctx := context.Background()
	d := fakeTimescaleServer(t).Deployed(t)
	conn := connect(t, d.OwnerURL)
	var available bool
	if err := conn.QueryRow(ctx, "SELECT exists(SELECT FROM pg_available_extensions WHERE name = 'timescaledb')").Scan(&available); err != nil || !available {
		t.Fatalf("stand-in server: timescaledb available = %v (err %v), want true", available, err)
	}
	res, err := schema.Migrate(ctx, conn, schema.WithTimescalePolicy(schema.TimescalePolicy{CompressAfter: time.Hour}))
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	all, _ := schema.Migrations()
	if res.Timescale || len(res.Applied) != len(all) || len(res.Policies) != 0 {
		t.Errorf("result %+v: want the %d plain migrations only", res, len(all))
	}
	if want := `TimescaleDB is installed on the server but not loaded (shared_preload_libraries = ""): using plain PostgreSQL tables and views. To use TimescaleDB, add timescaledb to shared_preload_libraries`; !strings.HasPrefix(res.TimescaleNote, want) {
		t.Errorf("note %q, want it to start with %q", res.TimescaleNote, want)
	}
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_extension WHERE extname = 'timescaledb'").Scan(&n); err != nil || n != 0 {
		t.Errorf("timescaledb created %d times (err %v), want never", n, err)
	}
}

// Which policy statements a start runs, from what timescaledb_information reports. Only what differs changes, so
// a restart, or a second sink starting after the first (both under the migration lock), runs nothing. TimescaleDB
// cannot run here: the query that reads the state and the statements themselves are untested against it.
func TestPolicySteps(t *testing.T) {
	week, month := 7*24*time.Hour, 30*24*time.Hour
	for _, tc := range []struct {
		name  string
		state schema.PolicyState
		p     schema.TimescalePolicy
		want  []string
	}{
		{"fresh hypertable", schema.PolicyState{Table: "samples"}, schema.TimescalePolicy{CompressAfter: week, RetainFor: month},
			[]string{"samples: compression enabled", "samples: compression policy added, compress_after 168h0m0s",
				"samples: retention policy added, drop_after 720h0m0s"}},
		{"as configured", schema.PolicyState{Table: "samples", CompressionOn: true, CompressJob: true, CompressSame: true, RetentionJob: true, RetentionSame: true},
			schema.TimescalePolicy{CompressAfter: week, RetainFor: month}, nil},
		{"nothing configured, nothing there", schema.PolicyState{Table: "perftool"}, schema.TimescalePolicy{}, nil},
		{"compress_after changed", schema.PolicyState{Table: "samples", CompressionOn: true, CompressJob: true},
			schema.TimescalePolicy{CompressAfter: 24 * time.Hour},
			[]string{"samples: compression policy removed", "samples: compression policy added, compress_after 24h0m0s"}},
		{"policies switched off", schema.PolicyState{Table: "perftool", CompressionOn: true, CompressJob: true, CompressSame: true, RetentionJob: true},
			schema.TimescalePolicy{}, []string{"perftool: compression policy removed", "perftool: retention policy removed"}},
		{"compression enabled by hand, no policy yet", schema.PolicyState{Table: "samples", CompressionOn: true},
			schema.TimescalePolicy{CompressAfter: week}, []string{"samples: compression policy added, compress_after 168h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := schema.PolicySteps("public", tc.state, tc.p)
			if !slices.Equal(got, tc.want) {
				t.Errorf("changes %q, want %q", got, tc.want)
			}
		})
	}
	// The functions are called in the schema TimescaleDB is installed in, on the table in public.
	_, sql := schema.PolicySteps("ts ext", schema.PolicyState{Table: "samples", CompressionOn: true, RetentionJob: true},
		schema.TimescalePolicy{CompressAfter: week})
	want := []string{
		`SELECT "ts ext"."add_compression_policy"($1::text::regclass, make_interval(secs => $2::float8))`,
		`SELECT "ts ext"."remove_retention_policy"($1::text::regclass, if_exists => true)`,
	}
	if !slices.Equal(sql, want) {
		t.Errorf("statements %q, want %q", sql, want)
	}
}
