package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A stored position belongs to one Kafka log, not to a topic name: a topic deleted and created again, or a Kafka
// cluster replaced (a wiped volume, a move to new brokers), starts its offsets again at 0, and a position kept from
// the old log would make the sink drop every new record below it as a replay. So positions are keyed by the
// cluster id and the topic id beside group, topic and partition (migration 0003), and a partition whose stored
// positions all name other logs is a reset: logged, counted, and consumed from the start of the new log.

// logID names the log a partition's records come from.
type logID struct {
	cluster string // the Kafka cluster id; "" from a broker too old to have one
	topicID string // the topic id as Kafka prints it (base64); "" from a broker too old to have topic ids
}

// offsetStart is the position "the start of the log, whatever its first offset": the position of a partition
// nothing was stored for. It sorts below every real offset, and it is what kgo's AtStart offset means.
const offsetStart = -2

// chainPos is where the sink is in one assigned partition. Each batch taken from the partition continues from
// next and moves it to the end of the batch, so a batch knows the position it needs stored before it may be
// written: the chain, not offset arithmetic, because Kafka offsets have gaps (compaction, transaction markers).
type chainPos struct {
	log  logID
	next int64
	gen  uint64 // changes whenever the fetch position is set (assignment, re-seek): a refusal from before is stale
}

// batchPart is one partition's share of a batch.
type batchPart struct {
	log  logID
	from int64 // the position this batch continues from: it may be written only when that is the stored position
	to   int64 // the position after the batch's last record
	gen  uint64
}

// refusal is a partition whose batch did not start where its stored position ends: an earlier batch of it was not
// written. Its records are read again from stored.
type refusal struct {
	stored int64
	gen    uint64
}

