package mqttload

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
		{"--broker", "ssl://broker:8883", "--username", "bench", "--ca-file", "ca.pem", "--cert-file", "c.pem", "--key-file", "k.pem",
			"--publishers", "10", "--subscribers", "3", "--qos", "2", "--size", "512", "--rate", "1500.5", "--inflight", "7",
			"--duration", "1m30s", "--warmup", "10s", "--drain", "2s", "--connect-timeout", "3s", "--topic", "b/{id}",
			"--subscribe-topic", "b/+", "--retain", "--client-id-prefix", "x", "--perftool-compat", "perftool-result",
			"--name", "n", "--tag", "a=b", "--summary-json", "out.json", "--spool-dir", "/tmp/s"},
		{"--embedded-target", "--count", "5000", "--insecure=false"},
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
}

func TestSpecJSONForm(t *testing.T) {
	s, o, err := ParseSpec([]string{"--count", "100", "--warmup", "1m", "--name", "nightly", "--tag", "site=lab", "--summary-json", "x.json"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Name != "nightly" || o.Tags["site"] != "lab" || o.SummaryJSON != "x.json" {
		t.Errorf("CLI options %+v", o)
	}
	j := string(specJSON(t, s))
	for _, want := range []string{`"duration":"0s"`, `"warmup":"1m0s"`, `"count":100`, `"broker":"tcp://localhost:1883"`} {
		if !strings.Contains(j, want) {
			t.Errorf("spec JSON %s lacks %s", j, want)
		}
	}
	for _, cliOnly := range []string{"nightly", "site", "x.json", "summary", "name"} {
		if strings.Contains(j, cliOnly) {
			t.Errorf("spec JSON %s holds the CLI-only %q", j, cliOnly)
		}
	}
}

func TestDecodeSpec(t *testing.T) {
	def := DefaultSpec()
	tests := []struct {
		json    string
		want    func(Spec) Spec // nil: an error containing errText
		errText string
		secret  bool
	}{
		{json: `{}`, want: func(s Spec) Spec { return s }},
		{json: `{"count": 50}`, want: func(s Spec) Spec { s.Count, s.Duration = 50, 0; return s }},
		{json: `{"count": 50, "duration": "5s"}`, want: func(s Spec) Spec { s.Count, s.Duration = 50, recorder.Duration(5*time.Second); return s }},
		{json: `{"embedded_target": true}`, want: func(s Spec) Spec { s.EmbeddedTarget, s.Broker = true, ""; return s }},
		{json: `{"broker": "tcp://u@b:1883", "username": "u"}`, want: func(s Spec) Spec { s.Broker, s.Username = "tcp://u@b:1883", "u"; return s }},
		{json: `{"publishers": 3, "rates": 5}`, errText: `unknown field "rates"`},
		{json: `{"broker": "tcp://bench:s3cret@b:1883"}`, errText: "jobs carry no secrets", secret: true},
		{json: `{"broker": "ssl://bench:s3cret@b:8883", "ca_file": "ca.pem"}`, errText: "$MQTT_PASSWORD", secret: true},
		{json: `{"qos": 3}`, errText: "--qos must be 0, 1 or 2"},
		{json: `{"cert_file": "c.pem"}`, errText: "--cert-file and --key-file go together"},
		{json: `{"embedded_target": true, "broker": "tcp://b:1883"}`, errText: "exclude each other"},
		{json: `{"ca_file": "ca.pem"}`, errText: "is not an ssl://"},
		{json: `{"size": 3}`, errText: "size must be ≥"},
		{json: `{"duration": 60}`, errText: `duration string such as "60s"`},
		{json: `{"duration": "1 minute"}`, errText: `duration string`},
		{json: `[]`, errText: "a spec is a JSON object"},
		{json: `{} {}`, errText: "data after the JSON object"},
	}
	for _, tt := range tests {
		got, err := DecodeSpec([]byte(tt.json))
		if tt.want == nil {
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
			continue
		}
		if want := tt.want(def); !reflect.DeepEqual(got, want) {
			t.Errorf("DecodeSpec(%s)\n got %+v\nwant %+v", tt.json, got, want)
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
