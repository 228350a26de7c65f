package publish

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// Spool layout: one bucket whose keys are 8-byte big-endian ids from the bucket's own sequence (persisted, so ids
// keep increasing across restarts and an emptied spool), which makes bbolt's key order the append order.
const (
	dbFile       = "spool.db"
	statusFile   = "status.json"
	bucketName   = "records"
	entryVersion = 1
)

var bucketKey = []byte(bucketName)

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
	key, ok := field()
	if !ok {
		return bad("bad key length")
	}
	e.topic, e.key, e.value = string(topic), key, rest
	return e, nil
}

func idKey(id uint64) []byte { return binary.BigEndian.AppendUint64(nil, id) }

// openDB opens (creating) the spool database in dir for writing. The exclusive file lock makes a second process
// fail after lockTimeout with ErrSpoolInUse.
func openDB(dir string, lockTimeout time.Duration) (*bbolt.DB, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create spool directory: %w", err)
	}
	path := filepath.Join(dir, dbFile)
	_, statErr := os.Stat(path)
	created := errors.Is(statErr, os.ErrNotExist)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout: lockTimeout,
		// The hashmap freelist stays fast when a long outage left many free pages behind.
		FreelistType: bbolt.FreelistMapType,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, inUseError(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("open spool %s: %w", path, err)
	}
	if created {
		// bbolt syncs the file, not the directory entry that names it: without this, a power cut soon after the
		// first run on a device could lose the whole new spool file, records and all.
		if err := syncDir(dir); err != nil {
			db.Close()
			return nil, fmt.Errorf("sync spool directory %s: %w", dir, err)
		}
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

// readBatch returns up to maxRecords entries from the front of the spool, stopping before maxBytes is passed
// (it returns at least one entry). Values are copied out of the transaction.
func readBatch(db *bbolt.DB, maxRecords, maxBytes int) ([]entry, error) {
	var out []entry
	err := db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketKey).Cursor()
		size := 0
		for k, v := c.First(); k != nil && len(out) < maxRecords; k, v = c.Next() {
			if len(out) > 0 && size+len(v) > maxBytes {
				break
			}
			size += len(v)
			id := binary.BigEndian.Uint64(k)
			e, err := unmarshalEntry(id, append([]byte(nil), v...))
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
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

// scan walks every entry in id order. Entries alias the transaction's memory and must not be kept.
func scan(tx *bbolt.Tx, fn func(e entry, size int) error) error {
	b := tx.Bucket(bucketKey)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		e, err := unmarshalEntry(binary.BigEndian.Uint64(k), v)
		if err != nil {
			return err
		}
		if err := fn(e, len(v)); err != nil {
			return err
		}
	}
	return nil
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
