package pgbench

import (
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/benchpipe/benchpipe/producer/observe"
	"github.com/benchpipe/benchpipe/producer/stats"
	"github.com/benchpipe/benchpipe/schema"
)

// pgbenchSummary is pgbench's own final summary in the run record (Summary.Extra.pgbench): the parsed Summary
// with snake_case names. Values pgbench did not print are left out.
type pgbenchSummary struct {
	Version                 string          `json:"version,omitempty"`
	ServerVersion           string          `json:"server_version,omitempty"`
	TransactionType         string          `json:"transaction_type,omitempty"`
	ScalingFactor           int             `json:"scaling_factor,omitempty"`
	PartitionMethod         string          `json:"partition_method,omitempty"`
	Partitions              int             `json:"partitions,omitempty"`
	QueryMode               string          `json:"query_mode,omitempty"`
	Clients                 int             `json:"clients,omitempty"`
	Threads                 int             `json:"threads,omitempty"`
	MaxTries                *int64          `json:"max_tries,omitempty"`
	DurationS               *float64        `json:"duration_s,omitempty"`
	TransactionsPerClient   *int64          `json:"transactions_per_client,omitempty"`
	Processed               int64           `json:"processed"`
	ProcessedOf             *int64          `json:"processed_of,omitempty"`
	Failed                  *int64          `json:"failed,omitempty"`
	SerializationFailures   *int64          `json:"serialization_failures,omitempty"`
	DeadlockFailures        *int64          `json:"deadlock_failures,omitempty"`
	Retried                 *int64          `json:"retried,omitempty"`
	Retries                 *int64          `json:"retries,omitempty"`
	Skipped                 *int64          `json:"skipped,omitempty"`
	LatencyAvgMs            *float64        `json:"latency_avg_ms,omitempty"`
	LatencyAvgWithFailures  bool            `json:"latency_avg_includes_failures,omitempty"`
	LatencyStddevMs         *float64        `json:"latency_stddev_ms,omitempty"`
	LatencyLimitMs          *float64        `json:"latency_limit_ms,omitempty"`
	AboveLatencyLimit       *int64          `json:"above_latency_limit,omitempty"`
	LagAvgMs                *float64        `json:"lag_avg_ms,omitempty"`
	LagMaxMs                *float64        `json:"lag_max_ms,omitempty"`
	InitialConnectionTimeMs *float64        `json:"initial_connection_time_ms,omitempty"`
	AverageConnectionTimeMs *float64        `json:"average_connection_time_ms,omitempty"`
	TPS                     *float64        `json:"tps,omitempty"`
	TPSIncludes             string          `json:"tps_includes,omitempty"` // what pgbench's tps line says it counts
	Scripts                 []scriptSummary `json:"scripts,omitempty"`
	Statements              []statementJSON `json:"statements,omitempty"`
	Unparsed                []string        `json:"unparsed,omitempty"`
	ParseErrors             []string        `json:"parse_errors,omitempty"`
	Aborted                 bool            `json:"aborted,omitempty"` // "Run was aborted": the figures are incomplete
}

type scriptSummary struct {
	Number       int             `json:"number"`
	Name         string          `json:"name"`
	Weight       int             `json:"weight,omitempty"`
	Transactions int64           `json:"transactions"`
	TPS          *float64        `json:"tps,omitempty"`
	Failed       *int64          `json:"failed,omitempty"`
	LatencyAvgMs *float64        `json:"latency_avg_ms,omitempty"`
	Statements   []statementJSON `json:"statements,omitempty"`
}

type statementJSON struct {
	LatencyMs float64 `json:"latency_ms"`
	Failures  *int64  `json:"failures,omitempty"`
	Retries   *int64  `json:"retries,omitempty"`
	Command   string  `json:"command"`
}

// finitePtr drops NaN and infinities (pgbench prints "NaN%" and "-nan"), which JSON cannot carry.
func finitePtr(f *float64) *float64 {
	if f == nil || math.IsNaN(*f) || math.IsInf(*f, 0) {
		return nil
	}
	return f
}

func ratioN(r *Ratio) *int64 {
	if r == nil {
		return nil
	}
	return &r.N
}

