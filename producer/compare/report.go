package compare

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// report is a finished comparison; it is also the --json document.
type report struct {
	Baseline          runReport `json:"baseline"`
	Candidate         runReport `json:"candidate"`
	BaselineSelection string    `json:"baseline_selection"` // "explicit", "last" or "history"
	// HistoryRuns is, with --baseline history, how many comparable runs before the candidate the history holds.
	HistoryRuns int            `json:"history_runs,omitempty"`
	Figures     []figureResult `json:"figures"`
	Regressions []string       `json:"regressions"` // names of figures that fail the gate
	// Confidence is the confidence of the statistical verdicts (figures[].stat).
	Confidence float64 `json:"confidence"`
	// Warnings say that a run's figures are suspect: its cluster changed topology while it ran (cluster.go).
	// They do not change the exit code.
	Warnings []string `json:"warnings"`
	// SettingsDiffer lists the server settings that differ between the runs; null when they were not compared
	// (a run without recorded settings, or an endpoint that does not serve them: see the notes).
	SettingsDiffer []settingDiff `json:"settings_differ"`
	Notes          []string      `json:"notes"`
	ExitCode       int           `json:"exit_code"`
}

// runReport describes one of the compared runs.
type runReport struct {
	RunID        string          `json:"run_id"`
	Kind         string          `json:"kind"`
	Name         string          `json:"name,omitempty"`
	HostName     string          `json:"host_name,omitempty"`
	Status       string          `json:"status"`
	Error        string          `json:"error,omitempty"`
	StartedAt    *time.Time      `json:"started_at"`
	FinishedAt   *time.Time      `json:"finished_at"`
	MeasureStart *time.Time      `json:"measure_start"`
	MeasureEnd   *time.Time      `json:"measure_end"`
	Parameters   json.RawMessage `json:"parameters"`
	Tags         json.RawMessage `json:"tags"`
	Series       seriesStats     `json:"series"` // the per-second measurement samples
	// LatencyFrom says where the latency percentiles come from: "histograms" (merged from the per-second
	// samples' histograms, record version 2) or "summary" (the producer's run summary).
	LatencyFrom string `json:"latency_from"`
	// TopologyChanged and SplitBrain are the run's cluster flags (pgbench --observe); null when the endpoint does
	// not serve them.
	TopologyChanged *bool `json:"topology_changed"`
	SplitBrain      *bool `json:"split_brain"`
}

func timeOf(t *timestamptz) *time.Time {
	if t == nil {
		return nil
	}
	v := t.UTC()
	return &v
}

func rawOrEmpty(j jsonb) json.RawMessage {
	if len(j) == 0 {
		return json.RawMessage("{}")
	}
	return json.RawMessage(j)
}

func runReportOf(r *runFields) runReport {
	return runReport{
		RunID: uuid.UUID(r.RunID).String(), Kind: r.Kind, Name: deref(r.Name), HostName: deref(r.HostName),
		Status: r.Status, Error: deref(r.Error), StartedAt: timeOf(r.StartedAt), FinishedAt: timeOf(r.FinishedAt),
		MeasureStart: timeOf(r.MeasureStart), MeasureEnd: timeOf(r.MeasureEnd),
		Parameters: rawOrEmpty(r.Parameters), Tags: rawOrEmpty(r.Tags), Series: seriesOf(r.Samples),
	}
}

