package pgbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// killAfter is how long a pgbench that was asked to stop may take before it is killed.
const killAfter = 10 * time.Second

// logPollInterval is how often the log files are read. Reading the files pgbench is appending to costs pgbench CPU
// time (measured here: about 30 µs per transaction instead of 24 with select-only at 15,000 tps when read every
// 100 ms, 25 when read every 500 ms), and samples wait for pgbench's 4 KiB log buffers anyway, so the files are
// read twice a second: a sample is complete at most about half a second after pgbench reports it.
const logPollInterval = 500 * time.Millisecond

// pgbenchEnv is the environment pgbench runs in: the producer's own (PGPASSWORD, PGHOST, … pass through to
// libpq and go nowhere else) with the C locale, because the parsers match pgbench's English messages.
func pgbenchEnv() []string {
	env := make([]string, 0, len(os.Environ())+1)
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "LC_ALL=") {
			env = append(env, e)
		}
	}
	return append(env, "LC_ALL=C")
}

func pgbenchCommand(path string, args []string) *exec.Cmd {
	cmd := exec.Command(path, args...)
	cmd.Env = pgbenchEnv()
	// pgbench must not outlive the producer (a SIGKILLed producer would leave it loading the server).
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	return cmd
}

// pgbenchVersion runs `pgbench --version` and returns the version ("15.18 (Debian 15.18-0+deb12u1)") and the
// major version (15).
func pgbenchVersion(ctx context.Context, path string) (version string, major int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "--version")
	cmd.Env = pgbenchEnv()
	out, err := cmd.Output()
	if err != nil {
		return "", 0, fmt.Errorf("run %s --version: %w", path, err)
	}
	return parseVersion(string(out))
}

// parseVersion reads "pgbench (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)".
func parseVersion(out string) (version string, major int, err error) {
	line := strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	_, version, ok := strings.Cut(line, ") ")
	if !ok || !strings.HasPrefix(line, "pgbench ") {
		return "", 0, fmt.Errorf("unexpected pgbench --version output %q", clip(line))
	}
	major = leadingInt(version)
	if major < 8 {
		return "", 0, fmt.Errorf("unexpected pgbench --version output %q", clip(line))
	}
	return version, major, nil
}

// stderrReport collects what pgbench said on stderr besides progress lines.
type stderrReport struct {
	mu        sync.Mutex
	errors    []string // "pgbench: error: …" texts with their detail and continuation lines
	nErrors   int
	aborted   string // "Run was aborted; …"
	other     []string
	badLines  int // progress lines that did not parse
	firstBad  string
	lastError int // index into errors of the message continuation lines belong to; -1 when none
}

const maxErrors = 20

func newStderrReport() *stderrReport { return &stderrReport{lastError: -1} }

// line files one classified stderr line.
func (r *stderrReport) line(l StderrLine, raw string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch l.Kind {
	case StderrError:
		r.nErrors++
		if len(r.errors) < maxErrors {
			r.errors = append(r.errors, l.Text)
			r.lastError = len(r.errors) - 1
		} else {
			r.lastError = -1
		}
	case StderrAborted:
		r.aborted = l.Text
		r.lastError = -1
	case StderrDetail:
		if r.lastError >= 0 {
			r.errors[r.lastError] += " " + l.Text
		}
	case StderrOther:
		// libpq continues a message on lines of its own, indented ("\tIs the server running …?").
		if r.lastError >= 0 && (strings.HasPrefix(raw, "\t") || strings.HasPrefix(raw, " ")) {
			r.errors[r.lastError] += " " + strings.TrimSpace(raw)
			return
		}
		r.lastError = -1
		if len(r.other) < maxErrors {
			r.other = append(r.other, raw)
		}
	default:
		r.lastError = -1
	}
}

// errorText is pgbench's own account of what went wrong, for the run record: the first error, how many more
// there were, and the abort notice.
func (r *stderrReport) errorText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var parts []string
	if len(r.errors) > 0 {
		s := r.errors[0]
		if r.nErrors > 1 {
			s += fmt.Sprintf(" (and %d more errors, e.g. %s)", r.nErrors-1, r.errors[len(r.errors)-1])
			if r.errors[len(r.errors)-1] == r.errors[0] {
				s = r.errors[0] + fmt.Sprintf(" (and %d more errors)", r.nErrors-1)
			}
		}
		parts = append(parts, s)
	}
	if r.aborted != "" {
		parts = append(parts, r.aborted)
	}
	if len(parts) == 0 && len(r.other) > 0 { // e.g. getopt's "invalid option -- 'x'"
		parts = append(parts, strings.Join(r.other[max(len(r.other)-3, 0):], " "))
	}
	return strings.Join(parts, "; ")
}

