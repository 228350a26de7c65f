package schema

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
	"unsafe"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/google/uuid"
)

// MaxRecordBytes is the default limit on an encoded record; the sink dead-letters larger ones.
const MaxRecordBytes = 1 << 20

// Errors returned (wrapped in a *FieldError) by Decode and Validate. Test for them with errors.Is.
var (
	ErrSyntax         = errors.New("not valid JSON")
	ErrUnknownVersion = errors.New("unknown record version")
	ErrUnknownType    = errors.New("unknown record type")
	ErrInvalid        = errors.New("invalid record")
)

// FieldError says which field of a record is wrong and why.
type FieldError struct {
	Field  string // JSON path, e.g. "sample.latency.p99_ms"; empty for the record as a whole
	Reason string
	Err    error // one of the Err* sentinels
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Reason
	}
	return e.Field + ": " + e.Reason
}

func (e *FieldError) Unwrap() error { return e.Err }

// Decode parses and validates one record, and removes credentials from its free-text fields (see RedactText). Unknown fields are errors: within a version the format is closed, so a
// typo in a non-Go producer is caught at the sink instead of silently dropping a figure. Duplicate keys and invalid
// UTF-8 are refused too.
//
// A sample record is read by decodeSample, a decoder of that one shape; any other record, and any sample it is
// not sure of, by the JSON v2 implementation (github.com/go-json-experiment/json, upstream of encoding/json/v2),
// which also words the errors. Encode keeps encoding/json, whose output the JSON Schema describes.
func Decode(b []byte) (Record, error) {
	var r Record
	if !decodeSample(b, &r) {
		r = Record{}
		if err := jsonv2.Unmarshal(b, &r, jsonv2.RejectUnknownMembers(true)); err != nil {
			// A record of another version may fail for fields this one lacks: say so rather than "unknown field".
			if verr := checkVersion(b); verr != nil {
				return Record{}, verr
			}
			return Record{}, describeJSONError(err)
		}
	}
	if r.V == 0 {
		if verr := checkVersion(b); verr != nil {
			return Record{}, verr
		}
	}
	if err := r.Validate(); err != nil {
		return Record{}, err
	}
	// A producer in another language may not redact: the tables are public, so clean what reaches them.
	return (*Redactor)(nil).Record(r), nil
}

// checkVersion reports a missing or unsupported "v", or nil when v is this version or b is not a JSON object.
func checkVersion(b []byte) error {
	var probe struct {
		V *int `json:"v"`
	}
	if json.Unmarshal(b, &probe) != nil {
		return nil
	}
	if probe.V == nil {
		return &FieldError{Field: "v", Reason: "missing record version", Err: ErrUnknownVersion}
	}
	if *probe.V < MinVersion || *probe.V > Version {
		return &FieldError{Field: "v", Reason: fmt.Sprintf("version %d is not supported (this build reads versions %d to %d)", *probe.V, MinVersion, Version), Err: ErrUnknownVersion}
	}
	return nil
}

