package publish

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/bbolt"
)

// bbolt reuses the pages that delivered records free, but never gives them back to the file system: a spool that
// grew to a few GiB during a week-long outage would stay that size for the months the agent goes on running.
// So the Publisher compacts the spool when the file is mostly free space: bbolt copies what is left (records,
// quarantine, open-run notes and the bucket sequence, so ids keep increasing) into a new file, which is renamed
// over spool.db.
//
// Crash safety. The copy is written to compactFile, beside spool.db, and every copy transaction is fsync'd by
// bbolt; only then is it renamed over spool.db, and the directory synced. A crash before the rename leaves
// spool.db as it was and an unfinished copy that the next Open removes; after it, spool.db is the complete copy.
// Either file holds exactly the records that were spooled, since nothing is appended during a compaction.
//
// Other processes. The compacting Publisher holds bbolt's lock on the old file for the whole compaction and
// takes the lock on the copy when it creates it, before the rename, so at no moment can another process lock
// the file named spool.db: `producer spool status` falls back to the status snapshot, and `producer spool
// flush` or a second producer fail with ErrSpoolInUse, as they do whenever a producer runs. A process that
// opened the old file before the rename and waited for its lock notices the file was replaced once it gets the
// lock, and opens spool.db again (lockedOpen).
//
// Cost. Publish waits while a compaction copies, so a running Publisher compacts only when what is left is
// small (compactMaxLive); Open compacts whatever the size, since no run is writing yet.

// compactFile is the copy a compaction writes, renamed over dbFile when complete.
const compactFile = dbFile + ".compact"

// A spool is compacted when the file is at least compactMinFile and at most a quarter of it is in use. The
// quarter means a compaction gives back at least three quarters of the file, and that the next one waits until
// the file has grown to four times what it keeps.
const (
	compactMinFile = 1 << 20
	compactMaxLive = 16 << 20 // bytes in use a running Publisher copies at most: 0.3 s here, a second or two on an SD card
	compactRetry   = time.Minute
)

// usage is how much of the spool file is in use.
type usage struct {
	file int64 // spool.db on disk
	used int64 // pages in use: the file less its free pages and the growth bbolt allocated ahead
}

func (u usage) worthCompacting(maxLive int64) bool {
	return u.file >= compactMinFile && u.used*4 <= u.file && (maxLive == 0 || u.used <= maxLive)
}

// spoolUsage reads db's usage; path is its file and page its page size. The freelist counts come from the last
// write transaction.
func spoolUsage(db *bbolt.DB, path string, page int) (usage, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return usage{}, err
	}
	var hwm int64
	_ = db.View(func(tx *bbolt.Tx) error { hwm = tx.Size(); return nil })
	st := db.Stats()
	free := int64(st.FreePageN+st.PendingPageN) * int64(page)
	return usage{file: fi.Size(), used: max(hwm-free, 0)}, nil
}

// compactDB copies db, the spool in dir, into a new file, puts the copy in its place and returns it open. db stays
// open for the caller to close (retire): it is unlinked by then, and closing it frees its blocks, which takes
// seconds for a file of a few GiB, too long to hold Publish up for. On an error before the rename db is returned
// with the error; after the rename the copy is returned, with the error when the directory could not be synced. hook, when not nil, is
// called at each step; tests crash there, or inject a failure by returning an error before the rename.
func compactDB(dir string, db *bbolt.DB, maxBytes int64, hook func(step string) error) (*bbolt.DB, error) {
	step := func(s string) error {
		if hook != nil {
			return hook(s)
		}
		return nil
	}
	tmp := filepath.Join(dir, compactFile)
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return db, fmt.Errorf("remove an earlier compaction copy: %w", err)
	}
	// No MaxSize while copying: a copy is never larger than what it copies, and a cap lowered below what the spool
	// holds must not keep the spool from shrinking.
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: time.Second, FreelistType: bbolt.FreelistMapType})
	if err != nil {
		return db, fmt.Errorf("create compaction copy %s: %w", tmp, err)
	}
	abandon := func(err error) (*bbolt.DB, error) {
		dst.Close()
		os.Remove(tmp)
		return db, err
	}
	if err := step("created"); err != nil {
		return abandon(err)
	}
	// Commit every 16 MiB so that copying a large spool does not hold all of it in memory.
	if err := bbolt.Compact(dst, db, 16<<20); err != nil {
		return abandon(fmt.Errorf("copy the spool into %s: %w", tmp, err))
	}
	if err := step("copied"); err != nil {
		return abandon(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, dbFile)); err != nil {
		return abandon(fmt.Errorf("put the compacted copy in place: %w", err))
	}
	_ = step("renamed")
	syncErr := syncDir(dir)
	if syncErr != nil {
		syncErr = fmt.Errorf("sync spool directory %s after compaction: %w", dir, syncErr)
	}
	_ = step("synced")
	if fi, err := os.Stat(filepath.Join(dir, dbFile)); err == nil {
		dst.MaxSize = int(hardMax(maxBytes, fi.Size()))
	}
	dst.AllocSize = int(allocSize(maxBytes))
	return dst, syncErr
}

// maybeCompact compacts the spool when it is worth it. The shipper calls it after deleting delivered records; it
// owns p.db, and holding dbMu keeps the committer and the status writer out.
func (p *Publisher) maybeCompact() {
	if time.Now().Before(p.compactAfter) {
		return
	}
	u, err := spoolUsage(p.db, filepath.Join(p.dir, dbFile), p.page)
	if err != nil || !u.worthCompacting(compactMaxLive) {
		return
	}
	p.dbMu.Lock()
	old := p.db
	p.db = p.compact(old, u)
	p.dbMu.Unlock()
	if p.db != old {
		p.retire(old)
	}
}

// compact compacts db, the spool, whose usage is u, says so and returns the database to use from now on; when
// that is not db, the caller retires db. The caller has db to itself.
func (p *Publisher) compact(db *bbolt.DB, u usage) *bbolt.DB {
	start := time.Now()
	out, err := compactDB(p.dir, db, p.maxBytes, p.o.compactHook)
	if out == db {
		// Most likely the disk is too full for the copy: try again later rather than after every batch.
		p.compactAfter = time.Now().Add(compactRetry)
		p.log.Warn("spool not compacted; its file keeps its size until the next try", "dir", p.dir, "err", err)
		return db
	}
	if err != nil {
		p.log.Warn("spool compacted, but the new file may not survive a power cut yet", "dir", p.dir, "err", err)
	}
	p.compactions.Add(1)
	p.version.Add(1)
	p.log.Info("spool compacted: the space of delivered records is given back", "dir", p.dir,
		"before", FormatBytes(u.file), "after", FormatBytes(p.fileBytes()), "in_use", FormatBytes(u.used),
		"records", p.pending.Load(), "took", time.Since(start).Round(time.Millisecond))
	return out
}

// retire closes the spool file a compaction replaced. It is unlinked, so closing it gives its blocks back to the
// file system; it also releases its lock, and a process that waited for that lock finds that spool.db is another
// file now (lockedOpen) and opens that one.
func (p *Publisher) retire(old *bbolt.DB) {
	start := time.Now()
	if err := old.Close(); err != nil {
		p.log.Warn("close the spool file compaction replaced", "dir", p.dir, "err", err)
	}
	p.log.Debug("replaced spool file released", "dir", p.dir, "took", time.Since(start).Round(time.Millisecond))
	if p.o.compactHook != nil {
		_ = p.o.compactHook("closed")
	}
}
