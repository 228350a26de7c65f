package publish

import "time"

// WithStatusInterval lets tests see status.json refreshed sooner than every second.
func WithStatusInterval(d time.Duration) Option {
	return func(o *options) { o.statusInterval = d }
}

// MaxValueBytes exposes the Publish size limit for a key of keyLen bytes.
func MaxValueBytes(keyLen int) int { return maxValueBytes(keyLen) }
