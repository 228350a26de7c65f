// Package pgcopy writes rows into a PostgreSQL table with binary COPY, encoding each column with an encoder chosen
// once, from the column's type, when the table is loaded.
//
// Why not pgx's CopyFrom: pgx looks up an encode plan for every value of every row (pgtype.(*Map).Encode →
// planEncodeDepth), because a CopyFromSource may hand it a different Go type in any row. In a CPU profile of the
// sink that was 56% of the client's CPU, and it halved the sink's throughput: pgx CopyFrom managed ~90k sample
// rows/s on the project VM where the server takes ~250k rows/s of the same rows in binary COPY. pgcopy supports
// the few column types benchpipe's tables use and the Go types its rows carry (schema.Record's *Row methods,
// schema/sinetstream's Values); a type switch on each value appends straight into a send buffer, with no
// allocation.
//
// Measured with BenchmarkCopySamples, BenchmarkPgxCopyFromSamples and BenchmarkCopyTransport (10,000 sample rows
// per COPY into the migrated samples table, client and server on the 2-core VM, shared with other work, so the
// best runs are quoted; CPU times are steadier):
//
//	                          best ns/row   client CPU ns/row
//	pgx CopyFrom              5,500–7,000   4,100–4,500
//	pgcopy Copy               4,200–4,700     460–580
//	bytes encoded beforehand  4,200–4,500     420–550    (the server alone: the floor)
//
// Copy is as fast as sending bytes encoded beforehand: the server is the limit, and the client uses about an
// eighth of the CPU, which the sink needs for consuming and decoding.
//
// Rows are encoded while PgConn.CopyFrom reads them, one send buffer (64 KiB) at a time, so the server parses one
// chunk while the next is encoded, and a batch never sits in memory twice. An io.Pipe fed by a goroutine (pgx's
// way) was as fast but needs a goroutine; encoding the whole batch into one buffer first was ~1.5x slower (the
// server waits while the client encodes) and cost ~6x the client CPU.
//
// Rows come as [][]any (Copy) or value by value through a Row (CopyFunc). The sink writes its sample rows typed,
// straight from the decoded records (schema.Record.WriteSampleRow): building each row's []any boxed its 35 values
// in 25 allocations, and from record to COPY bytes took 1,900 ns a row that way against 510 ns typed, with no
// allocation (BenchmarkEncodeSampleRecords).
//
// A column type pgcopy does not support makes LoadTable fail with ErrUnsupportedType; the caller then keeps using
// pgx CopyFrom for that table.
package pgcopy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrUnsupportedType is returned (wrapped) by LoadTable when a column has a type pgcopy cannot encode.
var ErrUnsupportedType = errors.New("column type not supported by pgcopy")

// Querier runs a query. pgx.Tx, *pgx.Conn and *pgxpool.Pool satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Table is what Copy needs to know about a table: the COPY statement and one encoder per column. It does not
// change after LoadTable, so one Table serves any number of connections and goroutines. Load it again after the
// table's column types change: binary COPY has no type information of its own, and an int4 column that became
// real would take the same four bytes.
type Table struct {
	sql  string
	cols []column
}

type column struct {
	name string
	typ  string // format_type, for errors
	oid  uint32
	enc  encodeFunc
}

