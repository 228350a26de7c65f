package schema

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/google/uuid"
)

// The fleet's messages: what an operator asks of agents (job, job_stop, on the jobs topic) and what agents say of
// themselves (heartbeat, job_event, on the agents topic). They are not run records: a job's run publishes its own
// run_started … run_finished stream as any run does, and run_started names the job (Started.JobID, GroupID).
//
// Every fleet message is keyed by the agent's name, so one agent's messages stay in order on one partition: a stop
// follows the job it stops, and an agent's events follow each other. The sink stores them idempotently (an agent's
// last_seen only moves forward; a job's event is stored once per state), so redelivery changes nothing.
//
//	job        launched by `sink api` (the launch action): one per agent, the agents of one launch share GroupID
//	job_stop   the stop action: abort the job's run (status aborted, samples kept)
//	heartbeat  every fleet.heartbeat from `producer agent`: host facts, version, idle or running which job
//	job_event  a job's states: accepted, running (with its run id), finished (ok, failed or aborted), rejected (with
//	           the reason), expired
const FleetVersion = 1

// FleetJSONSchema is fleet.schema.json: the fleet's message contract for agents not written in Go.
//
//go:embed fleet.schema.json
var FleetJSONSchema []byte

// Fleet message types.
const (
	FleetJob       = "job"
	FleetJobStop   = "job_stop"
	FleetHeartbeat = "heartbeat"
	FleetJobEvent  = "job_event"
)

// Job states an agent reports in a job_event.
const (
	JobAccepted = "accepted" // the agent took the job and is about to start its run
	JobRunning  = "running"  // the run has started: RunID is set
	JobFinished = "finished" // the run ended: Status is ok, failed or aborted (a stop, or the agent restarted mid-job)
	JobRejected = "rejected" // not run: Reason says why (busy with another job, a spec the agent cannot run, …)
	JobExpired  = "expired"  // the agent saw the job only after its ExpiresAt
)

// Agent states in a heartbeat.
const (
	AgentIdle    = "idle"
	AgentRunning = "running"
)

// FleetMessage is one Kafka message of the jobs or agents topic. Exactly one of Job, Stop, Heartbeat and Event is
// set, matching Type.
type FleetMessage struct {
	V         int        `json:"v"`
	Type      string     `json:"type"`
	Time      time.Time  `json:"time"` // when it was made
	Job       *Job       `json:"job,omitempty"`
	Stop      *JobStop   `json:"stop,omitempty"`
	Heartbeat *Heartbeat `json:"heartbeat,omitempty"`
	Event     *JobEvent  `json:"event,omitempty"`
}

