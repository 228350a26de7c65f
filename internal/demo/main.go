// Command demo runs the whole benchpipe pipeline on one machine without Docker, as `make demo`:
//
//	producer mqtt ──MQTT──▶ perftarget (embedded NATS)       producer pgbench ──▶ pgbench ──▶ the demo's PostgreSQL
//	      │ run records and a perftool result (spool → Kafka protocol)  │
//	      ▼                                                             ▼
//	kfake (in-process Kafka) ──▶ sink ──binary COPY──▶ PostgreSQL (throw-away, or $DATABASE_URL)
//	  ▲  │ jobs         ▲ heartbeats, job events, runs                  │
//	  │  ▼              │                                               │
//	  │ producer agent demo-pi-1, demo-pi-2 (site=demo)                 │
//	sink api ◀── auth webhook, actions ── GraphQL stand-in (internal/hasurastub) ◀── producer launch, the viewer
//	                                         http://127.0.0.1:8080: the viewer and /v1/graphql
//
// It runs a short MQTT benchmark (also published as a SINETStream perftool result) and a short pgbench run, waits
// until the sink has written them, and prints the MQTT run read back from the database. Meanwhile the fleet of
// issue 14 runs beside them (fleet.go): `sink api` with an operator token made up at start, two agents, and one
// MQTT job group launched on them by tag through the stand-in as `producer launch --wait` launches it; the demo
// prints the group as the database holds it. Then, when standard input is a terminal, it serves the built viewer
// (viewer/dist) and the GraphQL stand-in over the demo's database on http://127.0.0.1:8080 until Ctrl-C, the agents
// still heartbeating, and prints the operator token and a `producer launch` command line that works against it;
// otherwise (CI) it ends there. It removes everything it started.
//
// With --browser-fixture it is the viewer's browser-test fixture instead (viewer/test/browser/run.mjs): see
// fixture.go; with --fleet-fixture the fleet browser test's (viewer/test/browser/fleet.mjs): see fleetfixture.go.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// options are the demo's flags.
type options struct {
	duration time.Duration
	rate     int
	serve    bool   // serve the viewer after the runs, until ctx ends
	addr     string // where to serve
	viewer   string // the built viewer's directory
}

func main() {
	o := options{}
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "length of the MQTT run (after a 3 s warm-up)")
	flag.IntVar(&o.rate, "rate", 2000, "messages per second over all publishers")
	flag.StringVar(&o.addr, "addr", "127.0.0.1:8080", "where to serve the viewer and GraphQL after the runs")
	flag.StringVar(&o.viewer, "viewer", "viewer/dist", "the built viewer (cd viewer && npm ci && npm run build)")
	serve := flag.String("serve", "auto", "serve the viewer after the runs: auto (when standard input is a terminal), yes, no")
	fixture := flag.Bool("browser-fixture", false, "be the viewer's browser-test fixture (see internal/demo/fixture.go) instead")
	fleetFixture := flag.Bool("fleet-fixture", false, "be the viewer's fleet browser-test fixture (see internal/demo/fleetfixture.go) instead")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: go run ./internal/demo [--duration 15s] [--rate 2000] [--addr 127.0.0.1:8080] [--serve auto|yes|no]\n\n"+
			"Runs the whole pipeline on this machine: an embedded NATS MQTT target, an in-process Kafka-protocol broker\n"+
			"(kfake), the sink writing to PostgreSQL (a throw-away cluster, or $DATABASE_URL if set), a producer MQTT run\n"+
			"and a producer pgbench run; beside them the fleet: sink api, two producer agents (demo-pi-1, demo-pi-2, tag\n"+
			"site=demo) and one MQTT job group launched on them through GraphQL with an operator token made up at start.\n"+
			"Prints the MQTT run and the job group as stored in the database, then serves the viewer and GraphQL on --addr\n"+
			"until Ctrl-C, with the operator token and a producer launch command line that works against it. Needs the\n"+
			"PostgreSQL server binaries and pgbench (apt-get install postgresql) unless DATABASE_URL is set (pgbench is\n"+
			"still needed).\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	switch *serve {
	case "auto":
		o.serve = term.IsTerminal(int(os.Stdin.Fd()))
	case "yes":
		o.serve = true
	case "no":
	default:
		fmt.Fprintln(os.Stderr, "demo: --serve must be auto, yes or no")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	var err error
	switch {
	case *fixture:
		err = runFixture(ctx, os.Stdin, os.Stdout, os.Stderr)
	case *fleetFixture:
		err = runFleetFixture(ctx, os.Stdin, os.Stdout, os.Stderr)
	default:
		err = run(ctx, o, os.Stdout)
	}
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "==> "+format+"\n", args...)
}

