package compare

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
)

const historyUsageText = `Usage:
  producer history [flags] RUN_ID
  producer history [flags] --kind KIND --device HOST

Lists the history of a run: the comparable runs that started no later than it (same kind, device and
parameters, finished ok, as for compare --baseline last; --same-tags adds the tag rule), up to the 200 most
recent (--limit), oldest first, each reduced to the median of its steady-state per-second values (warm-up and a
final partial second excluded). With --kind and --device the run is the most recent of that kind on that
device that finished ok, and its parameters (and tags) define the history.

For each figure (--figures, default throughput and p99) it finds the change points: E-divisive means
over the run values, each confirmed by a permutation test at --significance (the false-alarm rate per
series), as Apache Otava and MongoDB do. Each change point says at which run the figure changed, from what
to what (the means of the segments either side) and how sure (the p-value). The current segment is the
runs since the last change point; compare --baseline history gates against it.

--noise adds each figure's run-to-run noise over the current segment (its runs are the A/A runs: nothing
changed between them) and the minimum effect a gate should use for a false-alarm rate of --false-alarm:
against one run (compare --baseline last, --max-regression) and against the segment (--baseline history).

Exit status:
  0    listed
  2    usage: bad flags, arguments or configuration
  3    GraphQL endpoint unreachable
  4    the endpoint refused the query
  5    run not found
  6    no run of --kind on --device finished ok
  130  interrupted

Examples:
  producer history 0192c3b4-…
  producer history --kind pgbench --device pi-7 --noise --json
  producer history --figures throughput,p50,p99 --same-tags=site 0192c3b4-…

Flags:
`

// RunHistory runs `producer history` with args, the words after "history", and returns the exit code (the
// Exit constants of Run). The history goes to stdout (text, or JSON with --json); errors go to stderr, and
// with --json also to stdout as {"error": {...}, "exit_code": N}.
func RunHistory(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var (
		configPath, url, kind, device, figs string
		timeout                             time.Duration
		o                                   HistoryOptions
		asJSON                              bool
	)
	fs.StringVar(&configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	fs.StringVar(&url, "url", "", "GraphQL endpoint `URL`, overriding graphql.url (e.g. http://server/v1/graphql)")
	fs.DurationVar(&timeout, "timeout", 0, "per-request timeout, overriding graphql.timeout (default 10s)")
	fs.StringVar(&kind, "kind", "", "with --device instead of RUN_ID: the history of the most recent run of this `kind` (mqtt, pgbench)")
	fs.StringVar(&device, "device", "", "with --kind: the device (host name) the runs ran on")
	fs.Var(&o.SameTags, "same-tags", "require equal tags; =k1,k2 requires only those tags to be equal")
	fs.StringVar(&figs, "figures", "throughput,p99", "the figures to analyse, comma-separated: throughput, tps, p50, p90, p99, p99.9")
	fs.Float64Var(&o.Significance, "significance", DefaultSignificance, "largest p-value of a change point: the false-alarm rate per series")
	fs.BoolVar(&o.Noise, "noise", false, "print each figure's run-to-run noise over the current segment and the minimum effect for --false-alarm")
	fs.Float64Var(&o.FalseAlarm, "false-alarm", DefaultFalseAlarm, "with --noise: the gate's false-alarm rate the minimum effect is for (0.05 = one identical run in 20 fails)")
	fs.IntVar(&o.Limit, "limit", HistoryLimit, "the most recent comparable runs the history holds (at most 200)")
	fs.BoolVar(&asJSON, "json", false, "print the history as JSON (errors too, as {\"error\": …})")

	fail := func(err error) int {
		fmt.Fprintf(stderr, "producer history: %v\n", err)
		if asJSON {
			writeErrorJSON(stdout, err)
		}
		return ExitCode(err)
	}
	usageErr := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "producer history: "+format+"\nRun 'producer history --help' for usage.\n", a...)
		if asJSON {
			writeErrorJSON(stdout, fmt.Errorf("%w: "+format, append([]any{ErrUsage}, a...)...))
		}
		return ExitUsage
	}
	positional, err := parseInterspersed(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, historyUsageText)
		cli.PrintDefaults(stdout, fs)
		return ExitOK
	case err != nil:
		return usageErr("%v", err)
	}
	var ref uuid.UUID
	switch {
	case len(positional) == 1 && kind == "" && device == "":
		if ref, err = uuid.Parse(positional[0]); err != nil {
			return usageErr("RUN_ID %q is not a run id (a UUID)", positional[0])
		}
	case len(positional) == 0 && kind != "" && device != "":
	case len(positional) > 1:
		return usageErr("want one run id, or --kind and --device; got %d arguments", len(positional))
	default:
		return usageErr("want a run id, or --kind and --device (both)")
	}
	o.Figures = strings.Split(figs, ",")
	names, hopts, err := o.check()
	if err != nil {
		return usageErr("%v", err)
	}
	if timeout < 0 {
		return usageErr("--timeout must not be negative")
	}
	cfg, err := config.Resolve(configPath, config.SectionGraphQL)
	if err != nil {
		fmt.Fprintf(stderr, "producer history: %s\n", cli.ConfigMessage(err))
		if asJSON {
			writeErrorJSON(stdout, fmt.Errorf("%w: %s", ErrUsage, cli.ConfigMessage(err)))
		}
		return ExitUsage
	}
	if timeout > 0 {
		cfg.GraphQL.Timeout = timeout
	}
	c, err := newClient(cfg.GraphQL, url)
	if err != nil {
		return fail(err)
	}
	h, err := c.history(ctx, ref, kind, device, o.SameTags, names, hopts)
	if err != nil {
		return fail(err)
	}
	h.Noise = o.Noise
	if asJSON {
		err = h.writeJSON(stdout)
	} else {
		err = h.writeText(stdout)
	}
	if err != nil {
		return fail(fmt.Errorf("%w: print the history: %v", ErrRejected, err))
	}
	return ExitOK
}

