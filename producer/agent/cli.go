package agent

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// Exit codes of Run.
const (
	ExitOK     = 0 // stopped by SIGTERM/SIGINT (or the caller's context), a running job reported aborted
	ExitFailed = 1 // could not start or keep serving: spool, job memory, Kafka
	ExitUsage  = 2 // bad flags or configuration
	// ExitNameTaken: another agent with this name joined the jobs group. Restarting would fence that one in turn,
	// so the systemd unit does not restart on it (RestartPreventExitStatus).
	ExitNameTaken = 3
)

const usageText = `Usage: producer agent [flags]

Runs as a service on a device: takes the benchmark jobs operators launch for it (producer launch,
the viewer) from the Kafka jobs topic (fleet.jobs_topic), runs them one at a time with the same
code as producer mqtt and producer pgbench, and says where it is (a heartbeat every
fleet.heartbeat: host facts, version, producer.tags, idle or running which job) and how each job
went (accepted, running with its run id, finished ok/failed/aborted, rejected with the reason,
expired) on fleet.agents_topic, through the producer's spool like every run record.

A job runs at most once: the agent remembers every job id it has seen in agent.db in
fleet.state_dir (default producer.spool_dir), so a replayed or redelivered job, or one seen again
after a restart, is not run again. A job seen after its expires_at is reported expired; a job
arriving while another runs is rejected ("busy: running job <id>"), not queued. A stop request
aborts the run (status aborted, samples kept). A job the agent was running when it was killed is
reported finished aborted ("agent restarted mid-job") when it starts again, and the spool finishes
its run as aborted. SIGTERM aborts a running job ("agent stopped"), ships the spool for at most
10s and exits 0.

The agent's name is --name, else producer.device, else the host name. Jobs carry no secrets: the
passwords come from this agent's environment ($MQTT_PASSWORD, $PGPASSWORD, ~/.pgpass) or
configuration. Each agent needs its own name: when another agent with this name joins, Kafka fences
this one out of the jobs group, and it stops with exit status 3 (its systemd unit does not restart
it then). When agent.db cannot be written (a full disk), it stops before taking the job (exit
status 1) and reads that job again when it starts. Logs go to stderr. Exit status: 0 stopped,
1 failed, 2 usage error, 3 name taken.

Flags:
`

type cliFlags struct {
	configPath string
	spoolDir   string
	name       string
}

func parseFlags(args []string, stdout io.Writer) (*cliFlags, error) {
	f := &cliFlags{}
	fs := flag.NewFlagSet("producer agent", flag.ContinueOnError)
	fs.StringVar(&f.configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&f.spoolDir, "spool-dir", "", "spool `directory` for heartbeats, job events and runs (default producer.spool_dir from the configuration)")
	fs.StringVar(&f.name, "name", "", "the agent's `name`, which jobs are addressed to (default producer.device, else the host name)")
	if err := cli.Parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, usageText)
			cli.PrintDefaults(stdout, fs)
		}
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, cli.Errorf("unexpected argument %q (producer agent takes flags only)", fs.Arg(0))
	}
	return f, nil
}

// Run runs `producer agent` with args (the words after "agent") until ctx ends, and returns the exit status.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	return run(ctx, args, stdout, stderr, DefaultKinds())
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, kinds map[string]Kind) int {
	const prog = "producer agent"
	f, err := parseFlags(args, stdout)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		return cli.Fail(stderr, prog, err)
	}
	cfg, err := config.Resolve(f.configPath, config.SectionKafka, config.SectionTopics, config.SectionProducer,
		config.SectionPerftarget, config.SectionFleet)
	if err != nil {
		return cli.FailConfig(stderr, prog, err, ExitUsage)
	}
	if f.spoolDir != "" {
		cfg.Producer.SpoolDir = f.spoolDir
	}
	name, err := agentName(f.name, cfg.Producer.Device)
	if err != nil {
		return cli.Fail(stderr, prog, err)
	}
	if err := checkConfig(cfg); err != nil {
		return cli.Fail(stderr, prog, err)
	}
	stateDir := cfg.Fleet.StateDir
	if stateDir == "" {
		stateDir = cfg.Producer.SpoolDir
	}

	// Everything the agent and its jobs' runs print passes one redactor: the environment's passwords and the
	// configuration's. slog writes a record in one Write, which the redactor needs.
	red := schema.NewRedactor(schema.EnvSecrets(os.Getenv)...)
	red.Add(cfg.Kafka.SASL.Password, cfg.Perftarget.Password)
	stdout, stderr = red.Writer(stdout), red.Writer(stderr)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})).With("agent", name)
	// One spool for the agent's whole life: heartbeats, job events and every job's run records share it, so they
	// leave the device in the order they happened and survive Kafka outages alike.
	pub, err := publish.Open(ctx, cfg, publish.WithLogger(log))
	if err != nil {
		fmt.Fprintf(stderr, "%s: spool: %v\n", prog, err)
		return ExitFailed
	}
	code := ExitOK
	a, err := New(cfg, name, pub, stateDir, kinds, log, stdout, stderr)
	if err == nil {
		a.redactor = red
	}
	if err == nil {
		err = a.Run(ctx)
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		code = ExitFailed
		if errors.Is(err, ErrNameTaken) {
			code = ExitNameTaken
		}
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), StopTimeout)
	defer cancel()
	if err := pub.Close(cctx); err != nil {
		log.Warn("spool not fully shipped; the rest goes with the next start or producer spool flush", "err", err)
	} else {
		log.Info("agent stopped, spool shipped")
	}
	return code
}

// agentName is flagName, else device, else the host name; it must be a schema.AgentNamePattern.
func agentName(flagName, device string) (string, error) {
	name, from := flagName, "--name"
	if name == "" {
		name, from = device, "producer.device"
	}
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return "", cli.Errorf("no agent name: give --name or producer.device (the host name is unknown: %v)", err)
		}
		name, from = h, "the host name"
	}
	if !schema.AgentNamePattern.MatchString(name) {
		return "", cli.Errorf("%s %q is not an agent name (letters, digits, . _ -, at most 128; give --name)", from, name)
	}
	return name, nil
}

// checkConfig refuses a configuration the agent cannot serve with.
func checkConfig(cfg *config.Config) error {
	var problems []string
	if len(cfg.Kafka.Brokers) == 0 {
		problems = append(problems, "kafka.brokers is empty: an agent takes its jobs from Kafka")
	}
	if cfg.Fleet.Heartbeat <= 0 {
		problems = append(problems, fmt.Sprintf("fleet.heartbeat must be positive, got %v", cfg.Fleet.Heartbeat))
	}
	if cfg.Fleet.JobsTopic == "" || cfg.Fleet.AgentsTopic == "" {
		problems = append(problems, "fleet.jobs_topic and fleet.agents_topic must be set")
	}
	if len(problems) > 0 {
		return cli.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}
