// Command bench measures the sink against its physical limit and against the way Kafka Connect's JDBC sink writes,
// in one run on one PostgreSQL server, and prints rows/s side by side with ratios (this machine is noisy; only
// ratios measured together mean something). Run it with `make bench-sink`.
//
//  1. raw COPY   — binary COPY of the already-decoded rows (internal/pgcopy, the encoder the sink uses), 10,000 per
//     transaction: the physical limit.
//  2. JDBC-style — one INSERT per row, 3,000 per batch and transaction, pipelined in one round trip (what the JDBC
//     sink's executeBatch does).
//  3. sink       — the real sink consuming the same records from kfake: fetch, decode, validate, COPY through the
//     staging table with ON CONFLICT, offsets in the same transaction, Kafka commit.
//
// Then produce-to-row latency: records produced at a steady rate while the sink runs with its default 200 ms flush
// interval; latency is from the Kafka record timestamp to the database commit that made it a row.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func main() {
	n := flag.Int("records", 1_000_000, "sample records to ingest")
	insertN := flag.Int("insert-records", 300_000, "records for the JDBC-style INSERT baseline (it is slow; its rate is what counts)")
	rate := flag.Int("latency-rate", 1000, "records per second for the latency measurement")
	latencyFor := flag.Duration("latency-duration", 15*time.Second, "how long to measure latency")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the sink phase to this file")
	flag.Parse()
	profilePath = *cpuprofile
	if err := run(*n, *insertN, *rate, *latencyFor); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sink:", err)
		os.Exit(1)
	}
}

var profilePath string

func run(n, insertN, rate int, latencyFor time.Duration) error {
	ctx := context.Background()
	admin := os.Getenv(testenv.EnvDatabaseURL)
	if admin == "" {
		pg, err := testenv.StartPostgres()
		if err != nil {
			return err
		}
		defer pg.Remove()
		admin = pg.URL("postgres")
		fmt.Printf("PostgreSQL: throw-away cluster on port %d (fsync off, same for all three)\n", pg.Port)
	}
	newDB := func(name string) (string, error) {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			return "", err
		}
		defer conn.Close(ctx)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
			return "", err
		}
		url := strings.Replace(admin, "/postgres?", "/"+name+"?", 1)
		c, err := pgx.Connect(ctx, url)
		if err != nil {
			return "", err
		}
		defer c.Close(ctx)
		_, err = schema.Migrate(ctx, c)
		return url, err
	}

	fmt.Printf("generating %d sample records…\n", n)
	recs := makeRecords(n)
	values := make([][]byte, len(recs))
	var bytesTotal int
	for i, r := range recs {
		b, err := schema.Encode(r)
		if err != nil {
			return err
		}
		values[i] = b
		bytesTotal += len(b)
	}
	fmt.Printf("  %d records, %.0f bytes each on average\n", n, float64(bytesTotal)/float64(n))

	// 1. raw binary COPY
	copyURL, err := newDB("bench_copy")
	if err != nil {
		return err
	}
	copyRate, err := rawCopy(ctx, copyURL, recs)
	if err != nil {
		return fmt.Errorf("raw copy: %w", err)
	}
	fmt.Printf("raw COPY:   %10.0f rows/s\n", copyRate)

	// 2. JDBC-style batched INSERT
	insURL, err := newDB("bench_insert")
	if err != nil {
		return err
	}
	insRate, err := batchedInsert(ctx, insURL, recs[:min(insertN, len(recs))])
	if err != nil {
		return fmt.Errorf("insert: %w", err)
	}
	fmt.Printf("INSERT×3000: %9.0f rows/s (%d rows)\n", insRate, min(insertN, len(recs)))

	// 3. the sink from kfake
	sinkURL, err := newDB("bench_sink")
	if err != nil {
		return err
	}
	sinkRate, err := sinkIngest(ctx, sinkURL, recs, values)
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	fmt.Printf("sink:       %10.0f rows/s\n", sinkRate)

	// 4. latency at a steady rate
	latURL, err := newDB("bench_latency")
	if err != nil {
		return err
	}
	p50, p99, max, count, err := latency(ctx, latURL, rate, latencyFor)
	if err != nil {
		return fmt.Errorf("latency: %w", err)
	}

	fmt.Println()
	fmt.Printf("%-34s %12s %8s\n", "ingest of sample records", "rows/s", "× COPY")
	fmt.Printf("%-34s %12.0f %8.2f\n", "raw binary COPY (physical limit)", copyRate, 1.0)
	fmt.Printf("%-34s %12.0f %8.2f\n", "sink (kfake → PostgreSQL)", sinkRate, sinkRate/copyRate)
	fmt.Printf("%-34s %12.0f %8.2f\n", "INSERT per row, batches of 3000", insRate, insRate/copyRate)
	fmt.Printf("produce-to-row latency at %d records/s (%d records, flush_interval 200ms): p50 %.0f ms, p99 %.0f ms, max %.0f ms\n",
		rate, count, p50, p99, max)
	fmt.Printf("ratios: sink/COPY = %.2f (aim ≥ 0.70), sink/INSERT = %.1f (aim ≥ 10)\n", sinkRate/copyRate, sinkRate/insRate)
	return nil
}

