package sinetstream

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Formats reported in Message.Format.
const (
	FormatV3   = "v3"   // SINETStream message format v3: DF 03 00 00, key version, v2 body
	FormatV2   = "v2"   // SINETStream message format v2: Avro single-object encoding
	FormatJSON = "json" // a bare JSON value, as a perftool line shipped without SINETStream
)

// Errors wrapped by *DecodeError. Test for them with errors.Is.
var (
	ErrEmpty          = errors.New("empty message")
	ErrTruncated      = errors.New("message truncated")
	ErrUnknownVersion = errors.New("unknown SINETStream message format version")
	ErrEncrypted      = errors.New("message is encrypted")
	ErrBadMarker      = errors.New("bad Avro single-object marker")
	ErrBadFingerprint = errors.New("unknown Avro schema fingerprint")
	ErrBadAvro        = errors.New("malformed Avro record")
	ErrTrailingBytes  = errors.New("trailing bytes after the Avro record")
	ErrBadJSON        = errors.New("invalid JSON")
	ErrUnknownFormat  = errors.New("neither a SINETStream v2/v3 message nor JSON")
)

var (
	v3Marker   = [4]byte{0xDF, 0x03, 0x00, 0x00}
	avroMarker = [2]byte{0xC3, 0x01}
	// schemaFingerprint is the CRC-64-AVRO fingerprint, little-endian as the single-object encoding stores it, of
	// the parsing canonical form of SINETStream's message schema:
	//	{"name":"jp.ad.sinet.stream.message","type":"record","fields":[{"name":"tstamp","type":"long"},{"name":"msg","type":"bytes"}]}
	// It is what SINETStream's marshal.py writes. Byte 6 is 0x66; a copy that reads 0x06 is a typo and matches
	// no real publisher (TestSchemaFingerprint recomputes it).
	schemaFingerprint = [8]byte{0x1F, 0x9C, 0x0C, 0x91, 0xEB, 0x33, 0x66, 0x4F}
)

const (
	v3HeaderLen = len(v3Marker) + 2                        // marker + key version
	v2HeaderLen = len(avroMarker) + len(schemaFingerprint) // marker + fingerprint
)

// Message is a decoded Kafka record value.
type Message struct {
	// Time is the SINETStream tstamp (when the publisher wrote the message), in UTC with microsecond precision.
	// It is zero for FormatJSON: the caller falls back to the Kafka record's timestamp.
	Time time.Time
	// Payload is the message body: the perftool JSON line. It shares memory with the value given to Decode.
	Payload []byte
	// Format is FormatV3, FormatV2 or FormatJSON.
	Format string
}

// DecodeError says why a record value could not be decoded and where.
type DecodeError struct {
	Format string // the format being decoded when the problem was found; empty if none was recognised
	Offset int    // byte offset of the first wrong or missing byte (len(value) when the value ended too soon)
	Err    error  // one of the Err* sentinels
	Detail string // what was found and what was expected
}

func (e *DecodeError) Error() string {
	f := e.Format
	if f == "" {
		f = "record value"
	} else {
		f = "SINETStream " + f + " message"
	}
	return fmt.Sprintf("decode %s: byte %d: %v: %s", f, e.Offset, e.Err, e.Detail)
}

func (e *DecodeError) Unwrap() error { return e.Err }

func decodeErr(format string, offset int, err error, detail string, args ...any) error {
	return &DecodeError{Format: format, Offset: offset, Err: err, Detail: fmt.Sprintf(detail, args...)}
}

// Decode decodes one Kafka record value as published by SINETStream: message format v3 (DF 03 00 00, a 2-byte key
// version, then a v2 body), v2 (Avro single-object encoding of {tstamp: timestamp-micros, msg: bytes}), or a bare
// JSON value, which perftool lines shipped without SINETStream are. The first byte decides: 0xDF is v3, 0xC3 is
// v2, anything else must be JSON.
//
// Every length is checked against the value, and bytes after the Avro record are an error rather than ignored,
// so a damaged record is reported instead of half-read. Errors are *DecodeError wrapping one of the Err*
// sentinels; ErrEncrypted means the publisher enabled SINETStream data encryption, which this server cannot undo.
//
// The Avro part is decoded by hand, not with an Avro library: the schema is fixed at two fields whose encoding
// is encoding/binary's zig-zag varint, and a library would add a dependency yet report neither which byte was
// wrong nor trailing bytes.
func Decode(value []byte) (Message, error) {
	if len(value) == 0 {
		return Message{}, decodeErr("", 0, ErrEmpty, "the record value has no bytes")
	}
	switch value[0] {
	case v3Marker[0]:
		return decodeV3(value)
	case avroMarker[0]:
		return decodeV2(value, 0, FormatV2)
	}
	return decodeJSON(value)
}

func decodeV3(b []byte) (Message, error) {
	for i := 1; i < len(v3Marker); i++ {
		if i >= len(b) {
			return Message{}, decodeErr(FormatV3, len(b), ErrTruncated, "the v3 header needs %d bytes, the value has %d", v3HeaderLen, len(b))
		}
		if b[i] != v3Marker[i] {
			return Message{}, decodeErr(FormatV3, i, ErrUnknownVersion, "marker % X, want % X (version 3)", b[:min(len(b), len(v3Marker))], v3Marker[:])
		}
	}
	if len(b) < v3HeaderLen {
		return Message{}, decodeErr(FormatV3, len(b), ErrTruncated, "the v3 header needs %d bytes, the value has %d", v3HeaderLen, len(b))
	}
	if kv := binary.BigEndian.Uint16(b[4:6]); kv != 0 {
		return Message{}, decodeErr(FormatV3, 4, ErrEncrypted,
			"key version %d (0 means unencrypted): turn off data_encryption for the perftool publisher", kv)
	}
	return decodeV2(b, v3HeaderLen, FormatV3)
}

