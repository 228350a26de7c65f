// Command bench measures what latency histograms in the record contract cost (`make bench-hist`), each figure
// next to a baseline measured in the same run, ratios in the last line:
//
//  1. bytes per sample row — a real MQTT generator run (producer/mqttload against the embedded perftarget broker,
//     the one `producer mqtt --embedded-target` starts) at -rate msg/s, one-second samples; the average V2
//     compressed bytes of each sample's corrected and uncorrected histograms (what samples.lat_hdr and
//     samples.mqtt_uncorrected_hdr store), against the sample record without them.
//  2. sink rows/s — the real sink (sink/ingest) consuming a run of -hours × 3600 one-second samples from kfake
//     into plain PostgreSQL, with histograms (the generator's recorded ones, cycled) and without (the same records
//     with the histograms removed); with them it also decodes each histogram and merges it into samples_hist_1m.
//     Alternated -rounds times; the best of each counts (this machine is shared). Each phase also reports its CPU
//     time per row, the sink's (this process) and PostgreSQL's, and the ratios are given by that too: the figure
//     other people's load on a shared machine moves least. Before them, schema.Decode alone over the same records
//     on one goroutine (CPU per row): the share of the sink's decoding, apart from Kafka and the database.
//  3. query time — p50/p99/p99.9 of that whole run from the merged histograms (run_latency_percentiles), against
//     the baseline the database could give before: the worst per-second percentiles over the run's samples rows;
//     and the run's samples_1m (per-minute rows with true percentiles, what long ranges read) against the plain
//     aggregate over samples.
//
// Usage:
//
//	go run ./schema/bench [-rate 1000] [-duration 20s] [-hours 24] [-rounds 2]
//
// PostgreSQL: a throw-away cluster (internal/testenv), or the server at BENCHPIPE_TEST_DATABASE_URL.
package main

