package compare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/schema"
)

// Exit codes of Run; AfterRun returns the same.
const (
	ExitOK          = 0   // compared; no figure worse than its threshold (or no thresholds)
	ExitRegression  = 1   // at least one figure worse than its --max-regression
	ExitUsage       = 2   // bad flags, arguments or configuration
	ExitUnreachable = 3   // GraphQL endpoint unreachable: connection refused, timeout, HTTP error, not GraphQL
	ExitRejected    = 4   // the endpoint refused the query: permission denied for the anonymous role, schema error
	ExitNotFound    = 5   // run not found
	ExitNoBaseline  = 6   // --baseline last found no comparable run
	ExitWaitTimeout = 7   // timed out waiting for the run to finish
	ExitInterrupted = 130 // interrupted (SIGINT/SIGTERM or the caller's context)
)

// DefaultWait is how long AfterRun waits for GraphQL to show the run finished when Options.Wait is zero. The
// records travel producer spool → Kafka → sink → PostgreSQL, which takes well under a second when all is up.
const DefaultWait = 60 * time.Second

// DefaultPollInterval is how often the run's state is polled while waiting.
const DefaultPollInterval = time.Second

// BaselineLast selects the most recent comparable run as the baseline.
const BaselineLast = "last"

// ExitCode maps an error of Run or AfterRun to the exit code: nil is ExitOK.
func ExitCode(err error) int {
	switch {
	case err == nil:
		return ExitOK
	case errors.Is(err, ErrUsage):
		return ExitUsage
	case errors.Is(err, ErrUnreachable):
		return ExitUnreachable
	case errors.Is(err, ErrRunNotFound):
		return ExitNotFound
	case errors.Is(err, ErrNoBaseline):
		return ExitNoBaseline
	case errors.Is(err, ErrWaitTimeout), errors.Is(err, context.DeadlineExceeded):
		return ExitWaitTimeout
	case errors.Is(err, context.Canceled):
		return ExitInterrupted
	default: // ErrRejected and anything unforeseen: the endpoint's answer could not be used
		return ExitRejected
	}
}

// Options configure a comparison.
type Options struct {
	// MaxRegression gates the comparison: a figure worse than its threshold makes the exit code ExitRegression.
	// Nil or empty: nothing is gated.
	MaxRegression Thresholds
	// SameTags restricts the "last" baseline to runs sharing the run's tags. Zero: tags are ignored.
	SameTags TagMatch
	// JSON prints the comparison as one JSON document instead of a table.
	JSON bool
	// URL overrides graphql.url of the configuration.
	URL string
	// Wait is how long to wait for the run to finish before comparing. AfterRun: DefaultWait when zero. Run: the
	// --wait flag; zero does not wait.
	Wait time.Duration
	// PollInterval is how often the run's state is polled while waiting; DefaultPollInterval when zero.
	PollInterval time.Duration
	// Confidence is the confidence of the statistical verdicts (statistics.go); DefaultConfidence when zero.
	Confidence float64
}

// TagMatch says which tags a "last" baseline must share with the run. The zero value ignores tags.
//
// *TagMatch is a boolean-style flag.Value: --same-tags requires all tags equal, --same-tags=site,rack only those.
type TagMatch struct {
	All  bool     // every tag equal (jsonb equality)
	Keys []string // these tags equal (jsonb containment); used when All is false
}

// IsBoolFlag lets --same-tags stand alone.
func (m *TagMatch) IsBoolFlag() bool { return true }

// Set parses "true" (all tags), "false" (none) or a comma-separated list of tag names.
func (m *TagMatch) Set(s string) error {
	switch s {
	case "true":
		*m = TagMatch{All: true}
		return nil
	case "false", "":
		*m = TagMatch{}
		return nil
	}
	*m = TagMatch{}
	for _, k := range strings.Split(s, ",") {
		if k = strings.TrimSpace(k); k != "" {
			m.Keys = append(m.Keys, k)
		}
	}
	if len(m.Keys) == 0 {
		return fmt.Errorf("no tag names in %q", s)
	}
	return nil
}

