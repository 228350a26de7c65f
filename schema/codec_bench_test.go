package schema_test

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/benchpipe/benchpipe/schema"
)

func BenchmarkDecodeSample(b *testing.B) {
	rec, _ := schema.Encode(validRecords()["sample"])
	b.SetBytes(int64(len(rec)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := schema.Decode(rec); err != nil {
			b.Fatal(err)
		}
	}
}

// mqttSample is the record shape the benchmarks send most: a one-second MQTT sample with every figure, and with
// or without its two histograms (about 1,000 latencies each, as bench-hist's generator run records them).
func mqttSample(hists bool) schema.Record {
	lat := &schema.Latency{MinMs: 0.113, MeanMs: 1.52, P50Ms: 1.25, P90Ms: 2.51, P95Ms: 3.07, P99Ms: 4.61, P999Ms: 12.3, MaxMs: 20.9}
	m := &schema.MQTTFigures{Sent: 10432, Received: 10431, Lost: 1, OutOfOrder: 1, OfferedRate: 10000,
		UncorrectedP50Ms: 1.1, UncorrectedP99Ms: 4.2, UncorrectedMaxMs: 19.5}
	if hists {
		lat.HDR, _ = schema.EncodeHist(histOf(latencies(11, 1000, 1500)))
		m.UncorrectedHDR, _ = schema.EncodeHist(histOf(latencies(12, 1000, 1100)))
	}
	return schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: runID, Seq: 4711, Time: t0.Add(time.Second),
		Sample: &schema.Sample{Start: t0, End: t0.Add(time.Second), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: 10432, OpsRate: 10432, Bytes: 1043200, Errors: 2, Latency: lat, MQTT: m}}}
}

