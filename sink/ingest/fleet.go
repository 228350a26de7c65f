package ingest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/schema"
)

// decodeFleet reads one message of the fleet's topics (format fleet: schema.FleetMessage) into a statement of
// the batch's upserts, each idempotent, so that a redelivery, a producer's spool resending, or messages of one
// agent arriving out of order change nothing they should not:
//
//	heartbeat  agents row upserted, its facts only from a newer heartbeat (last_seen moves forward only)
//	job        jobs row inserted once (ON CONFLICT DO NOTHING)
//	job_stop   jobs.stop_requested_at set, the earliest stop kept; a stop naming another agent than the job's is ignored
//	job_event  job_events row inserted once per (job, state)
//
// The rows are few (an agent's heartbeat every few seconds), so they go through the upserts' statement batch
// rather than COPY. A message that does not decode, or whose Kafka key is not its agent, is dead-lettered with the
// reason like any bad record.
func decodeFleet(b *batch, r *kgo.Record) error {
	m, err := schema.DecodeFleet(r.Value)
	if err != nil {
		return err
	}
	if len(r.Key) > 0 && !bytes.Equal(r.Key, m.Key()) {
		return fmt.Errorf("record key %q is not the agent name %q: an agent's fleet messages must share a partition", truncate(r.Key, 64), m.Key())
	}
	st := fleetStatements[m.Type]
	b.upserts = append(b.upserts, upsert{st.table, st.sql, m.Row(), r})
	return nil
}

// agentColumns are the agents columns a heartbeat sets, in heartbeatSQL's parameter order; last_seen ($10) is also
// the first_seen of a new row.
var agentColumns = []string{"name", "host", "version", "tags", "interval_s", "state", "job_id", "run_id", "up_since", "last_seen"}

var (
	// heartbeatSQL takes the newest heartbeat's facts: an older one (a spool resending, a redelivery) only lowers
	// first_seen when it is older still, and otherwise leaves the row as it is.
	heartbeatSQL = func() string {
		var sets []string
		for _, c := range agentColumns[1 : len(agentColumns)-1] {
			sets = append(sets, fmt.Sprintf("%s = CASE WHEN EXCLUDED.last_seen > a.last_seen THEN EXCLUDED.%s ELSE a.%s END", c, c, c))
		}
		return "INSERT INTO " + pgx.Identifier{apiSchema, "agents"}.Sanitize() + " AS a (" + strings.Join(agentColumns, ", ") + `, first_seen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10)
		ON CONFLICT (name) DO UPDATE SET ` + strings.Join(sets, ", ") + `,
		last_seen = greatest(a.last_seen, EXCLUDED.last_seen), first_seen = least(a.first_seen, EXCLUDED.first_seen)
		WHERE EXCLUDED.last_seen > a.last_seen OR EXCLUDED.first_seen < a.first_seen`
	}()

	jobSQL = "INSERT INTO " + pgx.Identifier{apiSchema, "jobs"}.Sanitize() + ` (id, group_id, agent, kind, spec, name, tags, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`

	// jobStopSQL keeps the earliest stop of a job. A stop arrives after its job (both are keyed by the agent, on one
	// partition of the jobs topic); one for a job the table does not hold changes nothing.
	jobStopSQL = "UPDATE " + pgx.Identifier{apiSchema, "jobs"}.Sanitize() + ` SET stop_requested_at = $3
		WHERE id = $1 AND agent = $2 AND (stop_requested_at IS NULL OR stop_requested_at > $3)`

	jobEventSQL = "INSERT INTO " + pgx.Identifier{apiSchema, "job_events"}.Sanitize() + ` (job_id, state, agent, at, run_id, status, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (job_id, state) DO NOTHING`

	// fleetStatements is each message type's table and statement; schema.FleetMessage.Row gives its arguments.
	fleetStatements = map[string]struct{ table, sql string }{
		schema.FleetHeartbeat: {"agents", heartbeatSQL},
		schema.FleetJob:       {"jobs", jobSQL},
		schema.FleetJobStop:   {"jobs", jobStopSQL},
		schema.FleetJobEvent:  {"job_events", jobEventSQL},
	}
)
