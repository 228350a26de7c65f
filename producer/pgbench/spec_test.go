package pgbench

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/producer/recorder"
)

func TestSpecRoundTrip(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"--", "-c", "8", "-T", "60", "bench"},
		{"--warmup", "10s", "--init-scale", "5", "--observe", "--keep-logs", "--log-dir", "/var/tmp", "--name", "n",
			"--tag", "a=b", "--pgbench", "/usr/bin/pgbench", "--", "-S", "-c", "8", "-j", "2", "-T", "70", "-h", "db", "-U", "bench", "bench"},
	} {
		s, _, err := ParseSpec(args, io.Discard)
		if err != nil {
			t.Fatalf("ParseSpec(%q): %v", args, err)
		}
		got, err := DecodeSpec(specJSON(t, s))
		if err != nil {
			t.Fatalf("DecodeSpec(%s): %v", specJSON(t, s), err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Errorf("round trip of %q:\n got %+v\nwant %+v\njson %s", args, got, s, specJSON(t, s))
		}
	}
	s, o, _ := ParseSpec([]string{"--warmup", "1m", "--pgbench", "/opt/pgbench", "--name", "x", "--", "-T", "90"}, io.Discard)
	if j := string(specJSON(t, s)); j != `{"pgbench_args":["-T","90"],"warmup":"1m0s"}` {
		t.Errorf("spec JSON %s", j)
	}
	if o.PgbenchPath != "/opt/pgbench" || o.Name != "x" {
		t.Errorf("CLI options %+v", o)
	}
}

func TestDecodeSpec(t *testing.T) {
	tests := []struct {
		json    string
		want    Spec
		errText string // "" = no error
		secret  bool
	}{
		{json: `{}`, want: Spec{PgbenchArgs: []string{}}},
		{json: `{"pgbench_args": ["-c", "4", "-T", "20", "postgresql://bench@db/bench"], "warmup": "5s", "init_scale": 2}`,
			want: Spec{PgbenchArgs: []string{"-c", "4", "-T", "20", "postgresql://bench@db/bench"}, Warmup: recorder.Duration(5 * time.Second), InitScale: 2}},
		{json: `{"pgbench_args": ["-T", "20"], "warmups": "5s"}`, errText: `unknown field "warmups"`},
		{json: `{"pgbench_args": ["-T", "20", "postgresql://bench:s3cret@db/bench"]}`, errText: "jobs carry no secrets", secret: true},
		{json: `{"pgbench_args": ["--dbname=postgresql://bench:s3cret@db/bench"]}`, errText: "$PGPASSWORD", secret: true},
		{json: `{"pgbench_args": ["host=db user=bench password=s3cret dbname=bench"]}`, errText: "jobs carry no secrets", secret: true},
		{json: `{"pgbench_args": ["-d", "host=db password='s3cret x'"]}`, errText: "jobs carry no secrets", secret: true},
		{json: `{"pgbench_args": ["postgresql://db/bench?password=s3cret"]}`, errText: "jobs carry no secrets", secret: true},
		{json: `{"pgbench_args": ["-i", "-s", "10"]}`, errText: "-i initialises instead of benchmarking"},
		{json: `{"pgbench_args": ["-T", "10"], "warmup": "10s"}`, errText: "leaves nothing to measure"},
		{json: `{"warmup": "-1s"}`, errText: "--warmup must not be negative"},
		{json: `{"init_scale": -1}`, errText: "--init-scale must be positive"},
		{json: `{"pgbench_args": ["--version"]}`, errText: "only prints information"},
		{json: `{"pgbench_args": "-c 8"}`, errText: "cannot unmarshal"},
	}
	for _, tt := range tests {
		got, err := DecodeSpec([]byte(tt.json))
		if tt.errText != "" {
			if err == nil || !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("DecodeSpec(%s) = %v, want an error containing %q", tt.json, err, tt.errText)
			}
			if errors.Is(err, recorder.ErrSecretInSpec) != tt.secret {
				t.Errorf("DecodeSpec(%s): errors.Is(ErrSecretInSpec) = %v, want %v", tt.json, !tt.secret, tt.secret)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("DecodeSpec(%s) error shows the password: %v", tt.json, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("DecodeSpec(%s): %v", tt.json, err)
		} else if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DecodeSpec(%s)\n got %+v\nwant %+v", tt.json, got, tt.want)
		}
	}
}

// specJSON is s as a job carries it.
func specJSON(t *testing.T, s Spec) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
