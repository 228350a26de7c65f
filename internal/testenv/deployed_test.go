package testenv_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// The fixture has the shape the compose stack gives the database, and logins check passwords.
func TestDeployedShape(t *testing.T) {
	ctx := context.Background()
	d := testenv.Deployed(t)
	if testenv.DatabaseURL(t) == d.OwnerURL {
		t.Error("DatabaseURL returned the same database twice")
	}
	owner, err := pgx.Connect(ctx, d.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	var user, dbOwner, path string
	var super bool
	if err := owner.QueryRow(ctx, `SELECT current_user, pg_get_userbyid(d.datdba), current_setting('search_path'), r.rolsuper
		FROM pg_database d, pg_roles r WHERE d.datname = current_database() AND r.rolname = current_user`).Scan(&user, &dbOwner, &path, &super); err != nil {
		t.Fatal(err)
	}
	if user != "benchpipe" || dbOwner != "benchpipe" || path != `"$user", public` || !super {
		t.Errorf("owner login: user %s, database owner %s, search_path %s, superuser %v; want benchpipe, benchpipe, \"$user\", public, true",
			user, dbOwner, path, super)
	}
	for _, tc := range []struct {
		url, role string
		readOnly  string
	}{{d.HasuraURL, "hasura", "off"}, {d.GrafanaURL, "grafana", "on"}} {
		conn, err := pgx.Connect(ctx, tc.url)
		if err != nil {
			t.Errorf("login as %s: %v", tc.role, err)
			continue
		}
		var got, ro string
		var super bool
		if err := conn.QueryRow(ctx, "SELECT current_user, current_setting('default_transaction_read_only'), rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&got, &ro, &super); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if got != tc.role || ro != tc.readOnly || super {
			t.Errorf("login as %s: user %s, read-only %s, superuser %v", tc.role, got, ro, super)
		}
		cfg, _ := pgx.ParseConfig(tc.url)
		cfg.Password = "wrong"
		_, err = pgx.ConnectConfig(ctx, cfg)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "28P01" {
			t.Errorf("login as %s with a wrong password: %v; want invalid_password (28P01)", tc.role, err)
		}
	}
	admin, err := pgx.Connect(ctx, d.AdminURL)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var db string
	if err := admin.QueryRow(ctx, "SELECT current_user || '/' || current_database()").Scan(&db); err != nil || db != "postgres/"+d.Database {
		t.Errorf("admin login: %s (err %v), want postgres/%s", db, err, d.Database)
	}
}
