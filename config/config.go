// Package config is benchpipe's one YAML file: Kafka connection, topics, the sink, the producers, the perftarget
// and the GraphQL endpoint. Load reads a file, rejects unknown keys and values of the wrong type anywhere in it,
// expands ${VAR} references from the environment and validates the sections the calling program reads (a producer
// is not stopped by the sink's unset ${DATABASE_URL}), reporting all problems at once with file:line.
//
// Defaults live in Default and nowhere else; a key left out of the file keeps its default.
package config

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Record formats a topic can carry.
const (
	FormatBenchpipe   = "benchpipe"            // schema.Record JSON (run_started, sample, observation, run_finished)
	FormatSINETStream = "sinetstream-perftool" // SINETStream v2/v3 framed (or plain JSON) perftool result lines
	FormatFleet       = "fleet"                // schema.FleetMessage JSON (job, job_stop, heartbeat, job_event)
)

// Config is the whole file.
type Config struct {
	Kafka      Kafka      `yaml:"kafka"`
	Topics     []Topic    `yaml:"topics"`
	Sink       Sink       `yaml:"sink"`
	Producer   Producer   `yaml:"producer"`
	Perftarget Perftarget `yaml:"perftarget"`
	GraphQL    GraphQL    `yaml:"graphql"`
	Fleet      Fleet      `yaml:"fleet"`

	// File is the path the configuration was loaded from; empty for Default().
	File string `yaml:"-"`
}

// Kafka is how every benchpipe program reaches the brokers.
type Kafka struct {
	Brokers  []string `yaml:"brokers"`   // host:port seeds; empty = Kafka not configured (producers only print)
	ClientID string   `yaml:"client_id"` // default "benchpipe"
	TLS      TLS      `yaml:"tls"`
	SASL     SASL     `yaml:"sasl"`
}

// TLS configures a TLS client or server. Files are PEM.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures Kafka authentication. Mechanism is PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512; empty = none.
type SASL struct {
	Mechanism string `yaml:"mechanism"`
	Username  string `yaml:"username"`
	Password  string `yaml:"password"` // use ${KAFKA_PASSWORD}; never a literal
}

// Topic is a Kafka topic benchpipe uses. `sink topics apply` creates or alters it to match.
type Topic struct {
	Name              string            `yaml:"name"`
	Format            string            `yaml:"format"`             // benchpipe | sinetstream-perftool | fleet
	Partitions        int32             `yaml:"partitions"`         // default 6
	ReplicationFactor int16             `yaml:"replication_factor"` // default 1 (single broker); 3 in production
	Retention         time.Duration     `yaml:"retention"`          // retention.ms; 0 = the broker default
	Configs           map[string]string `yaml:"configs"`            // any other topic config, e.g. cleanup.policy
}

// Sink configures the Kafka → PostgreSQL service.
type Sink struct {
	DatabaseURL     string        `yaml:"database_url"`      // use ${DATABASE_URL}
	Group           string        `yaml:"group"`             // consumer group, default "benchpipe-sink"
	Topics          []string      `yaml:"topics"`            // topics to consume; default all non-dead-letter topics
	BatchSize       int           `yaml:"batch_size"`        // rows per database transaction, default 10000
	FlushInterval   time.Duration `yaml:"flush_interval"`    // the longest a partial batch waits for a write in flight, default 200ms
	DeadLetterTopic string        `yaml:"dead_letter_topic"` // default "benchpipe.dead-letter"
	MaxRecordBytes  int           `yaml:"max_record_bytes"`  // larger records are dead-lettered, default 1 MiB
	HTTPAddr        string        `yaml:"http_addr"`         // /metrics, /healthz, /readyz; default ":8080"
	Timescale       Timescale     `yaml:"timescale"`
}

// Timescale holds data-lifecycle policies applied when the database has TimescaleDB.
type Timescale struct {
	CompressAfter time.Duration `yaml:"compress_after"` // 0 = no compression; e.g. 168h
	RetainFor     time.Duration `yaml:"retain_for"`     // 0 = keep forever; e.g. 8760h
}

// Producer configures the load generators on edge devices.
type Producer struct {
	Topic    string `yaml:"topic"`     // where run and sample records go, default "benchpipe.records"
	SpoolDir string `yaml:"spool_dir"` // durable queue of unacknowledged records
	// SpoolMaxBytes caps spool.db on disk: runs fail loudly before it is reached, records already spooled are
	// kept. Default 4GiB, 1GiB on 32-bit builds (SpoolMaxDefault).
	SpoolMaxBytes ByteSize          `yaml:"spool_max_bytes"`
	Device        string            `yaml:"device"` // a name for this device; default the hostname
	Tags          map[string]string `yaml:"tags"`   // added to every run's tags
	Pgbench       PgbenchTool       `yaml:"pgbench"`
}

