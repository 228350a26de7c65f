package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/pgcopy"
)

type writeResult struct {
	written    map[string]int           // topic → records written (or already present by key)
	duplicates map[string]int           // table → rows dropped by the primary key
	rows       map[string]int           // table → rows inserted or updated
	next       map[topicPartition]int64 // stored positions after the commit
	skipped    map[*kgo.Record]bool     // records below the stored position: already written earlier
}

// dataError is a row the database refused for its content; flush dead-letters src and retries the batch.
type dataError struct {
	src *kgo.Record
	err error
}

func (e *dataError) Error() string { return e.err.Error() }

// write commits b in one transaction: lock the partitions' stored positions, drop records below them, send dead
// letters, insert rows, upsert runs, advance the positions.
func (s *Sink) write(ctx context.Context, b *batch) (writeResult, error) {
	res := writeResult{written: map[string]int{}, duplicates: map[string]int{}, rows: map[string]int{}, next: map[topicPartition]int64{}, skipped: map[*kgo.Record]bool{}}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		stored, err := s.lockPositions(ctx, tx, b.recs)
		if err != nil {
			return err
		}
		for _, r := range b.recs {
			tp := topicPartition{r.Topic, r.Partition}
			if r.Offset < stored[tp] {
				res.skipped[r] = true
				continue
			}
			res.next[tp] = max(res.next[tp], r.Offset+1)
		}
		if len(res.skipped) > 0 {
			s.m.replayed.Add(float64(len(res.skipped)))
		}

		// Dead letters first: once the positions move past a bad record, the dead-letter topic is its only copy.
		if err := s.produceDeadLetters(ctx, b, res.skipped); err != nil {
			return err
		}
		for _, name := range b.order {
			t := b.tables[name]
			n, dups, err := s.insertRows(ctx, tx, t, res.skipped)
			if err != nil {
				return err
			}
			res.rows[name] += n
			res.duplicates[name] += dups
		}
		if err := s.upsertRuns(ctx, tx, b.upserts, res.skipped, res.rows); err != nil {
			return err
		}
		return s.storePositions(ctx, tx, res.next)
	})
	if err != nil {
		var pgErr *pgconn.PgError
		var valErr *pgcopy.ValueError
		if (errors.As(err, &pgErr) && isDataError(pgErr)) || errors.As(err, &valErr) {
			if src := s.findRefusedRecord(ctx, b); src != nil {
				return res, &dataError{src: src, err: err}
			}
		}
		return res, err
	}
	for _, r := range b.recs {
		if !res.skipped[r] {
			res.written[r.Topic]++
		}
	}
	for _, d := range b.dead {
		if !res.skipped[d.src] {
			res.written[d.src.Topic]--
		}
	}
	return res, nil
}

// lockPositions makes sure a position row exists for every partition in recs and locks those rows until the
// transaction ends, so two consumers of one partition (a zombie after a rebalance) write one after the other and
// the second sees what the first wrote.
func (s *Sink) lockPositions(ctx context.Context, tx pgx.Tx, recs []*kgo.Record) (map[topicPartition]int64, error) {
	seen := map[topicPartition]bool{}
	var topics []string
	var parts []int32
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		if !seen[tp] {
			seen[tp] = true
			topics = append(topics, r.Topic)
			parts = append(parts, r.Partition)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, next_offset)
		SELECT $1, t, p, 0 FROM unnest($2::text[], $3::int[]) AS u(t, p)
		ON CONFLICT DO NOTHING`, s.cfg.Sink.Group, topics, parts); err != nil {
		return nil, fmt.Errorf("create positions: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT o.topic, o.partition, o.next_offset FROM benchpipe.sink_offsets o
		JOIN unnest($2::text[], $3::int[]) AS u(t, p) ON o.topic = u.t AND o.partition = u.p
		WHERE o.consumer_group = $1
		ORDER BY o.topic, o.partition
		FOR UPDATE OF o`, s.cfg.Sink.Group, topics, parts)
	if err != nil {
		return nil, fmt.Errorf("lock positions: %w", err)
	}
	stored := map[topicPartition]int64{}
	var tp topicPartition
	var next int64
	_, err = pgx.ForEachRow(rows, []any{&tp.topic, &tp.partition, &next}, func() error {
		stored[tp] = next
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("lock positions: %w", err)
	}
	return stored, nil
}

func (s *Sink) storePositions(ctx context.Context, tx pgx.Tx, next map[topicPartition]int64) error {
	if len(next) == 0 {
		return nil
	}
	var topics []string
	var parts []int32
	var offsets []int64
	for tp, n := range next {
		topics, parts, offsets = append(topics, tp.topic), append(parts, tp.partition), append(offsets, n)
	}
	_, err := tx.Exec(ctx, `UPDATE benchpipe.sink_offsets o SET next_offset = u.n, updated_at = now()
		FROM unnest($2::text[], $3::int[], $4::bigint[]) AS u(t, p, n)
		WHERE o.consumer_group = $1 AND o.topic = u.t AND o.partition = u.p`, s.cfg.Sink.Group, topics, parts, offsets)
	if err != nil {
		return fmt.Errorf("store positions: %w", err)
	}
	return nil
}

