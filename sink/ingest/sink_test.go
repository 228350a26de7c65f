package ingest_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

// N records in → exactly N rows, every value equal to what was produced. On kfake and on the real broker.
func TestEndToEndFieldByField(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testEndToEndFieldByField(t, kb) })
	}
}

func testEndToEndFieldByField(t *testing.T, kb testenv.KafkaBackend) {
	e := newEnvOn(t, kb, "")
	var all []schema.Record
	for range 5 {
		all = append(all, makeRun(40)...)
	}
	produce(t, e.brokers, e.topic, all)
	e.startSink(t)
	conn := connect(t, e.dbURL)
	waitRows(t, conn, "samples", 5*40, 30*time.Second)
	waitFor(t, 10*time.Second, "5 finished runs", func() (bool, string) {
		n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'")
		return n == 5, ""
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 200 {
		t.Fatalf("samples rows = %d, want 200", n)
	}

	ctx := context.Background()
	for _, r := range all {
		switch r.Type {
		case schema.TypeSample:
			row, err := conn.Query(ctx, "SELECT "+strings.Join(schema.SampleColumns, ", ")+" FROM samples WHERE run_id = $1 AND seq = $2", r.RunID, r.Seq)
			if err != nil {
				t.Fatal(err)
			}
			vals := collectOne(t, row)
			want := r.SampleRow()
			for i, col := range schema.SampleColumns {
				if !equalValue(vals[i], want[i]) {
					t.Errorf("run %s seq %d column %s = %v (%T), want %v (%T)", r.RunID, r.Seq, col, vals[i], vals[i], want[i], want[i])
				}
			}
		case schema.TypeRunStarted, schema.TypeRunFinished:
			var cols []string
			var want []any
			if r.Type == schema.TypeRunFinished {
				cols, want = schema.RunFinishedColumns, r.RunFinishedRow()
			} else {
				cols, want = schema.RunStartedColumns, r.RunStartedRow()
			}
			row, err := conn.Query(ctx, "SELECT "+strings.Join(cols, ", ")+" FROM runs WHERE run_id = $1", r.RunID)
			if err != nil {
				t.Fatal(err)
			}
			vals := collectOne(t, row)
			for i, col := range cols {
				if !equalValue(vals[i], want[i]) {
					t.Errorf("run %s column %s = %v (%T), want %v (%T)", r.RunID, col, vals[i], vals[i], want[i], want[i])
				}
			}
		}
	}
}

// A producer that crashed and resent its spool delivers records twice, at new offsets: no duplicate rows. On kfake
// and on the real broker, whose offsets the sink's stored positions must add up to.
func TestProducerResendIsDeduplicated(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testProducerResendIsDeduplicated(t, kb) })
	}
}

func testProducerResendIsDeduplicated(t *testing.T, kb testenv.KafkaBackend) {
	e := newEnvOn(t, kb, "")
	run := makeRun(20)
	produce(t, e.brokers, e.topic, run)
	produce(t, e.brokers, e.topic, run[5:]) // the resend, including run_finished
	produce(t, e.brokers, e.topic, run[:1]) // and an old run_started after the run_finished
	e.startSink(t)
	conn := connect(t, e.dbURL)
	waitFor(t, 20*time.Second, "all records consumed", func() (bool, string) {
		n := count(t, conn, "SELECT coalesce(sum(next_offset), 0) FROM benchpipe.sink_offsets")
		return n == int64(len(run)+len(run)-5+1), ""
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 20 {
		t.Fatalf("samples = %d, want 20 (duplicates dropped)", n)
	}
	var status, kind string
	if err := conn.QueryRow(context.Background(), "SELECT status, kind FROM runs").Scan(&status, &kind); err != nil {
		t.Fatal(err)
	}
	if status != "ok" || kind != "mqtt" {
		t.Fatalf("run status/kind = %s/%s: a late run_started must not undo run_finished", status, kind)
	}
}

// Bad records go to the dead-letter topic with the reason and origin; the good ones around them are written. On
// kfake and on the real broker.
func TestPoisonRecordsGoToDeadLetterTopic(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testPoisonRecordsGoToDeadLetterTopic(t, kb) })
	}
}