// decodeV2 decodes the Avro single-object encoding that starts at b[off]; format names the outer format in errors.
func decodeV2(b []byte, off int, format string) (Message, error) {
	for i := range avroMarker {
		p := off + i
		if p >= len(b) {
			return Message{}, decodeErr(format, len(b), ErrTruncated, "the Avro marker at byte %d needs 2 bytes", off)
		}
		if b[p] != avroMarker[i] {
			return Message{}, decodeErr(format, p, ErrBadMarker, "marker % X, want % X", b[off:min(len(b), off+2)], avroMarker[:])
		}
	}
	fp := off + len(avroMarker)
	have := b[fp:min(len(b), fp+len(schemaFingerprint))]
	if !bytes.Equal(have, schemaFingerprint[:len(have)]) {
		return Message{}, decodeErr(format, fp, ErrBadFingerprint,
			"% X, want % X (the record was not written with SINETStream's message schema)", have, schemaFingerprint[:])
	}
	if len(have) < len(schemaFingerprint) {
		return Message{}, decodeErr(format, len(b), ErrTruncated, "the schema fingerprint at byte %d needs 8 bytes, the value has %d", fp, len(have))
	}

	pos := off + v2HeaderLen
	tstamp, pos, err := readLong(b, pos, format, "tstamp")
	if err != nil {
		return Message{}, err
	}
	lenAt := pos
	n, pos, err := readLong(b, pos, format, "msg length")
	if err != nil {
		return Message{}, err
	}
	if n < 0 {
		return Message{}, decodeErr(format, lenAt, ErrBadAvro, "msg length is %d", n)
	}
	if rest := len(b) - pos; n > int64(rest) {
		return Message{}, decodeErr(format, len(b), ErrTruncated, "msg (length at byte %d) has %d bytes, the value only %d more", lenAt, n, rest)
	}
	end := pos + int(n)
	if end != len(b) {
		return Message{}, decodeErr(format, end, ErrTrailingBytes, "%d bytes after the msg field", len(b)-end)
	}
	return Message{Time: time.UnixMicro(tstamp).UTC(), Payload: b[pos:end:end], Format: format}, nil
}

// readLong reads an Avro long (zig-zag varint, the same encoding as encoding/binary's Varint) at b[pos].
func readLong(b []byte, pos int, format, field string) (int64, int, error) {
	v, n := binary.Varint(b[pos:])
	switch {
	case n == 0 && len(b)-pos >= binary.MaxVarintLen64:
		// Ten bytes that all say "more follows" are already too many, whatever comes next.
		return 0, 0, decodeErr(format, pos, ErrBadAvro, "the %s varint overflows 64 bits", field)
	case n == 0:
		return 0, 0, decodeErr(format, len(b), ErrTruncated, "the %s varint at byte %d is cut off", field, pos)
	case n < 0:
		return 0, 0, decodeErr(format, pos, ErrBadAvro, "the %s varint overflows 64 bits", field)
	}
	return v, pos + n, nil
}

func decodeJSON(b []byte) (Message, error) {
	start := len(b) - len(bytes.TrimLeft(b, " \t\r\n"))
	if start == len(b) {
		return Message{}, decodeErr("", len(b), ErrEmpty, "the record value is only whitespace")
	}
	if c := b[start]; strings.IndexByte(`{["-0123456789tfn`, c) < 0 {
		return Message{}, decodeErr("", start, ErrUnknownFormat,
			"first byte 0x%02X: want 0xDF (v3), 0xC3 (v2) or the start of a JSON value", c)
	}
	var raw json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			// Offset counts the bytes read, including the offending one; at the end of input there is none.
			at := int(se.Offset) - 1
			if strings.HasPrefix(se.Error(), "unexpected end") {
				at = len(b)
			}
			return Message{}, decodeErr(FormatJSON, min(max(at, 0), len(b)), ErrBadJSON, "%s", se.Error())
		}
		return Message{}, decodeErr(FormatJSON, start, ErrBadJSON, "%s", err.Error())
	}
	return Message{Payload: b, Format: FormatJSON}, nil
}

// EncodeV2 returns payload framed as SINETStream message format v2 with tstamp t (microsecond precision;
// finer digits are dropped).
func EncodeV2(t time.Time, payload []byte) []byte {
	b := make([]byte, 0, v2HeaderLen+2*binary.MaxVarintLen64+len(payload))
	return appendV2(b, t, payload)
}

// EncodeV3 returns payload framed as SINETStream message format v3, unencrypted (key version 0), with tstamp t.
func EncodeV3(t time.Time, payload []byte) []byte {
	b := make([]byte, 0, v3HeaderLen+v2HeaderLen+2*binary.MaxVarintLen64+len(payload))
	b = append(b, v3Marker[:]...)
	b = append(b, 0, 0)
	return appendV2(b, t, payload)
}

func appendV2(b []byte, t time.Time, payload []byte) []byte {
	b = append(b, avroMarker[:]...)
	b = append(b, schemaFingerprint[:]...)
	b = binary.AppendVarint(b, t.UnixMicro())
	b = binary.AppendVarint(b, int64(len(payload)))
	return append(b, payload...)
}
