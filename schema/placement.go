package schema

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// unpinnedRelations are the relations migrations 0001 and 0002 (both variants) create without naming a schema.
// Runners before issue 11 applied them with the role's own search_path, and PostgreSQL's default "$user", public
// put them in schema benchpipe whenever the role was called benchpipe (the compose default): Hasura, Grafana and
// the readers' grants, which all name public, found nothing. Since then Migrate pins search_path to public, so no
// later migration can add to this list. Indexes, constraints and owned sequences move with their tables.
var unpinnedRelations = []string{
	"runs", "samples", "samples_1m",
	"perftool", "perftool-sinetstream-result", "viewer_config",
	"perftool_thread_30sec", "perftool_thread_1min", "perftool_thread_2min", "perftool_thread_10min",
	"perftool_30sec", "perftool_1min", "perftool_2min", "perftool_10min",
	"perftool_thread_30sec_cagg", "perftool_thread_1min_cagg", "perftool_thread_2min_cagg", "perftool_thread_10min_cagg",
}

// moveToPublic moves every unpinnedRelations member that is in schema benchpipe and not in public into public,
// in one transaction, and returns the names moved. A moved relation also gets the privileges its owner's default
// privileges in schema public grant (ALTER DEFAULT PRIVILEGES … IN SCHEMA public, as
// deploy/timescaledb/100-benchpipe-roles.sh sets for Hasura and Grafana), as if it had been created there.
//
// Hypertables move with ALTER TABLE and continuous aggregates (views to PostgreSQL) with ALTER VIEW; TimescaleDB
// updates its catalog for both (its process_utility hook on ALTER … SET SCHEMA). Not run on TimescaleDB here.
func moveToPublic(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	type rel struct {
		name, kind string
		inPublic   bool
	}
	rows, err := conn.Query(ctx, `
		SELECT c.relname::text, c.relkind::text,
		       exists(SELECT FROM pg_catalog.pg_class p WHERE p.relnamespace = $2::text::regnamespace AND p.relname = c.relname)
		FROM pg_catalog.pg_class c
		WHERE c.relnamespace = 'benchpipe'::regnamespace AND c.relname::text = ANY($1::text[])
		ORDER BY array_position($1::text[], c.relname::text)`, unpinnedRelations, apiSchema)
	if err != nil {
		return nil, fmt.Errorf("look for tables in schema benchpipe: %w", err)
	}
	var found []rel
	for rows.Next() {
		var r rel
		if err := rows.Scan(&r.name, &r.kind, &r.inPublic); err != nil {
			rows.Close()
			return nil, fmt.Errorf("look for tables in schema benchpipe: %w", err)
		}
		found = append(found, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("look for tables in schema benchpipe: %w", err)
	}
	if len(found) == 0 {
		return nil, nil
	}
	var both []string
	for _, r := range found {
		if r.inPublic {
			both = append(both, r.name)
		}
	}
	if len(both) > 0 {
		// Which copy holds the data is for an operator to decide; moving either would hide the other.
		return nil, fmt.Errorf("relations %s exist both in schema benchpipe and in schema public: keep the one with the data "+
			"in public (ALTER TABLE benchpipe.runs SET SCHEMA public, after dropping or renaming public's), drop the other, "+
			"and restart", strings.Join(both, ", "))
	}

	var moved []string
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		for _, r := range found {
			from := pgx.Identifier{"benchpipe", r.name}.Sanitize()
			var stmt string
			switch r.kind {
			case "r", "p":
				stmt = "ALTER TABLE " + from
			case "v":
				stmt = "ALTER VIEW " + from
			case "m":
				stmt = "ALTER MATERIALIZED VIEW " + from
			default:
				return fmt.Errorf("benchpipe.%s has relkind %q, not a table or view: move it by hand", r.name, r.kind)
			}
			if _, err := tx.Exec(ctx, stmt+" SET SCHEMA "+pgx.Identifier{apiSchema}.Sanitize()); err != nil {
				return fmt.Errorf("move benchpipe.%s to schema %s: %w", r.name, apiSchema, err)
			}
			if err := grantDefaults(ctx, tx, r.name); err != nil {
				return err
			}
			moved = append(moved, r.name)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return moved, nil
}

// grantDefaults grants on public.name what the owner's default privileges for tables in schema public grant.
// Default privileges for all schemas (ALTER DEFAULT PRIVILEGES without IN SCHEMA) applied when the relation was
// created, wherever that was, so only the schema's own entries are missing.
func grantDefaults(ctx context.Context, tx pgx.Tx, name string) error {
	table := pgx.Identifier{apiSchema, name}.Sanitize()
	rows, err := tx.Query(ctx, `
		SELECT a.privilege_type, coalesce(quote_ident(g.rolname), 'PUBLIC')
		FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_default_acl d ON d.defaclrole = c.relowner AND d.defaclnamespace = c.relnamespace AND d.defaclobjtype = 'r'
		CROSS JOIN LATERAL pg_catalog.aclexplode(d.defaclacl) a
		LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
		WHERE c.oid = $1::text::regclass
		ORDER BY 2, 1`, table)
	if err != nil {
		return fmt.Errorf("read default privileges for %s: %w", table, err)
	}
	var grants []string
	for rows.Next() {
		var priv, grantee string
		if err := rows.Scan(&priv, &grantee); err != nil {
			rows.Close()
			return fmt.Errorf("read default privileges for %s: %w", table, err)
		}
		grants = append(grants, fmt.Sprintf("GRANT %s ON %s TO %s", priv, table, grantee))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read default privileges for %s: %w", table, err)
	}
	for _, g := range grants {
		if _, err := tx.Exec(ctx, g); err != nil {
			return fmt.Errorf("%s: %w", g, err)
		}
	}
	return nil
}
