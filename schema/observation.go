package schema

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"time"
)

// Cluster observation (issue 15). While a run measures a database cluster, an observer probes every node once a
// second and, through Pgpool-II when there is one, asks SHOW POOL_NODES; each round is one record:
//
//	type observation   what every node was (role, timeline, WAL position, lag, connections), what Pgpool saw
//	                   (status, role, reads per node since the last round) and the events of the round
//
// Observation records share the run's sequence with its samples (seq 1..n, in the order the producer made them).
// The first and last observation of a run carry the server's facts (version, non-default settings, database size,
// statistics counters); the last one also carries the counters' change over the run.
//
// Events are what makes a run suspect: a node changing role (failover, switchover), a node becoming
// unreachable, and two or more primaries at once (split brain). A run with any of these is flagged (see
// FlagsRun). An event's time is when the probe that saw it was made, at most one interval (1 s) after it happened.
//
// The payload carries its own format number, so it can grow without a new record version; Decode rejects a
// format it does not know, like a record version.

// TypeObservation is the record type of one round of cluster observation.
const TypeObservation = "observation"

// ObservationFormat is the observation payload format this package writes and reads.
const ObservationFormat = 1

// Node roles as pg_is_in_recovery() tells them.
const (
	RolePrimary = "primary"
	RoleStandby = "standby"
)

// Cluster event kinds.
const (
	EventRoleChange    = "role_change"     // a node's role differs from the last one seen: failover or switchover
	EventNodeDown      = "node_down"       // a node did not answer the probe (connection or query failed, or timed out)
	EventNodeUp        = "node_up"         // a node that was down answers again
	EventSplitBrain    = "split_brain"     // two or more nodes answer as primaries at the same time
	EventSplitBrainEnd = "split_brain_end" // fewer than two primaries answer again
	EventPoolStatus    = "pool_status"     // Pgpool-II changed a backend's status (e.g. up → down after a failed health check)
)

// Limits the tables (schema/migrations/0005_observation.sql) hold an observation to; Validate refuses what they
// would refuse, so a bad record goes to the dead letters with a reason instead of failing a database write.
const (
	maxNodeName          = 256  // cluster_node_samples.node: octet_length ≤ 256
	maxObservationEvents = 1000 // cluster_events.idx is a smallint; a round sees a handful
	maxInt4              = math.MaxInt32
)

// walLSN is pg_lsn's text form as PostgreSQL prints it.
var walLSN = regexp.MustCompile(`^[0-9A-F]{1,8}/[0-9A-F]{1,8}$`)

// eventKinds lists the known kinds, for validation.
var eventKinds = []string{EventRoleChange, EventNodeDown, EventNodeUp, EventSplitBrain, EventSplitBrainEnd, EventPoolStatus}

// FlagsRun reports whether an event of kind makes the run it happened in suspect: the cluster's topology changed
// or was broken while the load ran. A node coming back or a split brain ending does not (its start did).
func FlagsRun(kind string) bool {
	switch kind {
	case EventRoleChange, EventNodeDown, EventSplitBrain, EventPoolStatus:
		return true
	}
	return false
}

// Observation is one round of probes over a cluster.
type Observation struct {
	Format    int              `json:"format"`    // ObservationFormat
	Time      time.Time        `json:"time"`      // when the round started
	Nodes     []NodeSample     `json:"nodes"`     // one per configured node, in configuration order; never nil
	Primaries int              `json:"primaries"` // nodes that answered as primary in this round
	Pool      []PoolNodeSample `json:"pool,omitempty"`
	PoolError string           `json:"pool_error,omitempty"` // why SHOW POOL_NODES failed, when a Pgpool is observed
	Events    []ClusterEvent   `json:"events,omitempty"`
	Server    *ServerFacts     `json:"server,omitempty"` // in a run's first and last observation
}

// NodeSample is what one node answered. When Up is false only Node, Addr, Up, Error and ProbeMs are set.
//
// Lag, for a standby: LagBytes is the distance from its upstream primary's current WAL position (both read in the
// same round) to its replay position; LagSeconds is now() - pg_last_xact_replay_timestamp() on the standby, 0 when
// it has replayed everything it received. Both are nil on a primary and when not known (the upstream is not an
// observed node, nothing replayed yet).
type NodeSample struct {
	Node        string   `json:"node"` // the name it was configured under
	Addr        string   `json:"addr"` // host:port, never credentials
	Up          bool     `json:"up"`
	Error       string   `json:"error,omitempty"` // why it is down, credentials removed
	Role        string   `json:"role,omitempty"`  // primary or standby
	Timeline    int      `json:"timeline,omitempty"`
	WALLSN      string   `json:"wal_lsn,omitempty"` // primary: pg_current_wal_lsn(); standby: pg_last_wal_replay_lsn()
	LagBytes    *int64   `json:"lag_bytes,omitempty"`
	LagSeconds  *float64 `json:"lag_seconds,omitempty"`
	Connections int      `json:"connections"`        // client backends
	Upstream    string   `json:"upstream,omitempty"` // standby: host:port it streams from
	ProbeMs     float64  `json:"probe_ms"`           // how long the probe took
}

