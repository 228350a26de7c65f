// Package sinetstream reads what SINETStream's perftool publishes, so that benchpipe can stand in for the
// SINETStream perftool server without touching the publishers on the edge devices or the old viewer.
//
// One Kafka record value becomes one row of table perftool in three steps, each testable alone:
//
//	Decode       SINETStream framing: message format v3, v2 (Avro single-object), or a bare JSON value
//	             → Message{Time, Payload, Format}
//	ParseResult  perftool's JSON line {"name", "writer", "reader"}, validated field by field → Result
//	NewRow       Message + Result → Row, the perftool table's columns in order, ready for pgx CopyFrom
//
// The table, its per-thread and per-publisher views and the viewer_config table are created by
// schema/migrations/0002_perftool.sql (and upgraded to a hypertable and continuous aggregates by
// 0002_perftool.timescale.sql). The comments in those files say how rows are deduplicated and how threads are
// summed in the views.
//
// Nothing here talks to Kafka or PostgreSQL: the sink owns the connections and calls these functions.
package sinetstream
