package observe

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
)

// applicationName is how the observer's sessions show in pg_stat_activity, so an operator can tell them apart.
const applicationName = "benchpipe-observe"

// nodeSQL reads everything a round needs from one node in one round trip. pg_is_in_recovery() is read several
// times; a node can only leave recovery between two reads, never enter it, so a promotion mid-query yields a
// consistent standby row or a primary row, never pg_walfile_name() on a standby (which would fail).
//
// The timeline of a primary is the first 8 hex digits of its current WAL file's name: pg_control_checkpoint()
// lags behind a promotion until the next checkpoint. A standby's is the timeline its walreceiver receives, else
// the last checkpoint's. Lag in seconds is the formula of REFERENCE §10 (0 when the standby has replayed all it
// received, so an idle primary does not look like lag). Connections are client backends other than this one.
const nodeSQL = `SELECT pg_is_in_recovery(),
  CASE WHEN pg_is_in_recovery()
       THEN coalesce((SELECT received_tli FROM pg_stat_wal_receiver), (SELECT timeline_id FROM pg_control_checkpoint()))
       ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END,
  (CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END)::text,
  CASE WHEN NOT pg_is_in_recovery() THEN NULL
       WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0::float8
       ELSE greatest(0, extract(epoch FROM now() - pg_last_xact_replay_timestamp()))::float8 END,
  (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid())::int,
  (SELECT sender_host || ':' || sender_port FROM pg_stat_wal_receiver WHERE sender_host IS NOT NULL)`

// nodeProbe keeps one connection to a node across rounds: connecting every second would itself be load, and
// would show up in the connection counts it reports.
type nodeProbe struct {
	name string
	addr string // host:port
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

// nodeResult is a node's sample plus what the round needs to work out lag.
type nodeResult struct {
	sample   schema.NodeSample
	lsn      uint64 // WAL position as a number; valid when sample.Up
	upstream string
}

func newNodeProbe(name, dsn string) (*nodeProbe, error) {
	cfg, err := parseConn(dsn)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", name, err)
	}
	return &nodeProbe{name: name, addr: hostPort(cfg.Host, cfg.Port), cfg: cfg}, nil
}

// parseConn parses a connection string as libpq would (PGPASSWORD, ~/.pgpass and the other PG* variables
// apply) without letting the string into the error: pgx's parse errors quote it.
func parseConn(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("cannot read connection string %s", schema.RedactURL(dsn))
	}
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	return cfg, nil
}

func hostPort(host string, port uint16) string {
	return net.JoinHostPort(host, strconv.Itoa(int(port)))
}

// probe asks the node for this round's figures. A broken connection (the server restarted, Pgpool or a proxy
// dropped it) is replaced once within the round, so only a node that cannot be reached now counts as down.
func (p *nodeProbe) probe(ctx context.Context) nodeResult {
	start := time.Now()
	res, err := p.query(ctx)
	var fresh errFresh
	if err != nil && !errors.As(err, &fresh) && ctx.Err() == nil {
		res, err = p.query(ctx)
	}
	res.sample.Node, res.sample.Addr = p.name, p.addr
	res.sample.ProbeMs = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		res.sample = schema.NodeSample{Node: p.name, Addr: p.addr, Error: describe(err), ProbeMs: res.sample.ProbeMs}
	}
	return res
}

func (p *nodeProbe) query(ctx context.Context) (nodeResult, error) {
	var res nodeResult
	hadConn := p.conn != nil
	if p.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, p.cfg)
		if err != nil {
			return res, errFresh{err}
		}
		p.conn = conn
	}
	var (
		rec      bool
		tli      *int32
		lsn      *string
		lag      *float64
		conns    int32
		upstream *string
	)
	err := p.conn.QueryRow(ctx, nodeSQL).Scan(&rec, &tli, &lsn, &lag, &conns, &upstream)
	if err != nil {
		p.close()
		if !hadConn {
			// A fresh connection failed: no point retrying within the round.
			return res, errFresh{err}
		}
		return res, err
	}
	s := &res.sample
	s.Up = true
	s.Role = schema.RolePrimary
	if rec {
		s.Role = schema.RoleStandby
		s.LagSeconds = lag
	}
	if tli != nil {
		s.Timeline = int(*tli)
	}
	if lsn != nil {
		s.WALLSN = *lsn
		res.lsn, _ = parseLSN(*lsn)
	}
	s.Connections = int(conns)
	if upstream != nil {
		res.upstream = *upstream
		s.Upstream = *upstream
	}
	return res, nil
}

