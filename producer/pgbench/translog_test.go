package pgbench

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func usAt(sec, usec int64) time.Time { return time.Unix(sec, usec*1000).UTC() }

func TestParseLogLine(t *testing.T) {
	lag := LogOptions{HasLag: true}
	retries := LogOptions{HasRetries: true}
	both := LogOptions{HasLag: true, HasRetries: true}
	tests := []struct {
		name string
		line string
		opts LogOptions
		want Transaction
	}{
		{"plain (pg15 captured)", "0 1 18141 0 1795447621 962485", LogOptions{},
			Transaction{ClientID: 0, TxNo: 1, LatencyUs: 18141, End: usAt(1795447621, 962485)}},
		{"lag (pg15 captured)", "0 3 5848 0 1795447622 337474 114", lag,
			Transaction{TxNo: 3, LatencyUs: 5848, End: usAt(1795447622, 337474), LagUs: 114}},
		{"skipped (pg15 captured)", "3 5 skipped 0 1795447622 335476 0", lag,
			Transaction{ClientID: 3, TxNo: 5, Status: TxSkipped, End: usAt(1795447622, 335476)}},
		{"retries (pg15 captured)", "0 2 52237 0 1795447633 459489 3550 1", both,
			Transaction{TxNo: 2, LatencyUs: 52237, End: usAt(1795447633, 459489), LagUs: 3550, Retries: 1}},
		{"failed (pg15 captured)", "4 1 failed 0 1795447634 495540", LogOptions{},
			Transaction{ClientID: 4, TxNo: 1, Status: TxFailed, End: usAt(1795447634, 495540)}},
		{"serialization, retries only", "6 9 serialization 0 1795447632 900001 2", retries,
			Transaction{ClientID: 6, TxNo: 9, Status: TxSerialization, End: usAt(1795447632, 900001), Retries: 2}},
		{"deadlock (pg17 written)", "1 2 deadlock 0 1795422742 133001 140 4", both,
			Transaction{ClientID: 1, TxNo: 2, Status: TxDeadlock, End: usAt(1795422742, 133001), LagUs: 140, Retries: 4}},
		{"second script", "12 40 250 1 1795447621 5", LogOptions{},
			Transaction{ClientID: 12, TxNo: 40, LatencyUs: 250, ScriptNo: 1, End: usAt(1795447621, 5)}},
		{"carriage return", "0 1 10 0 1 2\r", LogOptions{},
			Transaction{TxNo: 1, LatencyUs: 10, End: usAt(1, 2)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseLogLine(tt.line, tt.opts)
			if err != nil {
				t.Fatalf("ParseLogLine: %v", err)
			}
			if got != tt.want {
				t.Errorf("ParseLogLine(%q)\n got %+v\nwant %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestParseLogLineErrors(t *testing.T) {
	tests := []struct {
		line string
		opts LogOptions
		want string // in the error text
	}{
		// The 7-column ambiguity, both ways, and the hint about the options.
		{"0 3 5848 0 1795447622 337474 114", LogOptions{}, "7 columns, want 6"},
		{"0 1 18141 0 1795447621 962485", LogOptions{HasLag: true}, "was pgbench run with -R or --max-tries?"},
		{"0 1 18141 0 1795447621 962485 1 2 3", LogOptions{HasLag: true, HasRetries: true}, "more than 8 columns"},
		{"", LogOptions{}, "1 columns"},
		{"0  1 18141 0 1795447621 962485", LogOptions{}, "7 columns"},
		{"x 1 18141 0 1795447621 962485", LogOptions{}, "client_id"},
		{"-1 1 18141 0 1795447621 962485", LogOptions{}, "client_id"},
		{"0 one 18141 0 1795447621 962485", LogOptions{}, "transaction_no"},
		{"0 1 timeout 0 1795447621 962485", LogOptions{}, "latency"},
		{"0 1 18.5 0 1795447621 962485", LogOptions{}, "latency"},
		{"0 1 18141 a 1795447621 962485", LogOptions{}, "script_no"},
		{"0 1 18141 0 now 962485", LogOptions{}, "epoch_s"},
		{"0 1 18141 0 1795447621 1000000", LogOptions{}, "epoch_us"},
		{"0 1 18141 0 1795447621 962485 soon", LogOptions{HasLag: true}, "lag"},
		{"0 1 18141 0 1795447621 962485 -1", LogOptions{HasRetries: true}, "retries"},
	}
	for _, tt := range tests {
		_, err := ParseLogLine(tt.line, tt.opts)
		var se *SyntaxError
		if !errors.As(err, &se) || se.Line != tt.line || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseLogLine(%q, %+v) error = %v, want a *SyntaxError with %q", tt.line, tt.opts, err, tt.want)
		}
	}
}

// The captured logs, parsed line by line, must agree with the summary pgbench printed for the
// same run: counts per status, retries, and per-client transaction numbers without gaps.
func TestParseLogFiles(t *testing.T) {
	tests := []struct {
		dir     string
		opts    LogOptions
		status  map[TxStatus]int
		retries int64 // sum of the retries column
		retried int   // lines with retries > 0
	}{
		{"pg15/txlog-plain", LogOptions{}, map[TxStatus]int{TxOK: 30}, 0, 0},
		{"pg15/txlog-rate", LogOptions{HasLag: true}, map[TxStatus]int{TxOK: 569, TxSkipped: 173}, 0, 0},
		{"pg15/txlog-serial", LogOptions{HasRetries: true}, map[TxStatus]int{TxOK: 72, TxSerialization: 128}, 314, 169},
		{"pg15/txlog-deadlock", LogOptions{HasLag: true, HasRetries: true}, map[TxStatus]int{TxOK: 41, TxDeadlock: 19}, 39, 39},
		{"pg15/txlog-failed", LogOptions{}, map[TxStatus]int{TxOK: 23, TxFailed: 137}, 0, 0},
		{"pg14/rate", LogOptions{HasLag: true}, map[TxStatus]int{TxOK: 7, TxSkipped: 3}, 0, 0},
		{"pg17/retries", LogOptions{HasLag: true, HasRetries: true},
			map[TxStatus]int{TxOK: 5, TxSkipped: 1, TxSerialization: 1, TxDeadlock: 1}, 11, 4},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join("testdata", tt.dir, "pgbench_log.*"))
			if err != nil || len(files) != 2 {
				t.Fatalf("want two thread files, got %v, %v", files, err)
			}
			status := map[TxStatus]int{}
			var retries int64
			var retried int
			lastTx := map[int]int64{}
			for _, file := range files {
				var lastEnd time.Time
				for _, line := range readLines(t, strings.TrimPrefix(file, "testdata/")) {
					tx, err := ParseLogLine(line, tt.opts)
					if err != nil {
						t.Fatal(err)
					}
					status[tx.Status]++
					retries += tx.Retries
					if tx.Retries > 0 {
						retried++
					}
					if (tx.Status == TxOK) != (tx.LatencyUs > 0) {
						t.Errorf("%q: status %v with latency %d", line, tx.Status, tx.LatencyUs)
					}
					// Numbers count every transaction of a client, from 1, skipped and
					// failed included.
					if tx.TxNo != lastTx[tx.ClientID]+1 {
						t.Errorf("%q: client %d transaction %d follows %d", line, tx.ClientID, tx.TxNo, lastTx[tx.ClientID])
					}
					lastTx[tx.ClientID] = tx.TxNo
					// A thread writes its lines as transactions end.
					if tx.End.Before(lastEnd) {
						t.Errorf("%q: ends before the line above it", line)
					}
					lastEnd = tx.End
				}
			}
			if !equalCounts(status, tt.status) || retries != tt.retries || retried != tt.retried {
				t.Errorf("status %v, retries %d, retried %d; want %v, %d, %d", status, retries, retried, tt.status, tt.retries, tt.retried)
			}
		})
	}
}

func equalCounts(a, b map[TxStatus]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestTxStatusString(t *testing.T) {
	for s, want := range map[TxStatus]string{TxOK: "ok", TxSkipped: "skipped", TxFailed: "failed",
		TxSerialization: "serialization", TxDeadlock: "deadlock", 9: "TxStatus(9)"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", s, s.String(), want)
		}
	}
}

func BenchmarkParseLogLine(b *testing.B) {
	opts := LogOptions{HasLag: true, HasRetries: true}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseLogLine("0 2 52237 0 1795447633 459489 3550 1", opts); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseLogLine(f *testing.F) {
	seeds := []struct {
		dir  string
		opts LogOptions
	}{
		{"pg15/txlog-rate", LogOptions{HasLag: true}},
		{"pg15/txlog-serial", LogOptions{HasRetries: true}},
		{"pg15/txlog-deadlock", LogOptions{HasLag: true, HasRetries: true}},
		{"pg15/txlog-failed", LogOptions{}},
	}
	for _, s := range seeds {
		files, _ := filepath.Glob(filepath.Join("testdata", s.dir, "pgbench_log.*"))
		for _, file := range files {
			lines := readLines(f, strings.TrimPrefix(file, "testdata/"))
			for _, line := range lines[:min(3, len(lines))] {
				f.Add(line, s.opts.HasLag, s.opts.HasRetries)
			}
		}
	}
	f.Fuzz(func(t *testing.T, line string, hasLag, hasRetries bool) {
		tx, err := ParseLogLine(line, LogOptions{HasLag: hasLag, HasRetries: hasRetries})
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || tx != (Transaction{}) {
				t.Errorf("error %v (%T) with %+v", err, err, tx)
			}
			return
		}
		if tx.Status > TxDeadlock || tx.ClientID < 0 || tx.TxNo < 0 || tx.LatencyUs < 0 || tx.Retries < 0 {
			t.Errorf("%q parsed to impossible %+v", line, tx)
		}
		if tx.Status != TxOK && tx.LatencyUs != 0 {
			t.Errorf("%q: latency %d with status %v", line, tx.LatencyUs, tx.Status)
		}
		if tx.End.Nanosecond()%1000 != 0 {
			t.Errorf("%q: end %v not whole microseconds", line, tx.End)
		}
	})
}
