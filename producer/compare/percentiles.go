package compare

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
)

// Run-level latency percentiles from the merged per-second histograms (record version 2): the database function
// run_latency_percentiles merges every measurement sample's histogram of the run and returns HdrHistogram's
// percentiles of the sum, exact to the histogram's precision and the same whatever the run's length. A run
// without histograms (version 1 producers) returns no row and keeps its summary's percentiles, as does every run
// when the endpoint does not serve the function (Hasura metadata that does not track it yet).

// percentilesRow is a row of run_latency_percentiles: one per latency series ("latency", for MQTT also
// "uncorrected").
type percentilesRow struct {
	Series string `graphql:"series"`
	Count  bigint `graphql:"count"`
	P50    float8 `graphql:"p50_ms"`
	P90    float8 `graphql:"p90_ms"`
	P99    float8 `graphql:"p99_ms"`
	P999   float8 `graphql:"p999_ms"`
	Max    float8 `graphql:"max_ms"`
}

// percentilesQuery fetches a run's merged percentiles (measurement phase).
type percentilesQuery struct {
	Rows []percentilesRow `graphql:"run_latency_percentiles(args: {run_id: $id})"`
}

func percentilesVars(id uuid.UUID) map[string]any { return map[string]any{"id": uuidScalar(id)} }

// Where a run's latency percentiles come from (runReport.LatencyFrom).
const (
	latencyFromHistograms = "histograms" // merged from the per-second samples' histograms
	latencyFromSummary    = "summary"    // the producer's run summary
)

// mergeLatency replaces the summary percentiles of each run with those of its merged histograms where it has
// them, and returns where each run's now come from, in order, and what the reader should know. An endpoint that
// does not serve run_latency_percentiles (ErrRejected) leaves every run with its summary; any other error is
// returned.
func (c *client) mergeLatency(ctx context.Context, runs ...*runFields) ([]string, []string, error) {
	from := make([]string, len(runs))
	for i := range from {
		from[i] = latencyFromSummary
	}
	for i, r := range runs {
		var q percentilesQuery
		err := c.query(ctx, "fetch the merged latency percentiles of run "+uuid.UUID(r.RunID).String(), &q, percentilesVars(uuid.UUID(r.RunID)))
		if errors.Is(err, ErrRejected) {
			return from, []string{fmt.Sprintf("%s does not serve run_latency_percentiles (its Hasura metadata does not track it): "+
				"latency percentiles are the run summaries'", c.url)}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		for _, row := range q.Rows {
			if row.Series == "latency" && row.Count > 0 {
				p50, p90, p99, p999 := row.P50, row.P90, row.P99, row.P999
				r.LatP50, r.LatP90, r.LatP99, r.LatP999 = &p50, &p90, &p99, &p999
				from[i] = latencyFromHistograms
			}
		}
	}
	var notes []string
	if len(runs) == 2 && from[0] != from[1] {
		notes = append(notes, fmt.Sprintf("latency percentiles: the baseline's come from its %s, the candidate's from its %s "+
			"(a run from a producer before record version 2 has no histograms); they are comparable to the histograms' precision", from[0], from[1]))
	}
	return from, notes, nil
}
