package sinetstream_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// TestColumnsFollowRowFields keeps Row, Columns and Values in step: field i of Row is column i.
func TestColumnsFollowRowFields(t *testing.T) {
	cols := sinetstream.Columns()
	rt := reflect.TypeFor[sinetstream.Row]()
	if rt.NumField() != len(cols) {
		t.Fatalf("Row has %d fields, Columns %d", rt.NumField(), len(cols))
	}
	for i, c := range cols {
		if got := snake(rt.Field(i).Name); got != c {
			t.Errorf("Row field %d is %s (%s), column %d is %s", i, rt.Field(i).Name, got, i, c)
		}
	}
	if n := len(sinetstream.Row{}.Values()); n != len(cols) {
		t.Fatalf("Values has %d entries, Columns %d", n, len(cols))
	}
	if n := len(sinetstream.RawRow{}.Values()); n != len(sinetstream.RawColumns()) {
		t.Fatalf("RawRow.Values has %d entries, RawColumns %d", n, len(sinetstream.RawColumns()))
	}
}

func TestNewRowJava(t *testing.T) {
	m, err := sinetstream.Decode(handV3(micros, []byte(javaLine)))
	if err != nil {
		t.Fatal(err)
	}
	r, err := sinetstream.ParseResult(m.Payload)
	if err != nil {
		t.Fatal(err)
	}
	row, err := sinetstream.NewRow(m, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int64) *time.Time { t := time.UnixMilli(n).UTC(); return &t }
	want := sinetstream.Row{
		Timestamp:        time.UnixMilli(1648491955657).UTC(), // writer end_time_ms
		ReaderBytesRate:  ptr(480368.0981595092),
		WriterBytesRate:  ptr(481846.1538461538),
		ReaderCountRate:  ptr(460.12269938650303),
		WriterCountRate:  ptr(461.53846153846155),
		ReaderErrorRate:  ptr(0.0),
		WriterErrorRate:  ptr(0.0),
		ReaderErrorCount: ptr[int64](0),
		WriterErrorCount: ptr[int64](0),
		Publisher:        "edge-pi-01",
		ThreadNumber:     0,

		WriterStartTime:     ms(1648491955007),
		WriterEndTime:       ms(1648491955657),
		WriterTime:          ptr(0.65),
		WriterMsgCountTotal: ptr[int64](300),
		WriterMsgBytesTotal: ptr[int64](313200),
		WriterMsgSizeMin:    ptr[int64](1044),
		WriterMsgSizeMax:    ptr[int64](1044),
		WriterMsgSizeAvg:    ptr(1044.0),

		ReaderStartTime:     ms(1648491955007),
		ReaderEndTime:       ms(1648491955659),
		ReaderTime:          ptr(0.652),
		ReaderMsgCountTotal: ptr[int64](300),
		ReaderMsgBytesTotal: ptr[int64](313200),
		ReaderMsgSizeMin:    ptr[int64](1044),
		ReaderMsgSizeMax:    ptr[int64](1044),
		ReaderMsgSizeAvg:    ptr(1044.0),

		PublishedAt: microsTime,
	}
	if !reflect.DeepEqual(row, want) {
		t.Fatalf("row\n got %+v\nwant %+v", row, want)
	}
	vals := row.Values()
	if vals[0] != want.Timestamp || vals[1] != 480368.0981595092 || vals[9] != "edge-pi-01" || vals[10] != int32(0) || vals[27] != microsTime {
		t.Fatalf("Values = %v", vals)
	}
}

func TestNewRowPython(t *testing.T) {
	// Bare JSON: no tstamp, so the Kafka record time is the publish time.
	m, err := sinetstream.Decode([]byte(pythonLine))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := sinetstream.ParseResult(m.Payload)
	kafkaTime := time.Date(2021, 3, 24, 13, 7, 36, 123456789, time.FixedZone("JST", 9*3600))
	row, err := sinetstream.NewRow(m, r, kafkaTime)
	if err != nil {
		t.Fatal(err)
	}
	if want := kafkaTime.Truncate(time.Microsecond).UTC(); row.PublishedAt != want {
		t.Errorf("PublishedAt = %v, want %v", row.PublishedAt, want)
	}
	// Float milliseconds are rounded to PostgreSQL's microseconds.
	if want := time.UnixMicro(1616591255032283).UTC(); row.Timestamp != want || *row.WriterEndTime != want {
		t.Errorf("Timestamp = %v, WriterEndTime = %v, want %v", row.Timestamp, *row.WriterEndTime, want)
	}
	if want := time.UnixMicro(1616591251962394).UTC(); *row.WriterStartTime != want {
		t.Errorf("WriterStartTime = %v, want %v", *row.WriterStartTime, want)
	}
	if row.ThreadNumber != 3 || *row.WriterErrorCount != 2 || *row.WriterErrorRate != 0.6514893389648749 {
		t.Errorf("row = %+v", row)
	}
	// The reader saw nothing: sizes are NULL, not 0.
	if row.ReaderMsgSizeMin != nil || row.ReaderMsgSizeMax != nil || *row.ReaderMsgCountTotal != 0 {
		t.Errorf("reader sizes = %v, %v", row.ReaderMsgSizeMin, row.ReaderMsgSizeMax)
	}
	vals := row.Values()
	if vals[24] != nil || vals[25] != nil {
		t.Errorf("NULL sizes are %#v, %#v in Values, want untyped nil", vals[24], vals[25])
	}
}

