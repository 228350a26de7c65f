package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestParseFullFile(t *testing.T) {
	src := `
kafka:
  brokers: [kafka-1:9092, "kafka-2:9092"]
  sasl: {mechanism: SCRAM-SHA-512, username: sink, password: "${KAFKA_PASSWORD}"}
topics:
  - name: benchpipe.records
    partitions: 12
    retention: 720h
  - name: perftool-sinetstream-result
    format: sinetstream-perftool
    configs: {cleanup.policy: delete}
sink:
  database_url: ${DATABASE_URL}
  batch_size: 5000
  flush_interval: 100ms
perftarget:
  mqtt_port: ${MQTT_PORT:-1884}
`
	cfg, err := Parse("bp.yaml", []byte(src), env(map[string]string{"KAFKA_PASSWORD": "s3cret", "DATABASE_URL": "postgres://u:p@db/bench"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Kafka.SASL.Password; got != "s3cret" {
		t.Errorf("password = %q, want expanded from the environment", got)
	}
	if cfg.Sink.DatabaseURL != "postgres://u:p@db/bench" || cfg.Sink.BatchSize != 5000 || cfg.Sink.FlushInterval != 100*time.Millisecond {
		t.Errorf("sink = %+v", cfg.Sink)
	}
	if cfg.Sink.Group != "benchpipe-sink" || cfg.Sink.DeadLetterTopic != "benchpipe.dead-letter" {
		t.Errorf("sink defaults lost: %+v", cfg.Sink)
	}
	if cfg.Perftarget.MQTTPort != 1884 {
		t.Errorf("mqtt_port = %d, want the ${VAR:-default} fallback 1884", cfg.Perftarget.MQTTPort)
	}
	if len(cfg.Topics) != 2 || cfg.Topics[0].Partitions != 12 || cfg.Topics[0].Retention != 720*time.Hour {
		t.Fatalf("topics = %+v", cfg.Topics)
	}
	if tp := cfg.Topics[1]; tp.Format != FormatSINETStream || tp.Partitions != 6 || tp.ReplicationFactor != 1 || tp.Configs["cleanup.policy"] != "delete" {
		t.Errorf("second topic = %+v (partition and replication defaults expected)", tp)
	}
}

func TestEmptyFileIsDefaults(t *testing.T) {
	cfg, err := Parse("empty.yaml", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	def := Default()
	if !reflect.DeepEqual(cfg.Sink, def.Sink) || cfg.Producer.Topic != def.Producer.Topic ||
		!reflect.DeepEqual(cfg.Topics, def.Topics) || !reflect.DeepEqual(cfg.Fleet, def.Fleet) {
		t.Errorf("empty file gave %+v, want defaults", cfg)
	}
}

// The defaults list the fleet's topics with format fleet, so a sink with no topics configured reads them.
func TestDefaultFleetTopics(t *testing.T) {
	cfg := Default()
	for _, name := range []string{cfg.Fleet.JobsTopic, cfg.Fleet.AgentsTopic} {
		tp, ok := cfg.Topic(name)
		if !ok || tp.Format != FormatFleet || tp.Partitions != 3 || tp.ReplicationFactor != 1 || tp.Retention != 168*time.Hour {
			t.Errorf("default topic %q = %+v (found %v), want format fleet, 3 partitions, replication 1, retention 168h", name, tp, ok)
		}
	}
	if !slices.ContainsFunc(cfg.SinkTopics(), func(t Topic) bool { return t.Name == cfg.Fleet.AgentsTopic }) {
		t.Error("the sink does not read the agents topic by default")
	}
}

// The fleet section's problems, each on its line.
func TestFleetProblems(t *testing.T) {
	src := `topics:
  - name: benchpipe.records
  - name: jobs
    format: benchpipe
fleet:
  jobs_topic: jobs
  agents_topic: ""
  heartbeat: 0s
  job_expiry: -1m
`
	_, err := Parse("fleet.yaml", []byte(src), env(nil))
	assertProblems(t, err, []string{
		`fleet.yaml:6: fleet.jobs_topic: topic "jobs" carries format benchpipe; the fleet's topics carry fleet`,
		`fleet.yaml:7: fleet.agents_topic: missing`,
		`fleet.yaml:8: fleet.heartbeat: must be > 0`,
		`fleet.yaml:9: fleet.job_expiry: must be > 0`,
	})

	same := "fleet:\n  jobs_topic: f\n  agents_topic: f\n"
	_, err = Parse("same.yaml", []byte(same), env(nil))
	assertProblems(t, err, []string{`same.yaml:3: fleet.agents_topic: "f" is also jobs_topic`})

	// Another program's section: the producer's run commands do not read fleet, so its problems are not theirs.
	if _, err := Parse("fleet.yaml", []byte(src), env(nil), SectionKafka, SectionProducer); err != nil {
		t.Errorf("producer sections: %v", err)
	}
}

// Every problem in a file is reported at once, each with file:line.
func TestProblemsNameFileAndLine(t *testing.T) {
	src := `kafka:
  brokers: [nocolon]
  sasl:
    mechanism: GSSAPI
topics:
  - name: a
    format: avro
    partitions: 0
sink:
  batch_sise: 10
  database_url: ${MISSING_DB_URL}
`
	_, err := Parse("bad.yaml", []byte(src), env(nil))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v, want Problems", err)
	}
	// Unknown keys, unset variables, type errors and invalid values together: fixing one kind must not reveal
	// another.
	want := []string{
		`bad.yaml: producer.topic: "benchpipe.records" is not in topics`,
		`bad.yaml:2: kafka.brokers[0]: "nocolon" is not host:port`,
		`bad.yaml:3: kafka.sasl: mechanism GSSAPI needs username and password`,
		`bad.yaml:4: kafka.sasl.mechanism: "GSSAPI" is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512`,
		`bad.yaml:7: topics[0].format: "avro" is not benchpipe, sinetstream-perftool or fleet`,
		`bad.yaml:10: sink.batch_sise: unknown key (known keys here: database_url, group, topics, batch_size, `,
		`bad.yaml:11: environment variable MISSING_DB_URL is not set (write ${MISSING_DB_URL:-default} for an optional value)`,
	}
	assertProblems(t, err, want)

	mixed := "sink:\n  batch_sise: 10\n  batch_size: lots\n  flush_interval: 0s\n  database_url: ${MISSING_DB_URL}\n"
	_, err = Parse("mixed.yaml", []byte(mixed), env(nil))
	assertProblems(t, err, []string{
		`mixed.yaml:2: sink.batch_sise: unknown key`,
		"mixed.yaml:3: sink.batch_size: cannot unmarshal !!str `lots` into int",
		`mixed.yaml:4: sink.flush_interval: must be > 0`,
		`mixed.yaml:5: environment variable MISSING_DB_URL is not set`,
	})

	src2 := `kafka:
  brokers: [nocolon]
  sasl:
    mechanism: GSSAPI
topics:
  - name: a
    format: avro
    partitions: -1
sink:
  flush_interval: 0s
producer:
  topic: nope
`
	_, err = Parse("bad.yaml", []byte(src2), env(nil))
	assertProblems(t, err, []string{
		`bad.yaml:2: kafka.brokers[0]: "nocolon" is not host:port`,
		`bad.yaml:3: kafka.sasl: mechanism GSSAPI needs username and password`,
		`bad.yaml:4: kafka.sasl.mechanism: "GSSAPI" is not PLAIN`,
		`bad.yaml:7: topics[0].format: "avro" is not benchpipe`,
		`bad.yaml:8: topics[0].partitions: must be ≥ 1`,
		`bad.yaml:10: sink.flush_interval: must be > 0`,
		`bad.yaml:12: producer.topic: "nope" is not in topics`,
	})
}

func TestTypeErrorsNameLine(t *testing.T) {
	src := "sink:\n  batch_size: lots\n  flush_interval: soon\n"
	_, err := Parse("t.yaml", []byte(src), env(nil))
	assertProblems(t, err, []string{"t.yaml:2: sink.batch_size: cannot unmarshal !!str `lots` into int", "t.yaml:3: sink.flush_interval: "})
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	_, err := Parse("s.yaml", []byte("sink:\n  batch_size: 1\n bad indent: [\n"), env(nil))
	if err == nil || !regexp.MustCompile(`^s\.yaml:[23]: `).MatchString(err.Error()) {
		t.Fatalf("err = %v, want it to name s.yaml and the line", err)
	}
}

func assertProblems(t *testing.T, err error, want []string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %d problems", len(want))
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, lines[i], want[i])
		}
	}
}

