package schema

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// figureColumns are the columns a sample row and a run summary share, in the order writeFigures writes them.
var figureColumns = []string{
	"ops", "ops_rate", "bytes", "errors",
	"lat_min_ms", "lat_mean_ms", "lat_p50_ms", "lat_p90_ms", "lat_p95_ms", "lat_p99_ms", "lat_p999_ms", "lat_max_ms",
	"mqtt_sent", "mqtt_received", "mqtt_lost", "mqtt_duplicated", "mqtt_out_of_order", "mqtt_offered_rate",
	"mqtt_uncorrected_p50_ms", "mqtt_uncorrected_p99_ms", "mqtt_uncorrected_max_ms",
	"pg_tps", "pg_stddev_ms", "pg_failed", "pg_retried", "pg_retries", "pg_lag_ms", "pg_skipped",
	"lat_hdr", "mqtt_uncorrected_hdr",
}

// RowWriter takes a row's values in column order. Values collects them as []any for pgx; the sink's COPY
// encoder (internal/pgcopy.Row) encodes each as it comes, so the sink's most frequent row, a sample's, is never
// boxed value by value into a []any.
type RowWriter interface {
	Int64(int64)
	Float64(float64)
	Time(time.Time)
	UUID(uuid.UUID)
	String(string)
	Bytes([]byte) // a nil slice is NULL
	Null()
}

// Values is a row as []any, the form pgx takes: a RowWriter that appends each value.
type Values []any

func (v *Values) Int64(n int64)     { *v = append(*v, n) }
func (v *Values) Float64(f float64) { *v = append(*v, f) }
func (v *Values) Time(t time.Time)  { *v = append(*v, t) }
func (v *Values) UUID(u uuid.UUID)  { *v = append(*v, u) }
func (v *Values) String(s string)   { *v = append(*v, s) }
func (v *Values) Null()             { *v = append(*v, nil) }

// Bytes appends b, or an untyped nil for a nil slice (pgx writes either as NULL).
func (v *Values) Bytes(b []byte) {
	if b == nil {
		v.Null()
		return
	}
	*v = append(*v, b)
}

// writeFigures writes f's columns (figureColumns); absent groups are NULLs.
func writeFigures(w RowWriter, f *Figures) {
	w.Int64(f.Ops)
	w.Float64(f.OpsRate)
	w.Int64(f.Bytes)
	w.Int64(f.Errors)
	if l := f.Latency; l != nil {
		for _, x := range [...]float64{l.MinMs, l.MeanMs, l.P50Ms, l.P90Ms, l.P95Ms, l.P99Ms, l.P999Ms, l.MaxMs} {
			w.Float64(x)
		}
	} else {
		nulls(w, 8)
	}
	if m := f.MQTT; m != nil {
		for _, n := range [...]int64{m.Sent, m.Received, m.Lost, m.Duplicated, m.OutOfOrder} {
			w.Int64(n)
		}
		for _, x := range [...]float64{m.OfferedRate, m.UncorrectedP50Ms, m.UncorrectedP99Ms, m.UncorrectedMaxMs} {
			w.Float64(x)
		}
	} else {
		nulls(w, 9)
	}
	if p := f.Pgbench; p != nil {
		w.Float64(p.TPS)
		w.Float64(p.StddevMs)
		w.Int64(p.Failed)
		w.Int64(p.Retried)
		w.Int64(p.Retries)
		w.Float64(p.LagMs)
		w.Int64(p.Skipped)
	} else {
		nulls(w, 7)
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
	w.Bytes(lat)
	w.Bytes(unc)
}

func nulls(w RowWriter, n int) {
	for range n {
		w.Null()
	}
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
	v := make(Values, 0, len(SampleColumns))
	r.WriteSampleRow(&v)
	return v
}

// WriteSampleRow writes the samples-table row of a sample record to w, in SampleColumns order.
func (r *Record) WriteSampleRow(w RowWriter) {
	s := r.Sample
	w.UUID(r.RunID)
	w.Int64(r.Seq)
	w.Time(s.Start)
	w.Time(s.End)
	w.String(string(s.Phase))
	writeFigures(w, &s.Figures)
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
	row := make(Values, 0, len(RunFinishedColumns))
	row = append(row, r.RunID, string(f.Status), nullString(f.Error), f.FinishedAt)
	s := f.Summary
	if s == nil {
		nulls(&row, len(RunFinishedColumns)-len(row))
		return row
	}
	row = append(row, s.Start, s.End)
	writeFigures(&row, &s.Figures)
	if len(s.Extra) > 0 {
		return append(row, s.Extra)
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
