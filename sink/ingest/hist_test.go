package ingest_test

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// histRun is a version 2 run whose samples carry histograms of known raw latencies (µs), as an MQTT subscriber
// saw them: corrected (from the intended send time) and uncorrected (from the actual send time).
type histRun struct {
	id      uuid.UUID
	recs    []schema.Record
	raw     map[int64][2][]int64 // seq → corrected, uncorrected latencies
	phase   map[int64]schema.Phase
	minute  map[int64]time.Time
	samples int
}

// makeHistRun builds run_started, n one-second samples (the first two warm-up) of about perSample latencies each,
// starting at t0, and run_finished whose summary holds the whole measurement's histogram.
func makeHistRun(seed uint64, n, perSample int, t0 time.Time, host string, tags map[string]string) *histRun {
	rng := rand.New(rand.NewPCG(seed, 99))
	hr := &histRun{id: uuid.Must(uuid.NewV7()), raw: map[int64][2][]int64{}, phase: map[int64]schema.Phase{}, minute: map[int64]time.Time{}, samples: n}
	hr.recs = append(hr.recs, schema.Record{V: schema.Version, Type: schema.TypeRunStarted, RunID: hr.id, Time: t0, Started: &schema.Started{
		Kind: schema.KindMQTT, Name: "hist", Tags: tags, Host: schema.Host{Hostname: host}, StartedAt: t0}})
	total, totalUnc := schema.NewHist(), schema.NewHist()
	for i := 1; i <= n; i++ {
		start := t0.Add(time.Duration(i-1) * time.Second)
		phase := schema.PhaseMeasure
		if i <= 2 {
			phase = schema.PhaseWarmup
		}
		k := perSample/2 + rng.IntN(perSample)
		var cor, unc []int64
		for range k {
			u := int64(200 + rng.ExpFloat64()*600)
			if rng.IntN(500) == 0 {
				u *= 40 // a stall
			}
			cor, unc = append(cor, u+int64(rng.IntN(300))), append(unc, u)
		}
		h, hu := histOfValues(cor), histOfValues(unc)
		if phase == schema.PhaseMeasure {
			total.Merge(h)
			totalUnc.Merge(hu)
		}
		seq := int64(i)
		hr.raw[seq] = [2][]int64{cor, unc}
		hr.phase[seq] = phase
		hr.minute[seq] = start.UTC().Truncate(time.Minute)
		m := &schema.MQTTFigures{Sent: int64(k), Received: int64(k), OfferedRate: 1000, UncorrectedHDR: encode(hu)}
		hr.recs = append(hr.recs, schema.Record{V: schema.Version, Type: schema.TypeSample, RunID: hr.id, Seq: seq, Time: start.Add(time.Second),
			Sample: &schema.Sample{Start: start, End: start.Add(time.Second), Phase: phase,
				Figures: schema.Figures{Ops: int64(k), OpsRate: float64(k), Latency: latencyOf(h), MQTT: m}}})
	}
	end := t0.Add(time.Duration(n) * time.Second)
	hr.recs = append(hr.recs, schema.Record{V: schema.Version, Type: schema.TypeRunFinished, RunID: hr.id, Seq: int64(n + 1), Time: end,
		Finished: &schema.Finished{Status: schema.StatusOK, FinishedAt: end, Summary: &schema.Summary{Start: t0.Add(2 * time.Second), End: end,
			Figures: schema.Figures{Ops: total.TotalCount(), Latency: latencyOf(total), MQTT: &schema.MQTTFigures{UncorrectedHDR: encode(totalUnc)}}}}})
	return hr
}

func histOfValues(vs []int64) *hdrhistogram.Histogram {
	h := schema.NewHist()
	for _, v := range vs {
		_ = h.RecordValue(v)
	}
	return h
}

func encode(h *hdrhistogram.Histogram) string {
	s, err := schema.EncodeHist(h)
	if err != nil {
		panic(err)
	}
	return s
}