// dbURLs are the database URLs of the demo's programs.
type dbURLs struct {
	sink string // writes: the owner
	read string // the GraphQL stand-in: Hasura's role
	api  string // sink api: the read-only role
}

// database returns the URLs: $DATABASE_URL for all, or a throw-away cluster set up as the compose stack sets one
// up, with each program on its role there. done removes what it started.
func database(out io.Writer) (urls dbURLs, done func(), err error) {
	if u := os.Getenv("DATABASE_URL"); u != "" {
		step(out, "using DATABASE_URL %s", schema.RedactURL(u))
		return dbURLs{u, u, u}, func() {}, nil
	}
	step(out, "starting a throw-away PostgreSQL")
	pg, err := testenv.StartPostgres()
	if err != nil {
		return dbURLs{}, nil, fmt.Errorf("%w\n(or set DATABASE_URL to an existing database)", err)
	}
	d, err := testenv.DeployDatabase(pg.URL("postgres"), "benchpipe")
	if err != nil {
		pg.Remove()
		return dbURLs{}, nil, err
	}
	step(out, "PostgreSQL on 127.0.0.1:%d, database benchpipe set up as the compose stack sets it up", pg.Port)
	return dbURLs{d.OwnerURL, d.HasuraURL, d.GrafanaURL}, pg.Remove, nil
}

func run(ctx context.Context, o options, out io.Writer) error {
	urls, done, err := database(out)
	if err != nil {
		return err
	}
	defer done()
	p, err := startPipeline(ctx, out, urls.sink)
	if err != nil {
		return err
	}
	defer p.Close()

	// The fleet (issue 14): sink api, two agents, and the GraphQL stand-in calling sink api as Hasura does. The
	// stand-in serves from the start, on --addr when the demo serves, since the demo's job group is launched
	// through it while the other runs go on.
	addr := "127.0.0.1:0"
	if o.serve {
		addr = o.addr
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve the viewer: %w (another program on %s? pass --addr)", err, addr)
	}
	base := "http://" + ln.Addr().String()
	since := time.Now().Add(-time.Second)
	var agentLog testenv.Buffer
	f, err := p.startFleet(ctx, demoAgents, &agentLog, base+hasurastub.Path, urls.api)
	if err != nil {
		ln.Close()
		return err
	}
	v, err := newViewerServer(ctx, o.viewer, urls.read, nil, f.stubOptions()...)
	if err != nil {
		ln.Close()
		return err
	}
	defer v.Close()
	go func() { _ = v.http.Serve(ln) }()
	launchConfig, err := p.writeLaunchConfig(base + hasurastub.Path)
	if err != nil {
		return err
	}
	fleetCtx, stopFleet := context.WithCancel(ctx)
	fleetDone := make(chan struct{})
	var group *fleetJobs
	var fleetErr error
	go func() {
		defer close(fleetDone)
		group, fleetErr = p.launchDemoJobs(fleetCtx, f, launchConfig, since, jobSeconds(o.duration))
	}()
	defer func() {
		stopFleet()
		<-fleetDone
	}()

	const name = "make demo"
	mqttID, err := p.mqtt(ctx, out, "--publishers", "4", "--subscribers", "4", "--qos", "1", "--size", "256",
		"--rate", fmt.Sprint(o.rate), "--warmup", "3s", "--duration", o.duration.String(),
		"--name", name, "--tag", "source=demo", "--perftool-compat", perftoolTopic)
	if err != nil {
		return err
	}
	// pgbench runs in pgbench_* tables of the demo's database: a few seconds of the default TPC-B-like script.
	// Without pgbench the demo goes on with the MQTT run alone.
	ids := []uuid.UUID{mqttID}
	pgbenchID := uuid.Nil
	if _, err := findPgbench(); err != nil {
		step(out, "%v: no pgbench run", err)
	} else {
		if pgbenchID, err = p.pgbench(ctx, out, "--name", name+" pgbench", "--tag", "source=demo", "--init-scale", "1",
			"--warmup", "1s", "--", "-c", "2", "-j", "1", "-T", fmt.Sprint(pgbenchSeconds(o.duration))); err != nil {
			return err
		}
		ids = append(ids, pgbenchID)
	}
	for _, id := range ids {
		if err := p.waitFinished(ctx, id); err != nil {
			return err
		}
	}
	publisher, err := p.waitPerftool(ctx, mqttID)
	if err != nil {
		return err
	}
	<-fleetDone
	if fleetErr != nil {
		return fmt.Errorf("fleet: %w\nthe agents' log:\n%s", fleetErr, agentLog.String())
	}
	if err := printRun(ctx, p.db, mqttID, out); err != nil {
		return err
	}
	group.print(out)
	var runs int
	if err := p.db.QueryRow(ctx, "SELECT count(*) FROM public.runs").Scan(&runs); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if pgbenchID != uuid.Nil {
		fmt.Fprintf(out, "Also written: pgbench run %s (pgbench against the demo's database, in its pgbench_* tables).\n", pgbenchID)
	}
	fmt.Fprintf(out, "The MQTT run is also a SINETStream perftool result (publisher %q, the device). The database holds %d runs.\n", publisher, runs)
	if !o.serve {
		return nil
	}
	fmt.Fprintln(out)
	if v.hasViewer {
		fmt.Fprintf(out, "The viewer is on %s/ — this run: %s/#/run/%s\n", base, base, mqttID)
		fmt.Fprintf(out, "The agents: %s/#/agents — the demo's job group: %s/#/group/%s\n", base, base, group.group)
	} else {
		fmt.Fprintf(out, "The viewer is not built (%s/index.html is missing: cd viewer && npm ci && npm run build; needs Node ≥ 20 and npm).\n", o.viewer)
	}
	fmt.Fprintf(out, "GraphQL (the Hasura stand-in: anonymous, or operator with the token) is on %s%s\n", base, hasurastub.Path)
	fmt.Fprintf(out, "Operator token of this demo: %s\n", f.token)
	fmt.Fprintf(out, "  Sign in with it on the Agents page to launch and stop jobs, or launch from a shell while the demo runs:\n")
	fmt.Fprintf(out, "  BENCHPIPE_OPERATOR_TOKEN=%s go run ./producer launch --config %s %s\n", f.token, launchConfig, shellJoin(launchArgs(10)))
	fmt.Fprintln(out, "Ctrl-C to stop.")
	<-ctx.Done()
	fmt.Fprintln(out, "\nstopping")
	return nil
}

