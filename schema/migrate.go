package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migration is one numbered schema change. Plain runs on every PostgreSQL inside a transaction; Timescale, when not
// empty, runs right after it only where TimescaleDB is usable (installed in the database, or available and in
// shared_preload_libraries), statement by statement outside a transaction (continuous aggregates refuse
// transaction blocks). A database migrated without TimescaleDB gets the Timescale parts at the first start after
// it becomes usable.
type Migration struct {
	Version   int
	Name      string
	Plain     string
	Timescale string
}

// Migrations returns the embedded migrations in the order they apply. Files are named NNNN_name.sql and
// NNNN_name.timescale.sql.
func Migrations() ([]Migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, err
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		file := e.Name()
		base, timescale := strings.CutSuffix(strings.TrimSuffix(file, ".sql"), ".timescale")
		num, name, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: name must be NNNN_name.sql", file)
		}
		body, err := migrationFiles.ReadFile(path.Join("migrations", file))
		if err != nil {
			return nil, err
		}
		m := byVersion[v]
		if m == nil {
			m = &Migration{Version: v, Name: name}
			byVersion[v] = m
		} else if m.Name != name {
			return nil, fmt.Errorf("migration %d has two names: %s and %s", v, m.Name, name)
		}
		if timescale {
			m.Timescale = string(body)
		} else {
			m.Plain = string(body)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Plain == "" {
			return nil, fmt.Errorf("migration %04d_%s has a timescale part but no plain part", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out, nil
}

// MigrateResult reports what Migrate did.
type MigrateResult struct {
	Applied []string // "0001_core", "0001_core (timescale)", … in the order applied; empty when up to date
	// Moved lists the public-API relations found in schema benchpipe, where runners before issue 11 put them
	// when the role was named benchpipe, and moved to public: "runs", "samples", …; empty when none were there.
	Moved []string
	// Timescale says whether the TimescaleDB parts apply to this database; TimescaleNote, when not empty, says why
	// they do not although the server has the extension, and what to change.
	Timescale     bool
	TimescaleNote string
	// Policies lists the compression and retention policy changes made (WithTimescalePolicy); empty when every
	// policy already was as configured, or without TimescaleDB.
	Policies []string
}

// MigrateOption changes what Migrate does.
type MigrateOption func(*migrateOptions)

type migrateOptions struct {
	policy *TimescalePolicy
}

// WithTimescalePolicy makes Migrate bring the compression and retention policies of benchpipe's hypertables
// (samples, perftool) to p when TimescaleDB is in use, under the same lock as the migrations, changing only the
// policies that differ. Without it Migrate leaves policies as they are. Zero durations remove a policy.
func WithTimescalePolicy(p TimescalePolicy) MigrateOption {
	return func(o *migrateOptions) { o.policy = &p }
}

// migrationLock is the pg_advisory_lock key that serialises concurrent Migrate calls (two sinks starting at once).
const migrationLock = 0x62656e6368 // "bench"

// apiSchema is where every relation of the public API lives: Hasura's metadata, Grafana's queries and the
// readers' grants all name schema public. The sink's own bookkeeping lives in schema benchpipe.
const apiSchema = "public"

// Migrate applies the embedded migrations that conn's database has not recorded yet. It is safe to call from several
// processes at once: they queue on an advisory lock and the later ones find nothing to do. A migration whose
// text changed after it was applied is an error, not silently skipped.
//
// Unqualified names in the migrations land in schema public whatever the connecting role is called: Migrate pins
// search_path for its session (and restores it) because the default "$user", public would otherwise create every
// table in schema benchpipe when the role is named benchpipe, as it is in the compose stack.
func Migrate(ctx context.Context, conn *pgx.Conn, opts ...MigrateOption) (MigrateResult, error) {
	var o migrateOptions
	for _, opt := range opts {
		opt(&o)
	}
	var res MigrateResult
	migrations, err := Migrations()
	if err != nil {
		return res, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.pg_advisory_lock($1)", int64(migrationLock)); err != nil {
		return res, fmt.Errorf("take migration lock: %w", err)
	}
	defer func() {
		// A fresh context: the lock must be released even when ctx was cancelled mid-migration.
		unlockCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(unlockCtx, "SELECT pg_catalog.pg_advisory_unlock($1)", int64(migrationLock))
	}()

	facts, err := readTimescaleFacts(ctx, conn)
	if err != nil {
		return res, err
	}
	res.Timescale, res.TimescaleNote = useTimescale(facts)

	// public first, so that everything the migrations create lands there; then the schema TimescaleDB's functions
	// are in, when some other runner created the extension elsewhere.
	path := pgx.Identifier{apiSchema}.Sanitize()
	if facts.Schema != "" && facts.Schema != apiSchema {
		path += ", " + pgx.Identifier{facts.Schema}.Sanitize()
	}
	restore, err := pinSearchPath(ctx, conn, path)
	if err != nil {
		return res, err
	}
	defer restore()

	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS benchpipe;
		CREATE TABLE IF NOT EXISTS benchpipe.schema_migrations (
			version    integer NOT NULL,
			variant    text    NOT NULL CHECK (variant IN ('plain', 'timescale')),
			name       text    NOT NULL,
			checksum   text    NOT NULL,
			applied_at timestamptz NOT NULL DEFAULT now(),
			PRIMARY KEY (version, variant))`); err != nil {
		return res, fmt.Errorf("create schema_migrations: %w", err)
	}
	// Before any migration: later ones, and the TimescaleDB parts of 0001 and 0002 applied once the extension
	// becomes usable, find the public API where they look for it.
	if res.Moved, err = moveToPublic(ctx, conn); err != nil {
		return res, err
	}

	applied := map[string]string{} // "version/variant" → checksum
	rows, err := conn.Query(ctx, "SELECT version, variant, checksum FROM benchpipe.schema_migrations")
	if err != nil {
		return res, fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		var variant, sum string
		if err := rows.Scan(&v, &variant, &sum); err != nil {
			rows.Close()
			return res, fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[fmt.Sprintf("%d/%s", v, variant)] = sum
	}
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("read schema_migrations: %w", err)
	}

	for _, m := range migrations {
		id := fmt.Sprintf("%04d_%s", m.Version, m.Name)
		parts := []struct {
			variant, sql string
		}{{"plain", m.Plain}}
		if res.Timescale && m.Timescale != "" {
			parts = append(parts, struct{ variant, sql string }{"timescale", m.Timescale})
		}
		for _, p := range parts {
			sum := checksum(p.sql)
			if prev, ok := applied[fmt.Sprintf("%d/%s", m.Version, p.variant)]; ok {
				if prev != sum {
					return res, fmt.Errorf("migration %s (%s) was changed after it was applied (checksum %s, now %s): add a new migration instead", id, p.variant, prev[:12], sum[:12])
				}
				continue
			}
			if err := applyPart(ctx, conn, m, p.variant, p.sql, sum); err != nil {
				return res, fmt.Errorf("apply migration %s (%s): %w", id, p.variant, err)
			}
			name := id
			if p.variant == "timescale" {
				name += " (timescale)"
			}
			res.Applied = append(res.Applied, name)
		}
	}

	if o.policy != nil && res.Timescale {
		if res.Policies, err = applyPolicies(ctx, conn, facts.Schema, *o.policy); err != nil {
			return res, err
		}
	}
	return res, nil
}

// pinSearchPath sets search_path for conn's session and returns the function that puts the previous value back.
// Session-level, not SET LOCAL: the TimescaleDB parts run outside a transaction block.
func pinSearchPath(ctx context.Context, conn *pgx.Conn, path string) (func(), error) {
	var prev string
	if err := conn.QueryRow(ctx, "SELECT pg_catalog.current_setting('search_path')").Scan(&prev); err != nil {
		return nil, fmt.Errorf("read search_path: %w", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_catalog.set_config('search_path', $1, false)", path); err != nil {
		return nil, fmt.Errorf("set search_path to %s: %w", path, err)
	}
	return func() {
		// A fresh context, as for the lock: the caller's session must not keep the pinned path.
		resetCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, _ = conn.Exec(resetCtx, "SELECT pg_catalog.set_config('search_path', $1, false)", prev)
	}, nil
}

func applyPart(ctx context.Context, conn *pgx.Conn, m Migration, variant, sql, sum string) error {
	const record = "INSERT INTO benchpipe.schema_migrations (version, variant, name, checksum) VALUES ($1, $2, $3, $4)"
	if variant == "plain" {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, record, m.Version, variant, m.Name, sum)
			return err
		})
	}
	// One statement at a time: a multi-statement string runs as an implicit transaction block.
	for _, stmt := range SplitStatements(sql) {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("%w\nin statement:\n%s", err, stmt)
		}
	}
	_, err := conn.Exec(ctx, record, m.Version, variant, m.Name, sum)
	return err
}

func checksum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// SplitStatements splits a SQL script on top-level semicolons, keeping quoted strings, quoted identifiers,
// dollar-quoted bodies and comments intact. Empty statements are dropped.
func SplitStatements(script string) []string {
	var out []string
	start := 0
	flush := func(end int) {
		if s := strings.TrimSpace(script[start:end]); s != "" && !onlyComments(s) {
			out = append(out, s)
		}
		start = end + 1
	}
	for i := 0; i < len(script); i++ {
		switch c := script[i]; {
		case c == '\'' || c == '"':
			j := strings.IndexByte(script[i+1:], c)
			if j < 0 {
				i = len(script)
			} else {
				i += j + 1
			}
		case c == '-' && strings.HasPrefix(script[i:], "--"):
			j := strings.IndexByte(script[i:], '\n')
			if j < 0 {
				i = len(script)
			} else {
				i += j
			}
		case c == '/' && strings.HasPrefix(script[i:], "/*"):
			j := strings.Index(script[i+2:], "*/")
			if j < 0 {
				i = len(script)
			} else {
				i += j + 3
			}
		case c == '$':
			// $tag$ … $tag$ (tag may be empty); a lone $1 parameter is not a quote.
			j := strings.IndexByte(script[i+1:], '$')
			if j < 0 {
				continue
			}
			tag := script[i : i+j+2]
			if !validDollarTag(tag) {
				continue
			}
			k := strings.Index(script[i+len(tag):], tag)
			if k < 0 {
				i = len(script)
			} else {
				i += len(tag) + k + len(tag) - 1
			}
		case c == ';':
			flush(i)
		}
	}
	if start < len(script) {
		flush(len(script))
	}
	return out
}

func validDollarTag(tag string) bool {
	inner := tag[1 : len(tag)-1]
	for i, r := range inner {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

func onlyComments(s string) bool {
	for _, line := range strings.Split(s, "\n") {
		if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "--") {
			return false
		}
	}
	return true
}
