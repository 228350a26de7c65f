package schema_test

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/benchpipe/benchpipe/schema"
)

// latencies returns n latencies in µs: an exponential body around base with a tail of stalls, like a broker's.
func latencies(seed uint64, n int, base float64) []int64 {
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]int64, n)
	for i := range out {
		v := base/2 + r.ExpFloat64()*base/2
		if r.IntN(200) == 0 {
			v *= 20 + r.Float64()*200
		}
		out[i] = int64(v)
	}
	return out
}

func histOf(vs []int64) *hdrhistogram.Histogram {
	h := schema.NewHist()
	for _, v := range vs {
		if err := h.RecordValue(v); err != nil {
			panic(err)
		}
	}
	return h
}

// reference reads an encoded histogram with the library's own decoder: the buckets DecodeHist must return.
func reference(t *testing.T, s string) (schema.Hist, *hdrhistogram.Histogram) {
	t.Helper()
	d, err := hdrhistogram.Decode([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	var h schema.Hist
	for _, b := range d.Distribution() {
		if b.Count > 0 {
			h.V, h.C = append(h.V, b.To), append(h.C, b.Count) // To is the bucket's highest equivalent value
		}
	}
	return h, d
}

var percentiles = []float64{0.1, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 99.99, 100}

// DecodeHist gives the library's buckets, and Hist.ValueAtPercentile the library's percentiles, exactly.
func TestDecodeHistMatchesLibrary(t *testing.T) {
	for seed := range uint64(40) {
		vs := latencies(seed, 1+int(seed)*250, float64(int64(50)<<(seed%12)))
		if seed == 39 {
			vs = append(vs, schema.HistHighestMicros, 0, 1, 255, 256, 257) // the edges of the range and of bucket 0
		}
		s, err := schema.EncodeHist(histOf(vs))
		if err != nil {
			t.Fatal(err)
		}
		raw, got, err := schema.DecodeHist(s)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		want, lib := reference(t, s)
		if !got.Equal(want) {
			t.Fatalf("seed %d: buckets differ from the library's\n got %v\nwant %v", seed, got, want)
		}
		if len(raw) == 0 || got.Total() != lib.TotalCount() {
			t.Fatalf("seed %d: %d raw bytes, total %d, library %d", seed, len(raw), got.Total(), lib.TotalCount())
		}
		for _, p := range percentiles {
			if g, w := got.ValueAtPercentile(p), lib.ValueAtPercentile(p); g != w {
				t.Errorf("seed %d: p%v = %d, library %d", seed, p, g, w)
			}
		}
	}
}

// Every bucket's highest equivalent value is the library's, up to the highest trackable value.
func TestDecodeHistEveryBucket(t *testing.T) {
	h := schema.NewHist()
	for v := int64(1); v <= schema.HistHighestMicros; v += 1 + v/300 {
		_ = h.RecordValue(v)
	}
	s, _ := schema.EncodeHist(h)
	_, got, err := schema.DecodeHist(s)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := reference(t, s)
	if len(got.V) < 2000 || !got.Equal(want) {
		t.Fatalf("%d buckets; equal to the library's: %v", len(got.V), got.Equal(want))
	}
}

// Merging the sparse forms gives the buckets of the histogram of all the values, and its percentiles.
func TestHistAddIsTheWholeHistogram(t *testing.T) {
	var all []int64
	var merged schema.Hist
	for i := range uint64(60) {
		vs := latencies(100+i, 1000, 800)
		all = append(all, vs...)
		s, _ := schema.EncodeHist(histOf(vs))
		_, h, err := schema.DecodeHist(s)
		if err != nil {
			t.Fatal(err)
		}
		merged = merged.Add(h)
	}
	s, _ := schema.EncodeHist(histOf(all))
	want, lib := reference(t, s)
	if !merged.Equal(want) {
		t.Fatal("merged buckets differ from the whole histogram's")
	}
	for _, p := range percentiles {
		if g, w := merged.ValueAtPercentile(p), lib.ValueAtPercentile(p); g != w {
			t.Errorf("p%v = %d, whole histogram %d", p, g, w)
		}
	}
}

func TestDecodeHistRefuses(t *testing.T) {
	three := hdrhistogram.New(1, schema.HistHighestMicros, 3)
	_ = three.RecordValue(1000)
	b3, _ := three.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	coarse := hdrhistogram.New(1000, schema.HistHighestMicros, 2)
	_ = coarse.RecordValue(5000)
	bc, _ := coarse.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	good, _ := schema.EncodeHist(histOf(latencies(1, 100, 500)))
	cut := good[:len(good)-8]
	for name, s := range map[string]string{
		"not base64":             "%%%",
		"3 significant digits":   string(b3),
		"lowest 1000":            string(bc),
		"truncated":              cut,
		"empty":                  "",
		"not a histogram at all": "aGVsbG8gd29ybGQ=",
	} {
		if _, _, err := schema.DecodeHist(s); !errors.Is(err, schema.ErrHist) {
			t.Errorf("%s: err = %v, want ErrHist", name, err)
		}
	}
	if _, err := schema.EncodeHist(three); err == nil {
		t.Error("EncodeHist accepted a histogram of another geometry")
	}
}

// Random bytes never panic the decoder, and whatever it accepts the library reads the same.
func FuzzDecodeHist(f *testing.F) {
	good, _ := schema.EncodeHist(histOf(latencies(1, 100, 500)))
	f.Add(good)
	f.Fuzz(func(t *testing.T, s string) {
		_, h, err := schema.DecodeHist(s)
		if err != nil {
			return
		}
		p, err := hdrhistogram.DecodePacked([]byte(s))
		if err != nil {
			t.Fatalf("DecodeHist accepted what the library refuses: %v", err)
		}
		var vs []int64
		for v, c := range p.ForEachBucket {
			_ = c
			vs = append(vs, v)
		}
		if len(vs) != len(h.V) || !slices.IsSorted(h.V) {
			t.Fatalf("%d buckets, library %d", len(h.V), len(vs))
		}
	})
}

func BenchmarkDecodeHist(b *testing.B) {
	s, _ := schema.EncodeHist(histOf(latencies(1, 1000, 500)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := schema.DecodeHist(s); err != nil {
			b.Fatal(err)
		}
	}
}

// HistSum gives what Hist.Add gives.
func TestHistSumIsHistAdd(t *testing.T) {
	var sum schema.HistSum
	var want schema.Hist
	if !sum.Hist().Equal(schema.Hist{}) {
		t.Fatal("empty sum is not empty")
	}
	for i := range uint64(50) {
		vs := latencies(300+i, 200, float64(int64(40)<<(i%10)))
		if i == 49 {
			vs = append(vs, schema.HistHighestMicros, 0, 1, 255, 256, 257)
		}
		s, _ := schema.EncodeHist(histOf(vs))
		_, h, err := schema.DecodeHist(s)
		if err != nil {
			t.Fatal(err)
		}
		sum.Add(h)
		want = want.Add(h)
	}
	if got := sum.Hist(); !got.Equal(want) {
		t.Fatalf("HistSum differs from Hist.Add: %d buckets, want %d", len(got.V), len(want.V))
	}
}