// Job asks one agent to run one benchmark. It carries no secrets: passwords (pgbench's, MQTT's) come from the
// agent's own environment or configuration, and a spec holding one is refused at launch and by the agent.
type Job struct {
	ID      uuid.UUID         `json:"id"`
	GroupID uuid.UUID         `json:"group_id"` // shared by the jobs of one launch
	Agent   string            `json:"agent"`
	Kind    string            `json:"kind"` // KindMQTT or KindPgbench
	Spec    json.RawMessage   `json:"spec"` // the kind's spec: producer/mqttload.Spec or producer/pgbench.Spec as JSON
	Name    string            `json:"name,omitempty"`
	Tags    map[string]string `json:"tags,omitempty"` // added to the run's tags
	// ExpiresAt: an agent that sees the job only after this reports it expired and does not run it; a job no
	// agent accepted by then is shown expired (job_status).
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// JobStop asks the agent running JobID to abort its run.
type JobStop struct {
	JobID uuid.UUID `json:"job_id"`
	Agent string    `json:"agent"`
}

// Heartbeat is an agent's periodic "I am here". An agent whose last heartbeat is older than three of its
// intervals is offline.
type Heartbeat struct {
	Agent     string            `json:"agent"`
	Host      Host              `json:"host"`
	Version   string            `json:"version"` // benchpipe's version (hostinfo.Tools()["benchpipe"]), "" when unknown
	Tags      map[string]string `json:"tags,omitempty"`
	IntervalS float64           `json:"interval_s"`
	State     string            `json:"state"`            // AgentIdle or AgentRunning
	JobID     *uuid.UUID        `json:"job_id,omitempty"` // the job being run
	RunID     *uuid.UUID        `json:"run_id,omitempty"` // its run, once started
	UpSince   time.Time         `json:"up_since"`         // when this agent process started
}

// JobEvent is one state of one job on its agent.
type JobEvent struct {
	JobID  uuid.UUID  `json:"job_id"`
	Agent  string     `json:"agent"`
	State  string     `json:"state"`
	RunID  *uuid.UUID `json:"run_id,omitempty"` // running, finished
	Status Status     `json:"status,omitempty"` // finished: ok, failed or aborted
	Reason string     `json:"reason,omitempty"` // rejected, failed, aborted: why, in one line
}

// AgentNamePattern is what an agent's name may be: the device name (producer.device, else the host name).
var AgentNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// Key is the message's Kafka key: the agent's name.
func (m *FleetMessage) Key() []byte {
	switch {
	case m.Job != nil:
		return []byte(m.Job.Agent)
	case m.Stop != nil:
		return []byte(m.Stop.Agent)
	case m.Heartbeat != nil:
		return []byte(m.Heartbeat.Agent)
	case m.Event != nil:
		return []byte(m.Event.Agent)
	}
	return nil
}

// EncodeFleet validates m and returns its JSON. It sets V when zero.
func EncodeFleet(m FleetMessage) ([]byte, error) {
	if m.V == 0 {
		m.V = FleetVersion
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(m)
}

// DecodeFleet parses and validates one fleet message. Unknown fields are errors, as in Decode.
func DecodeFleet(b []byte) (FleetMessage, error) {
	var m FleetMessage
	if err := jsonv2.Unmarshal(b, &m, jsonv2.RejectUnknownMembers(true)); err != nil {
		return FleetMessage{}, describeJSONError(err)
	}
	if err := m.Validate(); err != nil {
		return FleetMessage{}, err
	}
	return m, nil
}

// Validate checks the message's invariants and returns the first problem found.
func (m *FleetMessage) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...), Err: ErrInvalid}
	}
	if m.V != FleetVersion {
		return &FieldError{Field: "v", Reason: fmt.Sprintf("fleet message version %d is not supported (this build reads %d)", m.V, FleetVersion), Err: ErrUnknownVersion}
	}
	if m.Time.IsZero() {
		return bad("time", "missing")
	}
	set := 0
	for _, p := range []bool{m.Job != nil, m.Stop != nil, m.Heartbeat != nil, m.Event != nil} {
		if p {
			set++
		}
	}
	if set != 1 {
		return bad("type", "exactly one of job, stop, heartbeat, event must be set, got %d", set)
	}
	agent := func(field, name string) error {
		if !AgentNamePattern.MatchString(name) {
			return bad(field, "%q is not an agent name (letters, digits, . _ -; at most 128)", name)
		}
		return nil
	}
	switch m.Type {
	case FleetJob:
		j := m.Job
		if j == nil {
			return bad("job", "missing for type job")
		}
		if j.ID == uuid.Nil || j.GroupID == uuid.Nil {
			return bad("job.id", "id and group_id are required")
		}
		if err := agent("job.agent", j.Agent); err != nil {
			return err
		}
		if j.Kind != KindMQTT && j.Kind != KindPgbench {
			return bad("job.kind", "%q is not mqtt or pgbench", j.Kind)
		}
		if !isJSONObject(j.Spec) {
			return bad("job.spec", "must be a JSON object")
		}
		if j.CreatedAt.IsZero() || !j.ExpiresAt.After(j.CreatedAt) {
			return bad("job.expires_at", "created_at is required and expires_at must follow it")
		}
	case FleetJobStop:
		if m.Stop == nil {
			return bad("stop", "missing for type job_stop")
		}
		if m.Stop.JobID == uuid.Nil {
			return bad("stop.job_id", "missing")
		}
		return agent("stop.agent", m.Stop.Agent)
	case FleetHeartbeat:
		h := m.Heartbeat
		if h == nil {
			return bad("heartbeat", "missing for type heartbeat")
		}
		if err := agent("heartbeat.agent", h.Agent); err != nil {
			return err
		}
		if h.IntervalS <= 0 {
			return bad("heartbeat.interval_s", "must be positive")
		}
		if h.State != AgentIdle && h.State != AgentRunning {
			return bad("heartbeat.state", "%q is not idle or running", h.State)
		}
		if (h.State == AgentRunning) != (h.JobID != nil) {
			return bad("heartbeat.job_id", "set exactly when the state is running")
		}
	case FleetJobEvent:
		e := m.Event
		if e == nil {
			return bad("event", "missing for type job_event")
		}
		if e.JobID == uuid.Nil {
			return bad("event.job_id", "missing")
		}
		if err := agent("event.agent", e.Agent); err != nil {
			return err
		}
		switch e.State {
		case JobAccepted, JobRejected, JobExpired:
		case JobRunning:
			if e.RunID == nil {
				return bad("event.run_id", "required when running")
			}
		case JobFinished:
			if e.Status != StatusOK && e.Status != StatusFailed && e.Status != StatusAborted {
				return bad("event.status", "%q is not ok, failed or aborted", e.Status)
			}
		default:
			return bad("event.state", "%q is not accepted, running, finished, rejected or expired", e.State)
		}
	default:
		return &FieldError{Field: "type", Reason: fmt.Sprintf("%q is not one of job, job_stop, heartbeat, job_event", m.Type), Err: ErrUnknownType}
	}
	return nil
}
