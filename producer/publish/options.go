package publish

import (
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Publisher.
type Option func(*options)

type options struct {
	logger                 *slog.Logger
	topic                  string
	lockTimeout            time.Duration
	batchRecords           int
	batchBytes             int
	backoffMin, backoffMax time.Duration
	statusInterval         time.Duration
	kgoOpts                []kgo.Opt
}

func defaultOptions() options {
	return options{
		logger:         slog.Default(),
		lockTimeout:    time.Second,
		batchRecords:   500,
		batchBytes:     4 << 20,
		backoffMin:     500 * time.Millisecond,
		backoffMax:     30 * time.Second,
		statusInterval: time.Second,
	}
}

// WithLogger sets where the Publisher reports delivery stalling and resuming, overriding slog.Default(). The
// Publisher logs state changes only, never once per retry.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithTopic sets the topic Publish writes to, overriding the configuration's producer.topic. Records already in
// the spool keep the topic they were published with.
func WithTopic(topic string) Option {
	return func(o *options) { o.topic = topic }
}

// WithLockTimeout sets how long Open waits for another process to release the spool before it fails with
// ErrSpoolInUse, overriding the default 1s.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithBatchLimits bounds how much of the spool the shipper holds in memory and in flight at once, overriding the
// default 500 records or 4 MiB, whichever is reached first (a single larger record is still sent alone). Larger
// batches send a backlog faster; smaller ones use less memory on small devices.
func WithBatchLimits(records, bytes int) Option {
	return func(o *options) {
		if records > 0 {
			o.batchRecords = records
		}
		if bytes > 0 {
			o.batchBytes = bytes
		}
	}
}

// WithRetryBackoff sets the shipper's wait after a failed delivery attempt: it starts at first, doubles per
// consecutive failure and is capped at limit, overriding the default 500ms to 30s. While no broker can be reached
// at all, franz-go keeps the batch and redials on its own schedule (up to a few seconds apart); this backoff
// applies when Kafka answers but refuses records.
func WithRetryBackoff(first, limit time.Duration) Option {
	return func(o *options) {
		if first > 0 {
			o.backoffMin = first
		}
		if limit >= o.backoffMin {
			o.backoffMax = limit
		}
	}
}

// WithKafkaOptions adds franz-go client options after the ones the Publisher sets (seeds, TLS, SASL from the
// configuration; idempotent writes with acks=all; unlimited retries), so they can override them. Meant for tuning
// and tests; do not disable idempotence or lower the acks.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}
