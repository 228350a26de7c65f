package jobkind_test

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/producer/jobkind"
	"github.com/benchpipe/benchpipe/producer/mqttload"
	"github.com/benchpipe/benchpipe/producer/pgbench"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// marshal is v's JSON: a spec's job form.
func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestNames(t *testing.T) {
	if got := jobkind.Names(); !reflect.DeepEqual(got, []string{schema.KindMQTT, schema.KindPgbench}) {
		t.Errorf("Names() = %q", got)
	}
	if got := jobkind.Either(); got != "mqtt or pgbench" {
		t.Errorf("Either() = %q", got)
	}
	for _, name := range jobkind.Names() {
		if k, ok := jobkind.Lookup(name); !ok || k.Name() != name {
			t.Errorf("Lookup(%q) = %q, %v", name, k.Name(), ok)
		}
	}
	if k, ok := jobkind.Lookup("nats"); ok || k.Name() != "" {
		t.Errorf("Lookup(nats) = %q, %v, want none", k.Name(), ok)
	}
	var all []string
	for _, k := range jobkind.All() {
		all = append(all, k.Name())
	}
	if !reflect.DeepEqual(all, jobkind.Names()) {
		t.Errorf("All() names %q, want %q", all, jobkind.Names())
	}
}

// Parse then Decode gives exactly what the kind's own parser and DecodeSpec give, and the invocation's flags apart.
func TestParse(t *testing.T) {
	mq, _, err := mqttload.ParseSpec([]string{"--count", "100", "--qos", "1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pg, _, err := pgbench.ParseSpec([]string{"--warmup", "5s", "--", "-c", "2", "-T", "30"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		kind string
		args []string
		want string // the spec
		inv  jobkind.Invocation
	}{
		{"mqtt", []string{"--count", "100", "--qos", "1", "--name", "n1", "--tag", "site=lab"}, marshal(t, mq),
			jobkind.Invocation{Name: "n1", Tags: map[string]string{"site": "lab"}}},
		{"mqtt", []string{"--count", "100", "--qos", "1", "--max-regression", "throughput=5%", "--spool-dir", "/s", "--config", "c.yaml"}, marshal(t, mq),
			jobkind.Invocation{Tags: map[string]string{}, Local: []string{"config", "spool-dir", "max-regression"}}},
		{"pgbench", []string{"--warmup", "5s", "--pgbench", "/opt/pgbench", "--summary-json", "x.json", "--compare-with", "last", "--", "-c", "2", "-T", "30"}, marshal(t, pg),
			jobkind.Invocation{Tags: map[string]string{}, Local: []string{"pgbench", "summary-json", "compare-with"}}},
	} {
		k, _ := jobkind.Lookup(tc.kind)
		spec, inv, err := k.Parse(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("%s Parse(%q): %v", tc.kind, tc.args, err)
		}
		decoded, err := k.Decode(spec)
		if string(spec) != tc.want || err != nil || string(decoded) != tc.want || !reflect.DeepEqual(inv, tc.inv) {
			t.Errorf("%s %q:\n spec    %s\n decoded %s, %v\n want    %s\n invocation %#v, want %#v", tc.kind, tc.args, spec, decoded, err, tc.want, inv, tc.inv)
		}
	}

	var usage strings.Builder
	k, _ := jobkind.Lookup("pgbench")
	if _, _, err := k.Parse([]string{"--help"}, &usage); !errors.Is(err, flag.ErrHelp) || !strings.Contains(usage.String(), "--init-scale") {
		t.Errorf("Parse(--help): %v, usage %q", err, usage.String())
	}
	if _, _, err := k.Parse([]string{"--warmup", "x"}, io.Discard); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("Parse(--warmup x): %v, want a one-line usage error", err)
	}
}

// Decode fills in the defaults: the job carries exactly what will run.
func TestDecodeDefaults(t *testing.T) {
	mqtt, _ := jobkind.Lookup("mqtt")
	got, err := mqtt.Decode([]byte(`{"count": 10, "topic": "t/{id}"}`))
	want := mqttload.DefaultSpec()
	want.Count, want.Duration, want.Topic = 10, 0, "t/{id}"
	if err != nil || string(got) != marshal(t, want) {
		t.Errorf("mqtt Decode: %s, %v\nwant %s", got, err, marshal(t, want))
	}
	pg, _ := jobkind.Lookup("pgbench")
	got, err = pg.Decode([]byte(`{"pgbench_args": ["-T", "90"], "warmup": "1m"}`))
	if err != nil || string(got) != `{"pgbench_args":["-T","90"],"warmup":"1m0s"}` {
		t.Errorf("pgbench Decode: %s, %v", got, err)
	}
	got, err = pg.Decode([]byte(`{}`))
	if err != nil || string(got) != `{"pgbench_args":[],"warmup":"0s"}` {
		t.Errorf("pgbench Decode({}): %s, %v", got, err)
	}
}