// PoolNodeSample is one row of Pgpool-II's SHOW POOL_NODES.
type PoolNodeSample struct {
	NodeID           int     `json:"node_id"`
	Node             string  `json:"node,omitempty"` // the observed node at the same host:port, if any
	Addr             string  `json:"addr"`
	Status           string  `json:"status"`    // Pgpool's view: up, down, waiting, unused, quarantine
	PgStatus         string  `json:"pg_status"` // what Pgpool found on the server itself
	Role             string  `json:"role"`      // Pgpool's view
	PgRole           string  `json:"pg_role"`
	LBWeight         float64 `json:"lb_weight"`
	SelectCount      int64   `json:"select_cnt"`   // SELECTs Pgpool sent to the node since it started
	SelectDelta      int64   `json:"select_delta"` // since the previous round: the read distribution
	ReplicationDelay int64   `json:"replication_delay,omitempty"`
}

// ClusterEvent is something that happened to the cluster.
type ClusterEvent struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Node   string    `json:"node,omitempty"`   // the node concerned; empty for split brain
	From   string    `json:"from,omitempty"`   // role or status before
	To     string    `json:"to,omitempty"`     // role or status after
	Nodes  []string  `json:"nodes,omitempty"`  // split brain: the primaries
	Detail string    `json:"detail,omitempty"` // e.g. the error of an unreachable node, credentials removed
}

// ServerFacts are the facts about the server a run measured, read at the run's start and end.
type ServerFacts struct {
	Node              string             `json:"node,omitempty"` // the node (or "target") they were read from
	Time              time.Time          `json:"time"`
	Version           string             `json:"version"`     // version()
	VersionNum        int                `json:"version_num"` // server_version_num
	Settings          []Setting          `json:"settings"`    // pg_settings whose source is not default, by name
	DatabaseSizeBytes int64              `json:"database_size_bytes"`
	Database          map[string]float64 `json:"database"`               // pg_stat_database counters of the run's database
	Bgwriter          map[string]float64 `json:"bgwriter"`               // pg_stat_bgwriter counters
	Checkpointer      map[string]float64 `json:"checkpointer,omitempty"` // pg_stat_checkpointer (PostgreSQL 17+)
	Delta             *ServerDelta       `json:"delta,omitempty"`        // at the end: the change since the start
}

// Setting is one row of pg_settings.
type Setting struct {
	Name    string `json:"name"`
	Setting string `json:"setting"`
	Unit    string `json:"unit,omitempty"`
	Source  string `json:"source"`
}

// ServerDelta is the change of the server's counters between two ServerFacts of a run.
type ServerDelta struct {
	Since             time.Time          `json:"since"`
	Seconds           float64            `json:"seconds"`
	DatabaseSizeBytes int64              `json:"database_size_bytes"`
	Database          map[string]float64 `json:"database"`
	Bgwriter          map[string]float64 `json:"bgwriter"`
	Checkpointer      map[string]float64 `json:"checkpointer,omitempty"`
}

