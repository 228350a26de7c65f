// Command sink consumes benchmark records from Kafka and writes them to PostgreSQL (TimescaleDB when available),
// exactly once. It replaces Kafka Connect's JDBC sink. See package sink/ingest for how.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/api"
	"github.com/benchpipe/benchpipe/sink/ingest"
	"github.com/benchpipe/benchpipe/sink/topics"
)

const usage = `sink — Kafka → PostgreSQL for benchpipe records, exactly once.

Usage:
  sink [flags] run                     migrate, create/alter topics, then consume until SIGTERM
  sink [flags] migrate                 apply database migrations and exit
  sink [flags] topics apply [--dry-run]
                                       create or alter the Kafka topics the config lists
  sink [flags] api                     the fleet's operator API for Hasura until SIGTERM: /auth (the auth
                                       webhook), /actions (launchJobs, stopJobs), /healthz on fleet.api_addr

The database URL comes from sink.database_url (write ${DATABASE_URL} there and set the variable).
HTTP on sink.http_addr: /metrics (Prometheus), /healthz, /readyz.
sink api reads its secrets from the environment only: $BENCHPIPE_ACTION_SECRET (required; Hasura sends it with
every action call) and $BENCHPIPE_OPERATOR_TOKEN (GraphQL requests with "Authorization: Bearer <token>" may
launch and stop jobs; unset, everyone is read-only), each at least 16 characters (openssl rand -hex 24).

Example:
  DATABASE_URL=postgres://bench@db/bench sink --config benchpipe.yaml run

Flags:
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	logFormat := fs.String("log-format", "text", "log `format` on stderr: text or json")
	skipTopics := fs.Bool("skip-topics", false, "run: do not create or alter topics (when an operator manages them)")
	dryRun := fs.Bool("dry-run", false, "topics apply: print what would change, change nothing")
	// Flags may come before, between or after the command words (sink topics apply --dry-run).
	var rest []string
	for {
		if err := cli.Parse(fs, args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(stdout, usage)
				cli.PrintDefaults(stdout, fs)
				return 0
			}
			return cli.Fail(stderr, "sink", err)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) == 0 {
		return cli.Fail(stderr, "sink", cli.Errorf("missing command: run, migrate, topics apply or api"))
	}
	known := map[string]bool{"run": true, "migrate": true, "topics apply": true, "api": true}
	if cmd := strings.Join(rest, " "); !known[cmd] {
		return cli.Fail(stderr, "sink", cli.Errorf("unknown command %q (run, migrate, topics apply or api)", cmd))
	}
	if *logFormat != "text" && *logFormat != "json" {
		return cli.Fail(stderr, "sink", cli.Errorf("--log-format %q is not text or json", *logFormat))
	}
	var handler slog.Handler = slog.NewTextHandler(stderr, nil)
	if *logFormat == "json" {
		handler = slog.NewJSONHandler(stderr, nil)
	}
	log := slog.New(handler)

	sections := []config.Section{config.SectionKafka, config.SectionTopics, config.SectionSink}
	if rest[0] == "api" {
		sections = append(sections, config.SectionFleet, config.SectionGraphQL)
	}
	cfg, err := config.Resolve(*cfgPath, sections...)
	if err != nil {
		return cli.FailConfig(stderr, "sink", err, 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	switch {
	case rest[0] == "migrate" && len(rest) == 1:
		err = ingest.Migrate(ctx, cfg, log)
	case rest[0] == "topics" && len(rest) == 2 && rest[1] == "apply":
		err = applyTopics(ctx, cfg, *dryRun, stdout)
	case rest[0] == "api":
		err = serveAPI(ctx, cfg, log)
	default: // run, checked above
		err = serve(ctx, cfg, log, !*skipTopics, stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "sink: %s\n", schema.RedactText(cli.OneLine(err)))
		return 1
	}
	return 0
}

func applyTopics(ctx context.Context, cfg *config.Config, dryRun bool, out io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	changes, err := topics.ApplyConfig(ctx, cfg, dryRun)
	if dryRun {
		fmt.Fprintln(out, "dry run: nothing changed")
	}
	for _, c := range changes {
		fmt.Fprintln(out, c)
	}
	return err
}

func serve(ctx context.Context, cfg *config.Config, log *slog.Logger, manageTopics bool, out io.Writer) error {
	if err := ingest.Migrate(ctx, cfg, log); err != nil {
		return err
	}
	if manageTopics {
		if err := applyTopics(ctx, cfg, false, out); err != nil {
			return err
		}
	}
	s, err := ingest.New(ctx, cfg, ingest.WithLogger(log))
	if err != nil {
		return err
	}
	defer s.Close()
	var ln net.Listener
	if cfg.Sink.HTTPAddr != "" {
		if ln, err = net.Listen("tcp", cfg.Sink.HTTPAddr); err != nil {
			return fmt.Errorf("sink.http_addr %s: %w", cfg.Sink.HTTPAddr, err)
		}
		log.Info("http listening", "addr", ln.Addr().String(), "paths", "/metrics /healthz /readyz")
	}
	log.Info("consuming", "group", cfg.Sink.Group, "topics", len(cfg.SinkTopics()), "batch_size", cfg.Sink.BatchSize, "flush_interval", cfg.Sink.FlushInterval)
	return consume(ctx, s, ln, log)
}

// consume runs the sink until ctx is cancelled, serving its HTTP endpoints on ln (when not nil). If the HTTP
// server fails, the sink stops (finishing the batch in flight) and consume returns that error: a sink nobody can
// probe or scrape would be running blind, and the process exiting with the cause is what an operator sees.
func consume(ctx context.Context, s *ingest.Sink, ln net.Listener, log *slog.Logger) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var srv *http.Server
	httpErr := make(chan error, 1)
	if ln != nil {
		srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() {
			err := srv.Serve(ln)
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else {
				err = fmt.Errorf("http server on %s: %w", ln.Addr(), err)
				cancel(err)
			}
			httpErr <- err
		}()
	}
	runErr := s.Run(ctx)
	log.Info("stopped consuming; leaving the group")
	if srv == nil {
		return runErr
	}
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	_ = srv.Shutdown(sctx)
	stop()
	return errors.Join(<-httpErr, runErr)
}

// serveAPI runs `sink api` until ctx is cancelled: the operator API (package sink/api) on fleet.api_addr. Its
// secrets come from the environment only, never from the YAML.
func serveAPI(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if cfg.Fleet.APIAddr == "" {
		return errors.New("fleet.api_addr is empty: set the address sink api listens on (default \":8081\")")
	}
	s, err := api.New(ctx, cfg, api.WithLogger(log),
		api.WithOperatorToken(os.Getenv(api.EnvOperatorToken)), api.WithActionSecret(os.Getenv(api.EnvActionSecret)))
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", cfg.Fleet.APIAddr)
	if err != nil {
		return fmt.Errorf("fleet.api_addr %s: %w", cfg.Fleet.APIAddr, err)
	}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("api listening", "addr", ln.Addr().String(), "paths", "/auth /actions /healthz", "jobs_topic", cfg.Fleet.JobsTopic)
	select {
	case err = <-served: // the listener failed
		return fmt.Errorf("api server on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// Actions in flight finish (each is bounded by its produce timeout); new connections are refused.
	sctx, stop := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer stop()
	err = srv.Shutdown(sctx)
	log.Info("api stopped")
	return err
}
