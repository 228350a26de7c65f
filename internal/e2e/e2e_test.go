// Package e2e tests the whole pipeline across programs: producer → spool → Kafka → sink → PostgreSQL, with the
// embedded NATS MQTT target as the system under test. Every part is real; nothing is mocked. Each test runs on the
// Kafka backends testenv.KafkaBackends selects: kfake and the real Apache Kafka broker, with the same test code.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/perftarget/target"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	pgbenchcmd "github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/spoolcmd"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const (
	topic         = "benchpipe.records"
	perftoolTopic = "perftool-sinetstream-result"
)

// pipeline is one test's world: a database, a config file, a target; Kafka comes and goes per test.
type pipeline struct {
	dir     string
	cfgFile string
	cfg     *config.Config
	target  *target.Server
	port    int                 // the Kafka port the config names (kfake of the test's own, p.kafka)
	db      *testenv.Deployment // the database as the compose stack sets it up; the sink writes as its owner
	// perftool is the perftool-result topic's name: perftoolTopic, or its unique name on the shared real broker.
	perftool string
}

// newPipeline sets up a test's world with Kafka expected on p.port (started by p.kafka, kfake; pipelineOwnKafka).
// With a cluster from a Kafka backend (testenv.KafkaBackends) the config points at it instead, with the topic and
// group names it gives (unique on the shared real broker), and p.kafka must not be used.
func newPipeline(t *testing.T, on ...*testenv.KafkaCluster) *pipeline {
	t.Helper()
	p := &pipeline{dir: t.TempDir()}
	p.port = freePort(t)
	cfg := config.Default()
	cfg.Kafka.Brokers = []string{fmt.Sprintf("127.0.0.1:%d", p.port)}
	p.perftool = perftoolTopic
	if len(on) == 1 {
		kc := on[0]
		cfg.Kafka.Brokers = kc.Brokers
		cfg.Topics[0].Name = kc.Topic(topic)
		cfg.Producer.Topic = kc.Topic(topic)
		cfg.Sink.DeadLetterTopic = kc.Topic(cfg.Sink.DeadLetterTopic)
		cfg.Sink.Group = kc.Group(cfg.Sink.Group)
		p.perftool = kc.Topic(perftoolTopic)
	}
	p.db = testenv.Deployed(t)
	cfg.Sink.DatabaseURL = p.db.OwnerURL
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	cfg.Producer.SpoolDir = filepath.Join(p.dir, "spool")
	cfg.Topics = append(cfg.Topics, config.Topic{Name: p.perftool, Format: config.FormatSINETStream, Partitions: 1, ReplicationFactor: 1})
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.cfgFile = filepath.Join(p.dir, "benchpipe.yaml")
	if err := os.WriteFile(p.cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if p.cfg, err = config.Load(p.cfgFile); err != nil {
		t.Fatal(err)
	}
	if err := ingest.Migrate(context.Background(), p.cfg, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	p.target, err = target.Start(target.Options{Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.target.Shutdown)
	return p
}

// kafka starts kfake on the configured port, persisting to dir/kafka so a restart keeps its log.
func (p *pipeline) kafka(t *testing.T) *kfake.Cluster {
	t.Helper()
	var c *kfake.Cluster
	var err error
	for range 50 { // the port may still be held by the previous incarnation for a moment
		c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(p.port), kfake.DataDir(filepath.Join(p.dir, "kafka")),
			kfake.SeedTopics(3, topic), kfake.SeedTopics(1, "benchpipe.dead-letter"), kfake.SeedTopics(1, perftoolTopic))
		if err == nil {
			return c
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("start kfake on port %d: %v", p.port, err)
	return nil
}

// pipelineOwnKafka is newPipeline with a Kafka of the test's own, up, and the functions that take it down and bring
// it back on the same address and log: kfake on the configured port (persisting to dir/kafka), or a real broker
// configured from docker-compose.yml, stopped as docker stop does (SIGTERM) and started again.
func pipelineOwnKafka(t *testing.T, kb testenv.KafkaBackend) (p *pipeline, down, up func()) {
	t.Helper()
	if kb.Name == testenv.BackendKfake {
		p = newPipeline(t)
		c := p.kafka(t)
		t.Cleanup(func() { c.Close() })
		return p, func() { c.Close() }, func() { c = p.kafka(t) }
	}
	b := testenv.OwnApacheKafka(t, testenv.KafkaBrokerOptions{})
	b.CreateTopics(t, 3, topic)
	b.CreateTopics(t, 1, "benchpipe.dead-letter", perftoolTopic)
	p = newPipeline(t, &testenv.KafkaCluster{Backend: kb.Name, Brokers: b.Brokers(), Apache: b}) // the broker is the test's own: names as they are
	down = func() {
		if err := b.Stop(); err != nil {
			t.Error(err)
		}
	}
	up = func() {
		if err := b.Start(context.Background()); err != nil {
			t.Error(err)
		}
	}
	return p, down, up
}

// pipelineTopics are the topics a pipeline's config names, with their partitions, for KafkaBackend.Start.
var pipelineTopics = map[string]int32{topic: 3, "benchpipe.dead-letter": 1, perftoolTopic: 1}

// sink runs the real sink in this process until the test ends.
func (p *pipeline) sink(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := ingest.New(ctx, p.cfg, ingest.WithLogger(slog.New(slog.NewTextHandler(testLog{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; s.Close() })
}

func (p *pipeline) mqttArgs(extra ...string) []string {
	return append([]string{"--config", p.cfgFile, "--broker", "tcp://" + p.target.MQTTAddr(), "--publishers", "2",
		"--subscribers", "2", "--qos", "1", "--rate", "400", "--warmup", "1s", "--name", "e2e"}, extra...)
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func connect(t *testing.T, url string) *pgx.Conn {
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func waitFinished(t *testing.T, conn *pgx.Conn, runID any, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var status string
		err := conn.QueryRow(context.Background(), "SELECT status FROM runs WHERE run_id = $1", runID).Scan(&status)
		if err == nil && status != "running" {
			return status
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %v not finished in the database after %v (status %q, err %v)", runID, timeout, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func readSummary(t *testing.T, path string) mqttload.SummaryFile {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var s mqttload.SummaryFile
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// The run's rows in PostgreSQL match the summary JSON the producer wrote.
func TestRunRowsMatchSummaryJSON(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testRunRowsMatchSummaryJSON(t, kb) })
	}
}

// testRunRowsMatchSummaryJSON is TestRunRowsMatchSummaryJSON on one Kafka backend.
func testRunRowsMatchSummaryJSON(t *testing.T, kb testenv.KafkaBackend) {
	p := newPipeline(t, kb.Start(t, pipelineTopics))
	p.sink(t)
	summary := filepath.Join(p.dir, "summary.json")
	if code := mqttload.Run(context.Background(), p.mqttArgs("--duration", "4s", "--summary-json", summary), io.Discard, io.Discard); code != 0 {
		t.Fatalf("producer mqtt exited %d", code)
	}
	s := readSummary(t, summary)
	conn := connect(t, p.cfg.Sink.DatabaseURL)
	if status := waitFinished(t, conn, s.RunID, 30*time.Second); status != string(s.Status) {
		t.Fatalf("status in database %q, summary %q", status, s.Status)
	}
	var sent, received, lost, dup, ooo, ops, samples, measureOps int64
	var p50, p99, maxMs, up99 float64
	err := conn.QueryRow(context.Background(), `SELECT mqtt_sent, mqtt_received, mqtt_lost, mqtt_duplicated, mqtt_out_of_order, ops,
			lat_p50_ms, lat_p99_ms, lat_max_ms, mqtt_uncorrected_p99_ms,
			(SELECT count(*) FROM samples s WHERE s.run_id = r.run_id),
			(SELECT coalesce(sum(ops), 0) FROM samples s WHERE s.run_id = r.run_id AND phase = 'measure')
		FROM runs r WHERE run_id = $1`, s.RunID).Scan(&sent, &received, &lost, &dup, &ooo, &ops, &p50, &p99, &maxMs, &up99, &samples, &measureOps)
	if err != nil {
		t.Fatal(err)
	}
	tot := s.Totals
	for _, c := range []struct {
		name     string
		db, file int64
	}{{"sent", sent, tot.Sent}, {"received", received, tot.Received}, {"lost", lost, tot.Lost}, {"duplicated", dup, tot.Duplicated}, {"out_of_order", ooo, tot.OutOfOrder}, {"ops", ops, tot.Received}} {
		if c.db != c.file {
			t.Errorf("%s: database %d, summary JSON %d", c.name, c.db, c.file)
		}
	}
	lat := s.LatencyMs.Corrected
	if lat == nil || p50 != lat.P50Ms || p99 != lat.P99Ms || maxMs != lat.MaxMs || up99 != s.LatencyMs.Uncorrected.P99Ms {
		t.Errorf("latency in database p50 %v p99 %v max %v (uncorrected p99 %v), summary JSON %+v / %+v", p50, p99, maxMs, up99, lat, s.LatencyMs.Uncorrected)
	}
	// Samples count a message in the interval in which it arrived (an interval ends when its timer fires), the
	// totals in the phase in which it was sent: the two differ by the messages in flight at the warm-up's end —
	// warm-up messages still travelling, measured ones arriving before a late timer closed the warm-up's
	// interval. At 400 msg/s to 2 subscribers that is at most 800/s × (the slowest delivery + 50 ms of timer
	// lateness); a lost or doubled one-second sample (800 messages) is far outside it while deliveries stay
	// under 0.9 s.
	inFlight := int64(800 * (maxMs + 50) / 1000)
	if d := measureOps - tot.Received; d < -inFlight || d > inFlight {
		t.Errorf("measure-phase samples add up to %d messages, summary says %d received: %d apart, more than the %d in flight at the warm-up's end (max latency %.1f ms)",
			measureOps, tot.Received, d, inFlight, maxMs)
	}
	if samples < 5 {
		t.Errorf("only %d samples for a 1 s warm-up + 4 s run", samples)
	}
}

// Kafka goes down in the middle of a run and comes back: every record reaches PostgreSQL exactly once.
// On kfake and on the real broker (stopped, then started again on its ports and log).
func TestKafkaDownMidRun(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testKafkaDownMidRun(t, kb) })
	}
}

func testKafkaDownMidRun(t *testing.T, kb testenv.KafkaBackend) {
	p, down, up := pipelineOwnKafka(t, kb)
	p.sink(t)
	summary := filepath.Join(p.dir, "summary.json")
	// The run outlasts the outage: a real broker's restart (SIGTERM, then a JVM start) takes 3 s on an idle machine
	// and up to 20 s on one whose two cores run other tests too.
	const warmup, run = time.Second, 12 * time.Second
	done := make(chan int, 1)
	go func() {
		done <- mqttload.Run(context.Background(), p.mqttArgs("--duration", run.String(), "--summary-json", summary), io.Discard, io.Discard)
	}()
	began := time.Now()
	time.Sleep(2500 * time.Millisecond)
	down() // Kafka down for at least 3 s, mid-run
	stopped := time.Now()
	time.Sleep(3 * time.Second)
	up()
	back := time.Since(began)
	t.Logf("Kafka stopped %v into the run, down %v, back %v into the run", stopped.Sub(began).Round(time.Millisecond),
		time.Since(stopped).Round(time.Millisecond), back.Round(time.Millisecond))
	if code := <-done; code != 0 {
		t.Fatalf("producer mqtt exited %d", code)
	}
	s := readSummary(t, summary)
	st, err := publish.Inspect(p.cfg.Producer.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if back < warmup+run {
		// Kafka was back mid-run: the producer delivers everything itself (it has recorder.CloseTimeout after its run).
		if st.Records != 0 {
			t.Fatalf("%d records still spooled after the run, though Kafka was back %v before its end", st.Records, (warmup + run - back).Round(time.Millisecond))
		}
	} else {
		// The restart outlasted the run: what the producer could not deliver within recorder.CloseTimeout is for the
		// operator's path, `producer spool flush`; exactly once all the same.
		t.Logf("Kafka came back after the %v run had ended; the producer left %d records spooled; spool flush delivers them", warmup+run, st.Records)
		var out strings.Builder
		if code := spoolcmd.Run(context.Background(), []string{"flush", "--config", p.cfgFile, "--timeout", "60s"}, &out, &out); code != 0 {
			t.Fatalf("spool flush exited %d: %s", code, out.String())
		}
	}
	conn := connect(t, p.cfg.Sink.DatabaseURL)
	waitFinished(t, conn, s.RunID, 60*time.Second)
	var samples, maxSeq, distinct int64
	if err := conn.QueryRow(context.Background(), "SELECT count(*), max(seq), count(DISTINCT seq) FROM samples WHERE run_id = $1", s.RunID).Scan(&samples, &maxSeq, &distinct); err != nil {
		t.Fatal(err)
	}
	if samples != maxSeq || distinct != samples {
		t.Fatalf("samples: %d rows, %d distinct seqs, highest seq %d: want seq 1..n each exactly once", samples, distinct, maxSeq)
	}
	if st, err = publish.Inspect(p.cfg.Producer.SpoolDir); err != nil {
		t.Fatal(err)
	}
	if st.Records != 0 {
		t.Fatalf("%d records still spooled after Kafka came back", st.Records)
	}
	t.Logf("%d samples delivered exactly once across a Kafka outage", samples)
}

// SIGKILL of the producer mid-run with Kafka unreachable: what it spooled is delivered later by `producer spool
// flush`, exactly once. Kafka is kfake, or a real broker stopped for the whole run and started again on its log.
func TestProducerSIGKILLThenFlush(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the producer binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "producer")
	build := exec.Command("go", "build", "-o", bin, "../../producer")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build producer: %v\n%s", err, out)
	}
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testProducerSIGKILLThenFlush(t, kb, bin) })
	}
}

func testProducerSIGKILLThenFlush(t *testing.T, kb testenv.KafkaBackend, bin string) {
	p, down, up := pipelineOwnKafka(t, kb)
	down() // for the whole producer run
	cmd := exec.Command(bin, append([]string{"mqtt"}, p.mqttArgs("--duration", "30s")...)...)
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second) // Kafka is down: run_started and ~3 samples are in the spool
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()

	st, err := publish.Inspect(p.cfg.Producer.SpoolDir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records < 3 || len(st.Runs) != 1 {
		t.Fatalf("spool after SIGKILL: %d records in %d runs, want the run's first records (stderr: %s)", st.Records, len(st.Runs), stderr.String())
	}
	up()
	p.sink(t)
	var out strings.Builder
	if code := spoolcmd.Run(context.Background(), []string{"flush", "--config", p.cfgFile, "--timeout", "60s"}, &out, &out); code != 0 {
		t.Fatalf("spool flush exited %d: %s", code, out.String())
	}
	conn := connect(t, p.cfg.Sink.DatabaseURL)
	run := st.Runs[0]
	deadline := time.Now().Add(30 * time.Second)
	for {
		var rows, samples int64
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM runs WHERE run_id = $1", run.RunID).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM samples WHERE run_id = $1", run.RunID).Scan(&samples); err != nil {
			t.Fatal(err)
		}
		var status, errText string
		_ = conn.QueryRow(context.Background(), "SELECT status, coalesce(error, '') FROM runs WHERE run_id = $1", run.RunID).Scan(&status, &errText)
		// Every spooled record but run_started is a sample, and the next Open closed the orphaned run as aborted.
		if rows == 1 && samples == run.Records-1 && status == "aborted" {
			t.Logf("after SIGKILL: run_started + %d samples delivered by spool flush; run %s: %s", samples, status, errText)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after flush: %d runs rows, %d samples, status %q; spool held run_started + %d samples", rows, samples, status, run.Records-1)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// --perftool-compat: the perftool-shaped result (SINETStream v3 framing) the producer publishes, decoded by the sink
// into the seed viewer's perftool table, equals the run's own summary. On kfake and on the real broker.
func TestPerftoolCompatRoundTrip(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testPerftoolCompatRoundTrip(t, kb) })
	}
}

