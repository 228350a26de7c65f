package sinetstream_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

func TestAvroLongVectors(t *testing.T) {
	// Computed with Python: zz = (n << 1) ^ (n >> 63), then LEB128.
	for _, v := range []struct {
		n   int64
		hex string
	}{
		{0, "00"}, {-1, "01"}, {1, "02"}, {63, "7e"}, {-64, "7f"}, {64, "8001"}, {300, "d804"},
		{micros, "b695f596eed2ed05"},
		{math.MaxInt64, "feffffffffffffffff01"},
		{math.MinInt64, "ffffffffffffffffff01"},
	} {
		if got := hex.EncodeToString(avroLong(v.n)); got != v.hex {
			t.Errorf("avroLong(%d) = %s, want %s", v.n, got, v.hex)
		}
	}
}

// TestSchemaFingerprint recomputes the fingerprint that v2 messages carry: CRC-64-AVRO (the Rabin fingerprint
// of the Avro spec) of the parsing canonical form of SINETStream's message schema, stored little-endian.
func TestSchemaFingerprint(t *testing.T) {
	const canonical = `{"name":"jp.ad.sinet.stream.message","type":"record","fields":[{"name":"tstamp","type":"long"},{"name":"msg","type":"bytes"}]}`
	const empty = 0xc15d213aa4d7a795
	var table [256]uint64
	for i := range table {
		fp := uint64(i)
		for range 8 {
			fp = (fp >> 1) ^ (empty & -(fp & 1))
		}
		table[i] = fp
	}
	fp := uint64(empty)
	for _, c := range []byte(canonical) {
		fp = (fp >> 8) ^ table[byte(fp)^c]
	}
	want := make([]byte, 8)
	for i := range want {
		want[i] = byte(fp >> (8 * i))
	}
	if !bytes.Equal(fingerprint, want) {
		t.Fatalf("test fingerprint % X, computed % X", fingerprint, want)
	}
	if got := sinetstream.EncodeV2(time.Unix(0, 0), nil)[2:10]; !bytes.Equal(got, want) {
		t.Fatalf("EncodeV2 writes fingerprint % X, want % X", got, want)
	}
}

func TestDecodeHandBuilt(t *testing.T) {
	for _, tc := range []struct {
		name   string
		value  []byte
		format string
		time   time.Time
		msg    string
	}{
		{"v3 single thread", handV3(micros, []byte(javaLine)), sinetstream.FormatV3, microsTime, javaLine},
		{"v2 single thread", handV2(micros, []byte(javaLine)), sinetstream.FormatV2, microsTime, javaLine},
		{"v3 thread 0", handV3(1649312268100000, []byte(threadLines[0])), sinetstream.FormatV3, time.UnixMicro(1649312268100000).UTC(), threadLines[0]},
		{"v2 thread 1", handV2(1649312268100001, []byte(threadLines[1])), sinetstream.FormatV2, time.UnixMicro(1649312268100001).UTC(), threadLines[1]},
		{"v3 empty msg", handV3(micros, nil), sinetstream.FormatV3, microsTime, ""},
		{"v2 tstamp before 1970", handV2(-1, []byte("x")), sinetstream.FormatV2, time.Date(1969, 12, 31, 23, 59, 59, 999999000, time.UTC), "x"},
		{"json", []byte(javaLine), sinetstream.FormatJSON, time.Time{}, javaLine},
		{"json with whitespace", []byte("\n " + pythonLine + "\r\n"), sinetstream.FormatJSON, time.Time{}, "\n " + pythonLine + "\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sinetstream.Decode(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if m.Format != tc.format {
				t.Errorf("Format = %q, want %q", m.Format, tc.format)
			}
			if !m.Time.Equal(tc.time) || m.Time.Location() != time.UTC {
				t.Errorf("Time = %v, want %v in UTC", m.Time, tc.time)
			}
			if string(m.Payload) != tc.msg {
				t.Errorf("Payload = %q, want %q", m.Payload, tc.msg)
			}
		})
	}
	if !microsTime.Equal(time.UnixMicro(micros)) {
		t.Fatalf("test constants disagree: %v vs %v", microsTime, time.UnixMicro(micros))
	}
}