// historyReport is a run's history; it is also the --json document.
type historyReport struct {
	Run          runReport      `json:"run"` // the run whose history it is
	Significance float64        `json:"significance"`
	FalseAlarm   float64        `json:"false_alarm,omitempty"` // with --noise
	Runs         []historyPoint `json:"runs"`                  // oldest first
	Series       []seriesResult `json:"series"`
	Notes        []string       `json:"notes"`
	ExitCode     int            `json:"exit_code"`

	Noise bool `json:"-"`
}

// history fetches and analyses the history of ref, or of the latest run of kind on device when ref is nil.
func (c *client) history(ctx context.Context, ref uuid.UUID, kind, device string, tags TagMatch, names []string, o historyOptions) (*historyReport, error) {
	h := &historyReport{Significance: o.Significance, FalseAlarm: o.FalseAlarm, Notes: []string{}}
	if ref == uuid.Nil {
		var q latestQuery
		if err := c.query(ctx, "find the latest run", &q, latestVars(kind, device)); err != nil {
			return nil, err
		}
		if len(q.Runs) == 0 {
			return nil, fmt.Errorf("%w: no %s run on %s finished ok at %s", ErrNoBaseline, kind, device, c.url)
		}
		ref = uuid.UUID(q.Runs[0].RunID)
		h.Notes = append(h.Notes, fmt.Sprintf("the history is that of the most recent %s run on %s that finished ok", kind, device))
	}
	run, err := c.fetchRun(ctx, "history", ref)
	if err != nil {
		return nil, err
	}
	h.Run = runReportOf(run)
	runs, notes, err := c.fetchHistory(ctx, run, tags, o.Limit)
	if err != nil {
		return nil, err
	}
	h.Notes = append(h.Notes, notes...)
	if run.Status != "ok" {
		h.Notes = append(h.Notes, fmt.Sprintf("run %s's status is %s: it is not part of its history", ref, run.Status))
	}
	h.Runs, h.Series, err = analyse(runs, figuresOf(run, names), o)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	for _, s := range h.Series {
		if s.Runs < 10 {
			h.Notes = append(h.Notes, fmt.Sprintf("%s: %d runs; a change point needs at least 5 runs on either side", s.Figure, s.Runs))
		}
	}
	return h, nil
}

