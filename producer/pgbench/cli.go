package pgbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// Exit codes of Run besides pgbench's own, which are passed on (0 ok, 1 bad options or no connection, 2 the run
// was aborted by an error).
const (
	ExitOK      = 0   // pgbench completed the run
	ExitFailed  = 1   // pgbench failed to start or connect (pgbench's 1), or the producer could not run it
	ExitUsage   = 2   // bad producer flags; nothing ran and nothing was recorded (pgbench uses 2 for aborted runs)
	ExitAborted = 130 // interrupted by SIGINT or SIGTERM (or the caller's context); pgbench was stopped
)

// serverVersionTimeout bounds the best-effort SHOW server_version before the run.
const serverVersionTimeout = 3 * time.Second

const usageText = `Usage: producer pgbench [flags] -- [pgbench options] [dbname]

Runs the real pgbench with your options, untouched, and records the run: one sample per progress interval
(every second) with exact latency percentiles of every transaction that ended in it, read from pgbench's
per-transaction log as it is written, and pgbench's own figures from its progress line; at the end, pgbench's
summary next to the producer's totals, and any disagreement between them. Run records (run_started, samples,
run_finished) go to Kafka through the producer's spool when kafka.brokers is configured.

The producer adds -P 1, --progress-timestamp and -l --log-prefix <private temporary directory>, unless your
options already decide them: with your own -P N the samples are N seconds apart; with your own -l (and
--log-prefix) your log files are followed and kept; --sampling-rate makes the percentiles estimates;
--aggregate-interval leaves no per-transaction log, hence no percentiles. What is lost is said on stderr.
pgbench runs with LC_ALL=C; PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD reach it unchanged, and no
password is ever recorded or printed.

Examples:
  producer pgbench -- -c 8 -j 2 -T 60 bench                      # 60 one-second samples
  producer pgbench --init-scale 10 --warmup 10s -- -S -c 8 -j 2 -T 70 -h db.lab -U bench bench
  PGPASSWORD=secret producer pgbench --name nightly --tag site=lab -- -R 500 -L 20 -T 300 postgresql://bench@db/bench
  producer pgbench --summary-json out.json -- -f ./mix.sql@3 -b select-only@1 -c 16 -T 120 bench
  producer pgbench --observe -- -S -c 8 -T 60 postgresql://bench@pgpool:9999/bench   # watch producer.pgbench.observe's cluster

With --observe, the cluster in producer.pgbench.observe (nodes, Pgpool-II) is probed every second while the load
runs: roles, timeline, WAL position, lag, connections, reads per node. Each round is recorded with the run, events
(role change, node down, two primaries at once) are printed as they come, and a run whose topology changed is
flagged in its record and ends with a warning.

The warm-up is part of pgbench's -T: with -T 70 --warmup 10s, 60 s are measured. Exit status: pgbench's own
(0 ok, 1 bad options or no connection, 2 aborted by errors), 2 also for bad producer flags, 130 interrupted;
1 when pgbench succeeded but records could not be saved to the spool.

Flags:
`

// cliFlags holds the parsed command line.
type cliFlags struct {
	spoolDir    string
	configPath  string
	pgbenchPath string
	warmup      time.Duration
	initScale   int
	name        string
	tags        map[string]string
	summaryJSON string
	keepLogs    bool
	logDir      string
	compareWith string
	maxRegress  compare.Thresholds
	observe     bool
	pgbenchArgs []string
}