// makeRecords builds n MQTT sample records spread over runs of 1,000 samples, every figure filled.
func makeRecords(n int) []schema.Record {
	recs := make([]schema.Record, 0, n)
	t0 := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
	var id uuid.UUID
	for i := range n {
		if i%1000 == 0 {
			id = uuid.Must(uuid.NewV7())
		}
		seq := int64(i%1000 + 1)
		start := t0.Add(time.Duration(seq) * time.Second)
		ops := int64(10000 + i%977)
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: id, Seq: seq, Time: start.Add(time.Second), Sample: &schema.Sample{
			Start: start, End: start.Add(time.Second), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: ops, OpsRate: float64(ops), Bytes: ops * 100, Errors: int64(i % 3),
				Latency: &schema.Latency{MinMs: 0.113, MeanMs: 1.52, P50Ms: 1.25, P90Ms: 2.51, P95Ms: 3.07, P99Ms: 4.61, P999Ms: 12.3, MaxMs: 20.9},
				MQTT: &schema.MQTTFigures{Sent: ops, Received: ops - 1, Lost: 1, OutOfOrder: int64(i % 2), OfferedRate: 10000,
					UncorrectedP50Ms: 1.1, UncorrectedP99Ms: 4.2, UncorrectedMaxMs: 19.5}}}})
	}
	return recs
}

func rawCopy(ctx context.Context, url string, recs []schema.Record) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	// The same column-planned encoder the sink uses: the limit is the server's, not pgx's per-value planning.
	table, err := pgcopy.LoadTable(ctx, conn, pgx.Identifier{"public", "samples"}, schema.SampleColumns)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	for i := 0; i < len(recs); i += 10000 {
		rows := make([][]any, 0, 10000)
		for _, r := range recs[i:min(i+10000, len(recs))] {
			rows = append(rows, r.SampleRow())
		}
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := table.Copy(ctx, tx.Conn().PgConn(), rows)
			return err
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds(), nil
}

func batchedInsert(ctx context.Context, url string, recs []schema.Record) (float64, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	params := make([]string, len(schema.SampleColumns))
	for i := range params {
		params[i] = fmt.Sprintf("$%d", i+1)
	}
	sql := fmt.Sprintf("INSERT INTO public.samples (%s) VALUES (%s)", strings.Join(schema.SampleColumns, ", "), strings.Join(params, ", "))
	start := time.Now()
	for i := 0; i < len(recs); i += 3000 {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var b pgx.Batch
			for _, r := range recs[i:min(i+3000, len(recs))] {
				b.Queue(sql, r.SampleRow()...)
			}
			return tx.SendBatch(ctx, &b).Close()
		})
		if err != nil {
			return 0, err
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds(), nil
}

func sinkConfig(brokers []string, url string) *config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = url
	cfg.Sink.HTTPAddr = ""
	return &cfg
}

func sinkIngest(ctx context.Context, url string, recs []schema.Record, values [][]byte) (float64, error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "benchpipe.records"), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	if err != nil {
		return 0, err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("benchpipe.records"))
	if err != nil {
		return 0, err
	}
	for i := 0; i < len(recs); i += 20000 {
		var krs []*kgo.Record
		for j := i; j < min(i+20000, len(recs)); j++ {
			krs = append(krs, &kgo.Record{Key: recs[j].Key(), Value: values[j]})
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			cl.Close()
			return 0, err
		}
	}
	cl.Close()

	var written atomic.Int64
	done := make(chan struct{})
	target := int64(len(recs))
	s, err := ingest.New(ctx, sinkConfig(brokers, url), ingest.WithLogger(slog.New(slog.DiscardHandler)),
		ingest.WithCommitHook(func(ci ingest.CommitInfo) {
			if written.Add(int64(ci.Rows)) == target {
				close(done)
			}
		}))
	if err != nil {
		return 0, err
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	if profilePath != "" {
		f, err := os.Create(profilePath)
		if err != nil {
			return 0, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return 0, err
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	go func() { errc <- s.Run(rctx) }()
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		cancel()
		return 0, fmt.Errorf("only %d of %d rows after 10 minutes", written.Load(), target)
	}
	elapsed := time.Since(start)
	cancel()
	if err := <-errc; err != nil {
		return 0, err
	}
	s.Close()
	return float64(len(recs)) / elapsed.Seconds(), nil
}

func latency(ctx context.Context, url string, rate int, dur time.Duration) (p50, p99, max float64, count int64, err error) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "benchpipe.records"), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	if err != nil {
		return
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	hist := hdrhistogram.New(1, 60_000_000, 3) // µs
	var mu sync.Mutex
	recorded := func() int64 { mu.Lock(); defer mu.Unlock(); return hist.TotalCount() }
	s, err := ingest.New(ctx, sinkConfig(brokers, url), ingest.WithLogger(slog.New(slog.DiscardHandler)),
		ingest.WithCommitHook(func(ci ingest.CommitInfo) {
			mu.Lock()
			defer mu.Unlock()
			for _, r := range ci.Records {
				_ = hist.RecordValue(ci.CommittedAt.Sub(r.Timestamp).Microseconds())
			}
		}))
	if err != nil {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(rctx) }()

	// A producer like the edge devices': default linger, one record at a time on a fixed schedule.
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic("benchpipe.records"))
	if err != nil {
		cancel()
		return
	}
	recs := makeRecords(int(float64(rate) * dur.Seconds()))
	time.Sleep(time.Second) // let the sink join its group
	start := time.Now()
	for i, r := range recs {
		if wait := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); wait > 0 {
			time.Sleep(wait)
		}
		b, _ := json.Marshal(r)
		cl.Produce(ctx, &kgo.Record{Key: r.Key(), Value: b}, nil)
	}
	_ = cl.Flush(ctx)
	cl.Close()
	deadline := time.Now().Add(30 * time.Second)
	for recorded() < int64(len(recs)) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if err = <-errc; err != nil {
		return
	}
	s.Close()
	return float64(hist.ValueAtQuantile(50)) / 1000, float64(hist.ValueAtQuantile(99)) / 1000, float64(hist.Max()) / 1000, hist.TotalCount(), nil
}
