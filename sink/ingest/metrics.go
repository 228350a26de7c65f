package ingest

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

type metrics struct {
	reg          *prometheus.Registry // nil when the caller registered elsewhere
	consumed     *prometheus.CounterVec
	written      *prometheus.CounterVec
	deadLettered *prometheus.CounterVec
	rows         *prometheus.CounterVec
	duplicates   *prometheus.CounterVec
	replayed     prometheus.Counter
	dedupBatches prometheus.Counter
	batchRecords prometheus.Histogram
	writeSeconds prometheus.Histogram
	endToEnd     prometheus.Histogram
	writeErrors  prometheus.Counter
	fetchErrors  prometheus.Counter
	lag          *prometheus.GaugeVec
	kafkaResets  *prometheus.CounterVec
	positionGaps prometheus.Counter
}

func newMetrics(r prometheus.Registerer) *metrics {
	m := &metrics{}
	if r == nil {
		m.reg = prometheus.NewRegistry()
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		r = m.reg
	}
	f := func(c prometheus.Collector) prometheus.Collector { r.MustRegister(c); return c }
	m.consumed = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_records_consumed_total", Help: "Records read from Kafka."}, []string{"topic"})).(*prometheus.CounterVec)
	m.written = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_records_written_total", Help: "Records committed to the database (including ones already present by key)."}, []string{"topic"})).(*prometheus.CounterVec)
	m.deadLettered = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_records_dead_lettered_total", Help: "Records sent to the dead-letter topic."}, []string{"topic"})).(*prometheus.CounterVec)
	m.rows = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_rows_total", Help: "Rows inserted or updated, by table."}, []string{"table"})).(*prometheus.CounterVec)
	m.duplicates = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_duplicate_rows_total", Help: "Rows dropped because their key was already written (a producer resent them)."}, []string{"table"})).(*prometheus.CounterVec)
	m.replayed = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "benchpipe_sink_replayed_records_total", Help: "Records read again below the stored position (after a crash or rebalance) and skipped."})).(prometheus.Counter)
	m.dedupBatches = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "benchpipe_sink_dedup_batches_total", Help: "Batches that held an already-written key and went through the staging table."})).(prometheus.Counter)
	m.batchRecords = f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "benchpipe_sink_batch_records", Help: "Records per committed batch.", Buckets: prometheus.ExponentialBuckets(1, 4, 10)})).(prometheus.Histogram)
	m.writeSeconds = f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "benchpipe_sink_write_seconds", Help: "Time to write and commit one batch.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)})).(prometheus.Histogram)
	m.endToEnd = f(prometheus.NewHistogram(prometheus.HistogramOpts{Name: "benchpipe_sink_produce_to_commit_seconds", Help: "From the Kafka record timestamp to the database commit.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)})).(prometheus.Histogram)
	m.writeErrors = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "benchpipe_sink_write_errors_total", Help: "Failed write attempts (retried)."})).(prometheus.Counter)
	m.fetchErrors = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "benchpipe_sink_fetch_errors_total", Help: "Kafka fetch errors."})).(prometheus.Counter)
	m.lag = f(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "benchpipe_sink_consumer_lag", Help: "Records in the partition not yet written (high watermark minus stored position)."}, []string{"topic", "partition"})).(*prometheus.GaugeVec)
	m.kafkaResets = f(prometheus.NewCounterVec(prometheus.CounterOpts{Name: "benchpipe_sink_kafka_resets_total", Help: "Partitions found with stored positions only for another Kafka cluster or topic incarnation (Kafka replaced or the topic recreated, database kept); consumed again from the start."}, []string{"topic"})).(*prometheus.CounterVec)
	m.positionGaps = f(prometheus.NewCounter(prometheus.CounterOpts{Name: "benchpipe_sink_position_gaps_total", Help: "Partitions of a batch not written because the batch did not start where the stored position ends (an earlier batch was not written); their records are read again."})).(prometheus.Counter)
	return m
}

// Handler serves /metrics, /healthz (the process is alive) and /readyz (see Ready).
func (s *Sink) Handler() http.Handler {
	mux := http.NewServeMux()
	if s.m.reg != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}))
	} else {
		mux.Handle("GET /metrics", promhttp.Handler())
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ready(r.Context()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	return mux
}