func statementsJSON(sts []StatementLatency) []statementJSON {
	var out []statementJSON
	for _, st := range sts {
		lat := st.LatencyMs
		if math.IsNaN(lat) || math.IsInf(lat, 0) {
			lat = 0
		}
		out = append(out, statementJSON{LatencyMs: lat, Failures: st.Failures, Retries: st.Retries, Command: st.Command})
	}
	return out
}

// summaryJSON converts a parsed summary; parseErr is what ParseSummary reported besides the summary.
func summaryJSON(s Summary, parseErr error, aborted bool) *pgbenchSummary {
	j := &pgbenchSummary{
		Version: s.Version, ServerVersion: s.ServerVersion, TransactionType: s.TransactionType,
		ScalingFactor: s.ScalingFactor, PartitionMethod: s.PartitionMethod, Partitions: s.Partitions,
		QueryMode: s.QueryMode, Clients: s.Clients, Threads: s.Threads, MaxTries: s.MaxTries,
		TransactionsPerClient: s.TransactionsPerClient, Processed: s.Processed, ProcessedOf: s.ProcessedOf,
		Failed: ratioN(s.Failed), SerializationFailures: ratioN(s.SerializationFailures),
		DeadlockFailures: ratioN(s.DeadlockFailures), Retried: ratioN(s.Retried), Retries: s.Retries,
		Skipped: ratioN(s.Skipped), LatencyAvgMs: finitePtr(s.LatencyAvgMs),
		LatencyAvgWithFailures: s.LatencyAvgIncludesFailures, LatencyStddevMs: finitePtr(s.LatencyStddevMs),
		LagAvgMs: finitePtr(s.LagAvgMs), LagMaxMs: finitePtr(s.LagMaxMs),
		InitialConnectionTimeMs: finitePtr(s.InitialConnectionTimeMs),
		AverageConnectionTimeMs: finitePtr(s.AverageConnectionTimeMs),
		Statements:              statementsJSON(s.Statements), Unparsed: s.Unparsed, Aborted: aborted,
	}
	if s.Duration != nil {
		d := s.Duration.Seconds()
		j.DurationS = &d
	}
	if ll := s.LatencyLimit; ll != nil {
		j.LatencyLimitMs, j.AboveLatencyLimit = finitePtr(&ll.LimitMs), &ll.Late
	}
	switch {
	case s.TPSWithoutInitialConnection != nil:
		j.TPS, j.TPSIncludes = finitePtr(s.TPSWithoutInitialConnection), "without initial connection time"
	case s.TPSIncludingReconnection != nil:
		j.TPS, j.TPSIncludes = finitePtr(s.TPSIncludingReconnection), "including reconnection times"
	case s.TPSExcludingConnections != nil:
		j.TPS, j.TPSIncludes = finitePtr(s.TPSExcludingConnections), "excluding connections establishing"
	case s.TPSIncludingConnections != nil:
		j.TPS, j.TPSIncludes = finitePtr(s.TPSIncludingConnections), "including connections establishing"
	}
	for _, sc := range s.Scripts {
		n := sc.Transactions
		if sc.Processed != nil {
			n = *sc.Processed
		}
		j.Scripts = append(j.Scripts, scriptSummary{Number: sc.Number, Name: sc.Name, Weight: sc.Weight,
			Transactions: n, TPS: finitePtr(sc.TPS), Failed: ratioN(sc.Failed), LatencyAvgMs: finitePtr(sc.LatencyAvgMs),
			Statements: statementsJSON(sc.Statements)})
	}
	if parseErr != nil {
		j.ParseErrors = append(j.ParseErrors, clip(parseErr.Error()))
	}
	return j
}

// wholeRun is what the samples add up to over the whole run, warm-up included: the span pgbench's own
// summary covers, so the two can be compared.
type wholeRun struct {
	Counts
	Samples         int        `json:"samples"`
	Start           *time.Time `json:"start,omitempty"`
	End             *time.Time `json:"end,omitempty"`
	DurationS       float64    `json:"duration_s"`
	TPS             float64    `json:"tps"`
	LatencyAvgMs    *float64   `json:"latency_avg_ms,omitempty"`
	LatencyStddevMs *float64   `json:"latency_stddev_ms,omitempty"`
}

// initPhase is the --init-scale phase.
type initPhase struct {
	Scale    int     `json:"scale"`
	Seconds  float64 `json:"seconds"`
	ExitCode int     `json:"exit_code"`
}

