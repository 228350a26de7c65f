package target

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// levelTrace is the slog level of nats-server's protocol traces (every message in and out), below Debug.
const levelTrace = slog.LevelDebug - 4

// natsLogger routes nats-server's printf-style log into slog. nats-server reports listeners it could not open
// only through Fatalf, and its own logger would exit the process there; this one keeps the first such failure
// for Start to return (without logging it: the caller gets it as an error) and logs later ones at Error.
type natsLogger struct {
	l *slog.Logger

	mu      sync.Mutex
	fatal   *fatalCall
	started bool // Start has returned the server; Fatalf now only logs
}

type fatalCall struct {
	format string
	args   []any
}

var _ server.Logger = (*natsLogger)(nil)

func newNATSLogger(l *slog.Logger) *natsLogger {
	return &natsLogger{l: l.With("component", "nats")}
}

func (n *natsLogger) enabled(level slog.Level) bool {
	return n.l.Enabled(context.Background(), level)
}

func (n *natsLogger) log(level slog.Level, format string, v []any) {
	if n.enabled(level) {
		n.l.Log(context.Background(), level, fmt.Sprintf(format, v...))
	}
}

// Noticef logs at Info.
func (n *natsLogger) Noticef(format string, v ...any) { n.log(slog.LevelInfo, format, v) }

// Warnf logs at Warn.
func (n *natsLogger) Warnf(format string, v ...any) { n.log(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (n *natsLogger) Errorf(format string, v ...any) { n.log(slog.LevelError, format, v) }

// Debugf logs at Debug.
func (n *natsLogger) Debugf(format string, v ...any) { n.log(slog.LevelDebug, format, v) }

// Tracef logs below Debug (levelTrace).
func (n *natsLogger) Tracef(format string, v ...any) { n.log(levelTrace, format, v) }

// Fatalf records the first call while starting, and otherwise logs at Error; it never exits.
func (n *natsLogger) Fatalf(format string, v ...any) {
	n.mu.Lock()
	record := !n.started && n.fatal == nil
	if record {
		n.fatal = &fatalCall{format: format, args: v}
	}
	n.mu.Unlock()
	if !record {
		n.log(slog.LevelError, format, v)
	}
}

// finishStart makes Fatalf log from now on, and returns a failure recorded before.
func (n *natsLogger) finishStart() *fatalCall {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.started = true
	return n.fatal
}

func (n *natsLogger) fatalError() *fatalCall {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}

// ListenError reports a listener Start could not open, most often because another process holds the port.
type ListenError struct {
	Listener string // "mqtt", "nats" or "monitor"
	Addr     string // host:port it tried to bind
	Err      error
}

// Error names the listener, the address and the cause.
func (e *ListenError) Error() string {
	what := map[string]string{"mqtt": "MQTT clients", "nats": "NATS clients", "monitor": "NATS monitoring"}[e.Listener]
	return fmt.Sprintf("cannot listen for %s on %s: %v", what, e.Addr, e.Err)
}

// Unwrap returns the cause, e.g. a *net.OpError wrapping syscall.EADDRINUSE.
func (e *ListenError) Unwrap() error { return e.Err }

// startError turns the Fatalf call that stopped the server into an error. The listener is recognised by
// nats-server's message formats ("Unable to listen for MQTT connections: %v", "Error listening on port: %s, %q",
// "Can't start monitoring: %v"); the address is the one we asked for, since a random port has none yet.
func startError(f *fatalCall, opts Options, nopts *server.Options) error {
	var cause error
	for _, a := range f.args {
		if err, ok := a.(error); ok {
			cause = err
			break
		}
	}
	msg := fmt.Sprintf(f.format, f.args...)
	if cause == nil {
		cause = errors.New(msg)
	}
	addr := func(port int) string {
		p := "random port"
		if port > 0 {
			p = strconv.Itoa(port)
		}
		return net.JoinHostPort(nopts.Host, p)
	}
	switch {
	case strings.Contains(f.format, "MQTT"):
		return &ListenError{Listener: "mqtt", Addr: addr(nopts.MQTT.Port), Err: cause}
	case strings.HasPrefix(f.format, "Error listening on port"):
		return &ListenError{Listener: "nats", Addr: addr(nopts.Port), Err: cause}
	case strings.Contains(f.format, "monitor"):
		return &ListenError{Listener: "monitor", Addr: addr(opts.MonitorPort), Err: cause}
	}
	return fmt.Errorf("start NATS server: %s", msg)
}
