package mqttload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// Exit codes of Run.
const (
	ExitOK      = 0   // the run completed
	ExitFailed  = 1   // the run failed: broker unreachable, a connection dropped, publishes failed
	ExitUsage   = 2   // bad flags or configuration; nothing ran
	ExitAborted = 130 // interrupted by SIGINT or SIGTERM (or the caller's context)
)

// EnvPassword is the environment variable holding the MQTT password. There is no flag for it, so it never shows
// in a process list or a shell history.
const EnvPassword = "MQTT_PASSWORD"

const usageText = `Usage: producer mqtt [flags]

Measures an MQTT 3.1.1 broker: publishers send messages on an absolute schedule (open loop), subscribers
receive them and measure end-to-end latency, both from the intended send time (corrected for coordinated
omission) and from the actual send time (uncorrected), and count lost, duplicated and out-of-order messages.
A progress line is printed every second and a summary at the end; run records (run_started, one sample per
second, run_finished) go to Kafka through the producer's spool when kafka.brokers is configured.

Topics: {id} in --topic is the publisher's index, in --subscribe-topic the subscriber's index.
  pairs    --topic 'bench/{id}'                       publisher i → subscriber i (the default)
  fan-in   --topic bench/all --subscribers 1           every publisher → one subscriber
  fan-out  --topic bench/all --publishers 1            one publisher → every subscriber
  all      --topic 'bench/{id}' --subscribe-topic 'bench/+'   every subscriber hears every publisher

Examples:
  producer mqtt --broker tcp://broker:1883 --publishers 10 --subscribers 10 --qos 1 --rate 10000 --duration 60s --warmup 10s
  producer mqtt --embedded-target --qos 0 --rate 0 --duration 10s          # in-process NATS, as fast as possible
  MQTT_PASSWORD=secret producer mqtt --broker ssl://broker:8883 --username bench --ca-file ca.pem --summary-json out.json

The password comes from $MQTT_PASSWORD, else from perftarget.password in the configuration when the user is
perftarget.username. Exit status: 0 ok, 1 failed (also: records not saved to the spool), 2 usage error,
130 interrupted.

Flags:
`

// cliFlags holds the parsed command line.
type cliFlags struct {
	spoolDir       string
	configPath     string
	broker         string
	embedded       bool
	publishers     int
	subscribers    int
	qos            uint
	size           int
	rate           float64
	inflight       int
	duration       time.Duration
	count          int64
	warmup         time.Duration
	drain          time.Duration
	connectTimeout time.Duration
	topic          string
	subscribeTopic string
	retain         bool
	clientIDPrefix string
	username       string
	caFile         string
	certFile       string
	keyFile        string
	insecure       bool
	name           string
	tags           map[string]string
	summaryJSON    string
	perftoolTopic  string
	compareWith    string
	maxRegression  compare.Thresholds
	set            map[string]bool // flags given on the command line
}

