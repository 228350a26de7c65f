package sinetstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Result is one line of perftool output: the metrics of one writer/reader pair (one thread) over one round,
// plus the publisher name the shipping wrapper adds. A perftool run prints num-threads × output-count results.
type Result struct {
	Name   string `json:"name"`
	Writer *Side  `json:"writer,omitempty"`
	Reader *Side  `json:"reader,omitempty"`
}

// Side holds the 16 figures perftool prints for the writer or the reader of one thread and round. Java perftool
// prints the _ms fields as integers and the second fields as ms/1000; the Python one prints floats for both, so
// all time fields are float64.
type Side struct {
	ThreadNumber    int     `json:"thread_number"`
	StartTime       float64 `json:"start_time"`    // seconds since the Unix epoch; 0: the side never started
	StartTimeMillis float64 `json:"start_time_ms"` // the same instant in milliseconds
	EndTime         float64 `json:"end_time"`
	EndTimeMillis   float64 `json:"end_time_ms"`
	Time            float64 `json:"time"` // measured duration in seconds (end - start)
	TimeMillis      float64 `json:"time_ms"`
	MsgCountTotal   int64   `json:"msg_count_total"`
	MsgCountRate    float64 `json:"msg_count_rate"` // messages per second
	MsgBytesTotal   int64   `json:"msg_bytes_total"`
	MsgBytesRate    float64 `json:"msg_bytes_rate"` // bytes per second
	// MsgSizeMin and MsgSizeMax are nil when the side saw no message: SINETStream's Python metrics print null then.
	MsgSizeMin      *int64  `json:"msg_size_min"`
	MsgSizeMax      *int64  `json:"msg_size_max"`
	MsgSizeAvg      float64 `json:"msg_size_avg"`
	ErrorCountTotal int64   `json:"error_count_total"`
	ErrorCountRate  float64 `json:"error_count_rate"` // errors per second
}

// MaxNameBytes limits a publisher name. The name is part of the perftool table's primary key, and a b-tree
// entry over about 2.7 kB would make PostgreSQL reject the whole batch it arrives in.
const MaxNameBytes = 256

// ErrInvalidResult is matched (errors.Is) by every *ResultError.
var ErrInvalidResult = errors.New("invalid perftool result")

// ResultError lists every problem found in a perftool result.
type ResultError struct {
	Problems []FieldProblem
}

// FieldProblem is one wrong or missing field. Field is a JSON path such as "writer.msg_count_total"; it is
// empty when the payload as a whole is wrong.
type FieldProblem struct {
	Field   string
	Problem string
}

func (e *ResultError) Error() string {
	var b strings.Builder
	b.WriteString(ErrInvalidResult.Error())
	for i, p := range e.Problems {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Problem)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidResult) true.
func (e *ResultError) Is(target error) bool { return target == ErrInvalidResult }

// problems collects FieldProblems, at most one per field: a field that failed to parse is not also reported as
// out of range.
type problems struct {
	list []FieldProblem
	seen map[string]bool
}

func (p *problems) add(field, format string, args ...any) {
	if p.seen[field] {
		return
	}
	if p.seen == nil {
		p.seen = map[string]bool{}
	}
	p.seen[field] = true
	p.list = append(p.list, FieldProblem{Field: field, Problem: fmt.Sprintf(format, args...)})
}

func (p *problems) err() error {
	if len(p.list) == 0 {
		return nil
	}
	return &ResultError{Problems: p.list}
}

// ParseResult parses and validates a perftool result: {"name": …, "writer": {…}, "reader": {…}}. Every one of a
// side's 16 fields must be present with a number (integers where perftool prints integers; msg_size_min and
// msg_size_max may be null); a side that is absent or null is nil, but a result needs a name and at least one
// side. Unknown fields are ignored, so a wrapper may add its own. Errors are a *ResultError naming every bad field.
func ParseResult(payload []byte) (Result, error) {
	var p problems
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil || top == nil {
		if err != nil && !json.Valid(payload) {
			p.add("", "not valid JSON: %v", err)
		} else {
			p.add("", "want a JSON object, got %s", kindOf(bytes.TrimSpace(payload)))
		}
		return Result{}, p.err()
	}
	var r Result
	if raw, ok := top["name"]; !ok {
		p.add("name", "missing: the wrapper that ships perftool output must add the publisher name")
	} else if err := json.Unmarshal(raw, &r.Name); err != nil {
		p.add("name", "want a string, got %s", kindOf(raw))
	} else {
		validateName(r.Name, &p)
	}
	r.Writer = parseSide("writer", top["writer"], &p)
	r.Reader = parseSide("reader", top["reader"], &p)
	r.validate(&p)
	if err := p.err(); err != nil {
		return Result{}, err
	}
	return r, nil
}

