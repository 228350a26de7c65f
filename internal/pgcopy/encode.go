package pgcopy

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// encodeFunc appends v's binary COPY field (int32 length, then the bytes; length -1 for NULL) to buf. It never
// sees an untyped nil: the row loop writes those. Errors describe the value only; the row loop adds row and column.
type encodeFunc func(buf []byte, v any) ([]byte, error)

// encoderFor returns the encoder of a column with type oid, or nil when pgcopy does not support the type.
func encoderFor(oid uint32) encodeFunc {
	switch oid {
	case pgtype.Int2OID:
		return encodeInt2
	case pgtype.Int4OID:
		return encodeInt4
	case pgtype.Int8OID:
		return encodeInt8
	case pgtype.Float4OID:
		return encodeFloat4
	case pgtype.Float8OID:
		return encodeFloat8
	case pgtype.BoolOID:
		return encodeBool
	case pgtype.TextOID, pgtype.VarcharOID:
		return encodeText
	case pgtype.UUIDOID:
		return encodeUUID
	case pgtype.TimestamptzOID:
		return encodeTimestamptz
	case pgtype.TimestampOID:
		return encodeTimestamp
	case pgtype.JSONOID:
		return encodeJSON
	case pgtype.JSONBOID:
		return encodeJSONB
	case pgtype.ByteaOID:
		return encodeBytea
	}
	return nil
}

// nullField is the length of a NULL field.
var nullField = []byte{0xff, 0xff, 0xff, 0xff}

func wrongType(v any) error { return fmt.Errorf("cannot encode a Go %T", v) }

// intArg converts Go's integer types to int64 and refuses anything else.
func intArg(v any) (int64, error) {
	if n, ok := v.(int64); ok { // what the rows mostly hold: one compare instead of the type switch
		return n, nil
	}
	switch v := v.(type) {
	case int:
		return int64(v), nil
	case int32:
		return int64(v), nil
	case int16:
		return int64(v), nil
	case int8:
		return int64(v), nil
	case uint8:
		return int64(v), nil
	case uint16:
		return int64(v), nil
	case uint32:
		return int64(v), nil
	case uint64:
		if v > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", v)
		}
		return int64(v), nil
	case uint:
		if uint64(v) > math.MaxInt64 {
			return 0, fmt.Errorf("%d is out of range", v)
		}
		return int64(v), nil
	}
	return 0, wrongType(v)
}

func encodeInt2(buf []byte, v any) ([]byte, error) {
	n, err := intArg(v)
	if err != nil {
		return buf, err
	}
	if n < math.MinInt16 || n > math.MaxInt16 {
		return buf, fmt.Errorf("%d is out of range", n)
	}
	buf = append(buf, 0, 0, 0, 2)
	return binary.BigEndian.AppendUint16(buf, uint16(n)), nil
}

func encodeInt4(buf []byte, v any) ([]byte, error) {
	n, err := intArg(v)
	if err != nil {
		return buf, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return buf, fmt.Errorf("%d is out of range", n)
	}
	buf = append(buf, 0, 0, 0, 4)
	return binary.BigEndian.AppendUint32(buf, uint32(n)), nil
}

func encodeInt8(buf []byte, v any) ([]byte, error) {
	n, err := intArg(v)
	if err != nil {
		return buf, err
	}
	buf = append(buf, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(n)), nil
}

// encodeFloat8 takes Go floats as they are (NaN and ±Inf included: PostgreSQL stores them) and integers that
// double precision represents exactly.
func encodeFloat8(buf []byte, v any) ([]byte, error) {
	f, ok := v.(float64)
	if !ok {
		var err error
		if f, err = toFloat8(v); err != nil {
			return buf, err
		}
	}
	buf = append(buf, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(f)), nil
}

func toFloat8(v any) (float64, error) {
	if f, ok := v.(float32); ok {
		return float64(f), nil
	}
	n, err := intArg(v)
	if err != nil {
		return 0, err
	}
	f := float64(n)
	// float64(n) rounds to nearest; 2^63 is the one result outside int64, where the conversion back is undefined.
	if f >= 0x1p63 || int64(f) != n {
		return 0, fmt.Errorf("%d has no exact double precision value", n)
	}
	return f, nil
}

// encodeFloat4 rounds a float64 to the nearest real, and refuses, as PostgreSQL's float8-to-real cast does, a
// finite value that overflows to infinity or a non-zero one that underflows to zero.
func encodeFloat4(buf []byte, v any) ([]byte, error) {
	var f float32
	switch v := v.(type) {
	case float32:
		f = v
	case float64:
		f = float32(v)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) || f == 0 && v != 0 {
			return buf, fmt.Errorf("%g is out of range", v)
		}
	default:
		n, err := intArg(v)
		if err != nil {
			return buf, err
		}
		f = float32(n)
		if f >= 0x1p63 || int64(f) != n {
			return buf, fmt.Errorf("%d has no exact real value", n)
		}
	}
	buf = append(buf, 0, 0, 0, 4)
	return binary.BigEndian.AppendUint32(buf, math.Float32bits(f)), nil
}

