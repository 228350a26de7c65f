package pgbench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// ErrNoSummary is returned by ParseSummary when the input holds no summary line at all, as
// when pgbench exits with status 1 (bad options, no connection) before printing anything.
var ErrNoSummary = errors.New("pgbench: no summary in output")

// Summary is what pgbench prints on stdout when a run ends. Pointer fields are nil when pgbench
// did not print the line, which depends on the version and the options (noted per field).
//
// A run that a client aborted (exit status 2, "Run was aborted" on stderr) still prints a
// summary, possibly complete with a tps: tell such runs apart with ClassifyStderr, not here.
type Summary struct {
	// Version is pgbench's version from the banner, e.g. "15.18 (Debian 15.18-0+deb12u1)".
	Version string
	// ServerVersion is set only when the server's version differs from pgbench's.
	ServerVersion string

	TransactionType string // "<builtin: TPC-B (sort of)>", a script file name, or "multiple scripts"
	ScalingFactor   int
	PartitionMethod string // "range" or "hash"; empty when pgbench_accounts is not partitioned
	Partitions      int
	QueryMode       string // simple, extended or prepared
	Clients         int
	Threads         int
	// MaxTries is nil before 15, and in 15+ when --max-tries=0 (no limit) was given.
	MaxTries *int64

	Duration              *time.Duration // -T
	TransactionsPerClient *int64         // -t
	// Processed counts the transactions that succeeded.
	Processed int64
	// ProcessedOf is the planned total (clients × transactions per client) in -t mode.
	ProcessedOf *int64

	// Outcome holds the failure, retry and latency lines. Its Failed is nil before 15.
	Outcome

	LatencyLimit *LatencyLimit // -L
	LagAvgMs     *float64      // -R: "rate limit schedule lag: avg X (max Y) ms"
	LagMaxMs     *float64      // -R

	InitialConnectionTimeMs *float64 // 14+ without -C
	AverageConnectionTimeMs *float64 // 14+ with -C

	TPSWithoutInitialConnection *float64 // 14+ without -C: "tps = X (without initial connection time)"
	TPSIncludingReconnection    *float64 // 14+ with -C: "tps = X (including reconnection times)"
	TPSIncludingConnections     *float64 // before 14: "tps = X (including connections establishing)"
	TPSExcludingConnections     *float64 // before 14: "tps = X (excluding connections establishing)"

	// Scripts holds the per-script blocks ("SQL script N: …") printed when several scripts ran.
	Scripts []ScriptSummary
	// Statements holds the per-statement latencies (-r) when there are no per-script blocks;
	// otherwise they are in each ScriptSummary.
	Statements []StatementLatency

	// Unparsed keeps the lines that were not recognised (or did not parse), in order.
	Unparsed []string
}

// TPS returns the headline throughput: the tps without connection setup ("without initial
// connection time", or before 14 "excluding connections establishing"), or with -C the one
// including reconnection times. ok is false when the summary has no tps line, as after a run
// that completed no transaction.
func (s Summary) TPS() (tps float64, ok bool) {
	for _, v := range []*float64{s.TPSWithoutInitialConnection, s.TPSIncludingReconnection,
		s.TPSExcludingConnections, s.TPSIncludingConnections} {
		if v != nil {
			return *v, true
		}
	}
	return 0, false
}

// Outcome holds the lines pgbench prints both for the whole run and for each script.
type Outcome struct {
	Failed                *Ratio // 15+
	SerializationFailures *Ratio // --failures-detailed
	DeadlockFailures      *Ratio // --failures-detailed
	Retried               *Ratio // --max-tries ≠ 1
	Retries               *int64 // --max-tries ≠ 1: "total number of retries"
	Skipped               *Ratio // -R with -L

	// LatencyAvgMs is measured with -P, -R or -L; without them pgbench derives it from the
	// run time (duration × clients / transactions), and LatencyAvgIncludesFailures says that
	// failed transactions were counted in it (" (including failures)").
	LatencyAvgMs               *float64
	LatencyAvgIncludesFailures bool
	LatencyStddevMs            *float64 // only with -P, -R or -L
}

