// Package agent is `producer agent`: the long-running service on a device that runs the benchmark jobs operators
// launch for it (issue 14). It is a thin loop around what exists: the spool (producer/publish), open once for the
// agent's life, carries its heartbeats and job events to fleet.agents_topic and every job's run records to
// producer.topic; the jobs come from fleet.jobs_topic (schema.FleetMessage, keyed by agent name); each job runs
// through its kind's own lifecycle (Kind: producer/jobkind, the Decode and Execute that the CLI commands and sink
// api use too).
//
// What the agent adds is the job's bookkeeping: one job at a time (others rejected, not queued), expiry, stop,
// and at most once: every job id is written down in agent.db (bbolt, fleet.state_dir) before its run starts, so
// no replay, redelivery or restart runs it again, and a job found unfinished at start is reported aborted.
package agent
