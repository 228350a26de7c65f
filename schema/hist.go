package schema

import (
	"bytes"
	stdzlib "compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/klauspost/compress/zlib"
)

// The latency histograms of the contract (Latency.HDR, MQTTFigures.UncorrectedHDR) have one geometry, so that any
// two of them merge bucket for bucket: values in microseconds, lowest discernible value 1 µs, 2 significant
// digits. The highest trackable value only sizes a writer's counts array and does not move bucket boundaries;
// benchpipe's producers track up to one hour.
//
// Two significant digits keep a bucket within 1/128 (0.8 %) of the values in it. Three would keep 0.1 %, but
// cost about twice the bytes per sample row: a one-second MQTT sample at 1,000 msg/s encodes in about 180–360
// bytes at 2 digits against 350–660 at 3 (go run ./schema/bench measures it), and the aim is ≤ 200 bytes.
const (
	HistLowestMicros  = 1
	HistHighestMicros = int64(time.Hour / time.Microsecond)
	HistSigFigs       = 2
)

// NewHist returns an empty histogram of the contract's geometry, for a producer to record latencies into (µs).
func NewHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(HistLowestMicros, HistHighestMicros, HistSigFigs)
}

// EncodeHist returns h in the contract's encoding, the base64 text of HdrHistogram's V2 compressed format, or ""
// when h is nil or empty (the field is then left out).
func EncodeHist(h *hdrhistogram.Histogram) (string, error) {
	if h == nil || h.TotalCount() == 0 {
		return "", nil
	}
	if h.SignificantFigures() != HistSigFigs || h.LowestTrackableValue() != HistLowestMicros {
		return "", fmt.Errorf("histogram has %d significant digits and lowest value %d; the contract's are %d and %d",
			h.SignificantFigures(), h.LowestTrackableValue(), HistSigFigs, HistLowestMicros)
	}
	b, err := h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// Hist is a histogram in the sparse form the database stores and merges: V holds the populated buckets' values
// in ascending order, each the highest value equivalent to its bucket (what HdrHistogram's ValueAtPercentile
// returns for it), in microseconds; C holds their counts, all positive.
type Hist struct {
	V []int64
	C []int64

	idx []int32 // V's flat counts indexes when known (decoded histograms), for HistSum
}

// ErrHist is wrapped by the errors of DecodeHist.
var ErrHist = errors.New("not a histogram of the contract")

// DecodeHist reads a histogram in the contract's encoding and returns its V2 compressed bytes (what the database
// stores) and its buckets. It refuses another geometry: buckets of other widths would not merge exactly.
//
// It decodes the format itself rather than through hdrhistogram.DecodePacked, which gives the same buckets
// (hist_test.go checks) but opens a new zlib reader per histogram: 57 µs and 48 KB per one-second MQTT histogram,
// more than the sink spends on the rest of the record. Here the inflaters are reused, and they are
// github.com/klauspost/compress's: on these streams of a few hundred bytes, whose cost is mostly building each
// block's Huffman tables, it inflates in about 60 % of compress/zlib's time (7.6 µs against 12–13 µs for a
// one-second MQTT histogram, measured alone).
func DecodeHist(s string) ([]byte, Hist, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, Hist{}, fmt.Errorf("%w: not base64: %v", ErrHist, err)
	}
	h, err := decodeV2(raw)
	if err != nil {
		return nil, Hist{}, fmt.Errorf("%w: %v", ErrHist, err)
	}
	return raw, h, nil
}

// HdrHistogram's V2 compressed format: an 8-byte header (cookie, length of what follows), a zlib stream holding a
// 40-byte header (cookie, payload length, normalizing index offset, significant digits, lowest and highest
// trackable value, integer-to-double ratio) and the payload: the counts array in index order as ZigZag LEB128
// varints (at most 9 bytes, the ninth holding 8 bits), a negative number −n standing for n empty buckets.
const (
	v2CompressedCookie = 0x1c849304
	v2Cookie           = 0x1c849303
	v2HeaderSize       = 40
)

type inflater struct {
	std bool // compress/zlib's reader rather than klauspost/compress's
	src *bytes.Reader
	zr  io.ReadCloser
	buf []byte
	// scratch for parseCounts: the populated buckets' indexes and counts, copied out at their exact length
	idx []int32
	cnt []int64
}

var (
	inflaters    = sync.Pool{New: func() any { return &inflater{src: bytes.NewReader(nil)} }}
	stdInflaters = sync.Pool{New: func() any { return &inflater{std: true, src: bytes.NewReader(nil)} }}
)