// PgbenchTool locates the pgbench binary and says which cluster `producer pgbench --observe` watches.
type PgbenchTool struct {
	Path    string  `yaml:"path"` // default "pgbench" from PATH
	Observe Observe `yaml:"observe"`
}

// Observe is the PostgreSQL cluster `producer pgbench --observe` watches while the load runs: each node by a name
// of the user's choosing and a libpq connection string (URI or key=value), and/or Pgpool-II's SQL port for SHOW
// POOL_NODES. Passwords come from ${VAR} references in the strings, PGPASSWORD or ~/.pgpass, never literals.
// Nodes are observed, and appear in every observation, in the order of their names.
type Observe struct {
	Nodes    map[string]string `yaml:"nodes"`    // NAME: connection string; the role needs pg_monitor
	Pgpool   string            `yaml:"pgpool"`   // Pgpool-II's SQL port as a connection string; "" = none
	Interval time.Duration     `yaml:"interval"` // between rounds of probes, default 1s
	Timeout  time.Duration     `yaml:"timeout"`  // a node that has not answered within it is down; default 800ms, below interval
}

// Configured reports whether a cluster to observe is given.
func (o Observe) Configured() bool { return len(o.Nodes) > 0 || o.Pgpool != "" }

// NodeNames returns the names of the observed nodes, sorted: the order they are observed in.
func (o Observe) NodeNames() []string {
	names := make([]string, 0, len(o.Nodes))
	for n := range o.Nodes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Perftarget configures the embedded NATS MQTT target.
type Perftarget struct {
	ServerName  string `yaml:"server_name"`  // default "benchpipe-perftarget"
	Host        string `yaml:"host"`         // listen address, default "0.0.0.0"
	MQTTPort    int    `yaml:"mqtt_port"`    // default 1883
	NATSPort    int    `yaml:"nats_port"`    // default 4222
	MonitorPort int    `yaml:"monitor_port"` // NATS HTTP monitoring (/varz, /healthz); default 8222, -1 = off
	MetricsAddr string `yaml:"metrics_addr"` // Prometheus /metrics; default ":7777", "" = off
	StoreDir    string `yaml:"store_dir"`    // JetStream store; empty = a temporary directory removed at exit
	Username    string `yaml:"username"`     // MQTT/NATS user; empty = no authentication
	Password    string `yaml:"password"`     // use ${PERFTARGET_PASSWORD}
	TLS         TLS    `yaml:"tls"`          // server certificate for MQTT (cert_file, key_file)
}

// GraphQL is the Hasura endpoint `producer compare` reads from (anonymous role).
type GraphQL struct {
	URL     string            `yaml:"url"`     // e.g. http://server/v1/graphql
	Headers map[string]string `yaml:"headers"` // extra request headers
	Timeout time.Duration     `yaml:"timeout"` // per request, default 10s
}

// Fleet configures agents (`producer agent`), the jobs operators launch on them and the operator API (`sink api`)
// that launches and stops them.
type Fleet struct {
	JobsTopic   string        `yaml:"jobs_topic"`   // job and job_stop messages, default "benchpipe.jobs"
	AgentsTopic string        `yaml:"agents_topic"` // heartbeat and job_event messages, default "benchpipe.agents"
	Heartbeat   time.Duration `yaml:"heartbeat"`    // between an agent's heartbeats, default 5s; offline after 3 missed
	JobExpiry   time.Duration `yaml:"job_expiry"`   // a job not accepted within it expires, default 10m
	StateDir    string        `yaml:"state_dir"`    // the agent's job memory (agent.db); default producer.spool_dir
	APIAddr     string        `yaml:"api_addr"`     // `sink api`: Hasura's auth webhook and action handler, default ":8081"
}

// Default returns the configuration used for every key a file leaves out.
func Default() Config {
	return Config{
		Kafka: Kafka{ClientID: "benchpipe"},
		Topics: []Topic{
			{Name: "benchpipe.records", Format: FormatBenchpipe, Partitions: 6, ReplicationFactor: 1, Retention: 7 * 24 * time.Hour},
			// The fleet's topics (fleet.jobs_topic, fleet.agents_topic): a few messages per agent and job, keyed by
			// agent, so few partitions; a week keeps a job for an agent that comes back within it.
			{Name: "benchpipe.jobs", Format: FormatFleet, Partitions: 3, ReplicationFactor: 1, Retention: 7 * 24 * time.Hour},
			{Name: "benchpipe.agents", Format: FormatFleet, Partitions: 3, ReplicationFactor: 1, Retention: 7 * 24 * time.Hour},
		},
		Fleet: Fleet{
			JobsTopic: "benchpipe.jobs", AgentsTopic: "benchpipe.agents", Heartbeat: 5 * time.Second,
			JobExpiry: 10 * time.Minute, APIAddr: ":8081",
		},
		Sink: Sink{
			Group:           "benchpipe-sink",
			BatchSize:       10000,
			FlushInterval:   200 * time.Millisecond,
			DeadLetterTopic: "benchpipe.dead-letter",
			MaxRecordBytes:  1 << 20,
			HTTPAddr:        ":8080",
		},
		Producer: Producer{
			Topic:         "benchpipe.records",
			SpoolDir:      defaultSpoolDir(),
			SpoolMaxBytes: SpoolMaxDefault(bits.UintSize),
			Pgbench: PgbenchTool{
				Path:    "pgbench",
				Observe: Observe{Interval: time.Second, Timeout: 800 * time.Millisecond},
			},
		},
		Perftarget: Perftarget{
			ServerName:  "benchpipe-perftarget",
			Host:        "0.0.0.0",
			MQTTPort:    1883,
			NATSPort:    4222,
			MonitorPort: 8222,
			MetricsAddr: ":7777",
		},
		GraphQL: GraphQL{Timeout: 10 * time.Second},
	}
}

// topicDefaults fills the per-topic defaults a file's topic list leaves out.
func topicDefaults(t *Topic) {
	if t.Format == "" {
		t.Format = FormatBenchpipe
	}
	if t.Partitions == 0 {
		t.Partitions = 6
	}
	if t.ReplicationFactor == 0 {
		t.ReplicationFactor = 1
	}
}

// SinkTopics returns the topics the sink consumes: sink.topics, or every configured topic.
func (c *Config) SinkTopics() []Topic {
	var out []Topic
	for _, t := range c.Topics {
		if len(c.Sink.Topics) == 0 {
			out = append(out, t)
			continue
		}
		for _, name := range c.Sink.Topics {
			if name == t.Name {
				out = append(out, t)
			}
		}
	}
	return out
}

// Topic returns the configured topic with that name.
func (c *Config) Topic(name string) (Topic, bool) {
	for _, t := range c.Topics {
		if t.Name == name {
			return t, true
		}
	}
	return Topic{}, false
}

// Spool size caps. A 32-bit process maps the spool (bbolt) into an address space of 2-3 GiB: bbolt doubles its
// map up to 1 GiB and its next step would be 2 GiB - 1, a contiguous mapping a 32-bit process rarely finds free.
// So on 32-bit builds (linux/arm for the older boards) the cap defaults to, and may not exceed, 1 GiB. On 64-bit
// builds the default is 4 GiB: a week-long Kafka outage of a busy run fits, and a small SD card is not filled.
const (
	MinSpoolMaxBytes   ByteSize = 1 << 20 // below this, compaction and the delivery reserve leave no room for records
	MaxSpoolMaxBytes32 ByteSize = 1 << 30
	spoolMaxDefault64  ByteSize = 4 << 30
)

// SpoolMaxDefault is producer.spool_max_bytes' default for a build whose words are wordSize bits (bits.UintSize).
func SpoolMaxDefault(wordSize int) ByteSize {
	if wordSize == 32 {
		return MaxSpoolMaxBytes32
	}
	return spoolMaxDefault64
}

// SpoolMaxLimit is the largest producer.spool_max_bytes a build of wordSize bits accepts; 0 means no limit.
func SpoolMaxLimit(wordSize int) ByteSize {
	if wordSize == 32 {
		return MaxSpoolMaxBytes32
	}
	return 0
}

// ByteSize is a size in bytes, written in the file as a number of bytes or with a binary unit: 512MiB, 1GiB,
// 1.5GiB, 64KiB (B, KiB, MiB, GiB, TiB; no space needed).
type ByteSize int64

var byteUnits = []struct {
	suffix string
	size   ByteSize
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseByteSize reads a ByteSize as the file writes it.
func ParseByteSize(s string) (ByteSize, error) {
	t := strings.TrimSpace(s)
	unit := ByteSize(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, unit = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.size
			break
		}
	}
	if n, err := strconv.ParseInt(t, 10, 64); err == nil && n >= 0 && n <= int64(1<<62)/int64(unit) {
		return ByteSize(n) * unit, nil
	}
	if f, err := strconv.ParseFloat(t, 64); err == nil && unit > 1 && f >= 0 && f*float64(unit) < 1<<62 {
		return ByteSize(f * float64(unit)), nil
	}
	return 0, fmt.Errorf("%q is not a size (bytes, or a number with KiB, MiB, GiB or TiB, e.g. 512MiB)", s)
}

// UnmarshalYAML reads a number of bytes or a size with a unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		if err == nil {
			err = fmt.Errorf("expected a size, e.g. 512MiB")
		}
		// A TypeError, so that yaml.v3 goes on with the rest of the file and Parse reports it with its line.
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %v", n.Line, err)}}
	}
	*b = v
	return nil
}

// String writes b with the largest binary unit that keeps it exact, e.g. 4GiB, 1536MiB, 1000B.
func (b ByteSize) String() string {
	for _, u := range byteUnits {
		if b >= u.size && b%u.size == 0 {
			return strconv.FormatInt(int64(b/u.size), 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10) + "B"
}
