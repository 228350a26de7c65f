package compare

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/internal/stat"
)

// History: the series of comparable runs of a run (queries.go's historyQuery: same kind, device, parameters
// and tag rule as the "last" baseline, finished ok), one value per run and figure, with the change points
// stat.Detector finds in it. Each run's value is the statistic stat.Comparer compares, over the run's
// steady-state per-second samples (the median per-second throughput, p50, p99, …), so that a history's noise is
// the noise of the compared number (stat.MeasureNoise says why that matters).

// historyFigures are the figures a history follows: the ones with per-second values. `producer history` lists
// change points for throughput and p99 and any other figure asked for; `compare --baseline history` judges
// every one the runs have.
var historyFigures = []string{"throughput", "p50", "p90", "p99", "p99.9", "tps"}

// BaselineHistory gates a run against the current segment of its history.
const BaselineHistory = "history"

// historyPoint is one run of a history.
type historyPoint struct {
	RunID     string     `json:"run_id"`
	Name      string     `json:"name,omitempty"`
	StartedAt *time.Time `json:"started_at"`
	Samples   int        `json:"samples"` // steady-state samples
	// Values are the run's values by figure name (the median of its steady-state per-second values); a figure
	// the run has no per-second values of is absent.
	Values map[string]float64 `json:"values"`
}

// seriesResult is one figure's history.
type seriesResult struct {
	Figure    string `json:"figure"`
	Statistic string `json:"statistic"` // e.g. "median of per-second p99"
	Unit      string `json:"unit,omitempty"`
	Better    string `json:"better"`
	Runs      int    `json:"runs"` // runs with a value
	// ChangePoints are where the figure changed, oldest first.
	ChangePoints []historyChange `json:"change_points"`
	// Segment is the current segment: the runs since the last change point (all runs when there is none).
	Segment segmentInfo `json:"segment"`
	// Noise is the run-to-run noise over the current segment; null with fewer than 3 runs in it (NoiseError says).
	Noise      *stat.Noise `json:"noise"`
	NoiseError string      `json:"noise_error,omitempty"`
	// MinEffect is, for the false-alarm rate asked for (--noise), the smallest relative change a gate against one
	// run of this device should act on; MinEffectSegment the same against the whole current segment (compare
	// --baseline history). Null without --noise or without noise.
	MinEffect        *float64 `json:"min_effect,omitempty"`
	MinEffectSegment *float64 `json:"min_effect_segment,omitempty"`

	fig     *figure
	points  []int     // index into the history's runs of each value
	values  []float64 // the series
	segment []float64 // the current segment's values
}

// historyChange is a change point, located at the first run after the change.
type historyChange struct {
	RunID     string     `json:"run_id"`
	Index     int        `json:"index"` // position of that run in the history's runs
	StartedAt *time.Time `json:"started_at"`
	Before    float64    `json:"before"`   // mean of the segment before
	After     float64    `json:"after"`    // mean of the segment from this run
	Relative  float64    `json:"relative"` // After/Before − 1
	PValue    float64    `json:"p_value"`  // of the permutation test
	Worse     bool       `json:"worse"`    // in the figure's bad direction
}

// segmentInfo locates the current segment.
type segmentInfo struct {
	FirstRunID string `json:"first_run_id"`
	Runs       int    `json:"runs"`
}

// historyOptions configure a history's analysis.
type historyOptions struct {
	Significance float64 // of the change points; 0: stat.Detector's default (0.05)
	FalseAlarm   float64 // for MinEffect; 0: no minimum effects
	Limit        int     // the most recent runs the history holds; 0: HistoryLimit
}

// fetchHistory returns the comparable runs of ref that started no later than it, the limit (at most HistoryLimit)
// most recent, oldest first, ref included when it finished ok. notes say what the reader should know about the
// selection.
func (c *client) fetchHistory(ctx context.Context, ref *runFields, tags TagMatch, limit int) ([]historyRun, []string, error) {
	id := uuid.UUID(ref.RunID)
	if ref.StartedAt == nil || ref.HostName == nil {
		return nil, nil, fmt.Errorf("%w for run %s: its run_started record has not been written yet, so its kind, device and "+
			"parameters are unknown", ErrNoBaseline, id)
	}
	params := json.RawMessage(ref.Parameters)
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	var notes []string
	var rows []historyRun
	var err error
	switch {
	case tags.All:
		var q historySameTagsQuery
		err = c.query(ctx, "fetch the history", &q, historyVars(ref.Kind, *ref.HostName, params, *ref.StartedAt, json.RawMessage(ref.Tags)))
		rows = q.Runs
	case len(tags.Keys) > 0:
		sub, missing := tags.subset(id, json.RawMessage(ref.Tags))
		notes = append(notes, missing...)
		var q historyTagsContainQuery
		err = c.query(ctx, "fetch the history", &q, historyVars(ref.Kind, *ref.HostName, params, *ref.StartedAt, sub))
		rows = q.Runs
	default:
		var q historyQuery
		err = c.query(ctx, "fetch the history", &q, historyVars(ref.Kind, *ref.HostName, params, *ref.StartedAt, nil))
		rows = q.Runs
	}
	if err != nil {
		return nil, nil, err
	}
	if limit <= 0 || limit > HistoryLimit {
		limit = HistoryLimit
	}
	if len(rows) >= limit {
		notes = append(notes, fmt.Sprintf("the history holds the %d most recent comparable runs", limit))
		rows = rows[:limit]
	}
	slices.Reverse(rows)
	return rows, notes, nil
}

