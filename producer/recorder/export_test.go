package recorder

import (
	"testing"
	"time"
)

// WaitWritten waits until the writer has dealt with every record queued so far, saved or not.
func (r *Recorder) WaitWritten(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		done := r.handled == r.queued
		r.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("records not written after %v", timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Queued is how many records wait in the queue for the writer.
func (r *Recorder) Queued() int { return len(r.queue) }
