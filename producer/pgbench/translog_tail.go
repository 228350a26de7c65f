package pgbench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrIncompleteLine is returned (wrapped, one per file) by LogTailer.Run when, after Drain, a
// log file ends in a line without its newline: pgbench was killed mid-write. The fragment is
// not delivered, because a cut-off number would still parse.
var ErrIncompleteLine = errors.New("pgbench: log file ends in an incomplete line")

// LogLine is one complete line of a pgbench log file.
type LogLine struct {
	Path   string // the file it came from
	PID    int    // pgbench's process id, from the file name
	Thread int    // 0 for <prefix>.<pid>, n for <prefix>.<pid>.<n>
	LineNo int64  // from 1, within the file
	Text   string // without the newline
}

// TailOption configures a LogTailer.
type TailOption func(*tailConfig)

type tailConfig struct {
	poll time.Duration
	pid  int
}

// PollInterval sets how often the tailer looks for new files and new data. The default,
// 100 ms, keeps the delay well below a progress interval at negligible cost; shorten it only in
// tests.
func PollInterval(d time.Duration) TailOption {
	return func(c *tailConfig) {
		if d > 0 {
			c.poll = d
		}
	}
}

// OnlyPID makes the tailer follow only the files of the pgbench process with this id (the
// runner knows it from os.Process.Pid). By default it follows the files of any pid that match
// the prefix, so without this option each run needs a directory of its own, or older runs'
// files are read too.
func OnlyPID(pid int) TailOption {
	return func(c *tailConfig) { c.pid = pid }
}

// LogTailer follows the log files that pgbench -l writes, one per thread, while they grow.
// It polls the directory, picks up files that appear later, and delivers complete lines only:
// a partial last line waits for its newline. It works for per-transaction and aggregated logs
// alike (the caller picks ParseLogLine or ParseAggregateLine).
//
// Ownership: Run does all its work in the goroutine that calls it and starts none; it opens the
// files and closes them before it returns. Drain may be called from any goroutine. A LogTailer
// runs once.
type LogTailer struct {
	dir, base string
	cfg       tailConfig

	drain     chan struct{}
	drainOnce sync.Once
	ran       atomic.Bool
}

// NewLogTailer returns a tailer for the files of logPrefix, which is what pgbench's
// --log-prefix was (default "pgbench_log"), resolved against pgbench's working directory: it
// follows <logPrefix>.<pid> and <logPrefix>.<pid>.<n>.
func NewLogTailer(logPrefix string, opts ...TailOption) *LogTailer {
	t := &LogTailer{
		dir:   filepath.Dir(logPrefix),
		base:  filepath.Base(logPrefix),
		cfg:   tailConfig{poll: 100 * time.Millisecond},
		drain: make(chan struct{}),
	}
	for _, o := range opts {
		o(&t.cfg)
	}
	return t
}

// Drain asks Run to read every file to its end one last time, including files that appeared
// since the last poll, and then return. Call it after pgbench has exited, so that everything
// it wrote is in the files. Calling it more than once is harmless.
func (t *LogTailer) Drain() {
	t.drainOnce.Do(func() { close(t.drain) })
}

// Run follows the files and calls fn for each complete line, in order within a file, until
// Drain (then it returns nil, or ErrIncompleteLine errors for files cut mid-line), until ctx is
// done (ctx.Err()), or until fn or reading fails (that error). fn runs in Run's goroutine and
// may keep the LogLine.
func (t *LogTailer) Run(ctx context.Context, fn func(LogLine) error) error {
	if t.ran.Swap(true) {
		return errors.New("pgbench: LogTailer.Run called twice")
	}
	var files []*tailFile
	defer func() {
		for _, f := range files {
			f.f.Close()
		}
	}()
	seen := map[string]bool{}
	chunk := make([]byte, 64*1024)
	timer := time.NewTimer(0)
	defer timer.Stop()
	draining := false
	for {
		// Decide before reading: once Drain is seen, this pass is the last, and it starts
		// after Drain was called, so it sees everything written before.
		select {
		case <-t.drain:
			draining = true
		default:
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		added, err := t.open(seen)
		if err != nil {
			return err
		}
		if len(added) > 0 {
			files = append(files, added...)
			slices.SortFunc(files, func(a, b *tailFile) int {
				if a.pid != b.pid {
					return a.pid - b.pid
				}
				return a.thread - b.thread
			})
		}
		for _, f := range files {
			if err := f.read(ctx, chunk, draining, fn); err != nil {
				return err
			}
		}
		if draining {
			var errs []error
			for _, f := range files {
				if len(f.pending) > 0 {
					errs = append(errs, fmt.Errorf("%s after line %d: %q: %w", f.path, f.lineNo, clip(string(f.pending)), ErrIncompleteLine))
				}
			}
			return errors.Join(errs...)
		}
		timer.Reset(t.cfg.poll)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.drain:
		case <-timer.C:
		}
	}
}

