package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// envChildArgs switches the test binary into the producer itself, with these arguments (separated by "\x1f"), so
// that tests can time signals against a real process. It prints "exit N" just before it exits: a process with a
// thread blocked on a frozen disk cannot finish exiting until the disk is thawed, but the producer's part is done.
const envChildArgs = "PRODUCER_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(envChildArgs); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		code := run(ctx, strings.Split(args, "\x1f"), os.Stdout, os.Stderr)
		stop()
		fmt.Printf("exit %d\n", code)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// lockedBuilder is read while the child process still writes to it.
type lockedBuilder = testenv.Buffer

type line struct {
	at   time.Time
	text string
}

// TestSIGINTOnAHungDisk: `producer mqtt` runs with its spool on a disk that hangs mid-run (ext4 frozen with
// fsfreeze: every write blocks in the kernel). The per-second progress goes on, and SIGINT ends the run within a
// bound with exit status 130, naming the records not saved instead of claiming they were delivered.
func TestSIGINTOnAHungDisk(t *testing.T) {
	disk := testenv.FreezableDisk(t)
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	cfgFile := filepath.Join(t.TempDir(), "benchpipe.yaml")
	cfg := fmt.Sprintf("kafka:\n  brokers: [%s]\nproducer:\n  spool_dir: %s\n", brokers[0], filepath.Join(disk.Dir, "spool"))
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildArgs+"="+strings.Join([]string{"mqtt", "--config", cfgFile, "--embedded-target",
		"--rate", "200", "--duration", "60s"}, "\x1f"))
	var stderr lockedBuilder // read while the child still writes to it
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		disk.Thaw() // the child cannot die while a write of its is frozen
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan line, 1000)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- line{time.Now(), sc.Text()}
		}
	}()
	var all []string
	next := func(timeout time.Duration) (line, bool) {
		select {
		case l, ok := <-lines:
			if ok {
				all = append(all, l.text)
			}
			return l, ok
		case <-time.After(timeout):
			return line{}, false
		}
	}

	// Two progress lines with a healthy disk, then the disk hangs.
	progress := 0
	for progress < 2 {
		l, ok := next(20 * time.Second)
		if !ok {
			t.Fatalf("no progress from the producer; stdout so far:\n%s\nstderr:\n%s", strings.Join(all, "\n"), stderr.String())
		}
		if !strings.HasPrefix(l.text, "run ") {
			progress++
		}
	}
	disk.Freeze()
	frozen := time.Now()
	var during []time.Time
	const watch = recorder.WriteTimeout + 1500*time.Millisecond
	for time.Since(frozen) < watch {
		l, ok := next(time.Until(frozen.Add(watch)))
		if ok {
			during = append(during, l.at)
		}
	}
	if len(during) < int(watch/time.Second)-1 {
		t.Errorf("%d progress lines in the %v after the disk hung, want one a second:\n%s", len(during), watch, strings.Join(all, "\n"))
	}
	if !strings.Contains(stderr.String(), "has not completed a write for") {
		t.Errorf("no warning about the hung disk while the run goes on; stderr:\n%s", stderr.String())
	}

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	interrupted := time.Now()
	const bound = recorder.WriteTimeout + 10*time.Second
	code := ""
	for code == "" {
		l, ok := next(time.Until(interrupted.Add(bound)))
		if !ok {
			t.Fatalf("the producer did not finish within %v of SIGINT on a hung disk; stdout:\n%s\nstderr:\n%s", bound, strings.Join(all, "\n"), stderr.String())
		}
		if c, found := strings.CutPrefix(l.text, "exit "); found {
			code = c
		}
	}
	took := time.Since(interrupted)
	disk.Thaw()
	waitErr := cmd.Wait()
	stdout := strings.Join(all, "\n")
	t.Logf("finished %v after SIGINT (%v)\nstdout:\n%s\nstderr:\n%s", took, waitErr, stdout, stderr.String())
	if code != "130" || cmd.ProcessState.ExitCode() != 130 {
		t.Errorf("exit status %s (process %d), want 130: interrupted", code, cmd.ProcessState.ExitCode())
	}
	if !strings.Contains(stdout, "NOT SAVED") || strings.Contains(stdout, "records: delivered") {
		t.Errorf("stdout must say which records were not saved, and never that they were delivered")
	}
	if !strings.Contains(stderr.String(), "not saved to the spool") || !strings.Contains(stderr.String(), "run_finished") {
		t.Errorf("stderr does not name the records not saved, run_finished among them")
	}
}

var notSavedLine = regexp.MustCompile(`^records: (\d+) records? of (\d+) NOT SAVED`)

// TestDiskFullFailsTheRun: `producer mqtt` runs with its spool on a full disk (a real tmpfs, filled after the spool
// was created). The measurement itself succeeds, but the run must not: exit status 1, the count of records not
// saved and which, and no "delivered" — and Kafka holds exactly the records the producer says it saved.
func TestDiskFullFailsTheRun(t *testing.T) {
	disk := testenv.Tmpfs(t, "256k")
	spool := filepath.Join(disk, "spool")
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records"))
	cfgFile := filepath.Join(t.TempDir(), "benchpipe.yaml")
	cfgText := fmt.Sprintf("kafka:\n  brokers: [%s]\nproducer:\n  spool_dir: %s\n", brokers[0], spool)
	if err := os.WriteFile(cfgFile, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	p, err := publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(disk, "filler"))
	if err != nil {
		t.Fatal(err)
	}
	for err == nil {
		_, err = f.Write(make([]byte, 4096))
	}
	f.Close()
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("fill the tmpfs: %v", err)
	}

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildArgs+"="+strings.Join([]string{"mqtt", "--config", cfgFile, "--embedded-target",
		"--rate", "100", "--duration", "3s"}, "\x1f"))
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	t.Logf("%v\nstdout:\n%s\nstderr:\n%s", runErr, stdout.String(), stderr.String())
	if cmd.ProcessState.ExitCode() != recorder.ExitNotSaved {
		t.Errorf("exit status %d, want %d: the run's records were not saved", cmd.ProcessState.ExitCode(), recorder.ExitNotSaved)
	}
	if !strings.Contains(stdout.String(), "status        ok") {
		t.Errorf("the measurement itself should have succeeded")
	}
	var notSaved, total int
	var runID string
	for _, l := range strings.Split(stdout.String(), "\n") {
		if id, _, ok := strings.Cut(strings.TrimPrefix(l, "run "), ":"); ok && strings.HasPrefix(l, "run ") && runID == "" {
			runID = id
		}
		if m := notSavedLine.FindStringSubmatch(l); m != nil { // "1 record of 5" when the disk filled up late
			notSaved, _ = strconv.Atoi(m[1])
			total, _ = strconv.Atoi(m[2])
		}
	}
	if notSaved == 0 || total == 0 || strings.Contains(stdout.String(), "records: delivered") {
		t.Fatalf("stdout must say how many records of how many were not saved, and never that they were delivered")
	}
	if !strings.Contains(stderr.String(), "no space left on device") {
		t.Errorf("stderr does not give the disk's error")
	}
	saved := map[int64]bool{}
	for _, kr := range testenv.Consume(t, brokers, "benchpipe.records", total+1, 3*time.Second) {
		rec, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatal(err)
		}
		if rec.RunID.String() == runID {
			saved[rec.Seq] = true
		}
	}
	if len(saved) != total-notSaved {
		t.Errorf("Kafka holds %d distinct records of run %s; the producer said %d of %d were not saved", len(saved), runID, notSaved, total)
	}
}
