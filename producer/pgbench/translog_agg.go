package pgbench

import (
	"fmt"
	"strings"
	"time"
)

// Interval is one line of the aggregated log (-l --aggregate-interval N). Times are in
// microseconds. pgbench keeps the sums as doubles and prints them with "%.0f", so they are
// float64 here too (a sum of squares overflows int64 quickly); counts are int64.
//
// Since pgbench 15 every line has 15 columns, zeros standing in for what the options did not
// enable (lag without -R, skipped without -L, retries with --max-tries=1, failure kinds without
// --failures-detailed). Before 15 the line had 6 columns, 10 with -R, 11 with -R and -L.
type Interval struct {
	Start time.Time // interval_start; the first interval of a run is partial
	// Transactions counts the transactions that succeeded in the interval; failed and
	// skipped ones are only in the counters below.
	Transactions int64

	LatencySumUs  float64
	LatencySum2Us float64 // sum of squares, µs²
	LatencyMinUs  float64
	LatencyMaxUs  float64

	LagSumUs  float64
	LagSum2Us float64
	LagMinUs  float64
	LagMaxUs  float64

	Skipped               int64
	Retried               int64
	Retries               int64
	SerializationFailures int64
	DeadlockFailures      int64

	// Columns is how many columns the line had (6, 10, 11 or 15).
	Columns int
}

// ParseAggregateLine parses one line of an aggregated log, without its line ending.
func ParseAggregateLine(line string) (Interval, error) {
	var f [15]string
	n, ok := splitSpaces(strings.TrimRight(line, "\r\n"), f[:])
	if !ok || (n != 6 && n != 10 && n != 11 && n != 15) {
		return Interval{}, syntaxError("aggregate log line", line, "want 15 columns (6, 10 or 11 before pgbench 15)", nil)
	}
	iv := Interval{Columns: n}
	start, err := parseUint(f[0])
	if err != nil {
		return Interval{}, syntaxError("aggregate log line", line, "interval_start", err)
	}
	iv.Start = time.Unix(start, 0).UTC()

	floats := []*float64{&iv.LatencySumUs, &iv.LatencySum2Us, &iv.LatencyMinUs, &iv.LatencyMaxUs,
		&iv.LagSumUs, &iv.LagSum2Us, &iv.LagMinUs, &iv.LagMaxUs}
	counts := []*int64{&iv.Skipped, &iv.Retried, &iv.Retries, &iv.SerializationFailures, &iv.DeadlockFailures}
	// Column i (from 1) goes to: 1 the count, 2–9 the sums, 10– the counters.
	for i := 1; i < n; i++ {
		var err error
		switch {
		case i == 1:
			iv.Transactions, err = parseUint(f[i])
		case i <= 9:
			*floats[i-2], err = parseFloat(f[i])
		default:
			*counts[i-10], err = parseUint(f[i])
		}
		if err != nil {
			return Interval{}, syntaxError("aggregate log line", line, fmt.Sprintf("column %d", i+1), err)
		}
	}
	// A 6-column per-transaction line fits the 6-column format of pgbench 14; this check
	// catches most such mix-ups.
	if iv.Transactions > 0 && iv.LatencyMinUs > iv.LatencyMaxUs {
		return Interval{}, syntaxError("aggregate log line", line, "minimum latency above maximum (a per-transaction log?)", nil)
	}
	return iv, nil
}