// Encode validates r and returns its JSON encoding, with credentials removed from its free-text fields (see
// RedactText). It sets r.V when it is zero.
func Encode(r Record) ([]byte, error) {
	if r.V == 0 {
		r.V = Version
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal((*Redactor)(nil).Record(r))
}

func describeJSONError(err error) *FieldError {
	var syn *jsontext.SyntacticError
	if errors.As(err, &syn) {
		return &FieldError{Field: pointerPath(string(syn.JSONPointer)), Reason: fmt.Sprintf("%v (at byte %d)", syn.Err, syn.ByteOffset), Err: ErrSyntax}
	}
	var sem *jsonv2.SemanticError
	if errors.As(err, &sem) {
		reason := "cannot decode"
		switch {
		case errors.Is(sem.Err, jsonv2.ErrUnknownName):
			reason = "unknown field"
		case sem.GoType != nil && sem.JSONKind != 0:
			reason = fmt.Sprintf("expected %s, got JSON %s", sem.GoType, sem.JSONKind)
		case sem.Err != nil:
			reason = sem.Err.Error()
		}
		return &FieldError{Field: pointerPath(string(sem.JSONPointer)), Reason: reason, Err: ErrInvalid}
	}
	return &FieldError{Reason: err.Error(), Err: ErrSyntax}
}

// pointerPath turns a JSON pointer (/sample/latency/p99_ms) into the dotted path FieldError uses.
func pointerPath(p string) string {
	return strings.ReplaceAll(strings.TrimPrefix(p, "/"), "/", ".")
}

// Validate checks the record's invariants and returns the first problem found.
func (r *Record) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	if r.V < MinVersion || r.V > Version {
		return &FieldError{Field: "v", Reason: fmt.Sprintf("version %d is not supported", r.V), Err: ErrUnknownVersion}
	}
	if r.RunID == uuid.Nil {
		return bad("run_id", "missing")
	}
	if r.Seq < 0 {
		return bad("seq", "negative (%d)", r.Seq)
	}
	if r.Time.IsZero() {
		return bad("time", "missing")
	}
	payloads := 0
	for _, set := range []bool{r.Started != nil, r.Sample != nil, r.Finished != nil, r.Observation != nil} {
		if set {
			payloads++
		}
	}
	if payloads > 1 {
		return bad("", "exactly one of started, sample, finished and observation may be set")
	}
	switch r.Type {
	case TypeRunStarted:
		if r.Started == nil {
			return bad("started", "missing for a %s record", r.Type)
		}
		if r.Seq != 0 {
			return bad("seq", "a run_started record has sequence 0, got %d", r.Seq)
		}
		return r.Started.validate()
	case TypeSample:
		if r.Sample == nil {
			return bad("sample", "missing for a %s record", r.Type)
		}
		if r.Seq == 0 {
			return bad("seq", "sequence 0 is the run_started record; samples start at 1")
		}
		return r.Sample.validate(r.V)
	case TypeRunFinished:
		if r.Finished == nil {
			return bad("finished", "missing for a %s record", r.Type)
		}
		return r.Finished.validate(r.V)
	case TypeObservation:
		if r.Observation == nil {
			return bad("observation", "missing for an %s record", r.Type)
		}
		if r.Seq == 0 {
			return bad("seq", "sequence 0 is the run_started record; observations start at 1")
		}
		return r.Observation.Validate()
	case "":
		return &FieldError{Field: "type", Reason: "missing", Err: ErrUnknownType}
	default:
		return &FieldError{Field: "type", Reason: fmt.Sprintf("%q is not one of run_started, sample, run_finished, observation", r.Type), Err: ErrUnknownType}
	}
}

func (s *Started) validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "started." + field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	if s.Kind == "" {
		return bad("kind", "missing")
	}
	if s.StartedAt.IsZero() {
		return bad("started_at", "missing")
	}
	if s.Host.Hostname == "" {
		return bad("host.hostname", "missing")
	}
	if s.Host.CPUCores < 0 || s.Host.MemoryBytes < 0 {
		return bad("host", "negative cpu_cores or memory_bytes")
	}
	if s.Host.CPUCores > math.MaxInt32 {
		return bad("host.cpu_cores", "%d does not fit the column (integer)", s.Host.CPUCores)
	}
	if len(s.Parameters) > 0 && !isJSONObject(s.Parameters) {
		return bad("parameters", "must be a JSON object")
	}
	if s.Target.URL != "" && RedactURL(s.Target.URL) != s.Target.URL {
		return bad("target.url", "contains a password or cannot be read as a connection string; producers must send RedactURL(url)")
	}
	if s.Target.Port < 0 || s.Target.Port > 65535 {
		return bad("target.port", "%d is not a TCP port", s.Target.Port)
	}
	return nil
}

func (s *Sample) validate(v int) error {
	if s.Start.IsZero() || s.End.IsZero() {
		return &FieldError{Field: "sample.start", Reason: "start and end are required", Err: ErrInvalid}
	}
	if s.End.Before(s.Start) {
		return &FieldError{Field: "sample.end", Reason: "before start", Err: ErrInvalid}
	}
	if s.Phase != PhaseWarmup && s.Phase != PhaseMeasure {
		return &FieldError{Field: "sample.phase", Reason: fmt.Sprintf("%q is not warmup or measure", s.Phase), Err: ErrInvalid}
	}
	return s.Figures.validate("sample", v)
}