// copyRows copies rows into t's table with pgcopy, whose encoders are planned once per column: pgx re-plans the
// encoding of every value and spends about eight times the client CPU per row. Tables pgcopy can't encode fall
// back to pgx's CopyFrom.
func (s *Sink) copyRows(ctx context.Context, tx pgx.Tx, t *tableRows, rows [][]any) (int64, error) {
	key := t.table + "\x00" + strings.Join(t.columns, ",")
	ct, ok := s.copiers[key]
	if !ok {
		var err error
		ct, err = pgcopy.LoadTable(ctx, tx, t.table, t.columns)
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
		return tx.CopyFrom(ctx, pgx.Identifier{t.table}, t.columns, pgx.CopyFromRows(rows))
	}
	return ct.Copy(ctx, tx.Conn().PgConn(), rows)
}

// insertRows writes t's rows with binary COPY and returns rows inserted and rows dropped as duplicates.
//
// Duplicates only come from a producer that re-sent records after a crash (the stored positions already exclude
// the sink's own replays), so the common case copies straight into the table inside a savepoint. When the primary
// key refuses a row, the savepoint is rolled back and the batch goes through a session-local staging table and
// INSERT … ON CONFLICT DO NOTHING, which keeps the first copy of every key. Straight COPY is about twice as fast.
func (s *Sink) insertRows(ctx context.Context, tx pgx.Tx, t *tableRows, skipped map[*kgo.Record]bool) (int, int, error) {
	rows := t.rows
	if len(skipped) > 0 {
		rows = make([][]any, 0, len(t.rows))
		for i, r := range t.rows {
			if !skipped[t.srcs[i]] {
				rows = append(rows, r)
			}
		}
	}
	if len(rows) == 0 {
		return 0, 0, nil
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT direct_copy"); err != nil {
		return 0, 0, err
	}
	n, err := s.copyRows(ctx, tx, t, rows)
	if err == nil {
		_, err = tx.Exec(ctx, "RELEASE SAVEPOINT direct_copy")
		return int(n), 0, err
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" { // unique_violation
		return 0, 0, fmt.Errorf("copy into %s: %w", t.table, err)
	}
	if _, err := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT direct_copy"); err != nil {
		return 0, 0, err
	}
	s.m.dedupBatches.Inc()

	table := pgx.Identifier{t.table}.Sanitize()
	stage := pgx.Identifier{"stage_" + t.table}.Sanitize()
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", stage, table)); err != nil {
		return 0, 0, fmt.Errorf("staging table for %s: %w", t.table, err)
	}
	copied, err := tx.CopyFrom(ctx, pgx.Identifier{"stage_" + t.table}, t.columns, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, 0, fmt.Errorf("copy into %s: %w", stage, err)
	}
	cols := strings.Join(t.columns, ", ")
	tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s ON CONFLICT DO NOTHING", table, cols, cols, stage))
	if err != nil {
		return 0, 0, fmt.Errorf("insert into %s: %w", t.table, err)
	}
	inserted := int(tag.RowsAffected())
	return inserted, int(copied) - inserted, nil
}

func (s *Sink) upsertRuns(ctx context.Context, tx pgx.Tx, ups []upsert, skipped map[*kgo.Record]bool, rows map[string]int) error {
	var pb pgx.Batch
	for _, u := range ups {
		if !skipped[u.src] {
			pb.Queue(u.sql, u.args...)
		}
	}
	if pb.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &pb).Close(); err != nil {
		return fmt.Errorf("upsert runs: %w", err)
	}
	rows["runs"] += pb.Len()
	return nil
}

// isDataError tells a refusal of the data (SQLSTATE classes 22 data exception and 23 integrity violation) from
// an unavailable database: the first is the record's fault and is dead-lettered, the second is retried.
func isDataError(e *pgconn.PgError) bool {
	return strings.HasPrefix(e.Code, "22") || strings.HasPrefix(e.Code, "23")
}

// findRefusedRecord writes b's rows one at a time, each in a savepoint of a transaction that is rolled back, to
// find the record the database refuses. Slow, but only runs after a data error.
func (s *Sink) findRefusedRecord(ctx context.Context, b *batch) *kgo.Record {
	var culprit *kgo.Record
	_ = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		try := func(src *kgo.Record, sql string, args ...any) bool {
			if _, err := tx.Exec(ctx, "SAVEPOINT probe"); err != nil {
				return true
			}
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				culprit = src
				return true
			}
			_, _ = tx.Exec(ctx, "RELEASE SAVEPOINT probe")
			return false
		}
		for _, name := range b.order {
			t := b.tables[name]
			params := make([]string, len(t.columns))
			for i := range params {
				params[i] = "$" + strconv.Itoa(i+1)
			}
			sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING", pgx.Identifier{t.table}.Sanitize(), strings.Join(t.columns, ", "), strings.Join(params, ", "))
			for i, row := range t.rows {
				if try(t.srcs[i], sql, row...) {
					return errors.New("found")
				}
			}
		}
		for _, u := range b.upserts {
			if try(u.src, u.sql, u.args...) {
				return errors.New("found")
			}
		}
		return errors.New("roll back the probe")
	})
	return culprit
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
