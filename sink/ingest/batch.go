package ingest

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// batch is what one database transaction writes: insert-only rows per table (deduplicated by primary key),
// ordered upserts (runs), and the records that go to the dead-letter topic instead.
type batch struct {
	recs     []*kgo.Record
	parts    map[topicPartition]*batchPart // where each partition's records continue the chain
	consumed map[string]int                // topic → records
	tables   map[string]*tableRows
	order    []string // table names in first-seen order, for a stable write order
	upserts  []upsert
	hists    map[*kgo.Record]*sampleHist // the latency histograms of the samples that carry some
	dead     []deadLetter
	// deadSent holds dead letters Kafka already acknowledged, so a write retried after a failed transaction
	// does not send them twice.
	deadSent map[*kgo.Record]bool
}

type tableRows struct {
	table   string
	columns []string
	rows    []tableRow
	srcs    []*kgo.Record
	// keyed: rows begin with the record's (run_id, seq), and the writer reports which rows went in (samples,
	// whose histograms count only once their row is in).
	keyed bool
}

// tableRow is one row of a table: values, or a sample record, whose row COPY encodes straight from the record
// (building a sample's row as a []any boxed each of its 35 values and cost the sink a quarter of its CPU).
type tableRow interface {
	values() []any          // for pgx: a staging table, the probe, a table pgcopy cannot encode
	writeRow(w *pgcopy.Row) // for pgcopy
}

type valuesRow []any

func (v valuesRow) values() []any { return v }

func (v valuesRow) writeRow(w *pgcopy.Row) {
	for _, x := range v {
		w.Any(x)
	}
}

type sampleRow struct{ rec *schema.Record }

func (s sampleRow) values() []any          { return s.rec.SampleRow() }
func (s sampleRow) writeRow(w *pgcopy.Row) { s.rec.WriteSampleRow(w) }

type upsert struct {
	table string // the table it writes, for benchpipe_sink_rows_total
	sql   string
	args  []any
	src   *kgo.Record
}

type deadLetter struct {
	src    *kgo.Record
	reason string
}

// decoder turns one Kafka record into rows of b, or returns why it can't.
type decoder func(b *batch, r *kgo.Record) error

var decoders = map[string]decoder{
	config.FormatBenchpipe:   decodeBenchpipe,
	config.FormatSINETStream: decodePerftool,
	config.FormatFleet:       decodeFleet,
}

// decodeChunk is how many records one goroutine decodes at a time.
const decodeChunk = 1000

// decode turns recs into a batch: in chunks of decodeChunk records, joined in record order, so the batch is the
// same however many goroutines decoded it. dbBusy is done once the database waits for this batch (nil: it waits
// already). Until then one goroutine decodes, and the other cores are left to the write in flight: PostgreSQL on
// the same host, and the goroutine streaming its COPY, lose to decoders on every core (on 2 cores the sink
// reached 0.85× raw COPY decoding on both, 0.92× on one, with the decoding still done before the write). Once
// the database waits, every core decodes: inflating each sample's latency histograms costs several times the
// rest of its decoding, and one goroutine alone held the sink to about a third of its rate without histograms.
func (s *Sink) decode(recs []*kgo.Record, dbBusy context.Context) *batch {
	chunks := (len(recs) + decodeChunk - 1) / decodeChunk
	if chunks <= 1 {
		return s.decodeRecords(recs)
	}
	parts := make([]*batch, chunks)
	var next atomic.Int64
	work := func() {
		for i := int(next.Add(1) - 1); i < chunks; i = int(next.Add(1) - 1) {
			parts[i] = s.decodeRecords(recs[i*decodeChunk : min((i+1)*decodeChunk, len(recs))])
		}
	}
	finished := make(chan struct{})
	var helpers sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), chunks) - 1 {
		helpers.Go(func() {
			if dbBusy != nil {
				select {
				case <-dbBusy.Done():
				case <-finished:
					return
				}
			}
			work()
		})
	}
	work()
	close(finished)
	helpers.Wait()
	b := newBatch(recs)
	for _, p := range parts {
		b.join(p)
	}
	return b
}

func newBatch(recs []*kgo.Record) *batch {
	return &batch{recs: recs, consumed: map[string]int{}, tables: map[string]*tableRows{}, hists: map[*kgo.Record]*sampleHist{},
		deadSent: map[*kgo.Record]bool{}}
}

