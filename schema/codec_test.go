package schema_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/benchpipe/benchpipe/schema"
)

var (
	runID = uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01")
	t0    = time.Date(2026, 11, 23, 12, 0, 0, 123456000, time.UTC)
)

// hdrFixture is a histogram in the contract's encoding.
var hdrFixture, _ = schema.EncodeHist(histOf(latencies(3, 500, 900)))

func validRecords() map[string]schema.Record {
	lat := func() *schema.Latency {
		return &schema.Latency{MinMs: 0.2, MeanMs: 1.1, P50Ms: 0.9, P90Ms: 1.8, P95Ms: 2.2, P99Ms: 4.1, P999Ms: 9, MaxMs: 12.5, HDR: hdrFixture}
	}
	v1 := lat()
	v1.HDR = ""
	job, group := uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02"), uuid.MustParse("0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e03")
	return map[string]schema.Record{
		"started by a fleet job": {V: 2, Type: schema.TypeRunStarted, RunID: runID, Seq: 0, Time: t0, Started: &schema.Started{
			Kind: schema.KindMQTT, Host: schema.Host{Hostname: "pi-3"}, StartedAt: t0, JobID: &job, GroupID: &group}},
		"v1 sample": {V: 1, Type: schema.TypeSample, RunID: runID, Seq: 8, Time: t0, Sample: &schema.Sample{
			Start: t0, End: t0.Add(time.Second), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: 2100, OpsRate: 2100, Latency: v1, MQTT: &schema.MQTTFigures{Sent: 10, Received: 9, UncorrectedP99Ms: 3}}}},
		"started": {V: 2, Type: schema.TypeRunStarted, RunID: runID, Seq: 0, Time: t0, Started: &schema.Started{
			Kind: schema.KindPgbench, Name: "nightly", Tags: map[string]string{"site": "lab"},
			Parameters: json.RawMessage(`{"clients":8,"args":["-S"]}`),
			Target:     schema.Target{URL: "postgres://bench@db:5432/bench", Host: "db", Port: 5432, Database: "bench", Version: "15.18"},
			Host:       schema.Host{Hostname: "pi-3", OS: "Debian GNU/Linux 12", Kernel: "6.6.51", Arch: "arm64", CPUModel: "Cortex-A72", CPUCores: 4, MemoryBytes: 4 << 30, DeviceModel: "Raspberry Pi 4 Model B Rev 1.4"},
			Tools:      map[string]string{"pgbench": "15.18"}, StartedAt: t0}},
		"sample": {V: 2, Type: schema.TypeSample, RunID: runID, Seq: 7, Time: t0, Sample: &schema.Sample{
			Start: t0, End: t0.Add(time.Second), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: 2100, OpsRate: 2100, Errors: 1, Latency: lat(),
				Pgbench: &schema.PgbenchFigures{TPS: 2100.5, StddevMs: 0.7, Failed: 1, Retried: 2, Retries: 3, LagMs: 0.1, Skipped: 4}}}},
		"finished": {V: 2, Type: schema.TypeRunFinished, RunID: runID, Seq: 31, Time: t0, Finished: &schema.Finished{
			Status: schema.StatusFailed, Error: "pgbench: error: Run was aborted", FinishedAt: t0.Add(30 * time.Second),
			Summary: &schema.Summary{Start: t0, End: t0.Add(30 * time.Second), Figures: schema.Figures{Ops: 60000, OpsRate: 2000, Latency: lat(),
				MQTT: &schema.MQTTFigures{Sent: 10, Received: 9, Lost: 1, UncorrectedHDR: hdrFixture}}, Extra: json.RawMessage(`{"pgbench":{"tps":1999.2}}`)}}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, r := range validRecords() {
		b, err := schema.Encode(r)
		if err != nil {
			t.Fatalf("%s: encode: %v", name, err)
		}
		got, err := schema.Decode(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		again, _ := schema.Encode(got)
		if !bytes.Equal(b, again) {
			t.Errorf("%s: round trip changed the record:\n%s\n%s", name, b, again)
		}
	}
}

// Decode says precisely what is wrong.
func TestDecodeErrors(t *testing.T) {
	good, _ := schema.Encode(validRecords()["sample"])
	mutate := func(old, new string) string {
		if !strings.Contains(string(good), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return strings.Replace(string(good), old, new, 1)
	}
	cases := []struct {
		name, input string
		want        error
		field       string
	}{
		{"not json", `{"v":1,`, schema.ErrSyntax, ""},
		{"no version", `{"type":"sample"}`, schema.ErrUnknownVersion, "v"},
		{"future version", mutate(`"v":2`, `"v":3`), schema.ErrUnknownVersion, "v"},
		{"version 0", mutate(`"v":2`, `"v":0`), schema.ErrUnknownVersion, "v"},
		{"histogram in a version 1 record", mutate(`"v":2`, `"v":1`), schema.ErrInvalid, "sample.latency.hdr"},
		{"histogram not base64", mutate(hdrFixture, "not*base64"), schema.ErrInvalid, "sample.latency.hdr"},
		{"histogram cut short", mutate(hdrFixture, hdrFixture[:len(hdrFixture)-12]), schema.ErrInvalid, "sample.latency.hdr"},
		{"unknown type", mutate(`"type":"sample"`, `"type":"probe"`), schema.ErrUnknownType, "type"},
		{"wrong field type", mutate(`"seq":7`, `"seq":"7"`), schema.ErrInvalid, "seq"},
		{"unknown field", mutate(`"seq":7`, `"seq":7,"sequence":7`), schema.ErrInvalid, "sequence"},
		{"duplicate key", mutate(`"seq":7`, `"seq":7,"seq":8`), schema.ErrSyntax, ""},
		{"nil run id", mutate(runID.String(), uuid.Nil.String()), schema.ErrInvalid, "run_id"},
		{"sample seq 0", mutate(`"seq":7`, `"seq":0`), schema.ErrInvalid, "seq"},
		{"bad phase", mutate(`"phase":"measure"`, `"phase":"cooldown"`), schema.ErrInvalid, "sample.phase"},
		{"negative count", mutate(`"ops":2100`, `"ops":-1`), schema.ErrInvalid, "sample.ops"},
		{"percentiles out of order", mutate(`"p99_ms":4.1`, `"p99_ms":1.0`), schema.ErrInvalid, "sample.latency.p99_ms"},
		{"end before start", mutate(`"end":"2026-11-23T12:00:01.123456Z"`, `"end":"2026-11-23T11:00:00Z"`), schema.ErrInvalid, "sample.end"},
		{"trailing data", string(good) + `{}`, schema.ErrSyntax, ""},
	}
	for _, c := range cases {
		_, err := schema.Decode([]byte(c.input))
		if !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
			continue
		}
		var fe *schema.FieldError
		if errors.As(err, &fe) && c.field != "" && fe.Field != c.field {
			t.Errorf("%s: field = %q, want %q (%v)", c.name, fe.Field, c.field, err)
		}
	}
}

func TestEncodeRefusesPasswordsInTargets(t *testing.T) {
	r := validRecords()["started"]
	r.Started.Target.URL = "postgres://bench:hunter2@db/bench"
	if _, err := schema.Encode(r); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("err = %v, want a refusal naming the password", err)
	}
}