// parseFlags parses the command line. --help prints the usage to stdout and returns flag.ErrHelp; any other error
// is a one-line usage error (see internal/cli).
func parseFlags(args []string, stdout io.Writer) (*cliFlags, error) {
	f := &cliFlags{tags: map[string]string{}, set: map[string]bool{}}
	fs := flag.NewFlagSet("producer mqtt", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&f.spoolDir, "spool-dir", "", "spool `directory` for the run's records (default producer.spool_dir from the configuration)")
	fs.StringVar(&f.broker, "broker", DefaultBroker, "broker `URL`: tcp://host:port, or ssl://host:port for TLS")
	fs.BoolVar(&f.embedded, "embedded-target", false, "start the NATS MQTT target in-process on 127.0.0.1 and measure it (instead of --broker)")
	fs.IntVar(&f.publishers, "publishers", 1, "`N` publishing connections")
	fs.IntVar(&f.subscribers, "subscribers", 1, "`N` subscribing connections (0 = publish only)")
	fs.UintVar(&f.qos, "qos", 0, "MQTT QoS for publishing and subscribing: `0|1|2`")
	fs.IntVar(&f.size, "size", DefaultSize, fmt.Sprintf("payload size in `BYTES`, at least %d (the header)", HeaderSize))
	fs.Float64Var(&f.rate, "rate", 0, "`MSG/S` over all publishers, on an absolute schedule; 0 = as fast as possible")
	fs.IntVar(&f.inflight, "inflight", DefaultInflight, "at most `N` publishes per publisher awaiting confirmation (written for QoS 0, acknowledged for QoS 1/2)")
	fs.DurationVar(&f.duration, "duration", DefaultDuration, "measure for `D` after the warm-up (0 with --count: until the count is sent)")
	fs.Int64Var(&f.count, "count", 0, "publish `N` messages in all, warm-up included; 0 = no limit")
	fs.DurationVar(&f.warmup, "warmup", 0, "warm up for `D` first: load as measured, shown, but excluded from the summary")
	fs.DurationVar(&f.drain, "drain", DefaultDrain, "after the last publish, wait at most `D` for outstanding deliveries")
	fs.DurationVar(&f.connectTimeout, "connect-timeout", DefaultConnectTimeout, "give up a connection or subscription after `D`")
	fs.StringVar(&f.topic, "topic", DefaultTopic, "publish topic `pattern`; {id} = publisher index")
	fs.StringVar(&f.subscribeTopic, "subscribe-topic", "", "subscription filter `pattern`; {id} = subscriber index, + and # allowed (default --topic)")
	fs.BoolVar(&f.retain, "retain", false, "publish retained messages (cleared again at the end)")
	fs.StringVar(&f.clientIDPrefix, "client-id-prefix", DefaultClientIDPrefix, "client ids are `PREFIX`-<run>-p<i> and -s<i>")
	fs.StringVar(&f.username, "username", "", "MQTT `user` (default perftarget.username from the configuration); password from $"+EnvPassword)
	fs.StringVar(&f.caFile, "ca-file", "", "PEM `file` of CA certificates to verify the broker (TLS)")
	fs.StringVar(&f.certFile, "cert-file", "", "PEM client certificate `file` (TLS client authentication)")
	fs.StringVar(&f.keyFile, "key-file", "", "PEM client key `file` (with --cert-file)")
	fs.BoolVar(&f.insecure, "insecure", false, "do not verify the broker's TLS certificate")
	fs.StringVar(&f.name, "name", "", "run `name` shown in the viewer")
	cli.TagFlag(fs, f.tags, "run tag `k=v` (repeatable); adds to producer.tags from the configuration")
	fs.StringVar(&f.summaryJSON, "summary-json", "", "write the run's summary as JSON to `FILE` once its records are closed: status, error, exit_code and records_not_saved (records not saved to the spool) are final")
	fs.StringVar(&f.compareWith, "compare-with", "", "after the run, wait until it is in the database and compare it over GraphQL (graphql.url) with `last|history|RUN_ID`: last = the latest finished run with the same kind, device and parameters, history = their current segment")
	fs.Var(&f.maxRegression, "max-regression", "with --compare-with: exit 1 when a figure is worse by more than `SPEC`, e.g. 5% or p99=10%,throughput=3% (repeatable); throughput and latency only when significantly worse (see producer compare --help)")
	fs.StringVar(&f.perftoolTopic, "perftool-compat", "", "also publish a SINETStream perftool result (v3 framing) for the run to Kafka `TOPIC`, e.g. perftool-sinetstream-result, so an existing SINETStream perftool server shows it")
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			cli.PrintDefaults(stdout, fs)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, cli.Errorf("unexpected argument %q (producer mqtt takes flags only)", fs.Arg(0))
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if f.embedded && f.set["broker"] {
		return nil, cli.Errorf("--embedded-target and --broker exclude each other")
	}
	if f.qos > 2 {
		return nil, cli.Errorf("--qos must be 0, 1 or 2, got %d", f.qos)
	}
	if (f.certFile == "") != (f.keyFile == "") {
		return nil, cli.Errorf("--cert-file and --key-file go together")
	}
	if f.set["count"] && !f.set["duration"] {
		f.duration = 0 // --count alone: run until the count is sent
	}
	return f, nil
}