func latencyOf(h *hdrhistogram.Histogram) *schema.Latency {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	l := &schema.Latency{MinMs: ms(h.Min()), P50Ms: ms(h.ValueAtPercentile(50)), P90Ms: ms(h.ValueAtPercentile(90)),
		P95Ms: ms(h.ValueAtPercentile(95)), P99Ms: ms(h.ValueAtPercentile(99)), P999Ms: ms(h.ValueAtPercentile(99.9)),
		MaxMs: ms(h.Max()), HDR: encode(h)}
	l.MeanMs = min(max(h.Mean()/1000, l.MinMs), l.MaxMs)
	return l
}

// whole returns the histogram of every raw latency of the given samples (series 0 corrected, 1 uncorrected):
// what a single histogram of the whole window would hold, built without any per-sample histogram.
func (hr *histRun) whole(series int, keep func(seq int64) bool) *hdrhistogram.Histogram {
	h := schema.NewHist()
	for seq, r := range hr.raw {
		if keep(seq) {
			for _, v := range r[series] {
				_ = h.RecordValue(v)
			}
		}
	}
	return h
}

func (hr *histRun) measured(seq int64) bool { return hr.phase[seq] == schema.PhaseMeasure }

// percentilesRow is a latency_percentiles row.
type percentilesRow struct {
	Series                             string
	Count                              int64
	P50Ms, P90Ms, P99Ms, P999Ms, MaxMs float64
}

func queryPercentiles(t *testing.T, conn *pgx.Conn, sql string, args ...any) map[string]percentilesRow {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[percentilesRow])
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	out := map[string]percentilesRow{}
	for _, r := range got {
		out[r.Series] = r
	}
	return out
}

// wantPercentiles is what HdrHistogram reports for h, in the function's row form.
func wantPercentiles(series string, h *hdrhistogram.Histogram) percentilesRow {
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return percentilesRow{series, h.TotalCount(), ms(h.ValueAtPercentile(50)), ms(h.ValueAtPercentile(90)),
		ms(h.ValueAtPercentile(99)), ms(h.ValueAtPercentile(99.9)), ms(h.Max())}
}

// checkExact asserts the database's percentiles are HdrHistogram's, exactly.
func checkExact(t *testing.T, what string, got map[string]percentilesRow, want ...percentilesRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d series %v, want %d", what, len(got), got, len(want))
	}
	for _, w := range want {
		if g := got[w.Series]; g != w {
			t.Errorf("%s %s:\n got %+v\nwant %+v (HdrHistogram of the whole window)", what, w.Series, g, w)
		}
	}
}

// checkRaw asserts p (ms) is the bucket of the exact order statistic of raw for percentile q: at or above it, by
// less than the bucket width (2 significant digits: 1/128 of the value, and 1 µs below 256 µs).
func checkRaw(t *testing.T, what string, q float64, p float64, raw []int64) {
	t.Helper()
	s := slices.Clone(raw)
	slices.Sort(s)
	rank := min(max(int(q/100*float64(len(s))+0.5), 1), len(s))
	exact := float64(s[rank-1])
	got := p * 1000
	if got < exact || got > exact+math.Max(exact/128, 1) {
		t.Errorf("%s p%v = %v µs, exact order statistic %v µs: not within the histogram's precision", what, q, got, exact)
	}
}

func (hr *histRun) rawOf(series int, keep func(seq int64) bool) []int64 {
	var out []int64
	for seq, r := range hr.raw {
		if keep(seq) {
			out = append(out, r[series]...)
		}
	}
	return out
}

