package publish_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// TestDeliversWhenKafkaComesUp publishes three interleaved runs while nothing listens on the broker port, then
// starts Kafka on that port (kfake, or the real broker started again on its log): every record arrives, each run
// in order. franz-go's own redial schedule is kept, as in production.
func TestDeliversWhenKafkaComesUp(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testDeliversWhenKafkaComesUp(t, kb) })
	}
}

func testDeliversWhenKafkaComesUp(t *testing.T, kb testenv.KafkaBackend) {
	seeds, kafkaUp := kafkaDown(t, kb)
	dir := t.TempDir()
	p, err := publish.Open(context.Background(), testConfig(dir, seeds...), publish.WithLogger(testLogger(t)),
		publish.WithStatusInterval(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if !p.Enabled() {
		t.Fatal("Enabled() = false with brokers configured")
	}
	want := map[uuid.UUID]int{}
	var runs [][]schema.Record
	for range 3 {
		id, recs := runRecords(22)
		want[id] = len(recs)
		runs = append(runs, recs)
	}
	start := time.Now()
	for i := range 22 {
		for _, recs := range runs {
			if err := p.Publish(context.Background(), recs[i]); err != nil {
				t.Fatalf("Publish while Kafka is down: %v", err)
			}
		}
	}
	t.Logf("66 publishes with Kafka down took %v", time.Since(start))
	if st := p.Stats(); st.Spooled != 66 || st.Pending != 66 || st.Delivered != 0 {
		t.Errorf("stats while Kafka is down: %+v", st)
	}
	waitFor(t, 15*time.Second, "Stats().LastError to report the outage", func() bool {
		err := p.Stats().LastError
		return err != nil && strings.Contains(err.Error(), "kafka unreachable")
	})
	t.Logf("last error while down: %v", p.Stats().LastError)

	// The spool is locked by p, so Inspect reads p's status snapshot.
	waitFor(t, 5*time.Second, "a live status snapshot", func() bool {
		st, err := publish.Inspect(dir)
		return err == nil && st.Live != nil && st.Records == 66 && st.Live.LastError != ""
	})

	brokers := kafkaUp()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	up := time.Now()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close after Kafka came up: %v", err)
	}
	t.Logf("drained 66 records %v after Kafka came up", time.Since(up))
	if st := p.Stats(); st.Delivered != 66 || st.Pending != 0 || st.LastError != nil {
		t.Errorf("stats after drain: %+v", st)
	}
	d := decodeAll(t, consumeAll(t, brokers))
	assertComplete(t, d, want)
	if d.duplicates != 0 {
		t.Errorf("%d duplicates without a crash", d.duplicates)
	}
	st, err := publish.Inspect(dir)
	if err != nil || st.Records != 0 || st.Live != nil {
		t.Errorf("Inspect after drain = %+v, %v; want an empty spool nobody holds", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "status.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status.json left behind after Close: %v", err)
	}
}

// TestCloseDeadlineLeavesRecordsSpooled: with Kafka down, Close gives up at its deadline, says what is left, and
// the records are still there for Inspect and for the next Open, which delivers them.
func TestCloseDeadlineLeavesRecordsSpooled(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	cfg := testConfig(dir, addr(port))
	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	id, recs := runRecords(10)
	for _, r := range recs {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err = p.Close(ctx)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close with a 1s deadline took %v", took)
	}
	if !errors.Is(err, publish.ErrUndelivered) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v; want ErrUndelivered and DeadlineExceeded", err)
	}
	if !strings.Contains(err.Error(), "10 records stay in "+dir) {
		t.Errorf("Close error does not say what is left where: %v", err)
	}
	t.Logf("Close: %v", err)
	if err := p.Publish(context.Background(), recs[0]); !errors.Is(err, publish.ErrClosed) {
		t.Errorf("Publish after Close = %v, want ErrClosed", err)
	}

	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 10 || st.Live != nil || len(st.Runs) != 1 || st.Bytes <= 0 || st.FileBytes <= 0 {
		t.Fatalf("Inspect = %+v", st)
	}
	if r := st.Runs[0]; r.RunID != id.String() || r.Records != 10 || r.MinSeq != 0 || r.MaxSeq != 9 ||
		!r.Oldest.Equal(recs[0].Time) || !r.Newest.Equal(recs[9].Time) || !st.Oldest.Equal(recs[0].Time) {
		t.Errorf("Inspect run = %+v, records from %v to %v", r, recs[0].Time, recs[9].Time)
	}

	brokers := kafkaOn(t, port)
	p2, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	if st := p2.Stats(); st.Pending != 10 || st.Spooled != 0 {
		t.Errorf("reopened stats = %+v; want the 10 earlier records pending", st)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	if err := p2.Close(ctx2); err != nil {
		t.Fatal(err)
	}
	assertComplete(t, decodeAll(t, consumeAll(t, brokers)), map[uuid.UUID]int{id: 10})
}

func TestSecondOpenFailsFast(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir, addr(freePort(t)))
	p, err := publish.Open(context.Background(), cfg, publish.WithStatusInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	// Let the snapshot name the holder.
	waitFor(t, 5*time.Second, "status.json", func() bool {
		_, err := os.Stat(filepath.Join(dir, "status.json"))
		return err == nil
	})

	start := time.Now()
	_, err = publish.Open(context.Background(), cfg, publish.WithLockTimeout(300*time.Millisecond))
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("second Open took %v to fail", took)
	}
	if !errors.Is(err, publish.ErrSpoolInUse) {
		t.Fatalf("second Open = %v, want ErrSpoolInUse", err)
	}
	for _, want := range []string{dir, "pid", "only one producer"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("second Open error %q does not mention %q", err, want)
		}
	}
	t.Logf("second Open: %v", err)
}

