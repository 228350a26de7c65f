package pgcopy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// Row takes one row's values for CopyFunc, in the column order of LoadTable's list, and encodes each as it comes.
//
// The typed methods exist so a caller with typed values needs no []any: boxing a sample row's 35 values in
// interfaces (25 allocations) cost the sink a quarter of its CPU.
// Each typed method encodes directly when the column has the type's natural column type (Int64: bigint, Float64:
// double precision, Time: timestamptz, UUID: uuid, String: text or varchar, Bytes: bytea), and otherwise does
// what Any does with the same value, so a row is encoded, or refused, the same whichever way it is written.
//
// After the first value that does not fit its column, the rest of the row is ignored and the copy fails with that
// value's *ValueError.
type Row struct {
	t   *Table
	buf []byte
	col int   // the column the next value is for
	err error // the first value that did not fit, or a wrong count
}

// begin starts a row at the end of buf.
func (w *Row) begin(buf []byte) {
	w.buf = binary.BigEndian.AppendUint16(buf, uint16(len(w.t.cols)))
	w.col, w.err = 0, nil
}

// errCount marks a row with more values than columns until end words it.
var errCount = errors.New("wrong number of values")

// end checks that the row had a value for every column and returns the buffer and the row's error.
func (w *Row) end() ([]byte, error) {
	if w.err == errCount || w.err == nil && w.col != len(w.t.cols) {
		w.err = fmt.Errorf("row has %d values for %d columns", w.col, len(w.t.cols))
	}
	return w.buf, w.err
}

// next returns the column the next value is for, or nil once the row has failed or has all its values.
func (w *Row) next() *column {
	if w.err != nil {
		w.col++
		return nil
	}
	if w.col >= len(w.t.cols) {
		w.col++
		w.err = errCount
		return nil
	}
	c := &w.t.cols[w.col]
	w.col++
	return c
}

// encode writes v with c's encoder (v is not an untyped nil).
func (w *Row) encode(c *column, v any) {
	var err error
	if w.buf, err = c.enc(w.buf, v); err != nil {
		w.err = &ValueError{Column: c.name, Type: c.typ, Err: err}
	}
}

// Any writes v as Copy does: untyped nil is NULL, any other value goes by the column's encoder (the table in
// Copy's documentation).
func (w *Row) Any(v any) {
	if c := w.next(); c != nil {
		if v == nil {
			w.buf = append(w.buf, nullField...)
			return
		}
		w.encode(c, v)
	}
}

// Null writes NULL.
func (w *Row) Null() {
	if c := w.next(); c != nil {
		w.buf = append(w.buf, nullField...)
	}
}

// Int64 writes v; a bigint column takes it directly.
func (w *Row) Int64(v int64) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.Int8OID {
			w.encode(c, v)
			return
		}
		w.buf = append(w.buf, 0, 0, 0, 8)
		w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(v))
	}
}

// Float64 writes v; a double precision column takes it directly.
func (w *Row) Float64(v float64) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.Float8OID {
			w.encode(c, v)
			return
		}
		w.buf = append(w.buf, 0, 0, 0, 8)
		w.buf = binary.BigEndian.AppendUint64(w.buf, math.Float64bits(v))
	}
}

// Time writes v; a timestamptz column takes its instant directly.
func (w *Row) Time(v time.Time) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.TimestamptzOID {
			w.encode(c, v)
			return
		}
		var err error
		if w.buf, err = appendTimestamp(w.buf, v, v.Unix()); err != nil {
			w.err = &ValueError{Column: c.name, Type: c.typ, Err: err}
		}
	}
}

// UUID writes v; a uuid column takes it directly.
func (w *Row) UUID(v uuid.UUID) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.UUIDOID {
			w.encode(c, v)
			return
		}
		w.buf = append(w.buf, 0, 0, 0, 16)
		w.buf = append(w.buf, v[:]...)
	}
}

// String writes v; a text or varchar column takes it directly.
func (w *Row) String(v string) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.TextOID && c.oid != pgtype.VarcharOID {
			w.encode(c, v)
			return
		}
		var err error
		if w.buf, err = appendBytes(w.buf, nil, v, false); err != nil {
			w.err = &ValueError{Column: c.name, Type: c.typ, Err: err}
		}
	}
}

// Bytes writes v, NULL for a nil slice (as Any does); a bytea column takes it directly.
func (w *Row) Bytes(v []byte) {
	if c := w.next(); c != nil {
		if c.oid != pgtype.ByteaOID {
			w.encode(c, v)
			return
		}
		var err error
		if w.buf, err = appendBytes(w.buf, nil, v, v == nil); err != nil {
			w.err = &ValueError{Column: c.name, Type: c.typ, Err: err}
		}
	}
}
