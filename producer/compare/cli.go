package compare

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
)

const usageText = `Usage:
  producer compare [flags] RUN_A RUN_B
  producer compare [flags] --baseline last|history|RUN_ID RUN_ID

Compares two benchmark runs as benchpipe's GraphQL endpoint (Hasura, anonymous role) serves them: the
summary of each run's measurement phase (warm-up excluded) and its per-second samples. RUN_A, or the
--baseline, is the reference; RUN_B, or RUN_ID, the candidate. Deltas are candidate - baseline.

Figures (name, runs column, which way is better):
  throughput         ops_rate                                          higher
  p50 p90 p99 p99.9  lat_p50_ms lat_p90_ms lat_p99_ms lat_p999_ms      lower
  errors             errors                                            lower
  loss dup reorder   mqtt_lost mqtt_duplicated mqtt_out_of_order       lower   (MQTT)
  tps                pg_tps                                            higher  (pgbench)
  failed             pg_failed                                         lower   (pgbench)
Figures that neither run has are left out.

--baseline last picks the most recent run that finished ok and started before RUN_ID, of the same kind,
on the same device (host_name) and with the same parameters (compared as JSON, so key order does not
matter). --same-tags also requires equal tags; --same-tags=site,rack only those tags.

--baseline history gates against the run's history instead of one run: the comparable runs before it
(as for last, up to 200), each reduced to the median of its steady-state per-second values, split at the
change points that producer history shows. For each figure with per-second values the candidate's
median is compared with the runs of the current segment (since the last change point): the segment's
run-to-run spread gives a t interval (segment mean ± t·sd·√(1+1/k)), so noise between identical runs,
which one run's per-second samples cannot show, is not taken for a change. It needs at least 3 runs in
the segment. The figures table and the counts compare with the last run of the history.

Statistics: the figures with per-second values (throughput, tps, p50, p90, p99, p99.9) are also judged
from each run's steady-state per-second samples (measurement phase, a final partial second dropped): a
circular block bootstrap confidence interval of the change in the median per-second value (for p99 on
runs of 1,000 s or more, the 99th percentile of the per-second p99s) gives better, worse, no significant
change, or inconclusive with the samples per run it would need. --confidence sets the interval's level.

Gating: --max-regression 5% exits 1 when a figure is worse than the baseline by more than 5%;
--max-regression p99=10%,throughput=3% sets limits per figure (they override the overall one); the flag
may be repeated. A figure with per-second values fails only when its statistical verdict is worse: the
change is significant at --confidence AND at least its limit (which is the minimum effect); a run too
short or too noisy to tell is inconclusive and does not fail. The counts (errors, loss, dup, reorder,
failed) fail when their run totals are worse by more than the limit; a count that grows from 0 (errors
appearing) is infinitely worse. A figure the baseline has and the candidate lacks (a failed run has no
summary) is a regression.

The endpoint is graphql.url of the configuration, or --url; graphql.headers are sent with every request.

Exit status:
  0    compared; no figure fails its --max-regression (or none given)
  1    regression: a figure fails its --max-regression (significantly worse by at least it, for the
       figures with per-second values)
  2    usage: bad flags, arguments or configuration
  3    GraphQL endpoint unreachable: connection refused, timeout, HTTP error, not a GraphQL endpoint
  4    the endpoint refused the query: permission denied for the anonymous role, or a schema mismatch
  5    run not found
  6    no comparable baseline for --baseline last or history
  7    timed out waiting (--wait) for the run to finish
  130  interrupted

Examples:
  producer compare 0192c3a0-… 0192c3b4-…
  producer compare --baseline last --max-regression 5% --json 0192c3b4-…
  producer compare --baseline last --same-tags=site --max-regression p99=10%,throughput=3% 0192c3b4-…
  producer compare --baseline history --max-regression 3% 0192c3b4-…

Flags:
`

