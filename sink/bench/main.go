// Command bench measures the sink against its physical limit and against Kafka Connect, the thing it replaces, in
// one run on one PostgreSQL server, and prints rows/s side by side with ratios (this machine is noisy; only ratios
// measured together mean something). Run it with `make bench-sink`.
//
//  1. raw COPY      — binary COPY of the already-decoded rows (internal/pgcopy, the encoder the sink uses; pgx's
//     CopyFrom where pgcopy lacks a column type, as the sink falls back), 10,000 per transaction: the physical limit.
//  2. sink ← kfake  — the real sink consuming the records from kfake (in-process Kafka): fetch, decode, validate,
//     COPY, offsets in the same transaction, Kafka commit.
//  3. sink ← Kafka  — the same from a real Apache Kafka broker (internal/testenv, configured like
//     docker-compose.yml's kafka service, jars from Maven Central).
//  4. Kafka Connect — a standalone Kafka Connect worker with the Debezium JDBC sink connector (insert mode, UNNEST
//     batch insert, batch.size and max.poll.records 10,000, 2 tasks; testenv.DebeziumJDBCSink) consuming the same sample
//     records from the same broker, each carrying its schema (JsonConverter envelope), into the same table.
//
// Phases 1–3 run in rounds (-rounds), each on its share of the records, back to back and each round in another
// order; sink/COPY is the median of the rounds' ratios. The machine's speed drifts by a quarter within minutes:
// with raw COPY measured once before the sinks, sink/COPY swung from 0.66 to 1.08 between two runs, and with COPY
// before and after the sinks (the mean of the two as the limit) from 0.75 to 0.94 on the same code.
//
// Every phase writes into a fresh database with the same samples table. The consuming phases (2–4) are timed from
// the first rows landing to the last, so JVM start-up, consumer-group joins and the like are excluded for all three
// alike (start-up is printed apart). Kafka Connect is slow: it gets fewer records (-connect-records); its rate is
// what counts.
//
// Each phase also reports the CPU time per row of the client (the bench process or the Kafka Connect JVM),
// PostgreSQL and the broker, and how busy the machine was with other people's work meanwhile (cpu.go): on a shared
// 2-core machine that says more than rows/s alone.
//
// Then produce-to-row latency: records produced one at a time on a fixed schedule (-latency-rate) while the sink
// (default flush_interval 200ms), or Kafka Connect with its default commit behaviour (offsets every 60 s, rows
// committed per put), runs; latency is from each record's intended send time to its row's insert time
// (clock_timestamp(), a landed_at column the latency databases add to the table).
//
// Without Java 17+ or Maven the broker and Kafka Connect phases are skipped with what to install, and the ratios
// say n/a for what could not be measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

type flags struct {
	records, rounds, warmup, connectRecords, connectTasks, connectBatch, rate int
	connectStatements                                                         bool
	latencyFor                                                                time.Duration
	cpuprofile                                                                string
}

func main() {
	var f flags
	flag.IntVar(&f.records, "records", 1_200_000, "sample records for raw COPY and the sink phases, split over the rounds")
	flag.IntVar(&f.rounds, "rounds", 4, "rounds of raw COPY, sink ← kfake and sink ← Apache Kafka, back to back; sink/COPY is the median of the rounds' ratios")
	flag.IntVar(&f.warmup, "warmup", 100_000, "records the sink reads from Apache Kafka before the rounds, not counted (the broker's JIT warms up)")
	flag.IntVar(&f.connectRecords, "connect-records", 200_000, "sample records for Kafka Connect (it is slow; its rate is what counts)")
	flag.IntVar(&f.connectTasks, "connect-tasks", 2, "Kafka Connect tasks.max (the topic has 6 partitions; this machine has few cores)")
	flag.IntVar(&f.connectBatch, "connect-batch", 10_000, "Kafka Connect batch.size and consumer max.poll.records")
	flag.BoolVar(&f.connectStatements, "connect-statement-batches", false, "Kafka Connect without the UNNEST insert (JDBC batches of single-row INSERTs, the connector's default)")
	flag.IntVar(&f.rate, "latency-rate", 1000, "records per second for the latency measurement")
	flag.DurationVar(&f.latencyFor, "latency-duration", 15*time.Second, "how long to measure latency")
	flag.StringVar(&f.cpuprofile, "cpuprofile", "", "write a CPU profile of the sink ← Kafka phase (← kfake without a broker) to this file")
	flag.Parse()
	if err := run(context.Background(), f); err != nil {
		fmt.Fprintln(os.Stderr, "bench-sink:", err)
		os.Exit(1)
	}
}