func TestNewRowOneSide(t *testing.T) {
	m := sinetstream.Message{Time: microsTime, Format: sinetstream.FormatV2}
	row, err := sinetstream.NewRow(m, sinetstream.Result{Name: "r", Reader: threadResults[1].Reader}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if row.Timestamp != time.UnixMilli(1649312268066).UTC() || row.ThreadNumber != 1 {
		t.Errorf("reader only: Timestamp %v thread %d, want the reader's end and thread", row.Timestamp, row.ThreadNumber)
	}
	vals := row.Values()
	for i, c := range sinetstream.Columns() {
		if strings.HasPrefix(c, "writer_") && vals[i] != nil {
			t.Errorf("reader-only row has %s = %#v", c, vals[i])
		}
	}

	// No end time on either side: the publish time stands in.
	s := *threadResults[0].Writer
	s.StartTime, s.StartTimeMillis, s.EndTime, s.EndTimeMillis = 0, 0, 0, 0
	row, err = sinetstream.NewRow(m, sinetstream.Result{Name: "w", Writer: &s}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if row.Timestamp != microsTime || row.WriterStartTime != nil || row.WriterEndTime != nil {
		t.Errorf("Timestamp %v start %v end %v, want the publish time and NULLs", row.Timestamp, row.WriterStartTime, row.WriterEndTime)
	}
}

// TestNewRowRepublished: the same result published twice, at different times and in different framings, gives
// the same key (publisher, timestamp, thread_number).
func TestNewRowRepublished(t *testing.T) {
	var keys []string
	for _, value := range [][]byte{
		handV3(micros, []byte(threadLines[1])),
		handV2(micros+3_600_000_000, []byte(threadLines[1])),
		[]byte(threadLines[1]),
	} {
		m, err := sinetstream.Decode(value)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := sinetstream.ParseResult(m.Payload)
		row, err := sinetstream.NewRow(m, r, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, row.Publisher+"|"+row.Timestamp.String()+"|"+string(rune('0'+row.ThreadNumber)))
	}
	if keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("keys differ: %q", keys)
	}
}

func TestNewRowErrors(t *testing.T) {
	m := sinetstream.Message{Format: sinetstream.FormatJSON}
	if _, err := sinetstream.NewRow(m, javaResult, time.Time{}); !errors.Is(err, sinetstream.ErrNoTime) {
		t.Errorf("no time: %v, want ErrNoTime", err)
	}
	if _, err := sinetstream.NewRow(m, sinetstream.Result{Name: "x"}, time.Now()); !errors.Is(err, sinetstream.ErrInvalidResult) {
		t.Errorf("no side: %v, want ErrInvalidResult", err)
	}
	far := sinetstream.Message{Time: time.UnixMicro(1 << 62), Format: sinetstream.FormatV2}
	if _, err := sinetstream.NewRow(far, javaResult, time.Time{}); err == nil || !strings.Contains(err.Error(), "outside years 1 to 9999") {
		t.Errorf("tstamp in year %d: %v", far.Time.Year(), err)
	}
}

func TestNewRowCopies(t *testing.T) {
	w := *javaResult.Writer
	w.MsgSizeMin = ptr[int64](7)
	r := sinetstream.Result{Name: "x", Writer: &w}
	row, err := sinetstream.NewRow(sinetstream.Message{Time: microsTime}, r, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	w.MsgBytesRate, *w.MsgSizeMin = -1, -1
	if *row.WriterBytesRate != javaResult.Writer.MsgBytesRate || *row.WriterMsgSizeMin != 7 {
		t.Fatal("Row shares memory with the Result it was built from")
	}
}

func TestNewRawRow(t *testing.T) {
	ok := []string{
		javaLine,
		`{"s":"\\u0000"}`,               // an escaped backslash, then text
		`{"s":"\ud83d\ude00 \u00e9"}`,   // a surrogate pair
		`{"s":"\u0001\u001f\uffff"}`,    // other escapes
		`[1, 2.5, "a\"\\\/\b\f\n\r\t"]`, // every short escape
	}
	for _, p := range ok {
		row, err := sinetstream.NewRawRow(sinetstream.Message{Payload: []byte(p), Format: sinetstream.FormatJSON}, microsTime)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if row.Tstamp != microsTime || string(row.Msg) != p {
			t.Errorf("%s: row %+v", p, row)
		}
	}
	for _, p := range []string{
		`{"s":"a\u0000"}`,
		`{"s":"\ud83d"}`,
		`{"s":"\ud83dx"}`,
		`{"s":"\ud83d\n"}`,
		`{"s":"\ud83d\ud83d"}`,
		`{"s":"\ude00"}`,
		`{"s":"x\ude00\ud83d"}`,
		`not json`,
		"\xC3\x01",
	} {
		if _, err := sinetstream.NewRawRow(sinetstream.Message{Payload: []byte(p)}, microsTime); !errors.Is(err, sinetstream.ErrBadJSON) {
			t.Errorf("%q: %v, want ErrBadJSON", p, err)
		}
	}
	if _, err := sinetstream.NewRawRow(sinetstream.Message{Payload: []byte(`{}`)}, time.Time{}); !errors.Is(err, sinetstream.ErrNoTime) {
		t.Errorf("no time: %v", err)
	}
}
