package publish

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ship sends the spool to Kafka a batch at a time, oldest first, until ctx ends. It owns the Kafka client and
// closes it on return. Holding one batch at a time is what bounds memory: a spool that grew for days is read from
// disk as it goes out.
func (p *Publisher) ship(ctx context.Context) {
	defer p.closeClient()
	backoff := p.o.backoffMin
	retry := func(err error) bool {
		p.fail(err)
		// Jitter keeps devices that lost Kafka together from all coming back in the same instant.
		d := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, p.o.backoffMax)
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		batch, bad, err := readBatch(p.db, p.o.batchRecords, p.o.batchBytes)
		if err != nil {
			if !retry(fmt.Errorf("read spool %s: %w", p.dir, err)) {
				return
			}
			continue
		}
		if len(bad) > 0 {
			// An entry nothing can read would otherwise be retried forever, and everything after it with it.
			if err := p.quarantine(bad); err != nil {
				if !retry(fmt.Errorf("move unreadable entries to quarantine in %s: %w", p.dir, err)) {
					return
				}
				continue
			}
		}
		if len(batch) == 0 && len(bad) > 0 {
			continue
		}
		if len(batch) == 0 {
			select {
			case <-p.appended:
			case <-ctx.Done():
				return
			}
			continue
		}
		acked, sendErr := p.send(ctx, batch)
		if len(acked) > 0 {
			freed, err := deleteEntries(p.db, acked)
			if err != nil {
				// The records went out; keeping them only means they are sent again.
				sendErr = errors.Join(sendErr, fmt.Errorf("delete delivered records from spool %s: %w", p.dir, err))
			} else {
				p.recordDelivered(int64(len(acked)), freed)
				p.maybeCompact()
			}
		}
		if ctx.Err() != nil {
			return
		}
		if sendErr != nil {
			if !retry(sendErr) {
				return
			}
			continue
		}
		backoff = p.o.backoffMin
	}
}

// sendCancelWait bounds how long a cancelled send waits for the closed Kafka client to complete its promises.
const sendCancelWait = 2 * time.Second

// quarantine moves unreadable entries out of the record queue and says so: each is logged with its key and the
// reason, and counted in Stats.
func (p *Publisher) quarantine(bad []badEntry) error {
	moved, err := quarantineEntries(p.db, bad, time.Now())
	if err != nil {
		return err
	}
	var bytes int64
	for _, b := range moved {
		bytes += int64(b.size)
		p.log.Error("unreadable spool entry moved to quarantine; delivery goes on without it (`producer spool status` lists it)",
			"dir", p.dir, "key", b.id, "bytes", b.size, "reason", b.reason)
	}
	p.quarantined.Add(int64(len(moved)))
	p.pending.Add(-int64(len(moved)))
	p.pendingBytes.Add(-bytes)
	p.version.Add(1)
	p.mu.Lock()
	close(p.drained)
	p.drained = make(chan struct{})
	p.mu.Unlock()
	return nil
}

// send produces batch and waits for every record's acknowledgement. It returns the ids Kafka acknowledged and,
// when some were not, why.
func (p *Publisher) send(ctx context.Context, batch []entry) ([]uint64, error) {
	errs := make([]error, len(batch))
	var left atomic.Int64
	left.Store(int64(len(batch)))
	done := make(chan struct{})
	for i := range batch {
		e := &batch[i]
		// No Timestamp: franz-go stamps the send time. Stamping the measurement time instead would make Kafka's
		// time-based retention delete records that sat in the spool through a long outage right after they arrive.
		r := &kgo.Record{Topic: e.topic, Key: e.key, Value: e.value}
		p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
			errs[i] = err
			if left.Add(-1) == 0 {
				close(done)
			}
		})
	}
	select {
	case <-done:
	case <-ctx.Done():
		// Shutting down. Closing the client fails what is still buffered and completes every promise, so the
		// records Kafka acknowledged meanwhile are known and deleted instead of sent again next time.
		p.closeClient()
		t := time.NewTimer(sendCancelWait)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			return nil, ctx.Err()
		}
	}
	var acked []uint64
	var firstErr error
	var firstTopic string
	failed := 0
	for i, err := range errs {
		if err == nil {
			acked = append(acked, batch[i].id)
			continue
		}
		failed++
		if firstErr == nil {
			firstErr, firstTopic = err, batch[i].topic
		}
	}
	if firstErr == nil {
		return acked, nil
	}
	return acked, describeSendError(firstErr, firstTopic, failed, len(batch))
}

// describeSendError turns a produce failure into a message that says what to do about it.
func describeSendError(err error, topic string, failed, total int) error {
	hint := ""
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, kgo.ErrClientClosed):
		return fmt.Errorf("delivery interrupted: %w", err)
	case errors.Is(err, kerr.UnknownTopicOrPartition), errors.Is(err, kerr.UnknownTopicID):
		hint = "; create the topic (`sink topics apply`)"
	case errors.Is(err, kerr.TopicAuthorizationFailed), errors.Is(err, kerr.ClusterAuthorizationFailed):
		hint = "; grant this producer's user WRITE on the topic (and IDEMPOTENT_WRITE on the cluster for Kafka < 3.0)"
	case errors.Is(err, kerr.MessageTooLarge), errors.Is(err, kerr.RecordListTooLarge):
		hint = fmt.Sprintf("; raise the topic's max.message.bytes to at least %d", kafkaBatchMaxBytes)
	}
	return fmt.Errorf("kafka refused %d of %d records for topic %s: %w%s; they stay in the spool and are retried",
		failed, total, topic, err, hint)
}