// phase is one row of the throughput table.
type phase struct {
	kind    string // copy, kfake, kafka or connect
	round   int    // copy, kfake and kafka: the round (1, 2, …); 0 for connect
	name    string
	rows    int
	rate    float64       // rows/s, first to last row landing (raw COPY: start to end)
	startup time.Duration // from starting the consumer to its first rows
	cpu     cpuUse        // who used the CPU meanwhile (cpuMeter)
	client  string        // the name of the writing client's tree: bench or Kafka Connect
	skipped string        // why it was not measured
}

// lat is one row of the latency table.
type lat struct {
	name          string
	p50, p99, max float64 // ms
	count         int64
	skipped       string
}

const recordsTopic = "benchpipe.records"

// sinkPartitions is how many partitions the sink phases' topics have.
const sinkPartitions = 6

func run(ctx context.Context, f flags) error {
	meter := cpuMeter{"bench": func() float64 { return ownCPU(os.Getpid()) }}
	admin := os.Getenv(testenv.EnvDatabaseURL)
	if admin == "" {
		pg, err := testenv.StartPostgres()
		if err != nil {
			return err
		}
		defer pg.Remove()
		admin = pg.URL("postgres")
		meter["PostgreSQL"] = func() float64 { return treeCPU(postmasterPid(filepath.Join(pg.Dir, "data"))) }
		fmt.Printf("PostgreSQL: throw-away cluster on port %d (fsync off), the same server for every phase\n", pg.Port)
	} else {
		if u, err := neturl.Parse(admin); err != nil || u.Scheme != "postgres" && u.Scheme != "postgresql" {
			return fmt.Errorf("%s must be a postgres:// URL: the bench makes a database for each phase on that server", testenv.EnvDatabaseURL)
		}
		fmt.Printf("PostgreSQL: %s from %s, the same server for every phase (its CPU is not measured)\n", schema.RedactURL(admin), testenv.EnvDatabaseURL)
	}
	dbs := databases{admin: admin}

	fmt.Printf("generating %d sample records…\n", f.records)
	recs := makeRecords(f.records)
	values := make([][]byte, len(recs))
	var bytesTotal int
	for i := range recs {
		b, err := schema.Encode(recs[i])
		if err != nil {
			return err
		}
		values[i] = b
		bytesTotal += len(b)
	}
	fmt.Printf("  %d records, %.0f bytes each on average (benchpipe encoding)\n", f.records, float64(bytesTotal)/float64(f.records))

	env := startKafka(ctx)
	defer env.close()
	if env.brokerErr != nil {
		fmt.Printf("Apache Kafka: skipped — %v\n", env.brokerErr)
	} else {
		meter["broker"] = func() float64 { return treeCPU(env.broker.Pid()) }
		fmt.Printf("Apache Kafka %s: single node started in %v (docker-compose.yml's settings)\n", env.broker.Version, env.broker.StartTime.Round(time.Millisecond))
	}
	if env.connectErr != nil {
		fmt.Printf("Kafka Connect: skipped — %v\n", env.connectErr)
	}

	// 1–3. raw binary COPY, the sink from kfake and the sink from the real broker, in rounds: this VM's speed
	// drifts by a quarter within minutes, so each round measures the three back to back on its share of the
	// records (each round in another order, so no kind always runs first), and sink/COPY is the median of the
	// rounds' ratios rather than a ratio of phases minutes apart. After each phase its database is dropped and the
	// server checkpointed, so no phase pays for writing out or vacuuming the one before.
	// The broker's first fetches run its JIT-compiler, which cost up to twice its CPU per row of later rounds in the
	// first round: warm it up on records that are not counted, as a long-running broker is.
	if env.brokerErr == nil && f.warmup > 0 {
		n := min(f.warmup, len(recs))
		start := time.Now()
		if _, err := sinkPhase(ctx, "warm-up", dbs, meter, "bench_warmup", env, recs[:n], values[:n], ""); err != nil {
			return err
		}
		dbs.settleOrSay(ctx, "bench_warmup")
		fmt.Printf("warm-up: sink ← Apache Kafka on %d records in %v (not counted)\n", n, time.Since(start).Round(time.Millisecond))
	}

	var phases []phase
	rounds := max(1, f.rounds)
	per := len(recs) / rounds
	for r := range rounds {
		rrecs, rvalues := recs[r*per:(r+1)*per], values[r*per:(r+1)*per]
		order := []string{"copy", "kfake", "kafka"}
		order = append(order[r%3:], order[:r%3]...)
		for _, kind := range order {
			p, err := roundPhase(ctx, kind, r+1, dbs, meter, env, rrecs, rvalues, profileOrEmpty(r == 0 && f.cpuprofile != "" && (kind == "kafka" || kind == "kfake" && env.brokerErr != nil), f.cpuprofile))
			if err != nil {
				return err
			}
			phases = append(phases, p)
		}
	}

	// 4. Kafka Connect with the Debezium JDBC sink
	insert := "UNNEST"
	if f.connectStatements {
		insert = "INSERT batches"
	}
	connectName := fmt.Sprintf("Kafka Connect + Debezium JDBC (%d tasks, %s)", f.connectTasks, insert)
	if env.connectErr != nil {
		phases = append(phases, phase{kind: "connect", name: connectName, skipped: "no Kafka Connect (see above)"})
	} else {
		crecs := recs[:min(f.connectRecords, len(recs))]
		if f.connectRecords > len(recs) {
			crecs = makeRecords(f.connectRecords)
		}
		p, err := connectPhase(ctx, connectName, dbs, meter, env, crecs, f)
		if err != nil {
			return err
		}
		p.kind = "connect"
		phases = append(phases, p)
	}

	// 5. produce-to-row latency at a steady rate
	var lats []lat
	if env.brokerErr == nil {
		l, err := sinkLatency(ctx, "sink ← Apache Kafka", dbs, "bench_lat_sink_kafka", env, f)
		if err != nil {
			return err
		}
		lats = append(lats, l)
	} else {
		lats = append(lats, lat{name: "sink ← Apache Kafka", skipped: "no broker"})
	}
	l, err := sinkLatency(ctx, "sink ← kfake", dbs, "bench_lat_sink_kfake", nil, f)
	if err != nil {
		return err
	}
	lats = append(lats, l)
	if env.connectErr == nil {
		l, err := connectLatency(ctx, "Kafka Connect + Debezium JDBC", dbs, env, f)
		if err != nil {
			return err
		}
		lats = append(lats, l)
	} else {
		lats = append(lats, lat{name: "Kafka Connect + Debezium JDBC", skipped: "no Kafka Connect"})
	}

	printSummary(os.Stdout, phases, lats, f, runtime.NumCPU())
	return nil
}