func testPoisonRecordsGoToDeadLetterTopic(t *testing.T, kb testenv.KafkaBackend) {
	e := newEnvOn(t, kb, "")
	if e.kafka == nil {
		// A real broker refuses records over its message.max.bytes (1 MiB by default) unless the topic allows more:
		// the huge poison record below needs a records topic that takes it. The dead-letter topic keeps the
		// default, which the sink's dead letter of it must fit.
		e.allowLargeRecords(t, 4<<20, e.topic)
	}
	good := makeRun(10)
	id := uuid.Must(uuid.NewV7())
	wrongType := `{"v":1,"type":"sample","run_id":"` + id.String() + `","seq":"three","time":"2026-01-01T00:00:00Z"}`
	futureVersion := `{"v":3,"type":"sample","run_id":"` + id.String() + `","seq":3,"time":"2026-01-01T00:00:00Z"}`
	badOrder := strings.Replace(mustEncode(t, good[3]), `"p99_ms":`, `"p99_ms":-`, 1)
	huge := `{"v":1,"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	manyCores := strings.Replace(mustEncode(t, makeRun(1)[0]), `"cpu_cores":4`, `"cpu_cores":5000000000`, 1)
	// Valid JSON and a valid record, but PostgreSQL refuses NUL in text: found by the savepoint probe.
	nulName := strings.Replace(mustEncode(t, makeRun(1)[0]), `"name":"e2e"`, `"name":"e\u0000e"`, 1)
	poison := []struct{ value, reason string }{
		{`{not json`, "invalid character"},
		{wrongType, "seq"},
		{futureVersion, "version 3 is not supported"},
		{badOrder, "p99_ms"},
		{huge, "record too large"},
		{manyCores, "cpu_cores"},
		{nulName, "database: "},
	}
	var krs []*kgo.Record
	for i, r := range good {
		krs = append(krs, &kgo.Record{Key: r.Key(), Value: []byte(mustEncode(t, r))})
		if i < len(poison) {
			krs = append(krs, &kgo.Record{Value: []byte(poison[i].value), Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}})
		}
	}
	produceRaw(t, e.brokers, e.topic, krs...)
	e.startSink(t)
	conn := connect(t, e.dbURL)
	waitRows(t, conn, "samples", 10, 30*time.Second)

	dead := testenv.Consume(t, e.brokers, e.cfg.Sink.DeadLetterTopic, len(poison), 20*time.Second)
	if len(dead) != len(poison) {
		t.Fatalf("dead-letter topic has %d records, want %d", len(dead), len(poison))
	}
	for _, d := range dead {
		h := headers(d)
		matched := false
		for _, p := range poison {
			if strings.HasPrefix(string(d.Value), p.value[:min(len(p.value), 200)]) && strings.Contains(h[ingest.HeaderError], p.reason) {
				matched = true
			}
		}
		if !matched {
			t.Errorf("dead letter with error %q matches no poison record", h[ingest.HeaderError])
		}
		if h[ingest.HeaderTopic] != e.topic || h[ingest.HeaderPartition] == "" || h[ingest.HeaderOffset] == "" || h[ingest.HeaderTime] == "" || h[ingest.HeaderTimestamp] == "" {
			t.Errorf("dead letter headers incomplete: %v", h)
		}
		if h["origin"] != "test" {
			t.Errorf("original headers not kept: %v", h)
		}
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 1 {
		t.Fatalf("finished runs = %d, want the good run written around the poison", n)
	}
}

// Two sinks in one group share the partitions; together they write every record once. On kfake and on the real
// broker (its group coordinator).
func TestTwoSinksShareTheGroup(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			e := newEnvOn(t, kb, "")
			var all []schema.Record
			for range 20 {
				all = append(all, makeRun(50)...)
			}
			e.startSink(t)
			e.startSink(t)
			produce(t, e.brokers, e.topic, all)
			conn := connect(t, e.dbURL)
			waitRows(t, conn, "samples", 1000, 60*time.Second)
			time.Sleep(300 * time.Millisecond)
			if n := count(t, conn, "SELECT count(*) FROM samples"); n != 1000 {
				t.Fatalf("samples = %d, want 1000", n)
			}
			if n := count(t, conn, "SELECT count(*) FROM runs WHERE status='ok'"); n != 20 {
				t.Fatalf("runs = %d, want 20", n)
			}
		})
	}
}

// PostgreSQL restarted mid-ingest: the sink retries, recovers by itself, and nothing is lost or doubled.
func TestPostgresRestartMidIngest(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testPostgresRestartMidIngest(t, kb) })
	}
}

func testPostgresRestartMidIngest(t *testing.T, kb testenv.KafkaBackend) {
	pg := testenv.OwnPostgres(t)
	e := newEnvOn(t, kb, pg.URL("postgres"))
	e.cfg.Sink.BatchSize = 500
	e.startSink(t)
	conn := connect(t, e.dbURL)

	var all []schema.Record
	for range 40 {
		all = append(all, makeRun(100)...)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < len(all); i += 400 {
			produce(t, e.brokers, e.topic, all[i:min(i+400, len(all))])
			time.Sleep(20 * time.Millisecond)
		}
	}()
	waitRows(t, conn, "samples", 500, 30*time.Second)
	conn.Close(context.Background())
	if err := pg.Restart(); err != nil {
		t.Fatal(err)
	}
	<-done
	conn = connect(t, e.dbURL)
	waitRows(t, conn, "samples", 4000, 60*time.Second)
	time.Sleep(300 * time.Millisecond)
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 4000 {
		t.Fatalf("samples = %d after a restart, want exactly 4000", n)
	}
	if n := count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'"); n != 40 {
		t.Fatalf("finished runs = %d, want 40", n)
	}
}

// /readyz, /metrics: what the sink reports about the records it consumed and wrote. On kfake and on the real broker.
func TestHealthEndpoints(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) { testHealthEndpoints(t, kb) })
	}
}

func testHealthEndpoints(t *testing.T, kb testenv.KafkaBackend) {
	e := newEnvOn(t, kb, "")
	s, err := ingest.New(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done; s.Close() }()
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	produce(t, e.brokers, e.topic, makeRun(3))
	waitFor(t, 20*time.Second, "/readyz to report ready", func() (bool, string) {
		resp, err := srv.Client().Get(srv.URL + "/readyz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	conn := connect(t, e.dbURL)
	waitRows(t, conn, "samples", 3, 20*time.Second)
	// The counters move just after the commit that made the rows visible: read until they have.
	var body string
	waitFor(t, 10*time.Second, "/metrics to count the rows", func() (bool, string) {
		resp, err := srv.Client().Get(srv.URL + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		body = string(b)
		return err == nil && strings.Contains(body, `benchpipe_sink_rows_total{table="samples"} 3`), ""
	})
	for _, want := range []string{`benchpipe_sink_records_consumed_total{topic="` + e.topic + `"} 5`, `benchpipe_sink_rows_total{table="samples"} 3`, "benchpipe_sink_write_seconds_bucket", "benchpipe_sink_consumer_lag{"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func mustEncode(t *testing.T, r schema.Record) string {
	b, err := schema.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func headers(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func collectOne(t *testing.T, rows interface {
	Next() bool
	Values() ([]any, error)
	Close()
	Err() error
}) []any {
	t.Helper()
	defer rows.Close()
	if !rows.Next() {
		t.Fatalf("row not found (err %v)", rows.Err())
	}
	v, err := rows.Values()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// equalValue compares a database value with the Go value the sink wrote.
func equalValue(got, want any) bool {
	switch w := want.(type) {
	case nil:
		return got == nil
	case time.Time:
		g, ok := got.(time.Time)
		return ok && g.Equal(w)
	case uuid.UUID:
		g, ok := got.([16]byte)
		return ok && uuid.UUID(g) == w
	case json.RawMessage:
		var a, b any
		gb, _ := json.Marshal(got)
		_ = json.Unmarshal(gb, &a)
		_ = json.Unmarshal(w, &b)
		ab, _ := json.Marshal(a)
		bb, _ := json.Marshal(b)
		return string(ab) == string(bb)
	case int:
		g, ok := got.(int32)
		return ok && int(g) == w
	case int64:
		g, ok := got.(int64)
		return ok && g == w
	case float64:
		g, ok := got.(float64)
		return ok && g == w
	case string:
		g, ok := got.(string)
		return ok && g == w
	}
	return false
}

// Sample rows the database refuses are found by the probe and dead-lettered, the rest of their batch written (the
// sink writes samples to COPY typed, straight from the record): here an operator added checks on two columns, and
// two valid records break one each.
func TestRefusedSamplesGoToDeadLetterTopic(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			e := newEnvOn(t, kb, "")
			conn := connect(t, e.dbURL)
			for _, sql := range []string{
				"ALTER TABLE samples ADD CONSTRAINT errors_below_a_million CHECK (errors < 1000000)",
				"ALTER TABLE samples ADD CONSTRAINT out_of_order_fits_int4 CHECK (mqtt_out_of_order < 2147483648)",
			} {
				if _, err := conn.Exec(context.Background(), sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			run := makeRun(10)
			run[3].Sample.Errors = 5_000_000        // the check refuses it
			run[7].Sample.MQTT.OutOfOrder = 1 << 40 // and this check
			produce(t, e.brokers, e.topic, run)
			e.startSink(t)
			dead := testenv.Consume(t, e.brokers, e.cfg.Sink.DeadLetterTopic, 2, 30*time.Second)
			waitRows(t, conn, "samples", 8, 30*time.Second)
			if len(dead) != 2 {
				t.Fatalf("dead-letter topic has %d records, want 2", len(dead))
			}
			want := map[int64]string{3: "errors_below_a_million", 7: "out_of_order_fits_int4"}
			for _, d := range dead {
				rec, err := schema.Decode(d.Value)
				if err != nil {
					t.Fatal(err)
				}
				if reason := headers(d)[ingest.HeaderError]; !strings.Contains(reason, want[rec.Seq]) || want[rec.Seq] == "" {
					t.Errorf("dead letter of seq %d: error %q, want it to name %q", rec.Seq, reason, want[rec.Seq])
				}
				delete(want, rec.Seq)
			}
			if n := count(t, conn, "SELECT count(*) FROM samples WHERE run_id = $1 AND seq NOT IN (3, 7)", run[0].RunID); n != 8 {
				t.Errorf("%d of the 8 good samples written", n)
			}
			if n := count(t, conn, "SELECT count(*) FROM samples"); n != 8 {
				t.Errorf("samples holds %d rows, want 8", n)
			}
		})
	}
}