func parseSide(path string, raw json.RawMessage, p *problems) *Side {
	if raw == nil || kindOf(raw) == "null" {
		return nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.add(path, "want an object, got %s", kindOf(raw))
		return nil
	}
	f := fieldReader{m: m, path: path, p: p}
	s := &Side{
		StartTime:       f.float("start_time"),
		StartTimeMillis: f.float("start_time_ms"),
		EndTime:         f.float("end_time"),
		EndTimeMillis:   f.float("end_time_ms"),
		Time:            f.float("time"),
		TimeMillis:      f.float("time_ms"),
		MsgCountTotal:   f.integer("msg_count_total"),
		MsgCountRate:    f.float("msg_count_rate"),
		MsgBytesTotal:   f.integer("msg_bytes_total"),
		MsgBytesRate:    f.float("msg_bytes_rate"),
		MsgSizeMin:      f.nullableInteger("msg_size_min"),
		MsgSizeMax:      f.nullableInteger("msg_size_max"),
		MsgSizeAvg:      f.float("msg_size_avg"),
		ErrorCountTotal: f.integer("error_count_total"),
		ErrorCountRate:  f.float("error_count_rate"),
	}
	// int is 32 bits on some platforms: check the range before converting.
	if n := f.integer("thread_number"); n < 0 || n > math.MaxInt32 {
		p.add(path+".thread_number", "%d is out of range 0..%d", n, math.MaxInt32)
	} else {
		s.ThreadNumber = int(n)
	}
	return s
}

// fieldReader reads typed fields of one side, recording a problem for each missing or mistyped one.
type fieldReader struct {
	m    map[string]json.RawMessage
	path string
	p    *problems
}

// number returns the literal of field name, or ok=false after recording why there is none.
func (f fieldReader) number(name string, nullable bool) (lit string, null, ok bool) {
	raw, found := f.m[name]
	if !found {
		f.p.add(f.path+"."+name, "missing")
		return "", false, false
	}
	switch k := kindOf(raw); {
	case k == "number":
		return string(bytes.TrimSpace(raw)), false, true
	case k == "null" && nullable:
		return "", true, false
	default:
		want := "a number"
		if nullable {
			want = "a number or null"
		}
		f.p.add(f.path+"."+name, "want %s, got %s", want, k)
		return "", false, false
	}
}

func (f fieldReader) float(name string) float64 {
	lit, _, ok := f.number(name, false)
	if !ok {
		return 0
	}
	v, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		f.p.add(f.path+"."+name, "%s is out of range for a float64", lit)
		return 0
	}
	return v
}

func (f fieldReader) integer(name string) int64 {
	lit, _, ok := f.number(name, false)
	if !ok {
		return 0
	}
	return f.parseInt(name, lit)
}

func (f fieldReader) nullableInteger(name string) *int64 {
	lit, _, ok := f.number(name, true)
	if !ok {
		return nil
	}
	v := f.parseInt(name, lit)
	return &v
}

// parseInt accepts integral numbers in any JSON spelling (1044, 1044.0, 1.044E3): what a Python or Java
// serializer prints for a whole number is not ours to choose.
func (f fieldReader) parseInt(name, lit string) int64 {
	if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
		return v
	}
	v, err := strconv.ParseFloat(lit, 64)
	switch {
	case err != nil || v < -(1<<63) || v >= 1<<63:
		f.p.add(f.path+"."+name, "%s is out of range for a 64-bit integer", lit)
	case v != math.Trunc(v):
		f.p.add(f.path+"."+name, "want an integer, got %s", lit)
	default:
		return int64(v)
	}
	return 0
}

