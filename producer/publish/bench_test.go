package publish_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// openDown opens a Publisher whose Kafka is down, so only the spool is measured.
func openDown(b *testing.B, opts ...publish.Option) (*publish.Publisher, int) {
	b.Helper()
	port := freePort(b)
	p, err := publish.Open(context.Background(), testConfig(b.TempDir(), addr(port)), append(opts, publish.WithLogger(discard))...)
	if err != nil {
		b.Fatal(err)
	}
	return p, port
}

// BenchmarkPublish is one producer publishing samples: each Publish waits for its own fsync.
func BenchmarkPublish(b *testing.B) {
	p, _ := openDown(b)
	defer closeNow(p)
	run := runrec.New(schema.KindMQTT, started())
	for b.Loop() {
		if err := p.Publish(context.Background(), run.Sample(sample())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishParallel is several runs publishing at once: appends queued during one fsync share the next.
func BenchmarkPublishParallel(b *testing.B) {
	p, _ := openDown(b)
	defer closeNow(p)
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		run := runrec.New(schema.KindMQTT, started())
		for pb.Next() {
			if err := p.Publish(context.Background(), run.Sample(sample())); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkDrainBacklog measures how fast a backlog left by an outage goes out once Kafka is back: the spool is
// filled with b.N records while Kafka is down (not timed), then the timer runs from starting kfake until Close
// returns with the spool empty.
func BenchmarkDrainBacklog(b *testing.B) {
	p, port := openDown(b, publish.WithKafkaOptions(fastRedial...))
	var wg sync.WaitGroup
	per := (b.N + 15) / 16
	for i := range 16 {
		n := min(per, b.N-i*per)
		wg.Go(func() {
			run := runrec.New(schema.KindMQTT, started())
			for range n {
				if err := p.Publish(context.Background(), run.Sample(sample())); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ResetTimer()
	kafkaOn(b, port)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

func closeNow(p *publish.Publisher) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = p.Close(ctx)
}
