package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PgpoolInstall is the install hint for Pgpool-II, for Tool.
const PgpoolInstall = "apt-get install -y pgpool2"

// PGCluster is a replicated PostgreSQL cluster on loopback ports, built the way such clusters are built in
// production: a primary, a streaming standby cloned from it with pg_basebackup -R (through a replication slot, so
// a standby that falls behind under write load is not cut off), and Pgpool-II in front in streaming-replication
// mode with load balancing on. Node names are "node0" (the primary as started) and "node1" (the standby); Pgpool
// knows them as backend 0 and 1 and the standby streams under application_name node1.
type PGCluster struct {
	Primary *Postgres
	Standby *Postgres
	Pool    *Pgpool
}

// StartPGCluster starts a primary, a streaming standby and Pgpool-II in front of them, and removes all three when
// the test ends. It skips the test when Pgpool-II is not installed (see Tool).
func StartPGCluster(tb testing.TB) *PGCluster {
	tb.Helper()
	pgpool := Tool(tb, "pgpool", PgpoolInstall)
	c, err := startPGCluster(pgpool)
	if err != nil {
		tb.Fatalf("testenv: %v", err)
	}
	tb.Cleanup(c.Remove)
	return c
}

func startPGCluster(pgpool string) (c *PGCluster, err error) {
	c = &PGCluster{}
	defer func() {
		if err != nil {
			c.Remove()
		}
	}()
	if c.Primary, err = StartPostgres(); err != nil {
		return c, fmt.Errorf("primary: %w", err)
	}
	// pg_basebackup and the walreceiver connect as postgres over TCP with the replication pseudo-database, which
	// "all" in pg_hba.conf does not match.
	hba := filepath.Join(c.Primary.dataDir(), "pg_hba.conf")
	if err := appendFile(hba, "host  replication postgres 127.0.0.1/32 trust\n"); err != nil {
		return c, err
	}
	if err := c.Primary.exec(context.Background(), "SELECT pg_reload_conf()"); err != nil {
		return c, err
	}
	if c.Standby, err = cloneStandby(c.Primary, "node1"); err != nil {
		return c, fmt.Errorf("standby: %w", err)
	}
	if c.Pool, err = startPgpool(pgpool, []*Postgres{c.Primary, c.Standby}); err != nil {
		return c, fmt.Errorf("pgpool: %w", err)
	}
	return c, nil
}

