package publish_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// The crash tests re-execute the test binary as a producer that is killed with SIGKILL. These variables switch
// the binary into that role.
const (
	envChildDir    = "PUBLISH_TEST_CHILD_DIR"
	envChildBroker = "PUBLISH_TEST_CHILD_BROKER"
	envChildCount  = "PUBLISH_TEST_CHILD_COUNT" // publish this many records, then SIGKILL itself; 0 = until killed
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envCompactDir); dir != "" {
		compactChild(dir, os.Getenv(envCompactStep))
		return
	}
	if dir := os.Getenv(envChildDir); dir != "" {
		crashChild(dir, os.Getenv(envChildBroker), os.Getenv(envChildCount))
		return
	}
	os.Exit(m.Run())
}

// crashChild publishes one run's records and prints "ack <seq>" after each Publish returns: those are the
// records it promised not to lose.
func crashChild(dir, broker, count string) {
	n, _ := strconv.Atoi(count)
	p, err := publish.Open(context.Background(), testConfig(dir, broker), publish.WithKafkaOptions(fastRedial...))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	run := runrec.New(schema.KindMQTT, started())
	fmt.Printf("pid %d\n", os.Getpid())
	fmt.Printf("run %s\n", run.ID())
	for i := 0; n == 0 || i < n; i++ {
		r := run.Started()
		if i > 0 {
			r = run.Sample(sample())
		}
		if err := p.Publish(context.Background(), r); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(4)
		}
		fmt.Printf("ack %d\n", r.Seq)
	}
	// As PID 1 of a PID namespace the process ignores its own SIGKILL, and waits here for the parent's.
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// startChild runs the crash child and returns a reader of its "ack" lines.
func startChild(t *testing.T, dir, broker string, count int) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildBroker+"="+broker, envChildCount+"="+strconv.Itoa(count))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, bufio.NewScanner(out)
}

// readAcks reads the child's output: its run id and every sequence number it acknowledged. onAck runs after each.
func readAcks(t *testing.T, sc *bufio.Scanner, onAck func(n int)) (uuid.UUID, []int64) {
	t.Helper()
	var run uuid.UUID
	var acked []int64
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "run":
			run = uuid.MustParse(f[1])
		case len(f) == 2 && f[0] == "ack":
			seq, _ := strconv.ParseInt(f[1], 10, 64)
			acked = append(acked, seq)
			if onAck != nil {
				onAck(len(acked))
			}
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return run, acked
}

func assertKilled(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	err := cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child did not die of SIGKILL: %v", err)
	}
}

// drainAndCheck reopens the spool the child left and checks that every acknowledged record reaches Kafka.
func drainAndCheck(t *testing.T, dir string, brokers []string, run uuid.UUID, acked []int64) {
	t.Helper()
	p, err := publish.Open(context.Background(), testConfig(dir, brokers...), publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("reopen the spool after SIGKILL: %v", err)
	}
	left := p.Stats().Pending
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d := decodeAll(t, consumeAll(t, brokers))
	got := map[int64]bool{}
	for _, s := range d.seqs[run] {
		got[s] = true
	}
	lost := 0
	for _, s := range acked {
		if !got[s] {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged records never reached Kafka", lost, len(acked))
	}
	// The record being published when the kill came may or may not have made it to disk; either is right.
	extra := len(got) - len(acked)
	assertComplete(t, d, map[uuid.UUID]int{run: len(got)})
	t.Logf("acknowledged %d, left in spool %d, delivered %d distinct (+%d unacknowledged), duplicates in Kafka %d",
		len(acked), left, len(got), extra, d.duplicates)
	if extra < 0 || extra > 1 {
		t.Errorf("%d delivered records beyond those acknowledged; at most the one in progress may be", extra)
	}
}

// TestSIGKILLBeforeShipping: the producer spools records while Kafka is down and dies of SIGKILL. The next Open
// delivers every record it acknowledged.
func TestSIGKILLBeforeShipping(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	cmd, sc := startChild(t, dir, addr(port), 200)
	run, acked := readAcks(t, sc, nil)
	assertKilled(t, cmd)
	if len(acked) != 200 {
		t.Fatalf("child acknowledged %d records, want 200", len(acked))
	}
	st, err := publish.Inspect(dir)
	if err != nil || st.Records != 200 {
		t.Fatalf("Inspect after SIGKILL = %+v, %v", st, err)
	}
	drainAndCheck(t, dir, kafkaOn(t, port), run, acked)
}

// TestSIGKILLWhileShipping: Kafka is up, the producer publishes as fast as it can and ships at the same time, and
// the parent kills it mid-stream — in the middle of an fsync or a produce request, wherever it happens to be.
// Records Kafka acknowledged but the child had no time to delete arrive twice; the sink dedups them.
func TestSIGKILLWhileShipping(t *testing.T) {
	port := freePort(t)
	brokers := kafkaOn(t, port)
	dir := t.TempDir()
	cmd, sc := startChild(t, dir, addr(port), 0)
	run, acked := readAcks(t, sc, func(n int) {
		if n == 400 {
			_ = cmd.Process.Kill()
		}
	})
	assertKilled(t, cmd)
	if len(acked) < 400 {
		t.Fatalf("child acknowledged only %d records", len(acked))
	}
	drainAndCheck(t, dir, brokers, run, acked)
}
