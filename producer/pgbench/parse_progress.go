package pgbench

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// ErrNotProgress is returned by ParseProgress for a line that is not a progress line at all
// (anything not starting with "progress: "), so that the caller can pass it through. A line that
// starts like one but does not parse gets a *SyntaxError instead.
var ErrNotProgress = errors.New("pgbench: not a progress line")

// Progress is one line that pgbench -P N prints to stderr every N seconds, covering the
// transactions that completed since the previous line:
//
//	progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 0 failed, lag 0.519 ms, 146 skipped
//
// Exactly one of Elapsed and Timestamp is set, depending on --progress-timestamp. The pointer
// fields are nil when pgbench did not print the value.
type Progress struct {
	// Elapsed is the time since pgbench started its benchmark clock (the default form,
	// "5.0 s").
	Elapsed time.Duration
	// Timestamp is when pgbench took the report (--progress-timestamp, "1795422742.123 s").
	// Prefer this form: Elapsed counts from a start the caller can only approximate.
	Timestamp time.Time

	TPS       float64
	LatencyMs float64
	StddevMs  float64

	Failed  *int64   // pgbench 15+
	LagMs   *float64 // with -R
	Skipped *int64   // with -R and -L
	Retried *int64   // with --max-tries ≠ 1
	Retries *int64   // with --max-tries ≠ 1
}

// Time returns when the report was taken: Timestamp in the timestamp form, start+Elapsed in
// the elapsed form, where start is the caller's best guess of when pgbench started measuring.
func (p Progress) Time(start time.Time) time.Time {
	if !p.Timestamp.IsZero() {
		return p.Timestamp
	}
	return start.Add(p.Elapsed)
}

// ParseProgress parses one progress line, without its line ending. It returns ErrNotProgress
// for lines of any other kind.
func ParseProgress(line string) (Progress, error) {
	rest, ok := strings.CutPrefix(line, "progress: ")
	if !ok {
		return Progress{}, ErrNotProgress
	}
	bad := func(msg string, err error) (Progress, error) {
		return Progress{}, syntaxError("progress line", line, msg, err)
	}
	fields := strings.Split(strings.TrimRight(rest, "\r\n"), ", ")
	if len(fields) < 3 {
		return bad("want at least time, tps and latency", nil)
	}

	var p Progress
	secs, ok := strings.CutSuffix(fields[0], " s")
	if !ok {
		return bad(fmt.Sprintf("time %q: want \"X s\"", fields[0]), nil)
	}
	d, decimals, err := parseSeconds(secs)
	if err != nil {
		return bad(fmt.Sprintf("time %q", fields[0]), err)
	}
	// pgbench prints the elapsed form with "%.1f" and the epoch form with "%.3f". The number
	// of decimals is the reliable tell: an edge device whose clock has not been set yet
	// reports epoch seconds as small as an elapsed time.
	if decimals == 3 {
		p.Timestamp = time.Unix(0, int64(d)).UTC()
	} else {
		p.Elapsed = d
	}

	tps, ok := strings.CutSuffix(fields[1], " tps")
	if !ok {
		return bad(fmt.Sprintf("%q: want \"X tps\"", fields[1]), nil)
	}
	if p.TPS, err = parseFloat(tps); err != nil {
		return bad("tps", err)
	}

	lat := strings.Split(fields[2], " ")
	if len(lat) != 5 || lat[0] != "lat" || lat[2] != "ms" || lat[3] != "stddev" {
		return bad(fmt.Sprintf("%q: want \"lat X ms stddev Y\"", fields[2]), nil)
	}
	if p.LatencyMs, err = parseFloat(lat[1]); err != nil {
		return bad("latency", err)
	}
	if p.StddevMs, err = parseFloat(lat[4]); err != nil {
		return bad("stddev", err)
	}

	for _, f := range fields[3:] {
		if v, ok := strings.CutPrefix(f, "lag "); ok {
			if p.LagMs != nil {
				return bad("lag given twice", nil)
			}
			lag, err := parseMs(v)
			if err != nil {
				return bad("lag", err)
			}
			p.LagMs = &lag
			continue
		}
		num, word, _ := strings.Cut(f, " ")
		var dst **int64
		switch word {
		case "failed":
			dst = &p.Failed
		case "skipped":
			dst = &p.Skipped
		case "retried":
			dst = &p.Retried
		case "retries":
			dst = &p.Retries
		default:
			return bad(fmt.Sprintf("unknown field %q", f), nil)
		}
		if *dst != nil {
			return bad(fmt.Sprintf("%q given twice", word), nil)
		}
		n, err := parseUint(num)
		if err != nil {
			return bad(word, err)
		}
		*dst = &n
	}
	return p, nil
}

// parseSeconds parses a non-negative decimal number of seconds exactly, without going through
// float64 (which would blur the milliseconds of an epoch timestamp), and reports how many
// decimals it had.
func parseSeconds(s string) (d time.Duration, decimals int, err error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 9 || !allDigits(whole) || !allDigits(frac) {
		return 0, 0, fmt.Errorf("want seconds as digits with up to 9 decimals, got %q", s)
	}
	sec, err := parseUint(whole)
	if err != nil || sec > math.MaxInt64/int64(time.Second)-1 {
		return 0, 0, fmt.Errorf("seconds %q out of range", s)
	}
	var ns int64
	if frac != "" {
		ns, _ = parseUint(frac + strings.Repeat("0", 9-len(frac)))
	}
	return time.Duration(sec)*time.Second + time.Duration(ns), len(frac), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