func (f *Finished) validate(v int) error {
	switch f.Status {
	case StatusOK, StatusFailed, StatusAborted:
	default:
		return &FieldError{Field: "finished.status", Reason: fmt.Sprintf("%q is not ok, failed or aborted", f.Status), Err: ErrInvalid}
	}
	if f.FinishedAt.IsZero() {
		return &FieldError{Field: "finished.finished_at", Reason: "missing", Err: ErrInvalid}
	}
	if f.Summary == nil {
		return nil
	}
	if f.Summary.End.Before(f.Summary.Start) {
		return &FieldError{Field: "finished.summary.end", Reason: "before start", Err: ErrInvalid}
	}
	if len(f.Summary.Extra) > 0 && !isJSONObject(f.Summary.Extra) {
		return &FieldError{Field: "finished.summary.extra", Reason: "must be a JSON object", Err: ErrInvalid}
	}
	return f.Summary.Figures.validate("finished.summary", v)
}

func (f *Figures) validate(prefix string, version int) error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: prefix + "." + field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	// The figures are checked in this order, in arrays on the stack: the sink validates every record.
	type count struct {
		name string
		v    int64
	}
	var countBuf [12]count
	counts := append(countBuf[:0], count{"ops", f.Ops}, count{"bytes", f.Bytes}, count{"errors", f.Errors})
	if m := f.MQTT; m != nil {
		counts = append(counts, count{"mqtt.sent", m.Sent}, count{"mqtt.received", m.Received}, count{"mqtt.lost", m.Lost}, count{"mqtt.duplicated", m.Duplicated}, count{"mqtt.out_of_order", m.OutOfOrder})
	}
	if p := f.Pgbench; p != nil {
		counts = append(counts, count{"pgbench.failed", p.Failed}, count{"pgbench.retried", p.Retried}, count{"pgbench.retries", p.Retries}, count{"pgbench.skipped", p.Skipped})
	}
	for _, c := range counts {
		if c.v < 0 {
			return bad(c.name, "negative (%d)", c.v)
		}
	}
	type rate struct {
		name string
		v    float64
	}
	var rateBuf [8]rate
	rates := append(rateBuf[:0], rate{"ops_rate", f.OpsRate})
	if m := f.MQTT; m != nil {
		rates = append(rates, rate{"mqtt.offered_rate", m.OfferedRate}, rate{"mqtt.uncorrected_p50_ms", m.UncorrectedP50Ms}, rate{"mqtt.uncorrected_p99_ms", m.UncorrectedP99Ms}, rate{"mqtt.uncorrected_max_ms", m.UncorrectedMaxMs})
	}
	if p := f.Pgbench; p != nil {
		rates = append(rates, rate{"pgbench.tps", p.TPS}, rate{"pgbench.stddev_ms", p.StddevMs}, rate{"pgbench.lag_ms", p.LagMs})
	}
	for _, r := range rates {
		if r.v < 0 || math.IsNaN(r.v) || math.IsInf(r.v, 0) {
			return bad(r.name, "must be a finite number ≥ 0, got %v", r.v)
		}
	}
	if l := f.Latency; l != nil {
		ordered := [...]rate{{"min_ms", l.MinMs}, {"p50_ms", l.P50Ms}, {"p90_ms", l.P90Ms}, {"p95_ms", l.P95Ms}, {"p99_ms", l.P99Ms}, {"p999_ms", l.P999Ms}, {"max_ms", l.MaxMs}}
		for i, o := range ordered {
			if o.v < 0 || math.IsNaN(o.v) || math.IsInf(o.v, 0) {
				return bad("latency."+o.name, "must be a finite number ≥ 0, got %v", o.v)
			}
			if i > 0 && o.v < ordered[i-1].v {
				return bad("latency."+o.name, "%v is below %s %v; percentiles must not decrease", o.v, ordered[i-1].name, ordered[i-1].v)
			}
		}
		if l.MeanMs < l.MinMs || l.MeanMs > l.MaxMs {
			return bad("latency.mean_ms", "%v is outside [min, max] = [%v, %v]", l.MeanMs, l.MinMs, l.MaxMs)
		}
	}
	type histField struct {
		name  string
		s     *string
		cache *histCache
	}
	var histBuf [2]histField
	hists := histBuf[:0]
	if l := f.Latency; l != nil {
		hists = append(hists, histField{"latency.hdr", &l.HDR, &l.hdr})
	}
	if m := f.MQTT; m != nil {
		hists = append(hists, histField{"mqtt.uncorrected_hdr", &m.UncorrectedHDR, &m.uncorrectedHDR})
	}
	for _, h := range hists {
		if *h.s == "" {
			continue
		}
		if version < 2 {
			return bad(h.name, "histograms came with record version 2; this record is version %d", version)
		}
		if err := h.cache.decode(*h.s); err != nil {
			return bad(h.name, "%v", err)
		}
	}
	return nil
}

