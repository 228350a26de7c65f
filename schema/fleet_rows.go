package schema

import (
	"encoding/json"
	"time"
)

// Row returns the message's values in the order the sink's statement for its type takes them (sink/ingest,
// decodeFleet), as RunStartedRow does for run_started: empty text and times as NULL, tags as a jsonb object.
//
//	heartbeat  name, host, version, tags, interval_s, state, job_id, run_id, up_since, last_seen (the message's time)
//	job        id, group_id, agent, kind, spec, name, tags, created_at, expires_at
//	job_stop   job_id, agent, stop time (the message's time)
//	job_event  job_id, state, agent, at (the message's time), run_id, status, reason
func (m *FleetMessage) Row() []any {
	switch {
	case m.Heartbeat != nil:
		h := m.Heartbeat
		host, _ := json.Marshal(h.Host) // strings and numbers: it always encodes
		return []any{h.Agent, json.RawMessage(host), nullString(h.Version), jsonObject(h.Tags), h.IntervalS, h.State, h.JobID,
			h.RunID, nullTime(h.UpSince), m.Time}
	case m.Job != nil:
		j := m.Job
		return []any{j.ID, j.GroupID, j.Agent, j.Kind, j.Spec, nullString(j.Name), jsonObject(j.Tags), j.CreatedAt, j.ExpiresAt}
	case m.Stop != nil:
		return []any{m.Stop.JobID, m.Stop.Agent, m.Time}
	case m.Event != nil:
		e := m.Event
		return []any{e.JobID, e.State, e.Agent, m.Time, e.RunID, nullString(string(e.Status)), nullString(e.Reason)}
	}
	return nil
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
