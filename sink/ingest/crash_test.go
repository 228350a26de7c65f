package ingest_test

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

const crashChildEnv = "BENCHPIPE_CRASH_CHILD"

// crashChild is the sink process the crash test kills: this test binary re-executed, running a sink with the
// brokers and database from the environment until it is killed.
func crashChild() {
	cfg := config.Default()
	cfg.Kafka.Brokers = strings.Split(os.Getenv("BROKERS"), ",")
	cfg.Sink.DatabaseURL = os.Getenv("DATABASE_URL")
	// The names a Kafka backend gave the test (unique on the shared real broker); the defaults otherwise.
	if v := os.Getenv("TOPIC"); v != "" {
		cfg.Topics[0].Name = v
		cfg.Producer.Topic = v
	}
	if v := os.Getenv("GROUP"); v != "" {
		cfg.Sink.Group = v
	}
	if v := os.Getenv("DEAD_LETTER"); v != "" {
		cfg.Sink.DeadLetterTopic = v
	}
	session := time.Second
	if d, err := time.ParseDuration(os.Getenv("SESSION_TIMEOUT")); err == nil {
		session = d
	}
	cfg.Sink.BatchSize = 1000
	cfg.Sink.FlushInterval = 20 * time.Millisecond
	if d, err := time.ParseDuration(os.Getenv("FLUSH_INTERVAL")); err == nil {
		cfg.Sink.FlushInterval = d
	}
	shutdown := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("SHUTDOWN_TIMEOUT")); err == nil {
		shutdown = d
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	// A killed member holds its partitions until its session expires; a short session lets the next sink in
	// quickly (the broker side allows it, see TestCrashSafetySIGKILL).
	s, err := ingest.New(ctx, &cfg, ingest.WithLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))), ingest.WithShutdownTimeout(shutdown),
		ingest.WithKafkaOptions(kgo.SessionTimeout(session), kgo.RebalanceTimeout(2*time.Second), kgo.HeartbeatInterval(200*time.Millisecond)))
	if err != nil {
		os.Stderr.WriteString(err.Error())
		os.Exit(3)
	}
	_ = s.Run(ctx)
	s.Close()
	os.Exit(0)
}

// The sink is killed with SIGKILL at random points, at least five times, while ≥100k records stream in; after the
// last restart every record is a row exactly once. On kfake and on the real broker's group coordinator.
func TestCrashSafetySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop takes ~30 s; skipped with -short")
	}
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testCrashSafetySIGKILL(t, kb) })
	}
}

func testCrashSafetySIGKILL(t *testing.T, kb testenv.KafkaBackend) {
	var e *env
	session := time.Second
	if kb.Name == testenv.BackendKfake {
		e = newEnv(t, "", kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	} else {
		// docker-compose.yml keeps Kafka's group.min.session.timeout.ms, 6 s; a killed member is dropped at the
		// next rebalance's timeout anyway (2 s, the child's).
		e = newEnvOn(t, kb, "")
		session = 6 * time.Second
	}
	conn := connect(t, e.dbURL)
	const runs, samples = 200, 500 // 200 × 502 = 100,400 records
	var all []schema.Record
	for range runs {
		all = append(all, makeRun(samples)...)
	}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < len(all); i += 5000 {
			produce(t, e.brokers, e.topic, all[i:min(i+5000, len(all))])
			time.Sleep(100 * time.Millisecond)
		}
	}()

	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "BROKERS="+strings.Join(e.brokers, ","), "DATABASE_URL="+e.dbURL,
			"TOPIC="+e.topic, "GROUP="+e.cfg.Sink.Group, "DEAD_LETTER="+e.cfg.Sink.DeadLetterTopic, "SESSION_TIMEOUT="+session.String())
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills := 0
	for kills < 6 {
		before := count(t, conn, "SELECT count(*) FROM samples")
		cmd := start()
		// Kill at a random point once this sink is writing, spread over the whole ingest (kill k after k/7 of the
		// rows), so every kill interrupts an ingest and the last ones come late in it, not all at its start.
		target := max(before+1, int64(kills+1)*runs*samples/7)
		waitFor(t, 60*time.Second, "the restarted sink to write", func() (bool, string) {
			return count(t, conn, "SELECT count(*) FROM samples") >= target, ""
		})
		time.Sleep(time.Duration(rand.IntN(30)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		kills++
		n := count(t, conn, "SELECT count(*) FROM samples")
		if n >= runs*samples {
			t.Fatalf("kill %d came after the last row was written (%d rows): it interrupted nothing", kills, n)
		}
		t.Logf("kill %d: %d sample rows so far", kills, n)
	}
	<-produced
	last := start()
	defer func() { _ = last.Process.Signal(syscall.SIGTERM); _ = last.Wait() }()
	waitRows(t, conn, "samples", runs*samples, 120*time.Second)
	waitFor(t, 30*time.Second, "all runs finished", func() (bool, string) {
		n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'")
		return n == runs, ""
	})
	time.Sleep(500 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != runs*samples {
		t.Fatalf("samples = %d, want exactly %d", n, runs*samples)
	}
	if n := count(t, conn, "SELECT count(*) FROM (SELECT run_id, seq FROM samples GROUP BY 1, 2 HAVING count(*) > 1) d"); n != 0 {
		t.Fatalf("%d duplicated (run_id, seq) pairs", n)
	}
	if n := count(t, conn, "SELECT sum(next_offset) FROM benchpipe.sink_offsets"); n != int64(len(all)) {
		t.Fatalf("stored positions cover %d records, want %d", n, len(all))
	}
	t.Logf("%d kills, %d records, %d rows, no duplicates", kills, len(all), runs*samples)
}
