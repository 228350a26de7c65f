package sinetstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Tables written by the sink for perftool, as named by schema/migrations/0002_perftool.sql. RawTable keeps the
// SINETStream perftool server's name (its Kafka Connect sink named tables after the topic).
const (
	Table    = "perftool"
	RawTable = "perftool-sinetstream-result"
)

// Row is one row of table perftool, its fields in the table's column order (Columns). Nil pointers are NULL: the
// figures of an absent side, and start/end times perftool printed as 0.
//
// The first ten columns are the SINETStream perftool server's, with the same names, so the old viewer keeps
// working; rates are double precision (the server used real, whose 24-bit mantissa rounds byte rates above 16 MB/s)
// and error counts bigint, as counted.
type Row struct {
	// Timestamp is when the measurement ended: the writer's end time, else the reader's, else PublishedAt. It
	// comes from the result, not from the message, so a result published twice yields the same primary key
	// (publisher, timestamp, thread_number) and is stored once.
	Timestamp        time.Time
	ReaderBytesRate  *float64
	WriterBytesRate  *float64
	ReaderCountRate  *float64
	WriterCountRate  *float64
	ReaderErrorRate  *float64
	WriterErrorRate  *float64
	ReaderErrorCount *int64
	WriterErrorCount *int64
	Publisher        string
	ThreadNumber     int32

	WriterStartTime     *time.Time
	WriterEndTime       *time.Time
	WriterTime          *float64 // seconds
	WriterMsgCountTotal *int64
	WriterMsgBytesTotal *int64
	WriterMsgSizeMin    *int64
	WriterMsgSizeMax    *int64
	WriterMsgSizeAvg    *float64

	ReaderStartTime     *time.Time
	ReaderEndTime       *time.Time
	ReaderTime          *float64
	ReaderMsgCountTotal *int64
	ReaderMsgBytesTotal *int64
	ReaderMsgSizeMin    *int64
	ReaderMsgSizeMax    *int64
	ReaderMsgSizeAvg    *float64

	// PublishedAt is the SINETStream tstamp, or for a bare JSON message the fallback (the Kafka record's
	// timestamp). It is kept for tracing but is not part of the key: it changes when a result is re-published.
	PublishedAt time.Time
}

// Columns returns the perftool table's columns in Row's field order, for pgx CopyFrom. inserted_at is left to
// its default.
func Columns() []string {
	return []string{
		"timestamp",
		"reader_bytes_rate", "writer_bytes_rate",
		"reader_count_rate", "writer_count_rate",
		"reader_error_rate", "writer_error_rate",
		"reader_error_count", "writer_error_count",
		"publisher", "thread_number",
		"writer_start_time", "writer_end_time", "writer_time",
		"writer_msg_count_total", "writer_msg_bytes_total",
		"writer_msg_size_min", "writer_msg_size_max", "writer_msg_size_avg",
		"reader_start_time", "reader_end_time", "reader_time",
		"reader_msg_count_total", "reader_msg_bytes_total",
		"reader_msg_size_min", "reader_msg_size_max", "reader_msg_size_avg",
		"published_at",
	}
}

// Values returns r's values in Columns order, with untyped nil for NULL.
func (r Row) Values() []any {
	return []any{
		r.Timestamp,
		val(r.ReaderBytesRate), val(r.WriterBytesRate),
		val(r.ReaderCountRate), val(r.WriterCountRate),
		val(r.ReaderErrorRate), val(r.WriterErrorRate),
		val(r.ReaderErrorCount), val(r.WriterErrorCount),
		r.Publisher, r.ThreadNumber,
		val(r.WriterStartTime), val(r.WriterEndTime), val(r.WriterTime),
		val(r.WriterMsgCountTotal), val(r.WriterMsgBytesTotal),
		val(r.WriterMsgSizeMin), val(r.WriterMsgSizeMax), val(r.WriterMsgSizeAvg),
		val(r.ReaderStartTime), val(r.ReaderEndTime), val(r.ReaderTime),
		val(r.ReaderMsgCountTotal), val(r.ReaderMsgBytesTotal),
		val(r.ReaderMsgSizeMin), val(r.ReaderMsgSizeMax), val(r.ReaderMsgSizeAvg),
		r.PublishedAt,
	}
}