// parameters is the run_started parameters object: the load shape.
type parameters struct {
	Publishers     int     `json:"publishers"`
	Subscribers    int     `json:"subscribers"`
	QoS            int     `json:"qos"`
	Size           int     `json:"size"`
	Rate           float64 `json:"rate"` // 0 = as fast as possible
	Inflight       int     `json:"inflight"`
	DurationS      float64 `json:"duration_s"`
	Count          int64   `json:"count"`
	WarmupS        float64 `json:"warmup_s"`
	DrainS         float64 `json:"drain_s"`
	Topic          string  `json:"topic"`
	SubscribeTopic string  `json:"subscribe_topic"`
	Retain         bool    `json:"retain"`
	ClientIDPrefix string  `json:"client_id_prefix"`
	TLS            bool    `json:"tls"`
	EmbeddedTarget bool    `json:"embedded_target"`
	Protocol       string  `json:"protocol"`
}

func paramsOf(c Config, embedded bool) parameters {
	return parameters{
		Publishers: c.Publishers, Subscribers: c.Subscribers, QoS: int(c.QoS), Size: c.Size, Rate: c.Rate,
		Inflight: c.Inflight, DurationS: c.Duration.Seconds(), Count: c.Count, WarmupS: c.Warmup.Seconds(),
		DrainS: c.Drain.Seconds(), Topic: c.Topic, SubscribeTopic: c.SubscribeTopic, Retain: c.Retain,
		ClientIDPrefix: c.ClientIDPrefix, TLS: c.TLS != nil, EmbeddedTarget: embedded, Protocol: "MQTT 3.1.1",
	}
}

// tlsConfig builds the client TLS settings from the spec; nil when the broker URL and spec ask for none.
func tlsConfig(s Spec, broker string) (*tls.Config, error) {
	secure := secureScheme(broker)
	if !secure && s.CAFile == "" && s.CertFile == "" && !s.Insecure {
		return nil, nil
	}
	if !secure {
		return nil, fmt.Errorf("TLS flags given but --broker %s is not an ssl:// (or tls://, mqtts://, wss://) URL", schema.RedactURL(broker))
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: s.Insecure}
	if s.CAFile != "" {
		pem, err := os.ReadFile(s.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read --ca-file: %w", err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca-file %s holds no PEM certificate", s.CAFile)
		}
	}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load --cert-file/--key-file: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// Run is the `producer mqtt` subcommand: it parses args, runs one benchmark (Execute), prints progress and the
// summary to stdout, publishes the run's records and returns the exit status (ExitOK, ExitFailed, ExitUsage,
// ExitAborted). SIGINT and SIGTERM, like ctx ending, stop the run early; it is recorded as aborted and the
// summary is still printed.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Everything the command prints, records or writes to --summary-json passes through red, which masks the
	// passwords it knows ($MQTT_PASSWORD, the configuration's, one in --broker) and any URL's password.
	red := schema.NewRedactor(schema.EnvSecrets(os.Getenv)...)
	for _, a := range args {
		red.Add(schema.ConnSecrets(a)...)
	}
	// The help is printed as written: its example password is no secret.
	help := stdout
	stdout, stderr = red.Writer(stdout), red.Writer(stderr)
	spec, o, err := ParseSpec(args, help)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return cli.Fail(stderr, "producer mqtt", err)
	}
	cfg, err := config.Resolve(o.ConfigPath, config.SectionKafka, config.SectionTopics, config.SectionProducer, config.SectionPerftarget, config.SectionGraphQL)
	if err != nil {
		return cli.FailConfig(stderr, "producer mqtt", err, ExitUsage)
	}
	if o.SpoolDir != "" {
		cfg.Producer.SpoolDir = o.SpoolDir
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	out := Execute(ctx, recorder.Env{Config: cfg, Stdout: stdout, Stderr: stderr, Redactor: red, Name: o.Name,
		Tags: o.Tags, SummaryJSON: o.SummaryJSON}, spec)
	if o.CompareWith != "" && (out.Status == schema.StatusOK || out.NotSaved) {
		return recorder.CompareAfter(ctx, cfg, "producer mqtt", out, o.CompareWith, o.MaxRegression, stdout, stderr)
	}
	return out.Exit
}

