package sinetstream_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

var sentinels = []error{
	sinetstream.ErrEmpty, sinetstream.ErrTruncated, sinetstream.ErrUnknownVersion, sinetstream.ErrEncrypted,
	sinetstream.ErrBadMarker, sinetstream.ErrBadFingerprint, sinetstream.ErrBadAvro, sinetstream.ErrTrailingBytes,
	sinetstream.ErrBadJSON, sinetstream.ErrUnknownFormat,
}

// FuzzDecode: Decode never panics; a failure is a *DecodeError with an offset inside the value and one of the
// sentinels; a success re-encodes to a value that decodes to the same message. The seed corpus is in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Add(handV3(micros, []byte(javaLine)))
	f.Add(handV2(micros, []byte(threadLines[0])))
	f.Add([]byte(pythonLine))
	f.Fuzz(func(t *testing.T, value []byte) {
		m, err := sinetstream.Decode(value)
		if err != nil {
			var de *sinetstream.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error %T %v is not a *DecodeError", err, err)
			}
			if de.Offset < 0 || de.Offset > len(value) {
				t.Fatalf("offset %d outside a %d-byte value: %v", de.Offset, len(value), err)
			}
			for _, s := range sentinels {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("error %v wraps no sentinel", err)
		}
		switch m.Format {
		case sinetstream.FormatJSON:
			if !bytes.Equal(m.Payload, value) || !json.Valid(value) || !m.Time.IsZero() {
				t.Fatalf("JSON message %+v from %q", m, value)
			}
			return
		case sinetstream.FormatV2, sinetstream.FormatV3:
		default:
			t.Fatalf("unknown format %q", m.Format)
		}
		if !bytes.HasSuffix(value, m.Payload) {
			t.Fatalf("payload %q is not the end of the value %q", m.Payload, value)
		}
		encode := sinetstream.EncodeV2
		if m.Format == sinetstream.FormatV3 {
			encode = sinetstream.EncodeV3
		}
		again := encode(m.Time, m.Payload)
		if len(again) > len(value) {
			// The encoders write the shortest varints; the input may use longer ones, never shorter.
			t.Fatalf("re-encoding grew %d → %d bytes", len(value), len(again))
		}
		m2, err := sinetstream.Decode(again)
		if err != nil || m2.Format != m.Format || !m2.Time.Equal(m.Time) || !bytes.Equal(m2.Payload, m.Payload) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", m, m2, err)
		}
	})
}

// FuzzParseResult: ParseResult never panics; what it accepts marshals back to the same Result and makes a row.
func FuzzParseResult(f *testing.F) {
	f.Add([]byte(javaLine))
	f.Add([]byte(threadLines[1]))
	f.Add([]byte(pythonLine))
	f.Add([]byte(`{"name":"x","writer":{"thread_number":1e0,"msg_size_min":null}}`))
	f.Fuzz(func(t *testing.T, payload []byte) {
		r, err := sinetstream.ParseResult(payload)
		if err != nil {
			if !errors.Is(err, sinetstream.ErrInvalidResult) {
				t.Fatalf("error %v is not ErrInvalidResult", err)
			}
			return
		}
		b, err := sinetstream.MarshalResult(r)
		if err != nil {
			t.Fatalf("MarshalResult of an accepted result: %v", err)
		}
		back, err := sinetstream.ParseResult(b)
		if err != nil {
			t.Fatalf("re-parse %s: %v", b, err)
		}
		assertResult(t, back, r)
		if _, err := sinetstream.NewRow(sinetstream.Message{}, r, time.Unix(1e9, 0)); err != nil {
			t.Fatalf("NewRow of an accepted result: %v", err)
		}
	})
}