// String formats m as Set accepts it.
func (m *TagMatch) String() string {
	switch {
	case m == nil || (!m.All && len(m.Keys) == 0):
		return "false"
	case m.All:
		return "true"
	}
	return strings.Join(m.Keys, ",")
}

func (m TagMatch) active() bool { return m.All || len(m.Keys) > 0 }

// AfterRun is for load commands that just finished runID: it waits until the GraphQL endpoint shows the run
// finished (status other than running; up to opts.Wait, DefaultWait when zero), then compares it with baseline
// ("last", "" meaning the same, or a run id) and prints the comparison to stdout. exitCode is ExitOK or
// ExitRegression when the comparison ran (err nil), else the code for err (see ExitCode); the caller prints err.
func AfterRun(ctx context.Context, cfg *config.Config, runID uuid.UUID, baseline string, opts Options, stdout io.Writer) (exitCode int, err error) {
	if opts.Wait <= 0 {
		opts.Wait = DefaultWait
	}
	code, err := afterRun(ctx, cfg, runID, baseline, opts, stdout)
	if err != nil && opts.JSON {
		writeErrorJSON(stdout, err)
	}
	return code, err
}

func afterRun(ctx context.Context, cfg *config.Config, runID uuid.UUID, baseline string, opts Options, stdout io.Writer) (int, error) {
	if baseline == "" {
		baseline = BaselineLast
	}
	if baseline != BaselineLast && baseline != BaselineHistory {
		if _, err := uuid.Parse(baseline); err != nil {
			err = fmt.Errorf("%w: baseline %q is neither %q, %q nor a run id", ErrUsage, baseline, BaselineLast, BaselineHistory)
			return ExitCode(err), err
		}
	}
	c, err := newClient(cfg.GraphQL, opts.URL)
	if err != nil {
		return ExitCode(err), err
	}
	if opts.Wait > 0 {
		if err := c.waitFinished(ctx, runID, opts.Wait, opts.PollInterval); err != nil {
			return ExitCode(err), err
		}
	}
	return c.compare(ctx, baseline, runID, opts, stdout)
}

// waitFinished polls until the run has both its records written (started_at set, status not running). An
// unreachable endpoint is retried until the time is up (Hasura may be restarting); a refused query is not.
func (c *client) waitFinished(ctx context.Context, id uuid.UUID, timeout, poll time.Duration) error {
	if poll <= 0 {
		poll = DefaultPollInterval
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	state := "not visible over GraphQL yet"
	var lastErr error
	for {
		var q statusQuery
		err := c.query(wctx, "poll run "+id.String(), &q, statusVars(id))
		switch {
		case wctx.Err() != nil:
			// the deadline or the caller ended the wait, possibly mid-request
		case err == nil:
			lastErr = nil
			switch {
			case q.Run == nil:
				state = "not visible over GraphQL yet (its records may still be in the producer's spool, Kafka or the sink)"
			case q.Run.Status == string(schema.StatusRunning):
				state = "still running"
			case q.Run.StartedAt == nil:
				state = "finished, but its run_started record has not been written yet"
			default:
				return nil
			}
		case errors.Is(err, ErrUnreachable):
			lastErr = err
		default:
			return err
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return fmt.Errorf("wait for run %s: %w", id, ctx.Err())
			}
			if lastErr != nil {
				return lastErr
			}
			return fmt.Errorf("%w: run %s is %s after %s; compare later with: producer compare --baseline last %s",
				ErrWaitTimeout, id, state, timeout, id)
		case <-time.After(poll):
		}
	}
}

// fetchRun fetches a run with its measurement samples; role names it in the not-found error.
func (c *client) fetchRun(ctx context.Context, role string, id uuid.UUID) (*runFields, error) {
	var q runQuery
	if err := c.query(ctx, "fetch "+role+" run "+id.String(), &q, runVars(id)); err != nil {
		return nil, err
	}
	if q.Run == nil {
		return nil, fmt.Errorf("%w: %s run %s does not exist at %s (check the id; a run appears once the sink has written its records)",
			ErrRunNotFound, role, id, c.url)
	}
	return q.Run, nil
}