// decodeV2 decodes with klauspost/compress's inflater, and a histogram that fails to decode again with
// compress/zlib's: the two inflate valid streams alike, but stop at different bytes of a broken one, and the
// error (a dead letter's reason) says how many bytes came out. So the errors stay word for word what they were.
func decodeV2(raw []byte) (Hist, error) {
	if h, err := decodeV2With(&inflaters, raw); err == nil {
		return h, nil
	}
	return decodeV2With(&stdInflaters, raw)
}

func decodeV2With(pool *sync.Pool, raw []byte) (Hist, error) {
	if len(raw) < 8 {
		return Hist{}, fmt.Errorf("%d bytes, shorter than the 8-byte header", len(raw))
	}
	if c := binary.BigEndian.Uint32(raw) &^ 0xf0; c != v2CompressedCookie {
		return Hist{}, fmt.Errorf("cookie %#x is not the V2 compressed encoding's", c)
	}
	n := binary.BigEndian.Uint32(raw[4:])
	if uint64(n) > uint64(len(raw)-8) {
		return Hist{}, fmt.Errorf("header says %d compressed bytes, %d follow", n, len(raw)-8)
	}
	inf := pool.Get().(*inflater)
	defer pool.Put(inf)
	inf.src.Reset(raw[8 : 8+n])
	if err := inf.open(); err != nil {
		return Hist{}, err
	}
	var hdr [v2HeaderSize]byte
	if _, err := io.ReadFull(inf.zr, hdr[:]); err != nil {
		return Hist{}, fmt.Errorf("inner header: %v", err)
	}
	if c := binary.BigEndian.Uint32(hdr[0:]) &^ 0xf0; c != v2Cookie {
		return Hist{}, fmt.Errorf("inner cookie %#x is not the V2 encoding's", c)
	}
	payloadLen := int32(binary.BigEndian.Uint32(hdr[4:]))
	sig := int32(binary.BigEndian.Uint32(hdr[12:]))
	lowest := int64(binary.BigEndian.Uint64(hdr[16:]))
	if sig != HistSigFigs || lowest != HistLowestMicros {
		return Hist{}, fmt.Errorf("%d significant digits and lowest value %d, want %d and %d", sig, lowest, HistSigFigs, HistLowestMicros)
	}
	if payloadLen < 0 || payloadLen > maxPayload {
		return Hist{}, fmt.Errorf("payload length %d out of range", payloadLen)
	}
	inf.buf = slices.Grow(inf.buf[:0], int(payloadLen)+1)[:payloadLen+1]
	got, err := io.ReadFull(inf.zr, inf.buf)
	if err != io.ErrUnexpectedEOF && err != nil || got != int(payloadLen) {
		// ReadFull returns ErrUnexpectedEOF exactly when the stream ends before the extra byte: the payload has its
		// stated length and the zlib checksum was verified on the way to EOF.
		return Hist{}, fmt.Errorf("payload: %d bytes, header says %d (%v)", got, payloadLen, err)
	}
	return inf.parseCounts(inf.buf[:payloadLen])
}

// open starts inflating inf.src, with a new reader or the one inf has.
func (inf *inflater) open() error {
	var err error
	switch {
	case inf.zr != nil && inf.std:
		return inf.zr.(stdzlib.Resetter).Reset(inf.src, nil)
	case inf.zr != nil:
		return inf.zr.(zlib.Resetter).Reset(inf.src, nil)
	case inf.std:
		inf.zr, err = stdzlib.NewReader(inf.src)
	default:
		inf.zr, err = zlib.NewReader(inf.src)
	}
	if err != nil {
		inf.zr = nil // a typed nil would pass the checks above
	}
	return err
}

// The contract's geometry has unit magnitude 0 and 2^(subBucketBits−1) sub-buckets per bucket above the first;
// a flat counts index idx stands for the value sub << bucket computed below (HdrHistogram's valueFromIndex).
var (
	halfBits = subBucketBits - 1
	// maxIndex keeps every value below 2^63.
	maxIndex   = int64(64-subBucketBits) << halfBits
	maxPayload = int32(maxIndex * 9)
)

// uvarint9 reads one LEB128 number of HdrHistogram's kind: like encoding/binary's, except that the ninth byte
// carries 8 bits and ends the number.
func uvarint9(p []byte) (uint64, int, error) {
	var u uint64
	for i := 0; i < len(p); i++ {
		if i == 8 {
			return u | uint64(p[i])<<56, 9, nil
		}
		u |= uint64(p[i]&0x7f) << (7 * i)
		if p[i]&0x80 == 0 {
			return u, i + 1, nil
		}
	}
	return 0, 0, errors.New("payload ends inside a number")
}

