package api

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/producer/compare"
)

// The read-only query actions of issue 17: the statistics of `producer compare` and `producer history`, for the
// viewer, which reads only GraphQL. sink api computes them with producer/compare's own code, reading the runs over
// GraphQL (graphql.url) as the CLI does, so a report is exactly the CLI's --json document for the same arguments.

// DefaultReportTimeout bounds how long compareRuns and runHistory may take, every GraphQL request they make
// included; keep it below the actions' timeout in actions.yaml (60 s), so the viewer reads sink api's reason rather
// than Hasura's timeout.
const DefaultReportTimeout = 30 * time.Second

// compareInput is compareRuns' arguments.
type compareInput struct {
	Baseline      uuid.UUID `json:"baseline"`
	Candidate     uuid.UUID `json:"candidate"`
	MaxRegression *string   `json:"max_regression"`
	Confidence    *float64  `json:"confidence"`
}

// historyInput is runHistory's arguments.
type historyInput struct {
	RunID        uuid.UUID `json:"run_id"`
	Figures      []string  `json:"figures"`
	FalseAlarm   *float64  `json:"false_alarm"`
	Significance *float64  `json:"significance"`
	Limit        *int      `json:"limit"`
}

// reportResult is the output type of both actions (ComparisonReport, HistoryReport): the CLI's JSON document.
type reportResult struct {
	Report []byte `json:"report"`
}

// MarshalJSON writes the report as the JSON value it is.
func (r reportResult) MarshalJSON() ([]byte, error) {
	return []byte(`{"report":` + string(r.Report) + `}`), nil
}

// compareRuns is `producer compare --json [--max-regression M] [--confidence C] BASELINE CANDIDATE`.
func (s *Server) compareRuns(ctx context.Context, in compareInput) (any, error) {
	if s.reports == nil {
		return nil, s.noGraphQL("compareRuns")
	}
	var opts compare.Options
	if in.MaxRegression != nil {
		t, err := compare.ParseMaxRegression(*in.MaxRegression)
		if err != nil {
			return nil, reportError("compareRuns", 0, err)
		}
		opts.MaxRegression = t
	}
	if in.Confidence != nil {
		// Checked here too: Report takes 0 as the default, which the flag refuses.
		if err := compare.CheckConfidence(*in.Confidence); err != nil {
			return nil, reportError("compareRuns", 0, fmt.Errorf("%w: %v", compare.ErrUsage, err))
		}
		opts.Confidence = *in.Confidence
	}
	ctx, cancel := context.WithTimeout(ctx, s.reportTimeout)
	defer cancel()
	doc, err := s.reports.Report(ctx, in.Baseline.String(), in.Candidate, opts)
	if err != nil {
		return nil, reportError("compareRuns", s.reportTimeout, err)
	}
	return reportResult{Report: doc}, nil
}

// runHistory is `producer history --json --noise [--figures F] [--false-alarm A] [--significance S] [--limit N]
// RUN_ID`.
func (s *Server) runHistory(ctx context.Context, in historyInput) (any, error) {
	if s.reports == nil {
		return nil, s.noGraphQL("runHistory")
	}
	o := compare.HistoryOptions{Figures: compare.DefaultHistoryFigures, Significance: compare.DefaultSignificance,
		Noise: true, FalseAlarm: compare.DefaultFalseAlarm, Limit: compare.HistoryLimit}
	if in.Figures != nil {
		o.Figures = in.Figures
	}
	if in.FalseAlarm != nil {
		o.FalseAlarm = *in.FalseAlarm
	}
	if in.Significance != nil {
		o.Significance = *in.Significance
	}
	if in.Limit != nil {
		o.Limit = *in.Limit
	}
	ctx, cancel := context.WithTimeout(ctx, s.reportTimeout)
	defer cancel()
	doc, err := s.reports.History(ctx, in.RunID, o)
	if err != nil {
		return nil, reportError("runHistory", s.reportTimeout, err)
	}
	return reportResult{Report: doc}, nil
}

func (s *Server) noGraphQL(action string) *actionError {
	return unavailable("%s: sink api has no graphql.url in its configuration, so it cannot read runs; set graphql.url to "+
		"the GraphQL endpoint (in the compose stack http://hasura:8080/v1/graphql)", action)
}

// reportError turns compare's error into the action's: the CLI's message; a caller's mistake (a bad argument, an
// unknown run, no baseline) is "invalid", anything else (the endpoint unreachable or refusing, the time up)
// "unavailable". extensions.exit_code is the CLI's exit code for it.
func reportError(action string, timeout time.Duration, err error) *actionError {
	code := compare.ExitCode(err)
	var ae *actionError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		ae = unavailable("%s: no answer within %s (sink api's report timeout): the GraphQL endpoint (graphql.url) is slow or unreachable", action, timeout)
	case code == compare.ExitUsage || code == compare.ExitNotFound || code == compare.ExitNoBaseline:
		ae = invalid("%s", err.Error())
	default:
		ae = unavailable("%s", err.Error())
	}
	ae.Ext["exit_code"] = code
	return ae
}