// benchOutcome is how a pgbench process ended and what it printed.
type benchOutcome struct {
	exitCode    int            // pgbench's exit status; -1 when killed by a signal
	signal      syscall.Signal // the signal that killed it, if any
	interrupted bool           // the producer was asked to stop and passed that on
	stdout      []byte
	report      *stderrReport
	startedAt   time.Time
	endedAt     time.Time
	rusage      *syscall.Rusage
	logErr      error // the log tailer's error, if any
	logTrunc    bool  // a log file ended mid-line: pgbench was killed before flushing
	badLogLines int64
	firstBadLog string
}

// benchRun is one pgbench benchmark process and the goroutines reading it.
type benchRun struct {
	path     string
	args     []string
	prefix   string // log prefix to follow; "" in modeProgress
	ownDir   bool   // the prefix is in the producer's private directory, which holds this run's files only
	logOpts  LogOptions
	sampler  *sampler
	stderr   io.Writer // pgbench's non-progress stderr lines go here as they come
	onSample func(intervalSample)
	reclaim  bool // punch holes into consumed log data (private logs that are not kept)
}

// run starts pgbench and returns when it has exited and everything it wrote has been read. sigs delivers the
// producer's SIGINT/SIGTERM, which are passed on to pgbench; ctx ending does the same with SIGTERM. onSample is
// called from run's goroutine for every finished sample.
func (b *benchRun) run(ctx context.Context, sigs <-chan os.Signal) (*benchOutcome, error) {
	cmd := pgbenchCommand(b.path, b.args)
	stdoutPipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("start pgbench: %w", err)
	}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start pgbench: %w", err)
	}
	out := &benchOutcome{report: newStderrReport(), startedAt: time.Now()}
	// The sampler's origin until pgbench's first progress line; set before any goroutine uses the sampler.
	b.sampler.cfg.start = out.startedAt
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pgbench: %w", err)
	}

	// Readers: stdout into a buffer, stderr line by line, the logs as they grow. Each is waited for below.
	var readers sync.WaitGroup
	var stdout bytes.Buffer
	readers.Add(2)
	go func() {
		defer readers.Done()
		_, _ = io.Copy(&stdout, stdoutPipe)
	}()
	go func() {
		defer readers.Done()
		b.readStderr(stderrPipe, out.report)
	}()
	tailCtx, stopTail := context.WithCancel(context.Background())
	defer stopTail()
	var tailer *LogTailer
	tailDone := make(chan error, 1)
	lt := &logTally{b: b}
	if b.prefix != "" {
		opts := []TailOption{PollInterval(logPollInterval)}
		if !b.ownDir { // the user's directory may hold other runs' files
			opts = append(opts, OnlyPID(cmd.Process.Pid))
		}
		tailer = NewLogTailer(b.prefix, opts...)
		go func() { tailDone <- tailer.Run(tailCtx, lt.line) }()
	} else {
		tailDone <- nil
	}
	exited := make(chan error, 1)
	go func() {
		readers.Wait() // the pipes must be read to their end before Wait closes them
		exited <- cmd.Wait()
	}()

	waitErr := supervise(ctx, cmd, sigs, exited, out, b.sampler.ready(), b.deliver)

	// pgbench has exited: its log files are complete (or cut short by a signal). Read them to the end.
	if tailer != nil {
		tailer.Drain()
	}
	if err := <-tailDone; err != nil {
		if errors.Is(err, ErrIncompleteLine) {
			out.logTrunc = true
		} else {
			out.logErr = err
		}
	}
	lt.close()
	out.badLogLines, out.firstBadLog = lt.bad, lt.firstBad
	if sum, err := ParseSummary(bytes.NewReader(stdout.Bytes())); err == nil {
		b.sampler.progressTail(sum.Processed, time.Now())
	}
	b.sampler.finish()
	b.deliver()

	out.stdout = stdout.Bytes()
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return out, fmt.Errorf("wait for pgbench: %w", waitErr)
	}
	return out, nil
}

func (b *benchRun) deliver() {
	for _, iv := range b.sampler.take() {
		if b.onSample != nil {
			b.onSample(iv)
		}
	}
}

// readStderr classifies pgbench's stderr as it comes: progress lines go to the sampler, everything else is
// passed on to the producer's stderr and kept for the error report.
func (b *benchRun) readStderr(r io.Reader, rep *stderrReport) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		raw := sc.Text()
		l, err := ClassifyStderr(raw)
		if err != nil {
			rep.mu.Lock()
			rep.badLines++
			if rep.firstBad == "" {
				rep.firstBad = err.Error()
			}
			rep.mu.Unlock()
		}
		if l.Kind == StderrProgress {
			b.sampler.progress(l.Progress)
			continue
		}
		rep.line(l, raw)
		if b.stderr != nil {
			fmt.Fprintln(b.stderr, raw)
		}
	}
	// A read error means the pipe broke, which only happens when pgbench is gone: Wait reports that.
	_, _ = io.Copy(io.Discard, r)
}

// logTally parses log lines for the sampler in the tailer's goroutine, and gives back the disk space of the
// lines it has read (see reclaim).
type logTally struct {
	b        *benchRun
	bad      int64
	firstBad string
	files    map[string]*reclaimFile
}