// runExtra is Summary.Extra of a pgbench run: our totals next to pgbench's own summary, and where they differ.
type runExtra struct {
	LatencySource    string          `json:"latency_source"` // per-transaction log | sampled per-transaction log | none
	Measured         Counts          `json:"measured"`       // the measurement phase
	WarmupSamples    int             `json:"warmup_samples"`
	WholeRun         wholeRun        `json:"whole_run"`
	Init             *initPhase      `json:"init,omitempty"`
	Pgbench          *pgbenchSummary `json:"pgbench,omitempty"` // pgbench's own final summary
	PgbenchExitCode  int             `json:"pgbench_exit_code"`
	PgbenchSignal    string          `json:"pgbench_signal,omitempty"`
	Disagreements    []string        `json:"disagreements,omitempty"`
	Notes            []string        `json:"notes,omitempty"`
	LogTruncated     bool            `json:"log_truncated,omitempty"`
	LateTransactions int64           `json:"late_transactions,omitempty"`
	UnparsedLogLines int64           `json:"unparsed_log_lines,omitempty"`
	// Observation is --observe's account of the cluster during the load (observe.go).
	Observation *observe.Extra `json:"observation,omitempty"`
}

func timePtr(us int64) *time.Time {
	t := time.UnixMicro(us).UTC()
	return &t
}

// makeWholeRun sums the run up, warm-up included.
func makeWholeRun(r samplerResult, mode latencyMode) wholeRun {
	w := wholeRun{Counts: r.whole.counts, Samples: r.whole.samples}
	if r.whole.samples == 0 {
		return w
	}
	d := r.whole.duration()
	w.Start, w.End, w.DurationS = timePtr(r.whole.start), timePtr(r.whole.end), d.Seconds()
	w.TPS = stats.Rate(w.OK, d)
	if mode == modeExact && r.whole.log.n.OK > 0 {
		avg := r.whole.log.latSum / float64(r.whole.log.n.OK) / 1000
		sd := r.whole.log.stddevMs()
		w.LatencyAvgMs, w.LatencyStddevMs = &avg, &sd
	}
	return w
}

// disagreements compares our whole-run totals, taken from the per-transaction log, with pgbench's own summary.
// Counts must match exactly; rates and averages within what pgbench's rounding and the timing of its clock
// reads allow. The tps of an aborted run is not compared: pgbench divides by the time until its last thread
// gave up, the samples end with the last transaction.
func disagreements(w wholeRun, s Summary, aborted bool) []string {
	var out []string
	count := func(what string, ours int64, theirs *int64, line string) {
		if theirs != nil && ours != *theirs {
			out = append(out, fmt.Sprintf("%s: %d in the per-transaction log, %d in pgbench's summary (%s)", what, ours, *theirs, line))
		}
	}
	count("transactions", w.OK, &s.Processed, "number of transactions actually processed")
	count("failed transactions", w.failures(), ratioN(s.Failed), "number of failed transactions")
	count("skipped transactions", w.Skipped, ratioN(s.Skipped), "number of transactions skipped")
	count("retried transactions", w.Retried, ratioN(s.Retried), "number of transactions retried")
	count("retries", w.Retries, s.Retries, "total number of retries")

	// pgbench's tps leaves out the initial connection time (or, with -C, includes reconnections); recompute
	// ours the same way over the span of the samples, which starts at pgbench's benchmark start. The spans
	// still differ at the end: pgbench stops its clock when its threads are joined, after the last transaction
	// and the disconnections, tens of milliseconds later on a busy machine. So the durations the two rates imply
	// may differ by 100 ms or 2%, whichever is more, before that counts as a disagreement.
	if tps, ok := s.TPS(); ok && !aborted && w.DurationS > 0 && tps > 0 && !math.IsNaN(tps) {
		d := w.DurationS
		if s.TPSWithoutInitialConnection != nil && s.InitialConnectionTimeMs != nil {
			d -= *s.InitialConnectionTimeMs / 1000
		}
		if theirs := float64(w.OK) / tps; d > 0 && math.Abs(theirs-d) > max(0.1, 0.02*d) {
			out = append(out, fmt.Sprintf("tps: %.1f from the per-transaction log over %.3f s, %.1f in pgbench's summary (%d transactions over %.3f s)",
				float64(w.OK)/d, d, tps, w.OK, theirs))
		}
	}
	// With -P (always added) pgbench measures the average and stddev over the successful transactions, as we do.
	if s.LatencyAvgMs != nil && w.LatencyAvgMs != nil && !s.LatencyAvgIncludesFailures && !math.IsNaN(*s.LatencyAvgMs) {
		if math.Abs(*w.LatencyAvgMs-*s.LatencyAvgMs) > 0.002+0.001**s.LatencyAvgMs {
			out = append(out, fmt.Sprintf("latency average: %.3f ms from the per-transaction log, %.3f ms in pgbench's summary", *w.LatencyAvgMs, *s.LatencyAvgMs))
		}
	}
	if s.LatencyStddevMs != nil && w.LatencyStddevMs != nil && !math.IsNaN(*s.LatencyStddevMs) {
		if math.Abs(*w.LatencyStddevMs-*s.LatencyStddevMs) > 0.005+0.005**s.LatencyStddevMs {
			out = append(out, fmt.Sprintf("latency stddev: %.3f ms from the per-transaction log, %.3f ms in pgbench's summary", *w.LatencyStddevMs, *s.LatencyStddevMs))
		}
	}
	return out
}

