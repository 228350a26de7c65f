package ingest_test

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// Faults only a real broker has: it goes away mid-ingest, stopped (SIGTERM: docker stop, a host reboot) or killed
// (SIGKILL: a crash, the OOM killer), and comes back on the same ports and log while a producer keeps sending.
// The sink resumes by itself; every record lands exactly once.
func TestApacheBrokerRestartMidIngest(t *testing.T) {
	for _, c := range []struct {
		name string
		down func(*testenv.KafkaBroker)
	}{
		{"SIGTERM", func(b *testenv.KafkaBroker) { _ = b.Stop() }},
		{"SIGKILL", (*testenv.KafkaBroker).Kill},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := testenv.OwnApacheKafka(t, testenv.KafkaBrokerOptions{})
			b.CreateTopics(t, 4, recordsTopic)
			b.CreateTopics(t, 1, "benchpipe.dead-letter")
			cfg := config.Default()
			cfg.Kafka.Brokers = b.Brokers()
			cfg.Topics[0].Partitions = 4
			cfg.Sink.DatabaseURL = testenv.DatabaseURL(t)
			cfg.Sink.HTTPAddr = ""
			cfg.Sink.BatchSize = 2000
			cfg.Sink.FlushInterval = 50 * time.Millisecond
			if err := ingest.Migrate(context.Background(), &cfg, slog.New(slog.DiscardHandler)); err != nil {
				t.Fatal(err)
			}
			e := &env{cfg: &cfg, brokers: b.Brokers(), dbURL: cfg.Sink.DatabaseURL, topic: recordsTopic}
			e.startSink(t)
			conn := connect(t, e.dbURL)

			// A producer that keeps sending through the outage (franz-go retries a record until it is acknowledged).
			const runs, samples = 40, 250
			cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...), kgo.DefaultProduceTopic(e.topic))
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			produced := make(chan error, 1)
			go func() {
				for range runs {
					for _, r := range makeRun(samples) {
						v, err := schema.Encode(r)
						if err != nil {
							produced <- err
							return
						}
						cl.Produce(context.Background(), &kgo.Record{Key: r.Key(), Value: v}, nil)
					}
					time.Sleep(100 * time.Millisecond)
				}
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				produced <- cl.Flush(ctx)
			}()

			waitRows(t, conn, "samples", samples, 30*time.Second)
			c.down(b)
			atStop := count(t, conn, "SELECT count(*) FROM samples")
			time.Sleep(2 * time.Second) // the sink and the producer retry against a broker that is gone
			if err := b.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			t.Logf("broker down with %d of %d samples written; back in %v", atStop, runs*samples, b.StartTime)
			if err := <-produced; err != nil {
				t.Fatalf("producer: %v", err)
			}
			waitRows(t, conn, "samples", runs*samples, 120*time.Second)
			time.Sleep(500 * time.Millisecond)
			if n := count(t, conn, "SELECT count(*) FROM samples"); n != runs*samples {
				t.Fatalf("samples = %d, want %d", n, runs*samples)
			}
			if n := count(t, conn, "SELECT count(DISTINCT (run_id, seq)) FROM samples"); n != runs*samples {
				t.Fatalf("distinct samples = %d, want %d", n, runs*samples)
			}
			if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != runs {
				t.Fatalf("finished runs = %d, want %d", n, runs)
			}
			if atStop >= runs*samples {
				t.Errorf("the broker went down after the last sample was written: the test did not fault mid-ingest")
			}
		})
	}
}

// The consumer group protocol of KIP-848 (group.protocol=consumer: the broker's coordinator assigns partitions),
// which franz-go speaks with ServerSideBalancer and a range or sticky balancer, works for the sink against the
// compose stack's broker: two sinks split the partitions and write every record once. The sink's default stays
// the classic protocol (see the report of issue 12): franz-go advises KIP-848 only from Kafka 4.3, and the
// stack pins 4.1.
func TestApacheKIP848TwoSinks(t *testing.T) {
	e := newEnvOn(t, testenv.KafkaBackend{Name: testenv.BackendApache}, "")
	var all []schema.Record
	for range 20 {
		all = append(all, makeRun(50)...)
	}
	kip848 := ingest.WithKafkaOptions(kgo.ServerSideBalancer(), kgo.Balancers(kgo.RangeBalancer()))
	e.startSink(t, kip848)
	e.startSink(t, kip848)
	produce(t, e.brokers, e.topic, all)
	conn := connect(t, e.dbURL)
	waitRows(t, conn, "samples", 1000, 60*time.Second)

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	if lg, err := adm.ListGroupsByType(ctx, []string{"consumer"}); err != nil || !slices.Contains(lg.Groups(), e.cfg.Sink.Group) {
		t.Fatalf("group %s is not a KIP-848 (consumer) group: %v, %v", e.cfg.Sink.Group, lg.Groups(), err)
	}
	// The coordinator moves half the partitions to the second sink once the first gives them up (at its next
	// heartbeat); both then hold two of the four.
	waitFor(t, 30*time.Second, "both sinks assigned partitions", func() (bool, string) {
		d, err := adm.DescribeConsumerGroups(ctx, e.cfg.Sink.Group)
		if err != nil {
			return false, err.Error()
		}
		g := d[e.cfg.Sink.Group]
		var parts []int
		for _, m := range g.Members {
			n := 0
			for _, ps := range m.Assignment {
				n += len(ps)
			}
			parts = append(parts, n)
		}
		return g.State == "Stable" && slices.Equal(parts, []int{2, 2}), fmt.Sprintf("state %s, partitions per member %v", g.State, parts)
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 1000 {
		t.Fatalf("samples = %d, want 1000", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status='ok'"); n != 20 {
		t.Fatalf("runs = %d, want 20", n)
	}
}

// allowLargeRecords sets max.message.bytes of topics on the real broker, as an operator would for large records.
func (e *env) allowLargeRecords(t *testing.T, bytes int, topics ...string) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	v := fmt.Sprint(bytes)
	resp, err := kadm.NewClient(cl).AlterTopicConfigs(context.Background(), []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "max.message.bytes", Value: &v}}, topics...)
	if err == nil {
		for _, r := range resp {
			if r.Err != nil {
				err = r.Err
			}
		}
	}
	if err != nil {
		t.Fatalf("set max.message.bytes: %v", err)
	}
}

