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
// rows, upsert runs, advance the positions.
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
			n, dups, err := s.insertRows(ctx, tx, t, omit)
			if err != nil {
				return err
			}
			res.rows[name] += n
			res.duplicates[name] += dups
		}
		if err := s.upsertRuns(ctx, tx, b.upserts, omit, res.rows); err != nil {
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
func (s *Sink) copyRows(ctx context.Context, tx pgx.Tx, t *tableRows, rows [][]any) (int64, error) {
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
		return tx.CopyFrom(ctx, pgx.Identifier{apiSchema, t.table}, t.columns, pgx.CopyFromRows(rows))
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

	table := pgx.Identifier{apiSchema, t.table}.Sanitize()
	stageName := pgx.Identifier{"pg_temp", "stage_" + t.table}
	stage := stageName.Sanitize()
	if _, err := tx.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE IF NOT EXISTS %s (LIKE %s INCLUDING DEFAULTS) ON COMMIT DELETE ROWS", stage, table)); err != nil {
		return 0, 0, fmt.Errorf("staging table for %s: %w", t.table, err)
	}
	copied, err := tx.CopyFrom(ctx, stageName, t.columns, pgx.CopyFromRows(rows))
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
