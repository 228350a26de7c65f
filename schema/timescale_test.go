package schema_test

import (
	"context"
	"strings"
	"testing"

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