// The sink merges every sample's histograms into samples_hist_1m once, however the samples arrive: a producer's
// resend in the same batch (the staging-table path) and in a later batch. The database's percentiles of a run,
// a window, a set of runs, a tag set and a device-day equal HdrHistogram's percentiles of the histogram of all
// their raw latencies exactly, and the raw latencies' exact order statistics within the histogram's precision.
// The readers (Hasura's and Grafana's roles, as deployed) can call every function.
func TestHistogramsMergeExactlyOnce(t *testing.T) {
	d := testenv.Deployed(t)
	e := newEnv(t, d.OwnerURL)
	// Run a crosses an hour boundary, so both rollups get two buckets of it.
	t0 := time.Now().UTC().Truncate(time.Hour).Add(-2*time.Minute + 17*time.Second)
	a := makeHistRun(1, 200, 1000, t0, "pi-1", map[string]string{"launch": "L1"})
	b := makeHistRun(2, 90, 400, t0.Add(30*time.Second), "pi-2", map[string]string{"launch": "L1"})

	// Run a in two halves with an overlap (a producer resending after a crash), b whole and then half again,
	// all before the sink starts so that resent copies share batches with their originals too.
	produce(t, e.brokers, e.topic, a.recs[:151])
	produce(t, e.brokers, e.topic, b.recs)
	produce(t, e.brokers, e.topic, b.recs[40:])
	e.startSink(t)
	conn := connect(t, e.dbURL)
	waitRows(t, conn, "samples", 150+90, 30*time.Second)
	produce(t, e.brokers, e.topic, a.recs[100:]) // 51 already written, 50 new, run_finished
	waitFor(t, 30*time.Second, "every record consumed", func() (bool, string) {
		n := count(t, conn, "SELECT coalesce(sum(next_offset), 0) FROM benchpipe.sink_offsets")
		return n == int64(151+len(b.recs)+len(b.recs)-40+len(a.recs)-100), ""
	})

	if n := count(t, conn, "SELECT count(*) FROM samples"); n != 290 {
		t.Fatalf("samples = %d, want 290", n)
	}
	for _, hr := range []*histRun{a, b} {
		if n := count(t, conn, "SELECT sum(samples) FROM samples_hist_1m WHERE run_id = $1", hr.id); n != int64(hr.samples) {
			t.Fatalf("run %s: samples_hist_1m holds %d samples, want exactly %d", hr.id, n, hr.samples)
		}
		checkRollups(t, conn, hr)
	}

	reader := connect(t, d.HasuraURL)
	// A whole run.
	for _, hr := range []*histRun{a, b} {
		got := queryPercentiles(t, reader, "SELECT * FROM run_latency_percentiles($1)", hr.id)
		checkExact(t, "run", got, wantPercentiles("latency", hr.whole(0, hr.measured)), wantPercentiles("uncorrected", hr.whole(1, hr.measured)))
		raw := hr.rawOf(0, hr.measured)
		for q, p := range map[float64]float64{50: got["latency"].P50Ms, 90: got["latency"].P90Ms, 99: got["latency"].P99Ms, 99.9: got["latency"].P999Ms, 100: got["latency"].MaxMs} {
			checkRaw(t, "run", q, p, raw)
		}
		// The producer's summary (its own whole-run histogram) says the same.
		var p99, max float64
		if err := reader.QueryRow(context.Background(), "SELECT lat_p99_ms, lat_max_ms FROM runs WHERE run_id = $1", hr.id).Scan(&p99, &max); err != nil {
			t.Fatal(err)
		}
		if p99 != got["latency"].P99Ms || max != got["latency"].MaxMs {
			t.Errorf("run summary p99/max %v/%v, merged %v/%v", p99, max, got["latency"].P99Ms, got["latency"].MaxMs)
		}
	}
	// A window across the hour boundary: minutes [1, 3) of run a, warm-up included.
	from, to := t0.Truncate(time.Minute).Add(1*time.Minute), t0.Truncate(time.Minute).Add(3*time.Minute)
	inWindow := func(seq int64) bool { m := a.minute[seq]; return !m.Before(from) && m.Before(to) }
	got := queryPercentiles(t, reader, "SELECT * FROM run_latency_percentiles($1, $2, $3, true)", a.id, from.Add(20*time.Second), to)
	checkExact(t, "window", got, wantPercentiles("latency", a.whole(0, inWindow)), wantPercentiles("uncorrected", a.whole(1, inWindow)))
	checkRaw(t, "window", 99, got["latency"].P99Ms, a.rawOf(0, inWindow))

	// Both runs: by ids, by tag, and as the device-days (different hosts: each its own).
	both := schema.NewHist()
	both.Merge(a.whole(0, a.measured))
	both.Merge(b.whole(0, b.measured))
	bothUnc := schema.NewHist()
	bothUnc.Merge(a.whole(1, a.measured))
	bothUnc.Merge(b.whole(1, b.measured))
	checkExact(t, "runs", queryPercentiles(t, reader, "SELECT * FROM runs_latency_percentiles($1)", []uuid.UUID{a.id, b.id}),
		wantPercentiles("latency", both), wantPercentiles("uncorrected", bothUnc))
	checkExact(t, "tagged", queryPercentiles(t, reader, `SELECT * FROM tagged_latency_percentiles('{"launch":"L1"}', 'mqtt')`),
		wantPercentiles("latency", both), wantPercentiles("uncorrected", bothUnc))
	grafana := connect(t, d.GrafanaURL)
	day := t0.Truncate(24 * time.Hour)
	// The device-day check needs run b within one UTC day (it is unless the test runs at midnight).
	if t0.Add(200 * time.Second).Before(day.Add(24 * time.Hour)) {
		checkExact(t, "device-day", queryPercentiles(t, grafana, "SELECT * FROM device_latency_percentiles('pi-2', $1::date)", day),
			wantPercentiles("latency", b.whole(0, b.measured)), wantPercentiles("uncorrected", b.whole(1, b.measured)))
	}
	checkExact(t, "device-other-day", queryPercentiles(t, grafana, "SELECT * FROM device_latency_percentiles('pi-2', $1::date)", day.Add(48*time.Hour)))

	// samples_1m: true per-minute percentiles, and the CDF's last quantile is 1.
	for _, m := range []time.Time{from, from.Add(time.Minute)} {
		inMinute := func(seq int64) bool { return a.minute[seq].Equal(m) && a.measured(seq) }
		var p50, p99, p999 float64
		var hist, samples int64
		if err := grafana.QueryRow(context.Background(), "SELECT lat_p50_ms, lat_p99_ms, lat_p999_ms, hist_samples, samples FROM samples_1m WHERE run_id = $1 AND bucket = $2 AND phase = 'measure'", a.id, m).
			Scan(&p50, &p99, &p999, &hist, &samples); err != nil {
			t.Fatal(err)
		}
		w := wantPercentiles("latency", a.whole(0, inMinute))
		var n int64
		for seq := range a.raw {
			if inMinute(seq) {
				n++
			}
		}
		if p50 != w.P50Ms || p99 != w.P99Ms || p999 != w.P999Ms || hist != n || samples != n {
			t.Errorf("samples_1m %v: p50/p99/p99.9 %v/%v/%v from %d of %d samples, want %v/%v/%v from %d", m, p50, p99, p999, hist, samples, w.P50Ms, w.P99Ms, w.P999Ms, n)
		}
	}
	// A two-hour run and a window holding one whole hour and minutes on both sides of it: the hour comes from
	// samples_hist_1h, the edges from samples_hist_1m.
	c0 := time.Now().UTC().Truncate(time.Hour).Add(-3*time.Hour - 30*time.Minute)
	c := makeHistRun(3, 7200, 4, c0, "pi-3", nil)
	produce(t, e.brokers, e.topic, c.recs)
	waitRows(t, conn, "samples", 290+7200, 60*time.Second)
	waitFor(t, 30*time.Second, "run c finished", func() (bool, string) {
		return count(t, conn, "SELECT count(*) FROM runs WHERE run_id = $1 AND status = 'ok'", c.id) == 1, ""
	})
	checkRollups(t, conn, c)
	cFrom, cTo := c0.Add(10*time.Minute+20*time.Second), c0.Add(time.Hour+45*time.Minute)
	inC := func(seq int64) bool {
		m := c.minute[seq]
		return !m.Before(cFrom.Truncate(time.Minute)) && m.Before(cTo) && c.measured(seq)
	}
	checkExact(t, "hour and edges", queryPercentiles(t, reader, "SELECT * FROM run_latency_percentiles($1, $2, $3)", c.id, cFrom, cTo),
		wantPercentiles("latency", c.whole(0, inC)), wantPercentiles("uncorrected", c.whole(1, inC)))
	checkExact(t, "two-hour run", queryPercentiles(t, reader, "SELECT * FROM run_latency_percentiles($1)", c.id),
		wantPercentiles("latency", c.whole(0, c.measured)), wantPercentiles("uncorrected", c.whole(1, c.measured)))

	var last float64
	var buckets, total int64
	if err := reader.QueryRow(context.Background(), `SELECT count(*), sum(count), max(quantile) FROM runs_latency_distribution($1) WHERE series = 'latency'`, []uuid.UUID{a.id}).Scan(&buckets, &total, &last); err != nil {
		t.Fatal(err)
	}
	if whole := a.whole(0, a.measured); total != whole.TotalCount() || last != 1 || buckets < 50 {
		t.Errorf("distribution: %d buckets, %d values, last quantile %v; want %d values ending at 1", buckets, total, last, whole.TotalCount())
	}
}