// TestDecodeParseMultiThread follows the records of one 2-thread round through Decode and ParseResult.
func TestDecodeParseMultiThread(t *testing.T) {
	for i, line := range threadLines {
		m, err := sinetstream.Decode(handV3(1649312268100000+int64(i), []byte(line)))
		if err != nil {
			t.Fatal(err)
		}
		r, err := sinetstream.ParseResult(m.Payload)
		if err != nil {
			t.Fatal(err)
		}
		assertResult(t, r, threadResults[i])
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("perftool "), 20000)
	for _, tm := range []time.Time{
		microsTime,
		time.Unix(0, 0),
		time.Date(2025, 1, 2, 3, 4, 5, 678901234, time.FixedZone("JST", 9*3600)), // ns dropped, zone normalised
		time.Date(1960, 1, 1, 0, 0, 0, 1500, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC),
	} {
		for _, n := range []int{0, 1, 63, 64, 127, 128, 8191, 8192, len(big)} {
			payload := big[:n]
			for _, enc := range []struct {
				format string
				encode func(time.Time, []byte) []byte
			}{{sinetstream.FormatV2, sinetstream.EncodeV2}, {sinetstream.FormatV3, sinetstream.EncodeV3}} {
				b := enc.encode(tm, payload)
				m, err := sinetstream.Decode(b)
				if err != nil {
					t.Fatalf("%s %v len %d: %v", enc.format, tm, n, err)
				}
				want := tm.Truncate(time.Microsecond).UTC()
				if m.Format != enc.format || !m.Time.Equal(want) || !bytes.Equal(m.Payload, payload) {
					t.Fatalf("%s %v len %d: decoded %s %v len %d", enc.format, tm, n, m.Format, m.Time, len(m.Payload))
				}
			}
		}
	}
	// The encoders write exactly the hand-built bytes.
	if got, want := sinetstream.EncodeV3(microsTime, []byte(javaLine)), handV3(micros, []byte(javaLine)); !bytes.Equal(got, want) {
		t.Fatalf("EncodeV3 = % X\nwant       % X", got[:24], want[:24])
	}
	if got, want := sinetstream.EncodeV2(microsTime, []byte(javaLine)), handV2(micros, []byte(javaLine)); !bytes.Equal(got, want) {
		t.Fatalf("EncodeV2 = % X\nwant       % X", got[:24], want[:24])
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDecodeErrors(t *testing.T) {
	body := []byte(`{"x":1}`)
	v2 := handV2(micros, body)
	typo := []byte{0x1F, 0x9C, 0x0C, 0x91, 0xEB, 0x33, 0x06, 0x4F} // a copy of the fingerprint with byte 6 wrong
	overflow := bytes.Repeat([]byte{0xFF}, 10)                     // 10th byte > 1: more than 64 bits
	tstamp := avroLong(micros)
	for _, tc := range []struct {
		name   string
		value  []byte
		want   error
		offset int
		detail string // a substring of the message
	}{
		{"empty", nil, sinetstream.ErrEmpty, 0, "no bytes"},
		{"whitespace", []byte(" \n\t"), sinetstream.ErrEmpty, 3, "whitespace"},
		{"encrypted", cat([]byte{0xDF, 0x03, 0x00, 0x00, 0x00, 0x01}, v2), sinetstream.ErrEncrypted, 4, "key version 1"},
		{"encrypted high byte", cat([]byte{0xDF, 0x03, 0x00, 0x00, 0x01, 0x00}, v2), sinetstream.ErrEncrypted, 4, "key version 256"},
		{"encrypted header only", []byte{0xDF, 0x03, 0x00, 0x00, 0xFF, 0xFF}, sinetstream.ErrEncrypted, 4, "key version 65535"},
		{"version 4", cat([]byte{0xDF, 0x04, 0x00, 0x00, 0x00, 0x00}, v2), sinetstream.ErrUnknownVersion, 1, "DF 04 00 00"},
		{"version byte 2", []byte{0xDF, 0x03, 0x01}, sinetstream.ErrUnknownVersion, 2, "DF 03 01"},
		{"version 3 bad after short", []byte{0xDF, 0x05}, sinetstream.ErrUnknownVersion, 1, "DF 05"},
		{"v2 bad marker", cat([]byte{0xC3, 0x02}, fingerprint, tstamp, []byte{0x00}), sinetstream.ErrBadMarker, 1, "C3 02"},
		{"v3 body without marker", cat(v3Header, []byte(`{"x":1}`)), sinetstream.ErrBadMarker, 6, "7B 22"},
		{"v3 body bad marker byte 2", cat(v3Header, []byte{0xC3, 0x00}), sinetstream.ErrBadMarker, 7, "C3 00"},
		{"v2 fingerprint typo", cat(avroMarker, typo, tstamp, []byte{0x00}), sinetstream.ErrBadFingerprint, 2, "1F 9C 0C 91 EB 33 06 4F"},
		{"v3 fingerprint typo", cat(v3Header, avroMarker, typo, tstamp, []byte{0x00}), sinetstream.ErrBadFingerprint, 8, "want 1F 9C 0C 91 EB 33 66 4F"},
		{"v2 fingerprint wrong in short value", cat(avroMarker, []byte{0x1F, 0x00}), sinetstream.ErrBadFingerprint, 2, "1F 00"},
		{"tstamp overflow", cat(avroMarker, fingerprint, overflow, []byte{0x00}), sinetstream.ErrBadAvro, 10, "tstamp varint overflows"},
		{"tstamp 11 bytes", cat(avroMarker, fingerprint, bytes.Repeat([]byte{0x80}, 11), []byte{0x00}), sinetstream.ErrBadAvro, 10, "overflows"},
		{"length overflow", cat(avroMarker, fingerprint, tstamp, overflow), sinetstream.ErrBadAvro, 18, "msg length varint overflows"},
		{"negative length", cat(avroMarker, fingerprint, tstamp, avroLong(-1), body), sinetstream.ErrBadAvro, 18, "msg length is -1"},
		{"min int64 length", cat(avroMarker, fingerprint, tstamp, avroLong(math.MinInt64)), sinetstream.ErrBadAvro, 18, "-9223372036854775808"},
		{"huge length", cat(avroMarker, fingerprint, tstamp, avroLong(math.MaxInt64), body), sinetstream.ErrTruncated, 35, "has 9223372036854775807 bytes, the value only 7 more"},
		{"length one too many", cat(avroMarker, fingerprint, tstamp, avroLong(8), body), sinetstream.ErrTruncated, 26, "has 8 bytes, the value only 7 more"},
		{"trailing byte v2", cat(v2, []byte{0x00}), sinetstream.ErrTrailingBytes, len(v2), "1 bytes after"},
		{"trailing bytes v3", cat(v3Header, v2, []byte("garbage")), sinetstream.ErrTrailingBytes, 6 + len(v2), "7 bytes after"},
		{"binary", []byte{0x00, 0x01}, sinetstream.ErrUnknownFormat, 0, "first byte 0x00"},
		{"text", []byte("  hello"), sinetstream.ErrUnknownFormat, 2, "first byte 0x68"},
		{"utf-8 BOM", []byte("\xEF\xBB\xBF{}"), sinetstream.ErrUnknownFormat, 0, "0xEF"},
		{"json cut", []byte(`{"name":"x"`), sinetstream.ErrBadJSON, 11, "unexpected end"},
		{"json bad char", []byte(`{"name":x}`), sinetstream.ErrBadJSON, 8, "invalid character 'x'"},
		{"json trailing", []byte(`{"name":"x"} {}`), sinetstream.ErrBadJSON, 13, "after top-level value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := sinetstream.Decode(tc.value)
			if err == nil {
				t.Fatalf("decoded %+v, want %v", m, tc.want)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v is not %v", err, tc.want)
			}
			var de *sinetstream.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T is not a *DecodeError", err)
			}
			if de.Offset != tc.offset {
				t.Errorf("Offset = %d, want %d (%v)", de.Offset, tc.offset, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, fmt.Sprintf("byte %d:", tc.offset)) || !strings.Contains(msg, tc.detail) {
				t.Errorf("error %q does not say byte %d and %q", msg, tc.offset, tc.detail)
			}
		})
	}
}

// TestDecodeTruncatedEverywhere cuts valid messages at every byte: each prefix must be reported as truncated
// where it ends, never decoded and never a panic.
func TestDecodeTruncatedEverywhere(t *testing.T) {
	for name, value := range map[string][]byte{
		"v2":           handV2(micros, []byte(javaLine)),
		"v3":           handV3(micros, []byte(threadLines[1])),
		"v3 empty msg": handV3(-micros, nil),
		"v2 200 bytes": handV2(math.MaxInt64, bytes.Repeat([]byte{'a'}, 200)),
	} {
		for n := 0; n < len(value); n++ {
			_, err := sinetstream.Decode(value[:n])
			want := sinetstream.ErrTruncated
			if n == 0 {
				want = sinetstream.ErrEmpty
			}
			var de *sinetstream.DecodeError
			if !errors.Is(err, want) || !errors.As(err, &de) || de.Offset != n {
				t.Fatalf("%s cut to %d bytes: %v, want %v at byte %d", name, n, err, want, n)
			}
		}
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	_, err := sinetstream.Decode([]byte{0xDF, 0x03, 0x00, 0x00, 0x00, 0x02})
	const want = "decode SINETStream v3 message: byte 4: message is encrypted: key version 2 (0 means unencrypted): turn off data_encryption for the perftool publisher"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
}
