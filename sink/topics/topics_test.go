package topics_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/sink/topics"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// On kfake and on the real broker, whose topic configs (defaults, sources) are what operators' clusters report.
func TestApplyCreatesAndAltersWhatTheYAMLSays(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testApplyCreatesAndAlters(t, kb) })
	}
}

func testApplyCreatesAndAlters(t *testing.T, kb testenv.KafkaBackend) {
	kc := kb.Start(t, map[string]int32{"existing": 2})
	cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	// The topics of the test: the names themselves on kfake, unique ones on the shared real broker.
	records, existing, perftool, dead := kc.Topic("benchpipe.records"), kc.Topic("existing"), kc.Topic("perftool-sinetstream-result"), kc.Topic("benchpipe.dead-letter")
	if kc.Apache != nil {
		t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), records, perftool, dead) })
	}

	cfg, err := config.Parse("t.yaml", []byte(fmt.Sprintf(`
topics:
  - {name: %s, partitions: 6, retention: 48h}
  - {name: %s, partitions: 4, configs: {cleanup.policy: compact}}
  - {name: %s, format: sinetstream-perftool, partitions: 1}
sink:
  dead_letter_topic: %s
producer:
  topic: %s
`, records, existing, perftool, dead, records)), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	wanted := topics.Wanted(cfg)

	dry, err := topics.Apply(ctx, adm, wanted, true)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{records, existing, perftool, dead}
	if list, _ := adm.ListTopics(ctx, names...); list[records].Err == nil {
		t.Fatal("dry run created a topic")
	}
	want := []string{"create           " + records + ": 6 partitions, replication 1, retention.ms=172800000",
		"add partitions   " + existing + ": 2 → 4", "set config       " + existing + ": cleanup.policy = compact",
		"create           " + perftool, "create           " + dead + ": 1 partition, replication 1"}
	report := join(dry)
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("dry-run report lacks %q:\n%s", w, report)
		}
	}

	if _, err := topics.Apply(ctx, adm, wanted, false); err != nil {
		t.Fatal(err)
	}
	// A real broker's metadata may list a topic a moment after CreateTopics returned.
	var details kadm.TopicDetails
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if details, err = adm.ListTopics(ctx, names...); err != nil {
			t.Fatal(err)
		}
		if details.Error() == nil || time.Now().After(deadline) {
			break
		}
	}
	for name, parts := range map[string]int{records: 6, existing: 4, perftool: 1, dead: 1} {
		if got := len(details[name].Partitions); got != parts {
			t.Errorf("%s has %d partitions, want %d (%+v)", name, got, parts, details[name])
		}
	}
	rc, err := adm.DescribeTopicConfigs(ctx, records, existing)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, r := range rc {
		for _, c := range r.Configs {
			vals[r.Name+"/"+c.Key] = c.MaybeValue()
		}
	}
	if vals[records+"/retention.ms"] != "172800000" || vals[existing+"/cleanup.policy"] != "compact" {
		t.Errorf("configs not applied: retention.ms=%q cleanup.policy=%q", vals[records+"/retention.ms"], vals[existing+"/cleanup.policy"])
	}

	again, err := topics.Apply(ctx, adm, wanted, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range again {
		if c.Action != topics.Unchanged {
			t.Errorf("second apply changed something: %s", c)
		}
	}

	shrink := append([]config.Topic(nil), wanted...)
	shrink[1].Partitions = 1
	ch, err := topics.Apply(ctx, adm, shrink, false)
	if err != nil {
		t.Fatal(err)
	}
	if r := join(ch); !strings.Contains(r, "warning          "+existing+": has 4 partitions, config says 1") {
		t.Errorf("shrinking was not reported as a warning:\n%s", r)
	}
}

func join(cs []topics.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.String() + "\n")
	}
	return b.String()
}

// Sinks that start together (compose scaled, a Kubernetes rollout) apply the same topics at once: one creates
// each topic, the others find it created under them (TOPIC_ALREADY_EXISTS, or a broker whose metadata does not
// list it yet) and must go on, not fail to start. Found on the real broker.
func TestConcurrentAppliesAllSucceed(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			kc := kb.Start(t, nil)
			cl, err := kgo.NewClient(kgo.SeedBrokers(kc.Brokers...))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			adm := kadm.NewClient(cl)
			records, dead := kc.Topic("benchpipe.records"), kc.Topic("benchpipe.dead-letter")
			if kc.Apache != nil {
				t.Cleanup(func() { _, _ = adm.DeleteTopics(context.Background(), records, dead) })
			}
			wanted := []config.Topic{{Name: records, Partitions: 6, ReplicationFactor: 1, Retention: 48 * time.Hour},
				{Name: dead, Partitions: 1, ReplicationFactor: 1}}
			const sinks = 4
			errs := make(chan error, sinks)
			for range sinks {
				go func() {
					// A client per sink, as separate processes have.
					c, err := kgo.NewClient(kgo.SeedBrokers(kc.Brokers...))
					if err != nil {
						errs <- err
						return
					}
					defer c.Close()
					_, err = topics.Apply(context.Background(), kadm.NewClient(c), wanted, false)
					errs <- err
				}()
			}
			for range sinks {
				if err := <-errs; err != nil {
					t.Errorf("apply: %v", err)
				}
			}
			details, err := adm.ListTopics(context.Background(), records, dead)
			if err != nil {
				t.Fatal(err)
			}
			if n := len(details[records].Partitions); n != 6 {
				t.Errorf("%s has %d partitions, want 6", records, n)
			}
		})
	}
}