// Execute runs one MQTT benchmark of spec end to end in env: run_started, a progress line and a sample every
// second, the summary, run_finished (and env.SummaryJSON, and the perftool result with spec.PerftoolCompat). The
// password comes from $MQTT_PASSWORD, else perftarget.password when the user is perftarget.username. ctx ending
// stops the run early: it is recorded as aborted with the samples it made, and the summary is still printed. A
// spec that does not validate is reported on env.Stderr as a usage error (Exit ExitUsage) and nothing is
// recorded.
func Execute(ctx context.Context, env recorder.Env, spec Spec) (out recorder.Outcome) {
	env = env.Prepared()
	stdout, stderr, red, cfg := env.Stdout, env.Stderr, env.Redactor, env.Config
	red.Add(cfg.Perftarget.Password, cfg.Kafka.SASL.Password)
	usage := func(err error) recorder.Outcome {
		return recorder.Outcome{Status: schema.StatusFailed, Err: recorder.OneLine(red.Text(err.Error())), Exit: cli.Fail(stderr, "producer mqtt", err)}
	}
	if err := spec.flagErrors(); err != nil {
		return usage(err)
	}

	ec := spec.config()
	if ec.Username == "" {
		ec.Username = cfg.Perftarget.Username
	}
	ec.Password = os.Getenv(EnvPassword)
	if ec.Password == "" && ec.Username != "" && ec.Username == cfg.Perftarget.Username {
		ec.Password = cfg.Perftarget.Password
	}
	red.Add(ec.Password)
	if !spec.EmbeddedTarget {
		var err error
		if ec.TLS, err = tlsConfig(spec, ec.Broker); err != nil {
			return usage(err)
		}
	}
	// Check the load shape before anything starts; Connect checks again with the real broker URL.
	probe := ec
	if spec.EmbeddedTarget {
		probe.Broker = "tcp://127.0.0.1:1883"
	}
	if err := probe.withDefaults().validate(); err != nil {
		return usage(err)
	}
	for _, w := range probe.Warnings() {
		fmt.Fprintf(stderr, "producer mqtt: warning: %s\n", w)
	}

	rec, err := env.Recorder(ctx, "producer mqtt")
	if err != nil {
		fmt.Fprintf(stderr, "producer mqtt: %v\n", err)
		return recorder.Outcome{Status: schema.StatusFailed, Err: red.Text(err.Error()), Exit: ExitFailed}
	}
	r := &mqttRun{Recorder: rec, spec: spec, env: env, red: red, stdout: stdout, stderr: stderr}
	// Records that could not be saved fail an otherwise successful run (recorder.ExitNotSaved).
	defer func() { out = r.close(out) }()

	tools := hostinfo.Tools(map[string]string{"github.com/eclipse/paho.mqtt.golang": "paho.mqtt.golang"})
	startedAt := time.Now().UTC()
	var targetVersion string
	if spec.EmbeddedTarget {
		srv, err := target.Start(target.Options{
			ServerName: cfg.Perftarget.ServerName, Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1, MonitorPort: 0,
			Username: cfg.Perftarget.Username, Password: cfg.Perftarget.Password,
			// nats-server's start-up banner would bury the progress lines; warnings and errors still show.
			Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})).With("component", "perftarget"),
		})
		if err != nil {
			fmt.Fprintf(stderr, "producer mqtt: start the embedded target: %v\n", err)
			return recorder.Outcome{Status: schema.StatusFailed, Err: red.Text("start the embedded target: " + err.Error()), Exit: ExitFailed}
		}
		defer srv.Shutdown()
		ec.Broker = "tcp://" + srv.MQTTAddr()
		tools["nats-server"] = server.VERSION
		targetVersion = "nats-server " + server.VERSION
	}
	ec = ec.withDefaults()
	params, _ := json.Marshal(paramsOf(ec, spec.EmbeddedTarget))
	r.params = params
	host, port := brokerHostPort(ec.Broker)
	started := schema.Started{
		Name:       env.Name,
		Tags:       r.Tags(env.Tags),
		Parameters: params,
		Target:     schema.Target{URL: schema.RedactURL(ec.Broker), Host: host, Port: port, Version: targetVersion},
		Host:       r.Host(),
		Tools:      tools,
		StartedAt:  startedAt,
	}

	bench, err := Connect(ctx, ec)
	if err != nil {
		// The run is recorded even though it never measured: a broker that is down is a result too.
		r.Begin(schema.KindMQTT, red.Started(started))
		status := schema.StatusFailed
		if ctx.Err() != nil {
			status = schema.StatusAborted
		}
		fmt.Fprintf(stderr, "producer mqtt: %v\n", err)
		return r.finish(&Result{Status: status, Err: err}, ec, false)
	}
	defer bench.Close()
	if !spec.EmbeddedTarget {
		started.Target.Version = bench.BrokerVersion(300 * time.Millisecond)
	}
	r.Begin(schema.KindMQTT, red.Started(started))
	fmt.Fprintf(stdout, "run %s: %s → %s\n", r.Run().ID(), describe(ec), schema.RedactURL(ec.Broker))

	progress := stats.NewProgress(stdout, stats.IsTerminal(stdout))
	res := bench.Run(ctx, func(iv Interval) {
		progress.Show(progressLine(iv, ec.Subscribers > 0))
		r.Publish(r.Run().Sample(iv.Sample))
	})
	progress.Done()
	bench.Close()
	return r.finish(res, ec, true)
}

