package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The compose stack's database roles: the defaults of POSTGRES_USER, HASURA_DB_USER and GRAFANA_DB_USER in
// docker-compose.yml and .env.example (deploy's tests check that they still agree). The owner is named like the
// sink's schema on purpose: that is what puts "$user" in search_path to work, as in every default deployment.
const (
	OwnerRole   = "benchpipe"
	HasuraRole  = "hasura"
	GrafanaRole = "grafana"
)

// Passwords of the roles in test clusters. The readers' contain quotes, a backslash, a dollar, a space and the
// characters a URL must escape, so a script that pastes them into SQL, or a URL built without escaping, fails.
const (
	OwnerPassword   = "owner-test-password"
	HasuraPassword  = `ha'su"ra\ $x #%@/:`
	GrafanaPassword = `gra'fa"na\ $y #%@/:`
)

// Deployment is one database set up the way the compose stack sets one up (docker-compose.yml with its
// .env.example defaults, and the timescaledb image's entrypoint):
//
//   - OwnerRole is a LOGIN SUPERUSER with a password that owns the database, as POSTGRES_USER is in the
//     timescaledb and postgres images; its search_path is the default "$user", public.
//   - deploy/timescaledb/100-benchpipe-roles.sh has run for real (bash and psql, PG* variables pointing at the
//     cluster, the role names and passwords in its environment), before any table exists.
//
// Every URL is a fresh login with the role's password; in clusters started by StartPostgres, TCP logins of every
// role but postgres are checked with SCRAM, so a password that was not set right fails to log in.
type Deployment struct {
	Database   string
	OwnerURL   string // POSTGRES_USER: the sink's DATABASE_URL, the role that runs the migrations
	HasuraURL  string // HASURA_DB_USER: HASURA_GRAPHQL_DATABASE_URL
	GrafanaURL string // GRAFANA_DB_USER: Grafana's PostgreSQL data source
	// AdminURL is the cluster's bootstrap superuser (postgres, or the user of BENCHPIPE_TEST_DATABASE_URL) on the
	// same database, for test set-up and inspection that no deployed program does. The stack has no such role.
	AdminURL string
}

// Deployed creates a fresh database in the shared cluster set up as the compose stack sets one up; it is dropped
// when the test ends. The roles are the cluster's (roles are global) and stay for later tests.
func Deployed(tb testing.TB) *Deployment {
	tb.Helper()
	admin, err := adminURL()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	d, err := deploy(tb, admin)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return d
}

// Deployed is testenv.Deployed in this cluster, for tests that stop or restart the server.
func (p *Postgres) Deployed(tb testing.TB) *Deployment {
	tb.Helper()
	d, err := deploy(tb, p.URL("postgres"))
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return d
}

// deployLock serialises deployments in one cluster across test processes (go test runs packages in parallel,
// and may share one server through BENCHPIPE_TEST_DATABASE_URL): the roles script creates and alters the global
// roles, and two sessions doing that at once fail with "tuple concurrently updated".
const deployLock = 0x62656e6368_01

func deploy(tb testing.TB, admin string) (*Deployment, error) {
	tb.Helper()
	return deployWith(admin, func() (string, error) { return createDatabase(tb, admin, OwnerRole), nil })
}

// DeployDatabase is Deployed for programs without a testing.TB (the viewer's browser-test fixture, internal/demo):
// it creates database name in the cluster at admin, set up as the compose stack sets one up, and leaves it there.
func DeployDatabase(admin, name string) (*Deployment, error) {
	return deployWith(admin, func() (string, error) {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return "", fmt.Errorf("connect %s: %w", redact(admin), err)
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" OWNER "+pgx.Identifier{OwnerRole}.Sanitize()); err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
		u, err := url.Parse(admin)
		if err != nil {
			return "", err
		}
		u.Path = "/" + name
		return u.String(), nil
	})
}

func deployWith(admin string, create func() (string, error)) (*Deployment, error) {
	script, err := rolesScript()
	if err != nil {
		return nil, err
	}
	psql, err := psqlPath()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", redact(admin), err)
	}
	defer conn.Close(ctx)
	// Session-level: held until the connection closes, whatever happens in between.
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(deployLock)); err != nil {
		return nil, fmt.Errorf("take deployment lock: %w", err)
	}

	// What the image's initdb does for POSTGRES_USER, for a role that is not the cluster's bootstrap user.
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT exists(SELECT FROM pg_roles WHERE rolname = $1)", OwnerRole).Scan(&exists); err != nil {
		return nil, err
	}
	verb := "ALTER"
	if !exists {
		verb = "CREATE"
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("%s ROLE %s WITH LOGIN SUPERUSER PASSWORD %s", verb,
		pgx.Identifier{OwnerRole}.Sanitize(), quoteLiteral(OwnerPassword))); err != nil {
		return nil, fmt.Errorf("%s role %s: %w", strings.ToLower(verb), OwnerRole, err)
	}

	dbURL, err := create()
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return nil, err
	}
	d := &Deployment{Database: strings.TrimPrefix(u.Path, "/"), AdminURL: dbURL}
	as := func(role, password string) string {
		v := *u
		v.User = url.UserPassword(role, password)
		return v.String()
	}
	d.OwnerURL = as(OwnerRole, OwnerPassword)
	d.HasuraURL = as(HasuraRole, HasuraPassword)
	d.GrafanaURL = as(GrafanaRole, GrafanaPassword)

	// As the image's entrypoint runs /docker-entrypoint-initdb.d: as POSTGRES_USER, with the environment compose
	// gives the timescaledb service. A clean environment: a PGDATABASE or PGSERVICE of the caller must not leak in.
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	cmd := exec.Command("bash", script)
	cmd.Env = []string{
		"PATH=" + filepath.Dir(psql) + string(os.PathListSeparator) + os.Getenv("PATH"),
		"PGHOST=" + host, "PGPORT=" + port, "PGPASSWORD=" + OwnerPassword, "PGSSLMODE=disable",
		"POSTGRES_USER=" + OwnerRole, "POSTGRES_DB=" + d.Database,
		"HASURA_DB_USER=" + HasuraRole, "HASURA_DB_PASSWORD=" + HasuraPassword,
		"GRAFANA_DB_USER=" + GrafanaRole, "GRAFANA_DB_PASSWORD=" + GrafanaPassword,
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%s: %w\n%s", script, err, out)
	}
	return d, nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// rolesScript finds deploy/timescaledb/100-benchpipe-roles.sh from the working directory (go test runs in the
// package's directory, somewhere below the repository root).
func rolesScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "deploy", "timescaledb", "100-benchpipe-roles.sh")
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("the compose stack's roles script: %w", err)
			}
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("repository root (go.mod) not found above the working directory: the roles script is deploy/timescaledb/100-benchpipe-roles.sh")
		}
		dir = parent
	}
}

// psqlPath finds psql beside the server binaries, else on PATH.
func psqlPath() (string, error) {
	if bin, err := BinDir(); err == nil {
		if p := filepath.Join(bin, "psql"); isExecutable(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("psql")
	if err != nil {
		return "", errors.New("psql not found: the compose stack's roles script needs it (apt-get install -y postgresql-client)")
	}
	return p, nil
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