func profileOrEmpty(on bool, path string) string {
	if on {
		return path
	}
	return ""
}

// roundPhase measures one kind (copy, kfake or kafka) in round r on recs.
func roundPhase(ctx context.Context, kind string, r int, dbs databases, meter cpuMeter, env *kafkaEnv, recs []schema.Record, values [][]byte, profile string) (phase, error) {
	db := fmt.Sprintf("bench_%s_r%d", kind, r)
	defer dbs.settleOrSay(ctx, db)
	var p phase
	var err error
	switch kind {
	case "copy":
		p, err = copyPhase(ctx, dbs, meter, db, recs)
	case "kfake":
		p, err = sinkPhase(ctx, "sink ← kfake", dbs, meter, db, nil, recs, values, profile)
	case "kafka":
		if env.brokerErr != nil {
			return phase{kind: kind, round: r, name: "sink ← Apache Kafka", skipped: "no broker (see above)"}, nil
		}
		p, err = sinkPhase(ctx, "sink ← Apache Kafka "+env.broker.Version, dbs, meter, db, env, recs, values, profile)
	}
	if err == nil && kind != "copy" {
		fmt.Printf("%-28s %10.0f rows/s (first to last row; start-up %v)\n", p.name+":", p.rate, p.startup.Round(time.Millisecond))
	}
	p.kind, p.round = kind, r
	return p, err
}

