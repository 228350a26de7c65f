package publish

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Spool layout: one bucket whose keys are 8-byte big-endian ids from the bucket's own sequence (persisted, so ids
// keep increasing across restarts and an emptied spool), which makes bbolt's key order the append order. Entries
// nothing can read are moved, under the same key, to the quarantine bucket (see quarantineEntries); the open-run
// notes live in their own bucket (openruns.go).
const (
	dbFile       = "spool.db"
	statusFile   = "status.json"
	bucketName   = "records"
	entryVersion = 1
)

var (
	bucketKey     = []byte(bucketName)
	quarantineKey = []byte("quarantine")
)

// entry is one spooled record with what the shipper needs to send it and what Inspect reports without decoding
// the JSON. Encoded as:
//
//	[0]      entryVersion
//	[1:9]    record time, Unix nanoseconds, big-endian
//	[9:17]   record seq, big-endian
//	uvarint  topic length, topic
//	uvarint  key length, key (the run id)
//	rest     the encoded schema.Record
type entry struct {
	id    uint64 // spool key; 0 until stored
	time  time.Time
	seq   int64
	topic string
	key   []byte
	value []byte
}

func (e *entry) marshal() []byte {
	b := make([]byte, 0, 17+2*binary.MaxVarintLen64+len(e.topic)+len(e.key)+len(e.value))
	b = append(b, entryVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(e.time.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.seq))
	b = binary.AppendUvarint(b, uint64(len(e.topic)))
	b = append(b, e.topic...)
	b = binary.AppendUvarint(b, uint64(len(e.key)))
	b = append(b, e.key...)
	return append(b, e.value...)
}

// unmarshalEntry decodes b. The returned entry aliases b; copy b first when it comes from a bbolt transaction
// that ends before the entry is used.
func unmarshalEntry(id uint64, b []byte) (entry, error) {
	bad := func(what string) (entry, error) {
		return entry{}, fmt.Errorf("spool entry %d: %s", id, what)
	}
	if len(b) < 17 {
		return bad("truncated header")
	}
	if b[0] != entryVersion {
		return bad(fmt.Sprintf("format version %d; this build reads %d", b[0], entryVersion))
	}
	e := entry{
		id:   id,
		time: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:9]))).UTC(),
		seq:  int64(binary.BigEndian.Uint64(b[9:17])),
	}
	rest := b[17:]
	field := func() ([]byte, bool) {
		n, w := binary.Uvarint(rest)
		if w <= 0 || n > uint64(len(rest)-w) {
			return nil, false
		}
		f := rest[w : w+int(n)]
		rest = rest[w+int(n):]
		return f, true
	}
	topic, ok := field()
	if !ok {
		return bad("bad topic length")
	}
	if !validTopic(topic) {
		// Kafka would refuse it for good, and everything queued behind it would wait forever.
		return bad(fmt.Sprintf("topic %q is not a Kafka topic name", topic))
	}
	key, ok := field()
	if !ok {
		return bad("bad key length")
	}
	if len(key) == 0 || len(rest) == 0 {
		return bad("empty key or value")
	}
	e.topic, e.key, e.value = string(topic), key, rest
	return e, nil
}

