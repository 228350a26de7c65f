package testenv_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/internal/testenv"
)

func TestPropertyNameAsTheImage(t *testing.T) {
	for env, want := range map[string]string{
		"AUTO_CREATE_TOPICS_ENABLE":                                "auto.create.topics.enable",
		"OFFSETS_TOPIC_REPLICATION_FACTOR":                         "offsets.topic.replication.factor",
		"LISTENER_NAME_DEVICES_SCRAM___SHA___512_SASL_JAAS_CONFIG": "listener.name.devices.scram-sha-512.sasl.jaas.config",
		"CONFLUENT__SUPPORT":                                       "confluent_support",
	} {
		if got := testenv.PropertyName(env); got != want {
			t.Errorf("PropertyName(%s) = %s, want %s", env, got, want)
		}
	}
}

// The broker runs with docker-compose.yml's kafka settings: auto-create off (a produce to a missing topic fails),
// one replica, both client listeners answering; a record goes through a real consumer group.
func TestApacheKafkaFromCompose(t *testing.T) {
	b := testenv.ApacheKafka(t)
	t.Logf("Kafka %s started in %v", b.Version, b.StartTime)
	for k, want := range map[string]string{
		"auto.create.topics.enable":        "false",
		"offsets.topic.replication.factor": "1",
		"process.roles":                    "broker,controller",
		"inter.broker.listener.name":       "INTERNAL",
		"group.initial.rebalance.delay.ms": "0",
	} {
		if got := b.Properties[k]; got != want {
			t.Errorf("%s = %q, want %q (docker-compose.yml)", k, got, want)
		}
	}
	if len(b.Listeners) != 2 || b.Listeners["INTERNAL"] == "" || b.Listeners["EXTERNAL"] == "" {
		t.Fatalf("advertised listeners %v, want INTERNAL and EXTERNAL", b.Listeners)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	topic := testenv.UniqueName(t, "t")
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.DefaultProduceTopic(topic),
		kgo.RecordRetries(2), kgo.UnknownTopicRetries(2))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	err = cl.ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
	if !errors.Is(err, kerr.UnknownTopicOrPartition) {
		t.Fatalf("produce to a topic nobody created: err = %v, want UNKNOWN_TOPIC_OR_PARTITION (auto-create is off)", err)
	}

	b.CreateTopics(t, 3, topic)
	for i := range 10 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Key: []byte{byte(i)}, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
	}
	for _, listener := range []string{"EXTERNAL", "INTERNAL"} {
		cons, err := kgo.NewClient(kgo.SeedBrokers(b.Addr(t, listener)), kgo.ConsumerGroup(testenv.UniqueName(t, "g")),
			kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for got < 10 && ctx.Err() == nil {
			fs := cons.PollFetches(ctx)
			if err := fs.Err0(); err != nil && ctx.Err() == nil {
				t.Fatalf("%s: poll: %v", listener, err)
			}
			got += fs.NumRecords()
		}
		if err := cons.CommitUncommittedOffsets(ctx); err != nil {
			t.Errorf("%s: commit: %v", listener, err)
		}
		cons.Close()
		if got != 10 {
			t.Errorf("%s: consumed %d records, want 10", listener, got)
		}
	}
}

// The compose stack with docker-compose.sasl-ssl.yml: the DEVICES listener takes a device's kafka section
// (kafkaopt, as the producer and the sink build it) and refuses a wrong password with SASL's own error, and so
// does the test-only SASL_PLAINTEXT listener; SASL without TLS on DEVICES gets nowhere.
func TestApacheKafkaSASLSSLFromCompose(t *testing.T) {
	s := testenv.ApacheKafkaSASLSSL(t)
	t.Logf("%s started in %v", s, s.StartTime)
	if got := s.Properties["listener.name.devices.scram-sha-512.sasl.jaas.config"]; got != "org.apache.kafka.common.security.scram.ScramLoginModule required;" {
		t.Errorf("JAAS config %q", got)
	}
	// The container path of the mount, replaced by the host directory compose would mount there.
	if got := s.Properties["listener.name.devices.ssl.keystore.location"]; got != filepath.Join(filepath.Dir(s.CAFile), testenv.KafkaTLSServerPEM) {
		t.Errorf("keystore %q is not the mounted server.pem", got)
	}
	topic := testenv.UniqueName(t, "t")
	s.CreateTopics(t, 1, topic)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	dial := func(k config.Kafka, extra ...kgo.Opt) *kgo.Client {
		t.Helper()
		opts, err := kafkaopt.Options(k)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(append(opts, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(1),
			kgo.RetryTimeout(2*time.Second)), extra...)...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	good := s.DeviceConfig(t)
	for _, c := range []struct {
		name string
		k    config.Kafka
	}{{"SASL_SSL", good}, {"SASL_PLAINTEXT", s.SCRAMConfig(t)}} {
		if err := dial(c.k).ProduceSync(ctx, &kgo.Record{Value: []byte("over " + c.name)}).FirstErr(); err != nil {
			t.Fatalf("%s: produce with the device's credentials: %v", c.name, err)
		}
		bad := c.k
		bad.SASL.Password = "wrong"
		err := dial(bad).ProduceSync(ctx, &kgo.Record{Value: []byte("x")}).FirstErr()
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Errorf("%s: wrong password: err = %v, want SASL_AUTHENTICATION_FAILED", c.name, err)
		}
	}
	noTLS := good
	noTLS.TLS = config.TLS{}
	short, cancelShort := context.WithTimeout(ctx, 3*time.Second)
	defer cancelShort()
	if err := dial(noTLS).ProduceSync(short, &kgo.Record{Value: []byte("x")}).FirstErr(); err == nil {
		t.Error("SASL without TLS on the SASL_SSL listener succeeded")
	}
	got := testenv.ConsumeWith(t, good, topic, 2, 30*time.Second)
	if len(got) != 2 || string(got[0].Value) != "over SASL_SSL" || string(got[1].Value) != "over SASL_PLAINTEXT" {
		t.Errorf("consumed %d records over SASL_SSL, want exactly the 2 produced with the right password", len(got))
	}
}