// The documented example files must load, with the variables they reference set as a deployment would.
func TestExampleFilesLoad(t *testing.T) {
	files, _ := filepath.Glob("*.yaml")
	if len(files) == 0 {
		t.Fatal("no example configuration files in config/")
	}
	vars := env(map[string]string{"DATABASE_URL": "postgres://sink:pw@db:5432/benchpipe", "KAFKA_PASSWORD": "pw", "PERFTARGET_PASSWORD": "pw"})
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(f, data, vars); err != nil {
			t.Errorf("%v", err)
		}
	}
}

// A program reads only its sections: a ${VAR} or an invalid value in another program's section is not its
// problem, but the file's shape (unknown keys, wrong types) is checked everywhere.
func TestSectionsInUse(t *testing.T) {
	src := `kafka:
  brokers: ["${KAFKA_BROKERS:-localhost:9092}"]
sink:
  database_url: ${DATABASE_URL}
  batch_size: 0
perftarget:
  mqtt_port: ${MQTT_PORT}
  password: ${PERFTARGET_PASSWORD}
producer:
  device: pi-7
`
	cfg, err := Parse("shared.yaml", []byte(src), env(nil), SectionKafka, SectionTopics, SectionProducer, SectionGraphQL)
	if err != nil {
		t.Fatalf("the producer's sections are fine: %v", err)
	}
	if cfg.Producer.Device != "pi-7" || cfg.Sink.DatabaseURL != "" || cfg.Kafka.Brokers[0] != "localhost:9092" {
		t.Errorf("cfg %+v", cfg)
	}
	_, err = Parse("shared.yaml", []byte(src), env(nil), SectionKafka, SectionTopics, SectionSink)
	assertProblems(t, err, []string{
		"shared.yaml:4: environment variable DATABASE_URL is not set",
		"shared.yaml:5: sink.batch_size: must be ≥ 1, got 0",
	})
	_, err = Parse("shared.yaml", []byte(src), env(nil), SectionPerftarget)
	assertProblems(t, err, []string{
		"shared.yaml:7: environment variable MQTT_PORT is not set",
		"shared.yaml:8: environment variable PERFTARGET_PASSWORD is not set",
	})
	_, err = Parse("shared.yaml", []byte(src+"sink2: {}\nperftarget2: 1\n"), env(nil), SectionProducer)
	assertProblems(t, err, []string{"shared.yaml:11: sink2: unknown key", "shared.yaml:12: perftarget2: unknown key"})
	_, err = Parse("shape.yaml", []byte("sink: 5\nproducer:\n  tags: [a]\n"), env(nil))
	assertProblems(t, err, []string{"shape.yaml:1: sink: expected a mapping of keys", "shape.yaml:3: producer.tags: cannot unmarshal !!seq into map[string]string"})
	_, err = Parse("shared.yaml", []byte("sink:\n  batch_size: lots\n"), env(nil), SectionProducer)
	assertProblems(t, err, []string{"shared.yaml:2: sink.batch_size: cannot unmarshal !!str `lots` into int"})
}

