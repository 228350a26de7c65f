package mqttload

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// Config is one benchmark's broker connection and load shape. The zero value of an optional field takes the
// default given in its comment (see the flags of Run for the same settings on the command line).
type Config struct {
	Broker   string      // broker URL: tcp://host:1883, ssl://host:8883 (also tls://, mqtts://, ws://, wss://)
	Username string      // MQTT user; "" = anonymous
	Password string      // with Username
	TLS      *tls.Config // for ssl://, tls://, mqtts:// and wss:// brokers; nil = system roots, default checks

	Publishers  int     // publishing connections; default 1
	Subscribers int     // subscribing connections; 0 = publish only (nothing received, no end-to-end latency)
	QoS         byte    // 0, 1 or 2, for publishing and subscribing
	Size        int     // payload bytes including the HeaderSize-byte header; default 100
	Rate        float64 // messages per second over all publishers on an absolute schedule; 0 = as fast as possible
	Inflight    int     // per publisher: publishes not yet confirmed (written for QoS 0, PUBACK/PUBCOMP for 1/2); default 100

	Duration time.Duration // how long to publish after the warm-up; default 10s unless Count is set
	Count    int64         // messages to publish in all (warm-up included); 0 = no limit (Duration decides)
	Warmup   time.Duration // published and received like the rest, but excluded from the summary

	Topic          string // publish topic; {id} becomes the publisher's index; default "benchpipe/bench/{id}"
	SubscribeTopic string // subscription filter; {id} becomes the subscriber's index; default Topic
	Retain         bool   // publish with the retain flag (and clear the retained messages at the end)
	ClientIDPrefix string // client ids are <prefix>-<run tag>-p<i> and -s<i>; default "benchpipe"

	Interval       time.Duration // sample interval; default 1s
	Drain          time.Duration // after the last publish, wait at most this long for deliveries; default 5s
	ConnectTimeout time.Duration // per connection; default 10s
	RunTag         uint64        // marks this run's messages; 0 = random. Run sets it from the run id.

	// lateJoin delays every subscription until this long after publishing started. Only tests set it: it is
	// how a subscriber that joins late is made, to check that the messages it missed count as lost.
	lateJoin time.Duration
}

// Defaults.
const (
	DefaultTopic          = "benchpipe/bench/{id}"
	DefaultSize           = 100
	DefaultInflight       = 100
	DefaultDuration       = 10 * time.Second
	DefaultClientIDPrefix = "benchpipe"
	DefaultDrain          = 5 * time.Second
	DefaultConnectTimeout = 10 * time.Second
)

// withDefaults returns c with every unset optional field at its default.
func (c Config) withDefaults() Config {
	if c.Publishers == 0 {
		c.Publishers = 1
	}
	if c.Size == 0 {
		c.Size = DefaultSize
	}
	if c.Inflight == 0 {
		c.Inflight = DefaultInflight
	}
	if c.Duration == 0 && c.Count == 0 {
		c.Duration = DefaultDuration
	}
	if c.Topic == "" {
		c.Topic = DefaultTopic
	}
	if c.SubscribeTopic == "" {
		c.SubscribeTopic = c.Topic
	}
	if c.ClientIDPrefix == "" {
		c.ClientIDPrefix = DefaultClientIDPrefix
	}
	if c.Interval == 0 {
		c.Interval = time.Second
	}
	if c.Drain == 0 {
		c.Drain = DefaultDrain
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}

// validate returns every problem with c (after withDefaults) at once.
func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Broker == "" {
		bad("no broker: give a URL such as tcp://localhost:1883")
	} else if u, err := url.Parse(c.Broker); err != nil || u.Host == "" {
		bad("broker %q is not a URL such as tcp://localhost:1883", schema.RedactURL(c.Broker))
	} else {
		switch strings.ToLower(u.Scheme) {
		case "tcp", "mqtt", "ssl", "tls", "mqtts", "ws", "wss":
		default:
			bad("broker %q: scheme %q is not tcp, ssl, tls, mqtts, ws or wss", c.Broker, u.Scheme)
		}
	}
	if c.Publishers < 1 {
		bad("publishers must be ≥ 1, got %d", c.Publishers)
	}
	if c.Subscribers < 0 {
		bad("subscribers must be ≥ 0, got %d", c.Subscribers)
	}
	if c.QoS > 2 {
		bad("qos must be 0, 1 or 2, got %d", c.QoS)
	}
	if c.Size < HeaderSize {
		bad("size must be ≥ %d bytes (the header carrying publisher, sequence number and send times), got %d", HeaderSize, c.Size)
	}
	if c.Size > 256<<20 {
		bad("size must be ≤ 256 MiB (the MQTT limit), got %d", c.Size)
	}
	if c.Rate < 0 {
		bad("rate must be ≥ 0 (0 = as fast as possible), got %v", c.Rate)
	}
	if c.Inflight < 1 || c.Inflight > 65535 {
		bad("inflight must be between 1 and 65535 (MQTT packet ids per connection), got %d", c.Inflight)
	}
	if c.Duration < 0 || c.Warmup < 0 || c.Count < 0 || c.Drain < 0 {
		bad("duration, warm-up, count and drain must not be negative")
	}
	if c.Interval < 10*time.Millisecond {
		bad("interval must be ≥ 10ms, got %v", c.Interval)
	}
	for i := 0; i < max(c.Publishers, 1); i++ {
		if err := checkTopicName(expandTopic(c.Topic, i)); err != nil {
			bad("topic: %v", err)
			break
		}
	}
	if err := checkTopicFilter(expandTopic(c.SubscribeTopic, 0)); err != nil {
		bad("subscribe topic: %v", err)
	}
	return errors.Join(errs...)
}

// matchedPublishers returns, for subscriber j, the publishers whose topic its filter matches.
func (c Config) matchedPublishers(j int) []int {
	filter := expandTopic(c.SubscribeTopic, j)
	var out []int
	for i := 0; i < c.Publishers; i++ {
		if topicMatches(filter, expandTopic(c.Topic, i)) {
			out = append(out, i)
		}
	}
	return out
}

// Warnings returns what is legal but probably not meant: subscribers that hear no publisher, publishers nobody
// hears.
func (c Config) Warnings() []string {
	c = c.withDefaults()
	var out []string
	heard := make([]bool, c.Publishers)
	deaf := 0
	for j := 0; j < c.Subscribers; j++ {
		m := c.matchedPublishers(j)
		if len(m) == 0 {
			deaf++
		}
		for _, i := range m {
			heard[i] = true
		}
	}
	if deaf > 0 {
		out = append(out, fmt.Sprintf("%d of %d subscribers match no publisher's topic (topic %q, subscribe topic %q)", deaf, c.Subscribers, c.Topic, c.SubscribeTopic))
	}
	unheard := 0
	for _, h := range heard {
		if !h {
			unheard++
		}
	}
	if unheard > 0 && c.Subscribers > 0 {
		out = append(out, fmt.Sprintf("%d of %d publishers publish to topics no subscriber matches; their messages are sent but not received", unheard, c.Publishers))
	}
	return out
}
