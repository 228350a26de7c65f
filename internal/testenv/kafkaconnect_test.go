package testenv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// A standalone Kafka Connect worker with the Debezium JDBC sink, fed schema'd records from the real broker, writes
// exactly the rows benchpipe's sink would write: the harness sink/bench compares the sink with is the real thing.
func TestKafkaConnectJDBCSinkWritesEveryRecord(t *testing.T) {
	testenv.Tool(t, "java", testenv.InstallJava)
	mvn := testenv.Tool(t, "mvn", testenv.InstallJava)
	b := testenv.ApacheKafka(t) // skips (or fails under BENCHPIPE_REQUIRE_TOOLS) without Java 17+
	java, _, err := testenv.KafkaTools()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	lib, err := testenv.KafkaConnectLib(ctx, mvn)
	if err != nil {
		t.Fatal(err)
	}

	dbURL := testenv.DatabaseURL(t)
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := schema.Migrate(ctx, conn); err != nil {
		t.Fatal(err)
	}
	var ns string
	if err := conn.QueryRow(ctx, "SELECT relnamespace::regnamespace::text FROM pg_class WHERE oid = 'samples'::regclass").Scan(&ns); err != nil {
		t.Fatal(err)
	}
	table := ns + ".samples"

	// 1,000 sample records over two runs; every third without MQTT figures, so NULLs travel too.
	const n = 1000
	var recs []schema.Record
	t0 := time.Date(2026, 12, 3, 4, 0, 0, 123456000, time.UTC)
	runs := []uuid.UUID{uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())}
	for i := range n {
		start := t0.Add(time.Duration(i) * time.Second)
		f := schema.Figures{Ops: int64(1000 + i), OpsRate: float64(1000+i) + 0.25, Bytes: int64(i) * 100, Errors: int64(i % 3),
			Latency: &schema.Latency{MinMs: 0.113, MeanMs: 1.52, P50Ms: 1.25, P90Ms: 2.51, P95Ms: 3.07, P99Ms: 4.61, P999Ms: 12.3, MaxMs: float64(i) / 7}}
		if i%3 != 0 {
			f.MQTT = &schema.MQTTFigures{Sent: int64(i), Received: int64(i) - 1, Lost: 1, OutOfOrder: int64(i % 2), OfferedRate: 10000,
				UncorrectedP50Ms: 1.1, UncorrectedP99Ms: 4.2, UncorrectedMaxMs: 19.5}
		}
		phase := schema.PhaseMeasure
		if i%500 < 10 {
			phase = schema.PhaseWarmup
		}
		recs = append(recs, schema.Record{V: 1, Type: schema.TypeSample, RunID: runs[i/500], Seq: int64(i%500 + 1), Time: start.Add(time.Second),
			Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: phase, Figures: f}})
	}

	// The expected rows, written the sink's way (binary COPY of SampleRow) into a table of the same shape.
	if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s.expected (LIKE %s)", ns, table)); err != nil {
		t.Fatal(err)
	}
	rows := make([][]any, 0, n)
	for _, r := range recs {
		rows = append(rows, r.SampleRow())
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{ns, "expected"}, schema.SampleColumns, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}

	topic := testenv.UniqueName(t, "connect")
	b.CreateTopics(t, 3, topic)
	fields, err := testenv.ConnectFields(ctx, conn, table, schema.SampleColumns)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Brokers()...), kgo.DefaultProduceTopic(topic))
	if err != nil {
		t.Fatal(err)
	}
	var krs []*kgo.Record
	for i := range recs {
		v, err := testenv.ConnectRecord(fields, recs[i].SampleRow())
		if err != nil {
			t.Fatal(err)
		}
		krs = append(krs, &kgo.Record{Key: recs[i].Key(), Value: v})
	}
	err = cl.ProduceSync(ctx, krs...).FirstErr()
	cl.Close()
	if err != nil {
		t.Fatal(err)
	}

	props, err := testenv.DebeziumJDBCSink(testenv.JDBCSinkOptions{Name: testenv.UniqueName(t, "jdbc"), Topic: topic,
		DatabaseURL: dbURL, Table: table, Tasks: 2, BatchSize: 300})
	if err != nil {
		t.Fatal(err)
	}
	kc, err := testenv.StartKafkaConnect(ctx, java, lib, testenv.KafkaConnectOptions{
		Brokers: []string{b.Listeners["INTERNAL"]}, Connector: props})
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Remove()
	t.Logf("Kafka Connect running in %v", kc.StartTime.Round(time.Millisecond))

	count := func() int64 {
		var c int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	deadline := time.Now().Add(2 * time.Minute)
	for count() < n {
		if err := kc.Failed(ctx); err != nil {
			t.Fatalf("%v\n%s", err, kc.LogTail(4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d rows after 2 minutes\n%s", count(), n, kc.LogTail(4000))
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // nothing more may come: every record once
	if got := count(); got != n {
		t.Fatalf("%d rows, want exactly %d", got, n)
	}
	for _, q := range []string{
		fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s EXCEPT ALL SELECT * FROM %s.expected) d", table, ns),
		fmt.Sprintf("SELECT count(*) FROM (SELECT * FROM %s.expected EXCEPT ALL SELECT * FROM %s) d", ns, table),
	} {
		var diff int64
		if err := conn.QueryRow(ctx, q).Scan(&diff); err != nil {
			t.Fatal(err)
		}
		if diff != 0 {
			t.Errorf("%s = %d, want 0: Kafka Connect's rows differ from the expected ones", q, diff)
		}
	}
}