// errFresh marks an error on a connection made in this round, which is not retried.
type errFresh struct{ error }

func (e errFresh) Unwrap() error { return e.error }

func (p *nodeProbe) close() {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.conn.Close(ctx)
		cancel()
		p.conn = nil
	}
}

// describe is an error as a node sample or event carries it: one line, credentials removed.
func describe(err error) string {
	var fresh errFresh
	if errors.As(err, &fresh) {
		err = fresh.error
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "no answer within the probe timeout"
	}
	return schema.RedactText(strings.ReplaceAll(err.Error(), "\n", " "))
}

// parseLSN reads a pg_lsn's text form, "16/B374D848", as the 64-bit WAL position it stands for.
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	if !ok {
		return 0, fmt.Errorf("LSN %q: no '/'", s)
	}
	h, err := strconv.ParseUint(hi, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("LSN %q: %w", s, err)
	}
	l, err := strconv.ParseUint(lo, 16, 32)
	if err != nil {
		return 0, fmt.Errorf("LSN %q: %w", s, err)
	}
	return h<<32 | l, nil
}

// poolProbe keeps one connection to Pgpool-II for SHOW POOL_NODES and remembers each backend's SELECT count from
// the last round, to report the change.
type poolProbe struct {
	addr string
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
	last map[int]int64 // node_id → select_cnt last round
}

func newPoolProbe(dsn string) (*poolProbe, error) {
	cfg, err := parseConn(dsn)
	if err != nil {
		return nil, fmt.Errorf("pgpool: %w", err)
	}
	return &poolProbe{addr: hostPort(cfg.Host, cfg.Port), cfg: cfg, last: map[int]int64{}}, nil
}

// probe runs SHOW POOL_NODES, retrying once on a new connection when the kept one broke: Pgpool restarts its
// children after a failover, which drops every client.
func (p *poolProbe) probe(ctx context.Context) ([]schema.PoolNodeSample, error) {
	for attempt := 0; ; attempt++ {
		hadConn := p.conn != nil
		nodes, err := p.query(ctx)
		if err == nil {
			return nodes, nil
		}
		if p.conn != nil {
			_ = p.conn.Close(context.Background())
			p.conn = nil
		}
		if !hadConn || attempt > 0 || ctx.Err() != nil {
			return nil, err
		}
	}
}

func (p *poolProbe) query(ctx context.Context) ([]schema.PoolNodeSample, error) {
	if p.conn == nil {
		conn, err := pgx.ConnectConfig(ctx, p.cfg)
		if err != nil {
			return nil, err
		}
		p.conn = conn
	}
	// SHOW POOL_NODES is answered by Pgpool itself, every column as text, over the simple protocol.
	rows, err := p.conn.Query(ctx, "SHOW POOL_NODES", pgx.QueryExecModeSimpleProtocol)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []schema.PoolNodeSample
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		col := make(map[string]string, len(vals))
		for i, f := range rows.FieldDescriptions() {
			if vals[i] != nil {
				col[f.Name] = fmt.Sprint(vals[i])
			}
		}
		var n schema.PoolNodeSample
		n.NodeID, err = strconv.Atoi(col["node_id"])
		if err != nil {
			return nil, fmt.Errorf("SHOW POOL_NODES: node_id %q", col["node_id"])
		}
		n.Addr = net.JoinHostPort(col["hostname"], col["port"])
		n.Status, n.PgStatus, n.Role, n.PgRole = col["status"], col["pg_status"], col["role"], col["pg_role"]
		n.LBWeight, _ = strconv.ParseFloat(col["lb_weight"], 64)
		n.SelectCount, _ = strconv.ParseInt(col["select_cnt"], 10, 64)
		n.ReplicationDelay, _ = strconv.ParseInt(col["replication_delay"], 10, 64)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		n := &out[i]
		prev, seen := p.last[n.NodeID]
		switch {
		case !seen:
			n.SelectDelta = 0 // the first round is the baseline
		case n.SelectCount >= prev:
			n.SelectDelta = n.SelectCount - prev
		default:
			n.SelectDelta = n.SelectCount // Pgpool restarted: its counts start again at 0
		}
		p.last[n.NodeID] = n.SelectCount
	}
	return out, nil
}

func (p *poolProbe) close() {
	if p.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = p.conn.Close(ctx)
		cancel()
		p.conn = nil
	}
}
