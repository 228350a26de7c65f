package compare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"

	"github.com/google/uuid"
)

// What the cluster observation (pgbench --observe, issue 15) left on the two runs: whether either run's cluster
// changed topology (runs.topology_changed, runs.split_brain, set by the sink from the run's events), and the
// server's non-default settings at each run's start (run_settings), so that compare can warn that a run's figures
// are not a steady cluster's and list the settings that differ. Fetched apart from the runs, in one query for
// both: an endpoint whose Hasura metadata predates issue 15 rejects these fields, and compare then goes on
// without them and says so.

// settingFields is one row of run_settings.
type settingFields struct {
	Name    string  `graphql:"name"`
	Setting string  `graphql:"setting"`
	Unit    *string `graphql:"unit"`
	Source  string  `graphql:"source"`
}

// clusterFields are a run's cluster observation columns.
type clusterFields struct {
	TopologyChanged bool            `graphql:"topology_changed"`
	SplitBrain      bool            `graphql:"split_brain"`
	Settings        []settingFields `graphql:"run_settings(order_by: {name: asc})"`
}

// clusterQuery fetches both runs' cluster observation at once.
type clusterQuery struct {
	Baseline  *clusterFields `graphql:"baseline: runs_by_pk(run_id: $baseline)"`
	Candidate *clusterFields `graphql:"candidate: runs_by_pk(run_id: $candidate)"`
}

func clusterVars(base, cand uuid.UUID) map[string]any {
	return map[string]any{"baseline": uuidScalar(base), "candidate": uuidScalar(cand)}
}

// settingDiff is a server setting whose value differs between the runs; a side is nil when that run's server
// had the setting at its default (or the run recorded no settings at all: see the notes).
type settingDiff struct {
	Name      string  `json:"name"`
	Baseline  *string `json:"baseline"`
	Candidate *string `json:"candidate"`
}

// fetchCluster reads the runs' cluster observation. ok is false, with a note saying why, when the endpoint does
// not serve the fields; other errors are returned.
func (c *client) fetchCluster(ctx context.Context, base, cand uuid.UUID) (q clusterQuery, ok bool, note string, err error) {
	err = c.query(ctx, "fetch the runs' cluster observation", &q, clusterVars(base, cand))
	if errors.Is(err, ErrRejected) {
		return q, false, fmt.Sprintf("%s does not serve the cluster observation fields (runs.topology_changed, run_settings: its Hasura "+
			"metadata predates them): topology changes and server settings are not compared", c.url), nil
	}
	if err != nil {
		return q, false, "", err
	}
	return q, q.Baseline != nil && q.Candidate != nil, "", nil
}

// addCluster puts the runs' cluster observation into the report: each run's flags, a warning per run whose
// cluster changed topology, and the settings that differ.
func (r *report) addCluster(q clusterQuery) {
	r.Baseline.TopologyChanged, r.Baseline.SplitBrain = &q.Baseline.TopologyChanged, &q.Baseline.SplitBrain
	r.Candidate.TopologyChanged, r.Candidate.SplitBrain = &q.Candidate.TopologyChanged, &q.Candidate.SplitBrain
	for _, run := range []struct {
		role string
		f    *clusterFields
	}{{"baseline", q.Baseline}, {"candidate", q.Candidate}} {
		switch {
		case run.f.SplitBrain:
			r.Warnings = append(r.Warnings, fmt.Sprintf("the %s run saw a split brain (two or more primaries at once): its figures are not a steady cluster's", run.role))
		case run.f.TopologyChanged:
			r.Warnings = append(r.Warnings, fmt.Sprintf("the %s run saw the cluster's topology change (a failover, switchover or node down): its figures are not a steady cluster's", run.role))
		}
	}
	b, c := len(q.Baseline.Settings) > 0, len(q.Candidate.Settings) > 0
	switch {
	case b && c:
		r.SettingsDiffer = diffSettings(q.Baseline.Settings, q.Candidate.Settings)
	case b != c:
		has, lacks := "baseline", "candidate"
		if c {
			has, lacks = lacks, has
		}
		r.Notes = append(r.Notes, fmt.Sprintf("only the %s run recorded its server's settings (producer pgbench --observe); the %s's are unknown, so none are compared", has, lacks))
	}
}

// diffSettings lists the settings whose value (with its unit) differs, by name. Where a setting came from (file,
// command line, ALTER SYSTEM) is not a difference: the server ran with the same value.
func diffSettings(base, cand []settingFields) []settingDiff {
	value := func(s settingFields) *string {
		v := s.Setting
		if s.Unit != nil && *s.Unit != "" {
			v += " " + *s.Unit
		}
		return &v
	}
	bm, cm := map[string]*string{}, map[string]*string{}
	names := map[string]bool{}
	for _, s := range base {
		bm[s.Name], names[s.Name] = value(s), true
	}
	for _, s := range cand {
		cm[s.Name], names[s.Name] = value(s), true
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	out := []settingDiff{}
	for _, n := range sorted {
		b, c := bm[n], cm[n]
		if b != nil && c != nil && *b == *c {
			continue
		}
		out = append(out, settingDiff{Name: n, Baseline: b, Candidate: c})
	}
	return out
}

// writeSettings prints the settings that differ as a table.
func writeSettings(w io.Writer, diffs []settingDiff) error {
	if len(diffs) == 0 {
		return nil
	}
	fmt.Fprintf(w, "\nserver settings that differ (pg_settings not at their default at the run's start; - = default):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tBASELINE\tCANDIDATE")
	for _, d := range diffs {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", d.Name, orDefault(d.Baseline), orDefault(d.Candidate))
	}
	return tw.Flush()
}

func orDefault(s *string) string {
	if s == nil {
		return "-"
	}
	return *s
}
