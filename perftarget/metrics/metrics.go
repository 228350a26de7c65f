// Package metrics serves a perftarget's counters to Prometheus (/metrics) and its health to load balancers and
// orchestrators (/healthz). The collector reads target.Stats at every scrape, so nothing is counted twice and
// nothing runs between scrapes.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/benchpipe/benchpipe/perftarget/target"
)

// Target is what the metrics read; *target.Server is one.
type Target interface {
	Stats() target.Stats
	Healthz() error
}

// Collector is a prometheus.Collector over a Target's Stats.
type Collector struct {
	t Target

	connections, mqttConnections, connectionsTotal       *prometheus.Desc
	msgsIn, bytesIn, msgsOut, bytesOut                   *prometheus.Desc
	subscriptions, slowConsumers, jsMemory, jsStoreBytes *prometheus.Desc
}

var _ prometheus.Collector = (*Collector)(nil)

// NewCollector returns a collector whose metrics are named perftarget_*.
func NewCollector(t Target) *Collector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("perftarget", "", name), help, nil, nil)
	}
	return &Collector{
		t:                t,
		connections:      d("connections", "Client connections open now, MQTT and NATS."),
		mqttConnections:  d("mqtt_connections", "MQTT client connections open now (one per connected session)."),
		connectionsTotal: d("connections_total", "Client connections accepted since start."),
		msgsIn:           d("messages_received_total", "Messages received from clients; an MQTT PUBLISH counts once whatever its QoS."),
		bytesIn:          d("received_bytes_total", "Bytes received from clients in messages (payload, subject and headers)."),
		msgsOut:          d("messages_sent_total", "Messages delivered to NATS-protocol clients. nats-server does not count deliveries to MQTT subscribers."),
		bytesOut:         d("sent_bytes_total", "Bytes delivered to NATS-protocol clients. nats-server does not count deliveries to MQTT subscribers."),
		subscriptions:    d("subscriptions", "NATS subscriptions; an MQTT filter ending in # counts twice."),
		slowConsumers:    d("slow_consumers_total", "Clients disconnected since start for not reading fast enough."),
		jsMemory:         d("jetstream_memory_bytes", "Bytes JetStream holds in memory."),
		jsStoreBytes:     d("jetstream_store_bytes", "Bytes JetStream holds on disk: MQTT sessions, retained and unacknowledged QoS 1/2 messages."),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.connections, c.mqttConnections, c.connectionsTotal, c.msgsIn, c.bytesIn,
		c.msgsOut, c.bytesOut, c.subscriptions, c.slowConsumers, c.jsMemory, c.jsStoreBytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector; it reads the Stats once per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.t.Stats()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	counter := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	gauge(c.connections, float64(s.Connections))
	gauge(c.mqttConnections, float64(s.MQTTConnections))
	counter(c.connectionsTotal, float64(s.TotalConnections))
	counter(c.msgsIn, float64(s.InMsgs))
	counter(c.bytesIn, float64(s.InBytes))
	counter(c.msgsOut, float64(s.OutMsgs))
	counter(c.bytesOut, float64(s.OutBytes))
	gauge(c.subscriptions, float64(s.Subscriptions))
	counter(c.slowConsumers, float64(s.SlowConsumers))
	gauge(c.jsMemory, float64(s.JetStreamMemory))
	gauge(c.jsStoreBytes, float64(s.JetStreamStore))
}

// Handler serves /metrics (the target's collector plus Go runtime and process metrics, which show what the
// broker costs on a small device) and /healthz (200 "ok", or 503 with the reason).
func Handler(t Target) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(t), collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		if err := t.Healthz(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
