package ingest

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/pgcopy"
	"github.com/benchpipe/benchpipe/schema"
)

type writeResult struct {
	written    map[string]int             // topic → records written (or already present by key)
	duplicates map[string]int             // table → rows dropped by the primary key
	rows       map[string]int             // table → rows inserted or updated
	next       map[topicPartition]int64   // stored positions after the commit
	skipped    map[*kgo.Record]bool       // records below the stored position: already written earlier
	refused    map[topicPartition]refusal // partitions not written: the batch did not start at the stored position
	held       map[*kgo.Record]bool       // the records of refused partitions
}

// apiSchema holds the tables the sink writes (the public API that Hasura and Grafana read). Every statement names
// it, so what the sink writes does not depend on the connecting role's search_path: with a role named like a
// schema ("$user", public), unqualified names would resolve to that schema first.
const apiSchema = "public"

// write commits b in one transaction: lock the partitions' stored positions, refuse partitions whose batch does
// not start where their stored position ends, drop records below the stored positions, send dead letters, insert
// rows, upsert runs and the fleet's rows, advance the positions.
//
// A partition is refused when its stored position is behind the position the batch continues from: an earlier
// batch of it was not written (given up at shutdown, or the database was restored from an older backup). Writing
// this one and storing its end would skip the earlier records for good, so its records are left out and read
// again from the stored position. A stored position ahead of the batch's is a replay (after a crash, or a zombie
// consumer after a rebalance): records below it are already written and dropped, the rest continue the chain.
func (s *Sink) write(ctx context.Context, b *batch) (writeResult, error) {
	res := writeResult{written: map[string]int{}, duplicates: map[string]int{}, rows: map[string]int{}, next: map[topicPartition]int64{},
		skipped: map[*kgo.Record]bool{}, refused: map[topicPartition]refusal{}, held: map[*kgo.Record]bool{}}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err := s.lockPositions(ctx, tx, b.parts)
		if err != nil {
			return err
		}
		for tp, p := range b.parts {
			if stored[tp] < p.from {
				res.refused[tp] = refusal{stored: stored[tp], gen: p.gen}
				continue
			}
			res.next[tp] = max(stored[tp], p.to)
		}
		omit := map[*kgo.Record]bool{}
		for _, r := range b.recs {
			tp := topicPartition{r.Topic, r.Partition}
			if _, ok := res.refused[tp]; ok {
				res.held[r], omit[r] = true, true
			} else if r.Offset < stored[tp] {
				res.skipped[r], omit[r] = true, true
			}
		}

		// Dead letters first: once the positions move past a bad record, the dead-letter topic is its only copy.
		if err := s.produceDeadLetters(ctx, b, omit); err != nil {
			return err
		}
		for _, name := range b.order {
			t := b.tables[name]
			ins, err := s.insertRows(ctx, tx, t, omit)
			if err != nil {
				return err
			}
			res.rows[name] += ins.rows
			res.duplicates[name] += ins.dups
			if t.keyed {
				n, err := s.mergeHists(ctx, tx, b.hists, ins.srcs)
				if err != nil {
					return err
				}
				res.rows["samples_hist"] += n
			}
		}
		if err := s.upsertRows(ctx, tx, b.upserts, omit, res.rows); err != nil {
			return err
		}
		return s.storePositions(ctx, tx, b.parts, res.next)
	})
	if err != nil {
		return res, err
	}
	if len(res.skipped) > 0 {
		s.m.replayed.Add(float64(len(res.skipped)))
	}
	for tp, r := range res.refused {
		s.m.positionGaps.Inc()
		s.log.Warn("batch refused for a partition: it does not start where the stored position ends (an earlier batch was not written); reading it again",
			"topic", tp.topic, "partition", tp.partition, "stored", r.stored, "batch_from", b.parts[tp].from)
	}
	for _, r := range b.recs {
		if !res.skipped[r] && !res.held[r] {
			res.written[r.Topic]++
		}
	}
	for _, d := range b.dead {
		if !res.skipped[d.src] && !res.held[d.src] {
			res.written[d.src.Topic]--
		}
	}
	return res, nil
}