// join appends what p decoded from the records following b's.
func (b *batch) join(p *batch) {
	for topic, n := range p.consumed {
		b.consumed[topic] += n
	}
	for _, name := range p.order {
		pt := p.tables[name]
		t := b.tables[name]
		if t == nil {
			t = &tableRows{table: pt.table, columns: pt.columns}
			b.tables[name] = t
			b.order = append(b.order, name)
		}
		t.rows = append(t.rows, pt.rows...)
		t.srcs = append(t.srcs, pt.srcs...)
		t.keyed = t.keyed || pt.keyed
	}
	b.upserts = append(b.upserts, p.upserts...)
	for r, h := range p.hists {
		b.hists[r] = h
	}
	b.dead = append(b.dead, p.dead...)
}

func (s *Sink) decodeRecords(recs []*kgo.Record) *batch {
	b := newBatch(recs)
	for _, r := range recs {
		b.consumed[r.Topic]++
		if len(r.Value) > s.cfg.Sink.MaxRecordBytes {
			b.dead = append(b.dead, deadLetter{r, fmt.Sprintf("record too large: %d bytes, limit sink.max_record_bytes = %d", len(r.Value), s.cfg.Sink.MaxRecordBytes)})
			continue
		}
		format := s.formats[r.Topic]
		dec, ok := decoders[format]
		if !ok {
			b.dead = append(b.dead, deadLetter{r, fmt.Sprintf("topic %s has no decoder for format %q", r.Topic, format)})
			continue
		}
		if err := dec(b, r); err != nil {
			b.dead = append(b.dead, deadLetter{r, err.Error()})
		}
	}
	return b
}

// add appends row, from src, to table and returns the table.
func (b *batch) add(table string, columns []string, row []any, src *kgo.Record) *tableRows {
	return b.addRow(table, columns, valuesRow(row), src)
}

func (b *batch) addRow(table string, columns []string, row tableRow, src *kgo.Record) *tableRows {
	t := b.tables[table]
	if t == nil {
		t = &tableRows{table: table, columns: columns}
		b.tables[table] = t
		b.order = append(b.order, table)
	}
	t.rows = append(t.rows, row)
	t.srcs = append(t.srcs, src)
	return t
}

// reject moves everything src contributed to the dead letters.
func (b *batch) reject(src *kgo.Record, reason string) {
	for _, t := range b.tables {
		keep := 0
		for i := range t.rows {
			if t.srcs[i] != src {
				t.rows[keep], t.srcs[keep] = t.rows[i], t.srcs[i]
				keep++
			}
		}
		t.rows, t.srcs = t.rows[:keep], t.srcs[:keep]
	}
	keep := b.upserts[:0]
	for _, u := range b.upserts {
		if u.src != src {
			keep = append(keep, u)
		}
	}
	b.upserts = keep
	delete(b.hists, src)
	b.dead = append(b.dead, deadLetter{src, reason})
}

func decodeBenchpipe(b *batch, r *kgo.Record) error {
	rec := new(schema.Record)
	var err error
	if *rec, err = schema.Decode(r.Value); err != nil {
		return err
	}
	if len(r.Key) > 0 && !bytes.Equal(r.Key, rec.Key()) {
		return fmt.Errorf("record key %q is not the run id %s: records of a run must share a partition", truncate(r.Key, 64), rec.RunID)
	}
	switch rec.Type {
	case schema.TypeSample:
		b.addRow("samples", schema.SampleColumns, sampleRow{rec}, r).keyed = true
		if h := newSampleHist(rec); h != nil {
			b.hists[r] = h
		}
	case schema.TypeRunStarted:
		b.upserts = append(b.upserts, upsert{"runs", runStartedSQL, rec.RunStartedRow(), r})
	case schema.TypeRunFinished:
		b.upserts = append(b.upserts, upsert{"runs", runFinishedSQL, rec.RunFinishedRow(), r})
	case schema.TypeObservation:
		b.addObservation(rec, r)
	}
	return nil
}

// addObservation adds the rows of an observation record: the round itself, its nodes, Pgpool-II backends, events
// and (the run's first) settings, each keyed so that a redelivery adds nothing; and the runs columns it sets, as upserts that
// work in any order and whether or not the run's row exists yet (records may arrive before run_started after a
// producer's spool resends).
func (b *batch) addObservation(rec *schema.Record, r *kgo.Record) {
	rows := rec.ObservationRows()
	for _, t := range []struct {
		table   string
		columns []string
		rows    [][]any
	}{
		{"cluster_observations", schema.ClusterObservationColumns, [][]any{rows.Round}},
		{"cluster_node_samples", schema.ClusterNodeColumns, rows.Nodes},
		{"cluster_pool_samples", schema.ClusterPoolColumns, rows.Pool},
		{"cluster_events", schema.ClusterEventColumns, rows.Events},
		{"run_settings", schema.RunSettingColumns, rows.Settings},
	} {
		for _, row := range t.rows {
			b.add(t.table, t.columns, row, r)
		}
	}
	if rows.TopologyChanged || rows.SplitBrain {
		b.upserts = append(b.upserts, upsert{"runs", runFlagsSQL, []any{rec.RunID, rows.TopologyChanged, rows.SplitBrain}, r})
	}
	if rows.Start != nil {
		b.upserts = append(b.upserts, upsert{"runs", startFactsSQL, rows.Start, r})
	}
	if rows.End != nil {
		b.upserts = append(b.upserts, upsert{"runs", endFactsSQL, rows.End, r})
	}
}

