package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/sink/ingest"
	"github.com/benchpipe/benchpipe/sink/topics"
)

// perftoolTopic is where the demo's MQTT runs also publish a SINETStream perftool result (--perftool-compat),
// consumed by the same sink into the perftool table.
const perftoolTopic = "perftool-sinetstream-result"

// pipeline is everything between a load generator and the database, started on this machine: kfake, the
// embedded NATS MQTT target, the sink; and the configuration file the producers and the sink share.
type pipeline struct {
	out      io.Writer
	log      *slog.Logger
	work     string
	dbURL    string // the sink's database (and the demo's pgbench target)
	cfg      config.Config
	loaded   *config.Config // cfg as the programs read it (${DEMO_DATABASE_URL} expanded)
	cfgFile  string
	mqttAddr string
	db       *pgxpool.Pool // safe for concurrent use: the fleet's job group and the fixture's handlers query it beside the runs
	stop     []func()
}

func (p *pipeline) Close() {
	for i := len(p.stop) - 1; i >= 0; i-- {
		p.stop[i]()
	}
}

// startPipeline starts kfake, the MQTT target and the sink writing to dbURL; Close stops them.
func startPipeline(ctx context.Context, out io.Writer, dbURL string) (_ *pipeline, err error) {
	p := &pipeline{out: out, dbURL: dbURL, log: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if p.work, err = os.MkdirTemp("", "benchpipe-demo-"); err != nil {
		return nil, err
	}
	p.stop = append(p.stop, func() { os.RemoveAll(p.work) })

	step(out, "starting an in-process Kafka-protocol broker (kfake)")
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, err
	}
	p.stop = append(p.stop, cluster.Close)

	step(out, "starting perftarget (embedded NATS with MQTT)")
	srv, err := target.Start(target.Options{Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1, Logger: p.log})
	if err != nil {
		return nil, err
	}
	p.stop = append(p.stop, srv.Shutdown)
	p.mqttAddr = srv.MQTTAddr()
	step(out, "MQTT on %s", p.mqttAddr)

	// One configuration file, as a deployment would have, shared by the sink and the producers. One partition per
	// topic: one machine, and every demo's records land where the previous demo's did, in a Kafka that starts
	// empty each time while the sink's stored positions stay in the database (the sink recognises that reset).
	cfg := config.Default()
	cfg.Kafka.Brokers = cluster.ListenAddrs()
	for i := range cfg.Topics {
		cfg.Topics[i].Partitions = 1
	}
	cfg.Topics = append(cfg.Topics, config.Topic{Name: perftoolTopic, Format: config.FormatSINETStream, Partitions: 1, ReplicationFactor: 1})
	cfg.Sink.DatabaseURL = "${DEMO_DATABASE_URL}"
	cfg.Sink.HTTPAddr = "127.0.0.1:0"
	// The fleet's agents heartbeat every second, so they show online (three heartbeats) soon after they start.
	cfg.Fleet.Heartbeat = time.Second
	p.cfg = cfg
	if p.cfgFile, err = p.writeConfig("spool"); err != nil {
		return nil, err
	}
	os.Setenv("DEMO_DATABASE_URL", dbURL)
	loaded, err := config.Load(p.cfgFile)
	if err != nil {
		return nil, err
	}
	p.loaded = loaded

	step(out, "sink: migrating the schema and creating topics")
	if err := ingest.Migrate(ctx, loaded, p.log); err != nil {
		return nil, err
	}
	if _, err := topics.ApplyConfig(ctx, loaded, false); err != nil {
		return nil, err
	}
	sink, err := ingest.New(ctx, loaded, ingest.WithLogger(p.log))
	if err != nil {
		return nil, err
	}
	sinkCtx, stopSink := context.WithCancel(context.Background())
	sinkDone := make(chan error, 1)
	go func() { sinkDone <- sink.Run(sinkCtx) }()
	p.stop = append(p.stop, func() {
		stopSink()
		<-sinkDone
		sink.Close()
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	httpSrv := &http.Server{Handler: sink.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = httpSrv.Serve(ln) }()
	p.stop = append(p.stop, func() { httpSrv.Close() })
	step(out, "sink consuming; metrics on http://%s/metrics", ln.Addr())

	if p.db, err = pgxpool.New(ctx, dbURL); err != nil {
		return nil, err
	}
	p.stop = append(p.stop, p.db.Close)
	return p, nil
}

// writeConfig writes the demo's configuration with the spool in work/spoolName and returns its path. Producers
// that run at the same time need a spool each (a spool is one producer's, locked while it runs).
func (p *pipeline) writeConfig(spoolName string) (string, error) {
	return p.writeConfigWith(spoolName, nil)
}

// writeConfigWith is writeConfig with edit applied to the configuration first (an agent's device and tags).
func (p *pipeline) writeConfigWith(spoolName string, edit func(*config.Config)) (string, error) {
	cfg := p.cfg
	cfg.Producer.SpoolDir = filepath.Join(p.work, spoolName)
	if edit != nil {
		edit(&cfg)
	}
	file := filepath.Join(p.work, spoolName+".yaml")
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return file, os.WriteFile(file, raw, 0o600)
}

// mqtt runs producer mqtt against the demo's target with args added, and returns the run's id. A run that
// fails is returned with its id too (and an error), since a failed run is a run the viewer shows.
func (p *pipeline) mqtt(ctx context.Context, stdout io.Writer, args ...string) (uuid.UUID, error) {
	return p.mqttWith(ctx, p.cfgFile, stdout, args...)
}

// mqttWith is mqtt with another configuration file (another spool).
func (p *pipeline) mqttWith(ctx context.Context, cfgFile string, stdout io.Writer, args ...string) (uuid.UUID, error) {
	summary := filepath.Join(p.work, uuid.NewString()+".json")
	all := append([]string{"--config", cfgFile, "--broker", "tcp://" + p.mqttAddr, "--summary-json", summary}, args...)
	step(p.out, "producer mqtt %s", strings.Join(all[2:], " "))
	code := mqttload.Run(ctx, all, stdout, os.Stderr)
	id, err := runID(summary)
	if err == nil && code != 0 {
		err = fmt.Errorf("producer mqtt exited with status %d", code)
	}
	return id, err
}

// findPgbench returns the pgbench binary: on PATH, else beside the PostgreSQL server binaries.
func findPgbench() (string, error) {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	if dir, err := testenv.BinDir(); err == nil {
		if p := filepath.Join(dir, "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	return "", errors.New("pgbench not found (apt-get install -y postgresql-contrib)")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// pgbench runs producer pgbench (the real pgbench) against the demo's database, in its own pgbench_* tables.
func (p *pipeline) pgbench(ctx context.Context, stdout io.Writer, args ...string) (uuid.UUID, error) {
	summary := filepath.Join(p.work, uuid.NewString()+".json")
	bin, err := findPgbench()
	if err != nil {
		return uuid.Nil, err
	}
	all := append([]string{"--config", p.cfgFile, "--pgbench", bin, "--summary-json", summary}, args...)
	all = append(all, p.dbURL)
	step(p.out, "producer pgbench %s", strings.Join(all[4:len(all)-1], " ")+" <demo database>")
	code := pgbench.Run(ctx, all, stdout, os.Stderr)
	id, err := runID(summary)
	if err == nil && code != 0 {
		err = fmt.Errorf("producer pgbench exited with status %d", code)
	}
	return id, err
}

func runID(summaryFile string) (uuid.UUID, error) {
	var summary struct {
		RunID uuid.UUID `json:"run_id"`
	}
	b, err := os.ReadFile(summaryFile)
	if err != nil {
		return uuid.Nil, fmt.Errorf("the run wrote no summary: %w", err)
	}
	if err := json.Unmarshal(b, &summary); err != nil {
		return uuid.Nil, err
	}
	return summary.RunID, nil
}

// waitFinished waits until the sink has written run id with its final status.
func (p *pipeline) waitFinished(ctx context.Context, id uuid.UUID) error {
	step(p.out, "waiting for the sink to write run %s", id)
	var status string
	return p.until(ctx, fmt.Sprintf("run %s finished in the database", id), func() (bool, error) {
		err := p.db.QueryRow(ctx, "SELECT status FROM public.runs WHERE run_id = $1", id).Scan(&status)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		}
		return err == nil && status != "running", err
	})
}

// waitPerftool waits until the perftool result of MQTT run id (--perftool-compat) is in the database and returns
// its publisher: the run's host name, since a perftool result is named after the client that measured, published
// after the run started.
func (p *pipeline) waitPerftool(ctx context.Context, id uuid.UUID) (string, error) {
	var publisher string
	err := p.until(ctx, fmt.Sprintf("the perftool result of run %s in the database", id), func() (bool, error) {
		var found bool
		err := p.db.QueryRow(ctx, `SELECT r.host_name, EXISTS (SELECT FROM public.perftool t
				WHERE t.publisher = r.host_name AND t.published_at >= r.started_at)
			FROM public.runs r WHERE r.run_id = $1`, id).Scan(&publisher, &found)
		return found, err
	})
	return publisher, err
}

// until polls done for up to 60 s.
func (p *pipeline) until(ctx context.Context, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after 60 s", what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}
