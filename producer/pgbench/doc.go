// Package pgbench is `producer pgbench`: Run starts the real pgbench with the user's arguments untouched plus
// -P 1 --progress-timestamp and a private per-transaction log, turns every transaction of that log into HDR
// histograms per progress interval and for the whole run (warm-up excluded), publishes a sample per interval and a
// run record with pgbench's own parsed summary beside ours, and always finishes the run (ok, failed with
// pgbench's error text, or aborted). Run is the command line's thin part (flags → Spec → Execute → exit status);
// Execute is the run itself, which the fleet agent calls with a job's Spec (DecodeSpec) just the same.
//
// Underneath, the package reads what pgbench (PostgreSQL 14–18) writes: the progress lines and messages on
// stderr, the summary on stdout, and the per-transaction and aggregated log files written with -l. The runner
// wires those parsers like this:
//
//	stdout (after exit)      → ParseSummary
//	stderr, line by line     → ClassifyStderr (progress lines, errors, "Run was aborted")
//	-l files, while running  → LogTailer → ParseLogLine (or ParseAggregateLine with --aggregate-interval)
//
// # Optional values
//
// pgbench prints many values only with certain options or versions (the failed count since 15,
// the latency stddev only with -P, -R or -L, the lag only with -R, …). Every such value is a
// pointer: nil means pgbench did not print it, a pointer to zero means it printed 0. That keeps
// "unknown" apart from "none" all the way to a NULL in the database.
//
// # Per-transaction log
//
// A 7-column log line is ambiguous: the 7th column is the schedule lag with -R, or the retry
// count with --max-tries ≠ 1. Only the command line tells, so ParseLogLine takes LogOptions.
// The time columns of a log line are when the transaction ended (or was skipped), not when it
// started. Exact latency percentiles need the per-transaction log: the progress lines and the
// aggregated log only carry means and sums.
//
// # Running pgbench for parsing
//
// Run pgbench with LC_ALL=C: its messages ("pgbench: error: …") are translated in other
// locales, and the parsers match the English text.
//
// Sample output of every form lives in testdata/: pg15 is captured from a real pgbench 15.18;
// pg14, pg17 and pg18 are written by hand from the documented format, not captured (each
// directory's README.md says what they stand for).
package pgbench