// analyse builds the history of runs for the named figures: per-run values, change points, the current
// segment and its noise.
// figuresOf keeps the names of the figures run has: tps only for pgbench runs, whose samples' ops_rate is
// transactions per second; an MQTT sample's ops_rate is its throughput, which would otherwise be charted twice.
func figuresOf(run *runFields, names []string) []string {
	return slices.DeleteFunc(slices.Clone(names), func(n string) bool {
		f := figureByName(n)
		return f != nil && f.value != nil && f.value(run) == nil
	})
}

func analyse(runs []historyRun, names []string, o historyOptions) ([]historyPoint, []seriesResult, error) {
	points := make([]historyPoint, len(runs))
	steady := make([][]sampleFields, len(runs))
	for i, r := range runs {
		steady[i] = steadyState(r.Samples)
		points[i] = historyPoint{RunID: uuid.UUID(r.RunID).String(), Name: deref(r.Name), StartedAt: timeOf(r.StartedAt),
			Samples: len(steady[i]), Values: map[string]float64{}}
	}
	var out []seriesResult
	for _, name := range names {
		f := figureByName(name)
		s := seriesResult{Figure: f.name, Statistic: "median of " + f.statistic, Unit: f.unit, Better: f.better.String(),
			ChangePoints: []historyChange{}, fig: f}
		for i := range runs {
			if v := perSecondSeries(f, steady[i]); len(v) > 0 {
				m := stat.Median(v)
				points[i].Values[f.name] = m
				s.points = append(s.points, i)
				s.values = append(s.values, m)
			}
		}
		s.Runs = len(s.values)
		if s.Runs == 0 {
			continue // a figure none of the runs has (tps of MQTT runs)
		}
		cps, err := stat.Detector{Significance: o.Significance, Seed: statSeed}.ChangePoints(s.values)
		if err != nil {
			return nil, nil, fmt.Errorf("change points of %s: %w", f.name, err)
		}
		for _, cp := range cps {
			run := points[s.points[cp.Index]]
			worse := cp.Relative < 0
			if f.better == lowerIsBetter {
				worse = cp.Relative > 0
			}
			s.ChangePoints = append(s.ChangePoints, historyChange{RunID: run.RunID, Index: s.points[cp.Index], StartedAt: run.StartedAt,
				Before: cp.Before, After: cp.After, Relative: cp.Relative, PValue: cp.PValue, Worse: worse})
		}
		start := 0
		if len(cps) > 0 {
			start = cps[len(cps)-1].Index
		}
		s.segment = s.values[start:]
		s.Segment = segmentInfo{FirstRunID: points[s.points[start]].RunID, Runs: len(s.segment)}
		if n, err := stat.MeasureNoise(s.segment); err != nil {
			s.NoiseError = err.Error()
		} else {
			s.Noise = &n
			if o.FalseAlarm > 0 {
				one, err1 := n.MinEffect(o.FalseAlarm, 1)
				all, err2 := n.MinEffect(o.FalseAlarm, len(s.segment))
				if err1 == nil && err2 == nil {
					s.MinEffect, s.MinEffectSegment = &one, &all
				}
			}
		}
		out = append(out, s)
	}
	return points, out, nil
}

// figureByName returns the figure of a canonical name.
func figureByName(name string) *figure {
	for i := range figures {
		if figures[i].name == name {
			return &figures[i]
		}
	}
	panic("compare: no figure " + name)
}

// judgeAgainstHistory replaces the statistical verdicts of the figures with per-second values by the
// candidate's run value against the current segment of each figure's history (stat.Comparer.CompareToSegment):
// the segment's runs give the run-to-run noise, which a comparison of per-second samples cannot see. cand's
// value is the same statistic as the history's (the median of its steady-state per-second values).
func judgeAgainstHistory(results []figureResult, series []seriesResult, cand *runFields, t Thresholds, confidence float64) {
	if confidence == 0 {
		confidence = DefaultConfidence
	}
	steady := steadyState(cand.Samples)
	for i := range results {
		r := &results[i]
		if r.fig.perSecond == nil {
			continue
		}
		idx := slices.IndexFunc(series, func(s seriesResult) bool { return s.Figure == r.Name })
		minEffect, gated := t.minEffect(r.Name)
		r.Stat, r.StatError, r.Segment = nil, "", nil
		r.Statistic = "median of " + r.fig.statistic + ", the run against the current segment of its history"
		values := perSecondSeries(r.fig, steady)
		switch {
		case idx < 0:
			r.StatError = "no run of the history has per-second values of it"
		case len(values) == 0:
			r.StatError = "the candidate has no per-second values of it"
		default:
			s := series[idx]
			seg := s.Segment
			r.Segment = &seg
			c, err := stat.Comparer{Confidence: confidence, MinEffect: minEffect}.CompareToSegment(s.segment, stat.Median(values), r.fig.direction())
			if err != nil {
				r.StatError = err.Error()
			} else {
				r.Stat = &c
			}
		}
		if gated && r.Verdict != verdictMissing {
			r.Regression = r.Stat != nil && r.Stat.Verdict == stat.Worse
		}
	}
}
