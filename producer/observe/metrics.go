package observe

import (
	"strconv"

	"github.com/benchpipe/benchpipe/schema"
	"github.com/prometheus/client_golang/prometheus"
)

// Metric names, as Prometheus rules and Grafana panels (deploy/monitoring) refer to them.
const (
	MetricNodeUp          = "benchpipe_cluster_node_up"
	MetricNodeIsReplica   = "benchpipe_cluster_node_is_replica"
	MetricNodeTimeline    = "benchpipe_cluster_node_timeline"
	MetricNodeWALBytes    = "benchpipe_cluster_node_wal_position_bytes"
	MetricNodeLagBytes    = "benchpipe_cluster_node_lag_bytes"
	MetricNodeLagSeconds  = "benchpipe_cluster_node_lag_seconds"
	MetricNodeConnections = "benchpipe_cluster_node_connections"
	MetricPrimaries       = "benchpipe_cluster_primaries"
	MetricEvents          = "benchpipe_cluster_events_total"
	MetricPoolNodeUp      = "benchpipe_cluster_pool_node_up"
	MetricPoolSelects     = "benchpipe_cluster_pool_node_selects_total"
	MetricRounds          = "benchpipe_cluster_rounds_total"
)

// Metrics exports observations for Prometheus: per node, whether it answered, whether it is a replica (the same
// meaning as postgres_exporter's is_replica), timeline, WAL position, lag and connections; the number of
// primaries; events by kind; and per Pgpool backend, whether Pgpool has it up and the SELECTs it sent there.
type Metrics struct {
	nodeUp, isReplica, timeline, walBytes, lagBytes, lagSeconds, connections *prometheus.GaugeVec
	primaries                                                                prometheus.Gauge
	events                                                                   *prometheus.CounterVec
	poolUp                                                                   *prometheus.GaugeVec
	poolSelects                                                              *prometheus.CounterVec
	rounds                                                                   prometheus.Counter
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	node := func(name, help string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, []string{"node"})
	}
	m := &Metrics{
		nodeUp:      node(MetricNodeUp, "1 when the node answered the last probe, else 0."),
		isReplica:   node(MetricNodeIsReplica, "1 when the node is in recovery (a standby), 0 when it is a primary."),
		timeline:    node(MetricNodeTimeline, "The node's timeline."),
		walBytes:    node(MetricNodeWALBytes, "WAL position as bytes since the start of WAL: current on a primary, replayed on a standby."),
		lagBytes:    node(MetricNodeLagBytes, "A standby's replay position behind its primary's current WAL position, bytes."),
		lagSeconds:  node(MetricNodeLagSeconds, "A standby's replay lag, seconds (0 when it has replayed all it received)."),
		connections: node(MetricNodeConnections, "Client backends on the node, the observer's own left out."),
		primaries:   prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricPrimaries, Help: "Nodes that answered as primary in the last round; 2 or more is a split brain."}),
		events:      prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricEvents, Help: "Cluster events seen, by kind."}, []string{"kind"}),
		poolUp:      prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricPoolNodeUp, Help: "1 when Pgpool-II reports the backend up (or waiting), else 0."}, []string{"node_id", "node"}),
		poolSelects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricPoolSelects, Help: "SELECTs Pgpool-II sent to the backend while observed."}, []string{"node_id", "node"}),
		rounds:      prometheus.NewCounter(prometheus.CounterOpts{Name: MetricRounds, Help: "Rounds of probes made."}),
	}
	reg.MustRegister(m.nodeUp, m.isReplica, m.timeline, m.walBytes, m.lagBytes, m.lagSeconds, m.connections,
		m.primaries, m.events, m.poolUp, m.poolSelects, m.rounds)
	for _, k := range []string{schema.EventRoleChange, schema.EventNodeDown, schema.EventNodeUp, schema.EventSplitBrain, schema.EventSplitBrainEnd, schema.EventPoolStatus} {
		m.events.WithLabelValues(k) // present at 0 from the start, so increase() sees the first event
	}
	return m
}

// Update sets the metrics from one round. The figures of a node that did not answer are removed rather than left
// at their last value, so that a panel shows a gap, not a standby that stopped lagging.
func (m *Metrics) Update(o schema.Observation) {
	m.rounds.Inc()
	for _, n := range o.Nodes {
		if !n.Up {
			m.nodeUp.WithLabelValues(n.Node).Set(0)
			for _, v := range []*prometheus.GaugeVec{m.isReplica, m.timeline, m.walBytes, m.lagBytes, m.lagSeconds, m.connections} {
				v.DeleteLabelValues(n.Node)
			}
			continue
		}
		m.nodeUp.WithLabelValues(n.Node).Set(1)
		m.isReplica.WithLabelValues(n.Node).Set(b2f(n.Role == schema.RoleStandby))
		m.timeline.WithLabelValues(n.Node).Set(float64(n.Timeline))
		if pos, err := parseLSN(n.WALLSN); err == nil {
			m.walBytes.WithLabelValues(n.Node).Set(float64(pos))
		}
		if n.LagBytes != nil {
			m.lagBytes.WithLabelValues(n.Node).Set(float64(*n.LagBytes))
		} else {
			m.lagBytes.DeleteLabelValues(n.Node)
		}
		if n.LagSeconds != nil {
			m.lagSeconds.WithLabelValues(n.Node).Set(*n.LagSeconds)
		} else {
			m.lagSeconds.DeleteLabelValues(n.Node)
		}
		m.connections.WithLabelValues(n.Node).Set(float64(n.Connections))
	}
	m.primaries.Set(float64(o.Primaries))
	for _, e := range o.Events {
		m.events.WithLabelValues(e.Kind).Inc()
	}
	if o.PoolError != "" {
		m.poolUp.Reset() // Pgpool did not answer: what it said last is no longer known
	}
	for _, p := range o.Pool {
		id := strconv.Itoa(p.NodeID)
		m.poolUp.WithLabelValues(id, p.Node).Set(b2f(p.Status == "up" || p.Status == "waiting"))
		m.poolSelects.WithLabelValues(id, p.Node).Add(float64(p.SelectDelta))
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
