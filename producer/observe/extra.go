package observe

import "github.com/benchpipe/benchpipe/schema"

// Extra is what a run's observation amounts to, as run_finished's Summary.Extra.observation carries it, so that a
// reader of the run record (and --summary-json) needs no observation record to know whether the run is suspect.
type Extra struct {
	Rounds          int                   `json:"rounds"` // observations published, the last included
	TopologyChanged bool                  `json:"topology_changed"`
	SplitBrain      bool                  `json:"split_brain"`
	MaxPrimaries    int                   `json:"max_primaries"`
	Events          []schema.ClusterEvent `json:"events"`
	// FactsError says why the server facts at the end are missing (the target went away during the run).
	FactsError string `json:"facts_error,omitempty"`
}

// NewExtra is sum as Summary.Extra.observation, with factsErr from Session.Stop; free text passes through red.
func NewExtra(sum Summary, factsErr error, red *schema.Redactor) *Extra {
	x := &Extra{Rounds: sum.Rounds, TopologyChanged: sum.TopologyChanged, SplitBrain: sum.SplitBrain,
		MaxPrimaries: sum.MaxPrimaries, Events: []schema.ClusterEvent{}}
	for _, e := range sum.Events {
		e.Detail = red.Text(e.Detail)
		x.Events = append(x.Events, e)
	}
	if factsErr != nil {
		x.FactsError = red.Text(factsErr.Error())
	}
	return x
}

// Secrets returns the passwords in cfg's connection strings, for a redactor.
func (cfg Config) Secrets() []string {
	out := schema.ConnSecrets(cfg.Pgpool)
	for _, n := range cfg.Nodes {
		out = append(out, schema.ConnSecrets(n.DSN)...)
	}
	return out
}
