package config

import (
	"fmt"
	"math/bits"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// validate returns every problem in c. Paths name the offending key; Parse adds file and line.
func (c *Config) validate() Problems {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
	}

	for i, b := range c.Kafka.Brokers {
		if _, port, err := net.SplitHostPort(b); err != nil || port == "" {
			add(fmt.Sprintf("kafka.brokers[%d]", i), "%q is not host:port", b)
		}
	}
	switch strings.ToUpper(c.Kafka.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		add("kafka.sasl.mechanism", "%q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.Kafka.SASL.Mechanism)
	}
	if c.Kafka.SASL.Mechanism != "" && (c.Kafka.SASL.Username == "" || c.Kafka.SASL.Password == "") {
		add("kafka.sasl", "mechanism %s needs username and password", c.Kafka.SASL.Mechanism)
	}
	validateTLS(c.Kafka.TLS, "kafka.tls", add, false)

	seen := map[string]int{}
	for i, t := range c.Topics {
		p := fmt.Sprintf("topics[%d]", i)
		if t.Name == "" {
			add(p+".name", "missing")
		} else if j, dup := seen[t.Name]; dup {
			add(p+".name", "%q is already topics[%d]", t.Name, j)
		} else {
			seen[t.Name] = i
		}
		if t.Format != FormatBenchpipe && t.Format != FormatSINETStream && t.Format != FormatFleet {
			add(p+".format", "%q is not %s, %s or %s", t.Format, FormatBenchpipe, FormatSINETStream, FormatFleet)
		}
		if t.Partitions < 1 {
			add(p+".partitions", "must be ≥ 1, got %d", t.Partitions)
		}
		if t.ReplicationFactor < 1 {
			add(p+".replication_factor", "must be ≥ 1, got %d", t.ReplicationFactor)
		}
		if t.Retention < 0 {
			add(p+".retention", "must not be negative")
		}
		if _, set := t.Configs["retention.ms"]; set && t.Retention != 0 {
			add(p+".configs.retention.ms", "set either retention or configs.retention.ms, not both")
		}
	}

	s := c.Sink
	for i, name := range s.Topics {
		if _, ok := c.Topic(name); !ok {
			add(fmt.Sprintf("sink.topics[%d]", i), "%q is not in topics", name)
		}
		if name == s.DeadLetterTopic {
			add(fmt.Sprintf("sink.topics[%d]", i), "the sink must not consume its own dead-letter topic %q", name)
		}
	}
	if s.DatabaseURL != "" {
		if u, err := url.Parse(s.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			add("sink.database_url", "must be a postgres:// URL")
		}
	}
	if s.Group == "" {
		add("sink.group", "missing")
	}
	if s.BatchSize < 1 {
		add("sink.batch_size", "must be ≥ 1, got %d", s.BatchSize)
	}
	if s.FlushInterval <= 0 {
		add("sink.flush_interval", "must be > 0")
	}
	if s.MaxRecordBytes < 1024 {
		add("sink.max_record_bytes", "must be ≥ 1024, got %d", s.MaxRecordBytes)
	}
	if s.DeadLetterTopic == "" {
		add("sink.dead_letter_topic", "missing: bad records must go somewhere")
	}
	if s.HTTPAddr != "" {
		if _, _, err := net.SplitHostPort(s.HTTPAddr); err != nil {
			add("sink.http_addr", "%q is not [host]:port", s.HTTPAddr)
		}
	}
	if s.Timescale.CompressAfter < 0 || s.Timescale.RetainFor < 0 {
		add("sink.timescale", "durations must not be negative")
	}
	if s.Timescale.RetainFor > 0 && s.Timescale.CompressAfter > 0 && s.Timescale.RetainFor <= s.Timescale.CompressAfter {
		add("sink.timescale.retain_for", "must be longer than compress_after")
	}

	if c.Producer.Topic == "" {
		add("producer.topic", "missing")
	} else if len(c.Topics) > 0 {
		if t, ok := c.Topic(c.Producer.Topic); !ok {
			add("producer.topic", "%q is not in topics", c.Producer.Topic)
		} else if t.Format != FormatBenchpipe {
			add("producer.topic", "%q carries format %s; producers publish %s records", t.Name, t.Format, FormatBenchpipe)
		}
	}
	if c.Producer.SpoolDir == "" {
		add("producer.spool_dir", "missing")
	}
	validateSpoolMax(c.Producer.SpoolMaxBytes, bits.UintSize, add)
	validateObserve(c.Producer.Pgbench.Observe, "producer.pgbench.observe", add)

	pt := c.Perftarget
	for _, port := range []struct {
		key   string
		v     int
		allow int // a port value with a special meaning besides 1..65535
	}{{"perftarget.mqtt_port", pt.MQTTPort, 0}, {"perftarget.nats_port", pt.NATSPort, 0}, {"perftarget.monitor_port", pt.MonitorPort, -1}} {
		if (port.v < 1 || port.v > 65535) && port.v != port.allow {
			add(port.key, "%d is not a TCP port", port.v)
		}
	}
	if (pt.Username == "") != (pt.Password == "") {
		add("perftarget", "username and password go together")
	}
	validateTLS(pt.TLS, "perftarget.tls", add, true)

	validateFleet(c, add)

	if c.GraphQL.URL != "" {
		if u, err := url.Parse(c.GraphQL.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("graphql.url", "%q is not an http(s) URL", c.GraphQL.URL)
		}
	}
	if c.GraphQL.Timeout <= 0 {
		add("graphql.timeout", "must be > 0")
	}
	return ps
}

// validateFleet checks the fleet section. A fleet topic listed under topics must carry format fleet, or the sink
// would read heartbeats and jobs as run records and dead-letter them all.
func validateFleet(c *Config, add func(string, string, ...any)) {
	f := c.Fleet
	for _, t := range []struct{ key, name string }{{"fleet.jobs_topic", f.JobsTopic}, {"fleet.agents_topic", f.AgentsTopic}} {
		if strings.TrimSpace(t.name) == "" {
			add(t.key, "missing")
			continue
		}
		if topic, ok := c.Topic(t.name); ok && topic.Format != FormatFleet {
			add(t.key, "topic %q carries format %s; the fleet's topics carry %s", t.name, topic.Format, FormatFleet)
		}
		if t.name == c.Producer.Topic || t.name == c.Sink.DeadLetterTopic {
			add(t.key, "%q is the records or dead-letter topic; the fleet needs topics of its own", t.name)
		}
	}
	if f.JobsTopic != "" && f.JobsTopic == f.AgentsTopic {
		add("fleet.agents_topic", "%q is also jobs_topic: jobs and agents' reports need a topic each", f.AgentsTopic)
	}
	if f.Heartbeat <= 0 {
		add("fleet.heartbeat", "must be > 0")
	}
	if f.JobExpiry <= 0 {
		add("fleet.job_expiry", "must be > 0")
	}
}

// validateObserve checks the shape of the cluster to observe. Whether a connection string parses is for the
// driver to say when the observer starts (pgx reads it as libpq would, environment included); here only what needs
// no driver: names the observations can carry, strings that are there, an interval the probes fit in.
func validateObserve(o Observe, path string, add func(string, string, ...any)) {
	for _, name := range o.NodeNames() {
		p := path + ".nodes." + name
		if !isNodeName(name) {
			add(p, "node name %q: use letters, digits, '-', '_' and '.'", name)
		}
		if strings.TrimSpace(o.Nodes[name]) == "" {
			add(p, "missing the node's connection string")
		}
	}
	if o.Interval <= 0 {
		add(path+".interval", "must be > 0")
	}
	if o.Timeout <= 0 {
		add(path+".timeout", "must be > 0")
	} else if o.Interval > 0 && o.Timeout >= o.Interval {
		add(path+".timeout", "%s must be shorter than interval (%s): a round's probes end before the next round", o.Timeout, o.Interval)
	}
}

func isNodeName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// validateSpoolMax checks producer.spool_max_bytes for a build of wordSize bits.
func validateSpoolMax(v ByteSize, wordSize int, add func(string, string, ...any)) {
	if v < MinSpoolMaxBytes {
		add("producer.spool_max_bytes", "%s is below the smallest spool, %s", v, MinSpoolMaxBytes)
	}
	if limit := SpoolMaxLimit(wordSize); limit > 0 && v > limit {
		add("producer.spool_max_bytes", "%s is more than a %d-bit build can map (at most %s)", v, wordSize, limit)
	}
}

func validateTLS(t TLS, path string, add func(string, string, ...any), server bool) {
	if !t.Enabled {
		return
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		add(path, "cert_file and key_file go together")
	}
	if server && t.CertFile == "" {
		add(path, "a TLS server needs cert_file and key_file")
	}
}

// PortString formats a port for a listen address.
func PortString(host string, port int) string { return net.JoinHostPort(host, strconv.Itoa(port)) }
