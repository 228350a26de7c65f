package sinetstream_test

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

func assertResult(t *testing.T, got, want sinetstream.Result) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Fatalf("result\n got %s\nwant %s", g, w)
	}
}

func TestParseResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		line string
		want sinetstream.Result
	}{
		{"java", javaLine, javaResult},
		{"java thread 0", threadLines[0], threadResults[0]},
		{"java thread 1", threadLines[1], threadResults[1]},
		{"python with null sizes", pythonLine, pythonResult},
		{"writer only, reader null", `{"name":"w","reader":null,"writer":` + sideJSON(t, javaResult.Writer) + `}`,
			sinetstream.Result{Name: "w", Writer: javaResult.Writer}},
		{"reader only, extra fields", `{"host":"pi","name":"r","reader":` + sideJSON(t, javaResult.Reader) + `,"round":2}`,
			sinetstream.Result{Name: "r", Reader: javaResult.Reader}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := sinetstream.ParseResult([]byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			assertResult(t, r, tc.want)
		})
	}
}

func sideJSON(t *testing.T, s *sinetstream.Side) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withField returns javaLine with one field of the writer side replaced by raw JSON, or removed when raw is "".
func withField(t *testing.T, side, field, raw string) string {
	t.Helper()
	var top map[string]map[string]json.RawMessage
	var name struct{ Name string }
	if err := json.Unmarshal([]byte(javaLine), &name); err != nil {
		t.Fatal(err)
	}
	trimmed := strings.Replace(javaLine, `"name":"edge-pi-01",`, "", 1)
	if err := json.Unmarshal([]byte(trimmed), &top); err != nil {
		t.Fatal(err)
	}
	if raw == "" {
		delete(top[side], field)
	} else {
		top[side][field] = json.RawMessage(raw)
	}
	b, err := json.Marshal(map[string]any{"name": name.Name, "writer": top["writer"], "reader": top["reader"]})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseResultIntegerSpellings(t *testing.T) {
	for _, raw := range []string{"1044", "1044.0", "1.044E3", "1044e0", "104400e-2"} {
		r, err := sinetstream.ParseResult([]byte(withField(t, "writer", "msg_size_max", raw)))
		if err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		if *r.Writer.MsgSizeMax != 1044 {
			t.Fatalf("%s parsed as %d", raw, *r.Writer.MsgSizeMax)
		}
	}
}

func TestParseResultErrors(t *testing.T) {
	long := strings.Repeat("x", sinetstream.MaxNameBytes+1)
	for _, tc := range []struct {
		name    string
		payload string
		want    map[string]string // field → substring of its problem
	}{
		{"not json", `{"name":`, map[string]string{"": "not valid JSON"}},
		{"array", `[1,2]`, map[string]string{"": "want a JSON object, got array"}},
		{"null", `null`, map[string]string{"": "want a JSON object, got null"}},
		{"string", `"perftool"`, map[string]string{"": "got string"}},
		{"empty object", `{}`, map[string]string{"name": "missing", "writer": "neither"}},
		{"name number", `{"name":1,"writer":` + sideJSON(t, javaResult.Writer) + `}`, map[string]string{"name": "want a string, got number"}},
		{"name blank", `{"name":" \t","writer":` + sideJSON(t, javaResult.Writer) + `}`, map[string]string{"name": "must not be empty"}},
		{"name too long", `{"name":"` + long + `","writer":` + sideJSON(t, javaResult.Writer) + `}`, map[string]string{"name": "257 bytes long, the limit is 256"}},
		{"name with NUL", `{"name":"a\u0000b","writer":` + sideJSON(t, javaResult.Writer) + `}`, map[string]string{"name": "NUL"}},
		{"no sides", `{"name":"x","writer":null}`, map[string]string{"writer": "neither"}},
		{"side is a string", `{"name":"x","writer":"fast","reader":[]}`, map[string]string{"writer": "want an object, got string", "reader": "want an object, got array"}},
		{"missing field", withField(t, "writer", "msg_bytes_total", ""), map[string]string{"writer.msg_bytes_total": "missing"}},
		{"missing thread_number", withField(t, "reader", "thread_number", ""), map[string]string{"reader.thread_number": "missing"}},
		{"string for number", withField(t, "writer", "time", `"0.65"`), map[string]string{"writer.time": "want a number, got string"}},
		{"boolean for integer", withField(t, "reader", "error_count_total", `false`), map[string]string{"reader.error_count_total": "want a number, got boolean"}},
		{"null for float", withField(t, "writer", "msg_size_avg", `null`), map[string]string{"writer.msg_size_avg": "want a number, got null"}},
		{"object for nullable", withField(t, "writer", "msg_size_min", `{}`), map[string]string{"writer.msg_size_min": "want a number or null, got object"}},
		{"fraction for integer", withField(t, "writer", "msg_count_total", `300.5`), map[string]string{"writer.msg_count_total": "want an integer, got 300.5"}},
		{"integer too big", withField(t, "writer", "msg_bytes_total", `9223372036854775808`), map[string]string{"writer.msg_bytes_total": "out of range for a 64-bit integer"}},
		{"integer too big as float", withField(t, "writer", "msg_bytes_total", `1e19`), map[string]string{"writer.msg_bytes_total": "out of range for a 64-bit integer"}},
		{"float overflow", withField(t, "reader", "msg_bytes_rate", `1e400`), map[string]string{"reader.msg_bytes_rate": "out of range for a float64"}},
		{"negative count", withField(t, "writer", "msg_count_total", `-1`), map[string]string{"writer.msg_count_total": "-1 is negative"}},
		{"negative size", withField(t, "reader", "msg_size_min", `-5`), map[string]string{"reader.msg_size_min": "-5 is negative"}},
		{"thread out of range", withField(t, "writer", "thread_number", `2147483648`), map[string]string{"writer.thread_number": "out of range"}},
		{"negative thread", withField(t, "writer", "thread_number", `-1`), map[string]string{"writer.thread_number": "out of range"}},
		{"threads differ", withField(t, "reader", "thread_number", `1`), map[string]string{"reader.thread_number": "is 1 but writer.thread_number is 0"}},
		{"start before 1970", withField(t, "writer", "start_time_ms", `-1`), map[string]string{"writer.start_time_ms": "not an instant between 1970 and 9999"}},
		{"end after 9999", withField(t, "reader", "end_time", `253402300800`), map[string]string{"reader.end_time": "not an instant between 1970 and 9999"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sinetstream.ParseResult([]byte(tc.payload))
			if !errors.Is(err, sinetstream.ErrInvalidResult) {
				t.Fatalf("error %v is not ErrInvalidResult", err)
			}
			var re *sinetstream.ResultError
			if !errors.As(err, &re) {
				t.Fatalf("error %T is not a *ResultError", err)
			}
			got := map[string]string{}
			for _, p := range re.Problems {
				got[p.Field] = p.Problem
			}
			for field, sub := range tc.want {
				if !strings.Contains(got[field], sub) {
					t.Errorf("problem for %q = %q, want it to contain %q (all: %v)", field, got[field], sub, err)
				}
			}
			if len(re.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d: %v", len(re.Problems), len(tc.want), err)
			}
		})
	}
}

// TestParseResultReportsEveryProblem: one error lists all bad fields, each once.
func TestParseResultReportsEveryProblem(t *testing.T) {
	payload := `{"name":"","writer":{"thread_number":0,"time":"x"},"reader":{"thread_number":-2}}`
	_, err := sinetstream.ParseResult([]byte(payload))
	var re *sinetstream.ResultError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *ResultError", err)
	}
	// name + 15 writer fields (time mistyped, 14 missing) + 15 missing reader fields + reader.thread_number.
	if len(re.Problems) != 32 {
		t.Fatalf("%d problems, want 32: %v", len(re.Problems), err)
	}
	msg := err.Error()
	for _, s := range []string{"invalid perftool result: name: must not be empty; ", "writer.time: want a number, got string", "writer.start_time: missing", "reader.thread_number: -2 is out of range"} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
}