func encodeBool(buf []byte, v any) ([]byte, error) {
	b, ok := v.(bool)
	if !ok {
		return buf, wrongType(v)
	}
	if b {
		return append(buf, 0, 0, 0, 1, 1), nil
	}
	return append(buf, 0, 0, 0, 1, 0), nil
}

// appendBytes appends a variable-length field: prefix (the jsonb version byte, or nothing), then s. A nil byte
// slice is NULL, as pgx writes it.
func appendBytes[S ~string | ~[]byte](buf []byte, prefix []byte, s S, isNil bool) ([]byte, error) {
	if isNil {
		return append(buf, nullField...), nil
	}
	n := len(prefix) + len(s)
	if n > math.MaxInt32 {
		return buf, fmt.Errorf("%d bytes is more than a field can hold", n)
	}
	buf = binary.BigEndian.AppendUint32(buf, uint32(n))
	buf = append(buf, prefix...)
	return append(buf, s...), nil
}

// encodeText writes strings and byte slices as they are; PostgreSQL checks that they are valid UTF-8 without NUL.
func encodeText(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return appendBytes(buf, nil, v, false)
	case []byte:
		return appendBytes(buf, nil, v, v == nil)
	case json.RawMessage:
		return appendBytes(buf, nil, v, v == nil)
	}
	return buf, wrongType(v)
}

// encodeBytea writes bytes as they are: binary bytea is the raw bytes. A nil slice is NULL, as pgx writes it (the
// samples' latency histograms are nil for version 1 records).
func encodeBytea(buf []byte, v any) ([]byte, error) {
	if b, ok := v.([]byte); ok {
		return appendBytes(buf, nil, b, b == nil)
	}
	return buf, wrongType(v)
}

// encodeJSON writes JSON text as it is: PostgreSQL parses it anyway, so checking it here would only cost time.
func encodeJSON(buf []byte, v any) ([]byte, error) { return encodeText(buf, v) }

// jsonbVersion is the only version of jsonb's binary format: a version byte, then the JSON text.
var jsonbVersion = []byte{1}

func encodeJSONB(buf []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case json.RawMessage:
		return appendBytes(buf, jsonbVersion, v, v == nil)
	case string:
		return appendBytes(buf, jsonbVersion, v, false)
	case []byte:
		return appendBytes(buf, jsonbVersion, v, v == nil)
	}
	return buf, wrongType(v)
}

func encodeUUID(buf []byte, v any) ([]byte, error) {
	var u [16]byte
	switch v := v.(type) {
	case uuid.UUID:
		u = v
	case [16]byte:
		u = v
	case string:
		p, err := uuid.Parse(v)
		if err != nil {
			return buf, err
		}
		u = p
	default:
		return buf, wrongType(v)
	}
	buf = append(buf, 0, 0, 0, 16)
	return append(buf, u[:]...), nil
}

// PostgreSQL's timestamps are int64 microseconds since 2000-01-01 00:00 UTC, from 4714-11-24 BC (Julian day 0,
// MIN_TIMESTAMP) up to but excluding 294277-01-01 (END_TIMESTAMP). The bounds here are those instants in Unix
// seconds; checking seconds first keeps the microsecond arithmetic from overflowing for any time.Time.
const (
	pgEpochUnix      = 946684800      // 2000-01-01 00:00:00 UTC
	minTimestampUnix = -210866803200  // 4714-11-24 00:00:00 UTC BC
	endTimestampUnix = 9224318016000  // 294277-01-01 00:00:00 UTC
	microsPerSecond  = int64(1000000) // timestamps are in microseconds
)

// pgMicros converts Unix seconds and nanoseconds (0 ≤ nsec < 1e9) to PostgreSQL microseconds, truncating
// nanoseconds as pgx does.
func pgMicros(sec int64, nsec int) (int64, bool) {
	if sec < minTimestampUnix || sec >= endTimestampUnix {
		return 0, false
	}
	return (sec-pgEpochUnix)*microsPerSecond + int64(nsec/1000), true
}

func appendTimestamp(buf []byte, t time.Time, sec int64) ([]byte, error) {
	us, ok := pgMicros(sec, t.Nanosecond())
	if !ok {
		return buf, fmt.Errorf("%s is outside PostgreSQL's range (4714 BC to 294276 AD)", t.Format(time.RFC3339Nano))
	}
	buf = append(buf, 0, 0, 0, 8)
	return binary.BigEndian.AppendUint64(buf, uint64(us)), nil
}

// encodeTimestamptz writes the instant t stands for, whatever its location.
func encodeTimestamptz(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, wrongType(v)
	}
	return appendTimestamp(buf, t, t.Unix())
}

// encodeTimestamp writes t's wall clock in its own location, dropping the offset, as pgx does for timestamp
// without time zone.
func encodeTimestamp(buf []byte, v any) ([]byte, error) {
	t, ok := v.(time.Time)
	if !ok {
		return buf, wrongType(v)
	}
	_, offset := t.Zone()
	return appendTimestamp(buf, t, t.Unix()+int64(offset))
}
