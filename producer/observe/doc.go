// Package observe watches a PostgreSQL cluster while a benchmark runs against it, and between runs: once a second
// it probes every node directly (role from pg_is_in_recovery(), timeline, WAL position, replication lag in bytes
// and seconds, client connections) and, when the cluster sits behind Pgpool-II, asks Pgpool for SHOW POOL_NODES
// (each backend's status, role and SELECT count, whose change per round is the read distribution). Each round is a
// schema.Observation; events — a role change, a node unreachable, two or more primaries at once — are detected
// from one round to the next, so an event is recorded at most one interval after it happened.
//
// The pieces are apart so each can be tested alone: probe.go asks the servers, events.go turns a sequence of rounds
// into events (no I/O), facts.go reads the server facts a run keeps (version, non-default settings, database size,
// statistics counters and their change over the run), metrics.go exports rounds as Prometheus metrics, and cli.go
// is `producer observe`. A producer that runs load (pgbench --observe) runs an Observer beside it and records the
// rounds it hands to its callback.
//
// Credentials: node and Pgpool connection strings may hold passwords (or take them from PGPASSWORD, ~/.pgpass,
// as libpq does); nothing this package writes — observations, metrics labels, errors, output — holds one: addresses
// are host:port and error texts pass through schema.RedactText.
package observe