// cloneStandby makes a streaming standby of primary with pg_basebackup -R in a new directory, names it (its
// cluster_name, which the walreceiver reports as application_name) and starts it on a free port.
func cloneStandby(primary *Postgres, name string) (*Postgres, error) {
	dir, err := os.MkdirTemp("", "benchpipe-pg-standby-")
	if err != nil {
		return nil, err
	}
	s := &Postgres{Dir: dir, bin: primary.bin, cred: primary.cred}
	if s.cred != nil {
		if err := os.Chown(dir, int(s.cred.Uid), int(s.cred.Gid)); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	backup := s.command("pg_basebackup", "-D", s.dataDir(), "-R", "-X", "stream", "-c", "fast", "--no-sync",
		"-C", "-S", name, "-h", "127.0.0.1", "-p", strconv.Itoa(primary.Port), "-U", "postgres")
	if out, err := backup.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_basebackup: %w\n%s", err, out)
	}
	if err := appendFile(filepath.Join(s.dataDir(), "postgresql.conf"), fmt.Sprintf("\n# testenv standby\ncluster_name = '%s'\n", name)); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if s.Port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := s.Start(); err != nil {
		s.Remove()
		return nil, err
	}
	// Start returns once the standby accepts connections; wait until it streams too, so that the cluster a test
	// gets is whole.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		var streaming bool
		err := s.queryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')", &streaming)
		if err == nil && streaming {
			return s, nil
		}
		if ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(s.Dir, "server.log"))
			s.Remove()
			return nil, fmt.Errorf("standby did not stream within 30s (last error %v)\n%s", err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Promote promotes the standby to a primary (pg_promote, waiting until it has left recovery). The old primary
// keeps running: the cluster then has two primaries, which is what a split-brain guard must catch.
func (c *PGCluster) Promote(ctx context.Context) error {
	var ok bool
	if err := c.Standby.queryRow(ctx, "SELECT pg_promote(true, 60)", &ok); err != nil {
		return fmt.Errorf("promote standby: %w", err)
	}
	if !ok {
		return errors.New("promote standby: pg_promote returned false (not promoted within 60s)")
	}
	return nil
}

// Remove stops Pgpool and both servers and deletes their directories.
func (c *PGCluster) Remove() {
	if c.Pool != nil {
		c.Pool.Remove()
	}
	if c.Standby != nil {
		c.Standby.Remove()
	}
	if c.Primary != nil {
		c.Primary.Remove()
	}
}

// Pgpool is a Pgpool-II started from the installed binary, listening on loopback, in streaming-replication mode
// in front of PostgreSQL servers.
type Pgpool struct {
	Dir     string // holds pgpool.conf, the sockets and pgpool.log
	Port    int
	PCPPort int

	bin  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// pgpoolConf is the configuration: streaming replication with load balancing by weight (1:1), health checks and
// replication checks every second so that a stopped node is seen as down quickly, no failover command (a test
// promotes by hand, as an operator would), and nothing that needs files outside Dir. Children are few: the
// machine running the tests is small.
const pgpoolConf = `# written by internal/testenv
backend_clustering_mode = 'streaming_replication'
listen_addresses = '127.0.0.1'
port = {{port}}
unix_socket_directories = '{{dir}}'
pcp_listen_addresses = '127.0.0.1'
pcp_port = {{pcp_port}}
pcp_socket_dir = '{{dir}}'
wd_ipc_socket_dir = '{{dir}}'
pid_file_name = '{{dir}}/pgpool.pid'
logdir = '{{dir}}'
log_destination = 'stderr'
logging_collector = off
use_watchdog = off
enable_pool_hba = off
pool_passwd = ''
allow_clear_text_frontend_auth = off
num_init_children = 16
max_pool = 1
reserved_connections = 0
load_balance_mode = on
statement_level_load_balance = off
memory_cache_enabled = off
sr_check_period = 1
sr_check_user = 'postgres'
sr_check_password = ''
sr_check_database = 'postgres'
health_check_period = 1
health_check_timeout = 2
health_check_user = 'postgres'
health_check_password = ''
health_check_database = 'postgres'
health_check_max_retries = 0
failover_command = ''
failback_command = ''
follow_primary_command = ''
failover_on_backend_error = on
search_primary_node_timeout = 10
`

// startPgpool writes the configuration for backends and starts Pgpool-II, waiting until it serves queries.
func startPgpool(bin string, backends []*Postgres) (*Pgpool, error) {
	dir, err := os.MkdirTemp("", "benchpipe-pgpool-")
	if err != nil {
		return nil, err
	}
	p := &Pgpool{Dir: dir, bin: bin}
	if p.Port, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if p.PCPPort, err = freePort(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	conf := strings.NewReplacer("{{port}}", strconv.Itoa(p.Port), "{{pcp_port}}", strconv.Itoa(p.PCPPort), "{{dir}}", dir).Replace(pgpoolConf)
	var b strings.Builder
	b.WriteString(conf)
	for i, be := range backends {
		fmt.Fprintf(&b, "backend_hostname%d = '127.0.0.1'\nbackend_port%d = %d\nbackend_weight%d = 1\n", i, i, be.Port, i)
		fmt.Fprintf(&b, "backend_data_directory%d = '%s'\nbackend_flag%d = 'ALLOW_TO_FAILOVER'\nbackend_application_name%d = 'node%d'\n",
			i, be.dataDir(), i, i, i)
	}
	for name, body := range map[string]string{"pgpool.conf": b.String(), "pcp.conf": "", "pool_hba.conf": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := p.Start(); err != nil {
		p.Remove()
		return nil, err
	}
	return p, nil
}

// Start starts Pgpool-II (again, after Stop) and waits until a client gets an answer through it. -D discards the
// node status Pgpool saved at its last stop, so a restarted Pgpool looks at the servers afresh.
func (p *Pgpool) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return errors.New("pgpool already running")
	}
	logf, err := os.OpenFile(filepath.Join(p.Dir, "pgpool.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(p.bin, "-n", "-D", "-f", filepath.Join(p.Dir, "pgpool.conf"),
		"-F", filepath.Join(p.Dir, "pcp.conf"), "-a", filepath.Join(p.Dir, "pool_hba.conf"))
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that Stop reaches the children too; Pdeathsig as for the servers.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start pgpool: %w", err)
	}
	logf.Close()
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, p.URL("postgres"))
		if err == nil {
			_, err = conn.Exec(ctx, "SELECT 1")
			conn.Close(context.Background())
		}
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(p.Dir, "pgpool.log"))
			p.cmd = nil
			return fmt.Errorf("pgpool exited at start: %w\n%s", err, log)
		default:
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(p.Dir, "pgpool.log"))
			return fmt.Errorf("pgpool did not answer within 60s: %w\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts Pgpool-II down (smart mode waits for clients, so fast: SIGINT) and waits for it and its children.
func (p *Pgpool) Stop() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
	// Children left by a killed parent: the whole group goes.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	p.cmd = nil
	return nil
}