// copyRows copies rows into t's table with pgcopy, whose encoders are planned once per column: pgx re-plans the
// encoding of every value and spends about eight times the client CPU per row. Tables pgcopy can't encode fall
// back to pgx's CopyFrom.
func (s *Sink) copyRows(ctx context.Context, tx pgx.Tx, t *tableRows, rows []tableRow) (int64, error) {
	key := t.table + "\x00" + strings.Join(t.columns, ",")
	ct, ok := s.copiers[key]
	if !ok {
		var err error
		ct, err = pgcopy.LoadTable(ctx, tx, pgx.Identifier{apiSchema, t.table}, t.columns)
		if err != nil {
			if !errors.Is(err, pgcopy.ErrUnsupportedType) {
				return 0, fmt.Errorf("copy into %s: %w", t.table, err)
			}
			s.log.Info("table has a column type the fast COPY encoder lacks; using pgx", "table", t.table, "err", err)
			ct = nil
		}
		s.copiers[key] = ct
	}
	if ct == nil {
		return tx.CopyFrom(ctx, pgx.Identifier{apiSchema, t.table}, t.columns, pgx.CopyFromRows(allValues(rows)))
	}
	return ct.CopyFunc(ctx, tx.Conn().PgConn(), len(rows), func(i int, w *pgcopy.Row) { rows[i].writeRow(w) })
}

// allValues returns rows' values, for pgx.
func allValues(rows []tableRow) [][]any {
	out := make([][]any, len(rows))
	for i, r := range rows {
		out[i] = r.values()
	}
	return out
}

// inserted is what insertRows wrote: rows inserted, rows dropped as duplicates and, for a keyed table, the
// records whose row went in.
type inserted struct {
	rows, dups int
	srcs       []*kgo.Record
}

// insertRows writes t's rows with binary COPY and reports what went in.
//
// Duplicates only come from a producer that re-sent records after a crash (the stored positions already exclude
// the sink's own replays), so the common case copies straight into the table inside a savepoint. When the primary
// key refuses a row, the savepoint is rolled back and the batch goes through a session-local staging table and
// INSERT … ON CONFLICT DO NOTHING, which keeps the first copy of every key. Straight COPY is about twice as fast.
func (s *Sink) insertRows(ctx context.Context, tx pgx.Tx, t *tableRows, skipped map[*kgo.Record]bool) (inserted, error) {
	rows, srcs := t.rows, t.srcs
	if len(skipped) > 0 {
		rows, srcs = make([]tableRow, 0, len(t.rows)), make([]*kgo.Record, 0, len(t.rows))
		for i, r := range t.rows {
			if !skipped[t.srcs[i]] {
				rows, srcs = append(rows, r), append(srcs, t.srcs[i])
			}
		}
	}
	if len(rows) == 0 {
		return inserted{}, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT direct_copy"); err != nil {
		return inserted{}, err
	}
	n, err := s.copyRows(ctx, tx, t, rows)
	if err == nil {
		_, err = tx.Exec(ctx, "RELEASE SAVEPOINT direct_copy")
		return inserted{rows: int(n), srcs: srcs}, err
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" { // unique_violation
		return inserted{}, fmt.Errorf("copy into %s: %w", t.table, err)
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT direct_copy"); err != nil {
		return inserted{}, err
	}
	s.m.dedupBatches.Inc()
	return s.insertNew(ctx, tx, t, rows, srcs)
}

// insertNew writes the rows whose key is not in t's table yet, through a staging table, and reports which went
// in: for a keyed table, the rows' (run_id, seq) come back from RETURNING and are matched to their records.
func (s *Sink) insertNew(ctx context.Context, tx pgx.Tx, t *tableRows, trows []tableRow, srcs []*kgo.Record) (inserted, error) {
	rows := allValues(trows)
	table := pgx.Identifier{apiSchema, t.table}.Sanitize()
	stageName := pgx.Identifier{"pg_temp", "stage_" + t.table}
	stage := stageName.Sanitize()
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", stage, table)); err != nil {
		return inserted{}, fmt.Errorf("staging table for %s: %w", t.table, err)
	}
	copied, err := tx.CopyFrom(ctx, stageName, t.columns, pgx.CopyFromRows(rows))
	if err != nil {
		return inserted{}, fmt.Errorf("copy into %s: %w", stage, err)
	}
	cols := strings.Join(t.columns, ", ")
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", table, cols, cols, stage)
	if !t.keyed {
		tag, err := tx.Exec(ctx, insert)
		if err != nil {
			return inserted{}, fmt.Errorf("insert into %s: %w", t.table, err)
		}
		n := int(tag.RowsAffected())
		return inserted{rows: n, dups: int(copied) - n}, nil
	}
	type key struct {
		run uuid.UUID
		seq int64
	}
	bySeq := make(map[key]*kgo.Record, len(rows))
	for i, r := range rows {
		k := key{r[0].(uuid.UUID), r[1].(int64)}
		if _, ok := bySeq[k]; !ok { // ON CONFLICT keeps the first copy of a key
			bySeq[k] = srcs[i]
		}
	}
	res, err := tx.Query(ctx, insert+" RETURNING "+t.columns[0]+", "+t.columns[1])
	if err != nil {
		return inserted{}, fmt.Errorf("insert into %s: %w", t.table, err)
	}
	var out inserted
	var k key
	_, err = pgx.ForEachRow(res, []any{&k.run, &k.seq}, func() error {
		out.srcs = append(out.srcs, bySeq[k])
		return nil
	})
	if err != nil {
		return inserted{}, fmt.Errorf("insert into %s: %w", t.table, err)
	}
	out.rows, out.dups = len(out.srcs), int(copied)-len(out.srcs)
	return out, nil
}