func TestDisabledWithoutBrokers(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	p, err := publish.Open(context.Background(), testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() {
		t.Error("Enabled() = true without brokers")
	}
	_, recs := runRecords(3)
	for _, r := range recs {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Errorf("Publish on a disabled publisher: %v", err)
		}
	}
	bad := recs[1]
	bad.Seq = 0 // a sample may not be seq 0
	if err := p.Publish(context.Background(), bad); !errors.Is(err, schema.ErrInvalid) {
		t.Errorf("Publish(invalid) = %v; a disabled publisher still validates", err)
	}
	if err := p.Close(context.Background()); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a disabled publisher created its spool directory: %v", err)
	}
	if st := p.Stats(); st != (publish.Stats{}) {
		t.Errorf("stats of a disabled publisher: %+v", st)
	}
}

// paddedRecord returns a run_finished record whose encoding is exactly size bytes, padded with incompressible
// hex so that snappy cannot shrink it below the broker's limit.
func paddedRecord(t testing.TB, run *runrec.Run, size int) schema.Record {
	t.Helper()
	r := run.Finished(schema.StatusOK, "", &schema.Summary{Start: time.Now(), End: time.Now(), Extra: json.RawMessage(`{"pad":""}`)})
	b, err := schema.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	pad := make([]byte, (size-len(b)+1)/2)
	rand.Read(pad)
	hexPad := hex.EncodeToString(pad)[:size-len(b)]
	r.Finished.Summary.Extra = json.RawMessage(`{"pad":"` + hexPad + `"}`)
	if b, _ := schema.Encode(r); len(b) != size {
		t.Fatalf("padded record is %d bytes, want %d", len(b), size)
	}
	return r
}

// TestLargestRecordIsDelivered: the largest record Publish admits goes through a broker with Kafka's default
// max.message.bytes (kfake enforces it); one byte more is refused at Publish, not stuck in the spool.
func TestLargestRecordIsDelivered(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, topic))
	p, err := publish.Open(context.Background(), testConfig(t.TempDir(), brokers...), publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	run := runrec.New(schema.KindMQTT, started())
	limit := publish.MaxValueBytes(len(run.ID().String()))
	t.Logf("largest record Publish admits: %d bytes (schema.MaxRecordBytes %d)", limit, schema.MaxRecordBytes)

	if err := p.Publish(context.Background(), paddedRecord(t, run, limit+1)); !errors.Is(err, publish.ErrTooLarge) {
		t.Errorf("Publish(limit+1 bytes) = %v, want ErrTooLarge", err)
	}
	if err := p.Publish(context.Background(), run.Started()); err != nil {
		t.Fatal(err)
	}
	if err := p.Publish(context.Background(), paddedRecord(t, run, limit)); err != nil {
		t.Fatalf("Publish(limit bytes) = %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v (stats %+v)", err, p.Stats())
	}
	recs := consumeAll(t, brokers)
	if len(recs) != 2 || len(recs[1].Value) != limit {
		t.Errorf("delivered %d records", len(recs))
	}
}