func exitCode(s schema.Status) int {
	switch s {
	case schema.StatusOK:
		return ExitOK
	case schema.StatusAborted:
		return ExitAborted
	}
	return ExitFailed
}

// describe says in one line what the run does.
func describe(c Config) string {
	rate := "as fast as possible"
	if c.Rate > 0 {
		rate = fmt.Sprintf("%g msg/s", c.Rate)
	}
	length := c.Duration.String()
	if c.Count > 0 {
		length = fmt.Sprintf("%d messages", c.Count)
		if c.Duration > 0 {
			length += " or " + c.Duration.String()
		}
	}
	if c.Warmup > 0 {
		length += fmt.Sprintf(" after %v warm-up", c.Warmup)
	}
	return fmt.Sprintf("%d publishers, %d subscribers, QoS %d, %d B, %s, %s, topic %s", c.Publishers, c.Subscribers, c.QoS, c.Size, rate, length, c.Topic)
}

func progressLine(iv Interval, subscribers bool) stats.Line {
	d := iv.End.Sub(iv.Start)
	l := stats.Line{
		Elapsed: iv.Elapsed, Phase: iv.Phase, WarmupLeft: iv.WarmupLeft, Errors: iv.Errors,
		Rates: []stats.RateValue{{Label: "sent", PerS: stats.Rate(iv.MQTT.Sent, d)}},
	}
	if subscribers {
		l.Rates = append(l.Rates, stats.RateValue{Label: "received", PerS: stats.Rate(iv.MQTT.Received, d)})
	}
	if iv.Latency != nil {
		l.P99Ms, l.HasP99 = iv.Latency.P99Ms, true
	}
	if iv.MQTT.Lost > 0 {
		l.Note = fmt.Sprintf("gaps %d", iv.MQTT.Lost)
	}
	if iv.Draining {
		l.Note = strings.TrimPrefix(l.Note+" | draining", " | ")
	}
	return l
}