func (s *Sink) upsertRows(ctx context.Context, tx pgx.Tx, ups []upsert, skipped map[*kgo.Record]bool, rows map[string]int) error {
	var pb pgx.Batch
	queued := map[string]int{}
	for _, u := range ups {
		if !skipped[u.src] {
			pb.Queue(u.sql, u.args...)
			queued[u.table]++
		}
	}
	if pb.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &pb).Close(); err != nil {
		return fmt.Errorf("upsert: %w", err)
	}
	for table, n := range queued {
		rows[table] += n
	}
	return nil
}

// Dead-letter headers.
const (
	HeaderError     = "benchpipe.error"
	HeaderTopic     = "benchpipe.source.topic"
	HeaderPartition = "benchpipe.source.partition"
	HeaderOffset    = "benchpipe.source.offset"
	HeaderTimestamp = "benchpipe.source.timestamp"
	HeaderTime      = "benchpipe.dead_lettered_at"
	HeaderTruncated = "benchpipe.truncated_from"
)

// produceDeadLetters sends the batch's bad records to the dead-letter topic and waits for the acknowledgements.
// The original key, value and headers are kept; a value the dead-letter topic refuses as too large is cut to
// 64 KiB and marked, so a giant record can never stall the sink.
func (s *Sink) produceDeadLetters(ctx context.Context, b *batch, skipped map[*kgo.Record]bool) error {
	var out []*kgo.Record
	var srcs []*kgo.Record
	now := time.Now().UTC().Format(time.RFC3339Nano)
	for _, d := range b.dead {
		if skipped[d.src] || b.deadSent[d.src] {
			continue
		}
		srcs = append(srcs, d.src)
		headers := append([]kgo.RecordHeader{
			{Key: HeaderError, Value: []byte(d.reason)},
			{Key: HeaderTopic, Value: []byte(d.src.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(d.src.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(d.src.Offset, 10))},
			{Key: HeaderTimestamp, Value: []byte(d.src.Timestamp.UTC().Format(time.RFC3339Nano))},
			{Key: HeaderTime, Value: []byte(now)},
		}, d.src.Headers...)
		out = append(out, &kgo.Record{Topic: s.cfg.Sink.DeadLetterTopic, Key: d.src.Key, Value: d.src.Value, Headers: headers})
	}
	if len(out) == 0 {
		return nil
	}
	results := s.cl.ProduceSync(ctx, out...)
	for i, r := range results {
		if r.Err == nil {
			b.deadSent[srcs[i]] = true
			continue
		}
		if errors.Is(r.Err, kerr.MessageTooLarge) || errors.Is(r.Err, kerr.RecordListTooLarge) {
			rec := out[i]
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: HeaderTruncated, Value: []byte(strconv.Itoa(len(rec.Value)))})
			rec.Value = rec.Value[:min(len(rec.Value), 64<<10)]
			if err := s.cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
				return fmt.Errorf("dead-letter topic %s: %w", s.cfg.Sink.DeadLetterTopic, err)
			}
			b.deadSent[srcs[i]] = true
			continue
		}
		return fmt.Errorf("dead-letter topic %s: %w", s.cfg.Sink.DeadLetterTopic, r.Err)
	}
	return nil
}

// histTables are the rollups of the samples' histograms the sink keeps, with the width of their buckets.
var histTables = []struct {
	name  string
	width time.Duration
}{{"samples_hist_1m", time.Minute}, {"samples_hist_1h", time.Hour}}

// histLockClass is the first key of the per-run advisory locks taken while merging histograms ("hist"); the two-key
// form keeps them apart from the single-key locks (the migration's).
const histLockClass = 0x68697374

