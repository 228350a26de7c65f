// Package topics makes the Kafka topics match the YAML: it creates missing topics, adds partitions and sets topic
// configs, and says what it changed (or, in a dry run, what it would change). It never deletes a topic, never
// removes partitions (Kafka can't) and never changes a replication factor (a reassignment is an operator's decision):
// those differences are reported instead.
package topics

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
)

// Action is what Apply did, or would do, to a topic.
type Action string

// Actions.
const (
	Create        Action = "create"
	AddPartitions Action = "add partitions"
	SetConfig     Action = "set config"
	Unchanged     Action = "unchanged"
	Warning       Action = "warning" // a difference Apply will not fix
)

// Change is one line of Apply's report.
type Change struct {
	Topic  string
	Action Action
	Detail string
}

func (c Change) String() string {
	if c.Detail == "" {
		return fmt.Sprintf("%-16s %s", c.Action, c.Topic)
	}
	return fmt.Sprintf("%-16s %s: %s", c.Action, c.Topic, c.Detail)
}

// Wanted returns the topics the configuration asks for: every configured topic plus the sink's dead-letter topic
// (one partition, if the file does not list it).
func Wanted(cfg *config.Config) []config.Topic {
	out := append([]config.Topic(nil), cfg.Topics...)
	if _, ok := cfg.Topic(cfg.Sink.DeadLetterTopic); !ok && cfg.Sink.DeadLetterTopic != "" {
		out = append(out, config.Topic{Name: cfg.Sink.DeadLetterTopic, Format: config.FormatBenchpipe, Partitions: 1, ReplicationFactor: 1})
	}
	return out
}

func wantedConfigs(t config.Topic) map[string]string {
	m := map[string]string{}
	for k, v := range t.Configs {
		m[k] = v
	}
	if t.Retention > 0 {
		m["retention.ms"] = strconv.FormatInt(t.Retention.Milliseconds(), 10)
	}
	return m
}

// ApplyConfig connects to cfg's Kafka with the programs' connection settings (TLS, SASL) and applies the topics
// cfg wants: what `sink topics apply` and the sink's start do, and the demo too.
func ApplyConfig(ctx context.Context, cfg *config.Config, dryRun bool) ([]Change, error) {
	opts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		return nil, err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	return Apply(ctx, kadm.NewClient(cl), Wanted(cfg), dryRun)
}

// Apply brings the cluster in line with topics. With dryRun it only reports.
func Apply(ctx context.Context, adm *kadm.Client, topics []config.Topic, dryRun bool) ([]Change, error) {
	names := make([]string, len(topics))
	for i, t := range topics {
		names[i] = t.Name
	}
	details, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var changes []Change
	for _, t := range topics {
		want := wantedConfigs(t)
		d, exists := details[t.Name]
		if !exists || d.Err != nil {
			changes = append(changes, Change{t.Name, Create, fmt.Sprintf("%s, replication %d%s", plural(int(t.Partitions), "partition"), t.ReplicationFactor, describeConfigs(want))})
			if dryRun {
				continue
			}
			cfgs := map[string]*string{}
			for k, v := range want {
				cfgs[k] = kadm.StringPtr(v)
			}
			resp, err := adm.CreateTopic(ctx, t.Partitions, t.ReplicationFactor, cfgs, t.Name)
			if err == nil {
				err = resp.Err
			}
			if !errors.Is(err, kerr.TopicAlreadyExists) {
				if err != nil {
					return changes, fmt.Errorf("create topic %s: %w", t.Name, err)
				}
				continue
			}
			// Another sink starting at the same time created it, or it was created moments ago and this broker's
			// metadata does not show it yet (a real broker's lags its controller): check it like any existing topic.
			if d, err = waitListed(ctx, adm, t.Name); err != nil {
				return changes, err
			}
			changes = changes[:len(changes)-1]
		}
		before := len(changes)
		have := int32(len(d.Partitions))
		switch {
		case have < t.Partitions:
			changes = append(changes, Change{t.Name, AddPartitions, fmt.Sprintf("%d → %d (keys move to other partitions; a run in flight keeps its order only within each part)", have, t.Partitions)})
			if !dryRun {
				resp, err := adm.UpdatePartitions(ctx, int(t.Partitions), t.Name)
				if err == nil {
					_, err = resp.On(t.Name, nil)
				}
				if err != nil {
					return changes, fmt.Errorf("add partitions to %s: %w", t.Name, err)
				}
			}
		case have > t.Partitions:
			changes = append(changes, Change{t.Name, Warning, fmt.Sprintf("has %s, config says %d; Kafka cannot remove partitions", plural(int(have), "partition"), t.Partitions)})
		}
		if rf := int16(d.Partitions.NumReplicas()); rf != t.ReplicationFactor && rf > 0 {
			changes = append(changes, Change{t.Name, Warning, fmt.Sprintf("replication factor is %d, config says %d; change it with a partition reassignment", rf, t.ReplicationFactor)})
		}
		if len(want) > 0 {
			current, err := currentConfigs(ctx, adm, t.Name)
			if err != nil {
				return changes, err
			}
			var alters []kadm.AlterConfig
			keys := make([]string, 0, len(want))
			for k := range want {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if cur, ok := current[k]; !ok || cur != want[k] {
					changes = append(changes, Change{t.Name, SetConfig, fmt.Sprintf("%s = %s (was %s)", k, want[k], orDefault(cur, ok))})
					alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(want[k])})
				}
			}
			if len(alters) > 0 && !dryRun {
				resp, err := adm.AlterTopicConfigs(ctx, alters, t.Name)
				if err == nil {
					for _, r := range resp {
						if r.Err != nil {
							err = fmt.Errorf("%w %s", r.Err, r.ErrMessage)
						}
					}
				}
				if err != nil {
					return changes, fmt.Errorf("set configs of %s: %w", t.Name, err)
				}
			}
		}
		if len(changes) == before {
			changes = append(changes, Change{t.Name, Unchanged, ""})
		}
	}
	return changes, nil
}

// waitListed returns the topic's details once the broker's metadata lists it (within 30 s).
func waitListed(ctx context.Context, adm *kadm.Client, topic string) (kadm.TopicDetail, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		details, err := adm.ListTopics(ctx, topic)
		if err == nil {
			if d, ok := details[topic]; ok && d.Err == nil {
				return d, nil
			}
		}
		select {
		case <-ctx.Done():
			return kadm.TopicDetail{}, fmt.Errorf("topic %s exists, says Kafka, but its metadata does not list it: %w", topic, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func currentConfigs(ctx context.Context, adm *kadm.Client, topic string) (map[string]string, error) {
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	rc, err := rcs.On(topic, nil)
	if err != nil {
		return nil, fmt.Errorf("describe configs of %s: %w", topic, err)
	}
	out := map[string]string{}
	for _, c := range rc.Configs {
		out[c.Key] = c.MaybeValue()
	}
	return out, nil
}

func describeConfigs(m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	s := ""
	for _, k := range keys {
		s += fmt.Sprintf(", %s=%s", k, m[k])
	}
	return s
}

func orDefault(v string, ok bool) string {
	if !ok || v == "" {
		return "unset"
	}
	return v
}

// plural returns "1 partition", "3 partitions".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