// Validate checks the observation's invariants and returns the first problem found; field paths start at
// "observation.".
func (o *Observation) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: "observation." + field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	if o.Format != ObservationFormat {
		return &FieldError{Field: "observation.format", Reason: fmt.Sprintf("format %d is not supported (this build reads format %d)", o.Format, ObservationFormat), Err: ErrUnknownVersion}
	}
	if o.Time.IsZero() {
		return bad("time", "missing")
	}
	if o.Nodes == nil {
		return bad("nodes", "missing (an empty list when only Pgpool-II is observed)")
	}
	names := map[string]bool{}
	primaries := 0
	for i, n := range o.Nodes {
		f := fmt.Sprintf("nodes.%d.", i)
		if n.Node == "" {
			return bad(f+"node", "missing")
		}
		if len(n.Node) > maxNodeName {
			return bad(f+"node", "%d bytes long, at most %d", len(n.Node), maxNodeName)
		}
		if names[n.Node] {
			return bad(f+"node", "%q appears twice", n.Node)
		}
		names[n.Node] = true
		if RedactURL(n.Addr) != n.Addr {
			return bad(f+"addr", "contains credentials")
		}
		if !n.Up {
			if n.Role != "" || n.WALLSN != "" || n.LagBytes != nil || n.LagSeconds != nil {
				return bad(f+"up", "a node that is down has no figures")
			}
			continue
		}
		switch n.Role {
		case RolePrimary:
			primaries++
		case RoleStandby:
		default:
			return bad(f+"role", "%q is not primary or standby", n.Role)
		}
		if n.LagBytes != nil && *n.LagBytes < 0 {
			return bad(f+"lag_bytes", "negative (%d)", *n.LagBytes)
		}
		if l := n.LagSeconds; l != nil && (*l < 0 || math.IsNaN(*l) || math.IsInf(*l, 0)) {
			return bad(f+"lag_seconds", "must be a finite number ≥ 0, got %v", *l)
		}
		if n.Timeline < 0 || n.Connections < 0 || n.Timeline > maxInt4 || n.Connections > maxInt4 {
			return bad(f+"timeline", "timeline or connections negative or above %d", maxInt4)
		}
		if n.WALLSN != "" && !walLSN.MatchString(n.WALLSN) {
			return bad(f+"wal_lsn", "%q is not a WAL position (like 0/3000148)", n.WALLSN)
		}
	}
	if o.Primaries != primaries { // also keeps it within cluster_observations.primaries (integer)
		return bad("primaries", "%d, but %d nodes answered as primary", o.Primaries, primaries)
	}
	ids := map[int]bool{}
	for i, p := range o.Pool {
		if p.SelectCount < 0 || p.SelectDelta < 0 {
			return bad(fmt.Sprintf("pool.%d.select_cnt", i), "negative")
		}
		if p.NodeID < 0 || p.NodeID > maxInt4 {
			return bad(fmt.Sprintf("pool.%d.node_id", i), "%d is not a Pgpool-II node id", p.NodeID)
		}
		if ids[p.NodeID] {
			return bad(fmt.Sprintf("pool.%d.node_id", i), "%d appears twice", p.NodeID)
		}
		ids[p.NodeID] = true
	}
	if len(o.Events) > maxObservationEvents {
		return bad("events", "%d events in one round, at most %d", len(o.Events), maxObservationEvents)
	}
	for i, e := range o.Events {
		f := fmt.Sprintf("events.%d.", i)
		if e.Time.IsZero() {
			return bad(f+"time", "missing")
		}
		if !slices.Contains(eventKinds, e.Kind) {
			return bad(f+"kind", "%q is not one of %v", e.Kind, eventKinds)
		}
		if e.Kind == EventSplitBrain && len(e.Nodes) < 2 {
			return bad(f+"nodes", "a split brain names at least two primaries")
		}
	}
	if s := o.Server; s != nil {
		if s.Version == "" || s.Time.IsZero() {
			return bad("server", "version and time are required")
		}
		if s.DatabaseSizeBytes < 0 {
			return bad("server.database_size_bytes", "negative")
		}
		if s.VersionNum < 0 || s.VersionNum > maxInt4 {
			return bad("server.version_num", "%d is not a server_version_num", s.VersionNum)
		}
		settings := map[string]bool{}
		for i, st := range s.Settings {
			if st.Name == "" || settings[st.Name] {
				return bad(fmt.Sprintf("server.settings.%d.name", i), "%q is empty or appears twice", st.Name)
			}
			settings[st.Name] = true
		}
	}
	return nil
}

// Observation returns o with its free-text fields cleaned (node errors, event details, addresses, and the server's
// setting values: a standby's primary_conninfo holds the replication password), like Record. o's own slices and
// facts are not modified.
func (r *Redactor) Observation(o Observation) Observation {
	o.Nodes = slices.Clone(o.Nodes)
	for i := range o.Nodes {
		o.Nodes[i].Error = r.Text(o.Nodes[i].Error)
		o.Nodes[i].Addr = r.URL(o.Nodes[i].Addr)
	}
	o.PoolError = r.Text(o.PoolError)
	o.Events = slices.Clone(o.Events)
	for i := range o.Events {
		o.Events[i].Detail = r.Text(o.Events[i].Detail)
	}
	if o.Server != nil {
		s := *o.Server
		s.Settings = slices.Clone(s.Settings)
		for i := range s.Settings {
			s.Settings[i].Setting = r.Text(s.Settings[i].Setting)
		}
		o.Server = &s
	}
	return o
}

// TopologyChanged reports whether any of the observations holds an event that flags the run (FlagsRun).
func TopologyChanged(obs []Observation) bool {
	for _, o := range obs {
		for _, e := range o.Events {
			if FlagsRun(e.Kind) {
				return true
			}
		}
	}
	return false
}
