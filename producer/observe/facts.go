package observe

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/benchpipe/benchpipe/schema"
	"github.com/jackc/pgx/v5"
)

// Querier is what ReadFacts needs of a connection: *pgx.Conn, *pgxpool.Pool and pgx.Tx all have it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// settingsSQL lists the settings that are not at their built-in default. Sources client and session are left
// out: they are the settings of the connection asking (the driver's client_encoding, application_name), not of
// the server the run measured.
const settingsSQL = `SELECT name, coalesce(setting, ''), coalesce(unit, ''), source FROM pg_settings
WHERE source NOT IN ('default', 'client', 'session') ORDER BY name`

// ReadFacts reads the facts a run keeps about the server of q's database: version, non-default settings, the
// database's size, and the statistics counters of pg_stat_database (this database), pg_stat_bgwriter and, from
// PostgreSQL 17, pg_stat_checkpointer. Counters are kept by column name, so a server version that adds or moves
// columns needs no code change; non-numeric columns (names, reset times) are left out.
func ReadFacts(ctx context.Context, q Querier) (schema.ServerFacts, error) {
	f := schema.ServerFacts{Time: time.Now().UTC()}
	if err := q.QueryRow(ctx, `SELECT version(), current_setting('server_version_num')::int, pg_database_size(current_database())`).
		Scan(&f.Version, &f.VersionNum, &f.DatabaseSizeBytes); err != nil {
		return f, fmt.Errorf("read server version: %w", err)
	}
	rows, err := q.Query(ctx, settingsSQL)
	if err != nil {
		return f, fmt.Errorf("read pg_settings: %w", err)
	}
	f.Settings, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (schema.Setting, error) {
		var s schema.Setting
		err := r.Scan(&s.Name, &s.Setting, &s.Unit, &s.Source)
		return s, err
	})
	if err != nil {
		return f, fmt.Errorf("read pg_settings: %w", err)
	}
	if f.Settings == nil {
		f.Settings = []schema.Setting{} // [] in JSON, as the JSON Schema wants, not null
	}
	if f.Database, err = counters(ctx, q, `SELECT to_jsonb(d) - 'datid' - 'numbackends' FROM pg_stat_database d WHERE datname = current_database()`); err != nil {
		return f, fmt.Errorf("read pg_stat_database: %w", err)
	}
	if f.Bgwriter, err = counters(ctx, q, `SELECT to_jsonb(b) FROM pg_stat_bgwriter b`); err != nil {
		return f, fmt.Errorf("read pg_stat_bgwriter: %w", err)
	}
	var hasCheckpointer bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL`).Scan(&hasCheckpointer); err != nil {
		return f, fmt.Errorf("look for pg_stat_checkpointer: %w", err)
	}
	if hasCheckpointer {
		if f.Checkpointer, err = counters(ctx, q, `SELECT to_jsonb(c) FROM pg_stat_checkpointer c`); err != nil {
			return f, fmt.Errorf("read pg_stat_checkpointer: %w", err)
		}
	}
	return f, nil
}

// counters reads one row as a JSON object and keeps its numeric members. numbackends is left out of
// pg_stat_database's: it is a gauge (sessions now), not a counter, and its change means nothing.
func counters(ctx context.Context, q Querier, sql string) (map[string]float64, error) {
	var raw []byte
	if err := q.QueryRow(ctx, sql).Scan(&raw); err != nil {
		return nil, err
	}
	var all map[string]any
	if err := json.Unmarshal(raw, &all); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	for k, v := range all {
		if n, ok := v.(float64); ok {
			out[k] = n
		}
	}
	return out, nil
}

// Delta returns the change of the counters from start to end, both read by ReadFacts from the same server; a
// counter missing from either side is left out. A negative change means the statistics were reset during the run
// (pg_stat_reset), and is kept as it is: the run's figures are then not the server's whole story.
func Delta(start, end schema.ServerFacts) *schema.ServerDelta {
	d := &schema.ServerDelta{
		Since:             start.Time,
		Seconds:           end.Time.Sub(start.Time).Seconds(),
		DatabaseSizeBytes: end.DatabaseSizeBytes - start.DatabaseSizeBytes,
		Database:          diff(start.Database, end.Database),
		Bgwriter:          diff(start.Bgwriter, end.Bgwriter),
	}
	if start.Checkpointer != nil && end.Checkpointer != nil {
		d.Checkpointer = diff(start.Checkpointer, end.Checkpointer)
	}
	return d
}

func diff(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, vb := range b {
		if va, ok := a[k]; ok {
			out[k] = vb - va
		}
	}
	return out
}
