package schema

import (
	"encoding/json"

	"github.com/google/uuid"
)

// figureColumns are the columns a sample row and a run summary share, in the order figureValues returns them.
var figureColumns = []string{
	"ops", "ops_rate", "bytes", "errors",
	"lat_min_ms", "lat_mean_ms", "lat_p50_ms", "lat_p90_ms", "lat_p95_ms", "lat_p99_ms", "lat_p999_ms", "lat_max_ms",
	"mqtt_sent", "mqtt_received", "mqtt_lost", "mqtt_duplicated", "mqtt_out_of_order", "mqtt_offered_rate",
	"mqtt_uncorrected_p50_ms", "mqtt_uncorrected_p99_ms", "mqtt_uncorrected_max_ms",
	"pg_tps", "pg_stddev_ms", "pg_failed", "pg_retried", "pg_retries", "pg_lag_ms", "pg_skipped",
	"lat_hdr", "mqtt_uncorrected_hdr",
}

// figureValues flattens f into column values; absent groups become NULLs.
func figureValues(f *Figures) []any {
	v := make([]any, 0, len(figureColumns))
	v = append(v, f.Ops, f.OpsRate, f.Bytes, f.Errors)
	if l := f.Latency; l != nil {
		v = append(v, l.MinMs, l.MeanMs, l.P50Ms, l.P90Ms, l.P95Ms, l.P99Ms, l.P999Ms, l.MaxMs)
	} else {
		v = append(v, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	if m := f.MQTT; m != nil {
		v = append(v, m.Sent, m.Received, m.Lost, m.Duplicated, m.OutOfOrder, m.OfferedRate,
			m.UncorrectedP50Ms, m.UncorrectedP99Ms, m.UncorrectedMaxMs)
	} else {
		v = append(v, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	}
	if p := f.Pgbench; p != nil {
		v = append(v, p.TPS, p.StddevMs, p.Failed, p.Retried, p.Retries, p.LagMs, p.Skipped)
	} else {
		v = append(v, nil, nil, nil, nil, nil, nil, nil)
	}
	// The histograms as their V2 compressed bytes (bytea): what HdrHistogram libraries read, a quarter smaller
	// than the base64 text. NULL when the record has none.
	var lat, unc []byte
	if f.Latency != nil {
		lat, _ = f.Latency.Hist()
	}
	if f.MQTT != nil {
		unc, _ = f.MQTT.UncorrectedHist()
	}
	return append(v, nullBytes(lat), nullBytes(unc))
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// SampleHists returns the latency histograms of a sample record, decoded: the corrected and, for MQTT, the
// uncorrected one. Empty Hists when the record carries none.
func (r *Record) SampleHists() (lat, uncorrected Hist) {
	f := &r.Sample.Figures
	if f.Latency != nil {
		_, lat = f.Latency.Hist()
	}
	if f.MQTT != nil {
		_, uncorrected = f.MQTT.UncorrectedHist()
	}
	return lat, uncorrected
}

// SampleColumns are the columns of the samples table in SampleRow order.
var SampleColumns = append([]string{"run_id", "seq", "interval_start", "interval_end", "phase"}, figureColumns...)

// SampleRow returns the samples-table row of a sample record, in SampleColumns order.
func (r *Record) SampleRow() []any {
	s := r.Sample
	return append([]any{r.RunID, r.Seq, s.Start, s.End, string(s.Phase)}, figureValues(&s.Figures)...)
}

// RunStartedColumns are the runs columns a run_started record sets, in RunStartedRow order.
var RunStartedColumns = []string{
	"run_id", "kind", "name", "tags", "parameters",
	"target_url", "target_host", "target_port", "target_database", "target_version",
	"host_name", "host_os", "host_kernel", "host_arch", "host_cpu_model", "host_cpu_cores", "host_memory_bytes",
	"host_device_model", "tools", "started_at", "job_id", "group_id",
}

// RunStartedRow returns the runs-table values of a run_started record, in RunStartedColumns order.
func (r *Record) RunStartedRow() []any {
	s := r.Started
	params := s.Parameters
	if len(params) == 0 {
		params = json.RawMessage("{}")
	}
	return []any{
		r.RunID, s.Kind, nullString(s.Name), jsonObject(s.Tags), params,
		nullString(s.Target.URL), nullString(s.Target.Host), nullInt(s.Target.Port), nullString(s.Target.Database), nullString(s.Target.Version),
		s.Host.Hostname, nullString(s.Host.OS), nullString(s.Host.Kernel), nullString(s.Host.Arch), nullString(s.Host.CPUModel),
		nullInt(s.Host.CPUCores), nullInt64(s.Host.MemoryBytes), nullString(s.Host.DeviceModel), jsonObject(s.Tools), s.StartedAt,
		nullUUID(s.JobID), nullUUID(s.GroupID), // NULL for a run started by hand
	}
}

// RunFinishedColumns are the runs columns a run_finished record sets, in RunFinishedRow order.
var RunFinishedColumns = append([]string{"run_id", "status", "error", "finished_at", "measure_start", "measure_end"},
	append(append([]string{}, figureColumns...), "summary_extra")...)

// RunFinishedRow returns the runs-table values of a run_finished record, in RunFinishedColumns order.
func (r *Record) RunFinishedRow() []any {
	f := r.Finished
	row := []any{r.RunID, string(f.Status), nullString(f.Error), f.FinishedAt}
	if s := f.Summary; s != nil {
		row = append(row, s.Start, s.End)
		row = append(row, figureValues(&s.Figures)...)
		if len(s.Extra) > 0 {
			row = append(row, s.Extra)
		} else {
			row = append(row, nil)
		}
		return row
	}
	row = append(row, nil, nil)
	for range figureColumns {
		row = append(row, nil)
	}
	return append(row, nil)
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullUUID(u *uuid.UUID) any {
	if u == nil {
		return nil
	}
	return *u
}

func nullInt(i int) any {
	if i == 0 {
		return nil
	}
	return i
}

func nullInt64(i int64) any {
	if i == 0 {
		return nil
	}
	return i
}

func jsonObject(m map[string]string) json.RawMessage {
	if len(m) == 0 {
		return json.RawMessage("{}")
	}
	b, _ := json.Marshal(m)
	return b
}
