package publish_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// The spool tests use raw values (PublishRaw) of valueSize bytes that carry their number, so that a spool of a
// known size is quick to fill and every value can be checked on arrival.
const valueSize = 8 << 10

func rawValue(i int) []byte {
	v := []byte(fmt.Sprintf("value %d ", i))
	return append(v, strings.Repeat("x", valueSize-len(v))...)
}

func valueNumber(t testing.TB, v []byte) int {
	t.Helper()
	f := strings.Fields(string(v[:min(len(v), 32)]))
	if len(f) < 2 || f[0] != "value" {
		t.Fatalf("not a test value: %.32q", v)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// publishValues spools values from..to-1 to topic with key, from 8 goroutines (so that commits are shared) when
// parallel is set, else in order.
func publishValues(t testing.TB, p *publish.Publisher, topic, key string, from, to int, parallel bool) {
	t.Helper()
	ctx := context.Background()
	if !parallel {
		for i := from; i < to; i++ {
			if err := p.PublishRaw(ctx, topic, []byte(key), rawValue(i), time.Now()); err != nil {
				t.Fatalf("value %d: %v", i, err)
			}
		}
		return
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Go(func() {
			for i := from + g; i < to; i += 8 {
				if err := p.PublishRaw(ctx, topic, []byte(key), rawValue(i), time.Now()); err != nil {
					errs <- fmt.Errorf("value %d: %w", i, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// assertValues checks that recs hold exactly the values from..to-1, each once and, per partition, in order.
func assertValues(t testing.TB, recs []*kgo.Record, from, to int) {
	t.Helper()
	seen := map[int]int{}
	last := map[int32]int{}
	for _, r := range recs {
		n := valueNumber(t, r.Value)
		seen[n]++
		if prev, ok := last[r.Partition]; ok && n < prev {
			t.Errorf("value %d after value %d on partition %d", n, prev, r.Partition)
		}
		last[r.Partition] = n
	}
	if len(recs) != to-from {
		t.Errorf("%d values arrived, want %d", len(recs), to-from)
	}
	for i := from; i < to; i++ {
		if seen[i] != 1 {
			t.Errorf("value %d arrived %d times", i, seen[i])
		}
	}
}

func fileSize(t testing.TB, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, "spool.db"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// TestSpoolFullBeforeCap: while Kafka is down the spool fills up to near producer.spool_max_bytes; the next
// record is refused with ErrSpoolFull and a message naming the cap and the directory, never stored in part; the
// run's run_finished still fits (the reserve); and once Kafka is back every accepted record arrives, exactly
// once, and the file shrinks back.
func TestSpoolFullBeforeCap(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			const maxBytes = 4 << 20
			dir := t.TempDir()
			seeds, kafkaUp := kafkaDown(t, kb)
			cfg := testConfig(dir, seeds...)
			cfg.Producer.SpoolMaxBytes = maxBytes
			p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)), publish.WithKafkaOptions(fastRedial...))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			run := runrec.New(schema.KindMQTT, started())
			if err := p.Publish(ctx, run.Started()); err != nil {
				t.Fatal(err)
			}
			accepted := 0
			var full error
			for ; accepted < 2*maxBytes/valueSize; accepted++ {
				if full = p.PublishRaw(ctx, topic, []byte(run.ID().String()), rawValue(accepted), time.Now()); full != nil {
					break
				}
			}
			if !errors.Is(full, publish.ErrSpoolFull) {
				t.Fatalf("after %d values: %v, want ErrSpoolFull", accepted, full)
			}
			// "would take it to": refused by the Publisher's own estimate, before bbolt's hard limit (which would say
			// "database reached maximum size") had to.
			for _, want := range []string{dir, "producer.spool_max_bytes (4.0 MiB)", fmt.Sprintf("its %d undelivered records", accepted+1), "this record would take it to "} {
				if !strings.Contains(full.Error(), want) {
					t.Errorf("refusal %q does not say %q", full, want)
				}
			}
			size := fileSize(t, dir)
			t.Logf("accepted %d values of %d KiB; spool.db %d KiB of a %d KiB cap; refusal: %v", accepted, valueSize>>10, size>>10, maxBytes>>10, full)
			if size > maxBytes || size < maxBytes*3/4 {
				t.Errorf("spool.db is %d bytes when the first record is refused; want between 3/4 of the cap and the cap, %d", size, maxBytes)
			}
			// Still refused: the spool does not take a record after one it refused.
			if err := p.PublishRaw(ctx, topic, []byte(run.ID().String()), rawValue(accepted), time.Now()); !errors.Is(err, publish.ErrSpoolFull) {
				t.Errorf("second attempt: %v, want ErrSpoolFull", err)
			}
			// The run can still say how it ended.
			if err := p.Publish(ctx, run.Finished(schema.StatusFailed, "spool full", nil)); err != nil {
				t.Fatalf("run_finished with the spool full: %v", err)
			}
			if st := p.Stats(); st.Spooled != int64(accepted+2) || st.Pending != int64(accepted+2) {
				t.Errorf("stats %+v, want %d spooled and pending", st, accepted+2)
			}
			if size := fileSize(t, dir); size > maxBytes {
				t.Errorf("spool.db grew to %d bytes, past the cap %d", size, maxBytes)
			}

			brokers := kafkaUp()
			cctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			if err := p.Close(cctx); err != nil {
				t.Fatal(err)
			}
			st := p.Stats()
			var values, records []*kgo.Record
			for _, r := range consumeAll(t, brokers) {
				if strings.HasPrefix(string(r.Value), "value ") {
					values = append(values, r)
				} else {
					records = append(records, r)
				}
			}
			assertValues(t, values, 0, accepted)
			d := decodeAll(t, records)
			if got := d.seqs[run.ID()]; len(got) != 2 || got[0] != 0 || got[1] != 1 {
				t.Errorf("run records arrived as seqs %v, want [0 1]", got)
			}
			after := fileSize(t, dir)
			t.Logf("delivered %d; compactions %d; spool.db %d KiB after delivery", st.Delivered, st.Compactions, after>>10)
			if st.Compactions < 1 || after > 64<<10 {
				t.Errorf("after delivering everything: %d compactions, spool.db %d bytes; want at least one, and under 64 KiB", st.Compactions, after)
			}
		})
	}
}

// laterTopic does not exist in Kafka until a test creates it: records for it wait in the spool (Kafka refuses
// them) while the records before them are delivered, which leaves a spool that is mostly free but not empty.
const laterTopic = "benchpipe.later"

// mostlyFreeSpool returns a spool directory whose file grew to about 13 MiB and now holds exactly kept values
// (0..kept-1, for laterTopic), with the space of the 1,500 delivered ones free, not compacted.
func mostlyFreeSpool(t *testing.T, kept int) string {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	p, err := publish.Open(context.Background(), testConfig(dir, addr(port)), publish.WithLogger(discard),
		publish.WithKafkaOptions(fastRedial...), publish.WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond),
		publish.WithCompactHook(func(string) error { return errors.New("not in this test's setup") }))
	if err != nil {
		t.Fatal(err)
	}
	publishValues(t, p, topic, "first", 1000, 2500, true)
	publishValues(t, p, laterTopic, "later", 0, kept, false)
	kafkaOn(t, port)
	waitFor(t, 60*time.Second, "1,500 values delivered", func() bool { return p.Stats().Delivered == 1500 })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, publish.ErrUndelivered) {
		t.Fatalf("Close: %v, want ErrUndelivered", err)
	}
	st, err := publish.Inspect(dir)
	if err != nil || st.Records != int64(kept) || st.FileBytes < 12<<20 || st.UsedBytes*4 > st.FileBytes {
		t.Fatalf("setup: spool %+v, %v; want %d records in a file of at least 12 MiB, at most a quarter in use", st, err, kept)
	}
	return dir
}

// deliverLater creates laterTopic, delivers the spool in dir and returns what arrived there.
func deliverLater(t *testing.T, dir string) ([]*kgo.Record, publish.Stats) {
	t.Helper()
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(3, topic, laterTopic))
	p, err := publish.Open(context.Background(), testConfig(dir, brokers...), publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatalf("reopen the spool: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	return testenv.ConsumeAll(t, brokers, laterTopic), p.Stats()
}

// TestCompactWhileRunning: a running Publisher that has delivered most of its spool compacts it while records
// still wait: the file shrinks, and exactly the waiting records remain, in order, to be delivered later.
func TestCompactWhileRunning(t *testing.T) {
	const kept = 200
	dir := t.TempDir()
	port := freePort(t)
	p, err := publish.Open(context.Background(), testConfig(dir, addr(port)), publish.WithLogger(testLogger(t)),
		publish.WithKafkaOptions(fastRedial...), publish.WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	publishValues(t, p, topic, "first", 1000, 2500, true)
	publishValues(t, p, laterTopic, "later", 0, kept, false)
	before := fileSize(t, dir)
	kafkaOn(t, port)
	waitFor(t, 60*time.Second, "1,500 values delivered and the spool compacted", func() bool {
		st := p.Stats()
		return st.Delivered == 1500 && st.Compactions > 0
	})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Close(ctx); !errors.Is(err, publish.ErrUndelivered) {
		t.Fatalf("Close: %v, want ErrUndelivered", err)
	}
	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("spool.db %d KiB before delivery, %d KiB after compacting with %d records (%d KiB in use)", before>>10, st.FileBytes>>10, st.Records, st.UsedBytes>>10)
	if st.Records != kept || len(st.Runs) != 1 || st.Runs[0].RunID != "later" || st.Runs[0].Records != kept {
		t.Errorf("after compaction the spool holds %d records in runs %+v; want exactly the %d for %s", st.Records, st.Runs, kept, laterTopic)
	}
	if st.FileBytes > before/4 {
		t.Errorf("spool.db is %d bytes after compaction; was %d", st.FileBytes, before)
	}
	recs, _ := deliverLater(t, dir)
	assertValues(t, recs, 0, kept)
}

// The compaction crash tests re-execute the test binary as a producer whose Open compacts a mostly free spool and
// that stops at a step of the compaction (envCompactStep), to be killed there (and, while it waits, to be raced
// by other processes).
const (
	envCompactDir  = "PUBLISH_TEST_COMPACT_DIR"
	envCompactStep = "PUBLISH_TEST_COMPACT_STEP"
)

// compactChild opens the spool in dir (Kafka down), printing "step <name>" at each step of the compaction and
// waiting for a line on stdin at stop. Stop "torn" is "copied" with the copy then cut in half and its tail
// overwritten, as a crash in the middle of writing it could leave it. After Open it prints "opened", closes and
// exits.
func compactChild(dir, stop string) {
	in := bufio.NewScanner(os.Stdin)
	hook := func(step string) error {
		if stop == "torn" && step == "copied" {
			tear(filepath.Join(dir, "spool.db.compact"))
			step = "torn"
		}
		fmt.Printf("step %s\n", step)
		if step == stop {
			in.Scan()
		}
		return nil
	}
	cfg := testConfig(dir, "127.0.0.1:1")
	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(discard), publish.WithCompactHook(hook))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Println("opened")
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
	os.Exit(0)
}

// tear cuts the file at path in half and overwrites its last 4 KiB with garbage.
func tear(path string) {
	fi, err := os.Stat(path)
	if err == nil {
		err = os.Truncate(path, fi.Size()/2)
	}
	var f *os.File
	if err == nil {
		f, err = os.OpenFile(path, os.O_WRONLY, 0)
	}
	if err == nil {
		_, err = f.WriteAt([]byte(strings.Repeat("\xde\xad", 2048)), fi.Size()/2-4096)
		f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tear:", err)
		os.Exit(5)
	}
}

type compactProc struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan string
}

func startCompactChild(t *testing.T, dir, stop string) *compactProc {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envCompactDir+"="+dir, envCompactStep+"="+stop)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	c := &compactProc{cmd: cmd, in: in, lines: make(chan string, 16)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c
}

// waitLine waits for the child to print want and returns the lines before it.
func (c *compactProc) waitLine(t *testing.T, want string) []string {
	t.Helper()
	var seen []string
	timeout := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("child ended before printing %q (printed %q)", want, seen)
			}
			if l == want {
				return seen
			}
			seen = append(seen, l)
		case <-timeout:
			t.Fatalf("child did not print %q within 60s (printed %q)", want, seen)
		}
	}
}

