package publish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Status describes what waits in a spool for Kafka.
type Status struct {
	Dir       string `json:"dir"`
	FileBytes int64  `json:"file_bytes"` // size of spool.db on disk; freed pages are reused, and given back by compaction
	UsedBytes int64  `json:"used_bytes"` // how much of the file is in use; the rest is free pages and growth allocated ahead
	// MaxBytes is the cap (producer.spool_max_bytes) of the running producer when Live is set; Inspect cannot know
	// it otherwise and leaves it 0 (`producer spool status` fills in the configuration's).
	MaxBytes int64       `json:"max_bytes,omitempty"`
	Records  int64       `json:"records"` // records waiting
	Bytes    int64       `json:"bytes"`   // their size in the spool
	Oldest   time.Time   `json:"oldest,omitzero"`
	Newest   time.Time   `json:"newest,omitzero"` // Record.Time of the first and the last waiting record
	Runs     []RunStatus `json:"runs,omitempty"`  // in spool order; nil when Live is set
	Live     *Live       `json:"live,omitempty"`  // set when a running producer holds the spool
	// Quarantine lists the entries nothing could read, kept aside so that delivery goes on without them, in
	// their original order. Not counted in Records.
	Quarantine []Quarantined `json:"quarantine,omitempty"`
}

// Quarantined is an unreadable spool entry: corrupt on disk, or written by a newer build. It is never deleted
// and never sent.
type Quarantined struct {
	ID     uint64    `json:"id"` // its key in the spool, which is its place in the original order
	Bytes  int       `json:"bytes"`
	Reason string    `json:"reason"`
	At     time.Time `json:"quarantined_at,omitzero"` // zero while still in the queue: the next delivery moves it
}

// Queued reports how many entries of st.Quarantine are still in the record queue, waiting to be moved aside by the
// next producer run or `producer spool flush`.
func (st Status) Queued() int {
	n := 0
	for _, q := range st.Quarantine {
		if q.At.IsZero() {
			n++
		}
	}
	return n
}

// RunStatus is what waits for one run.
type RunStatus struct {
	RunID   string    `json:"run_id"`
	Records int64     `json:"records"`
	MinSeq  int64     `json:"min_seq"`
	MaxSeq  int64     `json:"max_seq"`
	Oldest  time.Time `json:"oldest"`
	Newest  time.Time `json:"newest"`
}

// Live is what a running producer reports about the spool it holds. The database is locked while it runs, so
// Inspect reads this snapshot instead, which the producer refreshes every second; the per-run list is not in it.
type Live struct {
	PID       int       `json:"pid"`
	Updated   time.Time `json:"updated"`
	Spooled   int64     `json:"spooled"`   // since that producer opened the spool
	Delivered int64     `json:"delivered"` // since that producer opened the spool
	LastError string    `json:"last_error,omitempty"`
}

// inspectLockTimeout is how long Inspect waits for the shared lock before it falls back to the live snapshot.
const inspectLockTimeout = 200 * time.Millisecond

// Inspect reports what waits in the spool in dir without Kafka and without changing anything. A directory or
// spool file that does not exist is an empty spool. When a running producer holds the spool, Inspect returns
// that producer's latest snapshot with Live set, or an error matching ErrSpoolInUse if it has none.
func Inspect(dir string) (Status, error) {
	st := Status{Dir: dir}
	path := filepath.Join(dir, dbFile)
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspect spool: %w", err)
	}
	st.FileBytes = fi.Size()
	// PreLoadFreelist: the free page count is how UsedBytes is known.
	db, err := lockedOpen(path, &bbolt.Options{ReadOnly: true, Timeout: inspectLockTimeout, PreLoadFreelist: true})
	if errors.Is(err, berrors.ErrTimeout) {
		snap, serr := readSnapshot(dir)
		if serr != nil {
			return st, fmt.Errorf("inspect spool: %w", inUseError(dir))
		}
		snap.Dir, snap.FileBytes = dir, st.FileBytes
		return snap, nil
	}
	if err != nil {
		return st, fmt.Errorf("inspect spool %s: %w", path, err)
	}
	defer db.Close()
	if u, err := spoolUsage(db, path, db.Info().PageSize); err == nil {
		st.FileBytes, st.UsedBytes = u.file, u.used
	}
	runs := map[string]int{} // run id → index in st.Runs
	err = db.View(func(tx *bbolt.Tx) error {
		st.Quarantine = listQuarantine(tx)
		scan(tx, func(e entry, size int) {
			st.Records++
			st.Bytes += int64(size)
			if st.Oldest.IsZero() {
				st.Oldest = e.time
			}
			st.Newest = e.time
			i, ok := runs[string(e.key)]
			if !ok {
				i = len(st.Runs)
				runs[string(e.key)] = i
				st.Runs = append(st.Runs, RunStatus{RunID: string(e.key), MinSeq: e.seq, MaxSeq: e.seq, Oldest: e.time})
			}
			r := &st.Runs[i]
			r.Records++
			r.MinSeq, r.MaxSeq = min(r.MinSeq, e.seq), max(r.MaxSeq, e.seq)
			r.Newest = e.time
		}, func(b badEntry) {
			st.Quarantine = append(st.Quarantine, Quarantined{ID: b.id, Bytes: b.size, Reason: b.reason})
		})
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("inspect spool %s: %w", path, err)
	}
	return st, nil
}

func readSnapshot(dir string) (Status, error) {
	var st Status
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("read %s: %w", statusFile, err)
	}
	if st.Live == nil {
		return st, fmt.Errorf("read %s: no live section", statusFile)
	}
	return st, nil
}

// statusLoop keeps status.json current while the Publisher runs, so `spool status` can report on a spool that
// this process has locked. It writes only after something changed.
func (p *Publisher) statusLoop(ctx context.Context) {
	t := time.NewTicker(p.o.statusInterval)
	defer t.Stop()
	written := int64(-1)
	for {
		if v := p.version.Load(); v != written {
			if err := p.writeSnapshot(); err != nil {
				// The snapshot is a convenience for `spool status`; the spool itself is unaffected.
				p.log.Debug("write spool status snapshot", "err", err)
			}
			written = v
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

func (p *Publisher) writeSnapshot() error {
	s := p.Stats()
	st := Status{
		Records: s.Pending,
		Bytes:   s.PendingBytes,
		Live:    &Live{PID: os.Getpid(), Updated: time.Now().UTC(), Spooled: s.Spooled, Delivered: s.Delivered},
	}
	if s.LastError != nil {
		st.Live.LastError = s.LastError.Error()
	}
	p.dbMu.RLock()
	_ = p.db.View(func(tx *bbolt.Tx) error {
		st.Oldest, st.Newest = ends(tx)
		st.Quarantine = listQuarantine(tx)
		return nil
	})
	if u, err := spoolUsage(p.db, filepath.Join(p.dir, dbFile), p.page); err == nil {
		st.UsedBytes = u.used
	}
	p.dbMu.RUnlock()
	st.MaxBytes = p.maxBytes
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(p.dir, statusFile+".*")
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), filepath.Join(p.dir, statusFile))
}