// lastBaseline finds the "last" baseline of cand. notes collects what the caller should know about the choice.
func (c *client) lastBaseline(ctx context.Context, cand *runFields, tags TagMatch) (uuid.UUID, []string, error) {
	id := uuid.UUID(cand.RunID)
	if cand.StartedAt == nil || cand.HostName == nil {
		return uuid.Nil, nil, fmt.Errorf("%w for run %s: its run_started record has not been written yet, so its kind, device and "+
			"parameters are unknown; wait for it, or name a baseline with --baseline RUN_ID", ErrNoBaseline, id)
	}
	params := json.RawMessage(cand.Parameters)
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	criteria := fmt.Sprintf("no earlier %s run on %s with the same parameters %s", cand.Kind, *cand.HostName, compactJSON(params))
	var notes []string
	var rows []baselineRow
	var err error
	switch {
	case tags.All:
		criteria += " and tags " + compactJSON(json.RawMessage(cand.Tags))
		var q baselineSameTagsQuery
		err = c.query(ctx, "find the baseline", &q, baselineVars(id, cand.Kind, *cand.HostName, params, *cand.StartedAt, json.RawMessage(cand.Tags)))
		rows = q.Runs
	case len(tags.Keys) > 0:
		sub, missing := tags.subset(id, json.RawMessage(cand.Tags))
		notes = append(notes, missing...)
		criteria += " and tags containing " + string(sub)
		var q baselineTagsContainQuery
		err = c.query(ctx, "find the baseline", &q, baselineVars(id, cand.Kind, *cand.HostName, params, *cand.StartedAt, sub))
		rows = q.Runs
	default:
		var q baselineQuery
		err = c.query(ctx, "find the baseline", &q, baselineVars(id, cand.Kind, *cand.HostName, params, *cand.StartedAt, nil))
		rows = q.Runs
	}
	if err != nil {
		return uuid.Nil, nil, err
	}
	if len(rows) == 0 {
		return uuid.Nil, nil, fmt.Errorf("%w for run %s: %s finished ok; run the benchmark again to create one, or name a baseline with --baseline RUN_ID",
			ErrNoBaseline, id, criteria)
	}
	return uuid.UUID(rows[0].RunID), notes, nil
}

// historyBaseline returns the history of cand (its comparable runs before it) analysed for every figure with
// per-second values, and the most recent of those runs, which the figures table and the counts compare with.
func (c *client) historyBaseline(ctx context.Context, cand *runFields, tags TagMatch, rep *report) (uuid.UUID, []seriesResult, error) {
	id := uuid.UUID(cand.RunID)
	runs, notes, err := c.fetchHistory(ctx, cand, tags, HistoryLimit)
	if err != nil {
		return uuid.Nil, nil, err
	}
	runs = slices.DeleteFunc(runs, func(r historyRun) bool { return uuid.UUID(r.RunID) == id })
	if len(runs) == 0 {
		return uuid.Nil, nil, fmt.Errorf("%w for run %s: no earlier %s run on %s with the same parameters %s finished ok; run the benchmark "+
			"again to start a history, or name a baseline with --baseline RUN_ID", ErrNoBaseline, id, cand.Kind, deref(cand.HostName), compactJSON(json.RawMessage(cand.Parameters)))
	}
	_, series, err := analyse(runs, figuresOf(cand, historyFigures), historyOptions{})
	if err != nil {
		return uuid.Nil, nil, fmt.Errorf("%w: %v", ErrRejected, err)
	}
	rep.HistoryRuns = len(runs)
	rep.Notes = append(rep.Notes, notes...)
	return uuid.UUID(runs[len(runs)-1].RunID), series, nil
}

