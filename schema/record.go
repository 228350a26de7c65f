// Package schema is benchpipe's record contract: the JSON records every producer publishes to Kafka and the sink
// writes to PostgreSQL, the SQL migrations that create the tables they land in, and a JSON Schema
// (record.schema.json) so producers written in other languages can publish too.
//
// A run produces an ordered stream of records, all keyed by the run id:
//
//	seq 0        run_started   what runs where (kind, name, tags, parameters, target, host facts, tool versions)
//	seq 1..n     sample        one per measurement interval
//	seq n+1      run_finished  status, error text and the summary of the measurement phase
//
// A run that watches a database cluster (pgbench --observe) adds observation records, one per round of probes,
// numbered in the same sequence as its samples (see observation.go).
//
// (run_id, seq) identifies a record, so a redelivered record is recognised and written once.
package schema

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Version is the record format version this package writes. Decode also reads the older versions back to
// MinVersion and rejects any other.
//
//	1  the first contract
//	2  latency histograms: Latency.HDR, MQTTFigures.UncorrectedHDR (a version 1 record has none)
const (
	Version    = 2
	MinVersion = 1
)

// Record types.
const (
	TypeRunStarted  = "run_started"
	TypeSample      = "sample"
	TypeRunFinished = "run_finished"
	// TypeObservation (observation.go) is the fourth.
)

// Run kinds known to benchpipe. Other producers may use their own kind names.
const (
	KindMQTT    = "mqtt"
	KindPgbench = "pgbench"
)

// Status is the final state of a run. A run that has started but not finished is "running" in the database.
type Status string

// Run states.
const (
	StatusRunning Status = "running"
	StatusOK      Status = "ok"
	StatusFailed  Status = "failed"
	StatusAborted Status = "aborted"
)

// Phase tells whether a sample belongs to the warm-up (excluded from a run's totals) or to the measurement.
type Phase string

// Sample phases.
const (
	PhaseWarmup  Phase = "warmup"
	PhaseMeasure Phase = "measure"
)

// Record is one Kafka message. Exactly one of Started, Sample, Finished and Observation is set, matching Type.
type Record struct {
	V        int       `json:"v"`
	Type     string    `json:"type"`
	RunID    uuid.UUID `json:"run_id"`
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"` // when the producer made the record
	Started  *Started  `json:"started,omitempty"`
	Sample   *Sample   `json:"sample,omitempty"`
	Finished *Finished `json:"finished,omitempty"`

	Observation *Observation `json:"observation,omitempty"`
}

// Key is the Kafka record key: the run id, so that all records of a run stay in order on one partition.
func (r *Record) Key() []byte { return []byte(r.RunID.String()) }

// Started describes a run as it begins.
type Started struct {
	Kind       string            `json:"kind"`
	Name       string            `json:"name,omitempty"`
	Tags       map[string]string `json:"tags,omitempty"`
	Parameters json.RawMessage   `json:"parameters,omitempty"` // kind-specific, a JSON object
	Target     Target            `json:"target"`
	Host       Host              `json:"host"`
	Tools      map[string]string `json:"tools,omitempty"` // tool name → version, e.g. "pgbench": "15.18"
	StartedAt  time.Time         `json:"started_at"`
	// JobID and GroupID name the fleet job that launched the run (see fleet.go); nil for a run started by hand.
	JobID   *uuid.UUID `json:"job_id,omitempty"`
	GroupID *uuid.UUID `json:"group_id,omitempty"`
}

// Target is what the run measured, with credentials removed (see RedactURL).
type Target struct {
	URL      string `json:"url,omitempty"`
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	Database string `json:"database,omitempty"`
	Version  string `json:"version,omitempty"` // server version as the target reports it
}

// Host holds facts about the machine that generated the load.
type Host struct {
	Hostname    string `json:"hostname"`
	OS          string `json:"os,omitempty"`
	Kernel      string `json:"kernel,omitempty"`
	Arch        string `json:"arch,omitempty"`
	CPUModel    string `json:"cpu_model,omitempty"`
	CPUCores    int    `json:"cpu_cores,omitempty"`
	MemoryBytes int64  `json:"memory_bytes,omitempty"`
	DeviceModel string `json:"device_model,omitempty"` // e.g. "Raspberry Pi 4 Model B Rev 1.4"
}

