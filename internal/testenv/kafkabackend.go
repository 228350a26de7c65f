package testenv

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// EnvKafkaBackends names the variable that picks the Kafka backends KafkaBackends returns: "kfake", "apache" or
// "kfake,apache" or "both" (the default: the same test runs on both).
const EnvKafkaBackends = "BENCHPIPE_KAFKA"

// The backends.
const (
	BackendKfake  = "kfake"  // franz-go's in-process cluster: fast, fault injection (ControlKey)
	BackendApache = "apache" // the real broker, configured from docker-compose.yml (ApacheKafka)
)

// KafkaBackend is one kind of Kafka that a table-driven test runs against with the same code.
type KafkaBackend struct {
	Name string
}

// KafkaBackends returns the backends BENCHPIPE_KAFKA selects, for
//
//	for _, kb := range testenv.KafkaBackends(t) {
//		t.Run(kb.Name, func(t *testing.T) { kc := kb.Start(t, map[string]int32{"benchpipe.records": 4}); … })
//	}
//
// The apache subtest skips without Java and Maven, and fails under BENCHPIPE_REQUIRE_TOOLS.
func KafkaBackends(tb testing.TB) []KafkaBackend {
	tb.Helper()
	sel := os.Getenv(EnvKafkaBackends)
	if sel == "" {
		sel = BackendKfake + "," + BackendApache
	}
	var out []KafkaBackend
	for _, name := range strings.Split(sel, ",") {
		switch name = strings.TrimSpace(name); name {
		case BackendKfake, BackendApache:
			out = append(out, KafkaBackend{Name: name})
		case "both":
			out = append(out, KafkaBackend{Name: BackendKfake}, KafkaBackend{Name: BackendApache})
		default:
			tb.Fatalf("%s=%q: want %s, %s or both (comma-separated, or the word both)", EnvKafkaBackends, sel, BackendKfake, BackendApache)
		}
	}
	return out
}

// KafkaCluster is the Kafka a test got from a backend, with the topics it asked for created.
type KafkaCluster struct {
	Backend string
	Brokers []string
	Fake    *kfake.Cluster // kfake only: a cluster of the test's own
	Apache  *KafkaBroker   // apache only: the package's shared broker
	prefix  string
}

// Start gives the test a Kafka with topics (name → partitions) created, under the names Topic returns. On kfake
// the cluster is the test's own and ends with it; on apache it is the package's shared broker, and the test's
// topics are deleted when it ends.
func (b KafkaBackend) Start(tb testing.TB, topics map[string]int32) *KafkaCluster {
	tb.Helper()
	switch b.Name {
	case BackendKfake:
		var opts []kfake.Opt
		for name, parts := range topics {
			opts = append(opts, kfake.SeedTopics(parts, name))
		}
		c, brokers := Kafka(tb, opts...)
		return &KafkaCluster{Backend: b.Name, Brokers: brokers, Fake: c}
	case BackendApache:
		broker := ApacheKafka(tb)
		kc := &KafkaCluster{Backend: b.Name, Brokers: broker.Brokers(), Apache: broker,
			prefix: fmt.Sprintf("%s.%d.", sanitize(tb.Name()), dbCounter.Add(1))}
		var names []string
		for name, parts := range topics {
			broker.CreateTopics(tb, parts, kc.Topic(name))
			names = append(names, kc.Topic(name))
		}
		tb.Cleanup(func() { broker.deleteTopics(names) })
		return kc
	}
	tb.Fatalf("testenv: unknown Kafka backend %q", b.Name)
	return nil
}

// Topic returns the name the test uses for topic: the name itself on a cluster of the test's own, made unique on
// a shared broker (so tests never see each other's records).
func (c *KafkaCluster) Topic(name string) string { return c.prefix + name }

// Group returns the consumer group name the test uses, unique on a shared broker like Topic.
func (c *KafkaCluster) Group(name string) string { return c.prefix + name }

func (b *KafkaBroker) deleteTopics(names []string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Listeners[b.Properties["inter.broker.listener.name"]]))
	if err != nil {
		return
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = kadm.NewClient(cl).DeleteTopics(ctx, names...)
}
