package pgbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkLogPipeline measures the producer's cost per logged transaction: the tailer reading a log file, the
// parser, and the sampler placing the transaction in its interval.
func BenchmarkLogPipeline(b *testing.B) {
	dir := b.TempDir()
	var sb strings.Builder
	for i := 0; i < b.N; i++ {
		fmt.Fprintf(&sb, "%d %d %d 0 %d %06d\n", i%8, i/8+1, 300+i%5000, 1800000000+i/20000, (i*50)%1000000)
	}
	if err := os.WriteFile(filepath.Join(dir, "pgbench_log.1"), []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	s := newSampler(samplerConfig{mode: modeExact, interval: time.Second, threads: 1, start: time.Unix(1800000000, 0)})
	for k := 1; k <= b.N/20000+1; k++ {
		s.progress(Progress{Timestamp: time.Unix(1800000000+int64(k), 0), TPS: 20000})
	}
	lt := &logTally{b: &benchRun{sampler: s}}
	tl := NewLogTailer(filepath.Join(dir, "pgbench_log"))
	b.ResetTimer()
	tl.Drain()
	if err := tl.Run(context.Background(), lt.line); err != nil {
		b.Fatal(err)
	}
	s.finish()
	b.StopTimer()
	if r := s.result(); r.whole.counts.OK != int64(b.N) || lt.bad != 0 {
		b.Fatalf("%d of %d transactions, %d bad lines", r.whole.counts.OK, b.N, lt.bad)
	}
}