func (r *report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// errorCode names an error's exit code in the --json error document.
func errorCode(err error) string {
	switch ExitCode(err) {
	case ExitUsage:
		return "usage"
	case ExitUnreachable:
		return "unreachable"
	case ExitNotFound:
		return "run_not_found"
	case ExitNoBaseline:
		return "no_baseline"
	case ExitWaitTimeout:
		return "wait_timeout"
	case ExitInterrupted:
		return "interrupted"
	}
	return "rejected"
}

// writeErrorJSON prints an error as a JSON document, so that scripts reading --json output always get one.
func writeErrorJSON(w io.Writer, err error) {
	doc := map[string]any{
		"error":     map[string]string{"code": errorCode(err), "message": err.Error()},
		"exit_code": ExitCode(err),
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

// writeText prints the comparison as a table for people.
func (r *report) writeText(w io.Writer) error {
	ew := &errWriter{w: w}
	for _, run := range []struct {
		role string
		r    *runReport
	}{{"baseline ", &r.Baseline}, {"candidate", &r.Candidate}} {
		fmt.Fprintf(ew, "%s  %s  %s\n", run.role, run.r.RunID, describeRun(run.r))
	}
	switch r.BaselineSelection {
	case BaselineLast:
		fmt.Fprintf(ew, "baseline chosen as the last run that finished ok before the candidate: same kind, device and parameters\n")
	case BaselineHistory:
		fmt.Fprintf(ew, "baseline: the history of %d comparable runs before the candidate (same kind, device and parameters, finished ok); "+
			"the table compares with the last of them, the statistics with each figure's current segment\n", r.HistoryRuns)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(ew, "WARNING: %s\n", w)
	}
	fmt.Fprintln(ew)
	tw := tabwriter.NewWriter(ew, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tBETTER\tBASELINE\tCANDIDATE\tDELTA\tDELTA%\tMAX\tVERDICT")
	for _, f := range r.Figures {
		maxS := "-"
		if f.MaxRegressionPct != nil {
			maxS = formatPct(*f.MaxRegressionPct)
		}
		verdict := f.Verdict
		if f.Regression {
			verdict = "REGRESSION"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f.Name, f.Better,
			formatValue(f.Baseline, f.fig, false), formatValue(f.Candidate, f.fig, false), formatValue(f.Delta, f.fig, true),
			formatDeltaPct(&f), maxS, verdict)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if err := r.writeStatistics(ew); err != nil {
		return err
	}
	b, c := r.Baseline.Series, r.Candidate.Series
	if b.Intervals > 0 || c.Intervals > 0 {
		fmt.Fprintf(ew, "\nper-second throughput (measurement phase): baseline %s, candidate %s\n", formatSeries(b), formatSeries(c))
	}
	if err := writeSettings(ew, r.SettingsDiffer); err != nil {
		return err
	}
	for _, n := range r.Notes {
		fmt.Fprintf(ew, "note: %s\n", n)
	}
	if len(r.Regressions) > 0 {
		var parts []string
		for _, f := range r.Figures {
			switch {
			case f.Regression && f.Stat != nil:
				interval := fmt.Sprintf("%.0f%% CI", 100*f.Stat.Confidence)
				if separated(f.Stat, r.BaselineSelection == BaselineHistory) {
					interval = "every block pair within"
				}
				parts = append(parts, fmt.Sprintf("%s (%s significantly worse, %s %s … %s, at least the max %s)", f.Name,
					signedPct(f.Stat.Relative), interval, signedPct(f.Stat.RelativeCI.Lo), signedPct(f.Stat.RelativeCI.Hi),
					formatPct(*f.MaxRegressionPct)))
			case f.Regression:
				parts = append(parts, fmt.Sprintf("%s (%s, max %s)", f.Name, worseText(&f), formatPct(*f.MaxRegressionPct)))
			}
		}
		fmt.Fprintf(ew, "\nREGRESSION: %s\n", strings.Join(parts, ", "))
	} else {
		fmt.Fprintf(ew, "\nno regression beyond the thresholds\n")
	}
	return ew.err
}

// writeStatistics prints the statistical verdicts of the figures with per-second values.
func (r *report) writeStatistics(w io.Writer) error {
	var judged []*figureResult
	for i := range r.Figures {
		if f := &r.Figures[i]; f.Stat != nil || f.StatError != "" {
			judged = append(judged, f)
		}
	}
	if len(judged) == 0 {
		return nil
	}
	history := r.BaselineSelection == BaselineHistory
	count, need := "SAMPLES", "samples per run"
	if history {
		count, need = "RUNS", "segment runs"
		fmt.Fprintf(w, "\nagainst the current segment of each figure's history (the runs since its last change point): the candidate's median "+
			"per-second value against the segment's runs, a t interval on their run-to-run noise, %.0f%% confidence:\n", 100*r.Confidence)
	} else {
		fmt.Fprintf(w, "\nsteady-state per-second samples (warm-up and a final partial second excluded), %.0f%% confidence, circular block bootstrap:\n",
			100*r.Confidence)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "FIGURE\tSTATISTIC\t%s\tBASELINE\tCANDIDATE\tCHANGE\t%.0f%% CI\tEFFECT\tMIN EFFECT\tVERDICT\n", count, 100*r.Confidence)
	for _, f := range judged {
		if f.Stat == nil {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\tnot judged: %s\n", f.Name, f.Statistic, f.StatError)
			continue
		}
		c := f.Stat
		ci := "-"
		if c.RelativeCI != nil {
			ci = signedPct(c.RelativeCI.Lo) + " … " + signedPct(c.RelativeCI.Hi)
			if separated(c, history) {
				ci += " (blocks)"
			}
		}
		verdict := c.Verdict.String()
		if c.Verdict == stat.Inconclusive && c.Need > 0 {
			verdict += fmt.Sprintf(" (need %d %s)", c.Need, need)
		}
		if f.Regression {
			verdict = "REGRESSION (" + verdict + ")"
		}
		statistic := f.Statistic
		if history {
			statistic = "median of " + f.fig.statistic
		}
		fmt.Fprintf(tw, "%s\t%s\t%d / %d\t%s\t%s\t%s\t%s\t%+.2f\t%s\t%s\n", f.Name, statistic, c.BaselineSamples, c.CandidateSamples,
			formatValue(&c.Baseline, f.fig, false), formatValue(&c.Candidate, f.fig, false), signedPct(c.Relative), ci,
			c.EffectSize, formatPct(100*c.MinEffect), verdict)
	}
	return tw.Flush()
}

// separated reports whether a comparison of samples was decided by stat's block separation test, whose interval
// is the range of the block differences rather than a bootstrap confidence interval.
func separated(c *stat.Comparison, history bool) bool {
	return !history && c.Resamples == 0 && c.RelativeCI != nil
}

// signedPct formats a fraction as a signed percentage.
func signedPct(v float64) string { return fmt.Sprintf("%+.2f%%", 100*v) }

func describeRun(r *runReport) string {
	var b strings.Builder
	b.WriteString(r.Kind)
	if r.Name != "" {
		fmt.Fprintf(&b, " %q", r.Name)
	}
	if r.HostName != "" {
		fmt.Fprintf(&b, " on %s", r.HostName)
	}
	if r.StartedAt != nil {
		fmt.Fprintf(&b, ", started %s", r.StartedAt.Format(time.RFC3339))
	}
	fmt.Fprintf(&b, ", %s", r.Status)
	if r.LatencyFrom == latencyFromHistograms {
		b.WriteString(", latency percentiles merged from its samples' histograms")
	}
	if r.MeasureStart != nil && r.MeasureEnd != nil {
		fmt.Fprintf(&b, ", %.1f s measured", r.MeasureEnd.Sub(*r.MeasureStart).Seconds())
	}
	return b.String()
}

func formatValue(v *float64, f *figure, signed bool) string {
	if v == nil {
		return "-"
	}
	var s string
	switch {
	case f.count:
		s = strconv.FormatFloat(math.Round(*v), 'f', 0, 64)
	case f.unit == "ms":
		s = strconv.FormatFloat(*v, 'f', 3, 64)
	default:
		s = strconv.FormatFloat(*v, 'f', 1, 64)
	}
	if signed && *v > 0 {
		s = "+" + s
	}
	if f.unit != "" {
		s += " " + f.unit
	}
	return s
}

func formatPct(p float64) string {
	switch {
	case math.IsInf(p, 1):
		return "+inf%"
	case math.IsInf(p, -1):
		return "-inf%"
	}
	return strconv.FormatFloat(p, 'f', 2, 64) + "%"
}

func formatDeltaPct(f *figureResult) string {
	switch {
	case f.DeltaPct != nil:
		s := formatPct(*f.DeltaPct)
		if *f.DeltaPct > 0 {
			s = "+" + s
		}
		return s
	case f.Delta != nil: // from a baseline of 0
		if *f.Delta > 0 {
			return "+inf%"
		}
		return "-inf%"
	}
	return "-"
}

// worseText says how much worse a regressed figure is.
func worseText(f *figureResult) string {
	switch {
	case f.Verdict == verdictMissing:
		return "missing in the candidate"
	case math.IsInf(f.worse, 1):
		return "worse from 0"
	}
	return formatPct(f.worse*100) + " worse"
}

func formatSeries(s seriesStats) string {
	if s.Intervals == 0 || s.ThroughputMean == nil {
		return "no samples"
	}
	cv := ""
	if *s.ThroughputMean != 0 {
		cv = fmt.Sprintf(", cv %.1f%%", *s.ThroughputStddev / *s.ThroughputMean * 100)
	}
	return fmt.Sprintf("%.1f ± %.1f ops/s over %d intervals (%.0f s%s)", *s.ThroughputMean, *s.ThroughputStddev, s.Intervals, s.Seconds, cv)
}

// errWriter keeps the first write error so printing code can stay linear.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	if err != nil {
		e.err = err
	}
	return n, err
}
