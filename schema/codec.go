package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

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
	if (s.JobID == nil) != (s.GroupID == nil) || s.JobID != nil && (*s.JobID == uuid.Nil || *s.GroupID == uuid.Nil) {
		return bad("job_id", "a fleet job's run names its job and its launch (group_id), both non-nil; a run started by hand names neither")
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
