// Package testenv starts the real services benchpipe's tests run against: a throw-away PostgreSQL cluster from
// the installed server binaries, kfake, franz-go's in-process Kafka-protocol cluster, and a real Apache Kafka broker
// configured from docker-compose.yml (kafkabroker.go; Java 17+ and Maven, jars from Maven Central cached outside
// the repository). KafkaBackends runs one test on both Kafkas.
//
// Set BENCHPIPE_TEST_DATABASE_URL to a superuser URL of an existing server to use it instead of starting one (it
// gets the compose stack's roles, benchpipe, hasura and grafana, with test passwords; see Deployed);
// each test still gets a database of its own. Packages that use the shared cluster or the shared Kafka broker call
// testenv.Main from TestMain so they are stopped and removed when the tests end.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDatabaseURL names the variable that points the tests at an existing server.
const EnvDatabaseURL = "BENCHPIPE_TEST_DATABASE_URL"

// Postgres is a PostgreSQL cluster started from the installed binaries, listening on a loopback port and a
// socket in its own directory. It runs as the postgres user when the tests run as root (initdb refuses root).
type Postgres struct {
	Dir  string // holds data/, the socket and the server log
	Port int
	bin  string
	cred *syscall.Credential

	mu  sync.Mutex
	cmd *exec.Cmd
}

// BinDir finds the PostgreSQL server binaries: $BENCHPIPE_PG_BIN, else the newest /usr/lib/postgresql/*/bin,
// else the directory of initdb on PATH.
func BinDir() (string, error) {
	if d := os.Getenv("BENCHPIPE_PG_BIN"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("PostgreSQL server binaries not found: install postgresql (apt-get install -y postgresql) or set BENCHPIPE_PG_BIN")
}

func versionOf(dir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return v
}

// StartPostgres initialises and starts a new cluster in a fresh temporary directory.
func StartPostgres() (*Postgres, error) {
	bin, err := BinDir()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "benchpipe-pg-")
	if err != nil {
		return nil, err
	}
	p := &Postgres{Dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, and initdb refuses root: need a postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			return nil, err
		}
	}
	initdb := p.command("initdb", "-D", p.dataDir(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "--locale=C")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(p.dataDir(), "pg_hba.conf"), []byte(pgHBA), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if p.Port, err = freePort(); err != nil {
		return nil, err
	}
	if err := p.Start(); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// pgHBA is the cluster's client authentication. The bootstrap superuser postgres, which only tests use, logs in
// without a password; every other role must give its password over TCP (SCRAM), as in the timescaledb image, so a
// role created with a wrong or missing password fails here as it would in the compose stack. The file stays
// owned by the server's user: initdb wrote it with the same mode.
const pgHBA = `# written by internal/testenv
local all all                trust
host  all postgres 127.0.0.1/32 trust
host  all all      127.0.0.1/32 scram-sha-256
`

func (p *Postgres) dataDir() string { return filepath.Join(p.Dir, "data") }

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.Dir
	// Pdeathsig: a test binary that dies without cleanup must not leave a server behind.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Pdeathsig: syscall.SIGQUIT}
	return cmd
}

// Start starts the server (again, after Stop) and waits until it accepts connections.
func (p *Postgres) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("postgres already running")
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, "server.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := p.command("postgres", "-D", p.dataDir(), "-p", strconv.Itoa(p.Port), "-k", p.Dir,
		"-c", "listen_addresses=127.0.0.1",
		// Throw-away data: durability settings off for speed. A clean stop still writes everything.
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=128MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	logf.Close()
	p.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		cancel()
		if err == nil {
			conn.Close(context.Background())
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.Dir, "server.log"))
			return fmt.Errorf("postgres did not accept connections within 60s: %w\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop shuts the server down with a fast shutdown (clients disconnected, data written).
func (p *Postgres) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
	return nil
}

// Restart stops and starts the server on the same port.
func (p *Postgres) Restart() error {
	if err := p.Stop(); err != nil {
		return err
	}
	return p.Start()
}

// Remove stops the server and deletes its directory.
func (p *Postgres) Remove() {
	_ = p.Stop()
	os.RemoveAll(p.Dir)
}

// URL returns a connection URL for database db as the postgres superuser, over TCP on loopback.
func (p *Postgres) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// freePort returns a loopback port nothing listens on, never one it returned before in this process: the kernel
// may hand a just-closed port out again at once, and one broker's listeners once got the same port twice.
func freePort() (int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			return port, nil
		}
	}
	return 0, errors.New("no loopback port that was not handed out before")
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

var (
	shared     *Postgres
	sharedURL  string
	sharedErr  error
	sharedOnce sync.Once
	dbCounter  atomic.Int64
)

// Main runs the package's tests and stops the shared cluster and Kafka brokers afterwards. Call it from TestMain.
func Main(m *testing.M) {
	code := m.Run()
	stopSharedKafka()
	if shared != nil {
		shared.Remove()
	}
	os.Exit(code)
}

func adminURL() (string, error) {
	sharedOnce.Do(func() {
		if u := os.Getenv(EnvDatabaseURL); u != "" {
			sharedURL = u
			return
		}
		shared, sharedErr = StartPostgres()
		if sharedErr == nil {
			sharedURL = shared.URL("postgres")
		}
	})
	return sharedURL, sharedErr
}

// DatabaseURL returns the URL of a fresh database set up the way the compose stack sets one up, connected as its
// owner, the role the sink runs as: Deployed(tb).OwnerURL. The database is dropped when the test ends.
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	return Deployed(tb).OwnerURL
}

// SuperuserDatabaseURL creates an empty database owned by the cluster's bootstrap superuser (postgres) and returns
// its URL; it is dropped when the test ends. It is not the default because it is not how benchpipe is deployed:
// as postgres, search_path's "$user" names no schema and every unqualified name lands in public, which is how the
// tests once missed that the compose stack put every table in schema benchpipe (issue 11). Use it for a database
// that stands for some other server, such as the one pgbench measures.
func SuperuserDatabaseURL(tb testing.TB) string {
	tb.Helper()
	admin, err := adminURL()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	return createDatabase(tb, admin, "")
}

// createDatabase creates an empty database for this test, owned by owner (the connecting superuser when empty),
// drops it when the test ends and returns admin's URL with the new database's name.
func createDatabase(tb testing.TB, admin, owner string) string {
	tb.Helper()
	name := fmt.Sprintf("t_%d_%d_%s", os.Getpid(), dbCounter.Add(1), sanitize(tb.Name()))
	if len(name) > 63 {
		name = name[:63]
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("testenv: connect %s: %v", redact(admin), err)
	}
	defer conn.Close(ctx)
	create := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if owner != "" {
		create += " OWNER " + pgx.Identifier{owner}.Sanitize()
	}
	if _, err := conn.Exec(ctx, create); err != nil {
		tb.Fatalf("testenv: create database: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	u, err := url.Parse(admin)
	if err != nil {
		tb.Fatalf("testenv: %s: %v", EnvDatabaseURL, err)
	}
	u.Path = "/" + name
	return u.String()
}

// OwnPostgres starts a dedicated cluster for a test that needs to stop or restart the server; it is removed when
// the test ends.
func OwnPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	p, err := StartPostgres()
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(p.Remove)
	return p
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	u.User = url.User(u.User.Username())
	return u.String()
}