// TestRefusedRecordsAreRetriedNotDropped: Kafka answers but refuses the records (the topic does not exist, and
// franz-go gives up on it after a few metadata attempts). The records stay, Stats says why, and once the topic
// exists they go out in order.
func TestRefusedRecordsAreRetriedNotDropped(t *testing.T) {
	_, brokers := testenv.Kafka(t) // no topics, no auto-creation
	p, err := publish.Open(context.Background(), testConfig(t.TempDir(), brokers...), publish.WithLogger(testLogger(t)),
		publish.WithRetryBackoff(50*time.Millisecond, 200*time.Millisecond),
		publish.WithKafkaOptions(fastRedial...))
	if err != nil {
		t.Fatal(err)
	}
	id, recs := runRecords(5)
	for _, r := range recs {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 20*time.Second, "the missing topic in Stats().LastError", func() bool {
		err := p.Stats().LastError
		return err != nil && strings.Contains(err.Error(), "sink topics apply")
	})
	t.Logf("last error: %v", p.Stats().LastError)
	if st := p.Stats(); st.Pending != 5 || st.Delivered != 0 {
		t.Fatalf("stats while the topic is missing: %+v", st)
	}

	adm, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer adm.Close()
	if _, err := kadm.NewClient(adm).CreateTopic(context.Background(), 2, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	d := decodeAll(t, consumeAll(t, brokers))
	assertComplete(t, d, map[uuid.UUID]int{id: 5})
	if d.duplicates != 0 {
		t.Errorf("%d duplicates", d.duplicates)
	}
}

// countInFlight is a franz-go hook that tracks how many records the client holds at once.
type countInFlight struct{ now, peak atomic.Int64 }

func (c *countInFlight) OnProduceRecordBuffered(*kgo.Record) {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}
func (c *countInFlight) OnProduceRecordUnbuffered(*kgo.Record, error) { c.now.Add(-1) }

// TestConcurrentPublishersStreamInBatches: many goroutines publish at once (sharing fsyncs), and the shipper
// never holds more than its batch limit in the Kafka client, however large the spool has grown.
func TestConcurrentPublishersStreamInBatches(t *testing.T) {
	port := freePort(t)
	var inFlight countInFlight
	p, err := publish.Open(context.Background(), testConfig(t.TempDir(), addr(port)), publish.WithLogger(testLogger(t)),
		publish.WithBatchLimits(7, 4<<20), publish.WithKafkaOptions(append(fastRedial, kgo.WithHooks(&inFlight))...))
	if err != nil {
		t.Fatal(err)
	}
	want := map[uuid.UUID]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for range 8 {
		wg.Go(func() {
			id, recs := runRecords(40)
			mu.Lock()
			want[id] = len(recs)
			mu.Unlock()
			for _, r := range recs {
				if err := p.Publish(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	t.Logf("8 goroutines published 320 records in %v", time.Since(start))
	if st := p.Stats(); st.Pending != 320 {
		t.Fatalf("pending %d, want 320", st.Pending)
	}
	brokers := kafkaOn(t, port)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if peak := inFlight.peak.Load(); peak > 7 {
		t.Errorf("the Kafka client held %d records at once; the batch limit is 7", peak)
	}
	assertComplete(t, decodeAll(t, consumeAll(t, brokers)), want)
}

// TestBadOptionsAreErrors: Open checks every option once and reports every bad one, instead of silently keeping a
// default.
func TestBadOptionsAreErrors(t *testing.T) {
	dir := t.TempDir()
	_, err := publish.Open(context.Background(), testConfig(dir, addr(freePort(t))),
		publish.WithLogger(nil),
		publish.WithRetryBackoff(time.Second, 10*time.Millisecond),
		publish.WithBatchLimits(0, 1),
		publish.WithLockTimeout(0))
	if err == nil {
		t.Fatal("Open accepted bad options")
	}
	for _, want := range []string{"WithLogger: nil logger", "WithRetryBackoff: first 1s, limit 10ms", "WithBatchLimits: 0 records", "WithLockTimeout: 0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open error does not mention %q: %v", want, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "spool.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open with bad options created the spool: %v", err)
	}
}

// TestPublishWithEndedContextSpoolsNothing: a caller whose context has ended gets its error back at once, and the
// record is not in the spool (so it can be counted as not saved).
func TestPublishWithEndedContextSpoolsNothing(t *testing.T) {
	dir := t.TempDir()
	p, err := publish.Open(context.Background(), testConfig(dir, addr(freePort(t))), publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	_, recs := runRecords(3)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Publish(ctx, recs[0]); !errors.Is(err, context.Canceled) || errors.Is(err, publish.ErrUnconfirmed) {
		t.Errorf("Publish(ended ctx) = %v, want context.Canceled and not ErrUnconfirmed: nothing was written", err)
	}
	if err := p.Publish(context.Background(), recs[1]); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Spooled != 1 || st.Pending != 1 {
		t.Errorf("stats = %+v, want exactly the one record published with a live context", st)
	}
	closeNowT(p)
}

// TestOpenOnAHungDiskGivesUp: the spool's disk hangs (ext4 frozen with fsfreeze) before the producer starts. Open
// would block forever in its first write; it returns when its context ends instead, so SIGINT or flush's
// --timeout still work.
func TestOpenOnAHungDiskGivesUp(t *testing.T) {
	disk := testenv.FreezableDisk(t)
	cfg := testConfig(filepath.Join(disk.Dir, "spool"), addr(freePort(t)))
	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	closeNowT(p)
	disk.Freeze()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = publish.Open(ctx, cfg, publish.WithLogger(testLogger(t)))
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "did not open") {
		t.Errorf("Open on a hung disk = %v, want its context's error", err)
	}
	if took > 2*time.Second {
		t.Errorf("Open on a hung disk took %v with a 300ms context", took)
	}
}
