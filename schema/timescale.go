package schema

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// timescaleFacts is what the server says about TimescaleDB, read before anything is migrated.
type timescaleFacts struct {
	Installed bool   // the extension exists in this database (CREATE EXTENSION ran)
	Schema    string // where its functions are, when Installed
	Available bool   // the server has the extension's files (pg_available_extensions)
	// Preload is shared_preload_libraries; PreloadKnown is false when this role may not read it (it is visible only
	// to superusers and members of pg_read_all_settings).
	Preload      string
	PreloadKnown bool
	Role         string // the role Migrate runs as, for messages
}

// readTimescaleFacts reads the facts with one query. pg_settings, not current_setting(): current_setting raises an
// error for a setting the role may not read, pg_settings leaves the row out.
func readTimescaleFacts(ctx context.Context, conn *pgx.Conn) (timescaleFacts, error) {
	var f timescaleFacts
	var schema, preload *string
	err := conn.QueryRow(ctx, `SELECT
		exists(SELECT FROM pg_catalog.pg_extension WHERE extname = 'timescaledb'),
		(SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
		  WHERE e.extname = 'timescaledb'),
		exists(SELECT FROM pg_catalog.pg_available_extensions WHERE name = 'timescaledb'),
		(SELECT setting FROM pg_catalog.pg_settings WHERE name = 'shared_preload_libraries'),
		current_user`).Scan(&f.Installed, &schema, &f.Available, &preload, &f.Role)
	if err != nil {
		return f, fmt.Errorf("check for timescaledb: %w", err)
	}
	if schema != nil {
		f.Schema = *schema
	}
	if preload != nil {
		f.Preload, f.PreloadKnown = *preload, true
	}
	return f, nil
}

// preloads reports whether a shared_preload_libraries value loads TimescaleDB. Entries are library names or
// paths, optionally quoted, with or without a file suffix: timescaledb, '$libdir/timescaledb', "timescaledb.so".
func preloads(setting string) bool {
	for _, lib := range strings.Split(setting, ",") {
		lib = strings.Trim(strings.TrimSpace(lib), `"`)
		lib = strings.TrimSuffix(path.Base(lib), ".so")
		if lib == "timescaledb" {
			return true
		}
	}
	return false
}

// useTimescale decides whether the TimescaleDB parts of the migrations apply, and when they do not although the
// server has the extension, says why and what to change. Available is not enough: CREATE EXTENSION timescaledb
// fails with FATAL (the session ends) unless the library is in shared_preload_libraries, so the plain variant is
// used then, which a later start upgrades in place once the library is loaded.
func useTimescale(f timescaleFacts) (bool, string) {
	switch {
	case f.Installed:
		return true, ""
	case !f.Available:
		return false, ""
	case f.PreloadKnown && preloads(f.Preload):
		return true, ""
	case f.PreloadKnown:
		return false, fmt.Sprintf("TimescaleDB is installed on the server but not loaded (shared_preload_libraries = %q): "+
			"using plain PostgreSQL tables and views. To use TimescaleDB, add timescaledb to shared_preload_libraries "+
			"(e.g. ALTER SYSTEM SET shared_preload_libraries = 'timescaledb'), restart PostgreSQL, then restart the sink: "+
			"it upgrades the tables in place", f.Preload)
	default:
		return false, fmt.Sprintf("TimescaleDB is installed on the server, but role %s may not read shared_preload_libraries "+
			"(superuser or pg_read_all_settings only), so whether it is loaded is unknown: using plain PostgreSQL tables and "+
			"views. To use TimescaleDB, have an administrator load it (shared_preload_libraries) and run "+
			"CREATE EXTENSION timescaledb in this database, then restart the sink", f.Role)
	}
}

// TimescalePolicy holds the data-lifecycle settings applied to hypertables when TimescaleDB is present.
type TimescalePolicy struct {
	CompressAfter time.Duration // compress chunks older than this; 0 = no compression
	RetainFor     time.Duration // drop chunks older than this; 0 = keep forever
}

// policyTables are the hypertables the TimescaleDB migrations create, the only ones whose policies benchpipe
// manages: other hypertables in the same database are not benchpipe's to compress or drop.
var policyTables = []string{"samples", "perftool", "cluster_observations", "cluster_node_samples", "cluster_pool_samples"}

