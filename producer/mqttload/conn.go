package mqttload

import (
	"bufio"
	"crypto/tls"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// Buffer sizes per connection: a few dozen small messages per system call.
const (
	readBufferSize  = 16 << 10
	maxPendingWrite = 64 << 10 // paho's writes block while this much waits for the socket
	socketWriteWait = 10 * time.Second
)

// bufferedConn batches paho's system calls. paho decodes every packet straight from the socket (one read for
// the packet type, one per length byte, one for the rest) and writes every packet with its own write, so each
// message cost a publisher one write and a subscriber three or more reads, plus a write for a QoS 1/2
// acknowledgement. Profiled at 30,000 messages a second, those system calls took two thirds of the generator's
// CPU, making the generator, not the broker, the bottleneck. Reads now go through a buffer, and writes are
// appended to a pending buffer that a flusher goroutine writes to the socket whenever it holds something: one
// system call carries whatever accumulated while the previous one ran, and a lone packet is written at once.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader

	mu      sync.Mutex
	wake    *sync.Cond // buf gained data or room, the socket failed, or the connection is closing
	buf     []byte     // written by paho, not yet on the socket
	spare   []byte
	werr    error // the socket's write error, returned by every later Write
	closing bool
	flushed chan struct{} // closed when the flusher has ended
}

func newBufferedConn(conn net.Conn) *bufferedConn {
	c := &bufferedConn{Conn: conn, r: bufio.NewReaderSize(conn, readBufferSize), flushed: make(chan struct{})}
	c.wake = sync.NewCond(&c.mu)
	go c.flush() // ended by Close, which waits for it
	return c
}

// Read reads through the buffer.
func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// Write queues p for the flusher. It blocks while maxPendingWrite bytes wait, so a broker that stops reading
// holds paho back as the socket would.
func (c *bufferedConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.werr == nil && !c.closing && len(c.buf) >= maxPendingWrite {
		c.wake.Wait()
	}
	switch {
	case c.werr != nil:
		return 0, c.werr
	case c.closing:
		return 0, net.ErrClosed
	}
	c.buf = append(c.buf, p...)
	c.wake.Broadcast()
	return len(p), nil
}

// flush writes the pending buffer to the socket until the connection closes or a write fails.
func (c *bufferedConn) flush() {
	defer close(c.flushed)
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.buf) == 0 && !c.closing {
			c.wake.Wait()
		}
		if len(c.buf) == 0 {
			return // closing, and everything is written
		}
		out := c.buf
		c.buf = c.spare[:0]
		c.mu.Unlock()
		err := c.Conn.SetWriteDeadline(time.Now().Add(socketWriteWait))
		if err == nil {
			_, err = c.Conn.Write(out)
		}
		c.mu.Lock()
		c.spare = out[:0]
		if err != nil {
			c.werr = err
			c.buf = nil
			c.wake.Broadcast()
			return
		}
		c.wake.Broadcast()
	}
}

// SetDeadline sets the read deadline only; see SetWriteDeadline.
func (c *bufferedConn) SetDeadline(t time.Time) error { return c.Conn.SetReadDeadline(t) }

// SetWriteDeadline does nothing: paho sets a deadline around each of its writes, which here only fill the
// buffer. The flusher puts its own deadline on every socket write instead, so a broker that stops reading still
// fails the connection after socketWriteWait, as paho's write timeout would.
func (c *bufferedConn) SetWriteDeadline(time.Time) error { return nil }

// Close writes what is pending (paho's DISCONNECT is usually among it), waiting at most a second on a network
// that has stopped, then closes the socket.
func (c *bufferedConn) Close() error {
	c.mu.Lock()
	c.closing = true
	c.wake.Broadcast()
	c.mu.Unlock()
	select {
	case <-c.flushed:
	case <-time.After(time.Second):
		_ = c.Conn.SetWriteDeadline(time.Now()) // unblock the flusher's write
		<-c.flushed
	}
	return c.Conn.Close()
}

// openConn is paho's OpenConnectionFunc for tcp:// and ssl:// brokers: it dials like paho does and wraps the
// connection in a bufferedConn. WebSocket brokers keep paho's own dialer (see usesOwnDialer).
func openConn(uri *url.URL, o mqtt.ClientOptions) (net.Conn, error) {
	d := &net.Dialer{Timeout: o.ConnectTimeout}
	host := uri.Host
	secure := isTLSScheme(uri.Scheme)
	if uri.Port() == "" {
		port := "1883"
		if secure {
			port = "8883"
		}
		host = net.JoinHostPort(uri.Hostname(), port)
	}
	var conn net.Conn
	var err error
	if secure {
		cfg := o.TLSConfig
		if cfg == nil {
			cfg = &tls.Config{}
		}
		conn, err = tls.DialWithDialer(d, "tcp", host, cfg)
	} else {
		conn, err = d.Dial("tcp", host)
	}
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetKeepAlivePeriod(30 * time.Second)
	}
	return newBufferedConn(conn), nil
}

// usesOwnDialer reports whether openConn handles the broker URL's scheme.
func usesOwnDialer(broker string) bool {
	u, err := url.Parse(broker)
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "tcp", "mqtt", "ssl", "tls", "mqtts":
		return true
	}
	return false
}

func isTLSScheme(s string) bool {
	switch strings.ToLower(s) {
	case "ssl", "tls", "mqtts", "wss":
		return true
	}
	return false
}