func TestMarshalResultRoundTrip(t *testing.T) {
	for _, r := range []sinetstream.Result{
		javaResult, threadResults[0], threadResults[1], pythonResult,
		{Name: "writer only", Writer: pythonResult.Writer},
		{Name: "reader only", Reader: pythonResult.Reader},
	} {
		b, err := sinetstream.MarshalResult(r)
		if err != nil {
			t.Fatal(err)
		}
		back, err := sinetstream.ParseResult(b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		assertResult(t, back, r)
	}
	// Absent sides are left out; null sizes stay null.
	b, _ := sinetstream.MarshalResult(sinetstream.Result{Name: "r", Reader: pythonResult.Reader})
	if s := string(b); strings.Contains(s, "writer") || !strings.Contains(s, `"msg_size_min":null`) {
		t.Fatalf("MarshalResult = %s", s)
	}
}

func TestMarshalResultValidates(t *testing.T) {
	bad := *javaResult.Writer
	bad.MsgSizeAvg = math.NaN()
	for _, r := range []sinetstream.Result{
		{Writer: javaResult.Writer},
		{Name: "x"},
		{Name: "x", Writer: &bad},
	} {
		if b, err := sinetstream.MarshalResult(r); !errors.Is(err, sinetstream.ErrInvalidResult) {
			t.Errorf("MarshalResult(%+v) = %s, %v; want ErrInvalidResult", r, b, err)
		}
	}
}