// applyPolicies brings the compression and retention policies of policyTables to p, changing only what differs
// from timescaledb_information.jobs, and returns the changes made. Migrate calls it under the migration lock:
// TimescaleDB's policy functions fail when two sessions change one table's policies at once ("tuple concurrently
// deleted", "policy already exists"). ext is the schema of TimescaleDB's functions.
//
// Not run by any test here: TimescaleDB cannot be installed on the machines the tests run on. Written from the
// TimescaleDB documentation of add/remove_compression_policy, add/remove_retention_policy,
// timescaledb_information.hypertables and .jobs (config keys compress_after and drop_after).
func applyPolicies(ctx context.Context, conn *pgx.Conn, ext string, p TimescalePolicy) ([]string, error) {
	rows, err := conn.Query(ctx, `
		SELECT h.hypertable_name, h.compression_enabled,
		       c.job_id IS NOT NULL, coalesce((c.config->>'compress_after')::interval = make_interval(secs => $3::float8), false),
		       r.job_id IS NOT NULL, coalesce((r.config->>'drop_after')::interval = make_interval(secs => $4::float8), false)
		FROM timescaledb_information.hypertables h
		LEFT JOIN timescaledb_information.jobs c ON c.proc_name = 'policy_compression'
		     AND c.hypertable_schema = h.hypertable_schema AND c.hypertable_name = h.hypertable_name
		LEFT JOIN timescaledb_information.jobs r ON r.proc_name = 'policy_retention'
		     AND r.hypertable_schema = h.hypertable_schema AND r.hypertable_name = h.hypertable_name
		WHERE h.hypertable_schema::text = $1::text AND h.hypertable_name::text = ANY($2::text[])
		ORDER BY h.hypertable_name`,
		apiSchema, policyTables, p.CompressAfter.Seconds(), p.RetainFor.Seconds())
	if err != nil {
		return nil, fmt.Errorf("read timescaledb policies: %w", err)
	}
	var states []policyState
	for rows.Next() {
		var s policyState
		if err := rows.Scan(&s.Table, &s.CompressionOn, &s.CompressJob, &s.CompressSame, &s.RetentionJob, &s.RetentionSame); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read timescaledb policies: %w", err)
		}
		states = append(states, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read timescaledb policies: %w", err)
	}
	if len(states) != len(policyTables) {
		found := make([]string, len(states))
		for i, s := range states {
			found[i] = s.Table
		}
		return nil, fmt.Errorf("timescaledb policies: hypertables %v expected in schema %s, found %v: no policy applied", policyTables, apiSchema, found)
	}
	var changes []string
	for _, s := range states {
		for _, step := range policySteps(ext, s, p) {
			if _, err := conn.Exec(ctx, step.SQL, step.Args...); err != nil {
				return changes, fmt.Errorf("timescaledb policy: %s: %w", step.Change, err)
			}
			changes = append(changes, step.Change)
		}
	}
	return changes, nil
}

// policyState is one hypertable's compression and retention as timescaledb_information reports them, compared
// with the configured policy.
type policyState struct {
	Table                       string
	CompressionOn               bool // compression enabled on the table (timescaledb.compress)
	CompressJob, CompressSame   bool // a compression policy exists; its compress_after is the configured one
	RetentionJob, RetentionSame bool // a retention policy exists; its drop_after is the configured one
}

// policyStep is one statement that changes a policy, and what it changes, for the result.
type policyStep struct {
	Change string
	SQL    string
	Args   []any
}

// policySteps returns the statements that bring one hypertable from s to p: none when it already is there, so
// that restarts and concurrent sinks change nothing. A policy that differs is removed and added again (TimescaleDB
// has no call that alters a policy's compress_after or drop_after). Compression, once enabled, stays enabled:
// disabling it would need every compressed chunk decompressed first.
func policySteps(ext string, s policyState, p TimescalePolicy) []policyStep {
	fn := func(name string) string { return pgx.Identifier{ext, name}.Sanitize() }
	table := pgx.Identifier{apiSchema, s.Table}.Sanitize()
	wantCompress, wantRetain := p.CompressAfter > 0, p.RetainFor > 0
	var steps []policyStep
	if wantCompress && !s.CompressionOn {
		steps = append(steps, policyStep{s.Table + ": compression enabled", "ALTER TABLE " + table + " SET (timescaledb.compress)", nil})
	}
	if s.CompressJob && (!wantCompress || !s.CompressSame) {
		steps = append(steps, policyStep{s.Table + ": compression policy removed",
			"SELECT " + fn("remove_compression_policy") + "($1::text::regclass, if_exists => true)", []any{table}})
	}
	if wantCompress && !(s.CompressJob && s.CompressSame) {
		steps = append(steps, policyStep{fmt.Sprintf("%s: compression policy added, compress_after %s", s.Table, p.CompressAfter),
			"SELECT " + fn("add_compression_policy") + "($1::text::regclass, make_interval(secs => $2::float8))",
			[]any{table, p.CompressAfter.Seconds()}})
	}
	if s.RetentionJob && (!wantRetain || !s.RetentionSame) {
		steps = append(steps, policyStep{s.Table + ": retention policy removed",
			"SELECT " + fn("remove_retention_policy") + "($1::text::regclass, if_exists => true)", []any{table}})
	}
	if wantRetain && !(s.RetentionJob && s.RetentionSame) {
		steps = append(steps, policyStep{fmt.Sprintf("%s: retention policy added, drop_after %s", s.Table, p.RetainFor),
			"SELECT " + fn("add_retention_policy") + "($1::text::regclass, make_interval(secs => $2::float8))",
			[]any{table, p.RetainFor.Seconds()}})
	}
	return steps
}