// validTopic reports whether Kafka accepts t as a topic name: 1 to 249 of [a-zA-Z0-9._-].
func validTopic(t []byte) bool {
	if len(t) == 0 || len(t) > 249 {
		return false
	}
	for _, c := range t {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// openDB opens (creating) the spool database in dir for writing, capped at maxBytes (bbolt refuses to grow the
// file past it; Publish refuses records well before, see room.go). The exclusive file lock makes a second process
// fail after lockTimeout with ErrSpoolInUse.
func openDB(dir string, lockTimeout time.Duration, maxBytes int64) (*bbolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	fi, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	var size int64
	if fi != nil {
		size = fi.Size()
	}
	db, err := lockedOpen(path, &bbolt.Options{
		Timeout: lockTimeout,
		// The hashmap freelist stays fast when a long outage left many free pages behind.
		FreelistType: bbolt.FreelistMapType,
		MaxSize:      int(hardMax(maxBytes, size)),
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, inUseError(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	db.AllocSize = int(allocSize(maxBytes))
	if created {
		// bbolt syncs the file, not the directory entry that names it: without this, a power cut soon after the
		// first run on a device could lose the whole new spool file, records and all.
		if err := syncDir(dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("sync spool directory %s: %w", dir, err)
		}
	}
	// A compaction that was interrupted left its unfinished copy; the spool it was copying is intact. Only the
	// holder of the lock may remove it: a running compaction's copy is its holder's.
	if err := os.Remove(filepath.Join(dir, compactFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		db.Close()
		return nil, fmt.Errorf("remove the unfinished compaction copy in %s: %w", dir, err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketKey)
		return err
	}); err != nil {
		db.Close()
		return nil, fmt.Errorf("create spool bucket in %s: %w", path, err)
	}
	return db, nil
}

// lockedOpen opens the bbolt file at path with bbolt's file lock on the file that path names once the lock is
// held. Compaction replaces spool.db by renaming a copy over it while holding the lock of both; a process that
// opened the old file and waited for its lock gets it only when that file is no longer the spool, and must open
// the new one (whose lock the compacting process holds, so the usual timeout applies). Without this check it
// would deliver, or worse append records to, a file that nothing will read again.
func lockedOpen(path string, o *bbolt.Options) (*bbolt.DB, error) {
	for range 3 { // each retry follows one compaction that happened while this process waited
		var f *os.File
		opts := *o
		opts.OpenFile = func(name string, flag int, perm os.FileMode) (*os.File, error) {
			var err error
			f, err = os.OpenFile(name, flag, perm)
			return f, err
		}
		db, err := bbolt.Open(path, 0o600, &opts)
		if err != nil {
			return nil, err
		}
		held, err1 := f.Stat()
		named, err2 := os.Stat(path)
		if err1 == nil && err2 == nil && os.SameFile(held, named) {
			return db, nil
		}
		db.Close()
	}
	return nil, fmt.Errorf("%s was replaced three times while this process waited for its lock", path)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func inUseError(dir string) error {
	msg := fmt.Sprintf("%s (%s)", ErrSpoolInUse.Error(), dir)
	if snap, err := readSnapshot(dir); err == nil && snap.Live.PID > 0 {
		msg = fmt.Sprintf("%s (%s, held by pid %d)", ErrSpoolInUse.Error(), dir, snap.Live.PID)
	}
	return &inUseErr{msg: msg + ": only one producer may run per producer.spool_dir; wait for it to finish, " +
		"or give this one another producer.spool_dir"}
}

type inUseErr struct{ msg string }

func (e *inUseErr) Error() string        { return e.msg }
func (e *inUseErr) Is(target error) bool { return target == ErrSpoolInUse }

// appendEntries stores es and applies the open-run changes in one transaction, which bbolt fsyncs before Commit
// returns.
func appendEntries(db *bbolt.DB, es [][]byte, changes []*runChange) error {
	return db.Update(func(tx *bbolt.Tx) error {
		for _, c := range changes {
			if err := c.apply(tx); err != nil {
				return err
			}
		}
		b := tx.Bucket(bucketKey)
		// Keys only ever grow and are deleted from the front: full pages waste no space.
		b.FillPercent = 1
		for _, v := range es {
			id, err := b.NextSequence()
			if err != nil {
				return err
			}
			if err := b.Put(idKey(id), v); err != nil {
				return err
			}
		}
		return nil
	})
}

// badEntry is a spool entry that cannot be read, and why.
type badEntry struct {
	id     uint64
	size   int
	reason string
}

// readBatch returns up to maxRecords entries from the front of the spool, stopping before maxBytes is passed
// (it returns at least one entry), and the unreadable entries met on the way, which are not in the batch.
// Values are copied out of the transaction.
func readBatch(db *bbolt.DB, maxRecords, maxBytes int) ([]entry, []badEntry, error) {
	var out []entry
	var bad []badEntry
	err := db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketKey).Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(out)+len(bad) < maxRecords; k, v = c.Next() {
			if len(out) > 0 && size+len(v) > maxBytes {
				break
			}
			id, err := entryID(k)
			if err != nil {
				bad = append(bad, badEntry{id: id, size: len(v), reason: err.Error()})
				continue
			}
			e, err := unmarshalEntry(id, append([]byte(nil), v...))
			if err != nil {
				bad = append(bad, badEntry{id: id, size: len(v), reason: err.Error()})
				continue
			}
			size += len(v)
			out = append(out, e)
		}
		return nil
	})
	return out, bad, err
}

// entryID reads a spool key. A key of the wrong length is itself corruption; its first bytes still order it.
func entryID(k []byte) (uint64, error) {
	if len(k) != 8 {
		var b [8]byte
		copy(b[:], k)
		return binary.BigEndian.Uint64(b[:]), fmt.Errorf("spool key %x is %d bytes, not 8", k, len(k))
	}
	return binary.BigEndian.Uint64(k), nil
}

// quarantined is how the quarantine bucket stores an entry: the bytes exactly as they were, and why they were
// moved. Nothing deletes it: an operator who wants it gone can see it first with `producer spool status`.
type quarantined struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
	Entry  []byte    `json:"entry"`
}

// quarantineEntries moves bad from the record queue to the quarantine bucket under their keys, in one
// transaction, and returns those it moved (an entry already gone, e.g. moved by an earlier attempt, is skipped).
func quarantineEntries(db *bbolt.DB, bad []badEntry, now time.Time) ([]badEntry, error) {
	var moved []badEntry
	err := db.Update(func(tx *bbolt.Tx) error {
		moved = moved[:0]
		q, err := tx.CreateBucketIfNotExists(quarantineKey)
		if err != nil {
			return err
		}
		records := tx.Bucket(bucketKey)
		for _, b := range bad {
			k := idKey(b.id)
			v := records.Get(k)
			if v == nil {
				continue
			}
			note, err := json.Marshal(quarantined{Reason: b.reason, At: now.UTC(), Entry: v})
			if err != nil {
				return err
			}
			if err := q.Put(k, note); err != nil {
				return err
			}
			if err := records.Delete(k); err != nil {
				return err
			}
			moved = append(moved, b)
		}
		return nil
	})
	return moved, err
}

// listQuarantine returns what the quarantine bucket holds, in key order.
func listQuarantine(tx *bbolt.Tx) []Quarantined {
	q := tx.Bucket(quarantineKey)
	if q == nil {
		return nil
	}
	var out []Quarantined
	_ = q.ForEach(func(k, v []byte) error {
		id, _ := entryID(k)
		var n quarantined
		if err := json.Unmarshal(v, &n); err != nil {
			out = append(out, Quarantined{ID: id, Bytes: len(v), Reason: "quarantine note unreadable: " + err.Error()})
			return nil
		}
		out = append(out, Quarantined{ID: id, Bytes: len(n.Entry), Reason: n.Reason, At: n.At})
		return nil
	})
	return out
}

// deleteEntries removes the entries with ids from the spool and returns how many bytes of values they held.
func deleteEntries(db *bbolt.DB, ids []uint64) (int64, error) {
	var freed int64
	err := db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketKey)
		for _, id := range ids {
			k := idKey(id)
			freed += int64(len(b.Get(k)))
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	return freed, err
}

// scan walks every entry in id order, handing unreadable ones to bad. Entries alias the transaction's memory and
// must not be kept.
func scan(tx *bbolt.Tx, fn func(e entry, size int), bad func(badEntry)) {
	b := tx.Bucket(bucketKey)
	if b == nil {
		return
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		id, err := entryID(k)
		if err == nil {
			var e entry
			if e, err = unmarshalEntry(id, v); err == nil {
				fn(e, len(v))
				continue
			}
		}
		bad(badEntry{id: id, size: len(v), reason: err.Error()})
	}
}

// ends returns the times of the first and the last entry; zero when the spool is empty.
func ends(tx *bbolt.Tx) (oldest, newest time.Time) {
	b := tx.Bucket(bucketKey)
	if b == nil {
		return
	}
	c := b.Cursor()
	if k, v := c.First(); k != nil {
		if e, err := unmarshalEntry(binary.BigEndian.Uint64(k), v); err == nil {
			oldest = e.time
		}
	}
	if k, v := c.Last(); k != nil {
		if e, err := unmarshalEntry(binary.BigEndian.Uint64(k), v); err == nil {
			newest = e.time
		}
	}
	return
}