// parseFlags parses the producer's flags; what follows them (after "--") is pgbench's. --help prints the usage to
// stdout and returns flag.ErrHelp; any other error is a one-line usage error (see internal/cli).
func parseFlags(args []string, stdout io.Writer) (*cliFlags, error) {
	f := &cliFlags{tags: map[string]string{}}
	fs := flag.NewFlagSet("producer pgbench", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&f.spoolDir, "spool-dir", "", "spool `directory` for the run's records (default producer.spool_dir from the configuration)")
	fs.StringVar(&f.pgbenchPath, "pgbench", "", "pgbench `binary` (default producer.pgbench.path from the configuration, else pgbench on PATH)")
	fs.DurationVar(&f.warmup, "warmup", 0, "treat the first `D` of the run as warm-up: sampled and shown, excluded from the totals (rounded up to whole progress intervals)")
	fs.IntVar(&f.initScale, "init-scale", 0, "first initialise the database with pgbench -i -s `N` (same connection options), as a phase of the run")
	fs.StringVar(&f.name, "name", "", "run `name` shown in the viewer")
	cli.TagFlag(fs, f.tags, "run tag `k=v` (repeatable); adds to producer.tags from the configuration")
	fs.StringVar(&f.summaryJSON, "summary-json", "", "write the run's summary as JSON to `FILE` once its records are closed: status, error, exit_code and records_not_saved (records not saved to the spool) are final")
	fs.StringVar(&f.compareWith, "compare-with", "", "after the run, wait until it is in the database and compare it over GraphQL (graphql.url) with `last|history|RUN_ID`: last = the latest finished run with the same kind, device and parameters, history = their current segment")
	fs.Var(&f.maxRegress, "max-regression", "with --compare-with: exit 1 when a figure is worse by more than `SPEC`, e.g. 5% or tps=3%,p99=10% (repeatable); throughput and latency only when significantly worse (see producer compare --help)")
	fs.BoolVar(&f.observe, "observe", false, "watch the cluster in producer.pgbench.observe while the load runs (roles, lag, reads per node, split brain); each round is recorded with the run")
	fs.BoolVar(&f.keepLogs, "keep-logs", false, "keep the per-transaction log files the producer had pgbench write (their directory is printed and in --summary-json)")
	fs.StringVar(&f.logDir, "log-dir", "", "create the private per-transaction log directory in `DIR` (default $TMPDIR); it grows by about 35 bytes per transaction, freed as it is read")
	if err := cli.Parse(fs, args); err != nil {
		var ue *cli.Error
		switch {
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprint(stdout, usageText)
			cli.PrintDefaults(stdout, fs)
		case errors.As(err, &ue) && ue.Unknown:
			// Most likely one of pgbench's own options given before "--".
			ue.Msg = fmt.Sprintf("unknown flag %s: pgbench's own options go after --, e.g. producer pgbench -- -c 8 -T 60 bench", cli.Dash(ue.Flag))
		}
		return nil, err
	}
	f.pgbenchArgs = fs.Args()
	if f.warmup < 0 {
		return nil, cli.Errorf("--warmup must not be negative")
	}
	if f.initScale < 0 {
		return nil, cli.Errorf("--init-scale must be positive")
	}
	return f, nil
}

// parameters is the run_started parameters object: the pgbench command line and the producer's flags.
type parameters struct {
	PgbenchArgs           []string `json:"pgbench_args"`      // as given, passwords removed
	Command               []string `json:"pgbench_command"`   // as run: the producer's additions first
	Added                 []string `json:"added_by_producer"` // what the producer added
	Clients               int      `json:"clients"`
	Threads               int      `json:"threads"`
	DurationS             float64  `json:"duration_s,omitempty"`
	TransactionsPerClient int64    `json:"transactions_per_client,omitempty"`
	Rate                  float64  `json:"rate,omitempty"`
	LatencyLimitMs        float64  `json:"latency_limit_ms,omitempty"`
	MaxTries              int64    `json:"max_tries"`
	Scripts               []string `json:"scripts"`
	Protocol              string   `json:"protocol,omitempty"`
	Connect               bool     `json:"connect_per_transaction,omitempty"`
	ProgressS             float64  `json:"progress_interval_s"`
	WarmupS               float64  `json:"warmup_s"`
	InitScale             int      `json:"init_scale,omitempty"`
	LatencySource         string   `json:"latency_source"`
	SamplingRate          float64  `json:"sampling_rate,omitempty"`
}

