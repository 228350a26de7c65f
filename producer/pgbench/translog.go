package pgbench

import (
	"fmt"
	"strings"
	"time"
)

// TxStatus is how a logged transaction ended.
type TxStatus uint8

const (
	TxOK            TxStatus = iota // completed; LatencyUs is set
	TxSkipped                       // not sent at all: already later than -L under -R
	TxFailed                        // failed (serialization or deadlock) after all tries, without --failures-detailed
	TxSerialization                 // failed on a serialization error (--failures-detailed)
	TxDeadlock                      // failed on a deadlock (--failures-detailed)
)

// txStatusNames are the words pgbench writes in place of the latency; "ok" has no word there.
var txStatusNames = [...]string{"ok", "skipped", "failed", "serialization", "deadlock"}

// String returns the status as pgbench writes it in the log ("skipped", "failed",
// "serialization", "deadlock"), or "ok".
func (s TxStatus) String() string {
	if int(s) >= len(txStatusNames) {
		return fmt.Sprintf("TxStatus(%d)", s)
	}
	return txStatusNames[s]
}

// LogOptions says which optional columns the per-transaction log has. Both are decided by
// pgbench's command line and cannot be told from a line: a 7-column line has either.
type LogOptions struct {
	HasLag     bool // pgbench ran with -R/--rate: the schedule lag follows the time
	HasRetries bool // pgbench ran with --max-tries other than 1: the retry count ends the line
}

func (o LogOptions) columns() int {
	n := 6
	if o.HasLag {
		n++
	}
	if o.HasRetries {
		n++
	}
	return n
}

// Transaction is one line of pgbench's per-transaction log (-l):
//
//	client_id transaction_no latency script_no epoch_s epoch_us [lag] [retries]
type Transaction struct {
	ClientID int
	// TxNo counts the client's transactions from 1, skipped and failed ones included.
	TxNo   int64
	Status TxStatus
	// LatencyUs is the latency in microseconds, measured from the scheduled start under -R.
	// It is set only when Status is TxOK: pgbench writes a word instead for the others.
	LatencyUs int64
	// ScriptNo is the index of the script that ran, from 0 in the order of -b/-f.
	ScriptNo int
	// End is when the transaction completed, failed, or was skipped (epoch_s and epoch_us).
	End time.Time
	// LagUs is the schedule lag (actual minus scheduled start); 0 unless LogOptions.HasLag.
	LagUs int64
	// Retries is the number of retries; 0 unless LogOptions.HasRetries.
	Retries int64
}

// maxLogColumns is the widest per-transaction line: 6 columns, lag, retries.
const maxLogColumns = 8

// ParseLogLine parses one line of a per-transaction log, without its line ending.
func ParseLogLine(line string, opts LogOptions) (Transaction, error) {
	bad := func(msg string, err error) (Transaction, error) {
		return Transaction{}, syntaxError("log line", line, msg, err)
	}
	var f [maxLogColumns]string
	n, ok := splitSpaces(strings.TrimRight(line, "\r\n"), f[:])
	if want := opts.columns(); !ok || n != want {
		cols := fmt.Sprint(n)
		if !ok {
			cols = fmt.Sprintf("more than %d", maxLogColumns)
		}
		return bad(fmt.Sprintf("%s columns, want %d for %+v (was pgbench run with -R or --max-tries?)",
			cols, want, opts), nil)
	}

	var tx Transaction
	client, err := parseUint(f[0])
	if err != nil {
		return bad("client_id", err)
	}
	if int64(int(client)) != client {
		return bad(fmt.Sprintf("client_id %d out of range", client), nil)
	}
	tx.ClientID = int(client)
	if tx.TxNo, err = parseUint(f[1]); err != nil {
		return bad("transaction_no", err)
	}
	switch f[2] {
	case "skipped":
		tx.Status = TxSkipped
	case "failed":
		tx.Status = TxFailed
	case "serialization":
		tx.Status = TxSerialization
	case "deadlock":
		tx.Status = TxDeadlock
	default:
		// pgbench prints the latency with "%.0f": digits only.
		if tx.LatencyUs, err = parseUint(f[2]); err != nil {
			return bad("latency", err)
		}
	}
	script, err := parseUint(f[3])
	if err != nil {
		return bad("script_no", err)
	}
	if int64(int(script)) != script {
		return bad(fmt.Sprintf("script_no %d out of range", script), nil)
	}
	tx.ScriptNo = int(script)
	sec, err := parseUint(f[4])
	if err != nil {
		return bad("epoch_s", err)
	}
	usec, err := parseUint(f[5])
	if err != nil {
		return bad("epoch_us", err)
	}
	if usec > 999_999 {
		return bad(fmt.Sprintf("epoch_us %d is not below one second", usec), nil)
	}
	tx.End = time.Unix(sec, usec*1000).UTC()
	next := 6
	if opts.HasLag {
		if tx.LagUs, err = parseInt(f[next]); err != nil {
			return bad("lag", err)
		}
		next++
	}
	if opts.HasRetries {
		if tx.Retries, err = parseUint(f[next]); err != nil {
			return bad("retries", err)
		}
	}
	return tx, nil
}

// splitSpaces splits s at single spaces into dst, as pgbench writes its logs, without
// allocating: the log is the hot path (one line per transaction). ok is false when s has more
// fields than dst holds.
func splitSpaces(s string, dst []string) (n int, ok bool) {
	for {
		if n == len(dst) {
			return n, false
		}
		field, rest, more := strings.Cut(s, " ")
		dst[n] = field
		n++
		if !more {
			return n, true
		}
		s = rest
	}
}
