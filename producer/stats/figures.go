package stats

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchpipe/benchpipe/schema"
)

// Quantiles that Latency reports, in percent.
var latencyPercentiles = []float64{50, 90, 95, 99, 99.9}

// Latency summarises h (values in microseconds) in milliseconds, with h itself in the contract's encoding
// (Latency.HDR); nil when h is empty. h must have the package's geometry (NewHistogram).
func Latency(h *hdrhistogram.Histogram) *schema.Latency {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	p := h.ValueAtPercentilesSlice(latencyPercentiles)
	l := &schema.Latency{
		MinMs:  ms(h.Min()),
		MeanMs: h.Mean() / 1000,
		P50Ms:  ms(p[0]),
		P90Ms:  ms(p[1]),
		P95Ms:  ms(p[2]),
		P99Ms:  ms(p[3]),
		P999Ms: ms(p[4]),
		MaxMs:  ms(h.Max()),
	}
	// NewHistogram's geometry is the contract's, so encoding cannot fail; a histogram of another geometry (a
	// caller's own) goes without its HDR rather than with a wrong one.
	l.HDR, _ = schema.EncodeHist(h)
	// The mean is taken from bucket midpoints and the extremes from bucket edges; keep the contract's
	// min ≤ mean ≤ max even for a histogram holding a single bucket.
	l.MeanMs = min(max(l.MeanMs, l.MinMs), l.MaxMs)
	return l
}

func ms(us int64) float64 { return float64(us) / 1000 }

// Rate returns n per second over d; 0 when d is not positive.
func Rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Figures returns the generic figures of an interval or a run that lasted d: ops completed operations (the
// rate is ops/d), bytes and errors, and the latency distribution in h.
func Figures(ops, bytes, errors int64, d time.Duration, h *hdrhistogram.Histogram) schema.Figures {
	return schema.Figures{Ops: ops, OpsRate: Rate(ops, d), Bytes: bytes, Errors: errors, Latency: Latency(h)}
}
