package mqttload

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/benchpipe/benchpipe/producer/compare"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// DefaultBroker is the broker a run measures when neither a broker nor the embedded target is given.
const DefaultBroker = "tcp://localhost:1883"

// Spec is one MQTT run as a job: the broker and the load shape, everything `producer mqtt` takes on its command
// line except what belongs to one invocation (CLIOptions) and the run's name and tags, which travel beside it. It
// holds no secret: the password comes from $MQTT_PASSWORD or perftarget.password where the run executes. In
// JSON durations are Go duration strings ("60s"); DecodeSpec reads it back.
type Spec struct {
	Broker         string            `json:"broker,omitempty"` // "" with EmbeddedTarget
	EmbeddedTarget bool              `json:"embedded_target,omitempty"`
	Publishers     int               `json:"publishers"`
	Subscribers    int               `json:"subscribers"`
	QoS            uint              `json:"qos"`
	Size           int               `json:"size"`
	Rate           float64           `json:"rate"` // msg/s over all publishers; 0 = as fast as possible
	Inflight       int               `json:"inflight"`
	Duration       recorder.Duration `json:"duration"` // 0 with Count: until the count is sent
	Count          int64             `json:"count"`
	Warmup         recorder.Duration `json:"warmup"`
	Drain          recorder.Duration `json:"drain"`
	ConnectTimeout recorder.Duration `json:"connect_timeout"`
	Topic          string            `json:"topic"`
	SubscribeTopic string            `json:"subscribe_topic,omitempty"` // "" = Topic
	Retain         bool              `json:"retain,omitempty"`
	ClientIDPrefix string            `json:"client_id_prefix"`
	Username       string            `json:"username,omitempty"` // "" = perftarget.username
	CAFile         string            `json:"ca_file,omitempty"`  // paths on the machine that runs the job
	CertFile       string            `json:"cert_file,omitempty"`
	KeyFile        string            `json:"key_file,omitempty"`
	Insecure       bool              `json:"insecure,omitempty"`
	PerftoolCompat string            `json:"perftool_compat,omitempty"` // Kafka topic for a SINETStream perftool result
}

// CLIOptions are the flags of one `producer mqtt` invocation that are not part of the run's Spec.
type CLIOptions struct {
	ConfigPath    string
	SpoolDir      string
	SummaryJSON   string
	CompareWith   string
	MaxRegression compare.Thresholds
	Name          string
	Tags          map[string]string
}

// DefaultSpec is the Spec of `producer mqtt` without flags.
func DefaultSpec() Spec {
	s, _, err := ParseSpec(nil, io.Discard)
	if err != nil {
		panic(err) // the defaults are valid
	}
	return s
}

// ParseSpec reads a `producer mqtt` command line with the command's own parser: the run's Spec, and the
// invocation's options beside it. --help prints the usage to stdout and returns flag.ErrHelp; any other error is
// a one-line usage error (see internal/cli).
func ParseSpec(args []string, stdout io.Writer) (Spec, CLIOptions, error) {
	f, err := parseFlags(args, stdout)
	if err != nil {
		return Spec{}, CLIOptions{}, err
	}
	s := Spec{
		Broker: f.broker, EmbeddedTarget: f.embedded, Publishers: f.publishers, Subscribers: f.subscribers,
		QoS: f.qos, Size: f.size, Rate: f.rate, Inflight: f.inflight, Duration: recorder.Duration(f.duration),
		Count: f.count, Warmup: recorder.Duration(f.warmup), Drain: recorder.Duration(f.drain),
		ConnectTimeout: recorder.Duration(f.connectTimeout), Topic: f.topic, SubscribeTopic: f.subscribeTopic,
		Retain: f.retain, ClientIDPrefix: f.clientIDPrefix, Username: f.username, CAFile: f.caFile,
		CertFile: f.certFile, KeyFile: f.keyFile, Insecure: f.insecure, PerftoolCompat: f.perftoolTopic,
	}
	if s.EmbeddedTarget {
		s.Broker = ""
	}
	o := CLIOptions{ConfigPath: f.configPath, SpoolDir: f.spoolDir, SummaryJSON: f.summaryJSON,
		CompareWith: f.compareWith, MaxRegression: f.maxRegression, Name: f.name, Tags: f.tags}
	return s, o, nil
}

