package pgbench

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// SyntaxError reports a line that belongs to a known kind of pgbench output but does not have
// the expected form. Test for it with errors.As; Unwrap gives the underlying strconv error, if
// any.
type SyntaxError struct {
	What string // what was being parsed: "progress line", "summary line", "log line", …
	Line string // the offending line, cut to a readable length
	Msg  string // what was wrong with it
	Err  error  // underlying error, may be nil
}

// Error names what was parsed, quotes the line, and says what was wrong.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("pgbench: parse %s %q", e.What, e.Line)
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error, if any.
func (e *SyntaxError) Unwrap() error { return e.Err }

func syntaxError(what, line, msg string, err error) error {
	return &SyntaxError{What: what, Line: clip(line), Msg: msg, Err: err}
}

// maxQuoted bounds how much of a bad line goes into an error: enough to recognise it, short
// enough that a garbage file does not flood the logs.
const maxQuoted = 200

func clip(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return s[:maxQuoted] + "…"
}

// Ratio is a count that pgbench prints with its share in percent, as in "799 (29.925%)".
// Pct is NaN when pgbench divided by zero (a run that completed no transaction prints "NaN%").
type Ratio struct {
	N   int64
	Pct float64
}

// parseRatio parses "N (x%)". pgbench before 15 printed some percentages as "(x %)"; both are
// accepted.
func parseRatio(s string) (Ratio, error) {
	n, rest, ok := strings.Cut(s, " (")
	if !ok {
		return Ratio{}, fmt.Errorf("want \"N (x%%)\", got %q", s)
	}
	pct, ok := strings.CutSuffix(rest, "%)")
	if !ok {
		return Ratio{}, fmt.Errorf("want \"N (x%%)\", got %q", s)
	}
	var r Ratio
	var err error
	if r.N, err = parseUint(n); err != nil {
		return Ratio{}, err
	}
	if r.Pct, err = parseFloat(strings.TrimSuffix(pct, " ")); err != nil {
		return Ratio{}, err
	}
	return r, nil
}

// parseFloat parses a number printed by pgbench's printf. PostgreSQL's own snprintf (used by
// all clients since 12) prints NaN and infinities as "NaN", "Infinity" and "-Infinity", which
// strconv accepts; older builds used the C library's, which prints "-nan".
func parseFloat(s string) (float64, error) {
	if strings.EqualFold(s, "-nan") {
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func parseInt(s string) (int64, error) {
	return strconv.ParseInt(s, 10, 64)
}

// parseUint parses a count or an id: pgbench never prints these negative, so a minus sign
// means the line is not what it seems.
func parseUint(s string) (int64, error) {
	u, err := strconv.ParseUint(s, 10, 63)
	return int64(u), err
}

// parseMs parses "X ms".
func parseMs(s string) (float64, error) {
	num, ok := strings.CutSuffix(s, " ms")
	if !ok {
		return 0, fmt.Errorf("want \"X ms\", got %q", s)
	}
	return parseFloat(num)
}

func ptr[T any](v T) *T { return &v }
