package publish_test

import (
	"log/slog"
	"net"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

const topic = "benchpipe.records"

// freePort returns a loopback port nothing listens on, for a Kafka that is down until the test starts kfake there.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

func testConfig(dir string, brokers ...string) *config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Producer.SpoolDir = dir
	return &cfg
}

// kafkaOn starts kfake on port with the records topic.
func kafkaOn(t testing.TB, port int) []string {
	t.Helper()
	_, brokers := testenv.Kafka(t, kfake.Ports(port), kfake.SeedTopics(3, topic))
	return brokers
}

// kafkaDown returns the seeds of a Kafka that is down, with the records topic, and the function that brings it up
// and returns its brokers (testenv.KafkaBackend.Down).
func kafkaDown(t testing.TB, kb testenv.KafkaBackend) (seeds []string, up func() []string) {
	t.Helper()
	return kb.Down(t, topic, 3)
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(b))
	return len(b), nil
}

// fastRedial makes franz-go retry a broker that is down every 100ms, instead of backing off to 5s and refreshing
// metadata at most every 5s, so tests that bring Kafka up do not wait for the next attempt.
var fastRedial = []kgo.Opt{
	kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
	kgo.MetadataMinAge(100 * time.Millisecond),
}

func started() schema.Started {
	return schema.Started{Kind: schema.KindMQTT, Host: schema.Host{Hostname: "edge-1"}}
}

func sample() schema.Sample {
	t0 := time.Now()
	return schema.Sample{Start: t0.Add(-time.Second), End: t0, Phase: schema.PhaseMeasure, Figures: schema.Figures{Ops: 5, OpsRate: 5}}
}

// runRecords returns a whole run of n records: run_started, n-2 samples, run_finished.
func runRecords(n int) (uuid.UUID, []schema.Record) {
	r := runrec.New(schema.KindMQTT, started())
	recs := []schema.Record{r.Started()}
	for range n - 2 {
		recs = append(recs, r.Sample(sample()))
	}
	return r.ID(), append(recs, r.Finished(schema.StatusOK, "", nil))
}

// consumeAll reads every record in topic: the end offsets say how many there are.
func consumeAll(t testing.TB, brokers []string) []*kgo.Record {
	t.Helper()
	return testenv.ConsumeAll(t, brokers, topic)
}

// delivery is what arrived in Kafka, by run.
type delivery struct {
	seqs       map[uuid.UUID][]int64 // in partition order
	duplicates int
}

func decodeAll(t testing.TB, recs []*kgo.Record) delivery {
	t.Helper()
	d := delivery{seqs: map[uuid.UUID][]int64{}}
	seen := map[string]bool{}
	// testenv.Consume returns partitions interleaved; a run's records are on one partition, in offset order.
	sort.SliceStable(recs, func(i, j int) bool {
		if recs[i].Partition != recs[j].Partition {
			return recs[i].Partition < recs[j].Partition
		}
		return recs[i].Offset < recs[j].Offset
	})
	for _, kr := range recs {
		r, err := schema.Decode(kr.Value)
		if err != nil {
			t.Fatalf("record at %d/%d does not decode: %v", kr.Partition, kr.Offset, err)
		}
		if string(kr.Key) != r.RunID.String() {
			t.Errorf("record key %q, want the run id %s", kr.Key, r.RunID)
		}
		id := r.RunID.String() + "/" + strconv.FormatInt(r.Seq, 10)
		if seen[id] {
			d.duplicates++
		}
		seen[id] = true
		d.seqs[r.RunID] = append(d.seqs[r.RunID], r.Seq)
	}
	return d
}

// assertComplete checks that each run arrived complete (seq 0..n-1) and, apart from redelivered duplicates, in order.
func assertComplete(t testing.TB, d delivery, want map[uuid.UUID]int) {
	t.Helper()
	for run, n := range want {
		got := d.seqs[run]
		next := int64(0)
		for _, s := range got {
			switch {
			case s == next:
				next++
			case s < next: // a duplicate after a crash
			default:
				t.Errorf("run %s: seq %d arrived before seq %d (got %v)", run, s, next, got)
				return
			}
		}
		if next != int64(n) {
			t.Errorf("run %s: %d of %d records arrived in order (got %v)", run, next, n, got)
		}
	}
}

func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var discard = slog.New(slog.DiscardHandler)
