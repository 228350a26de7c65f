package pgbench

import (
	"errors"
	"strings"
)

// StderrKind says what a line on pgbench's stderr is.
type StderrKind int

const (
	// StderrOther is anything else: "starting vacuum...end.", the continuation lines of a
	// multi-line server error, output of pgbench -i.
	StderrOther StderrKind = iota
	// StderrProgress is a progress line (-P); StderrLine.Progress holds it parsed.
	StderrProgress
	// StderrError is "pgbench: error: …" (and "pgbench: fatal: …" before 15): a client aborted,
	// a connection failed, an option was wrong.
	StderrError
	// StderrAborted is the last line of a run that exited with status 2: "Run was aborted; the
	// above results are incomplete." The summary on stdout is partial.
	StderrAborted
	// StderrWarning is "pgbench: warning: …".
	StderrWarning
	// StderrDetail is "pgbench: detail: …" or "pgbench: hint: …", which belong to the error or
	// warning before them.
	StderrDetail
)

var stderrKindNames = [...]string{"other", "progress", "error", "aborted", "warning", "detail"}

// String returns the kind's name: "other", "progress", "error", "aborted", "warning", "detail".
func (k StderrKind) String() string {
	if k < 0 || int(k) >= len(stderrKindNames) {
		return "StderrKind(?)"
	}
	return stderrKindNames[k]
}

// StderrLine is one classified line of pgbench's stderr.
type StderrLine struct {
	Kind StderrKind
	// Text is the message without its "pgbench: <level>: " prefix for errors, warnings and
	// details, and the whole line otherwise. For StderrError and StderrAborted it is the text
	// to report.
	Text string
	// Progress is set when Kind is StderrProgress.
	Progress Progress
}

// abortedMessage starts the line pgbench prints last when a client aborted the run.
const abortedMessage = "Run was aborted"

// ClassifyStderr sorts one stderr line (without its line ending). The error is non-nil only for
// a line that starts like a progress line but does not parse; the line is then returned as
// StderrOther so the caller can still pass it through.
func ClassifyStderr(line string) (StderrLine, error) {
	line = strings.TrimRight(line, "\r\n")
	p, err := ParseProgress(line)
	switch {
	case err == nil:
		return StderrLine{Kind: StderrProgress, Text: line, Progress: p}, nil
	case !errors.Is(err, ErrNotProgress):
		return StderrLine{Kind: StderrOther, Text: line}, err
	}

	rest, ok := strings.CutPrefix(line, "pgbench: ")
	if !ok {
		return StderrLine{Kind: StderrOther, Text: line}, nil
	}
	level, msg, ok := strings.Cut(rest, ": ")
	if !ok {
		return StderrLine{Kind: StderrOther, Text: line}, nil
	}
	switch level {
	case "error", "fatal": // pgbench ≤ 14 reported the abort as "fatal"
		if strings.HasPrefix(msg, abortedMessage) {
			return StderrLine{Kind: StderrAborted, Text: msg}, nil
		}
		return StderrLine{Kind: StderrError, Text: msg}, nil
	case "warning":
		return StderrLine{Kind: StderrWarning, Text: msg}, nil
	case "detail", "hint":
		return StderrLine{Kind: StderrDetail, Text: msg}, nil
	}
	return StderrLine{Kind: StderrOther, Text: line}, nil
}
