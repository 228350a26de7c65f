package schema

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgtype"
)

// The tables of an observation record (schema/migrations/0005_observation.sql). Every row is keyed by the record,
// (run_id, seq), and its place in it (node, Pgpool-II node id, event index), or by the run and a setting's name,
// so a redelivered observation lands on the keys it already has.

// ClusterObservationColumns are the columns of cluster_observations in ObservationRows.Round order.
var ClusterObservationColumns = []string{"run_id", "seq", "sampled_at", "primaries", "pool_error"}

// ClusterNodeColumns are the columns of cluster_node_samples in ObservationRows.Nodes order.
var ClusterNodeColumns = []string{"run_id", "seq", "sampled_at", "node", "addr", "up", "error", "role", "timeline",
	"wal_lsn", "lag_bytes", "lag_seconds", "connections", "upstream", "probe_ms"}

// ClusterPoolColumns are the columns of cluster_pool_samples in ObservationRows.Pool order.
var ClusterPoolColumns = []string{"run_id", "seq", "sampled_at", "node_id", "node", "addr", "status", "pg_status",
	"role", "pg_role", "lb_weight", "select_cnt", "select_delta", "replication_delay"}

// ClusterEventColumns are the columns of cluster_events in ObservationRows.Events order.
var ClusterEventColumns = []string{"run_id", "seq", "idx", "event_time", "kind", "node", "from_state", "to_state",
	"nodes", "detail"}

// RunSettingColumns are the columns of run_settings in ObservationRows.Settings order.
var RunSettingColumns = []string{"run_id", "name", "setting", "unit", "source"}

// ObservationRows is what one observation record writes.
type ObservationRows struct {
	Round               []any // the observation itself: one row of cluster_observations
	Nodes, Pool, Events [][]any
	// Settings are the server's non-default settings, from the run's first facts (Server without Delta) only: the
	// settings the run started with. Empty for every other observation.
	Settings [][]any

	// TopologyChanged and SplitBrain are the run's flags this observation raises (an event that FlagsRun accepts;
	// a split_brain event). The sink ORs them into runs, so they are never cleared.
	TopologyChanged, SplitBrain bool

	// Start holds the runs columns of the first facts (StartFactsColumns order); End those of the last facts,
	// the ones carrying the counters' change (EndFactsColumns order). nil when the observation has no such facts.
	Start, End []any
}

// StartFactsColumns are the runs columns the run's first server facts set, in ObservationRows.Start order.
var StartFactsColumns = []string{"run_id", "server_version", "server_version_num", "database_size_bytes"}

// EndFactsColumns are the runs columns the run's last server facts set, in ObservationRows.End order. The
// version is only a fallback for a run whose first facts never arrived.
var EndFactsColumns = []string{"run_id", "server_version", "server_version_num", "server_delta"}

// ObservationRows returns the rows of an observation record. The record must have passed Validate (Decode
// does that).
func (r *Record) ObservationRows() ObservationRows {
	o := r.Observation
	out := ObservationRows{Round: []any{r.RunID, r.Seq, o.Time, int32(o.Primaries), nullString(o.PoolError)}}
	out.Nodes = make([][]any, len(o.Nodes))
	for i, n := range o.Nodes {
		row := []any{r.RunID, r.Seq, o.Time, n.Node, n.Addr, n.Up, nullString(n.Error)}
		if n.Up {
			row = append(row, n.Role, int32(n.Timeline), walPosition(n.WALLSN), ptrValue(n.LagBytes), ptrValue(n.LagSeconds),
				int32(n.Connections), nullString(n.Upstream), n.ProbeMs)
		} else {
			// A node that did not answer has no figures: NULLs, not zeros that would read as measured.
			row = append(row, nil, nil, nil, nil, nil, nil, nil, n.ProbeMs)
		}
		out.Nodes[i] = row
	}
	out.Pool = make([][]any, len(o.Pool))
	for i, p := range o.Pool {
		out.Pool[i] = []any{r.RunID, r.Seq, o.Time, int32(p.NodeID), nullString(p.Node), p.Addr, p.Status,
			nullString(p.PgStatus), nullString(p.Role), nullString(p.PgRole), p.LBWeight, p.SelectCount, p.SelectDelta,
			p.ReplicationDelay}
	}
	out.Events = make([][]any, len(o.Events))
	for i, e := range o.Events {
		var nodes any
		if len(e.Nodes) > 0 {
			nodes = e.Nodes
		}
		out.Events[i] = []any{r.RunID, r.Seq, int16(i), e.Time, e.Kind, nullString(e.Node), nullString(e.From),
			nullString(e.To), nodes, nullString(e.Detail)}
		if FlagsRun(e.Kind) {
			out.TopologyChanged = true
		}
		if e.Kind == EventSplitBrain {
			out.SplitBrain = true
		}
	}
	if s := o.Server; s != nil {
		if s.Delta == nil {
			out.Start = []any{r.RunID, s.Version, int32(s.VersionNum), s.DatabaseSizeBytes}
			out.Settings = make([][]any, len(s.Settings))
			for i, st := range s.Settings {
				out.Settings[i] = []any{r.RunID, st.Name, st.Setting, nullString(st.Unit), st.Source}
			}
		} else {
			delta, _ := json.Marshal(s.Delta) // maps of float64 and plain fields: cannot fail
			out.End = []any{r.RunID, s.Version, int32(s.VersionNum), json.RawMessage(delta)}
		}
	}
	return out
}

func ptrValue[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// LSN is a WAL position on its way into a pg_lsn column: the 64-bit position's bits (pg_lsn's binary form is the
// same 8 big-endian bytes as int8's). pgx has no pg_lsn type, so it encodes a value for that column by its Go type:
// binary COPY takes the underlying int64 (a string there would be written as raw text, which the server refuses
// as incorrect binary data), a statement's parameter is sent as text, which TextValue gives in PostgreSQL's
// notation.
type LSN int64

// ParseLSN reads PostgreSQL's notation of a WAL position, two hexadecimal halves: 0/3000148.
func ParseLSN(s string) (LSN, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not a WAL position (like 0/3000148)", s)
	}
	return LSN(h<<32 | l), nil
}

// String returns the position as PostgreSQL writes it.
func (l LSN) String() string { return fmt.Sprintf("%X/%X", uint64(l)>>32, uint64(l)&0xFFFFFFFF) }

// TextValue implements pgtype.TextValuer: the text form of a statement's parameter.
func (l LSN) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: l.String(), Valid: true}, nil
}

// walPosition is a node's WAL position as a column value: NULL when it has none.
func walPosition(s string) any {
	if s == "" {
		return nil
	}
	l, err := ParseLSN(s)
	if err != nil { // Validate refuses such a record; never reached for a decoded one
		return nil
	}
	return l
}
