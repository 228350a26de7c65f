package observe

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultListen is where `producer observe` serves /metrics: loopback, next to postgres_exporter's 9187.
const DefaultListen = "127.0.0.1:9188"

const prog = "producer observe"

const summary = `Watches a PostgreSQL cluster between benchmark runs, without load of its own: every
interval it asks each node for its role (pg_is_in_recovery()), timeline, WAL position,
replication lag (bytes and seconds) and client connections and, with --pgpool,
Pgpool-II's SHOW POOL_NODES (status, role, SELECTs per node). It serves these on
/metrics for Prometheus and prints the events it sees — a role change (failover,
switchover), a node unreachable or back, two or more primaries at once (split
brain), a Pgpool backend status change — one per line, with their time.

Give nodes as NAME=CONNSTRING (or CONNSTRING alone, named host:port). Without --node and
--pgpool, the cluster is the configuration's producer.pgbench.observe (the one
producer pgbench --observe watches), its interval and timeout too unless given here.
Passwords come from the connection string (${VAR} in the configuration), PGPASSWORD
or ~/.pgpass; none is printed, exported or recorded.

With --record the observation is also recorded as a run of kind "observe", through the
producer's spool and Kafka like a benchmark run's records: run_started, one observation
record per round (the first and last with the server's facts, read from Pgpool-II or
else the first node) and run_finished when it stops; the viewer shows it as a run with
its cluster charts, flagged when the topology changed.
The observer's role needs pg_monitor to read the replication views.

Example:
  producer observe --node primary=postgres://monitor@db1/postgres \
                   --node standby=postgres://monitor@db2/postgres \
                   --pgpool postgres://monitor@pgpool:9999/postgres
  producer observe --record --name "maintenance window" --duration 2h   # the configuration's cluster

Exit status: 0 after --duration or an interrupt, 1 when /metrics cannot be served
(or with --record: the facts cannot be read, records could not be saved), 2 for bad
usage.`

// Run runs `producer observe` with args (the words after "observe") and returns the exit code. It is the
// producer's command: producer/main.go maps "observe" to it.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("observe", flag.ContinueOnError)
	var cfg Config
	fs.Func("node", "a node to observe, `NAME=CONNSTRING` or CONNSTRING (repeat for each node)", func(s string) error {
		n, err := parseNode(s)
		if err != nil {
			return err
		}
		cfg.Nodes = append(cfg.Nodes, n)
		return nil
	})
	fs.StringVar(&cfg.Pgpool, "pgpool", "", "Pgpool-II's SQL port as a `CONNSTRING`, for SHOW POOL_NODES")
	fs.DurationVar(&cfg.Interval, "interval", DefaultInterval, "time `D` between rounds of probes")
	fs.DurationVar(&cfg.Timeout, "timeout", DefaultTimeout, "a node that has not answered within `D` is down for the round; below --interval")
	listen := fs.String("listen", DefaultListen, "serve /metrics on `ADDR`; \"\" for none")
	duration := fs.Duration("duration", 0, "stop after `D`; 0 = until interrupted")
	asJSON := fs.Bool("json", false, "print every round as one JSON line (a schema.Observation) instead of events only")
	configPath := fs.String("config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists): the cluster without --node and --pgpool; Kafka and the spool with --record")
	record := fs.Bool("record", false, "also record the observation as a run of kind \"observe\" (spool → Kafka → database)")
	name := fs.String("name", "", "with --record: the run's `name` shown in the viewer")
	tags := map[string]string{}
	cli.TagFlag(fs, tags, "with --record: run tag `k=v` (repeatable); adds to producer.tags from the configuration")
	err := cli.Parse(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stdout, "Usage: %s [flags]\n\n%s\n\nFlags:\n", prog, summary)
		cli.PrintDefaults(stdout, fs)
		return 0
	case err != nil:
		return cli.Fail(stderr, prog, err)
	case fs.NArg() > 0:
		return cli.Fail(stderr, prog, cli.Errorf("unexpected argument %q (give nodes with --node)", schema.RedactURL(fs.Arg(0))))
	case *duration < 0:
		return cli.Fail(stderr, prog, cli.Errorf("--duration must not be negative"))
	case !*record && (*name != "" || len(tags) > 0):
		return cli.Fail(stderr, prog, cli.Errorf("--name and --tag name a recorded run: add --record"))
	}
	var app *config.Config
	if len(cfg.Nodes) == 0 && cfg.Pgpool == "" || *record {
		sections := []config.Section{config.SectionProducer}
		if *record {
			sections = append(sections, config.SectionKafka, config.SectionTopics)
		}
		c, err := config.Resolve(*configPath, sections...)
		if err != nil {
			return cli.FailConfig(stderr, prog, err, cli.ExitUsage)
		}
		app = c
	}
	if len(cfg.Nodes) == 0 && cfg.Pgpool == "" {
		if oc := app.Producer.Pgbench.Observe; oc.Configured() {
			given := map[string]bool{}
			fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
			fromFile := FromConfig(oc)
			cfg.Nodes, cfg.Pgpool = fromFile.Nodes, fromFile.Pgpool
			if !given["interval"] {
				cfg.Interval = fromFile.Interval
			}
			if !given["timeout"] {
				cfg.Timeout = fromFile.Timeout
			}
		}
	}
	obs, err := New(cfg)
	if err != nil {
		return cli.Fail(stderr, prog, cli.Errorf("%s", strings.ReplaceAll(err.Error(), "\n", "; ")))
	}

	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	done := make(chan struct{})
	defer func() { <-done }()
	if *listen == "" {
		close(done)
	} else {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			close(done)
			fmt.Fprintf(stderr, "%s: serve /metrics: %v\n", prog, err)
			return 1
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go func() {
			defer close(done)
			_ = srv.Serve(ln)
		}()
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
		}()
		fmt.Fprintf(stderr, "%s: metrics on http://%s/metrics\n", prog, ln.Addr())
	}
	for _, n := range cfg.Nodes {
		fmt.Fprintf(stderr, "%s: observing %s (%s) every %s\n", prog, n.Name, addrOf(n.DSN), obs.Interval())
	}
	if cfg.Pgpool != "" {
		fmt.Fprintf(stderr, "%s: observing Pgpool-II at %s\n", prog, addrOf(cfg.Pgpool))
	}
	enc := json.NewEncoder(stdout)
	show := func(o schema.Observation) {
		o = (*schema.Redactor)(nil).Observation(o)
		metrics.Update(o)
		if *asJSON {
			_ = enc.Encode(o)
			return
		}
		for _, e := range o.Events {
			fmt.Fprintln(stdout, FormatEvent(e))
		}
	}
	if *record {
		obs.Close()
		return recordRun(ctx, app, cfg, recordOptions{name: *name, tags: tags}, show, stdout, stderr)
	}
	_ = obs.Run(ctx, show)
	return 0
}

