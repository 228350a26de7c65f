// Command demo runs the whole benchpipe pipeline on one machine without Docker, as `make demo`:
//
//	producer mqtt ──MQTT──▶ perftarget (embedded NATS)
//	      │ run records (spool → Kafka protocol)
//	      ▼
//	kfake (in-process Kafka) ──▶ sink ──binary COPY──▶ PostgreSQL (throw-away, or $DATABASE_URL)
//
// It runs a short MQTT benchmark, waits until the sink has written the finished run, prints the run read back from
// the database, and removes everything it started.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
	"github.com/benchpipe/benchpipe/sink/topics"
)

func main() {
	duration := flag.Duration("duration", 15*time.Second, "length of the MQTT run (after a 3 s warm-up)")
	rate := flag.Int("rate", 2000, "messages per second over all publishers")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage: go run ./internal/demo [--duration 15s] [--rate 2000]\n\n"+
			"Runs the whole pipeline on this machine: an embedded NATS MQTT target, an in-process Kafka-protocol broker\n"+
			"(kfake), the sink writing to PostgreSQL (a throw-away cluster, or $DATABASE_URL if set), and a producer MQTT\n"+
			"run; then prints the run as stored in the database. Needs the PostgreSQL server binaries (apt-get install\n"+
			"postgresql) unless DATABASE_URL is set.\n\nFlags:\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, *duration, *rate, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func step(out io.Writer, format string, args ...any) {
	fmt.Fprintf(out, "==> "+format+"\n", args...)
}

