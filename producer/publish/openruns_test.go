package publish_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// A run whose producer died mid-run (here: closed its Publisher without finishing the run) is finished as aborted
// by the next Open, with the next sequence number; a run finished normally is left alone. A producer that is still
// running holds the spool, so no Open can happen meanwhile (TestSecondOpenFailsFast).
func TestOpenFinishesRunsOfDeadProducers(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir, addr(freePort(t))) // Kafka down: everything stays in the spool to be inspected

	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	orphanID, orphan := runRecords(5) // started + samples, no finished: the producer "dies"
	doneID, done := runRecords(3)
	for _, r := range orphan[:len(orphan)-1] {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range done {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()

	// The note names this test's own pid, which is alive: liveness is the spool lock, which p released when it
	// closed (as the kernel does when a producer dies), not whether some process has that pid.

	p, err = publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()

	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range st.Runs {
		switch run.RunID {
		case orphanID.String():
			if run.Records != int64(len(orphan)) || run.MaxSeq != orphan[len(orphan)-1].Seq {
				t.Errorf("orphan run: %d records up to seq %d, want %d (its records plus an aborted run_finished at seq %d)",
					run.Records, run.MaxSeq, len(orphan), orphan[len(orphan)-1].Seq)
			}
		case doneID.String():
			if run.Records != int64(len(done)) {
				t.Errorf("finished run: %d records, want %d untouched", run.Records, len(done))
			}
		}
	}
	last := lastRecord(t, dir)
	if last.Type != schema.TypeRunFinished || last.RunID != orphanID || last.Finished.Status != schema.StatusAborted ||
		!strings.Contains(last.Finished.Error, "ended without finishing") {
		t.Fatalf("last spooled record = %+v, want an aborted run_finished for the orphan", last)
	}

	// A second Open adds nothing: the note is gone.
	p, err = publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()
	if st2, _ := publish.Inspect(dir); st2.Records != st.Records {
		t.Fatalf("second Open changed the spool: %d → %d records", st.Records, st2.Records)
	}
}

func lastRecord(t *testing.T, dir string) schema.Record {
	t.Helper()
	db, err := bbolt.Open(dir+"/spool.db", 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec schema.Record
	err = db.View(func(tx *bbolt.Tx) error {
		_, v := tx.Bucket([]byte("records")).Cursor().Last()
		// The entry's JSON record starts at its first '{'.
		i := strings.IndexByte(string(v), '{')
		var err error
		rec, err = schema.Decode(v[i:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestRunOfKilledPID1IsFinished: a producer that ran as PID 1 — the first process of a container — is killed
// mid-run. Its open-run note says pid 1, which exists in every PID namespace, so no PID check can tell it is gone;
// the next Open must still finish the run as aborted. The child is the test binary as PID 1 of a new PID
// namespace (unshare --pid --fork), killed with SIGKILL from outside, as a container runtime does.
func TestRunOfKilledPID1IsFinished(t *testing.T) {
	unshare := testenv.Tool(t, "unshare", "apt-get install util-linux")
	testenv.Root(t, "a new PID namespace")
	dir := t.TempDir()
	const n = 6 // run_started and 5 samples, then the kill
	cmd := exec.Command(unshare, "--pid", "--fork", "--mount-proc", os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChildDir+"="+dir, envChildBroker+"="+addr(freePort(t)), envChildCount+"="+strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	var nsPID string
	var run uuid.UUID
	acked := 0
	sc := bufio.NewScanner(out)
	for acked < n && sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 2 && f[0] == "pid":
			nsPID = f[1]
		case len(f) == 2 && f[0] == "run":
			run = uuid.MustParse(f[1])
		case len(f) == 2 && f[0] == "ack":
			acked++
		}
	}
	if acked != n || nsPID != "1" {
		t.Fatalf("child acknowledged %d of %d records as pid %q; want all, as pid 1 (stdout: %v)", acked, n, nsPID, sc.Err())
	}
	// unshare forked the namespace's PID 1; kill that process, by its PID out here.
	children, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", cmd.Process.Pid, cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	hostPID, err := strconv.Atoi(strings.TrimSpace(string(children)))
	if err != nil {
		t.Fatalf("children of unshare: %q: %v", children, err)
	}
	if err := syscall.Kill(hostPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("unshare exited 0; its child was killed")
	}

	p, err := publish.Open(context.Background(), testConfig(dir, addr(freePort(t))), publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_ = p.Close(ctx)
	cancel()
	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Runs) != 1 || st.Runs[0].RunID != run.String() || st.Runs[0].Records != n+1 || st.Runs[0].MaxSeq != n {
		t.Fatalf("spool after the kill and a reopen: %+v; want run %s with its %d records and run_finished at seq %d", st.Runs, run, n, n)
	}
	last := lastRecord(t, dir)
	if last.Type != schema.TypeRunFinished || last.RunID != run || last.Seq != n || last.Finished.Status != schema.StatusAborted ||
		!strings.Contains(last.Finished.Error, "(pid 1)") || !strings.Contains(last.Finished.Error, fmt.Sprintf("up to seq %d", n-1)) {
		t.Fatalf("last spooled record = %+v %+v, want the run finished as aborted at seq %d, naming pid 1 and seq %d", last, last.Finished, n, n-1)
	}
}