// kindOf names the JSON type of a raw value for error messages.
func kindOf(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// maxMillis is 9999-12-31T23:59:59.999Z. Later instants are no perftool clock, and would break RFC 3339 clients
// of the viewer's API; PostgreSQL would take them, so the limit is ours.
var maxMillis = float64(time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC).UnixMilli())

// Validate reports every problem with r as a *ResultError: a publisher name that is empty, longer than
// MaxNameBytes or contains NUL (PostgreSQL text cannot store it); no side; thread numbers that differ between the
// sides; negative counts or sizes; times before the epoch, after year 9999 or not finite.
func (r Result) Validate() error {
	var p problems
	r.validate(&p)
	return p.err()
}

func (r Result) validate(p *problems) {
	validateName(r.Name, p)
	if r.Writer == nil && r.Reader == nil {
		p.add("writer", "a result needs a writer or a reader side, it has neither")
	}
	if r.Writer != nil {
		r.Writer.validate("writer", p)
	}
	if r.Reader != nil {
		r.Reader.validate("reader", p)
	}
	if r.Writer != nil && r.Reader != nil && r.Writer.ThreadNumber != r.Reader.ThreadNumber {
		p.add("reader.thread_number", "is %d but writer.thread_number is %d: perftool prints one writer/reader pair per thread",
			r.Reader.ThreadNumber, r.Writer.ThreadNumber)
	}
}

func validateName(name string, p *problems) {
	switch {
	case strings.TrimSpace(name) == "":
		p.add("name", "must not be empty")
	case len(name) > MaxNameBytes:
		p.add("name", "is %d bytes long, the limit is %d", len(name), MaxNameBytes)
	case strings.IndexByte(name, 0) >= 0:
		p.add("name", "must not contain NUL characters")
	case !utf8.ValidString(name):
		p.add("name", "is not valid UTF-8")
	}
}

func (s *Side) validate(path string, p *problems) {
	if s.ThreadNumber < 0 || s.ThreadNumber > math.MaxInt32 {
		p.add(path+".thread_number", "%d is out of range 0..%d", s.ThreadNumber, math.MaxInt32)
	}
	for _, f := range []struct {
		name  string
		v     float64
		scale float64
	}{
		{"start_time", s.StartTime, 1000},
		{"start_time_ms", s.StartTimeMillis, 1},
		{"end_time", s.EndTime, 1000},
		{"end_time_ms", s.EndTimeMillis, 1},
	} {
		if !(f.v >= 0 && f.v*f.scale <= maxMillis) { // also catches NaN
			p.add(path+"."+f.name, "%v is not an instant between 1970 and 9999", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{
		{"time", s.Time}, {"time_ms", s.TimeMillis},
		{"msg_count_rate", s.MsgCountRate}, {"msg_bytes_rate", s.MsgBytesRate},
		{"msg_size_avg", s.MsgSizeAvg}, {"error_count_rate", s.ErrorCountRate},
	} {
		// Negative durations and rates are kept: a clock stepped back during a round produces them, and they
		// are the measurement as perftool reported it.
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			p.add(path+"."+f.name, "%v is not a finite number", f.v)
		}
	}
	for _, f := range []struct {
		name string
		v    *int64
	}{
		{"msg_count_total", &s.MsgCountTotal}, {"msg_bytes_total", &s.MsgBytesTotal},
		{"msg_size_min", s.MsgSizeMin}, {"msg_size_max", s.MsgSizeMax},
		{"error_count_total", &s.ErrorCountTotal},
	} {
		if f.v != nil && *f.v < 0 {
			p.add(path+"."+f.name, "%d is negative", *f.v)
		}
	}
}

// MarshalResult validates r and returns it as one perftool JSON line with the name field the wrapper adds. A nil
// side is left out.
func MarshalResult(r Result) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(r)
}

// start and end return a side's start and end instants, or nil for 0, which perftool prints for a side that
// never started. The _ms fields are used because Java perftool prints them exactly; the second fields are the
// same instants divided by 1000.
func (s *Side) start() *time.Time { return millisTime(s.StartTimeMillis) }
func (s *Side) end() *time.Time   { return millisTime(s.EndTimeMillis) }

func millisTime(ms float64) *time.Time {
	if ms == 0 {
		return nil
	}
	t := time.UnixMicro(int64(math.Round(ms * 1000))).UTC()
	return &t
}
