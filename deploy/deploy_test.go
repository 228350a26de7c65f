// Tests of the deployable stack. No container engine, Hasura or Kubernetes cluster runs where these tests do, so
// each file is checked by the real parser of the tool that will read it (compose-go, kustomize and the k8s API
// types, nginx, systemd-analyze, shellcheck, benchpipe's own config loader) and, where a file talks to the
// database, against a real PostgreSQL migrated with schema.Migrate. The topics are split over files:
// compose_test.go, hasura_test.go, database_test.go (roles and Grafana's queries), nginx_test.go, k8s_test.go,
// edge_test.go (systemd units, installer), images_test.go (Dockerfiles, .dockerignore).
package deploy_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// root is the repository root: go test runs in the package directory, deploy/.
func root(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", dir, err)
	}
	return dir
}

// path joins elements onto the repository root.
func path(t testing.TB, elem ...string) string {
	return filepath.Join(append([]string{root(t)}, elem...)...)
}

func readFile(t testing.TB, elem ...string) string {
	t.Helper()
	b, err := os.ReadFile(path(t, elem...))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envFile is a parsed KEY=value file (.env.example, producer.env.example) in file order. Commented-out
// assignments ("#KEY=") count as documented with an empty value.
type envFile struct {
	keys   []string
	values map[string]string
}

var envLine = regexp.MustCompile(`^#?\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

func readEnvFile(t testing.TB, elem ...string) envFile {
	t.Helper()
	f := envFile{values: map[string]string{}}
	sc := bufio.NewScanner(strings.NewReader(readFile(t, elem...)))
	for sc.Scan() {
		m := envLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		if _, dup := f.values[m[1]]; dup {
			t.Errorf("%s: %s is set twice", filepath.Join(elem...), m[1])
		}
		f.keys = append(f.keys, m[1])
		f.values[m[1]] = m[2]
	}
	return f
}

// migratedDatabase returns the URL of a fresh database with benchpipe's schema, exactly as the sink leaves it.
func migratedDatabase(t *testing.T) string {
	t.Helper()
	url := testenv.DatabaseURL(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatalf("schema.Migrate: %v", err)
	}
	return url
}

// parseConfig loads a benchpipe YAML file the way a program would, with ${VAR}s from env only.
func parseConfig(t *testing.T, file string, env map[string]string) *config.Config {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(file, data, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("%s does not load as a benchpipe configuration:\n%v", file, err)
	}
	return cfg
}

// lookTool finds an external checker, or skips the test saying what to install.
func lookTool(t *testing.T, name, install string) string {
	t.Helper()
	return testenv.Tool(t, name, install)
}

// lookPathOptional finds a checker that adds to a test but is not worth skipping it for.
func lookPathOptional(name string) (string, error) { return exec.LookPath(name) }

// runChecked runs a checker and fails the test with its output when it exits non-zero or prints to stderr.
func runChecked(t *testing.T, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Errorf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
}
