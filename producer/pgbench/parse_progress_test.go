package pgbench

import (
	"bufio"
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseProgress(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Progress
	}{
		{
			name: "pg15 plain (captured)",
			line: "progress: 1.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 0 failed",
			want: Progress{Elapsed: time.Second, TPS: 2121.8, LatencyMs: 1.856, StddevMs: 0.778, Failed: ptr[int64](0)},
		},
		{
			name: "pg15 rate and latency limit (captured)",
			line: "progress: 3.0 s, 1768.8 tps, lat 2.067 ms stddev 1.402, 0 failed, lag 0.533 ms, 229 skipped",
			want: Progress{Elapsed: 3 * time.Second, TPS: 1768.8, LatencyMs: 2.067, StddevMs: 1.402,
				Failed: ptr[int64](0), LagMs: ptr(0.533), Skipped: ptr[int64](229)},
		},
		{
			name: "pg15 retries (captured)",
			line: "progress: 2.0 s, 619.0 tps, lat 4.087 ms stddev 4.510, 277 failed, 537 retried, 3368 retries",
			want: Progress{Elapsed: 2 * time.Second, TPS: 619, LatencyMs: 4.087, StddevMs: 4.51,
				Failed: ptr[int64](277), Retried: ptr[int64](537), Retries: ptr[int64](3368)},
		},
		{
			name: "pg15 progress timestamp (captured)",
			line: "progress: 1795447623.219 s, 263.0 tps, lat 6.298 ms stddev 4.201, 0 failed, lag 0.261 ms, 74 skipped",
			want: Progress{Timestamp: time.Unix(1795447623, 219_000_000).UTC(), TPS: 263, LatencyMs: 6.298,
				StddevMs: 4.201, Failed: ptr[int64](0), LagMs: ptr(0.261), Skipped: ptr[int64](74)},
		},
		{
			name: "pg14 no failed field (written)",
			line: "progress: 10.0 s, 353.8 tps, lat 17.233 ms stddev 5.253",
			want: Progress{Elapsed: 10 * time.Second, TPS: 353.8, LatencyMs: 17.233, StddevMs: 5.253},
		},
		{
			name: "pg14 rate (written)",
			line: "progress: 1795422742.004 s, 1833.8 tps, lat 1.931 ms stddev 0.929, lag 0.519 ms, 146 skipped",
			want: Progress{Timestamp: time.Unix(1795422742, 4_000_000).UTC(), TPS: 1833.8, LatencyMs: 1.931,
				StddevMs: 0.929, LagMs: ptr(0.519), Skipped: ptr[int64](146)},
		},
		{
			name: "pg17 everything (written)",
			line: "progress: 1795422742.123 s, 701.0 tps, lat 9.701 ms stddev 7.822, 10 failed, lag 1.101 ms, 20 skipped, 270 retried, 580 retries",
			want: Progress{Timestamp: time.Unix(1795422742, 123_000_000).UTC(), TPS: 701, LatencyMs: 9.701,
				StddevMs: 7.822, Failed: ptr[int64](10), LagMs: ptr(1.101), Skipped: ptr[int64](20),
				Retried: ptr[int64](270), Retries: ptr[int64](580)},
		},
		{
			// A device without a real-time clock reports epoch seconds near 0: the three
			// decimals still mark the timestamp form.
			name: "timestamp before the clock was set",
			line: "progress: 12.345 s, 1.0 tps, lat 1.000 ms stddev 0.000, 0 failed",
			want: Progress{Timestamp: time.Unix(12, 345_000_000).UTC(), TPS: 1, LatencyMs: 1, Failed: ptr[int64](0)},
		},
		{
			name: "late thread gives a fractional elapsed time",
			line: "progress: 5.1 s, 0.0 tps, lat 0.000 ms stddev 0.000, 0 failed",
			want: Progress{Elapsed: 5100 * time.Millisecond, Failed: ptr[int64](0)},
		},
		{
			name: "carriage return is ignored",
			line: "progress: 1.0 s, 1.0 tps, lat 1.000 ms stddev 0.000\r",
			want: Progress{Elapsed: time.Second, TPS: 1, LatencyMs: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProgress(tt.line)
			if err != nil {
				t.Fatalf("ParseProgress: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseProgress(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

// Old pgbench printed "-nan" for an interval without transactions; current PostgreSQL prints
// "NaN". Both must parse, since a NaN there is data (nothing completed), not a broken line.
func TestParseProgressNaN(t *testing.T) {
	for _, line := range []string{
		"progress: 45.0 s, 0.0 tps, lat -nan ms stddev -nan",
		"progress: 45.0 s, 0.0 tps, lat NaN ms stddev NaN, 0 failed",
	} {
		p, err := ParseProgress(line)
		if err != nil {
			t.Fatalf("ParseProgress(%q): %v", line, err)
		}
		if !math.IsNaN(p.LatencyMs) || !math.IsNaN(p.StddevMs) || p.Elapsed != 45*time.Second {
			t.Errorf("ParseProgress(%q) = %+v, want NaN latency at 45 s", line, p)
		}
	}
}

func TestParseProgressErrors(t *testing.T) {
	notProgress := []string{
		"",
		"starting vacuum...end.",
		"pgbench: error: Run was aborted; the above results are incomplete.",
		"100000 of 100000 tuples (100%) done (elapsed 0.02 s, remaining 0.00 s)",
		"progress:5.0 s, 1 tps",
		" progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778",
	}
	for _, line := range notProgress {
		if _, err := ParseProgress(line); !errors.Is(err, ErrNotProgress) {
			t.Errorf("ParseProgress(%q) error = %v, want ErrNotProgress", line, err)
		}
	}

	malformed := []string{
		"progress: ",
		"progress: 5.0 s, 2121.8 tps",
		"progress: 5.0, 2121.8 tps, lat 1.856 ms stddev 0.778",
		"progress: -5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778",
		"progress: 5.0 s, 2121.8 tx, lat 1.856 ms stddev 0.778",
		"progress: 5.0 s, many tps, lat 1.856 ms stddev 0.778",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev x",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 0 failed, 1 failed",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, -1 failed",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, 3 exploded",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, lag 1 s",
		"progress: 5.0 s, 2121.8 tps, lat 1.856 ms stddev 0.778, lag 1.0 ms, lag 2.0 ms",
		"progress: 99999999999999.0 s, 1 tps, lat 1 ms stddev 1",
	}
	for _, line := range malformed {
		_, err := ParseProgress(line)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("ParseProgress(%q) error = %v, want *SyntaxError", line, err)
			continue
		}
		if se.Line != line || !strings.Contains(err.Error(), "progress line") {
			t.Errorf("ParseProgress(%q) error %q does not name the line", line, err)
		}
	}
}

func TestProgressTime(t *testing.T) {
	start := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	ts := time.Unix(1795422742, 123_000_000).UTC()
	if got := (Progress{Elapsed: 5 * time.Second}).Time(start); !got.Equal(start.Add(5 * time.Second)) {
		t.Errorf("elapsed form: Time = %v", got)
	}
	if got := (Progress{Timestamp: ts}).Time(start); !got.Equal(ts) {
		t.Errorf("timestamp form: Time = %v, want %v", got, ts)
	}
}

// Every progress line in the captured and written stderr files must parse, and the count per
// file is checked so that a file silently losing its progress lines is noticed.
func TestParseProgressFiles(t *testing.T) {
	files := map[string]int{
		"pg15/shared/run.stderr":       5,
		"pg15/shared/D.err":            3,
		"pg15/shared/F.err":            3,
		"pg15/txlog-rate/stderr":       2,
		"pg15/connect-r/stderr":        2,
		"pg14/T-P.stderr":              5,
		"pg14/rate.stderr":             3,
		"pg17/retries.stderr":          3,
		"pg18/multi.stderr":            2,
		"pg15/shared/J.err":            0,
		"pg15/shared/A.err":            0,
		"pg15/multi-script/stderr":     0,
		"pg15/agg-rate-retries/stderr": 0,
	}
	for name, want := range files {
		t.Run(name, func(t *testing.T) {
			got := 0
			for _, line := range readLines(t, name) {
				_, err := ParseProgress(line)
				switch {
				case err == nil:
					got++
				case !errors.Is(err, ErrNotProgress):
					t.Errorf("ParseProgress(%q): %v", line, err)
				}
			}
			if got != want {
				t.Errorf("%d progress lines, want %d", got, want)
			}
		})
	}
}

func FuzzParseProgress(f *testing.F) {
	for _, name := range []string{"pg15/shared/run.stderr", "pg15/shared/D.err", "pg15/shared/F.err",
		"pg15/txlog-rate/stderr", "pg14/rate.stderr", "pg17/retries.stderr"} {
		for _, line := range readLines(f, name) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, line string) {
		p, err := ParseProgress(line)
		if err != nil {
			if p != (Progress{}) {
				t.Errorf("error %v with non-zero Progress %+v", err, p)
			}
			return
		}
		if !strings.HasPrefix(line, "progress: ") {
			t.Errorf("parsed %q, which is not a progress line", line)
		}
		if p.Elapsed != 0 && !p.Timestamp.IsZero() {
			t.Errorf("both forms set: %+v", p)
		}
	})
}

// readLines returns the lines of a testdata file.
func readLines(tb testing.TB, name string) []string {
	tb.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return lines
}