import (
	"context"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

type flags struct {
	rate     float64
	duration time.Duration
	hours    int
	rounds   int
	queries  int
	profile  string
	fleet    int
}

func main() {
	var f flags
	flag.Float64Var(&f.rate, "rate", 1000, "MQTT messages per second of the generator run")
	flag.DurationVar(&f.duration, "duration", 20*time.Second, "measured length of the generator run (one sample per second)")
	flag.IntVar(&f.hours, "hours", 24, "length of the run the sink writes and the queries read, at one sample per second")
	flag.IntVar(&f.rounds, "rounds", 2, "sink phases with and without histograms, alternated")
	flag.IntVar(&f.queries, "queries", 10, "timed repetitions of each query (after one warm-up)")
	flag.IntVar(&f.fleet, "fleet", 500, "also measure the sink with the same samples spread over this many concurrent runs (0: skip)")
	flag.StringVar(&f.profile, "cpuprofile", "", "write a CPU profile of the last sink phase with histograms to this file")
	flag.Parse()
	if err := run(context.Background(), f); err != nil {
		fmt.Fprintln(os.Stderr, "bench-hist:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, f flags) error {
	// 1. A real generator run.
	samples, err := generate(ctx, f)
	if err != nil {
		return fmt.Errorf("generator run: %w", err)
	}
	var corrected, uncorrected, with, without, oneDigit float64
	for _, s := range samples {
		corrected += float64(rawLen(s.Latency.HDR))
		uncorrected += float64(rawLen(s.MQTT.UncorrectedHDR))
		n, err := oneDigitLen(s.Latency.HDR)
		if err != nil {
			return err
		}
		oneDigit += float64(n)
		w, _ := schema.Encode(sampleRecord(uuid.New(), 1, s))
		wo, _ := schema.Encode(sampleRecord(uuid.New(), 1, stripped(s)))
		with += float64(len(w))
		without += float64(len(wo))
	}
	n := float64(len(samples))
	corrected, uncorrected, with, without, oneDigit = corrected/n, uncorrected/n, with/n, without/n, oneDigit/n
	var msgs int64
	for _, s := range samples {
		msgs += s.Ops
	}
	fmt.Printf("\n1. bytes per sample row: %d one-second MQTT samples, %.0f messages each on average (generator → embedded broker, 1 publisher, 1 subscriber, QoS 0)\n",
		len(samples), float64(msgs)/n)
	fmt.Printf("   %-46s %8.0f B\n", "histogram, corrected (samples.lat_hdr)", corrected)
	fmt.Printf("   %-46s %8.0f B\n", "histogram, uncorrected (mqtt_uncorrected_hdr)", uncorrected)
	fmt.Printf("   %-46s %8.0f B\n", "histograms per row, both", corrected+uncorrected)
	fmt.Printf("   %-46s %8.0f B   (1 significant digit, for comparison)\n", "histogram, corrected, at 1 digit", oneDigit)
	fmt.Printf("   %-46s %8.0f B   baseline: %.0f B without histograms\n", "sample record on Kafka (JSON, base64 inside)", with, without)

	// PostgreSQL.
	admin := os.Getenv(testenv.EnvDatabaseURL)
	if admin == "" {
		pg, err := testenv.StartPostgres()
		if err != nil {
			return err
		}
		defer pg.Remove()
		admin = pg.URL("postgres")
		serverPID = postmasterPID(pg.Dir)
		fmt.Printf("\nPostgreSQL: throw-away cluster on port %d (fsync off), the same server for every phase\n", pg.Port)
	}

	// 2. The sink, with and without histograms.
	rows := f.hours * 3600
	start := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour)
	histRun, plainRun := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	withVals, withoutVals := make([][]byte, rows), make([][]byte, rows)
	for i := range rows {
		s := samples[i%len(samples)]
		s.Start = start.Add(time.Duration(i) * time.Second)
		s.End = s.Start.Add(time.Second)
		s.Phase = schema.PhaseMeasure
		if withVals[i], err = schema.Encode(sampleRecord(histRun, int64(i+1), s)); err != nil {
			return err
		}
		if withoutVals[i], err = schema.Encode(sampleRecord(plainRun, int64(i+1), stripped(s))); err != nil {
			return err
		}
	}
	fmt.Printf("\n2. sink: %d one-second samples (a %d-hour run) from kfake into plain PostgreSQL, best of %d alternated rounds\n", rows, f.hours, f.rounds)
	// The sink's own part alone, without Kafka or the database: what decoding and validating a record costs it.
	decWithout, err := decodeCPU(withoutVals)
	if err != nil {
		return err
	}
	decWith, err := decodeCPU(withVals)
	if err != nil {
		return err
	}
	fmt.Printf("   schema.Decode alone, one goroutine: %.1f µs CPU/row without histograms, %.1f µs with (both inflated, validated and parsed into buckets)\n",
		float64(decWithout)/1e3, float64(decWith)/1e3)
	var bestWith, bestWithout float64
	cpuWith, cpuWithout := phaseCPU{client: -1}, phaseCPU{client: -1}
	var histURL string
	for r := 1; r <= f.rounds; r++ {
		for _, ph := range []struct {
			name string
			run  uuid.UUID
			vals [][]byte
			best *float64
			cpu  *phaseCPU
		}{{"without histograms", plainRun, withoutVals, &bestWithout, &cpuWithout}, {"with histograms", histRun, withVals, &bestWith, &cpuWith}} {
			db := fmt.Sprintf("bench_hist_%s_%d", ph.name[:4], r)
			url, err := fresh(ctx, admin, db)
			if err != nil {
				return err
			}
			profile := ""
			if ph.best == &bestWith && r == f.rounds {
				profile = f.profile
			}
			rate, cpu, err := sinkRate(ctx, url, ph.vals, func(int) uuid.UUID { return ph.run }, profile)
			if err != nil {
				return fmt.Errorf("sink %s: %w", ph.name, err)
			}
			fmt.Printf("   round %d  %-20s %10.0f rows/s   %v\n", r, ph.name, rate, cpu)
			*ph.best = max(*ph.best, rate)
			if ph.cpu.client < 0 || cpu.total() < ph.cpu.total() {
				*ph.cpu = cpu
			}
			if ph.best == &bestWith {
				histURL = url
			}
		}
	}

	// 2b. The same number of samples from a fleet: f.fleet runs at once, one sample per second each, so that every
	// batch touches a minute and an hour row per run instead of a few rows of one run.
	var fleetWith, fleetWithout float64
	var fleetCPUWith, fleetCPUWithout phaseCPU
	if f.fleet > 0 {
		ids := make([]uuid.UUID, f.fleet)
		for i := range ids {
			ids[i] = uuid.Must(uuid.NewV7())
		}
		fleetVals, fleetPlain := make([][]byte, rows), make([][]byte, rows)
		for i := range rows {
			s := samples[i%len(samples)]
			s.Start = start.Add(time.Duration(i/f.fleet) * time.Second)
			s.End = s.Start.Add(time.Second)
			s.Phase = schema.PhaseMeasure
			if fleetVals[i], err = schema.Encode(sampleRecord(ids[i%f.fleet], int64(i/f.fleet+1), s)); err != nil {
				return err
			}
			if fleetPlain[i], err = schema.Encode(sampleRecord(ids[i%f.fleet], int64(i/f.fleet+1), stripped(s))); err != nil {
				return err
			}
		}
		key := func(i int) uuid.UUID { return ids[i%f.fleet] }
		fmt.Printf("   the same %d samples from a fleet of %d runs at once (%d s each):\n", rows, f.fleet, rows/f.fleet)
		for _, ph := range []struct {
			name string
			vals [][]byte
			rate *float64
			cpu  *phaseCPU
		}{{"without histograms", fleetPlain, &fleetWithout, &fleetCPUWithout}, {"with histograms", fleetVals, &fleetWith, &fleetCPUWith}} {
			url, err := fresh(ctx, admin, "bench_hist_fleet_"+ph.name[:4])
			if err != nil {
				return err
			}
			if *ph.rate, *ph.cpu, err = sinkRate(ctx, url, ph.vals, key, ""); err != nil {
				return fmt.Errorf("sink fleet %s: %w", ph.name, err)
			}
			fmt.Printf("   fleet    %-20s %10.0f rows/s   %v\n", ph.name, *ph.rate, *ph.cpu)
		}
	}

	// 3. Queries over the whole run.
	conn, err := pgx.Connect(ctx, histURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return err
	}
	var minutes, merged int64
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(samples) FROM samples_hist_1m WHERE run_id = $1", histRun).Scan(&minutes, &merged); err != nil {
		return err
	}
	fmt.Printf("\n3. queries over the %d-hour run: %d sample rows, %d samples_hist_1m rows holding %d merged samples; median of %d\n",
		f.hours, rows, minutes, merged, f.queries)
	var p50, p99, p999 float64
	merge, err := timeQuery(ctx, conn, f.queries, func() error {
		return conn.QueryRow(ctx, "SELECT p50_ms, p99_ms, p999_ms FROM run_latency_percentiles($1) WHERE series = 'latency'", histRun).Scan(&p50, &p99, &p999)
	})
	if err != nil {
		return err
	}
	var w50, w99, w999 float64
	worst, err := timeQuery(ctx, conn, f.queries, func() error {
		return conn.QueryRow(ctx, "SELECT max(lat_p50_ms), max(lat_p99_ms), max(lat_p999_ms) FROM samples WHERE run_id = $1 AND phase = 'measure'", histRun).Scan(&w50, &w99, &w999)
	})
	if err != nil {
		return err
	}
	fmt.Printf("   %-58s %8.1f ms   p50/p99/p99.9 = %.3f/%.3f/%.3f ms\n", "run_latency_percentiles (merged histograms)", ms(merge), p50, p99, p999)
	fmt.Printf("   %-58s %8.1f ms   p50/p99/p99.9 = %.3f/%.3f/%.3f ms (worst seconds)\n", "baseline: max of per-second percentiles over samples", ms(worst), w50, w99, w999)
	var nRows int
	read1m, err := timeQuery(ctx, conn, f.queries, func() error {
		return countRows(ctx, conn, &nRows, "SELECT * FROM samples_1m WHERE run_id = $1", histRun)
	})
	if err != nil {
		return err
	}
	var nBase int
	readBase, err := timeQuery(ctx, conn, f.queries, func() error {
		return countRows(ctx, conn, &nBase, "SELECT * FROM samples_1m_base WHERE run_id = $1", histRun)
	})
	if err != nil {
		return err
	}
	fmt.Printf("   %-58s %8.1f ms   %d rows\n", "samples_1m of the run (per-minute true percentiles)", ms(read1m), nRows)
	fmt.Printf("   %-58s %8.1f ms   %d rows\n", "baseline: the per-minute aggregate alone (samples_1m_base)", ms(readBase), nBase)

	fleetRatio, fleetCPURatio := "n/a", "n/a"
	if fleetWithout > 0 {
		fleetRatio = fmt.Sprintf("%.2f×", fleetWith/fleetWithout)
		fleetCPURatio = fmt.Sprintf("%.2f×", fleetCPUWithout.total().Seconds()/fleetCPUWith.total().Seconds())
	}
	fmt.Printf("\nratios: histogram bytes per row %.0f B corrected, %.0f B both (aim ≤ 200) | sink with/without histograms %.2f× one run, %s a fleet (aim ≥ 0.8×); "+
		"by CPU time per row (sink+kfake + PostgreSQL) %.2f× one run, %s a fleet | ",
		corrected, corrected+uncorrected, bestWith/bestWithout, fleetRatio, cpuWithout.total().Seconds()/cpuWith.total().Seconds(), fleetCPURatio)
	fmt.Printf("run percentiles %.0f ms (aim < 200 ms), %.2f× the worst-second baseline | samples_1m %.2f× its aggregate alone\n", ms(merge), ms(merge)/ms(worst), ms(read1m)/ms(readBase))
	return nil
}

// oneDigitLen returns the V2 compressed size of the same latencies at 1 significant digit. It is exact: every
// 2-digit bucket lies inside one 1-digit bucket (both are power-of-two aligned), so re-recording each 2-digit
// bucket's lowest value gives the 1-digit histogram of the raw latencies.
func oneDigitLen(hdr string) (int, error) {
	h, err := hdrhistogram.Decode([]byte(hdr))
	if err != nil {
		return 0, err
	}
	one := hdrhistogram.New(schema.HistLowestMicros, schema.HistHighestMicros, 1)
	for _, b := range h.Distribution() {
		if b.Count > 0 {
			if err := one.RecordValues(b.From, b.Count); err != nil {
				return 0, err
			}
		}
	}
	enc, err := one.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return 0, err
	}
	return rawLen(string(enc)), nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func rawLen(s string) int {
	if s == "" {
		return 0
	}
	return base64.StdEncoding.DecodedLen(len(s)) - strings.Count(s[len(s)-2:], "=")
}

// generate runs the MQTT generator against the embedded broker and returns its measured one-second samples.
func generate(ctx context.Context, f flags) ([]schema.Sample, error) {
	srv, err := target.Start(target.Options{ServerName: "bench-hist", Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1})
	if err != nil {
		return nil, err
	}
	defer srv.Shutdown()
	fmt.Printf("generator: %.0f msg/s for %v (+2 s warm-up) against the embedded broker at %s…\n", f.rate, f.duration, "tcp://"+srv.MQTTAddr())
	var out []schema.Sample
	res, err := mqttload.Measure(ctx, mqttload.Config{Broker: "tcp://" + srv.MQTTAddr(), Publishers: 1, Subscribers: 1, Rate: f.rate,
		Duration: f.duration, Warmup: 2 * time.Second, Interval: time.Second}, func(iv mqttload.Interval) {
		// Whole one-second measured samples with deliveries: the drain's tail is not a second at f.rate.
		if iv.Phase == schema.PhaseMeasure && !iv.Draining && iv.Latency != nil && iv.End.Sub(iv.Start) >= 990*time.Millisecond {
			out = append(out, iv.Sample)
		}
	})
	if err != nil {
		return nil, err
	}
	if res.Status != schema.StatusOK {
		return nil, fmt.Errorf("generator run %s: %v", res.Status, res.Err)
	}
	if len(out) == 0 {
		return nil, errors.New("the generator run gave no measured one-second sample")
	}
	return out, nil
}

func sampleRecord(run uuid.UUID, seq int64, s schema.Sample) schema.Record {
	return schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: run, Seq: seq, Time: s.End, Sample: &s}
}