// rollupKey is a row of a rollup table: a run, the start of a bucket (UTC) and the phase.
type rollupKey struct {
	run    uuid.UUID
	bucket time.Time
	phase  string
}

// rollup is one rollup row: what it held before this batch (had: the table has the row) plus the batch's share.
type rollup struct {
	had      bool
	samples  int64
	lat, unc schema.HistSum
}

// mergeHists adds the histograms of the samples inserted (the records whose sample row went in, not those
// dropped as duplicates or replays) to every rollup table, in the transaction that inserted them: a sample's
// histogram counts exactly when its row exists. Returns the rollup rows written.
//
// The merge happens here, not in SQL: read the rows the batch touches, add in Go, write them back. Adding two
// 1,000-bucket arrays in SQL (unnest, group, array_agg) takes about 5 ms a row, which made the sink five times
// slower. Writers of the same run are serialised by a transaction-scoped advisory lock per run, taken in a fixed
// order; a run's records share one partition, so this only ever waits for a zombie consumer or for records
// published without their key.
func (s *Sink) mergeHists(ctx context.Context, tx pgx.Tx, hists map[*kgo.Record]*sampleHist, inserted []*kgo.Record) (int, error) {
	var mine []*sampleHist
	runs := map[uuid.UUID]bool{}
	for _, src := range inserted {
		if h := hists[src]; h != nil {
			mine = append(mine, h)
			runs[h.run] = true
		}
	}
	if len(mine) == 0 {
		return 0, nil
	}
	if err := lockRuns(ctx, tx, runs); err != nil {
		return 0, err
	}
	// Each sample's buckets are added once, into its minute; the hours add up minutes.
	minutes := sumShares(mine, time.Minute)
	written := 0
	for _, t := range histTables {
		n, err := mergeInto(ctx, tx, t.name, t.width, minutes)
		if err != nil {
			return 0, fmt.Errorf("merge histograms into %s: %w", t.name, err)
		}
		written += n
	}
	return written, nil
}

