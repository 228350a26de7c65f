package publish

import "time"

// WithStatusInterval lets tests see status.json refreshed sooner than every second.
func WithStatusInterval(d time.Duration) Option {
	return func(o *options) { o.statusInterval = d }
}

// MaxValueBytes exposes the Publish size limit for a key of keyLen bytes.
func MaxValueBytes(keyLen int) int { return maxValueBytes(keyLen) }

// WithCompactHook calls hook at each step of a compaction ("created", "copied", "renamed", "synced", "closed");
// an error from it before the rename ("created", "copied") abandons the compaction.
func WithCompactHook(hook func(step string) error) Option {
	return func(o *options) { o.compactHook = hook }
}
