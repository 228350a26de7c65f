package testenv

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Kafka starts an in-process Kafka-protocol cluster (kfake) for the test and returns it with its seed addresses.
// Extra options (e.g. kfake.SeedTopics) are passed through; the cluster is shut down when the test ends.
func Kafka(tb testing.TB, opts ...kfake.Opt) (*kfake.Cluster, []string) {
	tb.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		tb.Fatalf("testenv: start kfake: %v", err)
	}
	tb.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// Consume reads records from topic from the start until want records arrived or the timeout passed, and returns
// what it read. It is for assertions on topics such as the dead-letter topic.
func Consume(tb testing.TB, brokers []string, topic string, want int, timeout time.Duration) []*kgo.Record {
	tb.Helper()
	return ConsumeWith(tb, config.Kafka{Brokers: brokers}, topic, want, timeout)
}

// ConsumeAll reads every record topic held when it was called (its end offsets then say which), failing the test
// when fewer arrive. Records written meanwhile (a live agent's heartbeats) are left out, so the count is exact.
func ConsumeAll(tb testing.TB, brokers []string, topic string) []*kgo.Record {
	tb.Helper()
	admin, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		tb.Fatal(err)
	}
	defer admin.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := kadm.NewClient(admin).ListEndOffsets(ctx, topic)
	if err != nil {
		tb.Fatalf("list end offsets: %v", err)
	}
	want := map[int32]int64{}
	total := 0
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			total += int(o.Offset)
		}
	})
	if total == 0 {
		return nil
	}
	from := map[int32]kgo.Offset{}
	for p := range want {
		from[p] = kgo.NewOffset().AtStart()
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))
	if err != nil {
		tb.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for len(recs) < total && ctx.Err() == nil {
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				recs = append(recs, r)
			}
		})
	}
	if len(recs) != total {
		tb.Fatalf("consumed %d records, the topic held %d", len(recs), total)
	}
	return recs
}

// Down returns the seeds of a Kafka of the test's own that is down, with topic (partitions), and the function that
// brings it up and returns its brokers: kfake started on a port nothing listened on, or a real broker of the test's
// own (configured from docker-compose.yml) stopped after creating the topic and started again on the same ports.
func (b KafkaBackend) Down(tb testing.TB, topic string, partitions int32) (seeds []string, up func() []string) {
	tb.Helper()
	if b.Name == BackendKfake {
		port, err := freePort()
		if err != nil {
			tb.Fatal(err)
		}
		return []string{net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}, func() []string {
			_, brokers := Kafka(tb, kfake.Ports(port), kfake.SeedTopics(partitions, topic))
			return brokers
		}
	}
	k := OwnApacheKafka(tb, KafkaBrokerOptions{})
	k.CreateTopics(tb, partitions, topic)
	if err := k.Stop(); err != nil {
		tb.Fatal(err)
	}
	return k.Brokers(), func() []string {
		if err := k.Start(context.Background()); err != nil {
			tb.Fatal(err)
		}
		return k.Brokers()
	}
}
