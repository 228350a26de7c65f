// Package stats is the measurement core shared by benchpipe's load generators: it turns what a generator's
// goroutines observe (counts and latencies) into per-interval and whole-run figures of the record contract, and
// prints them for a person watching.
//
// The pieces are separate so each can be tested alone (the design of natscli's bench):
//
//	recording   Collector and Shard: each hot goroutine records into its own Shard; Collector.Cut drains all
//	            shards once per interval into HDR histograms and keeps a running total of what was recorded as
//	            measured.
//	schedule    Schedule: when intervals end and whether an interval belongs to the warm-up or the measurement.
//	figures     Latency, Figures and Rate: conversion to schema.Latency and schema.Figures.
//	printing    Progress (one line per interval, rewritten in place on a terminal) and Table (final summary).
//
// The run loop itself belongs to the generator: it calls Cut when Schedule says an interval ends.
//
// JdbcRunner's rules apply: an operation counts in the interval in which it completes (the interval that is open
// when it is recorded), the warm-up is excluded from the total, and a rate is a count divided by the measured
// time. Which operations the total holds is the recorder's decision (Rec.Add's measured): the MQTT generator
// counts a message in the phase in which it was scheduled to be sent, so that the measurement's sent, received
// and lost add up even for messages in flight across the warm-up boundary.
//
// Latencies are kept in HDR histograms with microsecond resolution and 2 significant digits (the record
// contract's geometry: each interval's histogram travels in its sample, see schema.Latency.HDR), from 1 µs to one
// hour; longer values are clamped to one hour rather than dropped, so a stall still shows in the maximum.
package stats
