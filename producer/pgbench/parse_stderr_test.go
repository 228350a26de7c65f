package pgbench

import (
	"errors"
	"testing"
	"time"
)

func TestClassifyStderr(t *testing.T) {
	tests := []struct {
		line string
		kind StderrKind
		text string
	}{
		{"starting vacuum...end.", StderrOther, "starting vacuum...end."},
		{"progress: 1.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 0 failed", StderrProgress,
			"progress: 1.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 0 failed"},
		{"pgbench: error: client 0 script 0 aborted in command 0 query 0: ERROR:  division by zero", StderrError,
			"client 0 script 0 aborted in command 0 query 0: ERROR:  division by zero"},
		{"pgbench: error: Run was aborted; the above results are incomplete.", StderrAborted,
			"Run was aborted; the above results are incomplete."},
		// pgbench ≤ 14 logged the abort as fatal.
		{"pgbench: fatal: Run was aborted; the above results are incomplete.", StderrAborted,
			"Run was aborted; the above results are incomplete."},
		{"pgbench: fatal: connection to database \"x\" failed", StderrError, "connection to database \"x\" failed"},
		{"pgbench: warning: scale option ignored, using count from pgbench_branches table (1)", StderrWarning,
			"scale option ignored, using count from pgbench_branches table (1)"},
		{"pgbench: detail: Expecting an unsigned integer, \"time\" or \"rand\".", StderrDetail,
			"Expecting an unsigned integer, \"time\" or \"rand\"."},
		{"pgbench: hint: Try \"pgbench --help\" for more information.", StderrDetail,
			"Try \"pgbench --help\" for more information."},
		{"LINE 1: UPDATE pgbench_accounts SET abalance = abalance + -3243 WHER...", StderrOther,
			"LINE 1: UPDATE pgbench_accounts SET abalance = abalance + -3243 WHER..."},
		{"pgbench: something new: x", StderrOther, "pgbench: something new: x"},
		{"pgbench:", StderrOther, "pgbench:"},
		{"pgbench: error: Run was aborted\r", StderrAborted, "Run was aborted"},
	}
	for _, tt := range tests {
		got, err := ClassifyStderr(tt.line)
		if err != nil {
			t.Errorf("ClassifyStderr(%q): %v", tt.line, err)
			continue
		}
		if got.Kind != tt.kind || got.Text != tt.text {
			t.Errorf("ClassifyStderr(%q) = %v %q, want %v %q", tt.line, got.Kind, got.Text, tt.kind, tt.text)
		}
	}
}

func TestClassifyStderrProgress(t *testing.T) {
	got, err := ClassifyStderr("progress: 2.0 s, 619.0 tps, lat 4.087 ms stddev 4.510, 277 failed, 537 retried, 3368 retries")
	if err != nil || got.Kind != StderrProgress {
		t.Fatalf("got %+v, %v", got, err)
	}
	if got.Progress.Elapsed != 2*time.Second || *got.Progress.Retries != 3368 {
		t.Errorf("Progress = %s", dump(got.Progress))
	}
}

// A broken progress line is reported, and still handed back for passing through.
func TestClassifyStderrBrokenProgress(t *testing.T) {
	line := "progress: 2.0 s, lots of tps"
	got, err := ClassifyStderr(line)
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v, want *SyntaxError", err)
	}
	if got.Kind != StderrOther || got.Text != line {
		t.Errorf("got %+v, want the line as StderrOther", got)
	}
}

// The captured stderr of an aborted run ends in StderrAborted, after one error per client.
func TestClassifyStderrFiles(t *testing.T) {
	tests := []struct {
		file                           string
		progress, errs, aborted, other int
	}{
		{"pg15/shared/J.err", 0, 2, 1, 0},
		{"pg15/shared/D.err", 3, 0, 0, 1},
		{"pg15/shared/A.err", 0, 0, 0, 1},
		{"pg14/aborted.stderr", 0, 2, 1, 5},
		{"pg17/aborted.stderr", 0, 2, 1, 0},
		{"pg17/retries.stderr", 3, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			counts := map[StderrKind]int{}
			var last StderrLine
			for _, line := range readLines(t, tt.file) {
				l, err := ClassifyStderr(line)
				if err != nil {
					t.Errorf("ClassifyStderr(%q): %v", line, err)
				}
				counts[l.Kind]++
				last = l
			}
			if counts[StderrProgress] != tt.progress || counts[StderrError] != tt.errs ||
				counts[StderrAborted] != tt.aborted || counts[StderrOther] != tt.other {
				t.Errorf("counts = %v", counts)
			}
			if tt.aborted > 0 && last.Kind != StderrAborted {
				t.Errorf("last line is %v, want aborted", last.Kind)
			}
		})
	}
}

func TestStderrKindString(t *testing.T) {
	if StderrAborted.String() != "aborted" || StderrKind(99).String() != "StderrKind(?)" {
		t.Errorf("String() = %q, %q", StderrAborted.String(), StderrKind(99).String())
	}
}
