package api

import (
	"context"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/schema"
)

// stopInput is stopJobs' arguments: exactly one of them.
type stopInput struct {
	JobID   *uuid.UUID `json:"job_id"`
	GroupID *uuid.UUID `json:"group_id"`
}

// StopResult is stopJobs' answer: the jobs a stop was sent for.
type StopResult struct {
	Jobs []LaunchedJob `json:"jobs"`
}

// stop produces a job_stop message for the job, or for every unfinished job of the group. A job that has ended
// (finished, rejected, expired) gets none; a request that would stop nothing is an error saying why.
func (s *Server) stop(ctx context.Context, in stopInput) (*StopResult, error) {
	if (in.JobID == nil) == (in.GroupID == nil) {
		return nil, invalid("give exactly one of job_id or group_id")
	}
	var (
		what string
		sql  string
		arg  uuid.UUID
	)
	if in.JobID != nil {
		what, arg = "job "+in.JobID.String(), *in.JobID
		sql = `SELECT id, agent, state FROM job_status WHERE id = $1 ORDER BY agent, id`
	} else {
		what, arg = "group "+in.GroupID.String(), *in.GroupID
		sql = `SELECT id, agent, state FROM job_status WHERE group_id = $1 ORDER BY agent, id`
	}
	rows, err := s.pool.Query(ctx, sql, arg)
	if err != nil {
		return nil, unavailable("read jobs: %s", schema.RedactText(err.Error()))
	}
	type jobRow struct {
		ID    uuid.UUID
		Agent string
		State string
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	if err != nil {
		return nil, unavailable("read jobs: %s", schema.RedactText(err.Error()))
	}
	if len(jobs) == 0 {
		return nil, invalid("no %s: nothing was launched under that id (or the sink has not stored it yet)", what)
	}
	res := &StopResult{Jobs: []LaunchedJob{}}
	var recs []*kgo.Record
	now := s.now().UTC()
	for _, j := range jobs {
		switch j.State {
		case "launched", "accepted", "running":
		default:
			continue
		}
		m := schema.FleetMessage{Type: schema.FleetJobStop, Time: now, Stop: &schema.JobStop{JobID: j.ID, Agent: j.Agent}}
		b, err := schema.EncodeFleet(m)
		if err != nil {
			return nil, invalid("stop for job %s: %v", j.ID, err)
		}
		recs = append(recs, &kgo.Record{Key: m.Key(), Value: b})
		res.Jobs = append(res.Jobs, LaunchedJob{JobID: j.ID, Agent: j.Agent})
	}
	if len(recs) == 0 {
		if len(jobs) == 1 {
			return nil, invalid("nothing to stop: %s has already ended (%s)", what, jobs[0].State)
		}
		return nil, invalid("nothing to stop: every job of %s has already ended", what)
	}
	if err := s.produce(ctx, recs, res.Jobs); err != nil {
		return nil, err
	}
	s.log.Info("stop sent", "target", what, "jobs", len(res.Jobs))
	return res, nil
}