// restoreOffsets sets the fetch positions of newly assigned partitions from the positions stored beside the rows
// (the database is the truth; Kafka's committed offsets only follow it). A partition with no stored position for
// its log starts at the beginning of the log. While the database or the cluster metadata cannot be read it
// retries: fetching from a position the sink cannot vouch for would only produce batches it must refuse.
func (s *Sink) restoreOffsets(ctx context.Context, offsets map[string]map[int32]kgo.Offset) (map[string]map[int32]kgo.Offset, error) {
	backoff := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := s.restore(ctx, offsets)
		if err == nil {
			return offsets, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("restore positions: %w", err)
		}
		if attempt == 1 || attempt%20 == 0 {
			s.log.Warn("cannot restore stored positions; retrying", "attempt", attempt, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("restore positions: %w", ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// storedRow is one row of benchpipe.sink_offsets.
type storedRow struct {
	log  logID
	next int64
}

func (s *Sink) restore(ctx context.Context, offsets map[string]map[int32]kgo.Offset) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	topics := make([]string, 0, len(offsets))
	for t := range offsets {
		topics = append(topics, t)
	}
	logs, err := s.kafkaLogs(ctx, topics)
	if err != nil {
		return err
	}
	rows, err := s.pool.Query(ctx, `SELECT topic, partition, cluster_id, topic_id, next_offset FROM benchpipe.sink_offsets
		WHERE consumer_group = $1 AND topic = ANY($2)`, s.cfg.Sink.Group, topics)
	if err != nil {
		return fmt.Errorf("read stored positions: %w", err)
	}
	stored := map[topicPartition][]storedRow{}
	var tp topicPartition
	var r storedRow
	if _, err := pgx.ForEachRow(rows, []any{&tp.topic, &tp.partition, &r.log.cluster, &r.log.topicID, &r.next}, func() error {
		stored[tp] = append(stored[tp], r)
		return nil
	}); err != nil {
		return fmt.Errorf("read stored positions: %w", err)
	}

	ends, err := kadm.NewClient(s.cl).ListEndOffsets(ctx, topics...)
	if err != nil {
		return fmt.Errorf("kafka end offsets: %w", err)
	}
	chains := map[topicPartition]chainPos{}
	for topic, parts := range offsets {
		log := logs[topic]
		for partition := range parts {
			tp := topicPartition{topic, partition}
			end, ok := ends.Lookup(topic, partition)
			if !ok || end.Err != nil {
				return fmt.Errorf("kafka end offset of %s/%d: %v", topic, partition, end.Err)
			}
			next, err := s.positionFor(ctx, tp, log, end.Offset, stored[tp])
			if err != nil {
				return err
			}
			chains[tp] = chainPos{log: log, next: next}
			if next == offsetStart {
				parts[partition] = kgo.NewOffset().AtStart()
			} else {
				parts[partition] = kgo.NewOffset().At(next).WithEpoch(-1)
			}
		}
	}
	s.posMu.Lock()
	for tp, c := range chains {
		s.gen++
		c.gen = s.gen
		s.pos[tp] = &c
	}
	s.posMu.Unlock()
	s.log.Debug("restored positions from the database", "partitions", len(chains))
	return nil
}

// positionFor picks tp's position in log, whose end offset is end, from the rows stored for tp (any log).
func (s *Sink) positionFor(ctx context.Context, tp topicPartition, log logID, end int64, rows []storedRow) (int64, error) {
	var own, legacy *storedRow
	for i, r := range rows {
		switch r.log {
		case log:
			own = &rows[i]
		case logID{}:
			legacy = &rows[i]
		}
	}
	// A position past the end of the log cannot be a position in it: the sink stores only positions of records it
	// fetched, and fetches see only records below the end. The log was replaced or lost records (an unclean leader
	// election) under the same ids; new records would arrive below the position and be dropped as replays.
	switch {
	case own != nil && own.next <= end:
		return own.next, nil
	case own == nil && legacy != nil && legacy.next <= end && log != (logID{}):
		// Stored before positions named their log (migration 0003): the first cluster that sees it adopts it. A
		// cluster replaced before that upgrade is told apart only by a position past its end.
		_, err := s.pool.Exec(ctx, `UPDATE benchpipe.sink_offsets SET cluster_id = $4, topic_id = $5
			WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND cluster_id = '' AND topic_id = ''`,
			s.cfg.Sink.Group, tp.topic, tp.partition, log.cluster, log.topicID)
		if err != nil {
			return 0, fmt.Errorf("adopt the stored position of %s/%d: %w", tp.topic, tp.partition, err)
		}
		s.log.Info("stored position adopted for this Kafka log (stored before positions named their cluster and topic ids)",
			"topic", tp.topic, "partition", tp.partition, "cluster_id", log.cluster, "topic_id", log.topicID, "next_offset", legacy.next)
		return legacy.next, nil
	case len(rows) == 0:
		return offsetStart, nil
	}
	// Positions exist for this partition, but none of this log: the topic was recreated or Kafka replaced while the
	// database was kept. Its offsets started again, so the old positions mean nothing here; reading from the start
	// skips nothing, and records already written are recognised by their (run_id, seq) key.
	for _, r := range rows {
		s.log.Error("Kafka log replaced: the stored position is for another cluster or topic incarnation, or past the end of the log; consuming the log from its start",
			"topic", tp.topic, "partition", tp.partition,
			"old_cluster_id", r.log.cluster, "old_topic_id", r.log.topicID, "old_next_offset", r.next,
			"cluster_id", log.cluster, "topic_id", log.topicID, "end_offset", end)
	}
	s.m.kafkaResets.WithLabelValues(tp.topic).Inc()
	// The position row of this log says "from the start", which also makes the reset a one-time event if nothing
	// is written before the next restart.
	if _, err := s.pool.Exec(ctx, `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, cluster_id, topic_id, next_offset)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (consumer_group, topic, partition, cluster_id, topic_id) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
		s.cfg.Sink.Group, tp.topic, tp.partition, log.cluster, log.topicID, int64(offsetStart)); err != nil {
		return 0, fmt.Errorf("store the reset position of %s/%d: %w", tp.topic, tp.partition, err)
	}
	return offsetStart, nil
}

// kafkaLogs asks the cluster for its id and the topics' ids.
func (s *Sink) kafkaLogs(ctx context.Context, topics []string) (map[string]logID, error) {
	select {
	case <-s.clReady:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	md, err := kadm.NewClient(s.cl).Metadata(ctx, topics...)
	if err != nil {
		return nil, fmt.Errorf("kafka metadata: %w", err)
	}
	logs := make(map[string]logID, len(topics))
	for _, t := range topics {
		d, ok := md.Topics[t]
		if !ok {
			return nil, fmt.Errorf("kafka metadata: topic %s missing", t)
		}
		if d.Err != nil {
			return nil, fmt.Errorf("kafka metadata: topic %s: %w", t, d.Err)
		}
		id := ""
		if d.ID != (kadm.TopicID{}) {
			id = d.ID.String()
		}
		logs[t] = logID{cluster: md.Cluster, topicID: id}
	}
	return logs, nil
}

// forget drops the chains of partitions this member no longer owns; if they come back, restoreOffsets starts
// them again from the stored positions.
func (s *Sink) forget(partitions map[string][]int32) {
	s.posMu.Lock()
	defer s.posMu.Unlock()
	for topic, ps := range partitions {
		for _, p := range ps {
			delete(s.pos, topicPartition{topic, p})
		}
	}
}

// take chains recs (one poll's worth, in partition order) onto their partitions: the batch continues each
// partition from where the previous batch taken from it ended. Records of a partition without a chain (lost
// while they were being polled) are dropped: whoever owns the partition now reads them.
func (s *Sink) take(recs []*kgo.Record) ([]*kgo.Record, map[topicPartition]*batchPart) {
	parts := map[topicPartition]*batchPart{}
	kept := recs[:0]
	s.posMu.Lock()
	defer s.posMu.Unlock()
	for _, r := range recs {
		tp := topicPartition{r.Topic, r.Partition}
		c := s.pos[tp]
		if c == nil {
			continue
		}
		p := parts[tp]
		if p == nil {
			p = &batchPart{log: c.log, from: c.next, to: c.next, gen: c.gen}
			parts[tp] = p
		}
		p.to = max(p.to, r.Offset+1)
		c.next = p.to
		kept = append(kept, r)
	}
	return kept, parts
}

// reseek sets the fetch position of refused partitions back to their stored positions, so the records of the
// batch that was not written are read again. A refusal from before the partition's last re-seek or assignment is
// stale: the position was set since.
func (s *Sink) reseek(refused map[topicPartition]refusal) {
	set := map[string]map[int32]kgo.EpochOffset{}
	s.posMu.Lock()
	for tp, r := range refused {
		c := s.pos[tp]
		if c == nil || c.gen != r.gen {
			continue
		}
		s.gen++
		c.gen, c.next = s.gen, r.stored
		if set[tp.topic] == nil {
			set[tp.topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: r.stored}
	}
	s.posMu.Unlock()
	if len(set) > 0 {
		s.log.Warn("reading partitions again from their stored positions", "positions", set)
		s.cl.SetOffsets(set)
	}
}

// lockPositions makes sure a position row exists for every partition of the batch and locks those rows until the
// transaction ends, so two consumers of one partition (a zombie after a rebalance) write one after the other and
// the second sees what the first wrote. It returns the stored positions.
func (s *Sink) lockPositions(ctx context.Context, tx pgx.Tx, parts map[topicPartition]*batchPart) (map[topicPartition]int64, error) {
	var topics, clusters, ids []string
	var partitions []int32
	for tp, p := range parts {
		topics, partitions = append(topics, tp.topic), append(partitions, tp.partition)
		clusters, ids = append(clusters, p.log.cluster), append(ids, p.log.topicID)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO benchpipe.sink_offsets (consumer_group, topic, partition, cluster_id, topic_id, next_offset)
		SELECT $1, t, p, c, i, $6 FROM unnest($2::text[], $3::int[], $4::text[], $5::text[]) AS u(t, p, c, i)
		ON CONFLICT DO NOTHING`, s.cfg.Sink.Group, topics, partitions, clusters, ids, int64(offsetStart)); err != nil {
		return nil, fmt.Errorf("create positions: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT o.topic, o.partition, o.next_offset FROM benchpipe.sink_offsets o
		JOIN unnest($2::text[], $3::int[], $4::text[], $5::text[]) AS u(t, p, c, i)
		  ON o.topic = u.t AND o.partition = u.p AND o.cluster_id = u.c AND o.topic_id = u.i
		WHERE o.consumer_group = $1
		ORDER BY o.topic, o.partition, o.cluster_id, o.topic_id
		FOR UPDATE OF o`, s.cfg.Sink.Group, topics, partitions, clusters, ids)
	if err != nil {
		return nil, fmt.Errorf("lock positions: %w", err)
	}
	stored := map[topicPartition]int64{}
	var tp topicPartition
	var next int64
	if _, err = pgx.ForEachRow(rows, []any{&tp.topic, &tp.partition, &next}, func() error {
		stored[tp] = next
		return nil
	}); err != nil {
		return nil, fmt.Errorf("lock positions: %w", err)
	}
	if len(stored) != len(parts) {
		return nil, errors.New("lock positions: a position row vanished")
	}
	return stored, nil
}

func (s *Sink) storePositions(ctx context.Context, tx pgx.Tx, parts map[topicPartition]*batchPart, next map[topicPartition]int64) error {
	if len(next) == 0 {
		return nil
	}
	var topics, clusters, ids []string
	var partitions []int32
	var offsets []int64
	for tp, n := range next {
		p := parts[tp]
		topics, partitions, offsets = append(topics, tp.topic), append(partitions, tp.partition), append(offsets, n)
		clusters, ids = append(clusters, p.log.cluster), append(ids, p.log.topicID)
	}
	_, err := tx.Exec(ctx, `UPDATE benchpipe.sink_offsets o SET next_offset = u.n, updated_at = now()
		FROM unnest($2::text[], $3::int[], $4::text[], $5::text[], $6::bigint[]) AS u(t, p, c, i, n)
		WHERE o.consumer_group = $1 AND o.topic = u.t AND o.partition = u.p AND o.cluster_id = u.c AND o.topic_id = u.i`,
		s.cfg.Sink.Group, topics, partitions, clusters, ids, offsets)
	if err != nil {
		return fmt.Errorf("store positions: %w", err)
	}
	return nil
}