// Run is the `producer pgbench` subcommand: it parses args (producer flags, then pgbench's after "--"), runs
// pgbench once (after pgbench -i with --init-scale) through Execute's lifecycle, prints a progress line per sample
// and the summary to stdout, publishes the run's records, and returns pgbench's exit status (see the Exit
// constants). SIGINT and SIGTERM are passed on to pgbench as they come, and ctx ending stops pgbench too; the run
// is recorded as aborted.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	// Everything the command prints, records or writes to --summary-json passes through red, which masks the
	// passwords it knows (in the arguments, the environment, service files) and any connection string's password:
	// pgbench's own error text echoes a password libpq could not parse.
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
		return cli.Fail(stderr, "producer pgbench", err)
	}
	cfg, err := config.Resolve(o.ConfigPath, config.SectionKafka, config.SectionTopics, config.SectionProducer, config.SectionGraphQL)
	if err != nil {
		return cli.FailConfig(stderr, "producer pgbench", err, ExitUsage)
	}
	if o.SpoolDir != "" {
		cfg.Producer.SpoolDir = o.SpoolDir
	}
	if o.PgbenchPath != "" {
		cfg.Producer.Pgbench.Path = o.PgbenchPath
	}
	// Signals are caught here rather than with signal.NotifyContext so the very signal can be passed on.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	out := execute(ctx, recorder.Env{Config: cfg, Stdout: stdout, Stderr: stderr, Redactor: red, Name: o.Name,
		Tags: o.Tags, SummaryJSON: o.SummaryJSON}, spec, sigs)
	if o.CompareWith != "" && (out.Status == schema.StatusOK || out.NotSaved) {
		return recorder.CompareAfter(ctx, cfg, "producer pgbench", out, o.CompareWith, o.MaxRegression, stdout, stderr)
	}
	return out.Exit
}

// Execute runs pgbench once for spec in env (after pgbench -i with spec.InitScale), end to end: run_started, a
// progress line and a sample per progress interval, the summary, run_finished (and env.SummaryJSON). pgbench is
// producer.pgbench.path, else pgbench on PATH; its password comes from the environment ($PGPASSWORD, ~/.pgpass,
// service files). ctx ending stops pgbench (SIGTERM): the run is recorded as aborted with the samples it made.
// A spec that does not validate is reported on env.Stderr as a usage error (Exit ExitUsage) and nothing is
// recorded. Outcome.Exit is what the command exits with: pgbench's own status, or the Exit constants.
func Execute(ctx context.Context, env recorder.Env, spec Spec) recorder.Outcome {
	return execute(ctx, env, spec, nil)
}