// reclaimFile tracks how much of one log file has been consumed.
type reclaimFile struct {
	f        *os.File // nil when punching holes is not possible there
	consumed int64
	punched  int64
}

// reclaimEvery is how much consumed log data a file may hold before its space is given back: a run of hours at
// tens of thousands of tps writes gigabytes of log, too much for an edge device's /tmp (often RAM). A variable
// so that tests can lower it.
var reclaimEvery int64 = 16 << 20

func (l *logTally) line(ll LogLine) error {
	tx, err := ParseLogLine(ll.Text, l.b.logOpts)
	if err != nil {
		l.bad++
		if l.firstBad == "" {
			l.firstBad = err.Error()
		}
	} else {
		l.b.sampler.tx(ll.Thread, tx)
	}
	if l.b.reclaim {
		l.reclaim(ll)
	}
	return nil
}

// reclaim punches a hole over the consumed part of a private log file. pgbench keeps writing at its own offset
// and the tailer keeps reading at its own, so the file's size and offsets stay as they are; only the blocks
// already read are freed. Filesystems without hole punching (FALLOC_FL_PUNCH_HOLE) keep their data.
func (l *logTally) reclaim(ll LogLine) {
	if l.files == nil {
		l.files = map[string]*reclaimFile{}
	}
	rf := l.files[ll.Path]
	if rf == nil {
		rf = &reclaimFile{}
		if f, err := os.OpenFile(ll.Path, os.O_WRONLY, 0); err == nil {
			rf.f = f
		}
		l.files[ll.Path] = rf
	}
	rf.consumed += int64(len(ll.Text)) + 1
	if rf.f == nil || rf.consumed-rf.punched < reclaimEvery {
		return
	}
	upTo := rf.consumed &^ (64<<10 - 1)
	if err := unix.Fallocate(int(rf.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, 0, upTo); err != nil {
		rf.f.Close()
		rf.f = nil
		return
	}
	rf.punched = upTo
}

func (l *logTally) close() {
	for _, rf := range l.files {
		if rf.f != nil {
			rf.f.Close()
		}
	}
}

// runInit runs `pgbench -i` with the benchmark's connection options, showing its output as it comes and
// keeping its error messages for the run record.
func runInit(ctx context.Context, path string, args []string, stdout, stderr io.Writer, sigs <-chan os.Signal) (*benchOutcome, error) {
	cmd := pgbenchCommand(path, args)
	cmd.Stdout = stdout
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start pgbench -i: %w", err)
	}
	out := &benchOutcome{report: newStderrReport(), startedAt: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start pgbench -i: %w", err)
	}
	exited := make(chan error, 1)
	go func() {
		// pgbench -i rewrites its progress line with \r only on a terminal, so reading lines is enough.
		sc := bufio.NewScanner(stderrPipe)
		sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
		for sc.Scan() {
			raw := sc.Text()
			l, _ := ClassifyStderr(raw)
			out.report.line(l, raw)
			fmt.Fprintln(stderr, raw)
		}
		_, _ = io.Copy(io.Discard, stderrPipe)
		exited <- cmd.Wait() // after the pipe is read to its end, as exec requires
	}()
	waitErr := supervise(ctx, cmd, sigs, exited, out, nil, nil)
	var exitErr *exec.ExitError
	if waitErr != nil && !errors.As(waitErr, &exitErr) {
		return out, fmt.Errorf("wait for pgbench -i: %w", waitErr)
	}
	return out, nil
}

// supervise waits until cmd has exited (exited delivers its Wait result) and records how it ended in out.
// Meanwhile it passes SIGINT/SIGTERM from sigs on to pgbench, stops pgbench with SIGTERM when ctx ends, kills one
// that has not exited killAfter after being stopped, and calls onReady whenever ready fires (nil: never).
//
// A stop request may come twice for one interruption (the producer's main also turns SIGINT into ctx ending);
// pgbench has no handler and dies at the first.
func supervise(ctx context.Context, cmd *exec.Cmd, sigs <-chan os.Signal, exited <-chan error, out *benchOutcome,
	ready <-chan struct{}, onReady func()) error {
	var killTimer <-chan time.Time
	stop := func(sig os.Signal) {
		if out.interrupted {
			return
		}
		out.interrupted = true
		_ = cmd.Process.Signal(sig)
		killTimer = time.After(killAfter)
	}
	ctxDone := ctx.Done()
	var waitErr error
loop:
	for {
		select {
		case <-ready:
			onReady()
		case sig := <-sigs:
			stop(sig)
		case <-ctxDone:
			ctxDone = nil
			stop(syscall.SIGTERM)
		case <-killTimer:
			_ = cmd.Process.Kill()
		case waitErr = <-exited:
			break loop
		}
	}
	out.endedAt = time.Now()
	out.exitCode = cmd.ProcessState.ExitCode()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		out.signal = ws.Signal()
	}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		out.rusage = ru
	}
	return waitErr
}
