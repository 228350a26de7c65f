package compare

import (
	"encoding/json"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/schema"
)

// The queries this package sends. go-graphql-client builds each document from the struct's graphql tags; every
// value comes in a variable, typed by the Go type of the value (see scalars.go). contract_test.go checks each
// document against the Hasura metadata in deploy/hasura, so a field the anonymous role may not read fails there
// before it fails in production.

// runFields are the columns of runs that a comparison reads, with the run's measurement-phase samples
// (relationship runs.samples).
type runFields struct {
	RunID        uuidScalar   `graphql:"run_id"`
	Kind         string       `graphql:"kind"`
	Name         *string      `graphql:"name"`
	Tags         jsonb        `graphql:"tags" scalar:"true"`
	Parameters   jsonb        `graphql:"parameters" scalar:"true"`
	HostName     *string      `graphql:"host_name"`
	StartedAt    *timestamptz `graphql:"started_at"`
	Status       string       `graphql:"status"`
	Error        *string      `graphql:"error"`
	FinishedAt   *timestamptz `graphql:"finished_at"`
	MeasureStart *timestamptz `graphql:"measure_start"`
	MeasureEnd   *timestamptz `graphql:"measure_end"`

	OpsRate        *float8 `graphql:"ops_rate"`
	Errors         *bigint `graphql:"errors"`
	LatP50         *float8 `graphql:"lat_p50_ms"`
	LatP90         *float8 `graphql:"lat_p90_ms"`
	LatP99         *float8 `graphql:"lat_p99_ms"`
	LatP999        *float8 `graphql:"lat_p999_ms"`
	MQTTLost       *bigint `graphql:"mqtt_lost"`
	MQTTDuplicated *bigint `graphql:"mqtt_duplicated"`
	MQTTOutOfOrder *bigint `graphql:"mqtt_out_of_order"`
	PgTPS          *float8 `graphql:"pg_tps"`
	PgFailed       *bigint `graphql:"pg_failed"`

	Samples []sampleFields `graphql:"samples(where: {phase: {_eq: $phase}}, order_by: {seq: asc})"`
}

// sampleFields are the columns of one per-second sample that a comparison reads.
type sampleFields struct {
	Seq           bigint      `graphql:"seq"`
	IntervalStart timestamptz `graphql:"interval_start"`
	IntervalEnd   timestamptz `graphql:"interval_end"`
	OpsRate       float8      `graphql:"ops_rate"`
	Errors        bigint      `graphql:"errors"`
	LatP50        *float8     `graphql:"lat_p50_ms"`
	LatP90        *float8     `graphql:"lat_p90_ms"`
	LatP99        *float8     `graphql:"lat_p99_ms"`
	LatP999       *float8     `graphql:"lat_p999_ms"`
}

// runQuery fetches one run by id (null when there is none).
type runQuery struct {
	Run *runFields `graphql:"runs_by_pk(run_id: $id)"`
}

func runVars(id uuid.UUID) map[string]any {
	return map[string]any{"id": uuidScalar(id), "phase": string(schema.PhaseMeasure)}
}

// statusQuery polls a run's state while waiting for it to finish.
type statusQuery struct {
	Run *struct {
		Status    string       `graphql:"status"`
		StartedAt *timestamptz `graphql:"started_at"`
	} `graphql:"runs_by_pk(run_id: $id)"`
}

func statusVars(id uuid.UUID) map[string]any { return map[string]any{"id": uuidScalar(id)} }

// baselineRow is a candidate baseline.
type baselineRow struct {
	RunID uuidScalar `graphql:"run_id"`
}

// The "last" baseline: the most recent run before the candidate that finished ok, of the same kind, on the same
// device, with equal parameters (jsonb equality, so key order and spacing do not matter). One query per tag rule,
// since a document is fixed text and tags are either ignored, equal, or contained.
type (
	baselineQuery struct {
		Runs []baselineRow `graphql:"runs(where: {run_id: {_neq: $id}, kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lt: $before}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 1)"`
	}
	baselineSameTagsQuery struct {
		Runs []baselineRow `graphql:"runs(where: {run_id: {_neq: $id}, kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lt: $before}, tags: {_eq: $tags}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 1)"`
	}
	baselineTagsContainQuery struct {
		Runs []baselineRow `graphql:"runs(where: {run_id: {_neq: $id}, kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lt: $before}, tags: {_contains: $tags}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 1)"`
	}
)

// baselineVars are the variables of the baseline queries; tags is nil when tags are ignored.
func baselineVars(id uuid.UUID, kind, host string, parameters json.RawMessage, before timestamptz, tags json.RawMessage) map[string]any {
	v := map[string]any{
		"id":         uuidScalar(id),
		"kind":       kind,
		"host":       host,
		"parameters": jsonb(parameters),
		"status":     string(schema.StatusOK),
		"before":     before,
	}
	if tags != nil {
		v["tags"] = jsonb(tags)
	}
	return v
}

// HistoryLimit is the most runs a history holds: the most recent ones, enough for change points (Otava's
// default window is 30 runs) without fetching every second of years of nightly runs. The history queries' limit
// is this number, written out in their documents.
const HistoryLimit = 200

// historyRun is one run of a history with its measurement-phase samples.
type historyRun struct {
	RunID     uuidScalar     `graphql:"run_id"`
	Name      *string        `graphql:"name"`
	StartedAt *timestamptz   `graphql:"started_at"`
	Samples   []sampleFields `graphql:"samples(where: {phase: {_eq: $phase}}, order_by: {seq: asc})"`
}

// The history of a run: the comparable runs (as for the "last" baseline: same kind, device and parameters,
// finished ok, and by the tag rule) that started no later than it, most recent first, up to HistoryLimit.
type (
	historyQuery struct {
		Runs []historyRun `graphql:"runs(where: {kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lte: $before}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 200)"`
	}
	historySameTagsQuery struct {
		Runs []historyRun `graphql:"runs(where: {kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lte: $before}, tags: {_eq: $tags}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 200)"`
	}
	historyTagsContainQuery struct {
		Runs []historyRun `graphql:"runs(where: {kind: {_eq: $kind}, host_name: {_eq: $host}, parameters: {_eq: $parameters}, status: {_eq: $status}, started_at: {_lte: $before}, tags: {_contains: $tags}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 200)"`
	}
)

// historyVars are the variables of the history queries; tags is nil when tags are ignored.
func historyVars(kind, host string, parameters json.RawMessage, before timestamptz, tags json.RawMessage) map[string]any {
	v := map[string]any{
		"kind":       kind,
		"host":       host,
		"parameters": jsonb(parameters),
		"status":     string(schema.StatusOK),
		"before":     before,
		"phase":      string(schema.PhaseMeasure),
	}
	if tags != nil {
		v["tags"] = jsonb(tags)
	}
	return v
}

// latestQuery finds the most recent run of a kind on a device that finished ok (producer history --kind
// --device).
type latestQuery struct {
	Runs []baselineRow `graphql:"runs(where: {kind: {_eq: $kind}, host_name: {_eq: $host}, status: {_eq: $status}}, order_by: [{started_at: desc}, {run_id: desc}], limit: 1)"`
}

func latestVars(kind, host string) map[string]any {
	return map[string]any{"kind": kind, "host": host, "status": string(schema.StatusOK)}
}