// The shipped files load for each program with only the variables that program's deployment sets.
func TestShippedFilesPerProgram(t *testing.T) {
	producer := []Section{SectionKafka, SectionTopics, SectionProducer, SectionPerftarget, SectionGraphQL}
	for _, tc := range []struct {
		file string
		uses []Section
		env  map[string]string
	}{
		{"benchpipe.example.yaml", producer, nil}, // producer mqtt on a device: no DATABASE_URL there
		{"benchpipe.example.yaml", []Section{SectionGraphQL}, nil},
		{"benchpipe.example.yaml", []Section{SectionKafka, SectionTopics, SectionProducer}, nil},
		{"benchpipe.example.yaml", []Section{SectionKafka, SectionTopics, SectionSink}, map[string]string{"DATABASE_URL": "postgres://db/x"}},
		{"benchpipe.example.yaml", []Section{SectionPerftarget}, nil},
		{"../deploy/compose/sink.yaml", []Section{SectionKafka, SectionTopics, SectionSink}, map[string]string{"DATABASE_URL": "postgres://db/x"}},
		{"../deploy/compose/perftarget.yaml", []Section{SectionPerftarget}, map[string]string{"PERFTARGET_USERNAME": "u", "PERFTARGET_PASSWORD": "p"}},
		{"../deploy/k8s/base/config/sink.yaml", []Section{SectionKafka, SectionTopics, SectionSink}, map[string]string{"DATABASE_URL": "postgres://db/x", "KAFKA_BROKERS": "kafka:9092"}},
		{"../deploy/k8s/base/config/perftarget.yaml", []Section{SectionPerftarget}, map[string]string{"PERFTARGET_USERNAME": "u", "PERFTARGET_PASSWORD": "p"}},
		{"../deploy/systemd/benchpipe.yaml", producer, map[string]string{"KAFKA_BROKERS": "kafka:9092"}},
	} {
		data, err := os.ReadFile(tc.file)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(tc.file, data, env(tc.env), tc.uses...); err != nil {
			t.Errorf("%s for %v: %v", tc.file, tc.uses, err)
		}
	}
	// The sink still insists on its own variable.
	data, _ := os.ReadFile("benchpipe.example.yaml")
	_, err := Parse("benchpipe.example.yaml", data, env(nil), SectionKafka, SectionTopics, SectionSink)
	if err == nil || !strings.Contains(err.Error(), "environment variable DATABASE_URL is not set") {
		t.Errorf("sink without DATABASE_URL: %v", err)
	}
}