// open opens the matching files not seen before.
func (t *LogTailer) open(seen map[string]bool) ([]*tailFile, error) {
	entries, err := os.ReadDir(t.dir)
	if err != nil {
		return nil, fmt.Errorf("list pgbench log directory: %w", err)
	}
	var added []*tailFile
	for _, e := range entries {
		name := e.Name()
		if seen[name] || !e.Type().IsRegular() {
			continue
		}
		pid, thread, ok := parseLogFileName(name, t.base)
		if !ok || (t.cfg.pid != 0 && pid != t.cfg.pid) {
			continue
		}
		path := filepath.Join(t.dir, name)
		f, err := os.Open(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue // gone between listing and opening; pgbench never does that, a person might
		}
		if err != nil {
			for _, a := range added {
				a.f.Close()
			}
			return nil, fmt.Errorf("open pgbench log: %w", err)
		}
		seen[name] = true
		added = append(added, &tailFile{path: path, pid: pid, thread: thread, f: f})
	}
	return added, nil
}

// parseLogFileName recognises <base>.<pid> (thread 0) and <base>.<pid>.<n> (thread n). Anything
// else with the prefix (an editor's backup, "<base>.<pid>.tmp") is not a pgbench log.
func parseLogFileName(name, base string) (pid, thread int, ok bool) {
	rest, ok := strings.CutPrefix(name, base+".")
	if !ok {
		return 0, 0, false
	}
	p, th, hasThread := strings.Cut(rest, ".")
	if pid, ok = smallUint(p); !ok {
		return 0, 0, false
	}
	if hasThread {
		if thread, ok = smallUint(th); !ok || thread == 0 {
			return 0, 0, false
		}
	}
	return pid, thread, true
}

func smallUint(s string) (int, bool) {
	if s == "" || len(s) > 9 || !allDigits(s) {
		return 0, false
	}
	n, _ := parseUint(s)
	return int(n), true
}

// tailFile is one followed file and the bytes read past its last newline.
type tailFile struct {
	path        string
	pid, thread int
	f           *os.File
	pending     []byte
	lineNo      int64
}

// maxPendingLine bounds a line that never ends; pgbench's lines are under 200 bytes, so
// anything this long is not a pgbench log.
const maxPendingLine = 1 << 20

// maxReadPerPoll bounds what one file may deliver per poll, so that a fast-growing file does
// not keep the others waiting.
const maxReadPerPoll = 8 << 20

// read delivers the complete lines appended since the last call: up to maxReadPerPoll, or
// everything to the end of the file when toEOF (the last pass, after Drain).
func (tf *tailFile) read(ctx context.Context, chunk []byte, toEOF bool, fn func(LogLine) error) error {
	for total := 0; toEOF || total < maxReadPerPoll; {
		n, err := tf.f.Read(chunk)
		if n > 0 {
			total += n
			tf.pending = append(tf.pending, chunk[:n]...)
			if err := tf.deliver(fn); err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err == io.EOF || n == 0 {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read pgbench log: %w", err)
		}
	}
	return nil
}

func (tf *tailFile) deliver(fn func(LogLine) error) error {
	start := 0
	for {
		i := bytes.IndexByte(tf.pending[start:], '\n')
		if i < 0 {
			break
		}
		tf.lineNo++
		line := LogLine{Path: tf.path, PID: tf.pid, Thread: tf.thread, LineNo: tf.lineNo,
			Text: string(tf.pending[start : start+i])}
		start += i + 1
		if err := fn(line); err != nil {
			tf.pending = tf.pending[:copy(tf.pending, tf.pending[start:])]
			return err
		}
	}
	tf.pending = tf.pending[:copy(tf.pending, tf.pending[start:])]
	if len(tf.pending) > maxPendingLine {
		return fmt.Errorf("%s line %d: no newline in %d bytes: not a pgbench log", tf.path, tf.lineNo+1, len(tf.pending))
	}
	return nil
}
