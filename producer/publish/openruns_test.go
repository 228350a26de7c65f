package publish_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/schema"
)

// A run whose producer died mid-run is finished as aborted by the next Open, with the next sequence number; a run
// finished normally, or one whose producer is still alive, is left alone.
func TestOpenFinishesRunsOfDeadProducers(t *testing.T) {
	dir := t.TempDir()
	cfg := testConfig(dir, addr(freePort(t))) // Kafka down: everything stays in the spool to be inspected

	p, err := publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	orphanID, orphan := runRecords(5) // started + samples, no finished: the producer "dies"
	doneID, done := runRecords(3)
	for _, r := range orphan[:len(orphan)-1] {
		if err := p.Publish(r); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range done {
		if err := p.Publish(r); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()

	// Pretend the orphan's producer was another process that has exited: rewrite its note's pid to a dead one.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	setNotePID(t, dir, orphanID.String(), dead.Process.Pid)

	p, err = publish.Open(context.Background(), cfg, publish.WithLogger(testLogger(t)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()

	st, err := publish.Inspect(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, run := range st.Runs {
		switch run.RunID {
		case orphanID.String():
			if run.Records != int64(len(orphan)) || run.MaxSeq != orphan[len(orphan)-1].Seq {
				t.Errorf("orphan run: %d records up to seq %d, want %d (its records plus an aborted run_finished at seq %d)",
					run.Records, run.MaxSeq, len(orphan), orphan[len(orphan)-1].Seq)
			}
		case doneID.String():
			if run.Records != int64(len(done)) {
				t.Errorf("finished run: %d records, want %d untouched", run.Records, len(done))
			}
		}
	}
	last := lastRecord(t, dir)
	if last.Type != schema.TypeRunFinished || last.RunID != orphanID || last.Finished.Status != schema.StatusAborted ||
		!strings.Contains(last.Finished.Error, "ended without finishing") {
		t.Fatalf("last spooled record = %+v, want an aborted run_finished for the orphan", last)
	}

	// A second Open adds nothing: the note is gone.
	p, err = publish.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 200*time.Millisecond)
	_ = p.Close(ctx)
	cancel()
	if st2, _ := publish.Inspect(dir); st2.Records != st.Records {
		t.Fatalf("second Open changed the spool: %d → %d records", st.Records, st2.Records)
	}
}

func setNotePID(t *testing.T, dir, runID string, pid int) {
	t.Helper()
	db, err := bbolt.Open(dir+"/spool.db", 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("open_runs"))
		v := b.Get([]byte(runID))
		if v == nil {
			t.Fatalf("no open-run note for %s", runID)
		}
		s := string(v)
		i := strings.Index(s, `"pid":`)
		j := strings.Index(s[i:], ",")
		return b.Put([]byte(runID), []byte(s[:i]+`"pid":`+strconv.Itoa(pid)+s[i+j:]))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func lastRecord(t *testing.T, dir string) schema.Record {
	t.Helper()
	db, err := bbolt.Open(dir+"/spool.db", 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rec schema.Record
	err = db.View(func(tx *bbolt.Tx) error {
		_, v := tx.Bucket([]byte("records")).Cursor().Last()
		// The entry's JSON record starts at its first '{'.
		i := strings.IndexByte(string(v), '{')
		var err error
		rec, err = schema.Decode(v[i:])
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}
