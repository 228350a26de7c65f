package testenv

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// DelayProxy is a TCP proxy for latency tests: every byte is forwarded delay after it arrived, in both directions,
// and Stall stops all forwarding for a while (a network or broker hiccup). A real network path with a fixed
// delay, for the MQTT generator's fidelity tests and compare's injected slowdown.
type DelayProxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu         sync.Mutex
	stallUntil time.Time
	conns      []net.Conn
	wg         sync.WaitGroup
	closed     bool
}

// StartDelayProxy starts a DelayProxy on loopback in front of target (host:port); it and every connection it made
// are closed when the test ends.
func StartDelayProxy(tb testing.TB, target string, delay time.Duration) *DelayProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &DelayProxy{ln: ln, target: target, delay: delay}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *DelayProxy) Addr() string { return p.ln.Addr().String() }

// Stall stops forwarding for d from now.
func (p *DelayProxy) Stall(d time.Duration) {
	p.mu.Lock()
	p.stallUntil = time.Now().Add(d)
	p.mu.Unlock()
}

func (p *DelayProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			up.Close()
			return
		}
		p.conns = append(p.conns, c, up)
		p.wg.Add(2)
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

type delayChunk struct {
	b   []byte
	due time.Time
}

// pipe copies src to dst through a delay line: a reader stamps each chunk with its due time, a writer sleeps
// until then (and through any stall) before writing, so order is kept and the delay does not accumulate.
func (p *DelayProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	line := make(chan delayChunk, 4096)
	var writer sync.WaitGroup
	writer.Add(1)
	go func() {
		defer writer.Done()
		for c := range line {
			time.Sleep(time.Until(c.due))
			for {
				p.mu.Lock()
				wait := time.Until(p.stallUntil)
				p.mu.Unlock()
				if wait <= 0 {
					break
				}
				time.Sleep(wait)
			}
			if _, err := dst.Write(c.b); err != nil {
				break
			}
		}
		for range line { // drain after a write error so the reader never blocks
		}
		dst.Close()
	}()
	for {
		buf := make([]byte, 32<<10)
		n, err := src.Read(buf)
		if n > 0 {
			line <- delayChunk{b: buf[:n], due: time.Now().Add(p.delay)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				src.Close()
			}
			break
		}
	}
	close(line)
	writer.Wait()
}

func (p *DelayProxy) close() {
	p.mu.Lock()
	p.closed = true
	conns := p.conns
	p.mu.Unlock()
	p.ln.Close()
	for _, c := range conns {
		c.Close()
	}
	p.wg.Wait()
}
