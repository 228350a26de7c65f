package pgbench

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// tailRun runs tl in a goroutine that the test waits for (see wait), passing every line to
// the returned channel.
type tailRun struct {
	lines chan LogLine
	done  chan error
}

func startTail(t *testing.T, ctx context.Context, tl *LogTailer) *tailRun {
	t.Helper()
	r := &tailRun{lines: make(chan LogLine, 1000), done: make(chan error, 1)}
	go func() {
		r.done <- tl.Run(ctx, func(l LogLine) error {
			r.lines <- l
			return nil
		})
	}()
	return r
}

func (r *tailRun) next(t *testing.T) LogLine {
	t.Helper()
	select {
	case l := <-r.lines:
		return l
	case err := <-r.done:
		t.Fatalf("Run returned early: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("no line within 5 s")
	}
	return LogLine{}
}

// quiet asserts that nothing arrives during several poll intervals.
func (r *tailRun) quiet(t *testing.T) {
	t.Helper()
	select {
	case l := <-r.lines:
		t.Fatalf("unexpected line %+v", l)
	case <-time.After(60 * time.Millisecond):
	}
}

func (r *tailRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.done:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s")
		return nil
	}
}

// appendFile writes s at the end of the file, creating it, in one write as pgbench does.
func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

const tailPoll = 5 * time.Millisecond

// TestLogTailer follows two threads' logs as a pgbench run would write them: lines arrive in
// pieces, a second thread's file appears later, and the last writes land just before Drain.
func TestLogTailer(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "pgbench_log")
	thread0, thread1, thread2 := prefix+".4711", prefix+".4711.1", prefix+".4711.2"

	// Files the tailer must ignore: not pgbench logs of this prefix, or not files.
	for _, name := range []string{"pgbench_log", "pgbench_log.4711.tmp", "pgbench_log.4711.0", "other.4711", "pgbench_log.x"} {
		appendFile(t, filepath.Join(dir, name), "9 9 9 9 9 9\n")
	}
	if err := os.Mkdir(prefix+".999", 0o755); err != nil {
		t.Fatal(err)
	}

	ctx := t.Context()
	tl := NewLogTailer(prefix, PollInterval(tailPoll))
	r := startTail(t, ctx, tl)
	var got []LogLine

	// A complete line and the start of the next: only the complete one comes out.
	appendFile(t, thread0, "0 1 1200 0 1795447621 100000\n0 2 9")
	got = append(got, r.next(t))
	r.quiet(t)

	// The rest of the line arrives.
	appendFile(t, thread0, "80 0 1795447621 101000\n")
	got = append(got, r.next(t))

	// Thread 1's file appears later.
	appendFile(t, thread1, "1 1 2500 0 1795447621 102000\n1 2 skipped 0 1795447621 102001\n")
	got = append(got, r.next(t), r.next(t))
	r.quiet(t)

	// Written in pieces and into a new file right before pgbench exits: Drain must still
	// deliver them, without waiting for another poll.
	appendFile(t, thread0, "0 3 7")
	appendFile(t, thread0, "00 0 1795447621 103000\n")
	appendFile(t, thread2, "2 1 failed 0 1795447621 104000\n")
	tl.Drain()
	if err := r.wait(t); err != nil {
		t.Fatalf("Run after Drain: %v", err)
	}
	close(r.lines)
	for l := range r.lines {
		got = append(got, l)
	}

	wantLines := []LogLine{
		{Path: thread0, PID: 4711, Thread: 0, LineNo: 1, Text: "0 1 1200 0 1795447621 100000"},
		{Path: thread0, PID: 4711, Thread: 0, LineNo: 2, Text: "0 2 980 0 1795447621 101000"},
		{Path: thread1, PID: 4711, Thread: 1, LineNo: 1, Text: "1 1 2500 0 1795447621 102000"},
		{Path: thread1, PID: 4711, Thread: 1, LineNo: 2, Text: "1 2 skipped 0 1795447621 102001"},
		{Path: thread0, PID: 4711, Thread: 0, LineNo: 3, Text: "0 3 700 0 1795447621 103000"},
		{Path: thread2, PID: 4711, Thread: 2, LineNo: 1, Text: "2 1 failed 0 1795447621 104000"},
	}
	if !reflect.DeepEqual(got, wantLines) {
		t.Fatalf("lines\n got %+v\nwant %+v", got, wantLines)
	}

	var txs []Transaction
	for _, l := range got {
		tx, err := ParseLogLine(l.Text, LogOptions{})
		if err != nil {
			t.Fatal(err)
		}
		txs = append(txs, tx)
	}
	wantTxs := []Transaction{
		{ClientID: 0, TxNo: 1, LatencyUs: 1200, End: usAt(1795447621, 100000)},
		{ClientID: 0, TxNo: 2, LatencyUs: 980, End: usAt(1795447621, 101000)},
		{ClientID: 1, TxNo: 1, LatencyUs: 2500, End: usAt(1795447621, 102000)},
		{ClientID: 1, TxNo: 2, Status: TxSkipped, End: usAt(1795447621, 102001)},
		{ClientID: 0, TxNo: 3, LatencyUs: 700, End: usAt(1795447621, 103000)},
		{ClientID: 2, TxNo: 1, Status: TxFailed, End: usAt(1795447621, 104000)},
	}
	if !reflect.DeepEqual(txs, wantTxs) {
		t.Errorf("transactions\n got %+v\nwant %+v", txs, wantTxs)
	}
}