// val turns a nil pointer into an untyped nil, so no database driver has to guess that a typed nil means NULL.
func val[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// ref and copyOf give the Row its own values, so changing the Result afterwards does not change the Row.
func ref[T any](v T) *T { return &v }

func copyOf[T any](p *T) *T {
	if p == nil {
		return nil
	}
	return ref(*p)
}

// ErrNoTime is returned by NewRow and NewRawRow when a message has no tstamp and the fallback time is zero.
var ErrNoTime = errors.New("no publish time: the message has no tstamp and the fallback time is zero")

var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// publishedAt picks m.Time, else fallback, and checks that PostgreSQL and RFC 3339 clients can take it.
func publishedAt(m Message, fallback time.Time) (time.Time, error) {
	t := m.Time
	if t.IsZero() {
		t = fallback
	}
	if t.IsZero() {
		return time.Time{}, ErrNoTime
	}
	if t.Before(minTime) || t.After(maxTime) {
		return time.Time{}, fmt.Errorf("publish time %s is outside years 1 to 9999", t.UTC().Format(time.RFC3339Nano))
	}
	return t.Truncate(time.Microsecond).UTC(), nil
}

// NewRow builds the perftool row for result r carried by message m. fallback is the time to use when m has no
// tstamp (FormatJSON): the Kafka record's timestamp. r is validated again (Validate), so a Row never makes a COPY
// batch fail on a constraint.
func NewRow(m Message, r Result, fallback time.Time) (Row, error) {
	if err := r.Validate(); err != nil {
		return Row{}, err
	}
	pub, err := publishedAt(m, fallback)
	if err != nil {
		return Row{}, err
	}
	row := Row{Publisher: r.Name, PublishedAt: pub, Timestamp: pub}
	if s := r.Reader; s != nil {
		row.ThreadNumber = int32(s.ThreadNumber)
		row.ReaderBytesRate = ref(s.MsgBytesRate)
		row.ReaderCountRate = ref(s.MsgCountRate)
		row.ReaderErrorRate = ref(s.ErrorCountRate)
		row.ReaderErrorCount = ref(s.ErrorCountTotal)
		row.ReaderStartTime, row.ReaderEndTime = s.start(), s.end()
		row.ReaderTime = ref(s.Time)
		row.ReaderMsgCountTotal = ref(s.MsgCountTotal)
		row.ReaderMsgBytesTotal = ref(s.MsgBytesTotal)
		row.ReaderMsgSizeMin, row.ReaderMsgSizeMax = copyOf(s.MsgSizeMin), copyOf(s.MsgSizeMax)
		row.ReaderMsgSizeAvg = ref(s.MsgSizeAvg)
		if row.ReaderEndTime != nil {
			row.Timestamp = *row.ReaderEndTime
		}
	}
	// The writer's end wins: perftool's measurement period is the writer's sending period.
	if s := r.Writer; s != nil {
		row.ThreadNumber = int32(s.ThreadNumber)
		row.WriterBytesRate = ref(s.MsgBytesRate)
		row.WriterCountRate = ref(s.MsgCountRate)
		row.WriterErrorRate = ref(s.ErrorCountRate)
		row.WriterErrorCount = ref(s.ErrorCountTotal)
		row.WriterStartTime, row.WriterEndTime = s.start(), s.end()
		row.WriterTime = ref(s.Time)
		row.WriterMsgCountTotal = ref(s.MsgCountTotal)
		row.WriterMsgBytesTotal = ref(s.MsgBytesTotal)
		row.WriterMsgSizeMin, row.WriterMsgSizeMax = copyOf(s.MsgSizeMin), copyOf(s.MsgSizeMax)
		row.WriterMsgSizeAvg = ref(s.MsgSizeAvg)
		if row.WriterEndTime != nil {
			row.Timestamp = *row.WriterEndTime
		}
	}
	return row, nil
}

// RawRow is one row of RawTable: the message as received, like the SINETStream perftool server stored it. The
// sink can keep every JSON payload there, including results that ParseResult rejects.
type RawRow struct {
	Tstamp time.Time       // the SINETStream tstamp, or the fallback
	Msg    json.RawMessage // the payload, unchanged
}

// RawColumns returns RawTable's columns in RawRow's field order.
func RawColumns() []string { return []string{"tstamp", "msg"} }

// Values returns r's values in RawColumns order.
func (r RawRow) Values() []any { return []any{r.Tstamp, r.Msg} }

// NewRawRow builds the RawTable row for m. The payload must be JSON that jsonb accepts: Go's JSON parser takes
// \u0000 and unpaired UTF-16 surrogate escapes, PostgreSQL's jsonb refuses them, and one such payload would fail
// the whole COPY batch.
func NewRawRow(m Message, fallback time.Time) (RawRow, error) {
	pub, err := publishedAt(m, fallback)
	if err != nil {
		return RawRow{}, err
	}
	if !json.Valid(m.Payload) {
		return RawRow{}, fmt.Errorf("%w: payload is not valid JSON", ErrBadJSON)
	}
	if err := jsonbEscapes(m.Payload); err != nil {
		return RawRow{}, err
	}
	return RawRow{Tstamp: pub, Msg: json.RawMessage(m.Payload)}, nil
}

// jsonbEscapes reports \u escapes in valid JSON text b that PostgreSQL's jsonb rejects: \u0000, and a surrogate
// that is not a high one followed directly by a low one.
func jsonbEscapes(b []byte) error {
	refuse := func(at int, what string) error {
		return fmt.Errorf("%w: byte %d: %s, which PostgreSQL's jsonb refuses", ErrBadJSON, at, what)
	}
	high := -1 // offset of a high surrogate escape still waiting for its low half
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' || b[i+1] != 'u' {
			if high >= 0 {
				return refuse(high, "an unpaired UTF-16 high surrogate escape")
			}
			if b[i] == '\\' {
				i++ // in valid JSON a backslash always starts an escape; skip the escaped byte
			}
			continue
		}
		var r rune
		for _, c := range b[i+2 : i+6] {
			r = r<<4 | rune(hexVal(c))
		}
		switch {
		case r == 0:
			return refuse(i, "\\u0000")
		case r >= 0xDC00 && r < 0xE000 && high < 0:
			return refuse(i, "an unpaired UTF-16 low surrogate escape")
		case r >= 0xDC00 && r < 0xE000:
			high = -1
		case high >= 0:
			return refuse(high, "an unpaired UTF-16 high surrogate escape")
		case r >= 0xD800 && r < 0xDC00:
			high = i
		}
		i += 5
	}
	if high >= 0 {
		return refuse(high, "an unpaired UTF-16 high surrogate escape")
	}
	return nil
}

func hexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}
