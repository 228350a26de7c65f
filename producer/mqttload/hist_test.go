package mqttload

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// TestHistogramsMatchTheSubscribersRawLatencies (issue 16 item 6) runs a measurement against the embedded target and
// keeps every latency the subscriber measured, raw, beside the engine's histograms. From the raw values, computed
// here without the engine's statistics code:
//   - the samples' histograms merged (schema.Hist.Add, as the database merges them) equal, bucket for bucket, one
//     histogram of every delivery's latency; the summary's histogram equals one of the measured deliveries'
//     (deliveries of messages scheduled in the measurement), corrected and uncorrected;
//   - the merged percentiles lie within the histogram's precision of the exact order statistics of the raw values.
func TestHistogramsMatchTheSubscribersRawLatencies(t *testing.T) {
	srv := startTarget(t)
	b, err := Connect(context.Background(), Config{Broker: brokerURL(srv), Subscribers: 2, Publishers: 2, QoS: 1, Rate: 1500,
		Warmup: 500 * time.Millisecond, Duration: 2 * time.Second, Interval: 250 * time.Millisecond, Topic: "hist/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	var all, allUnc, measured, measuredUnc []int64
	micros := func(d time.Duration) int64 { return max(int64(d/time.Microsecond), 0) }
	b.onDelivery = func(c, u time.Duration, m bool) {
		mu.Lock()
		defer mu.Unlock()
		all, allUnc = append(all, micros(c)), append(allUnc, micros(u))
		if m {
			measured, measuredUnc = append(measured, micros(c)), append(measuredUnc, micros(u))
		}
	}
	var samples []Interval
	res := b.Run(context.Background(), func(iv Interval) { samples = append(samples, iv) })
	if res.Status != schema.StatusOK || res.Summary == nil {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(measured) < 1000 || len(all) <= len(measured) {
		t.Fatalf("%d deliveries, %d measured: want a warm-up and ≥ 1000 measured", len(all), len(measured))
	}

	var merged, mergedUnc schema.Hist
	for i, s := range samples {
		merged = merged.Add(decode(t, s.Latency.HDR))
		mergedUnc = mergedUnc.Add(decode(t, s.MQTT.UncorrectedHDR))
		if i > 0 && s.Latency.HDR == "" {
			t.Errorf("sample %d has no histogram", i+1)
		}
	}
	sum := res.Summary
	for _, c := range []struct {
		what string
		got  schema.Hist
		raw  []int64
	}{
		{"merged samples, corrected", merged, all},
		{"merged samples, uncorrected", mergedUnc, allUnc},
		{"summary, corrected", decode(t, sum.Latency.HDR), measured},
		{"summary, uncorrected", decode(t, sum.MQTT.UncorrectedHDR), measuredUnc},
	} {
		want := rawHist(t, c.raw)
		if !c.got.Equal(want) {
			t.Errorf("%s: histogram of %d values differs from the one of the %d raw latencies", c.what, c.got.Total(), want.Total())
			continue
		}
		sorted := slices.Clone(c.raw)
		slices.Sort(sorted)
		for _, q := range []float64{50, 90, 99, 99.9, 100} {
			got := c.got.ValueAtPercentile(q)
			rank := int(q/100*float64(len(sorted)) + 0.5)
			exact := sorted[min(max(rank, 1), len(sorted))-1]
			// 2 significant digits: a bucket spans at most 1/128 of its values (HdrHistogram's sub-bucket count
			// 2^(⌈log2(2·10^2)⌉) = 256, half of them per magnitude); the percentile is its highest value.
			if got < exact || float64(got) > float64(exact)+max(float64(exact)/128, 1) {
				t.Errorf("%s: p%v = %d µs, exact order statistic %d µs: outside the histogram's precision", c.what, q, got, exact)
			}
		}
	}
	t.Logf("%d deliveries (%d measured) in %d samples; measured p50 %v ms, p99 %v ms", len(all), len(measured), len(samples), sum.Latency.P50Ms, sum.Latency.P99Ms)
}

func decode(t *testing.T, s string) schema.Hist {
	t.Helper()
	if s == "" {
		return schema.Hist{}
	}
	_, h, err := schema.DecodeHist(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// rawHist builds the contract's histogram of raw values with the HdrHistogram library and reads it back.
func rawHist(t *testing.T, raw []int64) schema.Hist {
	t.Helper()
	h := schema.NewHist()
	for _, v := range raw {
		if err := h.RecordValue(v); err != nil {
			t.Fatal(err)
		}
	}
	s, err := schema.EncodeHist(h)
	if err != nil {
		t.Fatal(err)
	}
	return decode(t, s)
}
