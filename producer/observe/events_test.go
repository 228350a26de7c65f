package observe

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// The detector's transitions, round by round. Each case is a sequence of rounds (node → role, "" for down) and
// the events expected after each.
func TestDetector(t *testing.T) {
	type round struct {
		nodes map[string]string // node → primary, standby, or "" (down)
		pool  map[int]string    // Pgpool node_id → status
		want  []string          // events as kind/node/from/to
	}
	cases := []struct {
		name   string
		rounds []round
	}{
		{"steady cluster: no events", []round{
			{nodes: map[string]string{"a": "primary", "b": "standby"}},
			{nodes: map[string]string{"a": "primary", "b": "standby"}},
		}},
		{"promotion while the old primary runs: role change and split brain, once", []round{
			{nodes: map[string]string{"a": "primary", "b": "standby"}},
			{nodes: map[string]string{"a": "primary", "b": "primary"}, want: []string{"role_change/b/standby/primary", "split_brain/[a b]"}},
			{nodes: map[string]string{"a": "primary", "b": "primary"}},
			{nodes: map[string]string{"a": "", "b": "primary"}, want: []string{"node_down/a", "split_brain_end/[b]"}},
		}},
		{"failover: primary down, standby promoted, old primary rejoins as standby", []round{
			{nodes: map[string]string{"a": "primary", "b": "standby"}},
			{nodes: map[string]string{"a": "", "b": "standby"}, want: []string{"node_down/a"}},
			{nodes: map[string]string{"a": "", "b": "primary"}, want: []string{"role_change/b/standby/primary"}},
			{nodes: map[string]string{"a": "standby", "b": "primary"}, want: []string{"node_up/a/-/standby", "role_change/a/primary/standby"}},
		}},
		{"a node down from the first round is an event; staying down is not", []round{
			{nodes: map[string]string{"a": "primary", "b": ""}, want: []string{"node_down/b"}},
			{nodes: map[string]string{"a": "primary", "b": ""}},
		}},
		{"split brain from the first round", []round{
			{nodes: map[string]string{"a": "primary", "b": "primary", "c": "standby"}, want: []string{"split_brain/[a b]"}},
		}},
		{"pgpool status changes", []round{
			{nodes: map[string]string{"a": "primary"}, pool: map[int]string{0: "up", 1: "up"}},
			{nodes: map[string]string{"a": "primary"}, pool: map[int]string{0: "up", 1: "down"}, want: []string{"pool_status/pgpool node 1/up/down"}},
			{nodes: map[string]string{"a": "primary"}, pool: map[int]string{0: "up", 1: "down"}},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newDetector()
			start := time.Date(2026, 12, 3, 4, 0, 0, 0, time.UTC)
			for i, r := range c.rounds {
				o := schema.Observation{Format: schema.ObservationFormat, Time: start.Add(time.Duration(i) * time.Second)}
				for _, name := range []string{"a", "b", "c"} {
					role, ok := r.nodes[name]
					if !ok {
						continue
					}
					n := schema.NodeSample{Node: name, Addr: "127.0.0.1:1", Up: role != "", Role: role}
					if role == "" {
						n.Error = "connection refused"
					}
					o.Nodes = append(o.Nodes, n)
				}
				for id := 0; id < len(r.pool); id++ {
					o.Pool = append(o.Pool, schema.PoolNodeSample{NodeID: id, Status: r.pool[id]})
				}
				d.step(&o)
				var got []string
				for _, e := range o.Events {
					if !e.Time.Equal(o.Time) {
						t.Errorf("round %d: event %s at %s, want the round's time %s", i, e.Kind, e.Time, o.Time)
					}
					got = append(got, eventString(e))
				}
				if !reflect.DeepEqual(got, r.want) {
					t.Errorf("round %d: events %q, want %q", i, got, r.want)
				}
				if err := o.Validate(); err != nil {
					t.Errorf("round %d: %v", i, err)
				}
			}
		})
	}
}

func eventString(e schema.ClusterEvent) string {
	s := e.Kind
	if e.Node != "" {
		s += "/" + e.Node
	}
	if e.From != "" || e.To != "" {
		s += "/" + orDash(e.From) + "/" + orDash(e.To)
	}
	if e.Kind == schema.EventSplitBrain || e.Kind == schema.EventSplitBrainEnd {
		s += "/" + formatNodes(e.Nodes)
	}
	return s
}

func formatNodes(n []string) string { return "[" + strings.Join(n, " ") + "]" }

func TestParseLSN(t *testing.T) {
	for in, want := range map[string]uint64{"0/0": 0, "0/3000060": 0x3000060, "16/B374D848": 0x16_B374D848, "FFFFFFFF/FFFFFFFF": ^uint64(0)} {
		if got, err := parseLSN(in); err != nil || got != want {
			t.Errorf("parseLSN(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "x/1", "1/100000000"} {
		if _, err := parseLSN(in); err == nil {
			t.Errorf("parseLSN(%q): no error", in)
		}
	}
}
