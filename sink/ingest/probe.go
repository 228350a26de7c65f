package ingest

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/internal/pgcopy"
)

// failure says what a failed write means for the records in it.
type failure int

const (
	// unavailable: the database (or Kafka, for dead letters) cannot do the work now — down, restarting, out of
	// connections or disk, a deadlock, the write's own timeout. Nothing a record did: retried until it passes.
	unavailable failure = iota
	// refused: the database refused a value (data exception, integrity violation, program limit such as an index
	// row too large). Some row is at fault; the probe finds it at once.
	refused
	// unknown: any other error the database answered with (a trigger's exception, an internal error, a
	// permission). Retried a few times, then probed; it is a record's fault only if the probe pins it on one.
	unknown
)

// unknownAttempts is how many times a write failing with an unknown error is tried before the probe looks for a
// row to blame: enough to ride out a transient state, few enough that one record holds its partition briefly.
const unknownAttempts = 5

// classify tells what a write error means. Only the SQLSTATE classes that say "not now" are unavailable; every
// other answer of the database may be about a row, and the probe decides.
func classify(err error) failure {
	var valErr *pgcopy.ValueError
	if errors.As(err, &valErr) {
		return refused // a value the encoder could not fit in its column
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return unavailable // no answer from the database: network, timeouts, context, Kafka
	}
	switch class := pgErr.Code[:min(2, len(pgErr.Code))]; class {
	case "22", "23", "54": // data exception, integrity constraint violation, program limit exceeded
		return refused
	case "08", // connection exception
		"25", // invalid transaction state (a read-only standby after a failover, idle timeouts)
		"40", // transaction rollback: serialization failure, deadlock
		"53", // insufficient resources: disk full, out of memory, too many connections
		"57", // operator intervention: admin shutdown, crash shutdown, cannot connect now, query canceled
		"58": // system error: I/O
		return unavailable
	case "55":
		if pgErr.Code == "55P03" || pgErr.Code == "55006" { // lock not available, object in use
			return unavailable
		}
	}
	return unknown
}

// refusedRecord is a record the database refused, with the database's own error for its row.
type refusedRecord struct {
	src *kgo.Record
	err error
}

// findRefusedRecords writes b's rows one at a time, each in a savepoint of a transaction that is rolled back, and
// returns the records whose rows the database refuses, each with its own error. Slow, but only runs after a write
// failed for a reason that may be a row's; it tries every row, so several bad records cost one probe.
//
// A row is blamed only for an error about it: an error that says the database or the context is unavailable stops
// the probe without blaming anyone (a deadline reached mid-probe is no record's fault). For an error of unknown
// kind, rows are blamed only if some other row of the batch goes in, so an error every row gets (a permission
// missing, a table gone) never sends a batch to the dead letters.
func (s *Sink) findRefusedRecords(ctx context.Context, b *batch, kind failure) ([]refusedRecord, error) {
	var culprits []refusedRecord
	blamed := map[*kgo.Record]bool{}
	var stopErr error
	innocent := false // some row went in
	errRollBack := errors.New("roll the probe back")
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// try writes one row and reports whether the probe must stop.
		try := func(src *kgo.Record, sql string, args ...any) bool {
			if _, stopErr = tx.Exec(ctx, "SAVEPOINT probe"); stopErr != nil {
				return true
			}
			_, err := tx.Exec(ctx, sql, args...)
			if err == nil {
				innocent = true
				_, stopErr = tx.Exec(ctx, "RELEASE SAVEPOINT probe")
				return stopErr != nil
			}
			if ctx.Err() != nil || classify(err) == unavailable {
				stopErr = err
				return true
			}
			if !blamed[src] {
				blamed[src] = true
				culprits = append(culprits, refusedRecord{src, err})
			}
			_, stopErr = tx.Exec(ctx, "ROLLBACK TO SAVEPOINT probe")
			return stopErr != nil
		}
		for _, name := range b.order {
			t := b.tables[name]
			params := make([]string, len(t.columns))
			for i := range params {
				params[i] = "$" + strconv.Itoa(i+1)
			}
			sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s) ON CONFLICT DO NOTHING", pgx.Identifier{apiSchema, t.table}.Sanitize(), strings.Join(t.columns, ", "), strings.Join(params, ", "))
			for i, row := range t.rows {
				if try(t.srcs[i], sql, row.values()...) {
					return errRollBack
				}
			}
		}
		for _, u := range b.upserts {
			if try(u.src, u.sql, u.args...) {
				return errRollBack
			}
		}
		return errRollBack
	})
	switch {
	case stopErr != nil:
		return nil, fmt.Errorf("probe: %w", stopErr)
	case !errors.Is(err, errRollBack):
		return nil, fmt.Errorf("probe: %w", err)
	case kind != refused && !innocent:
		return nil, nil
	}
	return culprits, nil
}
