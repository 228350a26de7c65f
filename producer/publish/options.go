package publish

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Option configures a Publisher. Options only record what they are given; Open checks them all at once and
// fails with every problem, so a bad value is an error instead of being silently replaced by a default.
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
	compactHook            func(step string) error // tests: called at each step of a compaction
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

// validate returns every problem with the options at once.
func (o *options) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if o.logger == nil {
		bad("WithLogger: nil logger (use slog.New(slog.DiscardHandler) to discard)")
	}
	if o.lockTimeout <= 0 {
		// bbolt reads 0 as "wait forever", which would hang a second producer instead of telling it why.
		bad("WithLockTimeout: %v is not positive", o.lockTimeout)
	}
	if o.batchRecords <= 0 || o.batchBytes <= 0 {
		bad("WithBatchLimits: %d records, %d bytes: both must be positive", o.batchRecords, o.batchBytes)
	}
	if o.backoffMin <= 0 || o.backoffMax < o.backoffMin {
		bad("WithRetryBackoff: first %v, limit %v: first must be positive and limit at least first", o.backoffMin, o.backoffMax)
	}
	if o.statusInterval <= 0 {
		bad("status interval %v is not positive", o.statusInterval)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("publisher options: %w", errors.Join(errs...))
}

// WithLogger sets where the Publisher reports delivery stalling and resuming and entries it quarantines,
// overriding slog.Default(). The Publisher logs state changes only, never once per retry. A nil logger is an
// error.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithTopic sets the topic Publish writes to, overriding the configuration's producer.topic. Records already in
// the spool keep the topic they were published with.
func WithTopic(topic string) Option {
	return func(o *options) { o.topic = topic }
}

// WithLockTimeout sets how long Open waits for another process to release the spool before it fails with
// ErrSpoolInUse, overriding the default 1s. It must be positive.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithBatchLimits bounds how much of the spool the shipper holds in memory and in flight at once, overriding the
// default 500 records or 4 MiB, whichever is reached first (a single larger record is still sent alone). Larger
// batches send a backlog faster; smaller ones use less memory on small devices. Both must be positive.
func WithBatchLimits(records, bytes int) Option {
	return func(o *options) { o.batchRecords, o.batchBytes = records, bytes }
}

// WithRetryBackoff sets the shipper's wait after a failed delivery attempt: it starts at first, doubles per
// consecutive failure and is capped at limit, overriding the default 500ms to 30s. first must be positive and
// limit at least first. While no broker can be reached at all, franz-go keeps the batch and redials on its own
// schedule (up to a few seconds apart); this backoff applies when Kafka answers but refuses records.
func WithRetryBackoff(first, limit time.Duration) Option {
	return func(o *options) { o.backoffMin, o.backoffMax = first, limit }
}

// WithKafkaOptions adds franz-go client options after the ones the Publisher sets (seeds, TLS, SASL from the
// configuration; idempotent writes with acks=all; unlimited retries), so they can override them. Meant for tuning
// and tests; do not disable idempotence or lower the acks.
func WithKafkaOptions(opts ...kgo.Opt) Option {
	return func(o *options) { o.kgoOpts = append(o.kgoOpts, opts...) }
}
