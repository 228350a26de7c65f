package ingest_test

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/sink/ingest"
)

const perftoolTopic = "perftool-sinetstream-result"

// perftoolLine is one thread's result as SINETStream's perftool prints it, with the wrapper's "name".
func perftoolLine(name string, thread int, start float64, rate float64) string {
	side := func(kind float64) string {
		r := rate * kind
		return `{"thread_number":` + itoa(thread) + `,"start_time":` + ftoa(start) + `,"start_time_ms":` + ftoa(start*1000) +
			`,"end_time":` + ftoa(start+10) + `,"end_time_ms":` + ftoa((start+10)*1000) + `,"time":10,"time_ms":10000` +
			`,"msg_count_total":1000,"msg_count_rate":100,"msg_bytes_total":` + ftoa(r*10) + `,"msg_bytes_rate":` + ftoa(r) +
			`,"msg_size_min":1024,"msg_size_max":1024,"msg_size_avg":1024,"error_count_total":0,"error_count_rate":0}`
	}
	return `{"name":"` + name + `","writer":` + side(1) + `,"reader":` + side(0.99) + `}`
}

// v3 frames a payload byte by byte as SINETStream's message format v3 (unencrypted): DF 03 00 00, key version
// 00 00, then the v2 body: Avro single-object marker C3 01, the schema fingerprint, and the record {tstamp: long
// (zig-zag varint, µs), msg: bytes (zig-zag varint length, bytes)}.
func v3(tstamp time.Time, payload string, keyVersion uint16) []byte {
	b := []byte{0xDF, 0x03, 0x00, 0x00}
	b = binary.BigEndian.AppendUint16(b, keyVersion)
	b = append(b, 0xC3, 0x01, 0x1F, 0x9C, 0x0C, 0x91, 0xEB, 0x33, 0x66, 0x4F)
	b = binary.AppendVarint(b, tstamp.UnixMicro()) // Go's Varint is zig-zag, as Avro's long
	b = binary.AppendVarint(b, int64(len(payload)))
	return append(b, payload...)
}

func TestPerftoolTopicLandsInViewerTables(t *testing.T) {
	_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, perftoolTopic), kfake.SeedTopics(1, "benchpipe.dead-letter"), kfake.SeedTopics(1, recordsTopic))
	cfg := config.Default()
	cfg.Kafka.Brokers = brokers
	cfg.Topics = append(cfg.Topics, config.Topic{Name: perftoolTopic, Format: config.FormatSINETStream, Partitions: 1, ReplicationFactor: 1})
	cfg.Sink.DatabaseURL = testenv.DatabaseURL(t)
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	e := &env{cfg: &cfg, brokers: brokers, dbURL: cfg.Sink.DatabaseURL}
	if err := ingest.Migrate(context.Background(), &cfg, discard()); err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 23, 10, 0, 5, 0, time.UTC)
	start := float64(ts.Unix()) - 10
	good := []*kgo.Record{
		{Value: v3(ts, perftoolLine("pi-1", 0, start, 1000), 0)},
		{Value: v3(ts, perftoolLine("pi-1", 1, start, 2000), 0)},
		{Value: v3(ts, perftoolLine("pi-1", 1, start, 2000), 0)}, // a duplicated delivery
		{Value: []byte(perftoolLine("pi-2", 0, start, 500)), Timestamp: ts},
	}
	bad := []struct {
		value  []byte
		reason string
	}{
		{v3(ts, perftoolLine("pi-1", 2, start, 1), 2), "encrypted"},
		{v3(ts, perftoolLine("pi-1", 2, start, 1), 0)[:20], "truncated"},
		{append([]byte{0xDF, 0x04, 0, 0}, v3(ts, "{}", 0)[4:]...), "version"},
		{v3(ts, `{"name":"pi-1","writer":{"thread_number":"zero"}}`, 0), "thread_number"},
	}
	recs := good
	for _, b := range bad {
		recs = append(recs, &kgo.Record{Value: b.value})
	}
	produceRaw(t, brokers, perftoolTopic, recs...)
	e.startSink(t)
	conn := connect(t, cfg.Sink.DatabaseURL)
	waitRows(t, conn, "perftool", 3, 20*time.Second)

	// The seed viewer's query shape, run as SQL on the table and the views.
	var n int
	var readerRate, writerRate float64
	var got time.Time
	err := conn.QueryRow(context.Background(), `SELECT count(*) OVER (), "timestamp", reader_bytes_rate, writer_bytes_rate FROM perftool
		WHERE publisher = $1 AND "timestamp" >= $2 AND "timestamp" <= $3 AND thread_number = 1 ORDER BY "timestamp"`,
		"pi-1", ts.Add(-time.Hour), ts.Add(time.Hour)).Scan(&n, &got, &readerRate, &writerRate)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 || writerRate != 2000 || readerRate != 1980 {
		t.Errorf("pi-1 thread 1: %d rows, writer %v reader %v; want 1 row (duplicate dropped), 2000 and 1980", n, writerRate, readerRate)
	}
	var sum float64
	if err := conn.QueryRow(context.Background(), `SELECT writer_bytes_rate FROM perftool_1min WHERE publisher = $1`, "pi-1").Scan(&sum); err != nil {
		t.Fatal(err)
	}
	if sum != 3000 {
		t.Errorf("perftool_1min writer_bytes_rate = %v, want 3000: threads that ran together are summed", sum)
	}

	dead := testenv.Consume(t, brokers, "benchpipe.dead-letter", len(bad), 20*time.Second)
	if len(dead) != len(bad) {
		t.Fatalf("dead letters = %d, want %d", len(dead), len(bad))
	}
	for i, d := range dead {
		if reason := headers(d)[ingest.HeaderError]; !strings.Contains(reason, bad[i].reason) {
			t.Errorf("dead letter %d: reason %q, want it to mention %q", i, reason, bad[i].reason)
		}
	}
}
