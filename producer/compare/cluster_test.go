package compare

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/schema"
)

// pgRun is a pgbench run on pi-7 that finished ok.
func pgRun(started time.Time, tps float64) run {
	r := mqttRun(started, schema.Figures{OpsRate: tps,
		Latency: &schema.Latency{MinMs: 1, MeanMs: 2, P50Ms: 2, P90Ms: 3, P95Ms: 4, P99Ms: 5, P999Ms: 9, MaxMs: 10},
		Pgbench: &schema.PgbenchFigures{TPS: tps}}, tps, tps)
	r.kind, r.params = schema.KindPgbench, `{"clients":8,"duration_s":60}`
	return r
}

// observed gives r the observations pgbench --observe would have published for a two-node cluster: a first round
// with the server's settings, then a round with the events that flag the run (a node down for a topology change;
// node1 promoted beside node0 for a split brain), then a last round with the facts at the end.
func observed(r run, topologyChanged, splitBrain bool, settings ...schema.Setting) run {
	at := r.startedAt
	node := func(name string, role string) schema.NodeSample {
		return schema.NodeSample{Node: name, Addr: name + ":5432", Up: true, Role: role, Timeline: 1, WALLSN: "0/3000000"}
	}
	facts := func(t time.Time) *schema.ServerFacts {
		return &schema.ServerFacts{Time: t, Version: "PostgreSQL 16.4", VersionNum: 160004, Settings: settings,
			DatabaseSizeBytes: 1 << 24, Database: map[string]float64{"xact_commit": 10}, Bgwriter: map[string]float64{}}
	}
	steady := []schema.NodeSample{node("node0", schema.RolePrimary), node("node1", schema.RoleStandby)}
	first := schema.Observation{Format: schema.ObservationFormat, Time: at, Nodes: steady, Primaries: 1, Server: facts(at)}
	mid := schema.Observation{Format: schema.ObservationFormat, Time: at.Add(time.Second), Nodes: steady, Primaries: 1}
	switch {
	case splitBrain:
		mid.Nodes = []schema.NodeSample{node("node0", schema.RolePrimary), node("node1", schema.RolePrimary)}
		mid.Primaries = 2
		mid.Events = []schema.ClusterEvent{
			{Time: mid.Time, Kind: schema.EventRoleChange, Node: "node1", From: schema.RoleStandby, To: schema.RolePrimary},
			{Time: mid.Time, Kind: schema.EventSplitBrain, Nodes: []string{"node0", "node1"}},
		}
	case topologyChanged:
		mid.Nodes = []schema.NodeSample{node("node0", schema.RolePrimary), {Node: "node1", Addr: "node1:5432", Error: "connection refused"}}
		mid.Events = []schema.ClusterEvent{{Time: mid.Time, Kind: schema.EventNodeDown, Node: "node1", Detail: "connection refused"}}
	}
	last := schema.Observation{Format: schema.ObservationFormat, Time: at.Add(2 * time.Second), Nodes: mid.Nodes, Primaries: mid.Primaries,
		Server: facts(at.Add(2 * time.Second))}
	last.Server.Delta = &schema.ServerDelta{Since: at, Seconds: 2, Database: map[string]float64{}, Bgwriter: map[string]float64{}}
	r.obs = []schema.Observation{first, mid, last}
	return r
}

func strp(s string) *string { return &s }