func (h *historyReport) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(h)
}

func (h *historyReport) writeText(w io.Writer) error {
	ew := &errWriter{w: w}
	r := &h.Run
	fmt.Fprintf(ew, "history of %s  %s\n", r.RunID, describeRun(r))
	fmt.Fprintf(ew, "comparable runs: same kind, device (%s) and parameters %s, finished ok: %d\n", r.HostName, compactJSON(r.Parameters), len(h.Runs))
	for _, s := range h.Series {
		fmt.Fprintf(ew, "\n%s (%s, %s is better): %d runs, ", s.Figure, s.Statistic, s.Better, s.Runs)
		switch len(s.ChangePoints) {
		case 0:
			fmt.Fprintf(ew, "no change point (significance %g)\n", h.Significance)
		case 1:
			fmt.Fprintf(ew, "1 change point (significance %g)\n", h.Significance)
		default:
			fmt.Fprintf(ew, "%d change points (significance %g)\n", len(s.ChangePoints), h.Significance)
		}
		if len(s.ChangePoints) > 0 {
			tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "  RUN\tFROM RUN_ID\tSTARTED\tBEFORE\tAFTER\tCHANGE\tP-VALUE")
			for _, cp := range s.ChangePoints {
				dir := "better"
				if cp.Worse {
					dir = "worse"
				}
				fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\t%s\t%s %s\t%.3f\n", cp.Index+1, cp.RunID, formatTime(cp.StartedAt),
					formatValue(&cp.Before, s.fig, false), formatValue(&cp.After, s.fig, false), signedPct(cp.Relative), dir, cp.PValue)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
		fmt.Fprintf(ew, "  current segment: %d runs from %s\n", s.Segment.Runs, s.Segment.FirstRunID)
	}
	if h.Noise {
		fmt.Fprintf(ew, "\nrun-to-run noise over the current segment (its runs as A/A runs), minimum effects for a false-alarm rate of %g:\n", h.FalseAlarm)
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "FIGURE\tRUNS\tMEAN\tSTDDEV\tCV\tSPREAD\tMIN EFFECT vs 1 RUN\tvs THE SEGMENT")
		for _, s := range h.Series {
			if s.Noise == nil {
				fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t-\t-\t-\t(%s)\n", s.Figure, s.Segment.Runs, s.NoiseError)
				continue
			}
			n := s.Noise
			one, all := "-", "-"
			if s.MinEffect != nil {
				one, all = formatPct(100**s.MinEffect), formatPct(100**s.MinEffectSegment)
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", s.Figure, n.Runs, formatValue(&n.Mean, s.fig, false),
				formatValue(&n.StdDev, s.fig, false), formatPct(100*n.CV), formatPct(100*n.Spread), one, all)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(h.Runs) > 0 {
		fmt.Fprintf(ew, "\nruns (oldest first):\n")
		tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
		head := "  #\tRUN_ID\tSTARTED\tSAMPLES"
		for _, s := range h.Series {
			head += "\t" + strings.ToUpper(s.Figure)
		}
		fmt.Fprintln(tw, head)
		for i, p := range h.Runs {
			line := fmt.Sprintf("  %d\t%s\t%s\t%d", i+1, p.RunID, formatTime(p.StartedAt), p.Samples)
			for _, s := range h.Series {
				v, ok := p.Values[s.Figure]
				cell := "-"
				if ok {
					cell = formatValue(&v, s.fig, false)
				}
				for _, cp := range s.ChangePoints {
					if cp.Index == i {
						cell += " ◀ change"
					}
				}
				line += "\t" + cell
			}
			fmt.Fprintln(tw, line)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, n := range h.Notes {
		fmt.Fprintf(ew, "note: %s\n", n)
	}
	return ew.err
}

func formatTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