// copyPhase is the physical limit: the same rows by raw binary COPY into a fresh database.
func copyPhase(ctx context.Context, dbs databases, meter cpuMeter, db string, recs []schema.Record) (phase, error) {
	url, err := dbs.fresh(ctx, db, false)
	if err != nil {
		return phase{}, err
	}
	cpu0 := meter.snap()
	rate, viaPgx, err := rawCopy(ctx, url, recs)
	if err != nil {
		return phase{}, fmt.Errorf("raw copy: %w", err)
	}
	cpu := meter.since(cpu0)
	name := "raw binary COPY (physical limit)"
	if viaPgx {
		name = "raw binary COPY (pgx: pgcopy lacks a type)"
	}
	fmt.Printf("%-28s %10.0f rows/s\n", "raw COPY:", rate)
	return phase{name: name, rows: len(recs), rate: rate, cpu: cpu, client: "bench"}, nil
}

// databases makes a fresh database per phase on the one server, migrated like the sink's.
type databases struct{ admin string }

// settleOrSay drops a measured phase's database and writes out what the server and this machine still hold
// dirty, so that each phase pays for writing out (and vacuuming) its own rows only, not those of the phase before.
// It says so when it cannot (CHECKPOINT needs a superuser or pg_checkpoint on a server of one's own).
func (d databases) settleOrSay(ctx context.Context, name string) {
	if err := d.settle(ctx, name); err != nil {
		fmt.Printf("  (could not drop %s and checkpoint: %v)\n", name, err)
	}
}

func (d databases) settle(ctx context.Context, name string) error {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return err
	}
	syscall.Sync()
	return nil
}

func (d databases) fresh(ctx context.Context, name string, landedAt bool) (string, error) {
	conn, err := pgx.Connect(ctx, d.admin)
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	u, err := neturl.Parse(d.admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	url := u.String()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return "", err
	}
	defer c.Close(ctx)
	if _, err := schema.Migrate(ctx, c); err != nil {
		return "", err
	}
	if landedAt {
		// Latency databases only: when each row was inserted, whoever inserted it (COPY and INSERT fill defaults).
		if _, err := c.Exec(ctx, "ALTER TABLE public.samples ADD COLUMN landed_at timestamptz NOT NULL DEFAULT clock_timestamp()"); err != nil {
			return "", err
		}
	}
	return url, nil
}

// kafkaEnv is the real broker and Kafka Connect's jars, or why there are none.
type kafkaEnv struct {
	broker                *testenv.KafkaBroker
	java, connectLib      string
	brokerErr, connectErr error
}

func startKafka(ctx context.Context) *kafkaEnv {
	env := &kafkaEnv{}
	java, mvn, err := testenv.KafkaTools()
	if err != nil {
		env.brokerErr, env.connectErr = err, err
		return env
	}
	env.java = java
	fmt.Println("starting Apache Kafka and resolving Kafka Connect's jars (cached in ~/.m2 and the cache directory after the first run)…")
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if env.broker, err = testenv.StartKafkaBroker(rctx, java, mvn, testenv.KafkaBrokerOptions{}); err != nil {
		env.brokerErr = fmt.Errorf("start Apache Kafka: %w", err)
		env.connectErr = errors.New("needs the broker, which did not start")
		return env
	}
	if env.connectLib, err = testenv.KafkaConnectLib(rctx, mvn); err != nil {
		env.connectErr = err
	}
	return env
}

func (e *kafkaEnv) close() {
	if e.broker != nil {
		e.broker.Remove()
	}
}