// execute is Execute with the command's signals, which are passed on to pgbench as they come.
func execute(ctx context.Context, env recorder.Env, spec Spec, sigs <-chan os.Signal) (outcome recorder.Outcome) {
	env = env.Prepared()
	stdout, stderr, red, cfg := env.Stdout, env.Stderr, env.Redactor, env.Config
	for _, a := range spec.PgbenchArgs {
		red.Add(schema.ConnSecrets(a)...)
	}
	red.Add(cfg.Kafka.SASL.Password, cfg.Perftarget.Password)
	usage := func(err error) recorder.Outcome {
		return recorder.Outcome{Status: schema.StatusFailed, Err: recorder.OneLine(red.Text(err.Error())), Exit: cli.Fail(stderr, "producer pgbench", err)}
	}
	failed := func(err error) recorder.Outcome {
		fmt.Fprintf(stderr, "producer pgbench: %v\n", err)
		return recorder.Outcome{Status: schema.StatusFailed, Err: recorder.OneLine(red.Text(err.Error())), Exit: ExitFailed}
	}
	if err := spec.flagErrors(); err != nil {
		return usage(err)
	}
	var obsCfg observe.Config
	if spec.Observe {
		var err error
		if obsCfg, err = observeConfig(cfg); err != nil {
			return usage(err)
		}
		red.Add(obsCfg.Secrets()...)
	}

	path := cfg.Producer.Pgbench.Path
	if path == "" {
		path = "pgbench"
	}
	path, err := exec.LookPath(path)
	if err != nil {
		return failed(fmt.Errorf("%w: install pgbench (postgresql-contrib, or postgresql-client on Debian) or set producer.pgbench.path", err))
	}
	version, major, err := pgbenchVersion(ctx, path)
	if err != nil {
		return failed(err)
	}
	b := readBenchArgs(spec.PgbenchArgs, major)
	if b.infoOnly {
		code := passThrough(ctx, path, spec.PgbenchArgs, stdout, stderr)
		status := schema.StatusOK
		if code != ExitOK {
			status = schema.StatusFailed
		}
		return recorder.Outcome{Status: status, Exit: code}
	}
	if err := checkBenchArgs(b, spec); err != nil {
		return usage(err)
	}
	warmup := spec.Warmup.D()
	p := makePlan(b)
	if warmup%p.interval != 0 {
		p.notes = append(p.notes, fmt.Sprintf("--warmup %v is rounded up to whole progress intervals of %v", warmup, p.interval))
	}
	for _, n := range p.notes {
		fmt.Fprintf(stderr, "producer pgbench: note: %s\n", n)
	}
	if len(b.unknown) > 0 {
		fmt.Fprintf(stderr, "producer pgbench: warning: options %s are unknown to the producer; passed to pgbench as they are\n", strings.Join(redactArgs(b.unknown), " "))
	}

	var privateDir string
	if p.privateLog {
		if privateDir, err = os.MkdirTemp(spec.LogDir, "benchpipe-pgbench-"); err != nil {
			return failed(fmt.Errorf("create the per-transaction log directory: %w", err))
		}
		if !spec.KeepLogs {
			defer os.RemoveAll(privateDir)
		}
	}
	cmdArgs, added := p.command(spec.PgbenchArgs, privateDir)

	conn, connErr := resolveConn(b, os.Getenv)
	red.Add(conn["password"], conn["sslpassword"])
	if connErr != nil {
		fmt.Fprintf(stderr, "producer pgbench: warning: %v; the run record's target stays incomplete\n", connErr)
	}
	target := conn.target()

	rec, err := env.Recorder(ctx, "producer pgbench")
	if err != nil {
		return failed(err)
	}
	r := &pgRun{Recorder: rec, spec: spec, env: env, red: red, stdout: stdout, stderr: stderr}
	// Records that could not be saved fail an otherwise successful run (recorder.ExitNotSaved), and --summary-json
	// says so.
	defer func() { outcome = r.close(outcome) }()

	// Parameters describe the load, so that `compare --baseline last` finds runs with equal ones: the private log
	// directory differs on every run and is recorded as a placeholder.
	recordedCmd, recordedAdded := cmdArgs, added
	if privateDir != "" {
		recordedCmd, recordedAdded = p.command(spec.PgbenchArgs, "<private-log-dir>")
	}
	params := parameters{
		PgbenchArgs: redactArgs(spec.PgbenchArgs), Command: redactArgs(recordedCmd), Added: recordedAdded,
		Clients: b.clients, Threads: b.threads, DurationS: b.duration.Seconds(), TransactionsPerClient: b.transactions,
		Rate: b.rate, LatencyLimitMs: b.latencyLimitMs, MaxTries: b.maxTries, Scripts: redactArgs(b.scripts),
		Protocol: b.protocol, Connect: b.connect, ProgressS: p.interval.Seconds(), WarmupS: warmup.Seconds(),
		InitScale: spec.InitScale, LatencySource: p.mode.String(),
	}
	if p.mode == modeSampled {
		params.SamplingRate = b.samplingRate
	}
	r.params, _ = json.Marshal(params)
	r.params = red.JSON(r.params)
	if connErr == nil {
		if v, err := conn.serverVersion(ctx, serverVersionTimeout); err == nil {
			target.Version = v
		}
	}
	tools := hostinfo.Tools(nil)
	tools["pgbench"] = version
	r.Begin(schema.KindPgbench, red.Started(schema.Started{
		Name: env.Name, Tags: r.Tags(env.Tags), Parameters: r.params, Target: target,
		Host: r.Host(), Tools: tools, StartedAt: time.Now().UTC(),
	}))
	r.target = red.URL(target.URL)
	r.extra = &runExtra{LatencySource: p.mode.String(), Notes: p.notes}
	if len(b.unknown) > 0 {
		r.extra.Notes = append(r.extra.Notes, "options unknown to the producer, passed on: "+strings.Join(redactArgs(b.unknown), " "))
	}

	if spec.InitScale > 0 {
		initArgs := append([]string{"-i", "-s", fmt.Sprint(spec.InitScale)}, b.connArgs()...)
		fmt.Fprintf(stdout, "run %s: phase init: pgbench %s\n", r.Run().ID(), strings.Join(redactArgs(initArgs), " "))
		out, err := runInit(ctx, path, initArgs, stdout, stderr, sigs)
		if err != nil {
			return r.fail(schema.StatusFailed, ExitFailed, fmt.Sprintf("init: %v", err))
		}
		r.extra.Init = &initPhase{Scale: spec.InitScale, Seconds: out.endedAt.Sub(out.startedAt).Seconds(), ExitCode: out.exitCode}
		if status, code, text := outcomeStatus(out); status != schema.StatusOK {
			return r.fail(status, code, "init failed: "+strings.Replace(text, "pgbench ", "pgbench -i ", 1))
		}
		fmt.Fprintf(stdout, "run %s: phase init done in %.1f s\n", r.Run().ID(), r.extra.Init.Seconds)
	}

	fmt.Fprintf(stdout, "run %s: pgbench %s → %s\n", r.Run().ID(), strings.Join(redactArgs(cmdArgs), " "), target.URL)
	s := newSampler(samplerConfig{
		mode: p.mode, interval: p.interval, warmup: warmup, threads: b.threads, logOpts: b.logOptions(),
		duration: b.duration, samplingRate: b.samplingRate,
	})
	var watch *clusterWatch
	if spec.Observe {
		if watch, err = r.startWatch(ctx, obsCfg, conn); err != nil {
			return r.fail(schema.StatusFailed, ExitFailed, err.Error())
		}
	}
	progress := stats.NewProgress(stdout, stats.IsTerminal(stdout))
	br := &benchRun{
		path: path, args: cmdArgs, logOpts: b.logOptions(), sampler: s, stderr: stderr,
		reclaim: p.privateLog && !spec.KeepLogs,
		onSample: func(iv intervalSample) {
			progress.Show(progressLine(iv, p))
			r.publishInOrder(func() schema.Record { return r.Run().Sample(iv.Sample) })
		},
	}
	if p.mode != modeProgress {
		br.prefix, br.ownDir = p.followPrefix(privateDir), p.privateLog
	}
	out, err := br.run(ctx, sigs)
	progress.Done()
	r.extra.Observation = watch.stop(ctx)
	defer watch.warn(stderr)
	if err != nil && out == nil {
		return r.fail(schema.StatusFailed, ExitFailed, err.Error())
	}
	if len(out.stdout) > 0 {
		_, _ = stdout.Write(out.stdout)
	}
	if spec.KeepLogs && privateDir != "" {
		r.logDir = privateDir
		fmt.Fprintf(stdout, "per-transaction logs kept in %s\n", privateDir)
	}
	if out.rusage != nil {
		r.pgbenchCPU = cpuSeconds(out.rusage)
	}
	return r.complete(out, err, s.result(), p, b)
}

