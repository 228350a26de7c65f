package schema

import (
	"strconv"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/google/uuid"
)

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
	ok := d.object(func(name []byte) (uint16, bool) {
		switch string(name) {
		case "v":
			return 1 << 0, d.int(&r.V)
		case "type":
			return 1 << 1, d.typeName(&r.Type)
		case "run_id":
			return 1 << 2, d.uuid(&r.RunID)
		case "seq":
			return 1 << 3, d.int64(&r.Seq)
		case "time":
			return 1 << 4, d.time(&r.Time)
		case "sample":
			r.Sample = new(Sample)
			return 1 << 5, d.sample(r.Sample)
		}
		return 0, false
	})
	d.ws()
	return ok && d.i == len(d.b)
}

func (d *fastJSON) sample(s *Sample) bool {
	return d.object(func(name []byte) (uint16, bool) {
		switch string(name) {
		case "start":
			return 1 << 0, d.time(&s.Start)
		case "end":
			return 1 << 1, d.time(&s.End)
		case "phase":
			return 1 << 2, d.phase(&s.Phase)
		case "ops":
			return 1 << 3, d.int64(&s.Ops)
		case "ops_rate":
			return 1 << 4, d.float(&s.OpsRate)
		case "bytes":
			return 1 << 5, d.int64(&s.Bytes)
		case "errors":
			return 1 << 6, d.int64(&s.Errors)
		case "latency":
			s.Latency = new(Latency)
			return 1 << 7, d.latency(s.Latency)
		case "mqtt":
			s.MQTT = new(MQTTFigures)
			return 1 << 8, d.mqtt(s.MQTT)
		case "pgbench":
			s.Pgbench = new(PgbenchFigures)
			return 1 << 9, d.pgbench(s.Pgbench)
		}
		return 0, false
	})
}

func (d *fastJSON) latency(l *Latency) bool {
	return d.object(func(name []byte) (uint16, bool) {
		switch string(name) {
		case "min_ms":
			return 1 << 0, d.float(&l.MinMs)
		case "mean_ms":
			return 1 << 1, d.float(&l.MeanMs)
		case "p50_ms":
			return 1 << 2, d.float(&l.P50Ms)
		case "p90_ms":
			return 1 << 3, d.float(&l.P90Ms)
		case "p95_ms":
			return 1 << 4, d.float(&l.P95Ms)
		case "p99_ms":
			return 1 << 5, d.float(&l.P99Ms)
		case "p999_ms":
			return 1 << 6, d.float(&l.P999Ms)
		case "max_ms":
			return 1 << 7, d.float(&l.MaxMs)
		case "hdr":
			return 1 << 8, d.string(&l.HDR)
		}
		return 0, false
	})
}

func (d *fastJSON) mqtt(m *MQTTFigures) bool {
	return d.object(func(name []byte) (uint16, bool) {
		switch string(name) {
		case "sent":
			return 1 << 0, d.int64(&m.Sent)
		case "received":
			return 1 << 1, d.int64(&m.Received)
		case "lost":
			return 1 << 2, d.int64(&m.Lost)
		case "duplicated":
			return 1 << 3, d.int64(&m.Duplicated)
		case "out_of_order":
			return 1 << 4, d.int64(&m.OutOfOrder)
		case "offered_rate":
			return 1 << 5, d.float(&m.OfferedRate)
		case "uncorrected_p50_ms":
			return 1 << 6, d.float(&m.UncorrectedP50Ms)
		case "uncorrected_p99_ms":
			return 1 << 7, d.float(&m.UncorrectedP99Ms)
		case "uncorrected_max_ms":
			return 1 << 8, d.float(&m.UncorrectedMaxMs)
		case "uncorrected_hdr":
			return 1 << 9, d.string(&m.UncorrectedHDR)
		}
		return 0, false
	})
}

func (d *fastJSON) pgbench(p *PgbenchFigures) bool {
	return d.object(func(name []byte) (uint16, bool) {
		switch string(name) {
		case "tps":
			return 1 << 0, d.float(&p.TPS)
		case "stddev_ms":
			return 1 << 1, d.float(&p.StddevMs)
		case "failed":
			return 1 << 2, d.int64(&p.Failed)
		case "retried":
			return 1 << 3, d.int64(&p.Retried)
		case "retries":
			return 1 << 4, d.int64(&p.Retries)
		case "lag_ms":
			return 1 << 5, d.float(&p.LagMs)
		case "skipped":
			return 1 << 6, d.int64(&p.Skipped)
		}
		return 0, false
	})
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

// object reads a JSON object, each member's value with field, which returns a bit of its own for each name it
// reads (0 and false for a name it does not know): a member that repeats is refused, as the decoder refuses it.
func (d *fastJSON) object(field func(name []byte) (bit uint16, ok bool)) bool {
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
		bit, ok := field(name)
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
	}
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