// checkRollups asserts the rows of hr in samples_hist_1m and samples_hist_1h are the merges of its samples'
// histograms, minute by minute and hour by hour, bucket by bucket, with the percentiles HdrHistogram reports.
func checkRollups(t *testing.T, conn *pgx.Conn, hr *histRun) {
	t.Helper()
	checkRollup(t, conn, hr, "samples_hist_1m", time.Minute)
	checkRollup(t, conn, hr, "samples_hist_1h", time.Hour)
}

func checkRollup(t *testing.T, conn *pgx.Conn, hr *histRun, table string, width time.Duration) {
	t.Helper()
	type rollupRow struct {
		Bucket                 time.Time
		Phase                  string
		Samples                int64
		LatV, LatC, UncV, UncC []int64
		Lat, Unc               percentilesRow
	}
	rows, err := conn.Query(context.Background(), `SELECT bucket, phase, samples, lat_v, lat_c, unc_v, unc_c,
		lat_count, lat_p50_ms, lat_p90_ms, lat_p99_ms, lat_p999_ms, lat_max_ms,
		unc_count, unc_p50_ms, unc_p90_ms, unc_p99_ms, unc_p999_ms, unc_max_ms
		FROM `+table+` WHERE run_id = $1`, hr.id)
	if err != nil {
		t.Fatal(err)
	}
	var got []rollupRow
	var g rollupRow
	_, err = pgx.ForEachRow(rows, []any{&g.Bucket, &g.Phase, &g.Samples, &g.LatV, &g.LatC, &g.UncV, &g.UncC,
		&g.Lat.Count, &g.Lat.P50Ms, &g.Lat.P90Ms, &g.Lat.P99Ms, &g.Lat.P999Ms, &g.Lat.MaxMs,
		&g.Unc.Count, &g.Unc.P50Ms, &g.Unc.P90Ms, &g.Unc.P99Ms, &g.Unc.P999Ms, &g.Unc.MaxMs}, func() error {
		g.Bucket = g.Bucket.UTC()
		g.Lat.Series, g.Unc.Series = "latency", "uncorrected"
		got = append(got, g)
		g = rollupRow{}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		t.Fatalf("run %s: no %s rows", hr.id, table)
	}
	var all int64
	for _, g := range got {
		all += g.Samples
		keep := func(seq int64) bool {
			return hr.minute[seq].Truncate(width).Equal(g.Bucket) && string(hr.phase[seq]) == g.Phase
		}
		var n int64
		for seq := range hr.raw {
			if keep(seq) {
				n++
			}
		}
		_, lat, _ := schema.DecodeHist(encode(hr.whole(0, keep)))
		_, unc, _ := schema.DecodeHist(encode(hr.whole(1, keep)))
		if g.Samples != n || !lat.Equal(schema.Hist{V: g.LatV, C: g.LatC}) || !unc.Equal(schema.Hist{V: g.UncV, C: g.UncC}) {
			t.Errorf("run %s %s %v %s: %d samples (want %d); buckets equal: %v, %v", hr.id, table, g.Bucket, g.Phase, g.Samples, n,
				lat.Equal(schema.Hist{V: g.LatV, C: g.LatC}), unc.Equal(schema.Hist{V: g.UncV, C: g.UncC}))
		}
		if w := wantPercentiles("latency", hr.whole(0, keep)); g.Lat != w {
			t.Errorf("run %s %s %v %s: stored percentiles %+v, HdrHistogram %+v", hr.id, table, g.Bucket, g.Phase, g.Lat, w)
		}
		if w := wantPercentiles("uncorrected", hr.whole(1, keep)); g.Unc != w {
			t.Errorf("run %s %s %v %s: stored uncorrected percentiles %+v, HdrHistogram %+v", hr.id, table, g.Bucket, g.Phase, g.Unc, w)
		}
	}
	if all != int64(hr.samples) {
		t.Errorf("run %s: %s holds %d samples, want exactly %d", hr.id, table, all, hr.samples)
	}
}

// The sink is killed with SIGKILL while runs with histograms stream in; after the last restart samples_hist_1m
// holds every sample's histogram exactly once: the counts are exact and every minute equals the merge of its
// samples.
func TestHistogramsSurviveSinkCrashes(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop; skipped with -short")
	}
	e := newEnv(t, "", kfake.BrokerConfigs(map[string]string{"group.min.session.timeout.ms": "500"}))
	conn := connect(t, e.dbURL)
	const runs, samples = 40, 300
	t0 := time.Now().UTC().Add(-time.Hour)
	var hrs []*histRun
	var all []schema.Record
	for i := range runs {
		hr := makeHistRun(uint64(100+i), samples, 100, t0.Add(time.Duration(i)*7*time.Second), "pi-crash", nil)
		hrs = append(hrs, hr)
		all = append(all, hr.recs...)
	}
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < len(all); i += 500 {
			produce(t, e.brokers, e.topic, all[i:min(i+500, len(all))])
			time.Sleep(100 * time.Millisecond)
		}
	}()
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"=1", "BROKERS="+strings.Join(e.brokers, ","), "DATABASE_URL="+e.dbURL,
			"TOPIC="+e.topic, "GROUP="+e.cfg.Sink.Group, "DEAD_LETTER="+e.cfg.Sink.DeadLetterTopic, "SESSION_TIMEOUT=1s")
		cmd.Stderr = testWriter{t}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	kills := 0
	for kill := 1; kill <= 4; kill++ {
		before := count(t, conn, "SELECT count(*) FROM samples")
		if before == runs*samples {
			break // everything is in: there is nothing left to interrupt
		}
		kills++
		cmd := start()
		waitFor(t, 60*time.Second, "the restarted sink to write", func() (bool, string) {
			return count(t, conn, "SELECT count(*) FROM samples") > before, ""
		})
		time.Sleep(time.Duration(rand.IntN(300)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		t.Logf("kill %d: %d sample rows, %d merged", kill, count(t, conn, "SELECT count(*) FROM samples"),
			count(t, conn, "SELECT coalesce(sum(samples), 0) FROM samples_hist_1m"))
	}
	<-produced
	if kills < 2 {
		t.Fatalf("only %d kills before the records were all in: make the stream longer", kills)
	}
	last := start()
	defer func() { _ = last.Process.Signal(syscall.SIGTERM); _ = last.Wait() }()
	waitRows(t, conn, "samples", runs*samples, 120*time.Second)
	waitFor(t, 30*time.Second, "all runs finished", func() (bool, string) {
		return count(t, conn, "SELECT count(*) FROM runs WHERE status = 'ok'") == runs, ""
	})
	if n := count(t, conn, "SELECT count(*) FROM samples"); n != runs*samples {
		t.Fatalf("samples = %d, want exactly %d", n, runs*samples)
	}
	if n := count(t, conn, "SELECT sum(samples) FROM samples_hist_1m"); n != runs*samples {
		t.Fatalf("samples_hist_1m merged %d samples, want exactly %d", n, runs*samples)
	}
	for _, hr := range hrs {
		checkRollups(t, conn, hr)
	}
}