// The cluster pgbench --observe watches: nodes by name with passwords from the environment, and every problem of
// the section at its line.
func TestObserveSection(t *testing.T) {
	src := `producer:
  pgbench:
    observe:
      nodes:
        db2: host=db2 user=monitor password='${OBS_PW}'
        db1: postgres://monitor:${OBS_PW}@db1:5432/postgres
      pgpool: postgres://monitor@pgpool:9999/postgres
      interval: 500ms
      timeout: 300ms
`
	cfg, err := Parse("obs.yaml", []byte(src), env(map[string]string{"OBS_PW": "s3cret"}), SectionProducer)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Producer.Pgbench.Observe
	want := Observe{
		Nodes:  map[string]string{"db1": "postgres://monitor:s3cret@db1:5432/postgres", "db2": "host=db2 user=monitor password='s3cret'"},
		Pgpool: "postgres://monitor@pgpool:9999/postgres", Interval: 500 * time.Millisecond, Timeout: 300 * time.Millisecond,
	}
	if !reflect.DeepEqual(o, want) || !o.Configured() || !reflect.DeepEqual(o.NodeNames(), []string{"db1", "db2"}) {
		t.Errorf("observe = %+v (names %v), want %+v", o, o.NodeNames(), want)
	}
	if def := Default().Producer.Pgbench.Observe; def.Configured() || def.Interval != time.Second || def.Timeout != 800*time.Millisecond {
		t.Errorf("default observe = %+v, want nothing to observe, 1s, 800ms", def)
	}

	bad := `producer:
  pgbench:
    observe:
      nodes:
        "db 1": postgres://db1/postgres
        db2: ""
        db3: postgres://monitor:${UNSET_PW}@db3/postgres
      interval: 1s
      timeout: 2s
      extra: 1
`
	_, err = Parse("obs.yaml", []byte(bad), env(nil), SectionProducer)
	assertProblems(t, err, []string{
		`obs.yaml:5: producer.pgbench.observe.nodes.db 1: node name "db 1": use letters, digits`,
		`obs.yaml:6: producer.pgbench.observe.nodes.db2: missing the node's connection string`,
		`obs.yaml:7: environment variable UNSET_PW is not set`,
		`obs.yaml:9: producer.pgbench.observe.timeout: 2s must be shorter than interval (1s)`,
		`obs.yaml:10: producer.pgbench.observe.extra: unknown key (known keys here: nodes, pgpool, interval, timeout)`,
	})
	_, err = Parse("obs.yaml", []byte("producer:\n  pgbench:\n    observe:\n      interval: 0s\n      timeout: -1s\n"), env(nil), SectionProducer)
	assertProblems(t, err, []string{
		"obs.yaml:4: producer.pgbench.observe.interval: must be > 0",
		"obs.yaml:5: producer.pgbench.observe.timeout: must be > 0",
	})
}