// compare fetches the candidate and its baseline, compares them, prints the result and returns the exit code.
func (c *client) compare(ctx context.Context, baseline string, candID uuid.UUID, opts Options, stdout io.Writer) (int, error) {
	rep, err := c.report(ctx, baseline, candID, opts)
	if err != nil {
		return ExitCode(err), err
	}
	if opts.JSON {
		err = rep.writeJSON(stdout)
	} else {
		err = rep.writeText(stdout)
	}
	if err != nil {
		return ExitRejected, fmt.Errorf("print the comparison: %w", err)
	}
	return rep.ExitCode, nil
}

// report fetches the candidate and its baseline and compares them.
func (c *client) report(ctx context.Context, baseline string, candID uuid.UUID, opts Options) (*report, error) {
	cand, err := c.fetchRun(ctx, "candidate", candID)
	if err != nil {
		return nil, err
	}
	rep := &report{BaselineSelection: "explicit"}
	var baseID uuid.UUID
	var history []seriesResult
	switch baseline {
	case BaselineLast:
		rep.BaselineSelection = BaselineLast
		var notes []string
		if baseID, notes, err = c.lastBaseline(ctx, cand, opts.SameTags); err != nil {
			return nil, err
		}
		rep.Notes = append(rep.Notes, notes...)
	case BaselineHistory:
		rep.BaselineSelection = BaselineHistory
		if baseID, history, err = c.historyBaseline(ctx, cand, opts.SameTags, rep); err != nil {
			return nil, err
		}
	default:
		baseID, err = uuid.Parse(baseline)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: baseline %q is neither %q nor a run id", ErrUsage, baseline, BaselineLast)
	}
	base, err := c.fetchRun(ctx, "baseline", baseID)
	if err != nil {
		return nil, err
	}
	cluster, clusterOK, clusterNote, err := c.fetchCluster(ctx, baseID, candID)
	if err != nil {
		return nil, err
	}
	from, notes, err := c.mergeLatency(ctx, base, cand)
	if err != nil {
		return nil, err
	}
	rep.fill(base, cand, opts.MaxRegression, opts.Confidence, history)
	rep.Warnings = []string{}
	if clusterOK {
		rep.addCluster(cluster)
	} else if clusterNote != "" {
		rep.Notes = append(rep.Notes, clusterNote)
	}
	rep.Baseline.LatencyFrom, rep.Candidate.LatencyFrom = from[0], from[1]
	rep.Notes = append(rep.Notes, notes...)
	return rep, nil
}

// fill computes the comparison of base and cand.
// With a history (--baseline history), the figures with per-second values are judged against its current
// segments instead of against base.
func (r *report) fill(base, cand *runFields, t Thresholds, confidence float64, history []seriesResult) {
	r.Baseline, r.Candidate = runReportOf(base), runReportOf(cand)
	r.Figures = compareFigures(base, cand, t)
	if confidence == 0 {
		confidence = DefaultConfidence
	}
	r.Confidence = confidence
	judge(r.Figures, base, cand, t, confidence)
	if history != nil {
		judgeAgainstHistory(r.Figures, history, cand, t, confidence)
	}
	r.Regressions = []string{}
	present := map[string]bool{}
	for _, f := range r.Figures {
		present[f.Name] = true
		if f.Regression {
			r.Regressions = append(r.Regressions, f.Name)
		}
	}
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k != "" && !present[k] {
			r.Notes = append(r.Notes, fmt.Sprintf("--max-regression %s: neither run has this figure", k))
		}
	}
	r.Notes = append(r.Notes, differences(base, cand)...)
	if len(t) == 0 {
		r.Notes = append(r.Notes, "no --max-regression given: nothing is gated")
	}
	if len(r.Regressions) > 0 {
		r.ExitCode = ExitRegression
	}
}

