package ingest_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// Kafka replaced (a new cluster on the same address, with fewer records than the old one had) while the database
// is kept: every new record is written, and the reset is logged with both clusters' ids and counted.
func TestKafkaReplacedDatabaseKept(t *testing.T) {
	e := newEnv(t, "", kfake.ClusterID("cluster-a"))
	conn := connect(t, e.dbURL)
	var old []schema.Record
	for range 40 {
		old = append(old, makeRun(5)...)
	}
	produce(t, e.brokers, recordsTopic, old)
	stop := e.startSink(t)
	waitStored(t, conn, int64(len(old)))
	stop()
	oldPartitions := count(t, conn, "SELECT count(*) FROM benchpipe.sink_offsets WHERE cluster_id = 'cluster-a' AND next_offset > 0")

	e.kafka.Close()
	_, port, _ := net.SplitHostPort(e.brokers[0])
	p, _ := strconv.Atoi(port)
	testenv.Kafka(t, kfake.Ports(p), kfake.ClusterID("cluster-b"), kfake.SeedTopics(4, recordsTopic), kfake.SeedTopics(1, "benchpipe.dead-letter"))
	var fresh []schema.Record
	for range 4 {
		fresh = append(fresh, makeRun(3)...) // 20 records: every new offset is below the old positions
	}
	produce(t, e.brokers, recordsTopic, fresh)

	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	e.startSink(t, ingest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))), ingest.WithRegisterer(reg))
	waitRows(t, conn, "samples", 40*5+4*3, 30*time.Second)
	waitFor(t, 10*time.Second, "every new record stored", func() (bool, string) {
		n := count(t, conn, "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM benchpipe.sink_offsets WHERE cluster_id = 'cluster-b'")
		return n == int64(len(fresh)), fmt.Sprint(n)
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 40*5+4*3 {
		t.Fatalf("samples = %d, want %d", n, 40*5+4*3)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 44 {
		t.Fatalf("finished runs = %d, want 44", n)
	}
	if got := counterValue(t, reg, "benchpipe_sink_kafka_resets_total", recordsTopic); got != float64(oldPartitions) || oldPartitions == 0 {
		t.Errorf("benchpipe_sink_kafka_resets_total = %v, want one per partition with old positions (%d)", got, oldPartitions)
	}
	out := logs.String()
	if n := strings.Count(out, "Kafka log replaced"); n != int(oldPartitions) || !strings.Contains(out, "level=ERROR") ||
		!strings.Contains(out, "old_cluster_id=cluster-a") || !strings.Contains(out, "cluster_id=cluster-b") || !strings.Contains(out, "old_next_offset=") {
		t.Errorf("want one ERROR line per reset partition naming both clusters and the old position, got %d in:\n%s", n, out)
	}
}

// A topic deleted and created again on the same cluster: the cluster id is the same, the topic id is not.
func TestTopicRecreatedDatabaseKept(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	var old []schema.Record
	for range 20 {
		old = append(old, makeRun(5)...)
	}
	produce(t, e.brokers, recordsTopic, old)
	stop := e.startSink(t)
	waitStored(t, conn, int64(len(old)))
	stop()

	if err := e.kafka.DeleteTopic(recordsTopic); err != nil {
		t.Fatal(err)
	}
	if err := e.kafka.CreateTopic(recordsTopic, 4, nil); err != nil {
		t.Fatal(err)
	}
	fresh := makeRun(10)
	produce(t, e.brokers, recordsTopic, fresh)
	reg := prometheus.NewRegistry()
	e.startSink(t, ingest.WithRegisterer(reg))
	waitRows(t, conn, "samples", 20*5+10, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 20*5+10 {
		t.Fatalf("samples = %d, want %d", n, 20*5+10)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 21 {
		t.Fatalf("finished runs = %d, want 21", n)
	}
	if got := counterValue(t, reg, "benchpipe_sink_kafka_resets_total", recordsTopic); got < 1 {
		t.Errorf("benchpipe_sink_kafka_resets_total = %v, want the recreated topic counted", got)
	}
	if n := count(t, conn, "SELECT count(DISTINCT topic_id) FROM benchpipe.sink_offsets"); n != 2 {
		t.Errorf("positions name %d topic ids, want 2 (old and recreated)", n)
	}
}

// Positions stored before they named their Kafka log are adopted by the first cluster that reads them: records
// below them are not written again, and the row now names the cluster and topic.
func TestLegacyPositionIsAdopted(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	first, second := makeRun(5), makeRun(5)
	produceTo(t, e.brokers, 0, first)
	if _, err := conn.Exec(context.Background(), `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, next_offset)
		VALUES ($1, $2, 0, $3)`, e.cfg.Sink.Group, recordsTopic, len(first)); err != nil {
		t.Fatal(err)
	}
	produceTo(t, e.brokers, 0, second)
	e.startSink(t)
	waitStored(t, conn, int64(len(first)+len(second)))
	if n := count(t, conn, "SELECT count(*) FROM samples WHERE run_id = $1", first[0].RunID); n != 0 {
		t.Errorf("%d samples of the run below the adopted position were written", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM samples WHERE run_id = $1", second[0].RunID); n != 5 {
		t.Errorf("samples of the run after the adopted position = %d, want 5", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM benchpipe.sink_offsets WHERE partition = 0 AND cluster_id = 'kfake' AND topic_id <> ''"); n != 1 {
		t.Errorf("the legacy row was not adopted (%d rows with ids)", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM benchpipe.sink_offsets WHERE cluster_id = ''"); n != 0 {
		t.Errorf("%d legacy rows left", n)
	}
}

// A run_started whose host name is 3,000 random characters cannot be indexed (SQLSTATE 54000, index row too
// large on runs_host_kind_idx): the record is dead-lettered with the reason, and every other record of its
// partition is written.
func TestIndexRowTooLargeIsDeadLettered(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	before, bad, after := makeRun(5), makeRun(5), makeRun(5)
	host := make([]byte, 3000)
	alphabet := "abcdefghijklmnopqrstuvwxyz0123456789"
	_, _ = rand.Read(host)
	for i := range host {
		host[i] = alphabet[int(host[i])%len(alphabet)]
	}
	bad[0].Started.Host.Hostname = string(host)
	all := append(append(append([]schema.Record{}, before...), bad...), after...)
	produceTo(t, e.brokers, 0, all)
	e.startSink(t)

	dead := testenv.Consume(t, e.brokers, "benchpipe.dead-letter", 1, 30*time.Second)
	waitStored(t, conn, int64(len(all)))
	if len(dead) != 1 {
		t.Fatalf("dead letters = %d, want 1", len(dead))
	}
	h := headers(dead[0])
	if !strings.Contains(h[ingest.HeaderError], "54000") || h[ingest.HeaderOffset] != strconv.Itoa(len(before)) {
		t.Errorf("dead letter headers %v: want the index error (54000) and offset %d", h, len(before))
	}
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 15 {
		t.Errorf("samples = %d, want 15 (the bad run's samples too)", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 3 {
		t.Errorf("finished runs = %d, want 3", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE run_id = $1 AND host_name IS NULL", bad[0].RunID); n != 1 {
		t.Errorf("the bad run's row should exist from run_finished, without the host name")
	}
	// Nothing was dead-lettered twice or late.
	if d := testenv.Consume(t, e.brokers, "benchpipe.dead-letter", 2, time.Second); len(d) != 1 {
		t.Errorf("dead letters = %d after settling, want 1", len(d))
	}
}

// A trigger refusing one run's rows with its own exception (SQLSTATE P0001, a class the sink knows nothing about):
// after a few attempts the probe pins it on those records, which are dead-lettered; the rest is written.
func TestUnknownRowErrorIsDeadLetteredAfterRetries(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	good1, bad, good2 := makeRun(4), makeRun(4), makeRun(4)
	refuseRun(t, conn, bad[0].RunID.String(), "P0001")
	all := append(append(append([]schema.Record{}, good1...), bad...), good2...)
	produceTo(t, e.brokers, 0, all)
	e.startSink(t)
	dead := testenv.Consume(t, e.brokers, "benchpipe.dead-letter", 4, 30*time.Second)
	waitStored(t, conn, int64(len(all)))
	if len(dead) != 4 {
		t.Fatalf("dead letters = %d, want the bad run's 4 samples", len(dead))
	}
	for _, d := range dead {
		if h := headers(d); !strings.Contains(h[ingest.HeaderError], "refused by the test trigger") {
			t.Errorf("dead letter error %q lacks the trigger's message", h[ingest.HeaderError])
		}
	}
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 8 {
		t.Errorf("samples = %d, want 8", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 3 {
		t.Errorf("finished runs = %d, want 3", n)
	}
}

// A batch the database keeps refusing with an error that says "not now" is retried, but /readyz says so after the
// stall limit, with the reason; once the cause is gone the sink continues and is ready again.
func TestReadyzReportsAStuckBatch(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	run := makeRun(3)
	refuseRun(t, conn, run[0].RunID.String(), "57P03")
	produceTo(t, e.brokers, 0, run)
	s, err := ingest.New(context.Background(), e.cfg, ingest.WithLogger(discard()), ingest.WithStallLimit(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	waitFor(t, 30*time.Second, "readiness to fail on the stuck batch", func() (bool, string) {
		err := s.Ready(context.Background())
		return err != nil && strings.Contains(err.Error(), "has been failing") && strings.Contains(err.Error(), "refused by the test trigger"), fmt.Sprint(err)
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 0 {
		t.Fatalf("samples = %d while the batch is refused", n)
	}
	if _, err := conn.Exec(context.Background(), "DROP TRIGGER refuse_run ON samples"); err != nil {
		t.Fatal(err)
	}
	waitStored(t, conn, int64(len(run)))
	waitFor(t, 10*time.Second, "ready again", func() (bool, string) {
		err := s.Ready(context.Background())
		return err == nil, fmt.Sprint(err)
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 3 {
		t.Fatalf("samples = %d, want 3", n)
	}
}

// A stored position behind the batch (as after restoring the database from an older backup) is never skipped:
// the batch is refused and the partition read again from the stored position.
func TestStoredPositionBehindIsReadAgain(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	first := makeRun(5)
	produceTo(t, e.brokers, 0, first)
	reg := prometheus.NewRegistry()
	e.startSink(t, ingest.WithRegisterer(reg))
	waitStored(t, conn, int64(len(first)))
	// The database loses the first run and its position, as a restore from a backup taken before it would.
	if _, err := conn.Exec(context.Background(), `DELETE FROM samples; DELETE FROM runs;
		UPDATE benchpipe.sink_offsets SET next_offset = -2`); err != nil {
		t.Fatal(err)
	}
	second := makeRun(5)
	produceTo(t, e.brokers, 0, second)
	waitStored(t, conn, int64(len(first)+len(second)))
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 10 {
		t.Fatalf("samples = %d, want 10 (both runs: the first read again)", n)
	}
	if got := counterValue(t, reg, "benchpipe_sink_position_gaps_total", ""); got < 1 {
		t.Errorf("benchpipe_sink_position_gaps_total = %v, want the refusal counted", got)
	}
}

// SIGTERM while a batch is being retried (a trigger refuses one run's rows with "cannot connect now", which is
// retried, not dead-lettered) and the next batch is already decoded: the sink gives the first up at the shutdown
// timeout, and must not write the next one past it. After a restart every record is a row exactly once.
func TestShutdownDuringRetrySkipsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sink processes; skipped with -short")
	}
	e := newEnv(t, "", shortSessions)
	conn := connect(t, e.dbURL)
	// The child's batches hold 1000 records: the refused run is one batch, the next run the one after it.
	refused, next := makeRun(998), makeRun(10)
	refuseRun(t, conn, refused[0].RunID.String(), "57P03")

	child := startChild(t, e, "SHUTDOWN_TIMEOUT=1s", "FLUSH_INTERVAL=1s")
	// Idle longer than a rebalance may be held back (5 s): the wait must not count against it, or the sink waits
	// for the failing write before it collects the next batch, which it then never sees refused.
	time.Sleep(6 * time.Second)
	produceTo(t, e.brokers, 0, append(append([]schema.Record{}, refused...), next...))
	waitLog(t, child.logs, "write failed; retrying", 30*time.Second)
	time.Sleep(3 * time.Second) // the next batch is collected and decoded within the flush interval (1 s)
	child.stop(t)
	if !strings.Contains(child.logs.String(), "batch refused for a partition") {
		t.Errorf("the next batch was not refused:\n%s", child.logs)
	}
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 0 {
		t.Errorf("samples = %d after the shutdown, want 0: the next run was written past the refused one", n)
	}
	if _, err := conn.Exec(context.Background(), "DROP TRIGGER refuse_run ON samples"); err != nil {
		t.Fatal(err)
	}

	child = startChild(t, e)
	defer child.stop(t)
	waitStored(t, conn, int64(len(refused)+len(next)))
	assertExactlyOnce(t, conn, 998+10, 2)
}

// PostgreSQL goes down while a batch is written, the sink gets SIGTERM with the next batch decoded, and PostgreSQL
// is back just after the sink gave the first batch up: the next batch must not be written past it.
func TestPostgresRestartAtShutdownSkipsNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs sink processes and restarts PostgreSQL; skipped with -short")
	}
	pg := testenv.OwnPostgres(t)
	e := newEnv(t, pg.URL("postgres"), shortSessions)
	conn := connect(t, e.dbURL)
	warm, lost, next := makeRun(2), makeRun(998), makeRun(10)

	child := startChild(t, e, "SHUTDOWN_TIMEOUT=4s", "FLUSH_INTERVAL=1s")
	produceTo(t, e.brokers, 0, warm)
	waitStored(t, conn, int64(len(warm)))
	conn.Close(context.Background())
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	produceTo(t, e.brokers, 0, append(append([]schema.Record{}, lost...), next...))
	waitLog(t, child.logs, "write failed; retrying", 30*time.Second)
	time.Sleep(3 * time.Second)
	_ = child.cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, child.logs, "shutting down with a batch not written", 30*time.Second)
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	child.stop(t)
	if !strings.Contains(child.logs.String(), "batch refused for a partition") {
		t.Errorf("the next batch was not refused:\n%s", child.logs)
	}

	conn = connect(t, e.dbURL)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 2 {
		t.Errorf("samples = %d after the shutdown, want 2 (the warm-up run): the next run was written past the lost one", n)
	}
	child = startChild(t, e)
	defer child.stop(t)
	waitStored(t, conn, int64(len(warm)+len(lost)+len(next)))
	assertExactlyOnce(t, conn, 2+998+10, 3)
}

// shortSessions lets the sink processes' short group sessions in (see crashChild).
var shortSessions = kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"})

// refuseRun makes the database refuse every samples row of one run with an exception of the given SQLSTATE.
func refuseRun(t *testing.T, conn *pgx.Conn, runID, sqlstate string) {
	t.Helper()
	_, err := conn.Exec(context.Background(), fmt.Sprintf(`
		CREATE FUNCTION public.refuse_run() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.run_id = '%s' THEN
				RAISE EXCEPTION 'refused by the test trigger' USING ERRCODE = '%s';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_run BEFORE INSERT ON public.samples FOR EACH ROW EXECUTE FUNCTION public.refuse_run();`, runID, sqlstate))
	if err != nil {
		t.Fatal(err)
	}
}

// produceTo produces recs, in order, to one partition of the records topic.
func produceTo(t testing.TB, brokers []string, partition int32, recs []schema.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.DefaultProduceTopic(recordsTopic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var krs []*kgo.Record
	for _, r := range recs {
		krs = append(krs, &kgo.Record{Key: r.Key(), Value: []byte(mustEncodeTB(t, r)), Partition: partition})
	}
	if err := cl.ProduceSync(context.Background(), krs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func mustEncodeTB(t testing.TB, r schema.Record) string {
	b, err := schema.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// waitStored waits until the stored positions cover n records (every partition starts at offset 0 here).
func waitStored(t testing.TB, conn *pgx.Conn, n int64) {
	t.Helper()
	waitFor(t, 60*time.Second, fmt.Sprintf("positions covering %d records", n), func() (bool, string) {
		var got int64
		if err := conn.QueryRow(context.Background(), "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM benchpipe.sink_offsets").Scan(&got); err != nil {
			return false, err.Error()
		}
		return got == n, fmt.Sprint(got)
	})
}

func assertExactlyOnce(t *testing.T, conn *pgx.Conn, samples, runs int64) {
	t.Helper()
	time.Sleep(300 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != samples {
		t.Fatalf("samples = %d, want exactly %d", n, samples)
	}
	if n := count(t, conn, "SELECT count(*) FROM (SELECT run_id, seq FROM samples GROUP BY 1, 2 HAVING count(*) > 1) d"); n != 0 {
		t.Fatalf("%d duplicated (run_id, seq) pairs", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != runs {
		t.Fatalf("finished runs = %d, want %d", n, runs)
	}
}

// sinkProcess is a sink running as a child process: this test binary re-executed (see crashChild).
type sinkProcess struct {
	cmd    *exec.Cmd
	exited chan struct{}
	logs   *syncBuffer
}

// startChild starts a sink process against e; extraEnv adds settings such as SHUTDOWN_TIMEOUT.
func startChild(t *testing.T, e *env, extraEnv ...string) *sinkProcess {
	t.Helper()
	p := &sinkProcess{exited: make(chan struct{}), logs: &syncBuffer{}}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), crashChildEnv+"=1", "BROKERS="+strings.Join(e.brokers, ","), "DATABASE_URL="+e.dbURL), extraEnv...)
	p.cmd.Stderr = io.MultiWriter(testWriter{t}, p.logs)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); <-p.exited })
	return p
}

// stop sends SIGTERM and waits for the process to exit.
func (p *sinkProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("sink process did not stop within 60 s of SIGTERM")
	}
}

func waitLog(t *testing.T, logs *syncBuffer, what string, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("log line %q", what), func() (bool, string) {
		return strings.Contains(logs.String(), what), ""
	})
}

// counterValue reads a counter from reg: the series with the given label value, or the only one.
func counterValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label == "" || len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// syncBuffer is a log destination that tests read while the sink writes.
type syncBuffer = testenv.Buffer

// Stored positions that cannot be read (here a row whose partition does not fit the sink's int32) are not
// silently replaced by Kafka's committed offsets: the sink says why and consumes nothing until it can read them.
func TestUnreadablePositionsAreReported(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	if _, err := conn.Exec(context.Background(), `ALTER TABLE benchpipe.sink_offsets ALTER COLUMN partition TYPE bigint`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, next_offset) VALUES ($1, $2, 3000000000, 0)`,
		e.cfg.Sink.Group, recordsTopic); err != nil {
		t.Fatal(err)
	}
	run := makeRun(3)
	produceTo(t, e.brokers, 0, run)
	logs := &syncBuffer{}
	e.startSink(t, ingest.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	waitLog(t, logs, "cannot restore stored positions", 20*time.Second)
	if out := logs.String(); !strings.Contains(out, "read stored positions") {
		t.Errorf("the log does not say what failed:\n%s", out)
	}
	time.Sleep(time.Second)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 0 {
		t.Fatalf("samples = %d written from positions the sink could not read", n)
	}
	if _, err := conn.Exec(context.Background(), "DELETE FROM benchpipe.sink_offsets WHERE partition = 3000000000"); err != nil {
		t.Fatal(err)
	}
	waitStored(t, conn, int64(len(run)))
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 3 {
		t.Fatalf("samples = %d, want 3", n)
	}
}

// The topic deleted and created again while the sink runs: the client cannot follow it to its new id, so the sink
// stops with an error that says so rather than stalling quietly, and the sink started after it reads the new log.
func TestTopicRecreatedWhileRunning(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	old := makeRun(5)
	produceTo(t, e.brokers, 0, old)
	s, err := ingest.New(context.Background(), e.cfg, ingest.WithLogger(discard()))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Run(context.Background()) }()
	waitStored(t, conn, int64(len(old)))
	if err := e.kafka.DeleteTopic(recordsTopic); err != nil {
		t.Fatal(err)
	}
	if err := e.kafka.CreateTopic(recordsTopic, 4, nil); err != nil {
		t.Fatal(err)
	}
	fresh := makeRun(3)
	produceTo(t, e.brokers, 0, fresh)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "deleted and created again") {
			t.Fatalf("Run returned %v, want the recreated topic named", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("the sink neither stopped nor said why within 60 s of the topic's recreation")
	}
	s.Close()

	e.startSink(t)
	waitRows(t, conn, "samples", 5+3, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 8 {
		t.Fatalf("samples = %d, want 8", n)
	}
}

// Every statement the sink issues names its schema: a schema named after the connecting role (first in the default
// search_path "$user", public) holding tables of the same names catches nothing, through the direct COPY, the
// staging-table path for duplicates and the runs upserts alike.
func TestWritesIgnoreTheRoleSearchPath(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	var role string
	if err := conn.QueryRow(context.Background(), "SELECT quote_ident(current_user)").Scan(&role); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + role,
		"CREATE TABLE " + role + ".samples (LIKE public.samples INCLUDING ALL)",
		"CREATE TABLE " + role + ".runs (LIKE public.runs INCLUDING ALL)",
	} {
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatal(err)
		}
	}
	run, next := makeRun(10), makeRun(10)
	produceTo(t, e.brokers, 0, run)
	e.startSink(t)
	waitStored(t, conn, int64(len(run)))                 // straight COPY
	produceTo(t, e.brokers, 0, append(next, run[3:]...)) // with a producer's resend: through the staging table
	waitStored(t, conn, int64(len(run)+len(next)+len(run)-3))
	if n := count(t, conn, "SELECT count(*) FROM public.samples"); n != 20 {
		t.Errorf("public.samples = %d, want 20", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM public.runs WHERE status = 'ok'"); n != 2 {
		t.Errorf("public.runs finished = %d, want 2", n)
	}
	if n := count(t, conn, "SELECT (SELECT count(*) FROM "+role+".samples) + (SELECT count(*) FROM "+role+".runs)"); n != 0 {
		t.Errorf("%d rows landed in schema %s", n, role)
	}
}

// A stored position past the end of its log (the log lost records under the same ids, or a Kafka replaced before
// positions named their log) is a reset too: the records now in the log are all written.
func TestStoredPositionPastTheLogEndIsAReset(t *testing.T) {
	e := newEnv(t, "")
	conn := connect(t, e.dbURL)
	first := makeRun(3)
	produceTo(t, e.brokers, 0, first)
	stop := e.startSink(t)
	waitStored(t, conn, int64(len(first)))
	stop()
	// Partition 0's own position, and a position of partition 1 stored before positions named their log, both
	// past what the log holds.
	ctx := context.Background()
	if _, err := conn.Exec(ctx, "UPDATE benchpipe.sink_offsets SET next_offset = 1000 WHERE partition = 0"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, next_offset) VALUES ($1, $2, 1, 500)`,
		e.cfg.Sink.Group, recordsTopic); err != nil {
		t.Fatal(err)
	}
	second, third := makeRun(4), makeRun(6)
	produceTo(t, e.brokers, 0, second)
	produceTo(t, e.brokers, 1, third)
	reg := prometheus.NewRegistry()
	e.startSink(t, ingest.WithRegisterer(reg))
	waitRows(t, conn, "samples", 3+4+6, 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 13 {
		t.Fatalf("samples = %d, want 13", n)
	}
	if got := counterValue(t, reg, "benchpipe_sink_kafka_resets_total", recordsTopic); got != 2 {
		t.Errorf("benchpipe_sink_kafka_resets_total = %v, want 2", got)
	}
	if n := count(t, conn, "SELECT next_offset FROM benchpipe.sink_offsets WHERE partition = 0 AND cluster_id <> ''"); n != int64(len(first)+len(second)) {
		t.Errorf("partition 0 position = %d, want %d", n, len(first)+len(second))
	}
}