// parseCounts reads the payload's populated buckets into the inflater's scratch, then copies them out into one
// allocation of their exact size: a payload holds several bytes per populated bucket, and sizing the result by
// the payload (as before) allocated and cleared about three times the memory. The scratch is sized once per
// payload (each populated bucket takes at least one byte of it) and filled by index, and one-byte numbers (most
// counts, short runs of empty buckets) are read inline: this loop runs once per bucket of every histogram.
func (inf *inflater) parseCounts(p []byte) (Hist, error) {
	if cap(inf.idx) < len(p) {
		inf.idx, inf.cnt = make([]int32, len(p)), make([]int64, len(p))
	}
	idxs, cnts := inf.idx[:len(p)], inf.cnt[:len(p)]
	n := 0
	var idx, total int64
	for i := 0; i < len(p); {
		var u uint64
		if b := p[i]; b < 0x80 {
			u = uint64(b)
			i++
		} else {
			v, w, err := uvarint9(p[i:])
			if err != nil {
				return Hist{}, err
			}
			u = v
			i += w
		}
		c := int64(u>>1) ^ -int64(u&1)
		if c < 0 {
			if c == math.MinInt64 || idx-c > maxIndex {
				return Hist{}, fmt.Errorf("run of %d empty buckets at index %d is out of range", -c, idx)
			}
			idx -= c
			continue
		}
		if idx >= maxIndex {
			return Hist{}, fmt.Errorf("count at index %d is out of range", idx)
		}
		if c > 0 {
			if total > math.MaxInt64-c {
				return Hist{}, errors.New("counts overflow")
			}
			total += c
			idxs[n], cnts[n] = int32(idx), c
			n++
		}
		idx++
	}
	if n == 0 {
		return Hist{}, nil
	}
	backing := make([]int64, 2*n)
	h := Hist{V: backing[:n:n], C: backing[n:], idx: slices.Clone(idxs[:n])}
	copy(h.C, cnts[:n])
	for i, x := range h.idx {
		h.V[i] = valueOfIndex(int64(x))
	}
	return h, nil
}

// subBucketBits is log2 of the sub-bucket count of the contract's geometry: the smallest power of two holding
// 2·10^HistSigFigs, as HdrHistogram computes it (256 sub-buckets for 2 digits).
var subBucketBits = bits.Len64(2*pow10(HistSigFigs) - 1)

func pow10(n int) uint64 {
	p := uint64(1)
	for range n {
		p *= 10
	}
	return p
}

// highestEquivalent returns the highest value in the bucket whose lowest value is v, for the contract's geometry
// (unit magnitude 0): HdrHistogram's highestEquivalentValue, which the library does not export. Checked against
// the library for every bucket up to the highest trackable value in hist_test.go.
func highestEquivalent(v int64) int64 {
	mask := uint64(1)<<subBucketBits - 1
	bucket := bits.Len64(uint64(v)|mask) - subBucketBits
	return v + int64(1)<<bucket - 1
}

// Total returns the number of values in h.
func (h Hist) Total() int64 {
	var n int64
	for _, c := range h.C {
		n += c
	}
	return n
}

// ValueAtPercentile returns what hdrhistogram-go's ValueAtPercentile returns for the same values, for percentile
// p in (0, 100]: the highest equivalent value of the first bucket whose cumulative count reaches
// round(p/100 · total) (at least 1). 0 for an empty histogram.
func (h Hist) ValueAtPercentile(p float64) int64 {
	total := h.Total()
	if total == 0 {
		return 0
	}
	rank := int64(min(p, 100)/100*float64(total) + 0.5)
	rank = min(max(rank, 1), total)
	var cum int64
	for i, c := range h.C {
		cum += c
		if cum >= rank {
			return h.V[i]
		}
	}
	return h.V[len(h.V)-1]
}

// Add returns the merge of h and o: the counts of equal buckets summed.
func (h Hist) Add(o Hist) Hist {
	if len(o.V) == 0 {
		return h
	}
	if len(h.V) == 0 {
		return o
	}
	out := Hist{V: make([]int64, 0, len(h.V)+len(o.V)), C: make([]int64, 0, len(h.V)+len(o.V))}
	i, j := 0, 0
	for i < len(h.V) || j < len(o.V) {
		switch {
		case j == len(o.V) || i < len(h.V) && h.V[i] < o.V[j]:
			out.V, out.C = append(out.V, h.V[i]), append(out.C, h.C[i])
			i++
		case i == len(h.V) || o.V[j] < h.V[i]:
			out.V, out.C = append(out.V, o.V[j]), append(out.C, o.C[j])
			j++
		default:
			out.V, out.C = append(out.V, h.V[i]), append(out.C, h.C[i]+o.C[j])
			i++
			j++
		}
	}
	return out
}