// decodePerftool reads a SINETStream perftool result as existing devices publish it (v2/v3 framing or plain JSON)
// into a perftool row, and keeps the payload in the seed's raw table too, so queries written for the seed work.
// The row time is the envelope's tstamp, as the seed server used; the Kafka timestamp stands in for plain JSON.
func decodePerftool(b *batch, r *kgo.Record) error {
	msg, err := sinetstream.Decode(r.Value)
	if err != nil {
		return err
	}
	res, err := sinetstream.ParseResult(msg.Payload)
	if err != nil {
		return err
	}
	row, err := sinetstream.NewRow(msg, res, r.Timestamp)
	if err != nil {
		return err
	}
	raw, err := sinetstream.NewRawRow(msg, r.Timestamp)
	if err != nil {
		return err
	}
	b.add(sinetstream.Table, sinetstream.Columns(), row.Values(), r)
	b.add(sinetstream.RawTable, sinetstream.RawColumns(), raw.Values(), r)
	return nil
}

// upsertSQL merges a record's columns into its runs row. run_started and run_finished set disjoint columns, so they
// can arrive in either order (a producer's spool may resend an old record after a newer one) and be repeated.
func upsertSQL(table string, columns []string) string {
	params := make([]string, len(columns))
	var sets []string
	for i, c := range columns {
		params[i] = fmt.Sprintf("$%d", i+1)
		if i > 0 {
			sets = append(sets, fmt.Sprintf("%s = EXCLUDED.%s", c, c))
		}
	}
	sets = append(sets, "updated_at = now()")
	return fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT (%s) DO UPDATE SET %s",
		pgx.Identifier{apiSchema, table}.Sanitize(), strings.Join(columns, ", "), strings.Join(params, ", "), columns[0], strings.Join(sets, ", "))
}

var (
	runStartedSQL  = upsertSQL("runs", schema.RunStartedColumns)
	runFinishedSQL = upsertSQL("runs", schema.RunFinishedColumns)
	startFactsSQL  = upsertSQL("runs", schema.StartFactsColumns)

	// runFlagsSQL raises a run's flags and never lowers them: observations arrive in any order and may be
	// redelivered, and one without events must not clear what an earlier one saw.
	runFlagsSQL = "INSERT INTO " + pgx.Identifier{apiSchema, "runs"}.Sanitize() + ` AS r (run_id, topology_changed, split_brain)
		VALUES ($1, $2, $3) ON CONFLICT (run_id) DO UPDATE SET topology_changed = r.topology_changed OR EXCLUDED.topology_changed,
		split_brain = r.split_brain OR EXCLUDED.split_brain, updated_at = now()`

	// endFactsSQL stores the counters' change over the run. The version there is the first facts' (the same server),
	// kept only for a run whose first facts never arrived, so the result does not depend on the order.
	endFactsSQL = "INSERT INTO " + pgx.Identifier{apiSchema, "runs"}.Sanitize() + ` AS r (run_id, server_version, server_version_num, server_delta)
		VALUES ($1, $2, $3, $4) ON CONFLICT (run_id) DO UPDATE SET server_version = coalesce(r.server_version, EXCLUDED.server_version),
		server_version_num = coalesce(r.server_version_num, EXCLUDED.server_version_num), server_delta = EXCLUDED.server_delta,
		updated_at = now()`
)

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

// sampleHist is what a sample adds to the histogram rollups (samples_hist_1m, _1h): its latency histograms,
// decoded (schema.Decode already inflated them while validating), and where it belongs. The writer also uses it
// for the sum of several samples (samples > 1).
type sampleHist struct {
	run      uuid.UUID
	start    time.Time
	phase    string
	samples  int64
	lat, unc schema.Hist
}

// newSampleHist returns the histograms of sample record r, or nil when it carries none.
func newSampleHist(r *schema.Record) *sampleHist {
	lat, unc := r.SampleHists()
	if len(lat.V) == 0 && len(unc.V) == 0 {
		return nil
	}
	return &sampleHist{run: r.RunID, start: r.Sample.Start, phase: string(r.Sample.Phase), samples: 1, lat: lat, unc: unc}
}
