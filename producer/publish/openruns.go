package publish

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/schema"
)

// A producer killed in the middle of a run (SIGKILL, power loss, OOM) cannot send run_finished, and a run left
// "running" forever is the bug this project was started to fix. So the spool remembers every run that has started
// and not finished, in the same transaction as the record that changed it; the next Open on the device finishes
// such a run as aborted.
//
// Whether the run's producer is still alive is answered by the spool's own file lock, not by a process id: a
// run's records can only be appended by the Publisher that holds the lock, the lock is held as long as that
// Publisher is open, and the kernel releases it when the process dies, however it dies. So when Open has the lock,
// every process that noted an open run has closed the spool or is gone, and no record of that run can follow. A
// process id cannot answer this: a producer running as PID 1 in a container would look alive forever (PID 1
// always exists, in its namespace and on the host), and PIDs are reused. The lock holds across PID namespaces and
// for containers that share the spool volume, because it belongs to the file, not to a PID.
var openRunsKey = []byte("open_runs")

// openRun is the spool's note of an unfinished run, keyed by run id.
type openRun struct {
	PID     int    `json:"pid"` // in its own PID namespace; only for the message that finishes the run
	LastSeq int64  `json:"last_seq"`
	Topic   string `json:"topic"`
}

// runChange is what appending one record does to the open-run notes: started and samples set the note, finished
// removes it. A nil change leaves the notes alone.
type runChange struct {
	id     []byte
	note   *openRun
	delete bool
}

func changeFor(r schema.Record, topic string) *runChange {
	id := []byte(r.RunID.String())
	switch r.Type {
	case schema.TypeRunFinished:
		return &runChange{id: id, delete: true}
	case schema.TypeRunStarted, schema.TypeSample:
		return &runChange{id: id, note: &openRun{PID: os.Getpid(), LastSeq: r.Seq, Topic: topic}}
	}
	return nil
}

func (c *runChange) apply(tx *bbolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(openRunsKey)
	if err != nil {
		return err
	}
	if c.delete {
		return b.Delete(c.id)
	}
	v, err := json.Marshal(c.note)
	if err != nil {
		return err
	}
	return b.Put(c.id, v)
}

// finishOrphans appends a run_finished (aborted) record for every open run. Only Open calls it, holding the spool's
// exclusive lock: every run still open then belongs to a process that has closed the spool or died. It returns
// how many runs it closed.
func finishOrphans(db *bbolt.DB) (int, error) {
	closed := 0
	err := db.Update(func(tx *bbolt.Tx) error {
		notes := tx.Bucket(openRunsKey)
		if notes == nil {
			return nil
		}
		type orphan struct {
			id   []byte
			note openRun
		}
		var orphans []orphan
		err := notes.ForEach(func(k, v []byte) error {
			var n openRun
			if json.Unmarshal(v, &n) != nil {
				return nil
			}
			orphans = append(orphans, orphan{append([]byte(nil), k...), n})
			return nil
		})
		if err != nil {
			return err
		}
		records := tx.Bucket(bucketKey)
		for _, o := range orphans {
			id, err := uuid.ParseBytes(o.id)
			if err != nil {
				if err := notes.Delete(o.id); err != nil {
					return err
				}
				continue
			}
			now := time.Now().UTC()
			rec := schema.Record{V: schema.Version, Type: schema.TypeRunFinished, RunID: id, Seq: o.note.LastSeq + 1, Time: now,
				Finished: &schema.Finished{Status: schema.StatusAborted, FinishedAt: now, Error: fmt.Sprintf(
					"the producer (pid %d) ended without finishing this run (killed, crashed, or its last records could not be written to the spool); the records it spooled up to seq %d were kept",
					o.note.PID, o.note.LastSeq)}}
			value, err := schema.Encode(rec)
			if err != nil {
				return err
			}
			e := entry{time: now, seq: rec.Seq, topic: o.note.Topic, key: rec.Key(), value: value}
			seq, err := records.NextSequence()
			if err != nil {
				return err
			}
			if err := records.Put(idKey(seq), e.marshal()); err != nil {
				return err
			}
			if err := notes.Delete(o.id); err != nil {
				return err
			}
			closed++
		}
		return nil
	})
	return closed, err
}