// Figures are the measured values shared by a sample (one interval) and a run summary (the whole measurement).
// Optional groups are nil when they do not apply: Latency when no operation completed, MQTT and Pgbench for the
// other kinds.
type Figures struct {
	Ops     int64           `json:"ops"`
	OpsRate float64         `json:"ops_rate"` // operations per second
	Bytes   int64           `json:"bytes,omitempty"`
	Errors  int64           `json:"errors"`
	Latency *Latency        `json:"latency,omitempty"`
	MQTT    *MQTTFigures    `json:"mqtt,omitempty"`
	Pgbench *PgbenchFigures `json:"pgbench,omitempty"`
}

// Latency is a latency distribution in milliseconds.
//
// HDR (since version 2) is the whole distribution the figures were taken from: an HdrHistogram of the contract's
// geometry (see HistSigFigs) in microseconds, in the V2 compressed encoding as base64 text, which HdrHistogram
// libraries in Go, Java, JavaScript, Python, C and Rust read. Histograms of samples merge into the histogram of
// any window, exactly to the histogram's precision, which percentiles cannot. Empty when the producer keeps none.
type Latency struct {
	MinMs  float64 `json:"min_ms"`
	MeanMs float64 `json:"mean_ms"`
	P50Ms  float64 `json:"p50_ms"`
	P90Ms  float64 `json:"p90_ms"`
	P95Ms  float64 `json:"p95_ms"`
	P99Ms  float64 `json:"p99_ms"`
	P999Ms float64 `json:"p999_ms"`
	MaxMs  float64 `json:"max_ms"`
	HDR    string  `json:"hdr,omitempty"`

	hdr histCache // HDR decoded by Validate
}

// MQTTFigures are the MQTT-specific figures. Latency in Figures is end-to-end from the intended send time
// (corrected for coordinated omission); the Uncorrected fields measure from the actual send time.
type MQTTFigures struct {
	Sent             int64   `json:"sent"`
	Received         int64   `json:"received"`
	Lost             int64   `json:"lost"`
	Duplicated       int64   `json:"duplicated"`
	OutOfOrder       int64   `json:"out_of_order"`
	OfferedRate      float64 `json:"offered_rate,omitempty"` // scheduled messages per second; 0 = unthrottled
	UncorrectedP50Ms float64 `json:"uncorrected_p50_ms,omitempty"`
	UncorrectedP99Ms float64 `json:"uncorrected_p99_ms,omitempty"`
	UncorrectedMaxMs float64 `json:"uncorrected_max_ms,omitempty"`
	UncorrectedHDR   string  `json:"uncorrected_hdr,omitempty"` // since version 2; as Latency.HDR

	uncorrectedHDR histCache
}

// PgbenchFigures are the pgbench-specific figures, as pgbench reports them.
type PgbenchFigures struct {
	TPS      float64 `json:"tps"`
	StddevMs float64 `json:"stddev_ms,omitempty"`
	Failed   int64   `json:"failed"`
	Retried  int64   `json:"retried,omitempty"`
	Retries  int64   `json:"retries,omitempty"`
	LagMs    float64 `json:"lag_ms,omitempty"` // schedule lag (with -R)
	Skipped  int64   `json:"skipped,omitempty"`
}

// Sample is one measurement interval. An operation counts in the interval in which it completed.
type Sample struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Phase Phase     `json:"phase"`
	Figures
}

// Finished closes a run.
type Finished struct {
	Status     Status    `json:"status"`
	Error      string    `json:"error,omitempty"`
	FinishedAt time.Time `json:"finished_at"`
	Summary    *Summary  `json:"summary,omitempty"` // nil when the run failed before measuring anything
}

// Summary covers the measurement phase of a run (warm-up excluded).
type Summary struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Figures
	// Extra holds kind-specific results that have no column, e.g. pgbench's own parsed summary and any
	// disagreement between it and benchpipe's totals. A JSON object.
	Extra json.RawMessage `json:"extra,omitempty"`
}