// lockRuns takes the histogram lock of every run, in the order of their lock keys.
func lockRuns(ctx context.Context, tx pgx.Tx, runs map[uuid.UUID]bool) error {
	keys := make([]int32, 0, len(runs))
	for r := range runs {
		h := fnv.New32a()
		h.Write(r[:])
		keys = append(keys, int32(h.Sum32()))
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	// One statement for a fleet's hundreds of runs. PostgreSQL evaluates a volatile function of the select list
	// after ORDER BY, so the locks are taken in key order.
	if _, err := tx.Exec(ctx, `SELECT pg_catalog.pg_advisory_xact_lock($1::int4, k) FROM unnest($2::int4[]) AS k ORDER BY k`,
		int32(histLockClass), keys); err != nil {
		return fmt.Errorf("lock runs for their histograms: %w", err)
	}
	return nil
}

// sumShares sums the shares whose start falls in the same bucket of the given width (and run and phase).
func sumShares(in []*sampleHist, width time.Duration) []*sampleHist {
	type sum struct {
		share    *sampleHist
		lat, unc schema.HistSum
	}
	sums := map[rollupKey]*sum{}
	var order []rollupKey
	for _, h := range in {
		k := rollupKey{h.run, h.start.UTC().Truncate(width), h.phase}
		sm := sums[k]
		if sm == nil {
			sm = &sum{share: &sampleHist{run: k.run, start: k.bucket, phase: k.phase}}
			sums[k] = sm
			order = append(order, k)
		}
		sm.share.samples += h.samples
		sm.lat.Add(h.lat)
		sm.unc.Add(h.unc)
	}
	out := make([]*sampleHist, len(order))
	for i, k := range order {
		sm := sums[k]
		sm.share.lat, sm.share.unc = sm.lat.Hist(), sm.unc.Hist()
		out[i] = sm.share
	}
	return out
}

// mergeInto adds the shares (of samples or of sums of them) to table, whose buckets are width wide.
func mergeInto(ctx context.Context, tx pgx.Tx, table string, width time.Duration, samples []*sampleHist) (int, error) {
	rows := map[rollupKey]*rollup{}
	var order []rollupKey
	for _, h := range samples {
		// Truncate counts from the zero time, which lies on a UTC hour: the buckets of date_bin and time_bucket.
		k := rollupKey{h.run, h.start.UTC().Truncate(width), h.phase}
		if rows[k] == nil {
			rows[k] = &rollup{}
			order = append(order, k)
		}
	}
	ident := pgx.Identifier{apiSchema, table}.Sanitize()
	ids, buckets, phases := make([]uuid.UUID, len(order)), make([]time.Time, len(order)), make([]string, len(order))
	for i, k := range order {
		ids[i], buckets[i], phases[i] = k.run, k.bucket, k.phase
	}
	// array_send: the arrays in their binary form, parsed by int8Array; pgx's decoder plans each element.
	res, err := tx.Query(ctx, `SELECT t.run_id, t.bucket, t.phase, t.samples,
		       array_send(t.lat_v), array_send(t.lat_c), array_send(t.unc_v), array_send(t.unc_c)
		FROM `+ident+` t JOIN unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS k(run_id, bucket, phase)
		  ON t.run_id = k.run_id AND t.bucket = k.bucket AND t.phase = k.phase`, ids, buckets, phases)
	if err != nil {
		return 0, err
	}
	var k rollupKey
	var samplesHad int64
	var latV, latC, uncV, uncC []byte
	_, err = pgx.ForEachRow(res, []any{&k.run, &k.bucket, &k.phase, &samplesHad, &latV, &latC, &uncV, &uncC}, func() error {
		k.bucket = k.bucket.UTC()
		r := rows[k]
		if r == nil {
			return nil
		}
		var lat, unc schema.Hist
		var err error
		for _, a := range []struct {
			dst *[]int64
			src []byte
		}{{&lat.V, latV}, {&lat.C, latC}, {&unc.V, uncV}, {&unc.C, uncC}} {
			if *a.dst, err = int8Array(a.src); err != nil {
				return fmt.Errorf("%s row %v: %w", table, k, err)
			}
		}
		if len(lat.V) != len(lat.C) || len(unc.V) != len(unc.C) {
			return fmt.Errorf("%s row %v: values and counts differ in length", table, k)
		}
		r.had, r.samples = true, samplesHad
		r.lat.Add(lat)
		r.unc.Add(unc)
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, h := range samples {
		r := rows[rollupKey{h.run, h.start.UTC().Truncate(width), h.phase}]
		r.samples += h.samples
		r.lat.Add(h.lat)
		r.unc.Add(h.unc)
	}
	// Rows the table lacks go straight in with one binary COPY: the run's lock keeps any other writer from adding
	// them meanwhile (a conflict anyway fails the transaction; it never counts twice). Rows it has go through a
	// staging table and one INSERT … ON CONFLICT DO UPDATE. In a long run's batch nearly every minute is new; in a
	// fleet's, most rows are updates. Both beat a statement per row: a fleet's batch touches a minute and an hour
	// row per run.
	var fresh, had rollupCopy
	for _, k := range order {
		r := rows[k]
		buf := &fresh
		if r.had {
			buf = &had
		}
		if buf.n == 0 {
			buf.header()
		}
		buf.row(k, r.samples, r.lat.Hist(), r.unc.Hist())
	}
	cols := strings.Join(rollupColumns, ", ")
	if fresh.n > 0 {
		fresh.trailer()
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(fresh.b), "COPY "+ident+" ("+cols+") FROM STDIN (FORMAT binary)"); err != nil {
			return 0, err
		}
	}
	if had.n > 0 {
		had.trailer()
		// The stage keeps the table's compression and storage: with PostgreSQL's default (pglz) compressing each
		// row's arrays, COPY into the stage took 3 ms a row, more than everything else the sink does for it.
		stage := pgx.Identifier{"pg_temp", "stage_" + table}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE IF NOT EXISTS "+stage+" (LIKE "+ident+" INCLUDING COMPRESSION INCLUDING STORAGE) ON COMMIT DELETE ROWS"); err != nil {
			return 0, err
		}
		if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(had.b), "COPY "+stage+" ("+cols+") FROM STDIN (FORMAT binary)"); err != nil {
			return 0, err
		}
		if _, err := tx.Exec(ctx, rollupUpsert(ident, stage)); err != nil {
			return 0, err
		}
	}
	return len(order), nil
}

// rollupColumns are the columns of samples_hist_1m and samples_hist_1h the sink writes, in its row order.
var rollupColumns = []string{"run_id", "bucket", "phase", "samples", "lat_v", "lat_c", "unc_v", "unc_c",
	"lat_count", "lat_p50_ms", "lat_p90_ms", "lat_p99_ms", "lat_p999_ms", "lat_max_ms",
	"unc_count", "unc_p50_ms", "unc_p90_ms", "unc_p99_ms", "unc_p999_ms", "unc_max_ms"}

