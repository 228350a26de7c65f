package publish

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// BenchmarkCompact measures compacting a spool into which total MiB of records (2 KiB each) were spooled during
// an outage and of which live MiB are left (0: all delivered). ns/op is the compaction, during which Publish waits; release-s is
// closing the replaced file, which frees its blocks and which only the shipper waits for.
//
//	go test -run '^$' -bench Compact -benchtime 1x ./producer/publish/
func BenchmarkCompact(b *testing.B) {
	for _, tc := range []struct{ total, live int }{{256, 0}, {1024, 0}, {256, 16}, {256, 64}, {1024, 256}} {
		b.Run(fmt.Sprintf("spooled=%dMiB/left=%dMiB", tc.total, tc.live), func(b *testing.B) {
			var release time.Duration
			for b.Loop() {
				b.StopTimer()
				dir := b.TempDir()
				db := grownSpool(b, dir, tc.total<<20, tc.live<<20)
				before, _ := spoolUsage(db, filepath.Join(dir, dbFile), db.Info().PageSize)
				b.StartTimer()
				out, err := compactDB(dir, db, 8<<30, nil)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				db.Close()
				release += time.Since(start)
				u, _ := spoolUsage(out, filepath.Join(dir, dbFile), out.Info().PageSize)
				b.ReportMetric(float64(before.file>>20), "MiB-before")
				b.ReportMetric(float64(u.file>>10), "KiB-after")
				out.Close()
				b.StartTimer()
			}
			b.ReportMetric(release.Seconds()/float64(b.N), "release-s")
		})
	}
}

// grownSpool fills a spool in dir with 2 KiB records up to total bytes of values and deletes all but the last
// live bytes of them, as delivery does.
func grownSpool(b *testing.B, dir string, total, live int) *bbolt.DB {
	db, err := openDB(dir, time.Second, 8<<30)
	if err != nil {
		b.Fatal(err)
	}
	e := entry{time: time.Now(), topic: "benchpipe.records", key: []byte("run"), value: make([]byte, 2000)}
	v := e.marshal()
	n := total / len(v)
	const batch = 20000
	for done := 0; done < n; done += batch {
		vs := make([][]byte, min(batch, n-done))
		for i := range vs {
			vs[i] = v
		}
		if err := appendEntries(db, vs, nil); err != nil {
			b.Fatal(err)
		}
	}
	deliver := n - live/len(v)
	for first := 1; first <= deliver; first += batch {
		var ids []uint64
		for id := first; id < min(first+batch, deliver+1); id++ {
			ids = append(ids, uint64(id))
		}
		if _, err := deleteEntries(db, ids); err != nil {
			b.Fatal(err)
		}
	}
	return db
}