// Equal reports whether h and o hold the same buckets and counts.
func (h Hist) Equal(o Hist) bool { return slices.Equal(h.V, o.V) && slices.Equal(h.C, o.C) }

// histCache keeps what Validate decoded, so that the sink, which validates every record, does not inflate each
// histogram twice.
type histCache struct {
	src string
	raw []byte
	h   Hist
}

func (c *histCache) decode(s string) error {
	if c.src == s && c.raw != nil {
		return nil
	}
	raw, h, err := DecodeHist(s)
	if err != nil {
		return err
	}
	*c = histCache{src: s, raw: raw, h: h}
	return nil
}

// get returns s decoded: nil and an empty Hist for "", and for a histogram that does not decode (Validate refuses
// those).
func (c *histCache) get(s string) ([]byte, Hist) {
	if s == "" || c.decode(s) != nil {
		return nil, Hist{}
	}
	return c.raw, c.h
}

// Hist returns HDR decoded: its V2 compressed bytes and its buckets; nil and an empty Hist when there is none.
func (l *Latency) Hist() ([]byte, Hist) { return l.hdr.get(l.HDR) }

// UncorrectedHist returns UncorrectedHDR decoded, as Latency.Hist.
func (m *MQTTFigures) UncorrectedHist() ([]byte, Hist) { return m.uncorrectedHDR.get(m.UncorrectedHDR) }

// HistPercentiles are the figures the database keeps and returns for a merged histogram: how many values it
// holds, and its p50, p90, p99, p99.9 and maximum in milliseconds, each as ValueAtPercentile reports it (the
// database's hist_percentiles computes the same, and the tests hold them equal).
type HistPercentiles struct {
	Count                              int64
	P50Ms, P90Ms, P99Ms, P999Ms, MaxMs float64
}

// Percentiles returns h's HistPercentiles; the zero value for an empty histogram.
func (h Hist) Percentiles() HistPercentiles {
	if len(h.V) == 0 {
		return HistPercentiles{}
	}
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return HistPercentiles{Count: h.Total(), P50Ms: ms(h.ValueAtPercentile(50)), P90Ms: ms(h.ValueAtPercentile(90)),
		P99Ms: ms(h.ValueAtPercentile(99)), P999Ms: ms(h.ValueAtPercentile(99.9)), MaxMs: ms(h.V[len(h.V)-1])}
}

// HistSum adds histograms bucket by bucket in a dense counts array indexed like HdrHistogram's: adding n
// histograms of b buckets each costs n·b. Hist.Add, merging sorted lists pairwise into a new list each time,
// costs n times the width of the sum and allocates as much: ten times slower for a minute of one-second samples.
// The zero value is an empty sum.
type HistSum struct {
	counts []int64
}

// Add adds h's counts.
func (s *HistSum) Add(h Hist) {
	if len(h.V) == 0 {
		return
	}
	if top := bucketIndex(h.V[len(h.V)-1]); top >= len(s.counts) { // V ascends: the last bucket is the highest
		s.counts = slices.Grow(s.counts, top+1-len(s.counts))[:top+1]
	}
	if len(h.idx) == len(h.V) {
		for i, idx := range h.idx {
			s.counts[idx] += h.C[i]
		}
		return
	}
	for i, v := range h.V {
		s.counts[bucketIndex(v)] += h.C[i]
	}
}

// Hist returns the sum; an empty Hist when nothing was added.
func (s *HistSum) Hist() Hist {
	n := 0
	for _, c := range s.counts {
		if c != 0 {
			n++
		}
	}
	if n == 0 {
		return Hist{}
	}
	h := Hist{V: make([]int64, 0, n), C: make([]int64, 0, n), idx: make([]int32, 0, n)}
	for idx, c := range s.counts {
		if c != 0 {
			h.V, h.C, h.idx = append(h.V, valueOfIndex(int64(idx))), append(h.C, c), append(h.idx, int32(idx))
		}
	}
	return h
}

// bucketIndex is the flat counts index of the bucket holding v (HdrHistogram's countsIndexFor, unit magnitude 0).
func bucketIndex(v int64) int {
	bucket := bits.Len64(uint64(v)|(1<<subBucketBits-1)) - subBucketBits
	sub := v >> bucket
	return (bucket+1)<<halfBits + int(sub) - 1<<halfBits
}

// valueOfIndex is the highest value equivalent to the bucket at flat counts index idx.
func valueOfIndex(idx int64) int64 {
	bucket := idx>>halfBits - 1
	sub := idx&(1<<halfBits-1) + 1<<halfBits
	if bucket < 0 {
		sub -= 1 << halfBits
		bucket = 0
	}
	return sub<<bucket + 1<<bucket - 1
}