// rollupUpsert moves the staged rows into table, replacing the rows they update (already merged in Go).
func rollupUpsert(table, stage string) string {
	cols := strings.Join(rollupColumns, ", ")
	sets := make([]string, 0, len(rollupColumns)-3)
	for _, c := range rollupColumns[3:] {
		sets = append(sets, c+" = EXCLUDED."+c)
	}
	return "INSERT INTO " + table + " (" + cols + ") SELECT " + cols + " FROM " + stage +
		" ON CONFLICT (run_id, bucket, phase) DO UPDATE SET " + strings.Join(sets, ", ")
}

// int8Array parses array_send's output for a one-dimensional int8[] without NULLs (nil input: a NULL array).
func int8Array(b []byte) ([]int64, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) < 12 {
		return nil, fmt.Errorf("int8[] of %d bytes", len(b))
	}
	ndim := binary.BigEndian.Uint32(b)
	if ndim == 0 {
		return nil, nil
	}
	if ndim != 1 || len(b) < 20 || binary.BigEndian.Uint32(b[4:]) != 0 || binary.BigEndian.Uint32(b[8:]) != 20 {
		return nil, errors.New("not a one-dimensional int8[] without NULLs")
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	if len(b) != 20+12*n {
		return nil, fmt.Errorf("int8[] of %d elements in %d bytes", n, len(b))
	}
	out := make([]int64, n)
	for i, p := 0, 20; i < n; i, p = i+1, p+12 {
		out[i] = int64(binary.BigEndian.Uint64(b[p+4:]))
	}
	return out, nil
}

// rollupCopy is a binary COPY stream of rollup rows (rollupColumns). Written by hand because pgx's encoder plans
// every array element: 1.5 ms a row of four 1,000-element arrays, most of a fleet's batch.
type rollupCopy struct {
	b []byte
	n int // rows
}

// PostgreSQL's binary COPY format: a signature, flags and header extension length; each row a field count and
// each field its length (−1 for NULL) and bytes; −1 as field count ends the stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is where timestamptz counts its microseconds from.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func (c *rollupCopy) header()  { c.b = append(c.b, copySignature...) }
func (c *rollupCopy) trailer() { c.b = binary.BigEndian.AppendUint16(c.b, 0xffff) }

func (c *rollupCopy) row(k rollupKey, samples int64, lat, unc schema.Hist) {
	c.n++
	c.b = binary.BigEndian.AppendUint16(c.b, uint16(len(rollupColumns)))
	c.field(k.run[:])
	c.int8(k.bucket.Sub(pgEpoch).Microseconds())
	c.field([]byte(k.phase))
	c.int8(samples)
	c.array(lat.V)
	c.array(lat.C)
	c.array(unc.V)
	c.array(unc.C)
	c.percentiles(lat)
	c.percentiles(unc)
}

func (c *rollupCopy) field(b []byte) {
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(b)))
	c.b = append(c.b, b...)
}

func (c *rollupCopy) null() { c.b = binary.BigEndian.AppendUint32(c.b, 0xffffffff) }

func (c *rollupCopy) int8(v int64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, uint64(v))
}

func (c *rollupCopy) float8(v float64) {
	c.b = binary.BigEndian.AppendUint32(c.b, 8)
	c.b = binary.BigEndian.AppendUint64(c.b, math.Float64bits(v))
}

// array writes an int8[] of one dimension (NULL when empty): dimensions, has-nulls flag, element type, the
// dimension's length and lower bound, then each element as a field.
func (c *rollupCopy) array(vs []int64) {
	if len(vs) == 0 {
		c.null()
		return
	}
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(20+12*len(vs)))
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	c.b = binary.BigEndian.AppendUint32(c.b, 0)
	c.b = binary.BigEndian.AppendUint32(c.b, 20) // int8's type oid
	c.b = binary.BigEndian.AppendUint32(c.b, uint32(len(vs)))
	c.b = binary.BigEndian.AppendUint32(c.b, 1)
	for _, v := range vs {
		c.int8(v)
	}
}

// percentiles writes h's count and percentiles; NULLs for an empty histogram.
func (c *rollupCopy) percentiles(h schema.Hist) {
	if len(h.V) == 0 {
		for range 6 {
			c.null()
		}
		return
	}
	p := h.Percentiles()
	c.int8(p.Count)
	for _, v := range []float64{p.P50Ms, p.P90Ms, p.P99Ms, p.P999Ms, p.MaxMs} {
		c.float8(v)
	}
}
