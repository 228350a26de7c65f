package stat

import (
	"syscall"
	"testing"
	"time"
)

// The cost of the statistics at the sizes benchpipe uses them: a comparison of two 1-hour runs (3,600 per-second
// samples each, the default 2,000 resamples) and change-point detection over a 200-run history. Besides ns/op
// (wall time, which a loaded machine inflates) each reports the process's CPU time per operation, cpu-ms/op:
// the code is single-threaded, so that is its own cost.

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

func BenchmarkCompare(b *testing.B) {
	rng := newRand(1)
	base, cand := closedLoopRun(rng, 3600, 0)
	slow, slowP99 := closedLoopRun(rng, 3600, 0.0003)
	for _, bc := range []struct {
		name       string
		q          float64
		base, cand []float64
		dir        Direction
	}{
		{"1h-throughput-median", 0.5, base, slow, HigherIsBetter},
		{"1h-p99-median", 0.5, cand, slowP99, LowerIsBetter},
		{"1h-throughput-p99", 0.99, base, slow, HigherIsBetter},
	} {
		b.Run(bc.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				if _, err := (Comparer{Quantile: bc.q}).Compare(bc.base, bc.cand, bc.dir); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

func BenchmarkChangePoints(b *testing.B) {
	stepped, _ := steps(1, 0.3, 3, []int{80, 70, 50}, []float64{100, 90, 95})
	flat := ar1(newRand(2), 200, 0.3, 100, 3)
	for _, bc := range []struct {
		name   string
		series []float64
		want   int
	}{
		{"200-runs-two-changes", stepped, 2},
		{"200-runs-no-change", flat, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				cps, err := Detector{}.ChangePoints(bc.series)
				if err != nil {
					b.Fatal(err)
				}
				if len(cps) != bc.want {
					b.Fatalf("%d change points, want %d", len(cps), bc.want)
				}
			}
			reportCPU(b, start)
		})
	}
}

func BenchmarkBlockLength(b *testing.B) {
	x := ar1(newRand(3), 3600, 0.6, 100, 5)
	start := cpuTime()
	for b.Loop() {
		BlockLength(x)
	}
	reportCPU(b, start)
}