// pgbenchSeconds is the pgbench run's length: as long as the MQTT run, 2 to 6 s.
func pgbenchSeconds(d time.Duration) int {
	return max(2, min(6, int(d.Seconds())))
}

// jobSeconds is the length of the demo's fleet jobs: as long as the MQTT run, 2 to 5 s, so that they end within it.
func jobSeconds(d time.Duration) int {
	return max(2, min(5, int(d.Seconds())))
}

// printRun prints the run as the database holds it: the runs row and its samples per phase.
func printRun(ctx context.Context, conn *pgxpool.Pool, id uuid.UUID, out io.Writer) error {
	var kind, name, status, host string
	var started, finished time.Time
	var ops, mqttSent, mqttRecv, lost, dup, ooo *int64
	var rate, p50, p90, p99, p999, maxMs, up99 *float64
	err := conn.QueryRow(ctx, `SELECT kind, coalesce(name, ''), status, coalesce(host_name, ''), started_at, finished_at,
			ops, ops_rate, lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_p999_ms, lat_max_ms, mqtt_uncorrected_p99_ms,
			mqtt_sent, mqtt_received, mqtt_lost, mqtt_duplicated, mqtt_out_of_order
		FROM public.runs WHERE run_id = $1`, id).Scan(&kind, &name, &status, &host, &started, &finished,
		&ops, &rate, &p50, &p90, &p99, &p999, &maxMs, &up99, &mqttSent, &mqttRecv, &lost, &dup, &ooo)
	if errors.Is(err, pgx.ErrNoRows) || err != nil {
		return fmt.Errorf("read run back: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT phase, count(*), sum(ops) FROM public.samples WHERE run_id = $1 GROUP BY phase ORDER BY phase DESC", id)
	if err != nil {
		return err
	}
	var phases []string
	for rows.Next() {
		var phase string
		var n, sum int64
		if err := rows.Scan(&phase, &n, &sum); err != nil {
			return err
		}
		phases = append(phases, fmt.Sprintf("%s: %d samples, %d messages", phase, n, sum))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	i := func(p *int64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	}
	fmt.Fprintf(out, "\nRun %s as stored in PostgreSQL (runs and samples tables):\n\n", id)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"kind / name", kind + " / " + name}, {"status", status}, {"host", host},
		{"started / finished", started.Format(time.RFC3339) + " / " + finished.Format(time.RFC3339)},
		{"samples", strings.Join(phases, "; ")},
		{"messages received (measure)", i(ops)}, {"throughput msg/s", f(rate)},
		{"latency p50 / p90 / p99 / p99.9 / max ms", strings.Join([]string{f(p50), f(p90), f(p99), f(p999), f(maxMs)}, " / ")},
		{"uncorrected p99 ms", f(up99)},
		{"sent / received / lost / duplicated / out of order", strings.Join([]string{i(mqttSent), i(mqttRecv), i(lost), i(dup), i(ooo)}, " / ")},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}
