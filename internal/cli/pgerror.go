package cli

import (
	"errors"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// OneLine is err's message with a database connection failure cut down to its cause. pgx reports every attempt it
// made: with the default sslmode=prefer a server without TLS first gives "tls error: server refused TLS
// connection", and the real cause (a wrong password, a missing database) follows on another line, so the first
// line an operator reads is the wrong one; an unreachable server is reported twice. Any program that connects to
// PostgreSQL with pgx prints its errors through this. It does not mask passwords: pass the result through
// schema.RedactText.
func OneLine(err error) string {
	msg := err.Error()
	var ce *pgconn.ConnectError
	if !errors.As(err, &ce) {
		return msg
	}
	var attempts []error
	if j, ok := errors.Unwrap(ce).(interface{ Unwrap() []error }); ok {
		attempts = j.Unwrap()
	} else if inner := errors.Unwrap(ce); inner != nil {
		attempts = []error{inner}
	}
	var kept []error
	for _, a := range attempts {
		if len(attempts) > 1 && strings.HasSuffix(a.Error(), "tls error: server refused TLS connection") {
			continue
		}
		kept = append(kept, a)
	}
	cause := ""
	for _, a := range kept {
		var pe *pgconn.PgError
		if errors.As(a, &pe) { // the server answered: that is the cause
			cause = a.Error()
			break
		}
		// An attempt whose message holds another's (pgx wraps a lookup failure and adds it again) is the same.
		if !strings.Contains(cause, a.Error()) {
			cause = a.Error()
		}
	}
	if cause == "" {
		return msg
	}
	return strings.Replace(msg, ce.Error(), cause, 1)
}