// passThrough runs pgbench for one of its informational options (--help, --version, -b list,
// --show-script): nothing is measured or recorded.
func passThrough(ctx context.Context, path string, args []string, stdout, stderr io.Writer) int {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = pgbenchEnv()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode()
		}
		fmt.Fprintf(stderr, "producer pgbench: %v\n", err)
		return ExitFailed
	}
	return ExitOK
}

// outcomeStatus maps how pgbench ended to the run's status, the exit code and the error text. A pgbench that
// died of SIGINT or SIGTERM was stopped by someone, as when Ctrl-C reaches the terminal's whole process group
// (pgbench too, possibly before the producer hears of it): that run is aborted, not failed.
func outcomeStatus(out *benchOutcome) (schema.Status, int, string) {
	switch {
	case out.interrupted:
		return schema.StatusAborted, ExitAborted, "interrupted: pgbench was stopped"
	case out.signal == syscall.SIGINT || out.signal == syscall.SIGTERM:
		return schema.StatusAborted, ExitAborted, fmt.Sprintf("interrupted: pgbench was stopped by %v", out.signal)
	case out.signal != 0:
		return schema.StatusFailed, 128 + int(out.signal), fmt.Sprintf("pgbench was killed by signal %d (%v)", int(out.signal), out.signal)
	case out.exitCode == 0:
		return schema.StatusOK, ExitOK, ""
	}
	text := out.report.errorText()
	if text == "" {
		text = "no error message"
	}
	return schema.StatusFailed, out.exitCode, fmt.Sprintf("pgbench exited with status %d: %s", out.exitCode, text)
}

