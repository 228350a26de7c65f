package pgbench

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseAggregateLine(t *testing.T) {
	tests := []struct {
		name string
		line string
		want Interval
	}{
		{
			name: "pg15 plain (captured)",
			line: "1795422741 311 596369 1321956305 640 6239 0 0 0 0 0 0 0 0 0",
			want: Interval{Start: time.Unix(1795422741, 0).UTC(), Transactions: 311, LatencySumUs: 596369,
				LatencySum2Us: 1321956305, LatencyMinUs: 640, LatencyMaxUs: 6239, Columns: 15},
		},
		{
			name: "pg15 rate, limit, retries, failures (captured)",
			line: "1795447645 95 464398 2929355744 1429 12731 54842 133626358 8 4485 6 61 88 53 0",
			want: Interval{Start: time.Unix(1795447645, 0).UTC(), Transactions: 95, LatencySumUs: 464398,
				LatencySum2Us: 2929355744, LatencyMinUs: 1429, LatencyMaxUs: 12731, LagSumUs: 54842,
				LagSum2Us: 133626358, LagMinUs: 8, LagMaxUs: 4485, Skipped: 6, Retried: 61, Retries: 88,
				SerializationFailures: 53, Columns: 15},
		},
		{
			name: "pg18 deadlock failure (written)",
			line: "1795422741 2 4100 8410000 2000 2100 0 0 0 0 0 1 2 1 0",
			want: Interval{Start: time.Unix(1795422741, 0).UTC(), Transactions: 2, LatencySumUs: 4100,
				LatencySum2Us: 8410000, LatencyMinUs: 2000, LatencyMaxUs: 2100, Retried: 1, Retries: 2,
				SerializationFailures: 1, Columns: 15},
		},
		{
			name: "pg14 plain: 6 columns (written)",
			line: "1795422741 311 596369 1321956305 640 6239",
			want: Interval{Start: time.Unix(1795422741, 0).UTC(), Transactions: 311, LatencySumUs: 596369,
				LatencySum2Us: 1321956305, LatencyMinUs: 640, LatencyMaxUs: 6239, Columns: 6},
		},
		{
			name: "pg14 -R -L: 11 columns (written)",
			line: "1795422743 1083 1996584 4288594596 582 5861 498113 270001934 9 2877 14",
			want: Interval{Start: time.Unix(1795422743, 0).UTC(), Transactions: 1083, LatencySumUs: 1996584,
				LatencySum2Us: 4288594596, LatencyMinUs: 582, LatencyMaxUs: 5861, LagSumUs: 498113,
				LagSum2Us: 270001934, LagMinUs: 9, LagMaxUs: 2877, Skipped: 14, Columns: 11},
		},
		{
			// A sum of squares beyond int64 is still a number: pgbench prints a double.
			name: "huge sum of squares",
			line: "1 1 1 99999999999999999999 1 1 0 0 0 0 0 0 0 0 0",
			want: Interval{Start: time.Unix(1, 0).UTC(), Transactions: 1, LatencySumUs: 1,
				LatencySum2Us: 1e20, LatencyMinUs: 1, LatencyMaxUs: 1, Columns: 15},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAggregateLine(tt.line)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("ParseAggregateLine(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseAggregateLineErrors(t *testing.T) {
	for _, line := range []string{
		"",
		"1795422741 311 596369 1321956305 640", // 5
		"1795422741 311 596369 1321956305 640 6239 0 0 0 0 0 0",         // 12
		"1795422741 311 596369 1321956305 640 6239 0 0 0 0 0 0 0 0 0 0", // 16
		"then 311 596369 1321956305 640 6239 0 0 0 0 0 0 0 0 0",
		"1795422741 -311 596369 1321956305 640 6239 0 0 0 0 0 0 0 0 0",
		"1795422741 311 a 1321956305 640 6239 0 0 0 0 0 0 0 0 0",
		"1795422741 311 596369 1321956305 640 6239 0 0 0 0 0 0 0 0 x",
		// The per-transaction log is not an aggregated one.
		"0 1 18141 0 1795447621 962485",
	} {
		_, err := ParseAggregateLine(line)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != line {
			t.Errorf("ParseAggregateLine(%q) error = %v, want *SyntaxError", line, err)
		}
	}
}

// The aggregated logs must parse completely and add up to the counts they hold (for
// agg-rate-retries, 498 of the 621 transactions in its summary: the last, partial interval is
// never written).
func TestParseAggregateFiles(t *testing.T) {
	tests := []struct {
		files                          []string
		intervals                      int
		transactions, skipped, retries int64
	}{
		{[]string{"pg15/shared/pgbench_log.5926", "pg15/shared/pgbench_log.5926.1"}, 10, 9720, 0, 0},
		{[]string{"pg15/agg-rate-retries/pgbench_log.6051", "pg15/agg-rate-retries/pgbench_log.6051.1"}, 6, 498, 20, 476},
		{[]string{"pg14/agg.log"}, 3, 2503, 14, 0},
		{[]string{"pg18/pgbench_log.31337"}, 2, 3, 0, 2},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.files, ","), func(t *testing.T) {
			var n int
			var tx, skipped, retries int64
			for _, file := range tt.files {
				for _, line := range readLines(t, file) {
					iv, err := ParseAggregateLine(line)
					if err != nil {
						t.Fatal(err)
					}
					if iv.Transactions > 0 && (iv.LatencyMinUs > iv.LatencyMaxUs ||
						iv.LatencySumUs < iv.LatencyMinUs*float64(iv.Transactions)) {
						t.Errorf("%q: inconsistent latencies %+v", line, iv)
					}
					n++
					tx += iv.Transactions
					skipped += iv.Skipped
					retries += iv.Retries
				}
			}
			if n != tt.intervals || tx != tt.transactions || skipped != tt.skipped || retries != tt.retries {
				t.Errorf("%d intervals, %d transactions, %d skipped, %d retries; want %d, %d, %d, %d",
					n, tx, skipped, retries, tt.intervals, tt.transactions, tt.skipped, tt.retries)
			}
		})
	}
}