// mqttRun is one run's record keeping and output.
type mqttRun struct {
	spec Spec
	env  recorder.Env
	*recorder.Recorder
	red    *schema.Redactor // applied to everything printed, recorded or written
	params json.RawMessage
	stdout io.Writer
	stderr io.Writer
	// summary is --summary-json's figures, made by finish; close adds the run's final outcome and writes it.
	summary *SummaryFile
}

// close closes the records and returns out with what that changed: a run whose records could not all be saved
// fails. Then it writes --summary-json, with that final outcome: a script reading the file learns what the exit
// status says.
func (r *mqttRun) close(out recorder.Outcome) recorder.Outcome {
	out = recorder.CloseOutcome(r.Recorder, out)
	if r.env.SummaryJSON != "" && r.summary != nil {
		if err := recorder.WriteSummary(r.env.SummaryJSON, r.summary, out, r.red.Text); err != nil {
			fmt.Fprintf(r.stderr, "producer mqtt: %v\n", err)
		}
	}
	return out
}

// finish records the end of the run, prints its summary (when it ran) and makes the summary file's figures, and
// returns the run's outcome before its records are closed.
func (r *mqttRun) finish(res *Result, ec Config, ran bool) recorder.Outcome {
	errText := ""
	if res.Err != nil {
		errText = r.red.Text(res.Err.Error())
	}
	r.Publish(r.red.Record(r.Run().Finished(res.Status, errText, res.Summary)))
	if ran {
		table := summaryTable(res, ec)
		if _, err := table.WriteTo(r.stdout); err != nil {
			fmt.Fprintf(r.stderr, "producer mqtt: print summary: %v\n", err)
		}
	}
	if res.Status != schema.StatusOK {
		fmt.Fprintf(r.stdout, "run %s %s: %s\n", r.Run().ID(), res.Status, errText)
	}
	s := summaryFile(r.Run().ID(), r.params, ec, res, r.red)
	r.summary = &s
	if r.spec.PerftoolCompat != "" && res.Summary != nil {
		if err := r.publishPerftool(res, ec); err != nil {
			fmt.Fprintf(r.stderr, "producer mqtt: --perftool-compat: %v\n", err)
		}
	}
	return recorder.Outcome{RunID: r.Run().ID(), Status: res.Status, Err: errText, Exit: exitCode(res.Status)}
}

func summaryTable(res *Result, ec Config) *stats.Table {
	t := &stats.Table{Title: "Summary (measurement phase, warm-up excluded)"}
	add := func(label, format string, args ...any) {
		t.Rows = append(t.Rows, stats.Row{Label: label, Value: fmt.Sprintf(format, args...)})
	}
	tot := res.Totals
	var d time.Duration
	if s := res.Summary; s != nil {
		d = s.End.Sub(s.Start)
	}
	add("status", "%s", res.Status)
	if res.Partial {
		add("partial", "yes: publishing stopped early; figures cover the time until then")
	}
	add("duration", "%.3f s", d.Seconds())
	offered := "as fast as possible"
	if ec.Rate > 0 {
		offered = fmt.Sprintf("%.1f msg/s", ec.Rate)
	}
	add("offered rate", "%s", offered)
	add("sent", "%d (%.1f msg/s)", tot.Sent, stats.Rate(tot.Sent, d))
	if ec.Subscribers > 0 {
		add("received", "%d (%.1f msg/s, %.2f MB/s)", tot.Received, stats.Rate(tot.Received, d), stats.Rate(tot.Bytes, d)/1e6)
		add("lost", "%d", tot.Lost)
		add("duplicated", "%d", tot.Duplicated)
		add("out of order", "%d", tot.OutOfOrder)
	}
	add("errors", "%d (publish %d, disconnects %d)", tot.Errors, tot.PublishErrors, tot.Disconnects)
	if tot.Foreign > 0 {
		add("ignored", "%d messages not from this run", tot.Foreign)
	}
	if ec.Subscribers > 0 {
		var corrected *schema.Latency
		if res.Summary != nil {
			corrected = res.Summary.Latency
		}
		t.Latency = []stats.LatencyRow{{Label: "corrected", Latency: corrected}, {Label: "uncorrected", Latency: res.Uncorrected}}
	}
	return t
}