// producer.spool_max_bytes takes bytes or a binary unit; a value that is not a size, or below the smallest
// spool, is a problem at its line like any other.
func TestSpoolMaxBytes(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  ByteSize
	}{
		{"1048576", 1 << 20},
		{"512MiB", 512 << 20},
		{"0.75GiB", 3 << 28},
		{`"1 GiB"`, 1 << 30},
		{"${SPOOL_MAX:-64MiB}", 64 << 20},
	} {
		cfg, err := Parse("s.yaml", []byte("producer:\n  spool_max_bytes: "+tc.value+"\n"), env(nil), SectionProducer)
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		if got := cfg.Producer.SpoolMaxBytes; got != tc.want {
			t.Errorf("%s = %d, want %d", tc.value, got, tc.want)
		}
	}
	cfg, err := Parse("s.yaml", nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.Producer.SpoolMaxBytes, SpoolMaxDefault(strconv.IntSize); got != want {
		t.Errorf("default = %s, want %s", got, want)
	}
	_, err = Parse("s.yaml", []byte("producer:\n  topic: benchpipe.records\n  spool_max_bytes: lots\n"), env(nil), SectionProducer)
	assertProblems(t, err, []string{`s.yaml:3: producer.spool_max_bytes: "lots" is not a size`})
	_, err = Parse("s.yaml", []byte("producer:\n  spool_max_bytes: 64KiB\n"), env(nil), SectionProducer)
	assertProblems(t, err, []string{"s.yaml:2: producer.spool_max_bytes: 64KiB is below the smallest spool, 1MiB"})
}

// On a 32-bit build the cap defaults to 1 GiB and may not pass it: bbolt's next map would be 2 GiB.
func TestSpoolMaxWordSize(t *testing.T) {
	if SpoolMaxDefault(32) != 1<<30 || SpoolMaxDefault(64) != 4<<30 {
		t.Errorf("defaults: 32-bit %s, 64-bit %s; want 1GiB and 4GiB", SpoolMaxDefault(32), SpoolMaxDefault(64))
	}
	var got []string
	add := func(path, format string, args ...any) { got = append(got, path+": "+fmt.Sprintf(format, args...)) }
	validateSpoolMax(3<<29, 32, add)
	validateSpoolMax(3<<29, 64, add)
	validateSpoolMax(1<<30, 32, add)
	want := []string{"producer.spool_max_bytes: 1536MiB is more than a 32-bit build can map (at most 1GiB)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems %q, want %q", got, want)
	}
	for _, s := range []ByteSize{1 << 30, 3 << 29, 1000, 4 << 10} {
		if back, err := ParseByteSize(s.String()); err != nil || back != s {
			t.Errorf("%d → %q → %d, %v", s, s.String(), back, err)
		}
	}
}