// A file that ends mid-line when pgbench is gone was cut short: the fragment is reported, not
// delivered, since "0 2 9" would parse as a (wrong) transaction.
func TestLogTailerIncompleteLineAtDrain(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "pgbench_log")
	appendFile(t, prefix+".77", "0 1 1200 0 1795447621 100000\n0 2 9")
	appendFile(t, prefix+".77.1", "1 1 1300 0 1795447621 100000\n")

	tl := NewLogTailer(prefix, PollInterval(tailPoll))
	tl.Drain() // before Run: Run makes one pass and returns
	var got []string
	err := tl.Run(t.Context(), func(l LogLine) error {
		got = append(got, l.Text)
		return nil
	})
	if !errors.Is(err, ErrIncompleteLine) || !strings.Contains(err.Error(), "pgbench_log.77 after line 1") {
		t.Errorf("Run error = %v, want ErrIncompleteLine naming the file", err)
	}
	want := []string{"0 1 1200 0 1795447621 100000", "1 1 1300 0 1795447621 100000"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestLogTailerOnlyPID(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "pgbench_log")
	appendFile(t, prefix+".100", "0 1 1 0 1 1\n") // an earlier run's log
	appendFile(t, prefix+".200", "0 1 2 0 2 2\n")
	appendFile(t, prefix+".200.1", "1 1 3 0 3 3\n")

	tl := NewLogTailer(prefix, OnlyPID(200))
	tl.Drain()
	tl.Drain() // harmless twice
	var got []string
	if err := tl.Run(t.Context(), func(l LogLine) error {
		got = append(got, l.Text)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"0 1 2 0 2 2", "1 1 3 0 3 3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q, want %q", got, want)
	}
}

func TestLogTailerCancel(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	r := startTail(t, ctx, NewLogTailer(filepath.Join(dir, "pgbench_log"), PollInterval(time.Hour)))
	r.quiet(t)
	cancel()
	if err := r.wait(t); !errors.Is(err, context.Canceled) {
		t.Errorf("Run error = %v, want context.Canceled", err)
	}
}

func TestLogTailerCallbackError(t *testing.T) {
	dir := t.TempDir()
	prefix := filepath.Join(dir, "pgbench_log")
	appendFile(t, prefix+".1", "a\nb\nc\n")
	stop := errors.New("stop")
	calls := 0
	err := NewLogTailer(prefix, PollInterval(tailPoll)).Run(t.Context(), func(LogLine) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("Run = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func TestLogTailerErrors(t *testing.T) {
	missing := NewLogTailer(filepath.Join(t.TempDir(), "nodir", "pgbench_log"))
	if err := missing.Run(t.Context(), func(LogLine) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "list pgbench log directory") {
		t.Errorf("missing directory: Run = %v", err)
	}
	if err := missing.Run(t.Context(), func(LogLine) error { return nil }); err == nil ||
		!strings.Contains(err.Error(), "twice") {
		t.Errorf("second Run = %v, want an error", err)
	}

	// A file without newlines is not a pgbench log; the tailer must not buffer it forever.
	prefix := filepath.Join(t.TempDir(), "pgbench_log")
	appendFile(t, prefix+".5", strings.Repeat("x", maxPendingLine+1))
	err := NewLogTailer(prefix).Run(t.Context(), func(LogLine) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "no newline") {
		t.Errorf("endless line: Run = %v", err)
	}
}

func TestParseLogFileName(t *testing.T) {
	tests := []struct {
		name        string
		pid, thread int
		ok          bool
	}{
		{"pgbench_log.5926", 5926, 0, true},
		{"pgbench_log.5926.1", 5926, 1, true},
		{"pgbench_log.5926.12", 5926, 12, true},
		{"pgbench_log.5926.0", 0, 0, false}, // thread 0 has no suffix
		{"pgbench_log.5926.1.gz", 0, 0, false},
		{"pgbench_log.5926.tmp", 0, 0, false},
		{"pgbench_log.", 0, 0, false},
		{"pgbench_log", 0, 0, false},
		{"pgbench_logs.5926", 0, 0, false},
		{"pgbench_log.-1", 0, 0, false},
		{"pgbench_log.99999999999999999999", 0, 0, false},
	}
	for _, tt := range tests {
		pid, thread, ok := parseLogFileName(tt.name, "pgbench_log")
		if pid != tt.pid || thread != tt.thread || ok != tt.ok {
			t.Errorf("parseLogFileName(%q) = %d, %d, %v; want %d, %d, %v", tt.name, pid, thread, ok, tt.pid, tt.thread, tt.ok)
		}
	}
	// --log-prefix may contain dots.
	if pid, thread, ok := parseLogFileName("run.7.log.42.3", "run.7.log"); !ok || pid != 42 || thread != 3 {
		t.Errorf("dotted prefix: %d, %d, %v", pid, thread, ok)
	}
}

// The last pass reads to the end however much is left, past the per-poll bound.
func TestLogTailerDrainReadsEverything(t *testing.T) {
	prefix := filepath.Join(t.TempDir(), "pgbench_log")
	const line = "0 1 1 0 1 1\n"
	n := maxReadPerPoll/len(line) + 1000
	appendFile(t, prefix+".3", strings.Repeat(line, n))
	tl := NewLogTailer(prefix)
	tl.Drain()
	got := 0
	if err := tl.Run(t.Context(), func(LogLine) error { got++; return nil }); err != nil {
		t.Fatal(err)
	}
	if got != n {
		t.Errorf("%d lines, want %d", got, n)
	}
}