// compare warns about every run whose cluster changed topology while it ran, in --json and as text, and lists
// the server settings whose values differ (by value and unit, not by where they were set). The runs' observation
// records go through the pipeline like the rest: the sink sets the runs' flags and run_settings from them.
func TestClusterWarningsAndSettings(t *testing.T) {
	e := newEnv(t)
	base := observed(pgRun(t0, 2000), true, false,
		schema.Setting{Name: "max_connections", Setting: "100", Source: "configuration file"},
		schema.Setting{Name: "shared_buffers", Setting: "16384", Unit: "8kB", Source: "configuration file"},
		schema.Setting{Name: "work_mem", Setting: "4096", Unit: "kB", Source: "configuration file"})
	cand := observed(pgRun(t0.Add(time.Minute), 2000), true, true,
		schema.Setting{Name: "max_connections", Setting: "100", Source: "command line"},
		schema.Setting{Name: "shared_buffers", Setting: "32768", Unit: "8kB", Source: "configuration file"},
		schema.Setting{Name: "synchronous_commit", Setting: "off", Source: "configuration file"})
	plain := pgRun(t0.Add(2*time.Minute), 2000)
	steady := observed(pgRun(t0.Add(3*time.Minute), 2000), false, false,
		schema.Setting{Name: "shared_buffers", Setting: "32768", Unit: "8kB", Source: "configuration file"})
	other := observed(pgRun(t0.Add(4*time.Minute), 2000), false, false,
		schema.Setting{Name: "shared_buffers", Setting: "32768", Unit: "8kB", Source: "command line"})
	e.write(t, base, cand, plain, steady, other)

	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	wantWarnings := []string{
		"the baseline run saw the cluster's topology change (a failover, switchover or node down): its figures are not a steady cluster's",
		"the candidate run saw a split brain (two or more primaries at once): its figures are not a steady cluster's",
	}
	if !slices.Equal(rep.Warnings, wantWarnings) {
		t.Errorf("warnings %q, want %q", rep.Warnings, wantWarnings)
	}
	if b, c := rep.Baseline, rep.Candidate; b.TopologyChanged == nil || !*b.TopologyChanged || *b.SplitBrain || !*c.TopologyChanged || !*c.SplitBrain {
		t.Errorf("flags: baseline %v/%v, candidate %v/%v", b.TopologyChanged, b.SplitBrain, c.TopologyChanged, c.SplitBrain)
	}
	wantDiff := []settingDiff{
		{Name: "shared_buffers", Baseline: strp("16384 8kB"), Candidate: strp("32768 8kB")},
		{Name: "synchronous_commit", Candidate: strp("off")},
		{Name: "work_mem", Baseline: strp("4096 kB")},
	}
	if !reflect.DeepEqual(rep.SettingsDiffer, wantDiff) {
		t.Errorf("settings differ %+v, want %+v", rep.SettingsDiffer, wantDiff)
	}

	res = e.compare(t, base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	for _, want := range []string{
		"\nWARNING: " + wantWarnings[0] + "\nWARNING: " + wantWarnings[1] + "\n\nFIGURE ",
		"\nserver settings that differ (pg_settings not at their default at the run's start; - = default):\n" +
			"SETTING             BASELINE   CANDIDATE\n" +
			"shared_buffers      16384 8kB  32768 8kB\n" +
			"synchronous_commit  -          off\n" +
			"work_mem            4096 kB    -\n",
	} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("output lacks %q\n%s", want, res.stdout)
		}
	}

	// A run without recorded settings (no --observe): nothing to compare settings with, and no warning for it.
	res = e.compare(t, "--json", cand.id.String(), plain.id.String())
	rep = res.jsonReport(t)
	if rep.SettingsDiffer != nil || !slices.Equal(rep.Warnings, []string{strings.Replace(wantWarnings[1], "candidate", "baseline", 1)}) ||
		!slices.Contains(rep.Notes, "only the baseline run recorded its server's settings (producer pgbench --observe); the candidate's are unknown, so none are compared") ||
		*rep.Candidate.TopologyChanged || *rep.Candidate.SplitBrain {
		t.Errorf("with an unobserved candidate: %v", res)
	}
	// Two steady observed runs with equal settings: no warning, an empty list.
	res = e.compare(t, "--json", steady.id.String(), other.id.String())
	if rep = res.jsonReport(t); rep.SettingsDiffer == nil || len(rep.SettingsDiffer) != 0 || len(rep.Warnings) != 0 ||
		*rep.Baseline.TopologyChanged || *rep.Candidate.TopologyChanged {
		t.Errorf("two steady runs with equal settings: %v", res)
	}
	if strings.Contains(e.compare(t, steady.id.String(), other.id.String()).stdout, "WARNING") {
		t.Error("a warning for two steady runs")
	}
}

// An endpoint whose metadata predates the cluster observation (no runs.topology_changed, no run_settings) still
// compares, without flags or settings, and says why.
func TestClusterNotServed(t *testing.T) {
	e := newEnv(t, func(md *hasurastub.Metadata) {
		runs := md.Tables["runs"]
		delete(runs.Relationships, "run_settings")
		p := runs.Select["anonymous"]
		p.Columns = slices.DeleteFunc(slices.Clone(p.Columns), func(c string) bool { return c == "topology_changed" || c == "split_brain" })
		delete(md.Tables, "run_settings")
	})
	base, cand := observed(pgRun(t0, 2000), true, true), pgRun(t0.Add(time.Minute), 2100)
	e.write(t, base, cand)
	res := e.compare(t, "--json", base.id.String(), cand.id.String())
	if res.code != ExitOK {
		t.Fatalf("%v", res)
	}
	rep := res.jsonReport(t)
	if rep.Baseline.TopologyChanged != nil || rep.SettingsDiffer != nil || len(rep.Warnings) != 0 ||
		!slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "does not serve the cluster observation fields") }) {
		t.Errorf("%v", res)
	}
}
