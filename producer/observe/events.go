package observe

import (
	"slices"
	"strconv"

	"github.com/benchpipe/benchpipe/schema"
)

// detector turns a sequence of rounds into events by comparing each round with what it knew before. It does no
// I/O, so every transition can be tested with hand-made rounds.
type detector struct {
	role       map[string]string // last role each node answered with; kept while it is down
	up         map[string]bool   // whether it answered last round
	splitBrain bool
	poolStatus map[int]string // Pgpool's status per backend last round
}

func newDetector() *detector {
	return &detector{role: map[string]string{}, up: map[string]bool{}, poolStatus: map[int]string{}}
}

// step appends to o.Events what changed since the previous round, each at o.Time (when the round's probes were
// made), and sets o.Primaries.
//
//   - node_down: a node that answered before (or in its first round) does not answer; Detail is why.
//   - node_up: a node that was down answers again.
//   - role_change: a node answers with another role than the last one it answered with, also when it was down in
//     between (a node that comes back promoted, or rejoins as a standby, changed role).
//   - split_brain: two or more nodes answer as primary in the same round, and fewer did in the previous one;
//     split_brain_end when that is over.
//   - pool_status: Pgpool reports another status for a backend than in the previous round.
func (d *detector) step(o *schema.Observation) {
	at := o.Time
	var primaries []string
	for _, n := range o.Nodes {
		wasUp, seen := d.up[n.Node]
		switch {
		case !n.Up && (!seen || wasUp):
			o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventNodeDown, Node: n.Node, Detail: n.Error})
		case n.Up && seen && !wasUp:
			o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventNodeUp, Node: n.Node, To: n.Role})
		}
		d.up[n.Node] = n.Up
		if !n.Up {
			continue
		}
		if prev := d.role[n.Node]; prev != "" && prev != n.Role {
			o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventRoleChange, Node: n.Node, From: prev, To: n.Role})
		}
		d.role[n.Node] = n.Role
		if n.Role == schema.RolePrimary {
			primaries = append(primaries, n.Node)
		}
	}
	o.Primaries = len(primaries)
	switch {
	case len(primaries) >= 2 && !d.splitBrain:
		slices.Sort(primaries)
		o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventSplitBrain, Nodes: primaries})
		d.splitBrain = true
	case len(primaries) < 2 && d.splitBrain:
		o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventSplitBrainEnd, Nodes: primaries})
		d.splitBrain = false
	}
	for _, p := range o.Pool {
		if prev, ok := d.poolStatus[p.NodeID]; ok && prev != p.Status {
			name := p.Node
			if name == "" {
				name = "pgpool node " + strconv.Itoa(p.NodeID)
			}
			o.Events = append(o.Events, schema.ClusterEvent{Time: at, Kind: schema.EventPoolStatus, Node: name, From: prev, To: p.Status})
		}
		d.poolStatus[p.NodeID] = p.Status
	}
}