// Remove stops Pgpool-II and deletes its directory.
func (p *Pgpool) Remove() {
	_ = p.Stop()
	os.RemoveAll(p.Dir)
}

// URL returns a connection URL for database db as the postgres superuser through Pgpool-II.
func (p *Pgpool) URL(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// PoolNode is one row of Pgpool-II's SHOW POOL_NODES, the columns tests and the observer read.
type PoolNode struct {
	ID          int
	Port        int
	Status      string // up, down, waiting, unused, quarantine: Pgpool's view
	PgStatus    string // what Pgpool found when it last checked the server itself
	Role        string // primary or standby, Pgpool's view
	PgRole      string
	SelectCount int64
	LoadBalance bool // this session's load-balance node
}

// PoolNodes runs SHOW POOL_NODES through Pgpool-II on a new connection. It uses the simple protocol: SHOW
// POOL_NODES is answered by Pgpool itself, with every column as text.
func (p *Pgpool) PoolNodes(ctx context.Context) ([]PoolNode, error) {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, "SHOW POOL_NODES", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []PoolNode
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		col := map[string]string{}
		for i, f := range rows.FieldDescriptions() {
			col[f.Name] = fmt.Sprint(vals[i])
		}
		var n PoolNode
		n.ID, _ = strconv.Atoi(col["node_id"])
		n.Port, _ = strconv.Atoi(col["port"])
		n.Status, n.PgStatus, n.Role, n.PgRole = col["status"], col["pg_status"], col["role"], col["pg_role"]
		n.SelectCount, _ = strconv.ParseInt(col["select_cnt"], 10, 64)
		n.LoadBalance = col["load_balance_node"] == "true"
		out = append(out, n)
	}
	return out, rows.Err()
}

// exec runs sql as postgres in database postgres on a new connection.
func (p *Postgres) exec(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// queryRow runs sql as postgres in database postgres on a new connection and scans its one row into dest.
func (p *Postgres) queryRow(ctx context.Context, sql string, dest ...any) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.QueryRow(ctx, sql).Scan(dest...)
}

func appendFile(name, text string) error {
	f, err := os.OpenFile(name, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// WriteLoad inserts rows of 1 kB into table testenv_writes of the database at url (creating it) in transactions
// of 100 rows until ctx ends, and returns how many rows it committed. The error is nil when ctx ended the load.
func WriteLoad(ctx context.Context, url string) (int64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, fmt.Errorf("write load: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS testenv_writes (id bigserial PRIMARY KEY, payload text NOT NULL)"); err != nil {
		return 0, fmt.Errorf("write load: %w", err)
	}
	var rows int64
	for {
		tag, err := conn.Exec(ctx, "INSERT INTO testenv_writes (payload) SELECT repeat(md5(g::text), 32) FROM generate_series(1, 100) g")
		if err != nil {
			if ctx.Err() != nil {
				return rows, nil
			}
			return rows, fmt.Errorf("write load: %w", err)
		}
		rows += tag.RowsAffected()
	}
}

// SelectLoad opens sessions connections to url one after another and runs queries "SELECT 1" on each (simple
// protocol, autocommit: every one may be load-balanced). Through Pgpool-II each session reads from the node
// Pgpool picks for it when it connects, so reads spread over the nodes by weight.
func SelectLoad(ctx context.Context, url string, sessions, queries int) error {
	for s := 0; s < sessions; s++ {
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			return fmt.Errorf("select load: session %d: %w", s, err)
		}
		for q := 0; q < queries; q++ {
			if _, err := conn.Exec(ctx, "SELECT 1", pgx.QueryExecModeSimpleProtocol); err != nil {
				conn.Close(context.Background())
				return fmt.Errorf("select load: session %d: %w", s, err)
			}
		}
		conn.Close(context.Background())
	}
	return nil
}
