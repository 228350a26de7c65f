package stats

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/benchpipe/benchpipe/schema"
)

// IsTerminal reports whether w is a terminal, so that Progress can rewrite its line in place. A writer that
// wraps another (a filter such as schema.Redactor's, with an Unwrap() io.Writer method) is a terminal when
// the writer it wraps is.
func IsTerminal(w io.Writer) bool {
	for {
		u, ok := w.(interface{ Unwrap() io.Writer })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// RateValue is one labelled per-second figure of a progress line, e.g. {"sent", 10000}.
type RateValue struct {
	Label string
	PerS  float64
}

// Line is what one progress line shows about the interval that just ended.
type Line struct {
	Elapsed    time.Duration // since the run started
	Phase      schema.Phase
	WarmupLeft time.Duration // shown as a countdown during the warm-up
	Rates      []RateValue
	P99Ms      float64 // latency p99 of the interval
	HasP99     bool    // false when nothing completed in the interval
	Errors     int64   // errors in the interval
	Note       string  // optional, e.g. "draining"
}

// Format renders l without any terminal control characters.
func (l Line) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.0fs ", l.Elapsed.Seconds())
	if l.Phase == schema.PhaseWarmup {
		fmt.Fprintf(&b, "warm-up %4.0fs left", l.WarmupLeft.Seconds())
	} else {
		b.WriteString("measure")
	}
	for _, r := range l.Rates {
		fmt.Fprintf(&b, " | %s %.0f/s", r.Label, r.PerS)
	}
	if l.HasP99 {
		fmt.Fprintf(&b, " | p99 %.2f ms", l.P99Ms)
	} else {
		b.WriteString(" | p99 -")
	}
	fmt.Fprintf(&b, " | errors %d", l.Errors)
	if l.Note != "" {
		b.WriteString(" | " + l.Note)
	}
	return b.String()
}

// Progress prints one line per interval. On a terminal it rewrites a single line in place with a carriage
// return; anywhere else (a log file, a pipe, systemd's journal) it writes plain lines.
type Progress struct {
	w        io.Writer
	terminal bool
	lastLen  int // length of the line on screen, to blank out what a shorter line leaves behind
}

// NewProgress returns a Progress writing to w; terminal selects in-place rewriting (see IsTerminal).
func NewProgress(w io.Writer, terminal bool) *Progress { return &Progress{w: w, terminal: terminal} }

// Show prints l.
func (p *Progress) Show(l Line) {
	s := l.Format()
	if !p.terminal {
		fmt.Fprintln(p.w, s)
		return
	}
	pad := max(p.lastLen-len(s), 0)
	fmt.Fprintf(p.w, "\r%s%s", s, strings.Repeat(" ", pad))
	p.lastLen = len(s)
}

// Done ends the in-place line so that what follows starts on a fresh line. It is a no-op when not on a terminal
// or when nothing was shown.
func (p *Progress) Done() {
	if p.terminal && p.lastLen > 0 {
		fmt.Fprintln(p.w)
		p.lastLen = 0
	}
}

// Row is one labelled value of a summary table.
type Row struct {
	Label string
	Value string
}

// LatencyRow is one latency distribution of a summary table.
type LatencyRow struct {
	Label   string
	Latency *schema.Latency // nil prints as "no samples"
}

// Table is the summary printed at the end of a run: labelled values, then latency distributions side by side.
type Table struct {
	Title   string
	Rows    []Row
	Latency []LatencyRow
}

// WriteTo prints the table.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	var b bytes.Buffer
	if t.Title != "" {
		fmt.Fprintln(&b, t.Title)
	}
	width := 0
	for _, r := range t.Rows {
		width = max(width, len(r.Label))
	}
	for _, r := range t.Latency {
		width = max(width, len(r.Label), len("latency (ms)"))
	}
	for _, r := range t.Rows {
		fmt.Fprintf(&b, "  %-*s  %s\n", width, r.Label, r.Value)
	}
	if len(t.Latency) > 0 {
		fmt.Fprintf(&b, "  %-*s  %9s %9s %9s %9s %9s %9s %9s %9s\n", width, "latency (ms)", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max")
		for _, r := range t.Latency {
			l := r.Latency
			if l == nil {
				fmt.Fprintf(&b, "  %-*s  no samples\n", width, r.Label)
				continue
			}
			fmt.Fprintf(&b, "  %-*s  %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", width, r.Label,
				l.MinMs, l.MeanMs, l.P50Ms, l.P90Ms, l.P95Ms, l.P99Ms, l.P999Ms, l.MaxMs)
		}
	}
	n, err := w.Write(b.Bytes())
	return int64(n), err
}