// stripped returns s without its histograms: the same record as a producer without them sends it.
func stripped(s schema.Sample) schema.Sample {
	if s.Latency != nil {
		l := *s.Latency
		l.HDR = ""
		s.Latency = &l
	}
	if s.MQTT != nil {
		m := *s.MQTT
		m.UncorrectedHDR = ""
		s.MQTT = &m
	}
	return s
}

// fresh creates database name, migrated, and returns its URL.
func fresh(ctx context.Context, admin, name string) (string, error) {
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
	if _, err := schema.Migrate(ctx, c); err != nil {
		return "", err
	}
	return url, nil
}

// serverPID is the postmaster of the throw-away cluster, for its CPU time (0: a server elsewhere).
var serverPID int

// phaseCPU is the CPU time per record of a sink phase: the bench process's (the sink, and kfake serving it the
// records) and the server's (-1: n/a).
type phaseCPU struct{ client, server time.Duration }

// total is the CPU time per record of sink and server together (the sink's alone when the server's is n/a).
func (c phaseCPU) total() time.Duration { return c.client + max(c.server, 0) }

func (c phaseCPU) String() string {
	s := fmt.Sprintf("CPU/row: sink+kfake %5.1f µs", float64(c.client)/1e3)
	if c.server >= 0 {
		s += fmt.Sprintf(", PostgreSQL %5.1f µs", float64(c.server)/1e3)
	}
	return s
}