// brokers is the listener the compose stack's sink (and a Kafka Connect worker next to it) would use.
func (e *kafkaEnv) brokers() []string { return []string{e.broker.Listeners["INTERNAL"]} }

func (e *kafkaEnv) createTopics(ctx context.Context, partitions int32, names ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.brokers()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	res, err := kadm.NewClient(cl).CreateTopics(ctx, partitions, 1, nil, names...)
	if err == nil {
		err = res.Error()
	}
	return err
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

// rawCopy copies recs' rows 10,000 per transaction and returns rows/s, and whether it had to use pgx's CopyFrom.
func rawCopy(ctx context.Context, url string, recs []schema.Record) (rate float64, viaPgx bool, err error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, false, err
	}
	defer conn.Close(ctx)
	// The same column-planned encoder the sink uses: the limit is the server's, not pgx's per-value planning. Like
	// the sink (ingest.copyRows), pgx's CopyFrom when the table has a column type pgcopy can't encode.
	ident := pgx.Identifier{"public", "samples"}
	table, err := pgcopy.LoadTable(ctx, conn, ident, schema.SampleColumns)
	if errors.Is(err, pgcopy.ErrUnsupportedType) {
		fmt.Printf("raw COPY: %v; pgx CopyFrom instead, as the sink does\n", err)
		table, err, viaPgx = nil, nil, true
	}
	if err != nil {
		return 0, false, err
	}
	start := time.Now()
	for i := 0; i < len(recs); i += 10000 {
		chunk := recs[i:min(i+10000, len(recs))]
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if table == nil {
				rows := make([][]any, 0, len(chunk))
				for _, r := range chunk {
					rows = append(rows, r.SampleRow())
				}
				_, err := tx.CopyFrom(ctx, ident, schema.SampleColumns, pgx.CopyFromRows(rows))
				return err
			}
			// Encoded from the records as the COPY streams, as the sink does: no []any per row.
			_, err := table.CopyFunc(ctx, tx.Conn().PgConn(), len(chunk), func(i int, w *pgcopy.Row) { chunk[i].WriteSampleRow(w) })
			return err
		})
		if err != nil {
			return 0, viaPgx, err
		}
	}
	return float64(len(recs)) / time.Since(start).Seconds(), viaPgx, nil
}

// produce sends n records built by rec in chunks, waiting for each chunk's acknowledgements.
func produce(ctx context.Context, brokers []string, topic string, n int, rec func(i int) (*kgo.Record, error)) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return err
	}
	defer cl.Close()
	for i := 0; i < n; i += 10000 {
		krs := make([]*kgo.Record, 0, 10000)
		for j := i; j < min(i+10000, n); j++ {
			kr, err := rec(j)
			if err != nil {
				return err
			}
			krs = append(krs, kr)
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			return fmt.Errorf("produce to %s: %w", topic, err)
		}
	}
	return nil
}

func sinkConfig(brokers []string, url, topic string) *config.Config {
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Topics[0].Name = topic
	cfg.Sink.DatabaseURL = url
	cfg.Sink.Group = "bench-" + topic
	cfg.Sink.DeadLetterTopic = topic + ".dead-letter"
	cfg.Sink.HTTPAddr = ""
	return &cfg
}

// sinkBrokers gives the sink phase a Kafka with the topic and its dead-letter topic: a kfake cluster of its own
// (env nil), or the real broker with fresh topics.
func sinkBrokers(ctx context.Context, env *kafkaEnv, topic string) (brokers []string, closeFn func(), err error) {
	if env == nil {
		cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(sinkPartitions, topic), kfake.SeedTopics(1, topic+".dead-letter"))
		if err != nil {
			return nil, nil, err
		}
		return cluster.ListenAddrs(), cluster.Close, nil
	}
	if err := env.createTopics(ctx, sinkPartitions, topic); err != nil {
		return nil, nil, err
	}
	if err := env.createTopics(ctx, 1, topic+".dead-letter"); err != nil {
		return nil, nil, err
	}
	return env.brokers(), func() {}, nil
}

