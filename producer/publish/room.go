package publish

import (
	"errors"
	"fmt"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// The spool's size cap (producer.spool_max_bytes). bbolt itself refuses to grow the file past it (its MaxSize),
// but a spool at that limit could not even delete what Kafka acknowledged: a delete writes new copies of the pages
// it changes before the old ones are free. So Publish refuses records earlier, once the file would have to grow
// past the cap less a reserve; the reserve is for deliveries, for run_finished (a run stopped by a full spool
// still ends with its status and why) and for the aborted run_finished the next Open writes for a killed run.

// reserve is how much of the cap only deliveries and run_finished records may use: 1/32 of it, at least 256 KiB
// (a delete of a whole batch and the freelist it rewrites) and at most 32 MiB.
func reserve(maxBytes int64) int64 { return min(max(maxBytes/32, 256<<10), 32<<20) }

// allocSize is how much bbolt grows the file by once it is past that size (bbolt's AllocSize, 16 MiB by
// default): 1/32 of the cap, between 64 KiB and 16 MiB, so that a small cap is not spent in a few large steps.
func allocSize(maxBytes int64) int64 { return min(max(maxBytes/32, 64<<10), 16<<20) }

// hardMax is the limit bbolt enforces (its MaxSize) for a spool capped at maxBytes whose file is size bytes: the
// cap, unless the file is already within the reserve of it or past it (the cap was lowered, or the file was
// written by a build without one); then the file may still grow by the reserve, so that delivering its records,
// which needs new pages before it frees old ones, cannot be refused. Publish refuses records either way.
func hardMax(maxBytes, size int64) int64 { return max(maxBytes, size+reserve(maxBytes)) }

// fileFor is the size bbolt makes the file when its data must reach minsz bytes, as bbolt's allocate computes
// it for its own MaxSize check: up to allocSize the file is the memory map, which doubles from 32 KiB; beyond
// it, the file grows to minsz plus allocSize. (Kept in step with bbolt by TestSpoolFullBeforeCap, which
// fills a spool and checks the file against the cap.)
func fileFor(minsz, allocSize int64) int64 {
	m := mmapSize(minsz)
	if m <= allocSize {
		return m
	}
	return minsz + allocSize
}

// mmapSize is bbolt's memory map size for a file of size bytes: the next power of two from 32 KiB to 1 GiB,
// then whole GiB.
func mmapSize(size int64) int64 {
	for i := uint(15); i <= 30; i++ {
		if size <= 1<<i {
			return 1 << i
		}
	}
	const step = 1 << 30
	return (size + step - 1) / step * step
}

// room says, before a group of appends is committed, which of them fit: the first request that would take the
// file past the cap less the reserve is refused with ErrSpoolFull, and so is every later one in the group that
// is not a run_finished (records keep their order: none is stored after one that was refused). The estimate is
// deliberately generous, since bbolt needs contiguous pages for a large value and copies the pages a commit
// changes; bbolt's own MaxSize stays the hard limit behind it.
func (p *Publisher) room(group []appendReq) []error {
	errs := make([]error, len(group))
	var hwm int64
	_ = p.db.View(func(tx *bbolt.Tx) error { hwm = tx.Size(); return nil })
	st := p.db.Stats()
	page := int64(p.page)
	free := int64(st.FreePageN) * page
	// Each commit rewrites the pages on the path to the last key, the open-run notes and the freelist (8 bytes
	// per free or pending page).
	need := 8*page + int64(st.FreePageN+st.PendingPageN)*8 + page
	limit := Limit(p.maxBytes)
	full := false
	for i, r := range group {
		// An element header, the key and slack for the part of a page a split leaves empty.
		size := int64(len(r.entry)) + 64
		size += size / 8
		if !r.finish && full {
			errs[i] = p.fullError(0, nil)
			continue
		}
		projected := fileFor(hwm+max(0, need+size-free)+page, allocSize(p.maxBytes))
		if !r.finish && projected > limit {
			full = true
			errs[i] = p.fullError(projected, nil)
			continue
		}
		need += size
	}
	return errs
}

// fullError is why a record was refused: the file would have grown to projected bytes (0 when not known), or
// bbolt refused to grow it (cause).
func (p *Publisher) fullError(projected int64, cause error) error {
	would := "this record would take it"
	if projected > 0 {
		would = fmt.Sprintf("this record would take it to %s", FormatBytes(projected))
	}
	msg := fmt.Sprintf("%s: its %d undelivered records fill %s of %s; %s, past producer.spool_max_bytes (%s) less the %s kept for delivery. "+
		"The records already spooled are kept and go to Kafka once it takes them (this producer, the next, or `producer spool flush`), "+
		"and their space is given back then; raise producer.spool_max_bytes for longer outages",
		ErrSpoolFull.Error(), p.pending.Load(), FormatBytes(p.fileBytes()), dbFile, would,
		FormatBytes(p.maxBytes), FormatBytes(reserve(p.maxBytes)))
	return &fullErr{msg: msg, cause: cause}
}

type fullErr struct {
	msg   string
	cause error
}

func (e *fullErr) Error() string {
	if e.cause != nil {
		return e.msg + " (" + e.cause.Error() + ")"
	}
	return e.msg
}
func (e *fullErr) Is(target error) bool { return target == ErrSpoolFull }
func (e *fullErr) Unwrap() error        { return e.cause }

// isMaxSize reports whether err is bbolt refusing to grow the file past the cap.
func isMaxSize(err error) bool { return errors.Is(err, berrors.ErrMaxSizeReached) }

// FormatBytes writes n in binary units with one decimal, e.g. 3.9 MiB, as the spool's messages and `producer
// spool` write sizes.
func FormatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Limit is the size of spool.db beyond which Publish refuses records for a spool capped at maxBytes
// (producer.spool_max_bytes): the cap less the reserve kept for delivery and run_finished records.
func Limit(maxBytes int64) int64 { return maxBytes - reserve(maxBytes) }