// Run runs `producer compare` with args, the words after "compare", and returns the exit code (see the Exit
// constants). The comparison goes to stdout (a table, or JSON with --json); errors go to stderr, and with --json
// also to stdout as {"error": {...}, "exit_code": N}.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		configPath string
		baseline   string
		timeout    time.Duration
		opts       Options
	)
	fs.StringVar(&configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&opts.URL, "url", "", "GraphQL endpoint `URL`, overriding graphql.url (e.g. http://server/v1/graphql)")
	fs.DurationVar(&timeout, "timeout", 0, "per-request timeout, overriding graphql.timeout (default 10s)")
	fs.StringVar(&baseline, "baseline", "", "compare RUN_ID with this baseline: `last` (the most recent comparable run), history (the current segment of its comparable runs) or a run id")
	fs.Var(&opts.SameTags, "same-tags", "with --baseline last, require equal tags; =k1,k2 requires only those tags to be equal")
	fs.Var(&opts.MaxRegression, "max-regression", maxRegressionUsage)
	fs.DurationVar(&opts.Wait, "wait", 0, "wait up to this long for the candidate run to finish (status not running) before comparing; 0 = don't wait")
	fs.DurationVar(&opts.PollInterval, "poll", DefaultPollInterval, "how often to poll the run's state while waiting")
	fs.Float64Var(&opts.Confidence, "confidence", DefaultConfidence, "confidence of the statistical verdicts: a figure with per-second samples fails the gate only when it is worse at this confidence and by at least its --max-regression")
	fs.BoolVar(&opts.JSON, "json", false, "print the comparison as JSON (errors too, as {\"error\": …})")

	fail := func(err error) int {
		fmt.Fprintf(stderr, "producer compare: %v\n", err)
		if opts.JSON {
			writeErrorJSON(stdout, err)
		}
		return ExitCode(err)
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "producer compare: "+format+"\nRun 'producer compare --help' for usage.\n", a...)
		if opts.JSON {
			writeErrorJSON(stdout, fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...))
		}
		return ExitUsage
	}

	positional, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, usageText)
		cli.PrintDefaults(stdout, fs)
		return ExitOK
	case err != nil:
		return usageErr("%v", err)
	}

	var baseSpec string
	var candidate uuid.UUID
	switch {
	case baseline == "" && len(positional) == 2:
		if _, err := uuid.Parse(positional[0]); err != nil {
			return usageErr("RUN_A %q is not a run id (a UUID)", positional[0])
		}
		baseSpec = positional[0]
		if candidate, err = uuid.Parse(positional[1]); err != nil {
			return usageErr("RUN_B %q is not a run id (a UUID)", positional[1])
		}
	case baseline == "":
		return usageErr("want two run ids (RUN_A RUN_B), or --baseline and one run id; got %d arguments", len(positional))
	case len(positional) != 1:
		return usageErr("with --baseline, want exactly one run id; got %d arguments", len(positional))
	default:
		if baseline != BaselineLast && baseline != BaselineHistory {
			if _, err := uuid.Parse(baseline); err != nil {
				return usageErr("--baseline %q is neither %q, %q nor a run id", baseline, BaselineLast, BaselineHistory)
			}
		}
		baseSpec = baseline
		if candidate, err = uuid.Parse(positional[0]); err != nil {
			return usageErr("RUN_ID %q is not a run id (a UUID)", positional[0])
		}
	}
	if opts.SameTags.active() && baseSpec != BaselineLast && baseSpec != BaselineHistory {
		return usageErr("--same-tags only applies to --baseline last and --baseline history")
	}
	if err := CheckConfidence(opts.Confidence); err != nil {
		return usageErr("%v", err)
	}
	if opts.Wait < 0 || timeout < 0 || opts.PollInterval <= 0 {
		return usageErr("--wait and --timeout must not be negative, --poll must be positive")
	}

	cfg, err := config.Resolve(configPath, config.SectionGraphQL)
	if err != nil {
		fmt.Fprintf(stderr, "producer compare: %s\n", cli.ConfigMessage(err))
		if opts.JSON {
			writeErrorJSON(stdout, fmt.Errorf("%w: %s", ErrUsage, cli.ConfigMessage(err)))
		}
		return ExitUsage
	}
	if timeout > 0 {
		cfg.GraphQL.Timeout = timeout
	}
	c, err := newClient(cfg.GraphQL, opts.URL)
	if err != nil {
		return fail(err)
	}
	if opts.Wait > 0 {
		if err := c.waitFinished(ctx, candidate, opts.Wait, opts.PollInterval); err != nil {
			return fail(err)
		}
	}
	code, err := c.compare(ctx, baseSpec, candidate, opts, stdout)
	if err != nil {
		return fail(err)
	}
	return code
}

// parseInterspersed parses flags anywhere among the positional arguments ("compare A B --json" as well as
// "compare --json A B"); the standard flag package stops at the first positional one.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := cli.Parse(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil // everything after "--" is positional
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}