func testPerftoolCompatRoundTrip(t *testing.T, kb testenv.KafkaBackend) {
	p := newPipeline(t, kb.Start(t, pipelineTopics))
	// A perftool result is named after the client that measured: the device, not the run's --name.
	p.cfg.Producer.Device = "pi-lab-7"
	raw, _ := yaml.Marshal(p.cfg)
	if err := os.WriteFile(p.cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	p.sink(t)
	summary := filepath.Join(p.dir, "summary.json")
	args := p.mqttArgs("--duration", "3s", "--size", "200", "--summary-json", summary, "--perftool-compat", p.perftool)
	if code := mqttload.Run(context.Background(), args, io.Discard, io.Discard); code != 0 {
		t.Fatalf("producer mqtt exited %d", code)
	}
	s := readSummary(t, summary)
	conn := connect(t, p.cfg.Sink.DatabaseURL)
	var wCount, rCount, wBytes, rBytes int64
	var wRate, rRate, wByteRate float64
	var start, end time.Time
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := conn.QueryRow(context.Background(), `SELECT writer_msg_count_total, reader_msg_count_total, writer_msg_bytes_total,
				reader_msg_bytes_total, writer_count_rate, reader_count_rate, writer_bytes_rate, writer_start_time, writer_end_time
			FROM perftool WHERE publisher = $1`, "pi-lab-7").Scan(&wCount, &rCount, &wBytes, &rBytes, &wRate, &rRate, &wByteRate, &start, &end)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no perftool row for the run: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	tot := s.Totals
	if wCount != tot.Sent || rCount != tot.Received || rBytes != tot.Bytes || wBytes != tot.Sent*200 {
		t.Errorf("perftool totals writer %d/%d B, reader %d/%d B; summary sent %d, received %d (%d B)", wCount, wBytes, rCount, rBytes, tot.Sent, tot.Received, tot.Bytes)
	}
	if wRate != s.Rates.Sent || rRate != s.Rates.Received {
		t.Errorf("perftool rates writer %v reader %v; summary sent %v received %v msg/s", wRate, rRate, s.Rates.Sent, s.Rates.Received)
	}
	// perftool's times are milliseconds (start_time_ms): equal up to that precision.
	if start.Sub(*s.Start).Abs() > time.Millisecond {
		t.Errorf("perftool start %v, summary start %v", start, *s.Start)
	}
	if end.Sub(*s.End).Abs() > time.Millisecond {
		t.Errorf("perftool end %v, summary end %v", end, *s.End)
	}
}

// producer mqtt --compare-with: after the run its records reach the database through Kafka and the sink, the
// producer waits until GraphQL shows the run finished, and compares it with the previous comparable run. The GraphQL
// endpoint is internal/hasurastub, which stands in for Hasura (it cannot run here): it answers the same queries from
// the same PostgreSQL with the anonymous role's permissions from deploy/hasura. On kfake and on the real broker.
func TestCompareWithLastAfterRun(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testCompareWithLastAfterRun(t, kb) })
	}
}