// SummaryFile is what --summary-json writes, once the run's records are closed: Final is the run's final outcome,
// records not saved to the spool included.
type SummaryFile struct {
	RunID uuid.UUID `json:"run_id"`
	Kind  string    `json:"kind"`
	recorder.Final
	Partial    bool            `json:"partial"`
	Broker     string          `json:"broker"`
	Parameters json.RawMessage `json:"parameters"`
	Start      *time.Time      `json:"start,omitempty"` // of the measurement phase
	End        *time.Time      `json:"end,omitempty"`
	DurationS  float64         `json:"duration_s"`
	Totals     SummaryTotals   `json:"totals"`
	Rates      SummaryRates    `json:"rates"`
	LatencyMs  SummaryLatency  `json:"latency_ms"`
}

// SummaryTotals are the measurement phase's counts.
type SummaryTotals struct {
	Sent                int64 `json:"sent"`
	Received            int64 `json:"received"`
	Bytes               int64 `json:"bytes"`
	Errors              int64 `json:"errors"`
	PublishErrors       int64 `json:"publish_errors"`
	Disconnects         int64 `json:"disconnects"`
	Lost                int64 `json:"lost"`
	Duplicated          int64 `json:"duplicated"`
	OutOfOrder          int64 `json:"out_of_order"`
	ReceivedUnconfirmed int64 `json:"received_unconfirmed"`
	Foreign             int64 `json:"foreign"`
}

// SummaryRates are per second over the measurement phase; Offered is 0 for an unthrottled run.
type SummaryRates struct {
	Offered  float64 `json:"offered"`
	Sent     float64 `json:"sent"`
	Received float64 `json:"received"`
}

// SummaryLatency holds the end-to-end latency from the intended send time (corrected for coordinated
// omission) and from the actual send time (uncorrected).
type SummaryLatency struct {
	Corrected   *schema.Latency `json:"corrected"`
	Uncorrected *schema.Latency `json:"uncorrected"`
}

// summaryFile is the summary of the run that ended with res: its figures, without the outcome (status, error, exit
// code, records not saved), which closing the records decides.
func summaryFile(id uuid.UUID, params json.RawMessage, ec Config, res *Result, red *schema.Redactor) SummaryFile {
	s := SummaryFile{RunID: id, Kind: schema.KindMQTT, Partial: res.Partial, Broker: red.URL(ec.Broker), Parameters: red.JSON(params)}
	t := res.Totals
	s.Totals = SummaryTotals{Sent: t.Sent, Received: t.Received, Bytes: t.Bytes, Errors: t.Errors, PublishErrors: t.PublishErrors,
		Disconnects: t.Disconnects, Lost: t.Lost, Duplicated: t.Duplicated, OutOfOrder: t.OutOfOrder,
		ReceivedUnconfirmed: t.ReceivedUnconfirmed, Foreign: t.Foreign}
	s.Rates.Offered = ec.Rate
	s.LatencyMs.Uncorrected = res.Uncorrected
	if sum := res.Summary; sum != nil {
		start, end := sum.Start.UTC(), sum.End.UTC()
		s.Start, s.End = &start, &end
		d := sum.End.Sub(sum.Start)
		s.DurationS = d.Seconds()
		s.Rates.Sent = stats.Rate(t.Sent, d)
		s.Rates.Received = stats.Rate(t.Received, d)
		s.LatencyMs.Corrected = sum.Latency
	}
	return s
}