// measuredFigures are the summary figures of the measurement phase.
func measuredFigures(r samplerResult, mode latencyMode) schema.Figures {
	m := r.measured
	d := m.duration()
	c := m.counts
	f := schema.Figures{Ops: c.OK, OpsRate: stats.Rate(c.OK, d), Errors: c.failures()}
	pg := &schema.PgbenchFigures{TPS: f.OpsRate, Failed: c.failures(), Retried: c.Retried, Retries: c.Retries, Skipped: c.Skipped}
	switch mode {
	case modeExact:
		f.Latency = m.latency()
		pg.StddevMs, pg.LagMs = m.log.stddevMs(), m.log.lagMs()
	case modeSampled:
		f.Latency = m.latency()
		pg.StddevMs = m.log.stddevMs()
	}
	if mode != modeExact && m.progLagN > 0 {
		pg.LagMs = finite(m.progLagSum / float64(m.progLagN))
	}
	f.Pgbench = pg
	return f
}

// summaryTable is the summary printed at the end of a run.
func summaryTable(status schema.Status, r samplerResult, mode latencyMode, extra *runExtra, logOpts LogOptions) *stats.Table {
	t := &stats.Table{Title: "Summary (measurement phase, warm-up excluded)"}
	add := func(label, format string, args ...any) {
		t.Rows = append(t.Rows, stats.Row{Label: label, Value: fmt.Sprintf(format, args...)})
	}
	m := r.measured
	d := m.duration()
	c := m.counts
	add("status", "%s", status)
	add("duration", "%.3f s (%d samples; %d warm-up samples excluded)", d.Seconds(), m.samples, r.warmupSamples)
	add("transactions", "%d (%.1f tps)", c.OK, stats.Rate(c.OK, d))
	failed := fmt.Sprintf("%d", c.failures())
	if c.Serialization+c.Deadlock > 0 {
		failed += fmt.Sprintf(" (serialization %d, deadlock %d)", c.Serialization, c.Deadlock)
	}
	add("failed", "%s", failed)
	if c.Skipped > 0 {
		add("skipped", "%d", c.Skipped)
	}
	if logOpts.HasRetries {
		add("retried", "%d (%d retries)", c.Retried, c.Retries)
	}
	if logOpts.HasLag && mode == modeExact && m.log.lagN > 0 {
		add("schedule lag", "%.3f ms average", m.log.lagMs())
	}
	if p := extra.Pgbench; p != nil && p.TPS != nil {
		add("pgbench tps", "%.1f (its own, whole run, %s)", *p.TPS, p.TPSIncludes)
	}
	add("latency source", "%s", mode)
	for _, dis := range extra.Disagreements {
		add("DISAGREEMENT", "%s", dis)
	}
	if mode != modeProgress {
		label := "all transactions"
		if mode == modeSampled {
			label = "sampled"
		}
		t.Latency = []stats.LatencyRow{{Label: label, Latency: m.latency()}}
	}
	return t
}

func marshalExtra(e *runExtra) json.RawMessage {
	b, err := json.Marshal(e)
	if err != nil { // only NaN could do this, and every float is checked on the way in
		b, _ = json.Marshal(map[string]string{"error": "encode summary: " + err.Error()})
	}
	return b
}