func cpuSeconds(ru *syscall.Rusage) float64 {
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// progressLine is what the live display shows for a sample.
func progressLine(iv intervalSample, p plan) stats.Line {
	l := stats.Line{
		Elapsed: iv.Elapsed, Phase: iv.Phase, WarmupLeft: iv.WarmupLeft, Errors: iv.Errors,
		Rates: []stats.RateValue{{Label: "tps", PerS: iv.OpsRate}},
	}
	if iv.Latency != nil {
		l.P99Ms, l.HasP99 = iv.Latency.P99Ms, true
	}
	var notes []string
	if pg := iv.Pgbench; pg != nil {
		if pg.LagMs > 0 {
			notes = append(notes, fmt.Sprintf("lag %.2f ms", pg.LagMs))
		}
		if pg.Skipped > 0 {
			notes = append(notes, fmt.Sprintf("skipped %d", pg.Skipped))
		}
		if pg.Retried > 0 {
			notes = append(notes, fmt.Sprintf("retried %d", pg.Retried))
		}
		if p.mode == modeProgress && iv.Ops > 0 {
			notes = append(notes, "no latency log")
		}
	}
	if iv.Behind > 2*p.interval {
		notes = append(notes, fmt.Sprintf("log %.0fs behind", iv.Behind.Seconds()))
	}
	l.Note = strings.Join(notes, " | ")
	return l
}

// pgRun is one run's record keeping and output.
type pgRun struct {
	spec Spec
	env  recorder.Env
	*recorder.Recorder
	red        *schema.Redactor // applied to everything printed, recorded or written
	params     json.RawMessage
	target     string
	extra      *runExtra
	logDir     string
	pgbenchCPU float64
	stdout     io.Writer
	stderr     io.Writer
	seqMu      sync.Mutex // see publishInOrder
	// summary is --summary-json's figures, made by fail or complete; close adds the run's final outcome and
	// writes it.
	summary *SummaryFile
}

// close closes the records and returns out with what that changed: a run whose records could not all be saved
// fails. Then it writes --summary-json, with that final outcome: a script reading the file learns what the exit
// status says.
func (r *pgRun) close(out recorder.Outcome) recorder.Outcome {
	out = recorder.CloseOutcome(r.Recorder, out)
	if r.env.SummaryJSON == "" || r.summary == nil {
		return out
	}
	if err := recorder.WriteSummary(r.env.SummaryJSON, r.summary, out, r.red.Text); err != nil {
		fmt.Fprintf(r.stderr, "producer pgbench: %v\n", err)
	}
	return out
}

// fail finishes a run that measured nothing.
func (r *pgRun) fail(status schema.Status, code int, errText string) recorder.Outcome {
	errText = r.red.Text(errText)
	fmt.Fprintf(r.stderr, "producer pgbench: %s\n", errText)
	r.Publish(r.red.Record(r.Run().Finished(status, errText, nil)))
	fmt.Fprintf(r.stdout, "run %s %s: %s\n", r.Run().ID(), status, errText)
	r.summarise(nil, samplerResult{})
	return recorder.Outcome{RunID: r.Run().ID(), Status: status, Err: errText, Exit: code}
}

// complete finishes a run whose benchmark ran: it compares our totals with pgbench's summary, records
// run_finished, prints the summary and makes --summary-json's figures.
func (r *pgRun) complete(out *benchOutcome, runErr error, res samplerResult, p plan, b benchArgs) recorder.Outcome {
	status, code, errText := outcomeStatus(out)
	if runErr != nil && status == schema.StatusOK {
		status, code, errText = schema.StatusFailed, ExitFailed, runErr.Error()
	}
	errText = r.red.Text(errText)
	e := r.extra
	e.Measured = res.measured.counts
	e.WarmupSamples = res.warmupSamples
	e.WholeRun = makeWholeRun(res, p.mode)
	e.PgbenchExitCode = out.exitCode
	if out.signal != 0 {
		e.PgbenchSignal = out.signal.String()
	}
	e.LogTruncated = out.logTrunc
	e.LateTransactions = res.late
	e.UnparsedLogLines = out.badLogLines
	if out.logErr != nil {
		e.Notes = append(e.Notes, "reading the per-transaction log failed: "+out.logErr.Error())
		fmt.Fprintf(r.stderr, "producer pgbench: warning: reading the per-transaction log failed: %v\n", out.logErr)
	}
	if out.badLogLines > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("%d log lines did not parse, e.g. %s", out.badLogLines, out.firstBadLog))
		fmt.Fprintf(r.stderr, "producer pgbench: warning: %d per-transaction log lines did not parse, e.g. %s\n", out.badLogLines, out.firstBadLog)
	}
	if out.report.badLines > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("%d progress lines did not parse, e.g. %s", out.report.badLines, out.report.firstBad))
	}
	if out.logTrunc {
		e.Notes = append(e.Notes, "pgbench was stopped by a signal before flushing its log buffers: the last samples may miss transactions")
	}
	summary, parseErr := ParseSummary(bytes.NewReader(out.stdout))
	hasSummary := !errors.Is(parseErr, ErrNoSummary)
	if hasSummary {
		e.Pgbench = summaryJSON(summary, parseErr, out.report.aborted != "")
		if p.mode == modeExact && !out.logTrunc && out.logErr == nil {
			e.Disagreements = disagreements(e.WholeRun, summary, out.report.aborted != "" || out.exitCode != 0)
		}
	}
	if len(e.Disagreements) > 0 {
		for _, d := range e.Disagreements {
			fmt.Fprintf(r.stderr, "producer pgbench: disagreement: %s\n", d)
		}
	}

	var sum *schema.Summary
	switch {
	case res.measured.samples > 0:
		sum = &schema.Summary{Start: time.UnixMicro(res.measured.start).UTC(), End: time.UnixMicro(res.measured.end).UTC(),
			Figures: measuredFigures(res, p.mode)}
	case hasSummary || res.whole.samples > 0:
		// pgbench ran but nothing was measured (every client failed at once, or the run ended in the warm-up):
		// the summary holds no figures, but carries pgbench's own account in Extra.
		e.Notes = append(e.Notes, "nothing was measured: no sample outside the warm-up")
		sum = &schema.Summary{Start: out.startedAt.UTC(), End: out.endedAt.UTC(), Figures: schema.Figures{Pgbench: &schema.PgbenchFigures{}}}
	}
	if sum != nil {
		sum.Extra = r.red.JSON(marshalExtra(e))
	}
	r.Publish(r.red.Record(r.Run().Finished(status, errText, sum)))

	if res.whole.samples > 0 {
		if _, err := summaryTable(status, res, p.mode, e, b.logOptions()).WriteTo(r.stdout); err != nil {
			fmt.Fprintf(r.stderr, "producer pgbench: print summary: %v\n", err)
		}
	}
	if status != schema.StatusOK {
		fmt.Fprintf(r.stdout, "run %s %s: %s\n", r.Run().ID(), status, errText)
	}
	r.summarise(sum, res)
	return recorder.Outcome{RunID: r.Run().ID(), Status: status, Err: errText, Exit: code}
}

