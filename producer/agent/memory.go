package agent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	"go.etcd.io/bbolt"

	"github.com/benchpipe/benchpipe/schema"
)

// MemoryFile is the agent's job memory in fleet.state_dir.
const MemoryFile = "agent.db"

var jobsBucket = []byte("jobs")

// memory remembers every job id the agent has seen and how far it got, so that a job runs at most once: a replayed
// or redelivered job message, or one seen again after a restart, finds its id here and is not run again. A job is
// written down as accepted before its run starts (and fsync'd: bbolt commits are durable), so even a crash
// between the two cannot make it run twice.
type memory struct {
	db *bbolt.DB
}

// jobNote is what the memory keeps of one job.
type jobNote struct {
	State  string        `json:"state"` // a schema.Job* state
	RunID  *uuid.UUID    `json:"run_id,omitempty"`
	Status schema.Status `json:"status,omitempty"`
	Reason string        `json:"reason,omitempty"`
	At     time.Time     `json:"at"`
}

// unfinished reports whether a job in this state was taken and its end not reported.
func (n jobNote) unfinished() bool {
	return n.State == schema.JobAccepted || n.State == schema.JobRunning
}

func openMemory(dir string) (*memory, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("job memory: %w", err)
	}
	path := filepath.Join(dir, MemoryFile)
	// Two agents on one state directory would each believe they own the jobs: the lock refuses the second.
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("job memory %s: %w (is another agent using fleet.state_dir?)", path, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(jobsBucket)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("job memory %s: %w", path, err)
	}
	return &memory{db: db}, nil
}

func (m *memory) close() error { return m.db.Close() }

// get returns the note of job id, and whether there is one.
func (m *memory) get(id uuid.UUID) (jobNote, bool, error) {
	var n jobNote
	found := false
	err := m.db.View(func(tx *bbolt.Tx) error {
		v := tx.Bucket(jobsBucket).Get([]byte(id.String()))
		if v == nil {
			return nil
		}
		found = true
		return json.Unmarshal(v, &n)
	})
	if err != nil {
		return jobNote{}, false, fmt.Errorf("job memory: read job %s: %w", id, err)
	}
	return n, found, nil
}

// put records job id's note (durably, before returning).
func (m *memory) put(id uuid.UUID, n jobNote) error {
	if n.At.IsZero() {
		n.At = time.Now().UTC()
	}
	v, err := json.Marshal(n)
	if err != nil {
		return err
	}
	if err := m.db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket(jobsBucket).Put([]byte(id.String()), v)
	}); err != nil {
		return fmt.Errorf("job memory: write job %s: %w", id, err)
	}
	return nil
}

// unfinished returns the jobs that were accepted or running when the agent last stopped.
func (m *memory) unfinished() (map[uuid.UUID]jobNote, error) {
	out := map[uuid.UUID]jobNote{}
	err := m.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(jobsBucket).ForEach(func(k, v []byte) error {
			var n jobNote
			if json.Unmarshal(v, &n) != nil || !n.unfinished() {
				return nil
			}
			id, err := uuid.ParseBytes(k)
			if err != nil {
				return nil
			}
			out[id] = n
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("job memory: %w", err)
	}
	return out, nil
}
