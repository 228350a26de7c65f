package publish_test

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/producer/publish"
)

// putRaw appends v to the spool's record queue as the next entry, the way a torn or corrupted write would leave it.
func putRaw(t *testing.T, dir string, v []byte) uint64 {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(dir, "spool.db"), 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id uint64
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("records"))
		id, err = b.NextSequence()
		if err != nil {
			return err
		}
		return b.Put(binary.BigEndian.AppendUint64(nil, id), v)
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// TestCorruptEntriesAreQuarantined: two unreadable entries sit in the spool between good ones (a truncated one,
// and one whose topic Kafka would refuse forever). Status still works and names them; delivery moves them to
// quarantine, with their reasons, and every good record arrives, in order; nothing is deleted.
func TestCorruptEntriesAreQuarantined(t *testing.T) {
	port := freePort(t)
	dir := t.TempDir()
	cfg := testConfig(dir, addr(port))
	idA, runA := runRecords(3)
	idB, runB := runRecords(4)

	// Run A is spooled while Kafka is down; then the two unreadable entries; run B comes with the next start.
	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runA {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	closeNowT(p)
	truncated := putRaw(t, dir, []byte{1, 2, 3})
	// Version 1, time, seq, then a topic with a space and a slash in it.
	bad := []byte{1}
	bad = binary.BigEndian.AppendUint64(bad, uint64(time.Now().UnixNano()))
	bad = binary.BigEndian.AppendUint64(bad, 3)
	bad = binary.AppendUvarint(bad, uint64(len("no such/topic")))
	bad = append(bad, "no such/topic"...)
	bad = binary.AppendUvarint(bad, uint64(len(idA.String())))
	bad = append(bad, idA.String()...)
	bad = append(bad, `{}`...)
	wrongTopic := putRaw(t, dir, bad)

	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatalf("Inspect with unreadable entries: %v", err)
	}
	if st.Records != 3 || len(st.Quarantine) != 2 || st.Queued() != 2 {
		t.Fatalf("Inspect before delivery: %d records, quarantine %+v; want 3 records and the 2 unreadable entries still queued", st.Records, st.Quarantine)
	}
	if q := st.Quarantine[0]; q.ID != truncated || !strings.Contains(q.Reason, "truncated header") {
		t.Errorf("first unreadable entry = %+v, want key %d, truncated header", q, truncated)
	}
	if q := st.Quarantine[1]; q.ID != wrongTopic || !strings.Contains(q.Reason, `topic "no such/topic"`) {
		t.Errorf("second unreadable entry = %+v, want key %d, the bad topic", q, wrongTopic)
	}

	brokers := kafkaOn(t, port)
	p, err = publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)), publish.WithKafkaOptions(fastRedial...))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range runB {
		if err := p.Publish(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v; delivery must go on past unreadable entries", err)
	}
	if s := p.Stats(); s.Delivered != 7 || s.Quarantined != 2 || s.Pending != 0 {
		t.Errorf("stats = %+v; want 7 delivered, 2 quarantined, 0 pending", s)
	}
	d := decodeAll(t, consumeAll(t, brokers))
	if a, b := len(d.seqs[idA]), len(d.seqs[idB]); a != 3 || b != 4 || d.duplicates != 0 {
		t.Errorf("Kafka holds %d records of run A and %d of run B (%d duplicates), want exactly 3 and 4", a, b, d.duplicates)
	}
	assertComplete(t, d, map[uuid.UUID]int{idA: 3, idB: 4})

	st, err = publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Records != 0 || len(st.Quarantine) != 2 || st.Queued() != 0 {
		t.Fatalf("Inspect after delivery: %d records, quarantine %+v; want none waiting and 2 in quarantine", st.Records, st.Quarantine)
	}
	for i, want := range []uint64{truncated, wrongTopic} {
		if q := st.Quarantine[i]; q.ID != want || q.At.IsZero() || q.Reason == "" || q.Bytes == 0 {
			t.Errorf("quarantine[%d] = %+v, want key %d with its reason, time and size", i, q, want)
		}
	}
}

func closeNowT(p *publish.Publisher) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_ = p.Close(ctx)
}