// Three sinks in one group on the real broker, records streaming in; one is killed with SIGKILL mid-batch. The real
// coordinator notices the dead member when its session (6 s, the broker's minimum) runs out and gives its
// partitions to the other two: every record is a row exactly once, and the group ends with two members holding
// all partitions.
func TestApacheThreeSinksOneKilled(t *testing.T) {
	e := newEnvOn(t, testenv.KafkaBackend{Name: testenv.BackendApache}, "")
	conn := connect(t, e.dbURL)
	const runs, samples = 60, 500 // 30,120 records
	var all []schema.Record
	for range runs {
		all = append(all, makeRun(samples)...)
	}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < len(all); i += 2000 {
			produce(t, e.brokers, e.topic, all[i:min(i+2000, len(all))])
			time.Sleep(100 * time.Millisecond)
		}
	}()
	var sinks []*exec.Cmd
	for range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "BROKERS="+strings.Join(e.brokers, ","), "DATABASE_URL="+e.dbURL,
			"TOPIC="+e.topic, "GROUP="+e.cfg.Sink.Group, "DEAD_LETTER="+e.cfg.Sink.DeadLetterTopic, "SESSION_TIMEOUT=6s")
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sinks = append(sinks, cmd)
	}
	defer func() {
		for _, c := range sinks[1:] {
			_ = c.Process.Signal(syscall.SIGTERM)
			_ = c.Wait()
		}
	}()

	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx := context.Background()
	members := func() (int, int, string) {
		d, err := adm.DescribeGroups(ctx, e.cfg.Sink.Group)
		if err != nil {
			return 0, 0, err.Error()
		}
		g := d[e.cfg.Sink.Group]
		parts := 0
		for _, m := range g.Members {
			if a, ok := m.Assigned.AsConsumer(); ok {
				for _, tp := range a.Topics {
					parts += len(tp.Partitions)
				}
			}
		}
		return len(g.Members), parts, g.State
	}
	waitFor(t, 60*time.Second, "three sinks sharing the partitions", func() (bool, string) {
		n, parts, state := members()
		return n == 3 && parts == 4 && state == "Stable", fmt.Sprintf("%d members, %d partitions, %s", n, parts, state)
	})
	before := count(t, conn, "SELECT count(*) FROM samples")
	waitFor(t, 60*time.Second, "the sinks to write", func() (bool, string) {
		return count(t, conn, "SELECT count(*) FROM samples") > before+1000, ""
	})
	time.Sleep(time.Duration(rand.IntN(200)) * time.Millisecond)
	_ = sinks[0].Process.Signal(syscall.SIGKILL)
	_ = sinks[0].Wait()
	t.Logf("killed one of three sinks with %d of %d samples written", count(t, conn, "SELECT count(*) FROM samples"), runs*samples)
	<-produced

	waitRows(t, conn, "samples", runs*samples, 120*time.Second)
	waitFor(t, 30*time.Second, "two sinks holding all partitions", func() (bool, string) {
		n, parts, state := members()
		return n == 2 && parts == 4 && state == "Stable", fmt.Sprintf("%d members, %d partitions, %s", n, parts, state)
	})
	time.Sleep(500 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != runs*samples {
		t.Fatalf("samples = %d, want exactly %d", n, runs*samples)
	}
	if n := count(t, conn, "SELECT count(*) FROM (SELECT run_id, seq FROM samples GROUP BY 1, 2 HAVING count(*) > 1) d"); n != 0 {
		t.Fatalf("%d duplicated (run_id, seq) pairs", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != runs {
		t.Fatalf("finished runs = %d, want %d", n, runs)
	}
}
