package topics_test

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/sink/topics"
)

func TestApplyCreatesAndAltersWhatTheYAMLSays(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(2, "existing"))
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()

	cfg, err := config.Parse("t.yaml", []byte(`
topics:
  - {name: benchpipe.records, partitions: 6, retention: 48h}
  - {name: existing, partitions: 4, configs: {cleanup.policy: compact}}
  - {name: perftool-sinetstream-result, format: sinetstream-perftool, partitions: 1}
`), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	wanted := topics.Wanted(cfg)

	dry, err := topics.Apply(ctx, adm, wanted, true)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"benchpipe.records", "existing", "perftool-sinetstream-result", "benchpipe.dead-letter"}
	if list, _ := adm.ListTopics(ctx, names...); list["benchpipe.records"].Err == nil {
		t.Fatal("dry run created a topic")
	}
	want := []string{"create           benchpipe.records: 6 partitions, replication 1, retention.ms=172800000",
		"add partitions   existing: 2 → 4", "set config       existing: cleanup.policy = compact",
		"create           perftool-sinetstream-result", "create           benchpipe.dead-letter: 1 partitions"}
	report := join(dry)
	for _, w := range want {
		if !strings.Contains(report, w) {
			t.Errorf("dry-run report lacks %q:\n%s", w, report)
		}
	}

	if _, err := topics.Apply(ctx, adm, wanted, false); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		t.Fatal(err)
	}
	for name, parts := range map[string]int{"benchpipe.records": 6, "existing": 4, "perftool-sinetstream-result": 1, "benchpipe.dead-letter": 1} {
		if got := len(details[name].Partitions); got != parts {
			t.Errorf("%s has %d partitions, want %d (%+v)", name, got, parts, details[name])
		}
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "benchpipe.records", "existing")
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]string{}
	for _, r := range rc {
		for _, c := range r.Configs {
			vals[r.Name+"/"+c.Key] = c.MaybeValue()
		}
	}
	if vals["benchpipe.records/retention.ms"] != "172800000" || vals["existing/cleanup.policy"] != "compact" {
		t.Errorf("configs not applied: retention.ms=%q cleanup.policy=%q", vals["benchpipe.records/retention.ms"], vals["existing/cleanup.policy"])
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
	if r := join(ch); !strings.Contains(r, "warning          existing: has 4 partitions, config says 1") {
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