// landing times the rows of a consuming phase: from the first rows landing to the last, and the consumer's
// start-up before that.
type landing struct {
	began       time.Time
	first, last time.Time
	firstRows   int64 // rows that landed with the first observation (not counted in the rate)
}

func (l landing) rate(total int64) float64 {
	if d := l.last.Sub(l.first).Seconds(); d > 0 && total > l.firstRows {
		return float64(total-l.firstRows) / d
	}
	return 0
}

func sinkPhase(ctx context.Context, name string, dbs databases, meter cpuMeter, db string, env *kafkaEnv, recs []schema.Record, values [][]byte, profile string) (phase, error) {
	fail := func(err error) (phase, error) { return phase{}, fmt.Errorf("%s: %w", name, err) }
	url, err := dbs.fresh(ctx, db, false)
	if err != nil {
		return fail(err)
	}
	topic := recordsTopic
	if env != nil {
		topic = strings.ReplaceAll(db, "_", ".") // a topic per phase: the broker keeps them all
	}
	brokers, closeKafka, err := sinkBrokers(ctx, env, topic)
	if err != nil {
		return fail(err)
	}
	defer closeKafka()
	if err := produce(ctx, brokers, topic, len(recs), func(i int) (*kgo.Record, error) {
		return &kgo.Record{Key: recs[i].Key(), Value: values[i]}, nil
	}); err != nil {
		return fail(err)
	}

	var written atomic.Int64
	var l landing
	done := make(chan struct{})
	target := int64(len(recs))
	s, err := ingest.New(ctx, sinkConfig(brokers, url, topic), ingest.WithLogger(slog.New(slog.DiscardHandler)),
		ingest.WithCommitHook(func(ci ingest.CommitInfo) {
			n := written.Add(int64(ci.Rows))
			if n == int64(ci.Rows) {
				l.first, l.firstRows = ci.CommittedAt, n
			}
			if n == target {
				l.last = ci.CommittedAt
				close(done)
			}
		}))
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	if profile != "" {
		pf, err := os.Create(profile)
		if err != nil {
			return fail(err)
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	cpu0 := meter.snap()
	l.began = time.Now()
	go func() { errc <- s.Run(rctx) }()
	select {
	case <-done:
	case err := <-errc:
		return fail(fmt.Errorf("sink stopped: %v", err))
	case <-time.After(10 * time.Minute):
		cancel()
		<-errc
		return fail(fmt.Errorf("only %d of %d rows after 10 minutes", written.Load(), target))
	}
	cancel()
	if err := <-errc; err != nil {
		return fail(err)
	}
	return phase{name: name, rows: len(recs), rate: l.rate(target), startup: l.first.Sub(l.began), cpu: meter.since(cpu0), client: "bench"}, nil
}

// connectFields are the samples columns as the Kafka Connect schema the records carry.
func connectFields(ctx context.Context, url string) ([]testenv.ConnectField, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer conn.Close(ctx)
	return testenv.ConnectFields(ctx, conn, "public.samples", schema.SampleColumns)
}

func startConnect(ctx context.Context, env *kafkaEnv, name, topic, url string, f flags) (*testenv.KafkaConnect, error) {
	props, err := testenv.DebeziumJDBCSink(testenv.JDBCSinkOptions{Name: name, Topic: topic, DatabaseURL: url,
		Table: "public.samples", Tasks: f.connectTasks, BatchSize: f.connectBatch, StatementBatches: f.connectStatements})
	if err != nil {
		return nil, err
	}
	return testenv.StartKafkaConnect(ctx, env.java, env.connectLib, testenv.KafkaConnectOptions{Brokers: env.brokers(), Connector: props})
}

// countRows polls the table's row count until it reaches want, timing the first rows and the last; it fails when
// Kafka Connect reports a failure or nothing lands for a minute.
func countRows(ctx context.Context, url string, want int64, kc *testenv.KafkaConnect) (landing, error) {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return landing{}, err
	}
	defer conn.Close(ctx)
	l := landing{began: time.Now()}
	var last int64
	progressed := time.Now()
	for {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM public.samples").Scan(&n); err != nil {
			return l, err
		}
		now := time.Now()
		if n > 0 && l.first.IsZero() {
			l.first, l.firstRows = now, n
		}
		if n != last {
			last, progressed = n, now
		}
		if n >= want {
			l.last = now
			return l, nil
		}
		if now.Sub(progressed) > time.Minute {
			return l, fmt.Errorf("%d of %d rows, none for a minute\n%s", n, want, kc.LogTail(3000))
		}
		if err := kc.Failed(ctx); err != nil {
			return l, fmt.Errorf("%w\n%s", err, kc.LogTail(3000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func connectPhase(ctx context.Context, name string, dbs databases, meter cpuMeter, env *kafkaEnv, recs []schema.Record, f flags) (phase, error) {
	fail := func(err error) (phase, error) { return phase{}, fmt.Errorf("%s: %w", name, err) }
	url, err := dbs.fresh(ctx, "bench_connect", false)
	if err != nil {
		return fail(err)
	}
	fields, err := connectFields(ctx, url)
	if err != nil {
		return fail(err)
	}
	const topic = "bench.connect"
	if err := env.createTopics(ctx, sinkPartitions, topic); err != nil {
		return fail(err)
	}
	if err := produce(ctx, env.brokers(), topic, len(recs), func(i int) (*kgo.Record, error) {
		v, err := testenv.ConnectRecord(fields, recs[i].SampleRow())
		return &kgo.Record{Key: recs[i].Key(), Value: v}, err
	}); err != nil {
		return fail(err)
	}
	began := time.Now()
	kc, err := startConnect(ctx, env, "bench-jdbc-sink", topic, url, f)
	if err != nil {
		return fail(err)
	}
	defer kc.Remove()
	fmt.Printf("Kafka Connect: worker and connector running in %v (JVM start-up, not measured)\n", kc.StartTime.Round(time.Millisecond))
	meter["Kafka Connect"] = func() float64 { return treeCPU(kc.Pid()) }
	defer delete(meter, "Kafka Connect")
	cpu0 := meter.snap()
	l, err := countRows(ctx, url, int64(len(recs)), kc)
	if err != nil {
		return fail(err)
	}
	p := phase{name: name, rows: len(recs), rate: l.rate(int64(len(recs))), startup: l.first.Sub(began), cpu: meter.since(cpu0), client: "Kafka Connect"}
	fmt.Printf("%-28s %10.0f rows/s (first to last row; start-up %v incl. the JVM)\n", "Kafka Connect:", p.rate, p.startup.Round(time.Millisecond))
	return p, nil
}

// steadyLatency produces rate records/s for dur to topic while a consumer writes them into url's samples table,
// after one warm-up record has landed (group joined, connections open), and returns the latencies from each
// record's intended send time to its row's landed_at.
func steadyLatency(ctx context.Context, name, url string, brokers []string, topic string, f flags,
	value func(r *schema.Record) ([]byte, error), failed func(context.Context) error) (lat, error) {
	out := lat{name: name}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return out, err
	}
	defer conn.Close(ctx)
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		return out, err
	}
	defer cl.Close()
	count := func() (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, "SELECT count(*) FROM public.samples").Scan(&n)
		return n, err
	}
	waitFor := func(want int64, limit time.Duration) error {
		deadline := time.Now().Add(limit)
		for {
			n, err := count()
			if err != nil || n >= want {
				return err
			}
			if err := failed(ctx); err != nil {
				return err
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%d of %d rows after %v", n, want, limit)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	warm := makeRecords(1)
	v, err := value(&warm[0])
	if err != nil {
		return out, err
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Key: warm[0].Key(), Value: v}).FirstErr(); err != nil {
		return out, err
	}
	if err := waitFor(1, 2*time.Minute); err != nil {
		return out, fmt.Errorf("warm-up record: %w", err)
	}

	// Like the edge devices' producer: default linger, one record at a time on a fixed schedule.
	recs := makeRecords(int(float64(f.rate) * f.latencyFor.Seconds()))
	intended := make(map[string]time.Time, len(recs))
	vals := make([][]byte, len(recs))
	for i := range recs {
		if vals[i], err = value(&recs[i]); err != nil {
			return out, err
		}
	}
	start := time.Now().Add(50 * time.Millisecond)
	for i := range recs {
		at := start.Add(time.Duration(i) * time.Second / time.Duration(f.rate))
		if wait := time.Until(at); wait > 0 {
			time.Sleep(wait)
		}
		intended[fmt.Sprintf("%s/%d", recs[i].RunID, recs[i].Seq)] = at
		cl.Produce(ctx, &kgo.Record{Key: recs[i].Key(), Value: vals[i]}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		return out, err
	}
	if err := waitFor(int64(len(recs))+1, 2*time.Minute); err != nil {
		return out, err
	}

	hist := hdrhistogram.New(1, 600_000_000, 3) // µs
	rows, err := conn.Query(ctx, "SELECT run_id::text, seq, landed_at FROM public.samples")
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var seq int64
		var landed time.Time
		if err := rows.Scan(&id, &seq, &landed); err != nil {
			return out, err
		}
		if at, ok := intended[fmt.Sprintf("%s/%d", id, seq)]; ok {
			_ = hist.RecordValue(max(landed.Sub(at).Microseconds(), 1))
		}
	}
	if err := rows.Err(); err != nil {
		return out, err
	}
	out.p50, out.p99, out.max = float64(hist.ValueAtQuantile(50))/1000, float64(hist.ValueAtQuantile(99))/1000, float64(hist.Max())/1000
	out.count = hist.TotalCount()
	fmt.Printf("latency %-30s p50 %.0f ms, p99 %.0f ms (%d records)\n", name+":", out.p50, out.p99, out.count)
	return out, nil
}

func sinkLatency(ctx context.Context, name string, dbs databases, db string, env *kafkaEnv, f flags) (lat, error) {
	fail := func(err error) (lat, error) { return lat{}, fmt.Errorf("latency %s: %w", name, err) }
	url, err := dbs.fresh(ctx, db, true)
	if err != nil {
		return fail(err)
	}
	topic := recordsTopic
	if env != nil {
		topic = "bench.latency.sink"
	}
	brokers, closeKafka, err := sinkBrokers(ctx, env, topic)
	if err != nil {
		return fail(err)
	}
	defer closeKafka()
	s, err := ingest.New(ctx, sinkConfig(brokers, url, topic), ingest.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return fail(err)
	}
	defer s.Close()
	rctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- s.Run(rctx) }()
	stopped := func(context.Context) error {
		select {
		case err := <-errc:
			errc <- err
			return fmt.Errorf("sink stopped: %v", err)
		default:
			return nil
		}
	}
	l, err := steadyLatency(ctx, name, url, brokers, topic, f, func(r *schema.Record) ([]byte, error) { return schema.Encode(*r) }, stopped)
	cancel()
	if rerr := <-errc; err == nil && rerr != nil {
		err = rerr
	}
	if err != nil {
		return fail(err)
	}
	return l, nil
}

func connectLatency(ctx context.Context, name string, dbs databases, env *kafkaEnv, f flags) (lat, error) {
	fail := func(err error) (lat, error) { return lat{}, fmt.Errorf("latency %s: %w", name, err) }
	url, err := dbs.fresh(ctx, "bench_lat_connect", true)
	if err != nil {
		return fail(err)
	}
	fields, err := connectFields(ctx, url)
	if err != nil {
		return fail(err)
	}
	const topic = "bench.latency.connect"
	if err := env.createTopics(ctx, sinkPartitions, topic); err != nil {
		return fail(err)
	}
	kc, err := startConnect(ctx, env, "bench-jdbc-sink-latency", topic, url, f)
	if err != nil {
		return fail(err)
	}
	defer kc.Remove()
	l, err := steadyLatency(ctx, name, url, env.brokers(), topic, f, func(r *schema.Record) ([]byte, error) {
		return testenv.ConnectRecord(fields, r.SampleRow())
	}, kc.Failed)
	if err != nil {
		return fail(err)
	}
	return l, nil
}