// sinkRate produces vals to a kfake cluster of their own, runs the sink until every record is committed, and
// returns records per second from the first commit to the last, and the CPU time per record from the sink's
// start to the last commit (the sink's own: this process less the producing done before).
func sinkRate(ctx context.Context, url string, vals [][]byte, key func(i int) uuid.UUID, profile string) (float64, phaseCPU, error) {
	rate, cpu, err := sinkRun(ctx, url, vals, key, profile)
	if cpu.server >= 0 {
		cpu.server /= time.Duration(len(vals))
	}
	cpu.client /= time.Duration(len(vals))
	return rate, cpu, err
}

func sinkRun(ctx context.Context, url string, vals [][]byte, key func(i int) uuid.UUID, profile string) (float64, phaseCPU, error) {
	const topic = "benchpipe.records"
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, topic), kfake.SeedTopics(1, topic+".dead-letter"))
	if err != nil {
		return 0, phaseCPU{}, err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(topic), kgo.ProducerBatchMaxBytes(1<<20))
	if err != nil {
		return 0, phaseCPU{}, err
	}
	for i := 0; i < len(vals); i += 10000 {
		var krs []*kgo.Record
		for j := i; j < min(i+10000, len(vals)); j++ {
			krs = append(krs, &kgo.Record{Key: []byte(key(j).String()), Value: vals[j]})
		}
		if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
			cl.Close()
			return 0, phaseCPU{}, err
		}
	}
	cl.Close()

	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Topics[0].Name = topic
	cfg.Sink.DatabaseURL = url
	cfg.Sink.Group = "bench-hist"
	cfg.Sink.DeadLetterTopic = topic + ".dead-letter"
	cfg.Sink.HTTPAddr = ""
	var done, commits atomic.Int64
	var first, firstN, last atomic.Int64
	finished := make(chan struct{})
	target := int64(len(vals))
	s, err := ingest.New(ctx, &cfg, ingest.WithLogger(slog.New(slog.DiscardHandler)), ingest.WithCommitHook(func(ci ingest.CommitInfo) {
		if ci.DeadLetters > 0 {
			fmt.Fprintf(os.Stderr, "bench-hist: %d records dead-lettered\n", ci.DeadLetters)
		}
		commits.Add(1)
		n := done.Add(int64(len(ci.Records)))
		if n == int64(len(ci.Records)) {
			first.Store(ci.CommittedAt.UnixNano())
			firstN.Store(n)
		}
		if n == target {
			last.Store(ci.CommittedAt.UnixNano())
			close(finished)
		}
	}))
	if err != nil {
		return 0, phaseCPU{}, err
	}
	defer s.Close()
	if profile != "" {
		pf, err := os.Create(profile)
		if err != nil {
			return 0, phaseCPU{}, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return 0, phaseCPU{}, err
		}
		defer pprof.StopCPUProfile()
	}
	client0, server0 := ownCPU(), serverCPU(serverPID)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- s.Run(rctx) }()
	select {
	case <-finished:
	case err := <-errc:
		return 0, phaseCPU{}, fmt.Errorf("sink stopped: %v", err)
	case <-time.After(10 * time.Minute):
		return 0, phaseCPU{}, fmt.Errorf("%d of %d records after 10 minutes", done.Load(), target)
	}
	cpu := phaseCPU{client: ownCPU() - client0, server: -1}
	if server0 >= 0 {
		cpu.server = serverCPU(serverPID) - server0
	}
	cancel()
	if err := <-errc; err != nil {
		return 0, phaseCPU{}, err
	}
	fmt.Printf("   (%d commits, %.0f records each)\n", commits.Load(), float64(target)/float64(commits.Load()))
	d := time.Duration(last.Load() - first.Load())
	if d <= 0 {
		return 0, phaseCPU{}, fmt.Errorf("all %d records came in one commit: too few to time", target)
	}
	return float64(target-firstN.Load()) / d.Seconds(), cpu, nil
}