func BenchmarkDecodeMQTTSample(b *testing.B) {
	for _, c := range []struct {
		name  string
		hists bool
	}{{"plain", false}, {"hists", true}} {
		b.Run(c.name, func(b *testing.B) {
			rec, err := schema.Encode(mqttSample(c.hists))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(rec)))
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				if _, err := schema.Decode(rec); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// reportCPU reports the process's CPU time per operation (cpu-ns/op) when the returned function is called: on a
// shared machine the wall time per operation moves with other people's load, the CPU time much less.
func reportCPU(b *testing.B) func() {
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	return func() { b.ReportMetric(float64(cpu()-start)/float64(b.N), "cpu-ns/op") }
}

// decodeReference is what Decode returned before it had a decoder of its own for samples: the JSON v2 decoder's
// record, validated and redacted, or an error. ok is false when the JSON v2 decoder refused b.
func decodeReference(b []byte) (r schema.Record, ok bool, err error) {
	if err := jsonv2.Unmarshal(b, &r, jsonv2.RejectUnknownMembers(true)); err != nil {
		return schema.Record{}, false, err
	}
	if err := r.Validate(); err != nil {
		return schema.Record{}, true, err
	}
	return (*schema.Redactor)(nil).Record(r), true, nil
}

// checkDecodeMatches fails when Decode does not do with b what the JSON v2 decoder did: the same record, or an
// error where it refused b (worded by the same code as before), or the same validation error.
func checkDecodeMatches(t *testing.T, b []byte) {
	t.Helper()
	got, gotErr := schema.Decode(b)
	want, parsed, wantErr := decodeReference(b)
	switch {
	case wantErr == nil && gotErr != nil:
		t.Fatalf("Decode(%q): %v; the JSON v2 decoder reads it", b, gotErr)
	case wantErr != nil && gotErr == nil:
		t.Fatalf("Decode(%q) takes a record the JSON v2 decoder refuses (%v)", b, wantErr)
	case wantErr != nil && parsed && want.V != 0 && gotErr.Error() != wantErr.Error():
		t.Fatalf("Decode(%q): %v; want the validation error %v", b, gotErr, wantErr)
	case wantErr == nil && !reflect.DeepEqual(got, want):
		t.Fatalf("Decode(%q) differs from the JSON v2 decoder's record:\n got %+v\nwant %+v", b, got, want)
	}
}

// decodeSeeds are records of the shapes Decode reads itself and around them: every figure, whitespace, escapes,
// null, numbers in other forms, duplicate and unknown members, times with offsets.
func decodeSeeds() [][]byte {
	var seeds [][]byte
	for _, r := range []schema.Record{mqttSample(false), mqttSample(true), validRecords()["sample"], validRecords()["v1 sample"],
		validRecords()["started"], validRecords()["finished"]} {
		b, err := schema.Encode(r)
		if err != nil {
			panic(err)
		}
		seeds = append(seeds, b)
	}
	const s = `{"v":2,"type":"sample","run_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01","seq":7,"time":"2026-11-23T12:00:00.123456Z",` +
		`"sample":{"start":"2026-11-23T12:00:00Z","end":"2026-11-23T12:00:01Z","phase":"measure","ops":2100,"ops_rate":2100,"errors":0,` +
		`"latency":{"min_ms":0.2,"mean_ms":1.1,"p50_ms":0.9,"p90_ms":1.8,"p95_ms":2.2,"p99_ms":4.1,"p999_ms":9,"max_ms":12.5}}}`
	for _, v := range []string{
		s,
		" \n\t" + strings.ReplaceAll(s, ",", " ,\r\n ") + " \n",
		strings.ReplaceAll(s, ":", " : "),
		strings.Replace(s, `"measure"`, `"meas\u0075re"`, 1),
		strings.Replace(s, `"sample",`, `"sam\/ple",`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":2.1e3`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":2100.0`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":-0`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":9223372036854775807`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":9223372036854775808`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":-9223372036854775808`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":123456789012345678`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":0123`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":"2100"`, 1),
		strings.Replace(s, `"ops":2100`, `"ops":null`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":2.1E+3`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":1e400`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":1e-400`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":-0.0`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":.5`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":5.`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":0x10`, 1),
		strings.Replace(s, `"ops_rate":2100`, `"ops_rate":Infinity`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"errors":1`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"Errors":1`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"mqtt":null`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"pgbench":{"tps":1,"failed":0,"lag_ms":0.5,"skipped":2,"retried":1,"retries":3,"stddev_ms":0.1}`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"mqtt":{"sent":5,"received":5,"lost":0,"duplicated":0,"out_of_order":0,"offered_rate":5,"uncorrected_p50_ms":1,"uncorrected_p99_ms":2,"uncorrected_max_ms":3}`, 1),
		strings.Replace(s, `"errors":0`, `"errors":0,"extra":1`, 1),
		strings.Replace(s, `"max_ms":12.5`, `"max_ms":12.5,"hdr":""`, 1),
		strings.Replace(s, `"max_ms":12.5`, `"max_ms":12.5,"hdr":"bm90IGEgaGlzdG9ncmFt"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00.123456+09:00"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00.123456-00:30"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00,123456Z"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00.123456+24:00"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00.123456+23:60"`, 1),
		strings.Replace(s, `"12:00:00.123456Z"`, `"12:00:00.123456z"`, 1),
		strings.Replace(s, `"2026-11-23T12:00:00.123456Z"`, `"2026-11-23T24:00:00Z"`, 1),
		strings.Replace(s, `"2026-11-23T12:00:00.123456Z"`, `"2026-11-23 12:00:00Z"`, 1),
		strings.Replace(s, `"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, `"{0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01}"`, 1),
		strings.Replace(s, `"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, `"urn:uuid:0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, 1),
		strings.Replace(s, `"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, `"0192f0c47d1a7cc19a523f1e5b7d9e01"`, 1),
		strings.Replace(s, `"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01"`, `"0192F0C4-7D1A-7CC1-9A52-3F1E5B7D9E01"`, 1),
		strings.Replace(s, `"phase":"measure"`, `"phase":"mesure ü"`, 1),
		strings.Replace(s, `"phase":"measure"`, "\"phase\":\"m\xffe\"", 1),
		strings.Replace(s, `"phase":"measure"`, "\"phase\":\"m\te\"", 1),
		strings.Replace(s, `"type":"sample"`, `"type":"run_finished"`, 1),
		strings.Replace(s, `"type":"sample"`, `"type":"observation"`, 1),
		strings.Replace(s, `"v":2`, `"v":1`, 1),
		strings.Replace(s, `"v":2`, `"v":0`, 1),
		strings.Replace(s, `"v":2,`, ``, 1),
		strings.Replace(s, `"seq":7`, `"seq":0`, 1),
		s + "x",
		s + "{}",
		s[:len(s)-1],
		strings.Replace(s, `}}}`, `},}}`, 1),
		`{}`, `[]`, `null`, ``, `{"v":2}`, `{"sample":{}}`, `{"v":2,"type":"sample","sample":{"latency":{}}}`,
	} {
		seeds = append(seeds, []byte(v))
	}
	return seeds
}

// FuzzDecodeFastPath holds Decode's decoder of sample records to the JSON v2 decoder: the records it reads are
// read to the same values, and those the JSON v2 decoder refuses are refused with the same errors.
func FuzzDecodeFastPath(f *testing.F) {
	for _, s := range decodeSeeds() {
		f.Add(s)
	}
	f.Fuzz(checkDecodeMatches)
}

// The same over a few thousand mutations of the seeds, on every `go test` run: bytes replaced, inserted, deleted,
// drawn from what JSON is made of.
func TestDecodeFastPathMutations(t *testing.T) {
	const alphabet = "{}[]\":,.-+eE0123456789 \t\n\\/unlrtfaZT\xc3\xbc\xff"
	rng := rand.New(rand.NewPCG(16, 12))
	seeds := decodeSeeds()
	for _, s := range seeds {
		checkDecodeMatches(t, s)
	}
	for range 20000 {
		b := slices.Clone(seeds[rng.IntN(len(seeds))])
		for range 1 + rng.IntN(3) {
			c := alphabet[rng.IntN(len(alphabet))]
			switch i := rng.IntN(len(b) + 1); rng.IntN(3) {
			case 0:
				if i < len(b) {
					b[i] = c
				}
			case 1:
				b = slices.Insert(b, i, c)
			default:
				if i < len(b) {
					b = slices.Delete(b, i, i+1)
				}
			}
		}
		checkDecodeMatches(t, b)
	}
}

// The records producers send are read without the JSON v2 decoder, whose reflection was most of the sink's CPU
// time: a sample costs Decode 4 allocations (the record's three groups and the run's text checks) against 7 with it.
func TestDecodeSampleAllocations(t *testing.T) {
	b, err := schema.Encode(mqttSample(false))
	if err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := schema.Decode(b); err != nil {
			t.Fatal(err)
		}
	}); n > 4 {
		t.Fatalf("Decode of a sample: %v allocations, want at most 4", n)
	}
}

// Decode reads every figure to the float64 strconv.ParseFloat gives (the JSON v2 decoder's), whatever its digits.
func TestDecodeFloats(t *testing.T) {
	good, err := schema.Encode(mqttSample(false))
	if err != nil {
		t.Fatal(err)
	}
	const field = `"ops_rate":10432`
	if !bytes.Contains(good, []byte(field)) {
		t.Fatalf("fixture lacks %s", field)
	}
	rng := rand.New(rand.NewPCG(3, 5))
	var texts []string
	for range 50000 {
		intDigits, fracDigits := rng.IntN(18), rng.IntN(19)
		var sb strings.Builder
		if intDigits == 0 {
			sb.WriteByte('0')
		} else {
			sb.WriteByte(byte('1' + rng.IntN(9)))
			for range intDigits - 1 {
				sb.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		if fracDigits > 0 {
			sb.WriteByte('.')
			for range fracDigits {
				sb.WriteByte(byte('0' + rng.IntN(10)))
			}
		}
		if rng.IntN(8) == 0 {
			sb.WriteString([]string{"e", "E", "e+", "e-"}[rng.IntN(4)] + strconv.Itoa(rng.IntN(30)))
		}
		texts = append(texts, sb.String())
	}
	texts = append(texts, "0", "0.0", "0.5", "1.52", "0.113", "999999999999999", "9007199254740993", "0.1000000000000000055511151231257827",
		"123456789012345.6", "12345678901234.56", "4.35", "0.30000000000000004", "1e22", "1e23", "2.2250738585072011e-308")
	for _, text := range texts {
		want, err := strconv.ParseFloat(text, 64)
		if err != nil {
			continue
		}
		b := bytes.Replace(good, []byte(field), []byte(`"ops_rate":`+text), 1)
		got, err := schema.Decode(b)
		if err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		if math.Float64bits(got.Sample.OpsRate) != math.Float64bits(want) {
			t.Fatalf("ops_rate %s decoded to %v, strconv.ParseFloat gives %v", text, got.Sample.OpsRate, want)
		}
	}
}

// A broken histogram is refused with the words it always had: compress/zlib's count of the bytes that came out
// before the stream broke, not those of the faster inflater DecodeHist tries first, which stops elsewhere.
func TestDecodeHistTruncatedErrors(t *testing.T) {
	s, err := schema.EncodeHist(histOf(latencies(11, 1000, 1500)))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	stream := raw[8:]
	checked := 0
	for cut := 1; cut < len(stream); cut++ {
		// The outer header states the truncated length, so that the inflater meets the break.
		b := append(slices.Clone(raw[:4]), 0, 0, 0, 0)
		binary.BigEndian.PutUint32(b[4:], uint32(cut))
		b = append(b, stream[:cut]...)
		zr, err := zlib.NewReader(bytes.NewReader(stream[:cut]))
		if err != nil {
			continue
		}
		var hdr [40]byte
		if _, err := io.ReadFull(zr, hdr[:]); err != nil {
			continue
		}
		payloadLen := int(binary.BigEndian.Uint32(hdr[4:]))
		got, err := io.ReadFull(zr, make([]byte, payloadLen+1))
		_, _, derr := schema.DecodeHist(base64.StdEncoding.EncodeToString(b))
		if err == io.ErrUnexpectedEOF && got == payloadLen {
			// The whole payload came out before the break (in the checksum): taken, as it always was.
			if derr != nil {
				t.Fatalf("cut at %d of %d bytes, after the payload: %v", cut, len(stream), derr)
			}
			continue
		}
		want := fmt.Sprintf("payload: %d bytes, header says %d (%v)", got, payloadLen, err)
		if derr == nil || !strings.HasSuffix(derr.Error(), want) {
			t.Fatalf("cut at %d of %d bytes: DecodeHist says %v, want …%s", cut, len(stream), derr, want)
		}
		checked++
	}
	if checked < len(stream)/2 {
		t.Fatalf("only %d of %d cuts reached the payload", checked, len(stream))
	}
}