// The JSON Schema file describes what Decode accepts: every valid Go record validates, and invalid shapes fail.
func TestJSONSchemaMatchesDecoder(t *testing.T) {
	c := jsonschema.NewCompiler()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema.JSONSchema))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.AddResource("record.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	c.AssertFormat()
	sch, err := c.Compile("record.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	validate := func(b []byte) error {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			return err
		}
		return sch.Validate(v)
	}
	for name, r := range validRecords() {
		b, _ := schema.Encode(r)
		if err := validate(b); err != nil {
			t.Errorf("%s: valid record fails the JSON Schema: %v", name, err)
		}
	}
	fleetStarted, _ := schema.Encode(validRecords()["started by a fleet job"])
	good, _ := schema.Encode(validRecords()["sample"])
	for _, bad := range []string{
		// a job's run names its job and its launch, both
		strings.Replace(string(fleetStarted), `,"group_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e03"`, ``, 1),
		strings.Replace(string(fleetStarted), `"job_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02",`, ``, 1),
		strings.Replace(string(fleetStarted), `"job_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e02"`, `"job_id":"00000000-0000-0000-0000-000000000000"`, 1),
		strings.Replace(string(good), `"v":2`, `"v":3`, 1),
		strings.Replace(string(good), `"v":2`, `"v":1`, 1), // a histogram in a version 1 record
		strings.Replace(string(good), `"seq":7`, `"seq":"7"`, 1),
		strings.Replace(string(good), `"phase":"measure"`, `"phase":"x"`, 1),
		strings.Replace(string(good), `"ops":2100`, `"ops":-1`, 1),
		strings.Replace(string(good), `"seq":7`, `"seq":7,"extra":1`, 1),
		strings.Replace(string(good), `"tps":2100.5`, `"tpz":2100.5`, 1),
	} {
		if validate([]byte(bad)) == nil {
			t.Errorf("JSON Schema accepts an invalid record: %s", bad)
		}
		if _, err := schema.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode accepts an invalid record: %s", bad)
		}
	}
}

// FuzzDecode: no input makes Decode panic, and whatever it accepts encodes and decodes to the same record.
func FuzzDecode(f *testing.F) {
	for _, r := range validRecords() {
		b, _ := schema.Encode(r)
		f.Add(b)
	}
	f.Add([]byte(`{"v":1,"type":"sample","run_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01","seq":1,"time":"2026-01-01T00:00:00Z","sample":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","phase":"warmup","ops":0,"ops_rate":0,"errors":0}}`))
	f.Add([]byte(`{"v":1e400}`))
	f.Add([]byte(`{"v":2,"type":"sample","run_id":"0192f0c4-7d1a-7cc1-9a52-3f1e5b7d9e01","seq":1,"time":"2026-01-01T00:00:00Z","sample":{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","phase":"warmup","ops":0,"ops_rate":0,"errors":0,"latency":{"min_ms":0,"mean_ms":0,"p50_ms":0,"p90_ms":0,"p95_ms":0,"p99_ms":0,"p999_ms":0,"max_ms":0,"hdr":"` + hdrFixture + `"}}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := schema.Decode(b)
		if err != nil {
			return
		}
		enc, err := schema.Encode(r)
		if err != nil {
			t.Fatalf("decoded record does not re-encode: %v", err)
		}
		if _, err := schema.Decode(enc); err != nil {
			t.Fatalf("re-encoded record does not decode: %v\n%s", err, enc)
		}
	})
}