// decodeCPU returns the CPU time per record of schema.Decode over (at most 20,000 of) vals, the best of three
// passes: the figure bench-hist's sink phases spend on decoding, measured apart from Kafka and PostgreSQL.
func decodeCPU(vals [][]byte) (time.Duration, error) {
	vals = vals[:min(len(vals), 20000)]
	best := time.Duration(math.MaxInt64)
	for range 3 {
		start := ownCPU()
		for _, v := range vals {
			if _, err := schema.Decode(v); err != nil {
				return 0, fmt.Errorf("decode: %w", err)
			}
		}
		best = min(best, (ownCPU()-start)/time.Duration(len(vals)))
	}
	return best, nil
}

// timeQuery runs q once to warm up, then n times, and returns the median time.
func timeQuery(ctx context.Context, conn *pgx.Conn, n int, q func() error) (time.Duration, error) {
	if err := q(); err != nil {
		return 0, err
	}
	ds := make([]time.Duration, n)
	for i := range ds {
		t := time.Now()
		if err := q(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(t)
	}
	slices.Sort(ds)
	return ds[n/2], nil
}

func countRows(ctx context.Context, conn *pgx.Conn, n *int, sql string, args ...any) error {
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	*n = 0
	for rows.Next() {
		*n++
	}
	return rows.Err()
}
