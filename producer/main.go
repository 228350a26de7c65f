// Command producer runs benchmarks on an edge device and publishes their results to Kafka through a durable spool.
// Each subcommand lives in its own package below producer/; this file only dispatches.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/fleetcli"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/producer/spoolcmd"
)

const usage = `producer — benchmark an MQTT broker or PostgreSQL and ship the results to benchpipe.

Usage:
  producer mqtt [flags]               MQTT load with end-to-end latency, loss, duplicates, reordering
  producer pgbench [flags] -- [pgbench options]
                                      real pgbench with exact latency percentiles from every transaction
  producer compare RUN_A RUN_B        compare two runs over GraphQL (also --baseline last|history|RUN_ID RUN_ID)
  producer history RUN_ID             a run's comparable runs with their change points (also --kind K --device D)
  producer spool status|flush         records waiting for Kafka, or deliver them now
  producer observe --node NAME=DSN    watch a PostgreSQL cluster (roles, lag, Pgpool reads, split brain) on /metrics
  producer agent [flags]              a device service: heartbeats, and runs the jobs launched for it, one at a time
  producer launch (--agent N|--tag k=v|--all) mqtt|pgbench ...
                                      launch a job on agents (operator token in $BENCHPIPE_OPERATOR_TOKEN)
  producer jobs [--group G]           the fleet's jobs; producer jobs stop JOB_ID|--group G stops one or a launch

Run "producer COMMAND --help" for a command's flags.
Configuration: --config FILE, else $BENCHPIPE_CONFIG, else /etc/benchpipe/benchpipe.yaml, else defaults
(without kafka.brokers the producer measures and prints, and publishes nothing).
`

type command func(ctx context.Context, args []string, stdout, stderr io.Writer) int

var commands = map[string]command{
	"mqtt":    mqttload.Run,
	"pgbench": pgbench.Run,
	"compare": compare.Run,
	"history": compare.RunHistory,
	"spool":   spoolcmd.Run,
	"observe": observe.Run,
	"agent":   agent.Run,
	"launch":  fleetcli.RunLaunch,
	"jobs":    fleetcli.RunJobs,
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return cli.Fail(stderr, "producer", cli.Errorf("missing command: mqtt, pgbench, compare, history, spool, observe, agent, launch or jobs"))
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		return cli.Fail(stderr, "producer", cli.Errorf("unknown command %q (mqtt, pgbench, compare, history, spool, observe, agent, launch or jobs)", args[0]))
	}
	return cmd(ctx, args[1:], stdout, stderr)
}