// SummaryFile is what --summary-json writes, once the run's records are closed: Final is the run's final outcome,
// records not saved to the spool included.
type SummaryFile struct {
	RunID uuid.UUID `json:"run_id"`
	Kind  string    `json:"kind"`
	recorder.Final
	Target     string          `json:"target"`
	Parameters json.RawMessage `json:"parameters"`
	Start      *time.Time      `json:"start,omitempty"` // of the measurement phase
	End        *time.Time      `json:"end,omitempty"`
	DurationS  float64         `json:"duration_s"`
	Samples    int             `json:"samples"` // warm-up included
	TPS        float64         `json:"tps"`     // measured transactions per second of the measurement phase
	Totals     Counts          `json:"totals"`  // of the measurement phase
	LatencyMs  *schema.Latency `json:"latency_ms"`
	// Extra is the run record's Summary.Extra: the whole run, pgbench's own summary, disagreements, notes.
	Extra json.RawMessage `json:"extra,omitempty"`
	// LogDir holds the per-transaction logs with --keep-logs.
	LogDir string `json:"log_dir,omitempty"`
	// PgbenchCPUSeconds is the user and system CPU time pgbench used (the producer's own is not included).
	PgbenchCPUSeconds float64 `json:"pgbench_cpu_s,omitempty"`
}

// summarise makes --summary-json's figures of the run (sum is run_finished's summary, nil when nothing ran),
// without the outcome (status, error, exit code, records not saved), which closing the records decides.
func (r *pgRun) summarise(sum *schema.Summary, res samplerResult) {
	s := SummaryFile{RunID: r.Run().ID(), Kind: schema.KindPgbench,
		Target: r.target, Parameters: r.params, Samples: res.whole.samples, Totals: res.measured.counts,
		LogDir: r.logDir, PgbenchCPUSeconds: r.pgbenchCPU}
	if sum != nil {
		start, end := sum.Start, sum.End
		s.Start, s.End, s.DurationS = &start, &end, end.Sub(start).Seconds()
		s.TPS, s.LatencyMs, s.Extra = sum.OpsRate, sum.Latency, sum.Extra
	} else if r.extra != nil {
		s.Extra = r.red.JSON(marshalExtra(r.extra))
	}
	r.summary = &s
}