func copySpool(t *testing.T, from string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(from, "spool.db"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "spool.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestCompactionKilled: the producer compacting the spool is SIGKILLed at every step of the compaction, and
// with its copy torn as a crash while writing it could leave it (fault injection: the copy is one bbolt
// transaction for a spool this size, so a kill lands before or after it). While it is stopped there, no other process gets the spool: `producer spool status`
// (Inspect) and `producer spool flush` (Open) are told it is in use. After the kill the spool opens and holds
// exactly the records it had, which are then all delivered, once each and in order.
func TestCompactionKilled(t *testing.T) {
	const kept = 200
	base := mostlyFreeSpool(t, kept)
	for _, step := range []string{"created", "copied", "torn", "renamed", "synced", "closed"} {
		t.Run(step, func(t *testing.T) {
			dir := copySpool(t, base)
			c := startCompactChild(t, dir, step)
			c.waitLine(t, "step "+step)
			if _, err := publish.Inspect(dir); !errors.Is(err, publish.ErrSpoolInUse) {
				t.Errorf("spool status while compacting: %v, want ErrSpoolInUse", err)
			}
			_, err := publish.Open(context.Background(), testConfig(dir, "127.0.0.1:1"), publish.WithLogger(discard), publish.WithLockTimeout(200*time.Millisecond))
			if !errors.Is(err, publish.ErrSpoolInUse) {
				t.Errorf("spool flush while compacting: %v, want ErrSpoolInUse", err)
			}
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
			var after []string
			for l := range c.lines {
				after = append(after, l)
			}
			copySize := int64(-1)
			if fi, err := os.Stat(filepath.Join(dir, "spool.db.compact")); err == nil {
				copySize = fi.Size()
			}
			st, err := publish.Inspect(dir)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("killed at %s (printed after: %q): spool.db %d KiB with %d records, unfinished copy %d bytes (-1: none)",
				step, after, st.FileBytes>>10, st.Records, copySize)
			if st.Records != kept {
				t.Fatalf("after the kill the spool holds %d records, want %d", st.Records, kept)
			}
			recs, stats := deliverLater(t, dir)
			assertValues(t, recs, 0, kept)
			if _, err := os.Stat(filepath.Join(dir, "spool.db.compact")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the unfinished copy is still there after Open: %v", err)
			}
			if size := fileSize(t, dir); size > 64<<10 {
				t.Errorf("spool.db is %d bytes once delivered (compactions %d); want under 64 KiB", size, stats.Compactions)
			}
		})
	}
}

// TestCompactionReplacesFileUnderWaiter: a second process that opened spool.db before a compaction renamed its
// copy over it, and waited for the lock, must not end up with the old file (nothing would read what it appends
// there): it opens the new spool.db once the compacting process is done.
func TestCompactionReplacesFileUnderWaiter(t *testing.T) {
	const kept = 200
	dir := copySpool(t, mostlyFreeSpool(t, kept))
	c := startCompactChild(t, dir, "copied")
	c.waitLine(t, "step copied")
	type opened struct {
		p   *publish.Publisher
		err error
	}
	done := make(chan opened, 1)
	go func() {
		p, err := publish.Open(context.Background(), testConfig(dir, "127.0.0.1:1"), publish.WithLogger(discard), publish.WithLockTimeout(30*time.Second))
		done <- opened{p, err}
	}()
	time.Sleep(500 * time.Millisecond) // the second Open is now waiting for the lock of the file being compacted
	fmt.Fprintln(c.in)
	c.waitLine(t, "opened")
	if err := c.cmd.Wait(); err != nil {
		t.Fatalf("compacting child: %v", err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	if err := o.p.PublishRaw(context.Background(), laterTopic, []byte("later"), rawValue(kept), time.Now()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := o.p.Close(ctx); !errors.Is(err, publish.ErrUndelivered) {
		t.Fatalf("Close: %v, want ErrUndelivered", err)
	}
	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != kept+1 {
		t.Fatalf("spool.db holds %d records, want %d: the %d it had and the one the second process appended", st.Records, kept+1, kept)
	}
	recs, _ := deliverLater(t, dir)
	assertValues(t, recs, 0, kept+1)
}

// TestLoweredCap: a spool filled under a 4 MiB cap is reopened with a 1 MiB cap. New records are refused, but
// what it holds is still delivered, every value exactly once, and the file then shrinks under the new cap.
func TestLoweredCap(t *testing.T) {
	dir := t.TempDir()
	seeds, kafkaUp := kafkaDown(t, testenv.KafkaBackend{Name: testenv.BackendKfake})
	cfg := testConfig(dir, seeds...)
	cfg.Producer.SpoolMaxBytes = 4 << 20
	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for ; ; accepted++ {
		if err := p.PublishRaw(context.Background(), topic, []byte("k"), rawValue(accepted), time.Now()); err != nil {
			if !errors.Is(err, publish.ErrSpoolFull) {
				t.Fatal(err)
			}
			break
		}
	}
	closeNow(p)
	full := fileSize(t, dir)

	cfg.Producer.SpoolMaxBytes = 1 << 20
	p, err = publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)), publish.WithKafkaOptions(fastRedial...))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(context.Background(), topic, []byte("k"), rawValue(accepted), time.Now()); !errors.Is(err, publish.ErrSpoolFull) {
		t.Errorf("a record for a spool of %d bytes under a 1 MiB cap: %v, want ErrSpoolFull", full, err)
	}
	brokers := kafkaUp()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	assertValues(t, consumeAll(t, brokers), 0, accepted)
	if size := fileSize(t, dir); size > 64<<10 {
		t.Errorf("spool.db is %d bytes once delivered (was %d); want under 64 KiB", size, full)
	}
	t.Logf("%d values in %d KiB, delivered under the lowered cap; spool.db %d KiB after", accepted, full>>10, fileSize(t, dir)>>10)
}