func isJSONObject(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// The sink decodes every record it writes, and JSON decoding was about three quarters of its CPU time: samples by
// the million, all of one shape. decodeSample reads that shape directly, without reflection, and reports false for
// anything else, and for anything it is not sure to read exactly as the JSON v2 decoder would: an unknown or
// repeated member, another record type's payload, null, an escaped string, a number of another form. Decode then
// decodes the record the general way, which also words any error, so the records decodeSample takes are decoded
// to the same values, and the others fail with the same messages as before. FuzzDecodeFastPath holds the two
// equal.

// decodeSample decodes b into r, which must be zero, if b is a record of the sample shape; it reports whether it
// did. r is left partly set when it did not.
func decodeSample(b []byte, r *Record) bool {
	d := fastJSON{b: b}
	if !d.open() {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			break
		}
		var bit uint8
		switch string(name) {
		case "v":
			bit, ok = 1<<0, d.int(&r.V)
		case "type":
			bit, ok = 1<<1, d.typeName(&r.Type)
		case "run_id":
			bit, ok = 1<<2, d.uuid(&r.RunID)
		case "seq":
			bit, ok = 1<<3, d.int64(&r.Seq)
		case "time":
			bit, ok = 1<<4, d.time(&r.Time)
		case "sample":
			r.Sample = new(Sample)
			bit, ok = 1<<5, d.sample(r.Sample)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
	d.ws()
	return d.i == len(d.b)
}

func (d *fastJSON) sample(s *Sample) bool {
	if !d.open() {
		return false
	}
	var seen uint16
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		var bit uint16
		switch string(name) {
		case "start":
			bit, ok = 1<<0, d.time(&s.Start)
		case "end":
			bit, ok = 1<<1, d.time(&s.End)
		case "phase":
			bit, ok = 1<<2, d.phase(&s.Phase)
		case "ops":
			bit, ok = 1<<3, d.int64(&s.Ops)
		case "ops_rate":
			bit, ok = 1<<4, d.float(&s.OpsRate)
		case "bytes":
			bit, ok = 1<<5, d.int64(&s.Bytes)
		case "errors":
			bit, ok = 1<<6, d.int64(&s.Errors)
		case "latency":
			s.Latency = new(Latency)
			bit, ok = 1<<7, d.latency(s.Latency)
		case "mqtt":
			s.MQTT = new(MQTTFigures)
			bit, ok = 1<<8, d.mqtt(s.MQTT)
		case "pgbench":
			s.Pgbench = new(PgbenchFigures)
			bit, ok = 1<<9, d.pgbench(s.Pgbench)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (d *fastJSON) latency(l *Latency) bool {
	if !d.open() {
		return false
	}
	var seen uint16
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		var bit uint16
		switch string(name) {
		case "min_ms":
			bit, ok = 1<<0, d.float(&l.MinMs)
		case "mean_ms":
			bit, ok = 1<<1, d.float(&l.MeanMs)
		case "p50_ms":
			bit, ok = 1<<2, d.float(&l.P50Ms)
		case "p90_ms":
			bit, ok = 1<<3, d.float(&l.P90Ms)
		case "p95_ms":
			bit, ok = 1<<4, d.float(&l.P95Ms)
		case "p99_ms":
			bit, ok = 1<<5, d.float(&l.P99Ms)
		case "p999_ms":
			bit, ok = 1<<6, d.float(&l.P999Ms)
		case "max_ms":
			bit, ok = 1<<7, d.float(&l.MaxMs)
		case "hdr":
			bit, ok = 1<<8, d.string(&l.HDR)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (d *fastJSON) mqtt(m *MQTTFigures) bool {
	if !d.open() {
		return false
	}
	var seen uint16
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		var bit uint16
		switch string(name) {
		case "sent":
			bit, ok = 1<<0, d.int64(&m.Sent)
		case "received":
			bit, ok = 1<<1, d.int64(&m.Received)
		case "lost":
			bit, ok = 1<<2, d.int64(&m.Lost)
		case "duplicated":
			bit, ok = 1<<3, d.int64(&m.Duplicated)
		case "out_of_order":
			bit, ok = 1<<4, d.int64(&m.OutOfOrder)
		case "offered_rate":
			bit, ok = 1<<5, d.float(&m.OfferedRate)
		case "uncorrected_p50_ms":
			bit, ok = 1<<6, d.float(&m.UncorrectedP50Ms)
		case "uncorrected_p99_ms":
			bit, ok = 1<<7, d.float(&m.UncorrectedP99Ms)
		case "uncorrected_max_ms":
			bit, ok = 1<<8, d.float(&m.UncorrectedMaxMs)
		case "uncorrected_hdr":
			bit, ok = 1<<9, d.string(&m.UncorrectedHDR)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

func (d *fastJSON) pgbench(p *PgbenchFigures) bool {
	if !d.open() {
		return false
	}
	var seen uint8
	for first := true; ; first = false {
		name, end, ok := d.member(first)
		if !ok {
			return false
		}
		if end {
			return true
		}
		var bit uint8
		switch string(name) {
		case "tps":
			bit, ok = 1<<0, d.float(&p.TPS)
		case "stddev_ms":
			bit, ok = 1<<1, d.float(&p.StddevMs)
		case "failed":
			bit, ok = 1<<2, d.int64(&p.Failed)
		case "retried":
			bit, ok = 1<<3, d.int64(&p.Retried)
		case "retries":
			bit, ok = 1<<4, d.int64(&p.Retries)
		case "lag_ms":
			bit, ok = 1<<5, d.float(&p.LagMs)
		case "skipped":
			bit, ok = 1<<6, d.int64(&p.Skipped)
		default:
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
}

// fastJSON reads the JSON of b from i on, for decodeSample. Its methods report false for whatever they do not
// read exactly as the JSON v2 decoder would, which includes everything that decoder refuses.
type fastJSON struct {
	b []byte
	i int
}

// ws skips JSON whitespace.
func (d *fastJSON) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// open reads the '{' that opens an object.
func (d *fastJSON) open() bool {
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '{' {
		d.i++
		return true
	}
	return false
}

// member reads up to the value of an object's next member and returns its name, or end at the object's '}'.
// first says that no member was read yet.
func (d *fastJSON) member(first bool) (name []byte, end, ok bool) {
	d.ws()
	if d.i >= len(d.b) {
		return nil, false, false
	}
	if d.b[d.i] == '}' {
		d.i++
		return nil, true, true
	}
	if !first {
		if d.b[d.i] != ',' {
			return nil, false, false
		}
		d.i++
		d.ws()
	}
	if name, ok = d.str(); !ok {
		return nil, false, false
	}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != ':' {
		return nil, false, false
	}
	d.i++
	d.ws()
	return name, false, true
}

// str reads a string without escapes and returns its contents; valid UTF-8 without control characters, as JSON
// requires.
func (d *fastJSON) str() ([]byte, bool) {
	if d.i >= len(d.b) || d.b[d.i] != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		for j < len(d.b) && plainASCII[d.b[j]] {
			j++
		}
		if j == len(d.b) {
			break
		}
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c >= utf8.RuneSelf:
			ascii = false
		default: // an escape or a control character
			return nil, false
		}
	}
	return nil, false
}

// plainASCII holds the bytes a JSON string holds as themselves: ASCII but the quote, the backslash and the control
// characters.
var plainASCII = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *fastJSON) string(dst *string) bool {
	s, ok := d.str()
	if ok {
		*dst = string(s)
	}
	return ok
}

// typeName reads a record type, without allocating for the known ones.
func (d *fastJSON) typeName(dst *string) bool {
	s, ok := d.str()
	if !ok {
		return false
	}
	switch string(s) {
	case TypeSample:
		*dst = TypeSample
	case TypeRunStarted:
		*dst = TypeRunStarted
	case TypeRunFinished:
		*dst = TypeRunFinished
	default:
		*dst = string(s)
	}
	return true
}

func (d *fastJSON) phase(dst *Phase) bool {
	s, ok := d.str()
	if !ok {
		return false
	}
	switch Phase(s) {
	case PhaseMeasure:
		*dst = PhaseMeasure
	case PhaseWarmup:
		*dst = PhaseWarmup
	default:
		*dst = Phase(s)
	}
	return true
}

// uuid reads a string as the JSON v2 decoder does for a encoding.TextUnmarshaler.
func (d *fastJSON) uuid(dst *uuid.UUID) bool {
	s, ok := d.str()
	return ok && dst.UnmarshalText(s) == nil
}

// time reads a time as the JSON v2 decoder does for time.Time without a format: time.Time.UnmarshalText and the
// decoder's checks of the RFC 3339 grammar that the time package does not make (the strings they refuse are left
// to the decoder to word).
func (d *fastJSON) time(dst *time.Time) bool {
	s, ok := d.str()
	if !ok || dst.UnmarshalText(s) != nil {
		return false
	}
	switch {
	case len(s) < len("2006-01-02T15:04:05Z"):
		return false
	case s[len("2006-01-02T")+1] == ':', s[len("2006-01-02T15:04:05")] == ',':
		return false
	case s[len(s)-1] != 'Z':
		tz := s[len(s)-len("07:00"):]
		return dec2(tz[0:2]) < 24 && dec2(tz[3:5]) < 60
	}
	return true
}

// dec2 is a two-digit decimal number; 100 for anything else.
func dec2(b []byte) int {
	if b[0] < '0' || b[0] > '9' || b[1] < '0' || b[1] > '9' {
		return 100
	}
	return int(b[0]-'0')*10 + int(b[1]-'0')
}

// number reads a JSON number and returns its text and whether it is an integer (no fraction, no exponent).
func (d *fastJSON) number() (num []byte, integer, ok bool) {
	b, i := d.b, d.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, false, false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
	default:
		return nil, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		integer = false
		i++
		digits := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == digits {
			return nil, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		integer = false
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		digits := i
		for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		}
		if i == digits {
			return nil, false, false
		}
	}
	num, d.i = b[d.i:i], i
	return num, integer, true
}

// int64 reads an integer literal that fits an int64; the decoder refuses fractions and exponents for integers.
func (d *fastJSON) int64(dst *int64) bool {
	num, integer, ok := d.number()
	if !ok || !integer {
		return false
	}
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	if len(num) > 18 { // 18 digits cannot overflow; longer ones are left to the decoder
		return false
	}
	var n int64
	for _, c := range num {
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	*dst = n
	return true
}

func (d *fastJSON) int(dst *int) bool {
	var n int64
	if !d.int64(&n) || int64(int(n)) != n {
		return false
	}
	*dst = int(n)
	return true
}

// float reads a number as the decoder does, with strconv.ParseFloat, which refuses what does not fit a float64.
// The figures producers send (1.52, 10432, 0.113) are read here instead: up to 15 digits without an exponent are
// a whole number m below 2^53 over 10^k, both exact in a float64, and one IEEE division rounds m/10^k correctly,
// as strconv does (its own first case, after more general parsing).
func (d *fastJSON) float(dst *float64) bool {
	num, integer, ok := d.number()
	if !ok {
		return false
	}
	if f, ok := exactDecimal(num, integer); ok {
		*dst = f
		return true
	}
	f, err := strconv.ParseFloat(unsafeString(num), 64)
	if err != nil {
		return false
	}
	*dst = f
	return true
}

// unsafeString is b as a string, without copying, for a call that does not keep it (strconv clones the text it
// puts in an error).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// float64pow10 are the powers of ten a float64 holds exactly.
var float64pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactDecimal returns the value of JSON number num when it has no exponent (integer, or with a fraction) and
// at most 15 digits, so that the division is exact but for its one correct rounding; ok is false otherwise.
func exactDecimal(num []byte, integer bool) (f float64, ok bool) {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	var m uint64
	digits, frac := 0, -1
	for _, c := range num {
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && !integer:
			frac = 0
		default: // an exponent
			return 0, false
		}
	}
	if digits > 15 {
		return 0, false
	}
	f = float64(m)
	if frac > 0 {
		f /= float64pow10[frac] // frac ≤ digits ≤ 15
	}
	if neg {
		f = -f
	}
	return f, true
}