// refusals are specs Decode refuses, with the exact reason. The secret ones marked byScan are specs the kind's own
// DecodeSpec accepts: a credential in a field it does not read as a connection string.
var refusals = []struct {
	kind, spec string
	byScan     bool // DecodeSpec alone accepts it
	secret     bool // errors.Is(err, recorder.ErrSecretInSpec)
	want       string
}{
	{"mqtt", `"tcp://x"`, false, false, "spec must be a JSON object (the mqtt job's parameters)"},
	{"pgbench", `null`, false, false, "spec must be a JSON object (the pgbench job's parameters)"},
	{"mqtt", `[]`, false, false, "spec must be a JSON object (the mqtt job's parameters)"},
	{"mqtt", `{"no_such_field": 1}`, false, false, `mqtt spec: json: unknown field "no_such_field"`},
	{"mqtt", `{"qos": 3}`, false, false, "mqtt spec: --qos must be 0, 1 or 2, got 3"},
	{"mqtt", `{"broker": "tcp://bench:Hunter2pw@perftarget:1883"}`, false, true, "spec holds a secret (spec.broker holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"mqtt", `{"password": "Hunter2pw"}`, false, true, "spec holds a secret (spec.password): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"mqtt", `{"Password": ""}`, false, false, `mqtt spec: json: unknown field "Password"`},
	{"mqtt", `{"topic": "bench/password=Hunter2pw"}`, true, true, "spec holds a secret (spec.topic holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"mqtt", `{"perftool_compat": "password=Hunter2pw"}`, true, true, "spec holds a secret (spec.perftool_compat holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"mqtt", `{"broker": "ssl://h:8883", "ca_file": "https://u:Hunter2pw@files/ca.pem"}`, true, true, "spec holds a secret (spec.ca_file holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"mqtt", `{"host=db password=Hunter2pw": 1}`, false, true, "spec holds a secret (spec.host=db password=" + schema.Mask + "): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"pgbench", `{"pgbench_args": ["-T", "5", "host=db password=Hunter2pw dbname=bench"]}`, false, true, "spec holds a secret (spec.pgbench_args[2] holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"pgbench", `{"pgbench_args": ["-T", "5"], "log_dir": "/tmp/password=Hunter2pw"}`, true, true, "spec holds a secret (spec.log_dir holds a credential): jobs carry no passwords; the agent takes them from its own environment or configuration"},
	{"pgbench", `{"pgbench_args": ["-i"]}`, false, false, "pgbench spec: -i initialises instead of benchmarking: use --init-scale N (it runs pgbench -i -s N before the run), or run pgbench -i yourself"},
}

func TestDecodeRefuses(t *testing.T) {
	decodeSpec := map[string]func([]byte) error{
		"mqtt":    func(b []byte) error { _, err := mqttload.DecodeSpec(b); return err },
		"pgbench": func(b []byte) error { _, err := pgbench.DecodeSpec(b); return err },
	}
	for _, tc := range refusals {
		k, _ := jobkind.Lookup(tc.kind)
		got, err := k.Decode([]byte(tc.spec))
		if got != nil || err == nil || err.Error() != tc.want || errors.Is(err, recorder.ErrSecretInSpec) != tc.secret {
			t.Errorf("%s Decode(%s) = %s, %v (secret %v)\nwant the error %q (secret %v)", tc.kind, tc.spec, got, err,
				errors.Is(err, recorder.ErrSecretInSpec), tc.want, tc.secret)
		}
		if err := decodeSpec[tc.kind]([]byte(tc.spec)); (err == nil) != tc.byScan {
			t.Errorf("%s DecodeSpec(%s) = %v: the case's byScan %v is wrong", tc.kind, tc.spec, err, tc.byScan)
		}
		if err != nil && strings.Contains(err.Error(), "Hunter2pw") {
			t.Errorf("%s Decode(%s): the reason shows the password: %v", tc.kind, tc.spec, err)
		}
	}
}

// The agent refuses exactly what Decode refuses, with the same reason, and Execute of a refused spec fails with it
// before anything runs (env is empty: a run would need its publisher).
func TestAgentRefusesTheSame(t *testing.T) {
	kinds := agent.DefaultKinds()
	if len(kinds) != len(jobkind.Names()) {
		t.Errorf("the agent runs %d kinds, want %d", len(kinds), len(jobkind.Names()))
	}
	for _, tc := range refusals {
		err := kinds[tc.kind].Check([]byte(tc.spec))
		if err == nil || err.Error() != tc.want {
			t.Errorf("agent %s Check(%s) = %v, want %q", tc.kind, tc.spec, err, tc.want)
		}
		k, _ := jobkind.Lookup(tc.kind)
		out := k.Execute(context.Background(), recorder.Env{}, []byte(tc.spec))
		if out.Status != schema.StatusFailed || out.Err != tc.want {
			t.Errorf("%s Execute(%s) = %+v, want failed: %s", tc.kind, tc.spec, out, tc.want)
		}
	}
}
