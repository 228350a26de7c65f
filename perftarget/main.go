// Command perftarget is the MQTT broker benchpipe's load generators measure: nats-server embedded with JetStream
// and MQTT 3.1.1, plus a Prometheus /metrics and a /healthz endpoint. The broker lives in perftarget/target and
// the metrics in perftarget/metrics; this file only reads flags and the configuration, starts both, and stops
// them on SIGTERM or SIGINT.
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
	"syscall"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/perftarget/metrics"
	"github.com/benchpipe/benchpipe/perftarget/target"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usageText = `perftarget — an MQTT 3.1.1 broker to benchmark against (nats-server embedded, with JetStream).

It accepts MQTT clients at QoS 0, 1 and 2 with retained messages, NATS clients, and serves Prometheus
metrics (/metrics) and a health check (/healthz). Settings come from the perftarget section of the
benchpipe configuration file; the flags below override single keys. The username and password are read
only from the file (write password: ${PERFTARGET_PASSWORD}), never from flags, which other users see in ps.

Usage:
  perftarget [flags]

Flags (defaults are those used when neither the file nor a flag sets the key):
`

const exampleText = `
Flags take one or two dashes. Exit status: 0 after SIGTERM or SIGINT, 1 when the broker can't start or fails,
2 for bad flags.

Example:
  # benchpipe.yaml has   perftarget: {username: bench, password: "${PERFTARGET_PASSWORD}"}
  PERFTARGET_PASSWORD=s3cret perftarget --config benchpipe.yaml --mqtt-port 1884 --metrics-addr 127.0.0.1:7777
  curl -s http://127.0.0.1:7777/metrics | grep ^perftarget_
`

// run reads the flags and the configuration, then serves; it returns the exit code: 0 after a clean shutdown, 1
// when something fails, 2 for bad flags.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	def := config.Default().Perftarget
	fs := flag.NewFlagSet("perftarget", flag.ContinueOnError)
	configFile := fs.String("config", "", "configuration `file`; default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists, else built-in defaults")
	host := fs.String("host", def.Host, "listen `host` for every listener (perftarget.host)")
	mqttPort := fs.Int("mqtt-port", def.MQTTPort, "MQTT `port`, 0 = random (perftarget.mqtt_port)")
	natsPort := fs.Int("nats-port", def.NATSPort, "NATS client `port`, 0 = random (perftarget.nats_port)")
	monitorPort := fs.Int("monitor-port", def.MonitorPort, "NATS HTTP monitoring `port` (/varz, /connz), -1 = off (perftarget.monitor_port)")
	storeDir := fs.String("store-dir", def.StoreDir, "JetStream store `directory`; empty = a temporary one removed at exit (perftarget.store_dir)")
	serverName := fs.String("server-name", def.ServerName, "NATS server `name` (perftarget.server_name)")
	metricsAddr := fs.String("metrics-addr", def.MetricsAddr, "`[host]:port` for /metrics and /healthz; empty = off (perftarget.metrics_addr)")
	logLevel := fs.String("log-level", "info", "`level` of the log on stderr: debug, info, warn or error")
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			cli.PrintDefaults(stdout, fs)
			fmt.Fprint(stdout, exampleText)
			return 0
		}
		return cli.Fail(stderr, "perftarget", err)
	}
	if fs.NArg() > 0 {
		return cli.Fail(stderr, "perftarget", cli.Errorf("unexpected argument %q (perftarget takes flags only)", fs.Arg(0)))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return cli.Fail(stderr, "perftarget", cli.Errorf("--log-level %q is not debug, info, warn or error", *logLevel))
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg, err := config.Resolve(*configFile, config.SectionPerftarget)
	if err != nil {
		return cli.FailConfig(stderr, "perftarget", err, 1)
	}
	pt := cfg.Perftarget
	fs.Visit(func(f *flag.Flag) { // only flags given on the command line override the file
		switch f.Name {
		case "host":
			pt.Host = *host
		case "mqtt-port":
			pt.MQTTPort = *mqttPort
		case "nats-port":
			pt.NATSPort = *natsPort
		case "monitor-port":
			pt.MonitorPort = *monitorPort
		case "store-dir":
			pt.StoreDir = *storeDir
		case "server-name":
			pt.ServerName = *serverName
		case "metrics-addr":
			pt.MetricsAddr = *metricsAddr
		}
	})
	return serve(ctx, log, pt, stderr)
}

// serve runs the broker and the metrics endpoint until ctx ends; it returns the exit code.
func serve(ctx context.Context, log *slog.Logger, pt config.Perftarget, stderr io.Writer) int {
	// The metrics port is opened before the broker so that a taken port fails fast, before JetStream starts.
	var metricsLn net.Listener
	if pt.MetricsAddr != "" {
		var err error
		if metricsLn, err = net.Listen("tcp", pt.MetricsAddr); err != nil {
			fmt.Fprintf(stderr, "perftarget: cannot listen for metrics on %s: %v\nChoose a free address with --metrics-addr or perftarget.metrics_addr (empty turns metrics off).\n", pt.MetricsAddr, err)
			return 1
		}
	}

	opts := target.FromConfig(pt)
	opts.Logger = log
	srv, err := target.Start(opts)
	if err != nil {
		if metricsLn != nil {
			metricsLn.Close()
		}
		fmt.Fprintf(stderr, "perftarget: %v\n%s", err, hint(err))
		return 1
	}

	attrs := []any{"mqtt", srv.MQTTAddr(), "mqtt_tls", opts.TLSCertFile != "", "nats", srv.NATSURL()}
	if opts.Username != "" {
		attrs = append(attrs, "user", opts.Username)
	}
	if srv.MonitorURL() != "" {
		attrs = append(attrs, "monitor", srv.MonitorURL())
	}
	if metricsLn != nil {
		attrs = append(attrs, "metrics", "http://"+metricsLn.Addr().String()+"/metrics")
	}
	if opts.StoreDir != "" {
		attrs = append(attrs, "store_dir", opts.StoreDir)
	}
	log.Info("listening", attrs...)

	code := 0
	var web *http.Server
	served := make(chan error, 1)
	if metricsLn != nil {
		web = &http.Server{Handler: metrics.Handler(srv), ReadHeaderTimeout: 5 * time.Second}
		go func() { served <- web.Serve(metricsLn) }()
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-served:
		served <- err // keep it for the wait below
		log.Error("metrics server stopped; shutting down", "err", err)
		code = 1
	}
	if web != nil {
		shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := web.Shutdown(shutCtx); err != nil {
			log.Warn("metrics server shutdown", "err", err)
		}
		cancel()
		<-served
	}
	srv.Shutdown()
	log.Info("stopped")
	return code
}

// hint tells what to change for the errors an operator can fix.
func hint(err error) string {
	var le *target.ListenError
	switch {
	case errors.As(err, &le):
		key := map[string]string{
			"mqtt":    "--mqtt-port or perftarget.mqtt_port",
			"nats":    "--nats-port or perftarget.nats_port",
			"monitor": "--monitor-port or perftarget.monitor_port (-1 turns monitoring off)",
		}[le.Listener]
		return fmt.Sprintf("Is another broker running? Choose a free port with %s.\n", key)
	case errors.Is(err, target.ErrTLSCertificate):
		return "Check perftarget.tls.cert_file and perftarget.tls.key_file: both must be readable PEM files that belong together.\n"
	}
	return ""
}
