package pgbench

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestParseRatio(t *testing.T) {
	tests := []struct {
		in      string
		want    Ratio
		wantErr bool
	}{
		{in: "799 (29.925%)", want: Ratio{799, 29.925}},
		{in: "486 (8.013 %)", want: Ratio{486, 8.013}}, // pgbench before 15
		{in: "0 (0.000%)", want: Ratio{0, 0}},
		{in: "799", wantErr: true},
		{in: "799 (29.925)", wantErr: true},
		{in: "x (1%)", wantErr: true},
		{in: "-1 (1%)", wantErr: true},
		{in: "1 (y%)", wantErr: true},
	}
	for _, tt := range tests {
		got, err := parseRatio(tt.in)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("parseRatio(%q) = %+v, %v; want %+v, error %v", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
	if r, err := parseRatio("0 (NaN%)"); err != nil || r.N != 0 || !math.IsNaN(r.Pct) {
		t.Errorf("parseRatio(NaN) = %+v, %v", r, err)
	}
}

func TestSyntaxError(t *testing.T) {
	inner := errors.New("inner")
	long := strings.Repeat("x", 1000)
	err := syntaxError("log line", long, "what", inner)
	var se *SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, inner) {
		t.Fatalf("%v: not a *SyntaxError wrapping inner", err)
	}
	if len(se.Line) > maxQuoted+len("…") {
		t.Errorf("Line not clipped: %d bytes", len(se.Line))
	}
	if got := syntaxError("x", "l", "", nil).Error(); got != `pgbench: parse x "l"` {
		t.Errorf("Error() = %q", got)
	}
}

// dump renders a value with its pointers followed, for readable test failures.
func dump(v any) string {
	var b strings.Builder
	dumpValue(&b, reflect.ValueOf(v))
	return b.String()
}

func dumpValue(b *strings.Builder, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			b.WriteString("nil")
			return
		}
		b.WriteString("&")
		dumpValue(b, v.Elem())
	case reflect.Struct:
		if s, ok := v.Interface().(fmt.Stringer); ok {
			b.WriteString(s.String())
			return
		}
		b.WriteString("{")
		for i := 0; i < v.NumField(); i++ {
			f := v.Field(i)
			if f.IsZero() {
				continue
			}
			b.WriteString(v.Type().Field(i).Name + ":")
			dumpValue(b, f)
			b.WriteString(" ")
		}
		b.WriteString("}")
	case reflect.Slice:
		b.WriteString("[")
		for i := 0; i < v.Len(); i++ {
			dumpValue(b, v.Index(i))
			b.WriteString(" ")
		}
		b.WriteString("]")
	case reflect.String:
		b.WriteString(strconv.Quote(v.String()))
	default:
		fmt.Fprint(b, v.Interface())
	}
}