// LoadTable reads the types of table's columns from the catalog and returns a Table that copies into those
// columns, in that order. table is schema-qualified (pgx.Identifier{"public", "samples"}) or a single name found
// through search_path; the Table then names the table it found with its schema, so a later change of
// search_path does not move it. Callers that write a fixed table should qualify it: the connecting role's
// search_path ("$user", public by default) can find a table of the same name in another schema first.
func LoadTable(ctx context.Context, conn Querier, ident pgx.Identifier, columns []string) (*Table, error) {
	table := ident.Sanitize()
	if len(columns) == 0 {
		return nil, fmt.Errorf("load table %s: no columns", table)
	}
	seen := make(map[string]bool, len(columns))
	for _, c := range columns {
		if seen[c] {
			return nil, fmt.Errorf("load table %s: column %q listed twice", table, c)
		}
		seen[c] = true
	}
	// One row per requested column, in order; the attribute columns are NULL for a column the table lacks, and
	// no row at all comes back when there is no such table.
	rows, err := conn.Query(ctx, `
		SELECT n.nspname, c.relname, c.relpersistence = 't', a.atttypid, format_type(a.atttypid, a.atttypmod)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		CROSS JOIN unnest($2::text[]) WITH ORDINALITY AS want(name, i)
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = want.name AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.oid = to_regclass($1)
		ORDER BY want.i`, table, columns)
	if err != nil {
		return nil, fmt.Errorf("load table %s: %w", table, err)
	}
	t := &Table{cols: make([]column, 0, len(columns))}
	var schema, rel string
	var temp bool
	var oid *uint32
	var typ *string
	_, err = pgx.ForEachRow(rows, []any{&schema, &rel, &temp, &oid, &typ}, func() error {
		name := columns[len(t.cols)]
		if oid == nil {
			return fmt.Errorf("table %s has no column %q", table, name)
		}
		enc := encoderFor(*oid)
		if enc == nil {
			return fmt.Errorf("column %q has type %s: %w", name, *typ, ErrUnsupportedType)
		}
		t.cols = append(t.cols, column{name: name, typ: *typ, oid: *oid, enc: enc})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load table %s: %w", table, err)
	}
	if len(t.cols) == 0 {
		return nil, fmt.Errorf("load table %s: no such table", table)
	}
	if temp {
		schema = "pg_temp" // the session's own temporary schema, whichever pg_temp_N it is on this connection
	}
	quoted := make([]string, len(columns))
	for i, c := range columns {
		quoted[i] = pgx.Identifier{c}.Sanitize()
	}
	t.sql = fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", pgx.Identifier{schema, rel}.Sanitize(), strings.Join(quoted, ", "))
	return t, nil
}

// ValueError is a value Copy could not encode for its column: a Go type the column does not take, or a value
// outside the column type's range. Copy stops at the first one and the server stores nothing of the batch; the
// COPY fails, so a transaction it ran in is aborted, as with pgx CopyFrom.
type ValueError struct {
	Row    int    // index of the row in the rows given to Copy
	Column string // column name
	Type   string // the column's type as PostgreSQL names it, e.g. "integer"
	Err    error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("row %d, column %q (%s): %v", e.Row, e.Column, e.Type, e.Err)
}

func (e *ValueError) Unwrap() error { return e.Err }

// Copy writes rows into the table with one binary COPY on conn and returns the number of rows stored. Each row
// holds one value per column of LoadTable's list, in that order; untyped nil is NULL. A value that does not fit
// its column is a *ValueError; errors from the server (a unique violation: *pgconn.PgError with Code 23505) come
// back unchanged. For a pgx.Tx, conn is tx.Conn().PgConn().
//
// Column types and the Go values they take:
//
//	smallint, integer, bigint    int, int8…int64, uint8…uint64, uint, range-checked
//	real, double precision       float32, float64 (NaN and ±Inf included), integers the type holds exactly;
//	                             a float64 is rounded to real, but overflow or underflow to zero is an error
//	boolean                      bool
//	text, varchar                string, []byte, json.RawMessage (nil slice = NULL)
//	json, jsonb                  json.RawMessage, []byte (nil = NULL), string; the server checks the JSON
//	uuid                         uuid.UUID, [16]byte, string (parsed)
//	timestamptz                  time.Time, its instant; outside 4714 BC to 294276 AD is an error
//	timestamp                    time.Time, its wall clock in its own location (as pgx writes it)
//
// Nanoseconds are truncated to microseconds.
func (t *Table) Copy(ctx context.Context, conn *pgconn.PgConn, rows [][]any) (int64, error) {
	return t.CopyFunc(ctx, conn, len(rows), func(i int, w *Row) {
		for _, v := range rows[i] {
			w.Any(v)
		}
	})
}

// CopyFunc is Copy for rows that are not held as []any: it writes n rows, calling write(i, w) for row i, which
// gives w the row's values in column order (see Row). A value that does not fit is a *ValueError whose Row is i.
func (t *Table) CopyFunc(ctx context.Context, conn *pgconn.PgConn, n int, write func(i int, w *Row)) (int64, error) {
	if n == 0 {
		return 0, nil
	}
	r := &rowReader{n: n, write: write, w: Row{t: t}, buf: appendHeader(make([]byte, 0, 2*sendSize))}
	tag, err := conn.CopyFrom(ctx, r, t.sql)
	if encErr := r.failure(); encErr != nil {
		// The server's answer is only the echo of our CopyFail (57014); the cause is here.
		return 0, encErr
	}
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// appendHeader appends the binary COPY header: signature, flags (none), header extension length (0).
func appendHeader(buf []byte) []byte {
	buf = append(buf, "PGCOPY\n\377\r\n\000"...)
	return append(buf, 0, 0, 0, 0, 0, 0, 0, 0)
}

// trailer ends the data: a tuple field count of -1.
var trailer = []byte{0xff, 0xff}

// appendRow appends one tuple. It returns a *ValueError without its Row, which the caller knows.
func (t *Table) appendRow(buf []byte, row []any) ([]byte, error) {
	w := Row{t: t}
	w.begin(buf)
	for _, v := range row {
		w.Any(v)
	}
	return w.end()
}

// sendSize is how much PgConn.CopyFrom reads at a time: its 64 KiB buffer less the CopyData message header.
const sendSize = 65536 - 5

// rowReader encodes rows as PgConn.CopyFrom reads them. Each Read is answered in full, so every CopyData message
// but the last is a full buffer; rows are encoded past the end and the rest kept for the next Read.
//
// PgConn.CopyFrom calls Read from a goroutine of its own and, when the connection breaks, may return before that
// goroutine is done, so the error Copy reads afterwards is behind a mutex.
type rowReader struct {
	n     int                 // rows to write
	write func(i int, w *Row) // writes row i's values
	w     Row
	next  int    // next row to encode
	buf   []byte // buf[off:] is encoded and not yet read
	off   int
	done  bool // the trailer is in buf

	mu  sync.Mutex
	err error
}

func (r *rowReader) Read(p []byte) (int, error) {
	if len(r.buf)-r.off < len(p) && !r.done {
		r.buf = append(r.buf[:0], r.buf[r.off:]...)
		r.off = 0
		if err := r.fill(len(p)); err != nil {
			r.mu.Lock()
			r.err = err
			r.mu.Unlock()
			return 0, err
		}
	}
	if r.off == len(r.buf) {
		return 0, io.EOF
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

// fill encodes rows until buf holds at least want bytes or all rows, then the trailer.
func (r *rowReader) fill(want int) error {
	buf := r.buf
	for len(buf) < want && r.next < r.n {
		r.w.begin(buf)
		r.write(r.next, &r.w)
		var err error
		if buf, err = r.w.end(); err != nil {
			if ve, ok := err.(*ValueError); ok {
				ve.Row = r.next
				return ve
			}
			return fmt.Errorf("row %d: %w", r.next, err)
		}
		r.next++
	}
	if r.next == r.n {
		buf = append(buf, trailer...)
		r.done = true
	}
	r.buf = buf
	return nil
}

func (r *rowReader) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}
