// Package stats is the measurement core shared by benchpipe's load generators: it turns what a generator's
// goroutines observe (counts and latencies) into per-interval and whole-run figures of the record contract, and
// prints them for a person watching.
//
// The pieces are separate so each can be tested alone (the design of natscli's bench):
//
//	recording   Collector and Shard: each hot goroutine records into its own Shard; Collector.Cut drains all
//	            shards once per interval into HDR histograms and keeps a running total of the measurement phase.
//	schedule    Schedule: when intervals end and whether an interval belongs to the warm-up or the measurement.
//	figures     Latency, Figures and Rate: conversion to schema.Latency and schema.Figures.
//	printing    Progress (one line per interval, rewritten in place on a terminal) and Table (final summary).
//
// The run loop itself belongs to the generator: it calls Cut when Schedule says an interval ends.
//
// JdbcRunner's rules apply: an operation counts in the interval in which it completes (the interval that is open
// when it is recorded), warm-up intervals are excluded from the total, and a rate is a count divided by the
// measured time.
//
// Latencies are kept in HDR histograms with microsecond resolution and 3 significant digits, from 1 µs to one
// hour; longer values are clamped to one hour rather than dropped, so a stall still shows in the maximum.
package stats