func testCompareWithLastAfterRun(t *testing.T, kb testenv.KafkaBackend) {
	p := newPipeline(t, kb.Start(t, pipelineTopics))
	p.sink(t)
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	stub := hasurastub.New(t, p.db.HasuraURL, md) // Hasura's database role, as in the compose stack
	p.cfg.GraphQL.URL = stub.URL
	raw, _ := yaml.Marshal(p.cfg)
	if err := os.WriteFile(p.cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}

	first := filepath.Join(p.dir, "first.json")
	if code := mqttload.Run(context.Background(), p.mqttArgs("--duration", "2s", "--summary-json", first), io.Discard, io.Discard); code != 0 {
		t.Fatalf("first run exited %d", code)
	}
	var out strings.Builder
	code := mqttload.Run(context.Background(), p.mqttArgs("--duration", "2s", "--compare-with", "last"), &out, io.Discard)
	if code != 0 {
		t.Fatalf("second run with --compare-with last exited %d:\n%s", code, out.String())
	}
	baseline := readSummary(t, first).RunID.String()
	if !strings.Contains(out.String(), baseline) || !strings.Contains(out.String(), "p99") {
		t.Fatalf("comparison output does not name the baseline run %s and its figures:\n%s", baseline, out.String())
	}
	out.Reset()
	code = mqttload.Run(context.Background(), p.mqttArgs("--duration", "1s", "--compare-with", "01900000-0000-7000-8000-000000000000"), &out, io.Discard)
	if code != 5 {
		t.Fatalf("--compare-with an unknown run exited %d, want 5 (run not found):\n%s", code, out.String())
	}
}