// parseNode reads NAME=CONNSTRING or a bare connection string. A key=value connection string ("host=db
// port=5432") also contains '=': it is taken as a name only when the part before the first '=' is a plain word
// and the rest is not itself key=value pairs following a libpq keyword.
func parseNode(s string) (Node, error) {
	if name, dsn, ok := strings.Cut(s, "="); ok && isNodeName(name) && !isConnKeyword(name) {
		if dsn == "" {
			return Node{}, fmt.Errorf("node %s has no connection string", name)
		}
		return Node{Name: name, DSN: dsn}, nil
	}
	if s == "" {
		return Node{}, errors.New("empty connection string")
	}
	return Node{Name: addrOf(s), DSN: s}, nil
}

func isNodeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// isConnKeyword reports whether s is a libpq connection keyword, which starts a key=value connection string.
func isConnKeyword(s string) bool {
	switch s {
	case "host", "hostaddr", "port", "dbname", "user", "password", "passfile", "sslmode", "application_name",
		"connect_timeout", "options", "service", "target_session_attrs", "sslrootcert", "sslcert", "sslkey":
		return true
	}
	return false
}

// addrOf is a connection string's host:port, for messages: never its credentials.
func addrOf(dsn string) string {
	cfg, err := parseConn(dsn)
	if err != nil {
		return schema.RedactURL(dsn)
	}
	return hostPort(cfg.Host, cfg.Port)
}

// FormatEvent writes an event as one line: time (UTC, ms), kind, node and what changed.
func FormatEvent(e schema.ClusterEvent) string {
	var b strings.Builder
	b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000Z") + " " + e.Kind)
	if e.Node != "" {
		b.WriteString(" node=" + e.Node)
	}
	if e.From != "" || e.To != "" {
		fmt.Fprintf(&b, " %s->%s", orDash(e.From), orDash(e.To))
	}
	if len(e.Nodes) > 0 {
		b.WriteString(" primaries=" + strings.Join(e.Nodes, ","))
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
