package testenv

import (
	"bytes"
	"sync"
)

// Buffer collects what a program, a server or a goroutine writes while the test reads it: exec's copying
// goroutines, a server's logger, a command's stdout. The zero value is ready to use.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