func run(ctx context.Context, duration time.Duration, rate int, out io.Writer) error {
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	work, err := os.MkdirTemp("", "benchpipe-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)

	dbURL := os.Getenv("DATABASE_URL")
	if dbURL == "" {
		step(out, "starting a throw-away PostgreSQL")
		pg, err := testenv.StartPostgres()
		if err != nil {
			return fmt.Errorf("%w\n(or set DATABASE_URL to an existing database)", err)
		}
		defer pg.Remove()
		dbURL = pg.URL("postgres")
		step(out, "PostgreSQL on 127.0.0.1:%d", pg.Port)
	} else {
		step(out, "using DATABASE_URL %s", schema.RedactURL(dbURL))
	}

	step(out, "starting an in-process Kafka-protocol broker (kfake)")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return err
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	step(out, "starting perftarget (embedded NATS with MQTT)")
	srv, err := target.Start(target.Options{Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1, Logger: log})
	if err != nil {
		return err
	}
	defer srv.Shutdown()
	step(out, "MQTT on %s", srv.MQTTAddr())

	// One configuration file, as a deployment would have, shared by the sink and the producer.
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Sink.DatabaseURL = "${DEMO_DATABASE_URL}"
	cfg.Sink.HTTPAddr = "127.0.0.1:0"
	cfg.Producer.SpoolDir = filepath.Join(work, "spool")
	cfgFile := filepath.Join(work, "benchpipe.yaml")
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.WriteFile(cfgFile, raw, 0o600); err != nil {
		return err
	}
	os.Setenv("DEMO_DATABASE_URL", dbURL)
	loaded, err := config.Load(cfgFile)
	if err != nil {
		return err
	}

	step(out, "sink: migrating the schema and creating topics")
	if err := ingest.Migrate(ctx, loaded, log); err != nil {
		return err
	}
	if err := createTopics(ctx, loaded); err != nil {
		return err
	}
	sink, err := ingest.New(ctx, loaded, ingest.WithLogger(log))
	if err != nil {
		return err
	}
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sink.Run(sinkCtx) }()
	defer func() {
		stopSink()
		<-sinkDone
		sink.Close()
	}()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: sink.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	defer httpSrv.Close()
	step(out, "sink consuming; metrics on http://%s/metrics", ln.Addr())

	summaryFile := filepath.Join(work, "summary.json")
	args := []string{"--config", cfgFile, "--broker", "tcp://" + srv.MQTTAddr(),
		"--publishers", "4", "--subscribers", "4", "--qos", "1", "--size", "256",
		"--rate", fmt.Sprint(rate), "--warmup", "3s", "--duration", duration.String(),
		"--name", "make demo", "--tag", "source=demo", "--summary-json", summaryFile}
	step(out, "producer mqtt %s", strings.Join(args[2:], " "))
	if code := mqttload.Run(ctx, args, out, os.Stderr); code != 0 {
		return fmt.Errorf("producer mqtt exited with status %d", code)
	}
	var summary struct {
		RunID uuid.UUID `json:"run_id"`
	}
	b, err := os.ReadFile(summaryFile)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &summary); err != nil {
		return err
	}

	step(out, "waiting for the sink to write run %s", summary.RunID)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for {
		var status string
		err := conn.QueryRow(ctx, "SELECT status FROM public.runs WHERE run_id = $1", summary.RunID).Scan(&status)
		if err == nil && status != "running" {
			break
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("run %s not finished in the database after 60 s (status %q)", summary.RunID, status)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return printRun(ctx, conn, summary.RunID, out)
}

// printRun prints the run as the database holds it: the runs row and its samples per phase.
func printRun(ctx context.Context, conn *pgx.Conn, id uuid.UUID, out io.Writer) error {
	var kind, name, status, host string
	var started, finished time.Time
	var ops, mqttSent, mqttRecv, lost, dup, ooo *int64
	var rate, p50, p90, p99, p999, maxMs, up99 *float64
	err := conn.QueryRow(ctx, `SELECT kind, coalesce(name, ''), status, coalesce(host_name, ''), started_at, finished_at,
			ops, ops_rate, lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_p999_ms, lat_max_ms, mqtt_uncorrected_p99_ms,
			mqtt_sent, mqtt_received, mqtt_lost, mqtt_duplicated, mqtt_out_of_order
		FROM public.runs WHERE run_id = $1`, id).Scan(&kind, &name, &status, &host, &started, &finished,
		&ops, &rate, &p50, &p90, &p99, &p999, &maxMs, &up99, &mqttSent, &mqttRecv, &lost, &dup, &ooo)
	if err != nil {
		return fmt.Errorf("read run back: %w", err)
	}
	rows, err := conn.Query(ctx, "SELECT phase, count(*), sum(ops) FROM public.samples WHERE run_id = $1 GROUP BY phase ORDER BY phase DESC", id)
	if err != nil {
		return err
	}
	var phases []string
	for rows.Next() {
		var phase string
		var n, sum int64
		if err := rows.Scan(&phase, &n, &sum); err != nil {
			return err
		}
		phases = append(phases, fmt.Sprintf("%s: %d samples, %d messages", phase, n, sum))
	}
	if err := rows.Err(); err != nil {
		return err
	}
	f := func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.3f", *p)
	}
	i := func(p *int64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprint(*p)
	}
	fmt.Fprintf(out, "\nRun %s as stored in PostgreSQL (runs and samples tables):\n\n", id)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, kv := range [][2]string{
		{"kind / name", kind + " / " + name}, {"status", status}, {"host", host},
		{"started / finished", started.Format(time.RFC3339) + " / " + finished.Format(time.RFC3339)},
		{"samples", strings.Join(phases, "; ")},
		{"messages received (measure)", i(ops)}, {"throughput msg/s", f(rate)},
		{"latency p50 / p90 / p99 / p99.9 / max ms", strings.Join([]string{f(p50), f(p90), f(p99), f(p999), f(maxMs)}, " / ")},
		{"uncorrected p99 ms", f(up99)},
		{"sent / received / lost / duplicated / out of order", strings.Join([]string{i(mqttSent), i(mqttRecv), i(lost), i(dup), i(ooo)}, " / ")},
	} {
		fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
	}
	return tw.Flush()
}

func createTopics(ctx context.Context, cfg *config.Config) error {
	opts, err := kafkaopt.Options(cfg.Kafka)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	_, err = topics.Apply(ctx, kadm.NewClient(cl), topics.Wanted(cfg), false)
	return err
}