// differences notes what makes two runs less comparable.
func differences(base, cand *runFields) []string {
	var notes []string
	if base.Kind != cand.Kind {
		notes = append(notes, fmt.Sprintf("the runs are of different kinds (%s, %s)", base.Kind, cand.Kind))
	}
	if deref(base.HostName) != deref(cand.HostName) {
		notes = append(notes, fmt.Sprintf("the runs are from different devices (%s, %s)", deref(base.HostName), deref(cand.HostName)))
	}
	if !jsonEqual(base.Parameters, cand.Parameters) {
		notes = append(notes, diffNote("parameters", base.Parameters, cand.Parameters))
	}
	if !jsonEqual(base.Tags, cand.Tags) {
		notes = append(notes, diffNote("tags", base.Tags, cand.Tags))
	}
	for _, r := range []struct {
		role string
		run  *runFields
	}{{"baseline", base}, {"candidate", cand}} {
		if r.run.Status != string(schema.StatusOK) {
			n := fmt.Sprintf("the %s run's status is %s", r.role, r.run.Status)
			if r.run.Error != nil && *r.run.Error != "" {
				n += ": " + *r.run.Error
			}
			if r.run.OpsRate == nil {
				n += " (it has no summary)"
			}
			notes = append(notes, n)
		}
	}
	if base.StartedAt != nil && cand.StartedAt != nil && base.StartedAt.After(cand.StartedAt.Time) {
		notes = append(notes, "the baseline started after the candidate")
	}
	return notes
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func jsonEqual(a, b jsonb) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	xb, _ := json.Marshal(x) // Marshal sorts map keys
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func compactJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return "{}"
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil {
		return string(b)
	}
	return buf.String()
}

// seriesStats summarises a run's per-second measurement samples.
type seriesStats struct {
	Intervals        int      `json:"intervals"`
	Seconds          float64  `json:"seconds"`
	ThroughputMean   *float64 `json:"throughput_mean"`
	ThroughputStddev *float64 `json:"throughput_stddev"`
	ThroughputMin    *float64 `json:"throughput_min"`
	ThroughputMax    *float64 `json:"throughput_max"`
	Errors           int64    `json:"errors"`
	WorstP99Ms       *float64 `json:"worst_interval_p99_ms"` // the highest per-interval p99 (an upper bound, not a percentile)
}

func seriesOf(samples []sampleFields) seriesStats {
	s := seriesStats{Intervals: len(samples)}
	if len(samples) == 0 {
		return s
	}
	var sum, sumSq float64
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, x := range samples {
		r := float64(x.OpsRate)
		sum += r
		sumSq += r * r
		lo, hi = math.Min(lo, r), math.Max(hi, r)
		s.Seconds += x.IntervalEnd.Sub(x.IntervalStart.Time).Seconds()
		s.Errors += int64(x.Errors)
		if x.LatP99 != nil && (s.WorstP99Ms == nil || float64(*x.LatP99) > *s.WorstP99Ms) {
			v := float64(*x.LatP99)
			s.WorstP99Ms = &v
		}
	}
	n := float64(len(samples))
	mean := sum / n
	variance := 0.0
	if len(samples) > 1 {
		variance = math.Max(0, (sumSq-n*mean*mean)/(n-1))
	}
	sd := math.Sqrt(variance)
	s.ThroughputMean, s.ThroughputStddev, s.ThroughputMin, s.ThroughputMax = &mean, &sd, &lo, &hi
	return s
}

// subset returns the run's values of the tags named by --same-tags=k1,k2 as the JSON object a _contains filter
// takes, and a note for each named tag the run does not have (it is then not matched on).
func (m TagMatch) subset(id fmt.Stringer, tags json.RawMessage) (sub json.RawMessage, notes []string) {
	var have map[string]any
	_ = json.Unmarshal(tags, &have)
	want := map[string]any{}
	for _, k := range m.Keys {
		if v, ok := have[k]; ok {
			want[k] = v
		} else {
			notes = append(notes, fmt.Sprintf("run %s has no tag %q; --same-tags ignores it", id, k))
		}
	}
	sub, _ = json.Marshal(want)
	return sub, notes
}