// DecodeSpec reads a job's spec: a JSON object whose fields default as the flags do, with unknown fields refused
// by name, validated as the command line is, and refused when it holds a password (ErrSecretInSpec). As on the
// command line, count without duration runs until the count is sent.
func DecodeSpec(b []byte) (Spec, error) {
	s := DefaultSpec()
	if err := recorder.DecodeStrict(b, &s); err != nil {
		return Spec{}, fmt.Errorf("mqtt %w", err)
	}
	given := recorder.SpecFields(b)
	if given["count"] && !given["duration"] {
		s.Duration = 0
	}
	if s.EmbeddedTarget && !given["broker"] {
		s.Broker = ""
	}
	if err := errors.Join(s.Validate(), s.secrets()); err != nil {
		return Spec{}, fmt.Errorf("mqtt spec: %w", err)
	}
	return s, nil
}

// Validate returns every problem with s at once: what the command line's parser and the load shape's checks
// refuse. It reads no file: the TLS files are read where the run executes. A password in the broker URL is
// allowed here (the command line takes one and masks it); DecodeSpec refuses it.
func (s Spec) Validate() error {
	errs := []error{s.flagErrors()}
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if !s.EmbeddedTarget && s.Broker != "" && (s.CAFile != "" || s.CertFile != "" || s.Insecure) && !secureScheme(s.Broker) {
		bad("TLS flags given but --broker %s is not an ssl:// (or tls://, mqtts://, wss://) URL", schema.RedactURL(s.Broker))
	}
	if errors.Join(errs...) == nil {
		probe := s.config()
		if s.EmbeddedTarget {
			probe.Broker = "tcp://127.0.0.1:1883"
		}
		if err := probe.withDefaults().validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// flagErrors is what the command line's parser refuses of flags that go together or exclude each other.
func (s Spec) flagErrors() error {
	var errs []error
	if s.EmbeddedTarget && s.Broker != "" {
		errs = append(errs, errors.New("--embedded-target and --broker exclude each other"))
	}
	if s.QoS > 2 {
		errs = append(errs, fmt.Errorf("--qos must be 0, 1 or 2, got %d", s.QoS))
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		errs = append(errs, errors.New("--cert-file and --key-file go together"))
	}
	return errors.Join(errs...)
}

// secrets refuses a password in the broker URL (or anywhere a connection string would hold one).
func (s Spec) secrets() error {
	if len(schema.ConnSecrets(s.Broker)) > 0 {
		return fmt.Errorf("%w: the broker URL %s holds a password; the agent's environment ($%s) or perftarget.password provides it",
			recorder.ErrSecretInSpec, schema.RedactURL(s.Broker), EnvPassword)
	}
	return nil
}

// config is the engine's Config for s, without password, TLS settings or the embedded target's address.
func (s Spec) config() Config {
	c := Config{
		Broker: s.Broker, Publishers: s.Publishers, Subscribers: s.Subscribers, QoS: byte(s.QoS), Size: s.Size,
		Rate: s.Rate, Inflight: s.Inflight, Duration: s.Duration.D(), Count: s.Count, Warmup: s.Warmup.D(),
		Drain: s.Drain.D(), ConnectTimeout: s.ConnectTimeout.D(), Topic: s.Topic, SubscribeTopic: s.SubscribeTopic,
		Retain: s.Retain, ClientIDPrefix: s.ClientIDPrefix, Username: s.Username,
	}
	if c.Broker == "" && !s.EmbeddedTarget {
		c.Broker = DefaultBroker
	}
	return c
}

func secureScheme(broker string) bool {
	u, _ := url.Parse(broker)
	return u != nil && map[string]bool{"ssl": true, "tls": true, "mqtts": true, "wss": true}[strings.ToLower(u.Scheme)]
}
