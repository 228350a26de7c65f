package compare

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
)

// The package's API for programs other than the CLI: `sink api` serves Report and History to the viewer as the
// compareRuns and runHistory query actions. Both return exactly the --json document the CLI prints for the same
// arguments, from the same code: one format, whoever asks.

// Defaults of the history's options, as `producer history` has them.
const (
	DefaultSignificance = 0.05 // --significance
	DefaultFalseAlarm   = 0.05 // --false-alarm
)

// DefaultHistoryFigures are the figures a history analyses when none are named (--figures).
var DefaultHistoryFigures = []string{"throughput", "p99"}

// Client reads runs from benchpipe's GraphQL endpoint as the anonymous role, as the CLI does.
type Client struct{ c *client }

// NewClient makes a client for cfg.URL (graphql.url), sending cfg.Headers with every request, each bounded by
// cfg.Timeout (10 s when zero). An empty URL, or one that is not http(s), is an ErrUsage error.
func NewClient(cfg config.GraphQL) (*Client, error) {
	c, err := newClient(cfg, "")
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

const maxRegressionUsage = "exit 1 when a figure is worse than this: `5%` for every figure, p99=10%,throughput=3% per figure (repeatable)"

// ParseMaxRegression parses a --max-regression spec as the flag does; the error (ErrUsage) has the CLI's message,
// e.g. `usage: --max-regression "p98=5%": unknown figure "p98" in "p98=5%" (figures: …)`.
func ParseMaxRegression(spec string) (Thresholds, error) {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	var t Thresholds
	fs.Var(&t, "max-regression", maxRegressionUsage)
	if err := cli.Parse(fs, []string{"--max-regression", spec}); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	return t, nil
}

// CheckConfidence is --confidence's rule, with its message: a fraction from 0.5 to below 1.
func CheckConfidence(c float64) error {
	if !(c >= 0.5 && c < 1) {
		return fmt.Errorf("--confidence %v: want a fraction from 0.5 to below 1 (0.95 = 95%%)", c)
	}
	return nil
}

// Report compares candidate with baseline (BaselineLast, BaselineHistory or a run id) as `producer compare --json`
// does and returns the JSON document it prints, whose exit_code says whether a figure failed opts.MaxRegression
// (ExitRegression) or not (ExitOK). Of opts, MaxRegression, SameTags and Confidence (DefaultConfidence when zero)
// apply. The error is one of the package's (ErrUsage, ErrRunNotFound, ErrNoBaseline, ErrUnreachable, ErrRejected)
// with the CLI's message; ExitCode maps it.
func (c *Client) Report(ctx context.Context, baseline string, candidate uuid.UUID, opts Options) ([]byte, error) {
	if opts.Confidence == 0 {
		opts.Confidence = DefaultConfidence
	}
	if err := CheckConfidence(opts.Confidence); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if opts.SameTags.active() && baseline != BaselineLast && baseline != BaselineHistory {
		return nil, fmt.Errorf("%w: --same-tags only applies to --baseline last and --baseline history", ErrUsage)
	}
	rep, err := c.c.report(ctx, baseline, candidate, opts)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := rep.writeJSON(&buf); err != nil {
		return nil, fmt.Errorf("%w: encode the comparison: %v", ErrRejected, err)
	}
	return buf.Bytes(), nil
}

// HistoryOptions are `producer history`'s flags. The zero value is not valid: start from the defaults
// (DefaultHistoryFigures, DefaultSignificance, DefaultFalseAlarm, HistoryLimit), as the flags do.
type HistoryOptions struct {
	// Figures are the figures to analyse (--figures): throughput, tps, p50, p90, p99, p99.9 (or their aliases).
	Figures []string
	// Significance is the largest p-value of a change point (--significance), 0 < s ≤ 0.5.
	Significance float64
	// Noise adds each figure's run-to-run noise and minimum effects for FalseAlarm (--noise).
	Noise bool
	// FalseAlarm is the gate's false-alarm rate the minimum effects are for (--false-alarm), 0 < r < 0.5; checked
	// even without Noise, as the flag is.
	FalseAlarm float64
	// SameTags restricts the history to runs sharing the run's tags (--same-tags).
	SameTags TagMatch
	// Limit is how many of the most recent comparable runs the history holds (--limit), 1 to HistoryLimit.
	Limit int
}

// check validates o with the flags' messages and returns the canonical figure names and the analysis options.
func (o HistoryOptions) check() ([]string, historyOptions, error) {
	var names []string
	for _, n := range o.Figures {
		name, ok := figureName(n)
		if !ok || figureByName(name).perSecond == nil {
			return nil, historyOptions{}, fmt.Errorf("--figures: %q is not a figure with per-second values (throughput, tps, p50, p90, p99, p99.9)", strings.TrimSpace(n))
		}
		names = append(names, name)
	}
	if !(o.Significance > 0 && o.Significance <= 0.5) {
		return nil, historyOptions{}, fmt.Errorf("--significance %v: want 0 < significance ≤ 0.5", o.Significance)
	}
	if !(o.FalseAlarm > 0 && o.FalseAlarm < 0.5) {
		return nil, historyOptions{}, fmt.Errorf("--false-alarm %v: want 0 < rate < 0.5", o.FalseAlarm)
	}
	if o.Limit < 1 || o.Limit > HistoryLimit {
		return nil, historyOptions{}, fmt.Errorf("--limit %d: want 1 to %d", o.Limit, HistoryLimit)
	}
	h := historyOptions{Significance: o.Significance, FalseAlarm: o.FalseAlarm, Limit: o.Limit}
	if !o.Noise {
		h.FalseAlarm = 0
	}
	return names, h, nil
}

// History returns the history of run as `producer history --json` prints it with the same options: the run's
// comparable runs, each figure's change points and current segment, and with o.Noise the noise and minimum
// effects. Errors are as Report's.
func (c *Client) History(ctx context.Context, run uuid.UUID, o HistoryOptions) ([]byte, error) {
	names, hopts, err := o.check()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUsage, err)
	}
	if run == uuid.Nil {
		return nil, fmt.Errorf("%w: no run id", ErrUsage)
	}
	h, err := c.c.history(ctx, run, "", "", o.SameTags, names, hopts)
	if err != nil {
		return nil, err
	}
	h.Noise = o.Noise
	var buf bytes.Buffer
	if err := h.writeJSON(&buf); err != nil {
		return nil, fmt.Errorf("%w: encode the history: %v", ErrRejected, err)
	}
	return buf.Bytes(), nil
}
