// Package recorder is what every load command (producer mqtt, producer pgbench) does with a run's records: the
// tags from the configuration and the command line, the numbered record stream (runrec), handing each record to
// the durable spool without ever stopping the measurement, waiting a while for Kafka at the end, and the optional
// comparison with an earlier run. The commands measure; this package keeps the books the same way for both.
package recorder

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/runrec"
	"github.com/benchpipe/benchpipe/schema"
)

// CloseTimeout bounds how long Close waits for the spool to reach Kafka; what is left is shipped by the next
// start or by `producer spool flush`.
const CloseTimeout = 10 * time.Second

// Recorder keeps one run's records. Create it with Open, start the run with Begin, finish with Close.
type Recorder struct {
	command        string // "producer mqtt", for messages
	cfg            *config.Config
	pub            *publish.Publisher
	run            *runrec.Run
	stdout, stderr io.Writer
	errs           int
	closed         bool
}

// Open opens the spool (and starts shipping it) for command.
func Open(ctx context.Context, cfg *config.Config, command string, stdout, stderr io.Writer) (*Recorder, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	pub, err := publish.Open(ctx, cfg, publish.WithLogger(logger))
	if err != nil {
		return nil, fmt.Errorf("run records: %w", err)
	}
	return &Recorder{command: command, cfg: cfg, pub: pub, stdout: stdout, stderr: stderr}, nil
}

// Tags merges producer.tags, producer.device (as the "device" tag) and the command line's --tag values, the last
// winning. Nil when there are none.
func (r *Recorder) Tags(flagTags map[string]string) map[string]string {
	t := map[string]string{}
	for k, v := range r.cfg.Producer.Tags {
		t[k] = v
	}
	if r.cfg.Producer.Device != "" {
		t["device"] = r.cfg.Producer.Device
	}
	for k, v := range flagTags {
		t[k] = v
	}
	if len(t) == 0 {
		return nil
	}
	return t
}

// Begin starts the run's record stream with its run_started record.
func (r *Recorder) Begin(kind string, s schema.Started) {
	r.run = runrec.New(kind, s)
	r.Publish(r.run.Started())
}

// Run is the run Begin started.
func (r *Recorder) Run() *runrec.Run { return r.run }

// Publish hands a record to the spool. A record that can't be spooled is reported and the run goes on: the
// measurement is still worth its printed summary and --summary-json.
func (r *Recorder) Publish(rec schema.Record) {
	if err := r.pub.Publish(rec); err != nil {
		r.errs++
		if r.errs <= 3 {
			fmt.Fprintf(r.stderr, "%s: record not saved: %v\n", r.command, err)
		}
	}
}

// PublishRaw spools a value that is not a benchpipe record (e.g. a SINETStream perftool result) for topic, keyed
// by the run id.
func (r *Recorder) PublishRaw(topic string, value []byte) error {
	now := time.Now()
	return r.pub.PublishRaw(topic, []byte(r.run.ID().String()), value, now)
}

// Close waits up to CloseTimeout for the spool to reach Kafka and says where the records are. Safe to call twice.
func (r *Recorder) Close() {
	if r.closed {
		return
	}
	r.closed = true
	if !r.pub.Enabled() {
		if r.run != nil {
			fmt.Fprintf(r.stdout, "records: not sent (kafka.brokers is not configured)\n")
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), CloseTimeout)
	defer cancel()
	if err := r.pub.Close(ctx); err != nil {
		fmt.Fprintf(r.stderr, "%s: %v\n", r.command, err)
		return
	}
	fmt.Fprintf(r.stdout, "records: delivered to Kafka topic %s\n", r.cfg.Producer.Topic)
}

// Compare implements --compare-with: it closes the records (the comparison reads the run back over GraphQL, so
// they must reach Kafka first), waits until the run is visible as finished, compares it with baseline ("last" or
// a run id) and returns the comparison's exit status.
func (r *Recorder) Compare(ctx context.Context, baseline string, maxRegression compare.Thresholds) int {
	r.Close()
	code, err := compare.AfterRun(ctx, r.cfg, r.run.ID(), baseline, compare.Options{MaxRegression: maxRegression}, r.stdout)
	if err != nil {
		fmt.Fprintf(r.stderr, "%s: --compare-with: %v\n", r.command, err)
	}
	return code
}
