package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/schema"
)

// A history for the viewer's Trends page and device noise (issue 17): historyRuns identical MQTT runs on device
// historyHost, a day apart, whose throughput steps from about 1,000 to about 800 msg/s at run historyStep (0-based)
// while p99 stays put. producer history finds exactly one change point there, worse, and none in p99.
const (
	historyHost    = "pi-hist"
	historyRuns    = 12
	historyStep    = 6
	historySamples = 30
)

// historyRecords are run i's records: run_started, historySamples one-second measurement samples with a small
// deterministic wobble, run_finished. t0 is when run 0 starts.
func historyRecords(i int, id uuid.UUID, t0 time.Time) []schema.Record {
	start := t0.Add(time.Duration(i) * 24 * time.Hour)
	at := func(k int) time.Time { return start.Add(time.Duration(k) * time.Second) }
	rec := func(typ string, seq int64, t time.Time) schema.Record {
		return schema.Record{V: schema.Version, Type: typ, RunID: id, Seq: seq, Time: t}
	}
	level := 1000.0
	if i >= historyStep {
		level = 800
	}
	started := rec(schema.TypeRunStarted, 0, start)
	started.Started = &schema.Started{Kind: schema.KindMQTT, Name: "nightly history", Tags: map[string]string{"env": "lab"},
		Parameters: json.RawMessage(`{"publishers": 2, "qos": 1, "rate": 0}`),
		Target:     schema.Target{URL: "tcp://broker.lab:1883", Host: "broker.lab", Port: 1883}, Host: schema.Host{Hostname: historyHost}, StartedAt: start}
	recs := []schema.Record{started}
	var ops int64
	for k := range historySamples {
		// ±0.5 % within a run, ±0.3 % between runs: far below the 20 % step.
		rate := math.Round(level * (1 + 0.005*math.Sin(float64(7*k+i)) + 0.003*math.Cos(float64(3*i))))
		p99 := 9 + 0.2*math.Sin(float64(5*k+2*i))
		sm := rec(schema.TypeSample, int64(k+1), at(k+1))
		sm.Sample = &schema.Sample{Start: at(k), End: at(k + 1), Phase: schema.PhaseMeasure,
			Figures: schema.Figures{Ops: int64(rate), OpsRate: rate,
				Latency: &schema.Latency{MinMs: 1, MeanMs: 3, P50Ms: 2.5, P90Ms: 5, P95Ms: 6, P99Ms: p99, P999Ms: p99 + 3, MaxMs: p99 + 5}}}
		recs = append(recs, sm)
		ops += int64(rate)
	}
	end := at(historySamples)
	fin := rec(schema.TypeRunFinished, historySamples+1, end)
	fin.Finished = &schema.Finished{Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: start, End: end,
		Figures: schema.Figures{Ops: ops, OpsRate: float64(ops) / historySamples,
			Latency: &schema.Latency{MinMs: 1, MeanMs: 3, P50Ms: 2.5, P90Ms: 5, P95Ms: 6, P99Ms: 9.2, P999Ms: 12.2, MaxMs: 14}}}}
	return append(recs, fin)
}

// historyRunsThroughSink publishes the history's runs through Kafka and the sink, oldest first, ending 13 days ago
// plus a day per run, and returns their ids once the sink has written them all.
func (p *pipeline) historyRunsThroughSink(ctx context.Context) ([]uuid.UUID, error) {
	t0 := time.Now().UTC().Truncate(time.Second).Add(-(historyRuns + 1) * 24 * time.Hour)
	ids := make([]uuid.UUID, historyRuns)
	for i := range ids {
		ids[i] = uuid.Must(uuid.NewV7())
		if err := p.publishRecords(ctx, historyRecords(i, ids[i], t0)); err != nil {
			return nil, fmt.Errorf("history run %d: %w", i, err)
		}
	}
	for _, id := range ids {
		if err := p.waitFinished(ctx, id); err != nil {
			return nil, err
		}
	}
	return ids, nil
}
