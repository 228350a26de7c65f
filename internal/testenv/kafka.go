package testenv

import (
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/config"
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