// LatencyLimit is the -L line: "number of transactions above the 2.0 ms latency limit:
// 2110/5579 (37.820%)".
type LatencyLimit struct {
	LimitMs float64
	Late    int64
	Of      int64 // successful transactions; 0 when not printed (before 11)
	Pct     float64
}

// ScriptSummary is one "SQL script N: name" block.
type ScriptSummary struct {
	Number          int // as printed, from 1
	Name            string
	Weight          int
	WeightPct       float64 // share of the total weight
	Transactions    int64
	TransactionsPct float64
	// Processed and TPS come from " - number of transactions actually processed: N (tps = X)"
	// in newer pgbench (seen in 18); older ones (seen in 15) print only the TPS, at the end of
	// the " - N transactions (…)" line, and Processed stays nil.
	Processed *int64
	TPS       *float64
	Outcome
	Statements []StatementLatency
}

// StatementLatency is one line of the per-statement report (-r).
type StatementLatency struct {
	LatencyMs float64
	Failures  *int64 // 15+
	Retries   *int64 // 15+ with --max-tries ≠ 1
	// Command is the statement's first line as pgbench printed it (cut to 127 bytes by pgbench).
	Command string
}

// ParseSummary reads pgbench's stdout and returns its summary. Unknown lines go to Unparsed.
// Known lines that do not parse also go to Unparsed, and each adds a *SyntaxError to the
// returned error; the Summary holds everything else either way. Input without any summary line
// gives ErrNoSummary.
func ParseSummary(r io.Reader) (Summary, error) {
	p := summaryParser{script: -1}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for no := 1; sc.Scan(); no++ {
		p.line(no, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return p.s, fmt.Errorf("read pgbench summary: %w", err)
	}
	if !p.known {
		p.errs = append(p.errs, ErrNoSummary)
	}
	return p.s, errors.Join(p.errs...)
}

type summaryParser struct {
	s     Summary
	known bool // a summary line was recognised
	errs  []error

	script int // index into s.Scripts of the block being read, -1 before any

	// inStmts is set inside a per-statement block, whose lines go to stmtScript's Statements
	// (-1: Summary.Statements) with stmtCols counter columns between latency and command.
	inStmts    bool
	stmtScript int
	stmtCols   int
}

// errUnknown marks a line that no rule claims.
var errUnknown = errors.New("unknown line")

func (p *summaryParser) line(no int, line string) {
	err := p.parse(line)
	switch {
	case err == nil:
		p.known = true
	case errors.Is(err, errUnknown):
		p.s.Unparsed = append(p.s.Unparsed, line)
	default:
		// A summary line with a bad value still shows that this is a summary.
		p.known = true
		p.s.Unparsed = append(p.s.Unparsed, line)
		p.errs = append(p.errs, syntaxError(fmt.Sprintf("summary line %d", no), line, "", err))
	}
}

func (p *summaryParser) parse(line string) error {
	if p.inStmts {
		// Statement lines are printed as "   %11.3f …": three spaces, then the latency.
		if strings.HasPrefix(line, "   ") {
			p.statement(line)
			return nil
		}
		p.inStmts = false
	}
	if rest, ok := strings.CutPrefix(line, " - "); ok && p.script >= 0 {
		return p.scriptLine(rest)
	}
	for _, r := range topRules {
		if v, ok := strings.CutPrefix(line, r.prefix); ok {
			return r.parse(p, v)
		}
	}
	if o, ok := matchOutcome(line); ok {
		return o.parse(&p.s.Outcome, o.value)
	}
	return errUnknown
}

func (p *summaryParser) scriptLine(line string) error {
	sc := &p.s.Scripts[p.script]
	for _, r := range scriptRules {
		if v, ok := strings.CutPrefix(line, r.prefix); ok {
			return r.parse(sc, v)
		}
	}
	if rest, ok := strings.CutPrefix(line, "statement latencies in milliseconds"); ok {
		return p.startStatements(p.script, rest)
	}
	if o, ok := matchOutcome(line); ok {
		return o.parse(&sc.Outcome, o.value)
	}
	// " N transactions (…)" has its number first, so no prefix rule can claim it.
	if n, rest, ok := strings.Cut(line, " transactions ("); ok {
		return parseScriptTransactions(sc, n, rest)
	}
	return errUnknown
}

type topRule struct {
	prefix string
	parse  func(p *summaryParser, v string) error
}

var topRules = []topRule{
	{"pgbench (", func(p *summaryParser, v string) error {
		v, ok := strings.CutSuffix(v, ")")
		if !ok {
			return errors.New("want \"pgbench (version)\"")
		}
		p.s.Version, p.s.ServerVersion, _ = strings.Cut(v, ", server ")
		return nil
	}},
	{"transaction type: ", func(p *summaryParser, v string) error { p.s.TransactionType = v; return nil }},
	{"scaling factor: ", func(p *summaryParser, v string) error { return setInt(&p.s.ScalingFactor, v) }},
	{"partition method: ", func(p *summaryParser, v string) error { p.s.PartitionMethod = v; return nil }},
	{"partitions: ", func(p *summaryParser, v string) error { return setInt(&p.s.Partitions, v) }},
	{"query mode: ", func(p *summaryParser, v string) error { p.s.QueryMode = v; return nil }},
	{"number of clients: ", func(p *summaryParser, v string) error { return setInt(&p.s.Clients, v) }},
	{"number of threads: ", func(p *summaryParser, v string) error { return setInt(&p.s.Threads, v) }},
	{"maximum number of tries: ", func(p *summaryParser, v string) error { return setCount(&p.s.MaxTries, v) }},
	{"duration: ", func(p *summaryParser, v string) error {
		secs, ok := strings.CutSuffix(v, " s")
		if !ok {
			return errors.New("want \"N s\"")
		}
		n, err := parseUint(secs)
		if err != nil {
			return err
		}
		p.s.Duration = ptr(time.Duration(n) * time.Second)
		return nil
	}},
	{"number of transactions per client: ", func(p *summaryParser, v string) error {
		return setCount(&p.s.TransactionsPerClient, v)
	}},
	{"number of transactions actually processed: ", func(p *summaryParser, v string) error {
		n, of, hasOf := strings.Cut(v, "/")
		var err error
		if p.s.Processed, err = parseUint(n); err != nil {
			return err
		}
		if hasOf {
			return setCount(&p.s.ProcessedOf, of)
		}
		return nil
	}},
	{"number of transactions above the ", func(p *summaryParser, v string) error {
		limit, rest, ok := strings.Cut(v, " ms latency limit: ")
		if !ok {
			return errors.New("want \"X ms latency limit: N/M (x%)\"")
		}
		num, pct, _ := strings.Cut(rest, " (")
		late, of, hasOf := strings.Cut(num, "/")
		r, err := parseRatio(late + " (" + pct)
		if err != nil {
			return err
		}
		ll := LatencyLimit{Late: r.N, Pct: r.Pct}
		if ll.LimitMs, err = parseFloat(limit); err != nil {
			return err
		}
		if hasOf {
			if ll.Of, err = parseUint(of); err != nil {
				return err
			}
		}
		p.s.LatencyLimit = &ll
		return nil
	}},
	{"rate limit schedule lag: ", func(p *summaryParser, v string) error {
		f := strings.Split(v, " ")
		if len(f) != 5 || f[0] != "avg" || f[2] != "(max" || f[4] != "ms" {
			return errors.New("want \"avg X (max Y) ms\"")
		}
		avg, err := parseFloat(f[1])
		if err != nil {
			return err
		}
		maxLag, err := parseFloat(strings.TrimSuffix(f[3], ")"))
		if err != nil {
			return err
		}
		p.s.LagAvgMs, p.s.LagMaxMs = &avg, &maxLag
		return nil
	}},
	{"initial connection time = ", func(p *summaryParser, v string) error {
		return setMs(&p.s.InitialConnectionTimeMs, v)
	}},
	{"average connection time = ", func(p *summaryParser, v string) error {
		return setMs(&p.s.AverageConnectionTimeMs, v)
	}},
	{"tps = ", func(p *summaryParser, v string) error {
		num, kind, ok := strings.Cut(v, " (")
		if !ok {
			return errors.New("want \"tps = X (…)\"")
		}
		var dst **float64
		switch kind {
		case "without initial connection time)":
			dst = &p.s.TPSWithoutInitialConnection
		case "including reconnection times)":
			dst = &p.s.TPSIncludingReconnection
		case "including connections establishing)":
			dst = &p.s.TPSIncludingConnections
		case "excluding connections establishing)":
			dst = &p.s.TPSExcludingConnections
		default:
			return errUnknown
		}
		tps, err := parseFloat(num)
		if err != nil {
			return err
		}
		*dst = &tps
		return nil
	}},
	{"SQL script ", func(p *summaryParser, v string) error {
		num, name, ok := strings.Cut(v, ": ")
		if !ok {
			return errors.New("want \"SQL script N: name\"")
		}
		sc := ScriptSummary{Name: name}
		if err := setInt(&sc.Number, num); err != nil {
			return err
		}
		p.s.Scripts = append(p.s.Scripts, sc)
		p.script = len(p.s.Scripts) - 1
		return nil
	}},
	{"statement latencies in milliseconds", func(p *summaryParser, v string) error {
		return p.startStatements(-1, v)
	}},
}

type scriptRule struct {
	prefix string
	parse  func(sc *ScriptSummary, v string) error
}

var scriptRules = []scriptRule{
	{"weight: ", func(sc *ScriptSummary, v string) error {
		w, rest, ok := strings.Cut(v, " (targets ")
		pct, ok2 := strings.CutSuffix(rest, "% of total)")
		if !ok || !ok2 {
			return errors.New("want \"weight: W (targets x% of total)\"")
		}
		if err := setInt(&sc.Weight, w); err != nil {
			return err
		}
		var err error
		sc.WeightPct, err = parseFloat(pct)
		return err
	}},
	{"number of transactions actually processed: ", func(sc *ScriptSummary, v string) error {
		n, rest, ok := strings.Cut(v, " (tps = ")
		tps, ok2 := strings.CutSuffix(rest, ")")
		if !ok || !ok2 {
			return errors.New("want \"N (tps = X)\"")
		}
		if err := setCount(&sc.Processed, n); err != nil {
			return err
		}
		return setFloat(&sc.TPS, tps)
	}},
}

// parseScriptTransactions parses the rest of " - N transactions (x% of total)" (newer, seen in
// 18) or " - N transactions (x% of total, tps = T)" (older, seen in 15).
func parseScriptTransactions(sc *ScriptSummary, n, rest string) error {
	inner, ok := strings.CutSuffix(rest, ")")
	if !ok {
		return errors.New("want \"N transactions (x% of total)\"")
	}
	pct, tps, hasTPS := strings.Cut(inner, ", tps = ")
	pct, ok = strings.CutSuffix(pct, "% of total")
	if !ok {
		return errors.New("want \"N transactions (x% of total)\"")
	}
	var err error
	if sc.Transactions, err = parseUint(n); err != nil {
		return err
	}
	if sc.TransactionsPct, err = parseFloat(pct); err != nil {
		return err
	}
	if hasTPS {
		return setFloat(&sc.TPS, tps)
	}
	return nil
}

type outcomeRule struct {
	prefix string
	parse  func(o *Outcome, v string) error
}

type outcomeMatch struct {
	outcomeRule
	value string
}

var outcomeRules = []outcomeRule{
	{"number of failed transactions: ", func(o *Outcome, v string) error { return setRatio(&o.Failed, v) }},
	{"number of serialization failures: ", func(o *Outcome, v string) error {
		return setRatio(&o.SerializationFailures, v)
	}},
	{"number of deadlock failures: ", func(o *Outcome, v string) error { return setRatio(&o.DeadlockFailures, v) }},
	{"number of transactions retried: ", func(o *Outcome, v string) error { return setRatio(&o.Retried, v) }},
	{"total number of retries: ", func(o *Outcome, v string) error { return setCount(&o.Retries, v) }},
	{"number of transactions skipped: ", func(o *Outcome, v string) error { return setRatio(&o.Skipped, v) }},
	// "latency average: X ms" and "latency stddev: X ms" are the spelling before 11.
	{"latency average = ", parseLatencyAvg},
	{"latency average: ", parseLatencyAvg},
	{"latency stddev = ", func(o *Outcome, v string) error { return setMs(&o.LatencyStddevMs, v) }},
	{"latency stddev: ", func(o *Outcome, v string) error { return setMs(&o.LatencyStddevMs, v) }},
}

func matchOutcome(line string) (outcomeMatch, bool) {
	for _, r := range outcomeRules {
		if v, ok := strings.CutPrefix(line, r.prefix); ok {
			return outcomeMatch{r, v}, true
		}
	}
	return outcomeMatch{}, false
}

func parseLatencyAvg(o *Outcome, v string) error {
	v, o.LatencyAvgIncludesFailures = strings.CutSuffix(v, " (including failures)")
	return setMs(&o.LatencyAvgMs, v)
}

// startStatements begins a per-statement block. The header's ending says which counters sit
// between the latency and the command.
func (p *summaryParser) startStatements(script int, rest string) error {
	switch {
	case rest == ":", strings.HasPrefix(rest, ", file "): // before 15 (", file N:" is ancient)
		p.stmtCols = 0
	case rest == " and failures:": // 15+ with --max-tries=1
		p.stmtCols = 1
	case rest == ", failures and retries:": // 15+ otherwise
		p.stmtCols = 2
	default:
		return errors.New("unknown statement latency header")
	}
	p.inStmts, p.stmtScript = true, script
	return nil
}

// statement adds one per-statement line. A line that does not parse is taken as a continuation
// of the previous command (pgbench prints a command's first line only, but a backslash command
// continued with "\" may span lines), so this never fails: the block is informative, and a
// statement oddity must not make a whole summary fail.
func (p *summaryParser) statement(line string) {
	dst := &p.s.Statements
	if p.stmtScript >= 0 {
		dst = &p.s.Scripts[p.stmtScript].Statements
	}
	if st, ok := parseStatement(line, p.stmtCols); ok {
		*dst = append(*dst, st)
		return
	}
	if n := len(*dst); n > 0 {
		(*dst)[n-1].Command += "\n" + strings.TrimSpace(line)
		return
	}
	p.s.Unparsed = append(p.s.Unparsed, line)
}

func parseStatement(line string, cols int) (StatementLatency, bool) {
	lat, rest, _ := strings.Cut(strings.TrimLeft(line, " "), " ")
	var st StatementLatency
	var err error
	if st.LatencyMs, err = parseFloat(lat); err != nil {
		return st, false
	}
	for i := 0; i < cols; i++ {
		var num string
		num, rest, _ = strings.Cut(strings.TrimLeft(rest, " "), " ")
		n, err := parseUint(num)
		if err != nil {
			return st, false
		}
		if i == 0 {
			st.Failures = &n
		} else {
			st.Retries = &n
		}
	}
	st.Command = strings.TrimLeft(rest, " ")
	return st, true
}

func setInt(dst *int, v string) error {
	n, err := parseUint(v)
	if err != nil {
		return err
	}
	if int64(int(n)) != n {
		return fmt.Errorf("%d out of range", n)
	}
	*dst = int(n)
	return nil
}

func setCount(dst **int64, v string) error {
	n, err := parseUint(v)
	if err != nil {
		return err
	}
	*dst = &n
	return nil
}

func setFloat(dst **float64, v string) error {
	f, err := parseFloat(v)
	if err != nil {
		return err
	}
	*dst = &f
	return nil
}

func setMs(dst **float64, v string) error {
	f, err := parseMs(v)
	if err != nil {
		return err
	}
	*dst = &f
	return nil
}

func setRatio(dst **Ratio, v string) error {
	r, err := parseRatio(v)
	if err != nil {
		return err
	}
	*dst = &r
	return nil
}