// producer pgbench --compare-with: a real pgbench run against a real PostgreSQL, its records through Kafka and the
// sink, then compared over GraphQL (internal/hasurastub standing in for Hasura) with the previous comparable run.
// On kfake and on the real broker.
func TestPgbenchCompareWithLast(t *testing.T) {
	testenv.Tool(t, "pgbench", "apt-get install -y postgresql-contrib")
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testPgbenchCompareWithLast(t, kb) })
	}
}

func testPgbenchCompareWithLast(t *testing.T, kb testenv.KafkaBackend) {
	p := newPipeline(t, kb.Start(t, pipelineTopics))
	p.sink(t)
	md, err := hasurastub.LoadMetadata("../../deploy/hasura/metadata")
	if err != nil {
		t.Fatal(err)
	}
	p.cfg.GraphQL.URL = hasurastub.New(t, p.db.HasuraURL, md).URL
	raw, _ := yaml.Marshal(p.cfg)
	if err := os.WriteFile(p.cfgFile, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	target := testenv.SuperuserDatabaseURL(t) // the database pgbench measures: another server in a deployment
	run := func(extra ...string) (int, string) {
		var out strings.Builder
		args := append([]string{"--config", p.cfgFile}, extra...)
		args = append(args, "--", "-c", "2", "-T", "2", target)
		code := pgbenchcmd.Run(context.Background(), args, &out, &out)
		return code, out.String()
	}
	// Initialise outside the measured runs: --init-scale is a parameter, and `last` only matches equal ones.
	if out, err := exec.Command("pgbench", "-i", "-s", "1", target).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i: %v\n%s", err, out)
	}
	if code, out := run(); code != 0 {
		t.Fatalf("first pgbench run exited %d:\n%s", code, out)
	}
	code, out := run("--compare-with", "last")
	if code != 0 || !strings.Contains(out, "tps") {
		t.Fatalf("second run with --compare-with last exited %d; want 0 and a comparison naming tps:\n%s", code, out)
	}
	code, out = run("--compare-with", "01900000-0000-7000-8000-000000000000")
	if code != 5 {
		t.Fatalf("--compare-with an unknown run exited %d, want 5 (run not found):\n%s", code, out)
	}
}
