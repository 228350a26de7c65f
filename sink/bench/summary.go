package main

import (
	"fmt"
	"io"
	"time"
)

// printSummary prints the throughput and latency tables and, last, the ratio line
// `ratios: sink/COPY = X.XX, sink/KafkaConnect = Y.Y`, where COPY is the mean of the raw COPY phases (before and
// after the sinks), sink is the sink from the real broker (from kfake when there is none, and the line before says
// so) and n/a stands for what could not be measured.
func printSummary(w io.Writer, phases []phase, lats []lat, f flags) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-50s %9s %12s %8s %10s\n", "ingest of sample records", "rows", "rows/s", "× COPY", "start-up")
	// The limit is the mean of the COPY phases (before and after the sinks); the other rates are by kind.
	rates, copies := map[string]float64{}, 0
	for _, p := range phases {
		if p.skipped != "" {
			continue
		}
		rates[p.kind] += p.rate
		if p.kind == "copy" {
			copies++
		}
	}
	copyRate := rates["copy"] / float64(max(copies, 1))
	for _, p := range phases {
		if p.skipped != "" {
			fmt.Fprintf(w, "%-50s %9s %12s %8s %10s  skipped: %s\n", p.name, "-", "-", "-", "-", p.skipped)
			continue
		}
		startup := "-"
		if p.startup > 0 {
			startup = p.startup.Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(w, "%-50s %9d %12.0f %8.2f %10s\n", p.name, p.rows, p.rate, p.rate/copyRate, startup)
	}
	if copies > 1 {
		fmt.Fprintf(w, "%-50s %9s %12.0f %8.2f\n", "raw binary COPY, mean (the limit the ratios use)", "", copyRate, 1.0)
	}
	fmt.Fprintln(w, "(rows/s: raw COPY from start to end; the consumers from their first rows landing to the last, start-up apart)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-50s %10s %10s %10s   %s\n", "CPU per row (µs; less noisy than rows/s)", "client", "PostgreSQL", "broker", "who had the CPU meanwhile")
	for _, p := range phases {
		if p.skipped != "" || p.rows == 0 {
			continue
		}
		fmt.Fprintf(w, "%-50s %10s %10s %10s   %s\n", p.name, perRow(p, p.client), perRow(p, "PostgreSQL"), perRow(p, "broker"), p.cpu)
	}
	fmt.Fprintln(w, "(client: the bench process — COPY encoding, or the sink, with kfake inside it in the kfake row — or the Kafka Connect JVM)")
	fmt.Fprintln(w)
	fmt.Fprintf(w, "produce-to-row latency at %d records/s for %v (intended send time → row inserted):\n", f.rate, f.latencyFor)
	for _, l := range lats {
		if l.skipped != "" {
			fmt.Fprintf(w, "  %-32s skipped: %s\n", l.name, l.skipped)
			continue
		}
		fmt.Fprintf(w, "  %-32s p50 %6.0f ms   p99 %6.0f ms   max %6.0f ms   (%d records)\n", l.name, l.p50, l.p99, l.max, l.count)
	}
	fmt.Fprintln(w, "  (sink: flush_interval 200ms; Kafka Connect: default commit behaviour, offsets every 60 s, rows per put)")
	fmt.Fprintln(w)

	sinkKind, which := "kafka", "sink = sink ← Apache Kafka"
	if rates["kafka"] == 0 {
		sinkKind, which = "kfake", "sink = sink ← kfake (no real broker)"
	}
	sink, connectRate := rates[sinkKind], rates["connect"]
	// The same comparison by CPU time per row, all processes (client, PostgreSQL, broker): what other people's load
	// on the machine moves least. Higher is better, like rows/s.
	perRowAll := map[string]float64{}
	measured := map[string]int{}
	for _, p := range phases {
		if p.skipped != "" || p.rows == 0 || p.used == nil {
			continue
		}
		perRowAll[p.kind] += (p.used[p.client] + p.used["PostgreSQL"] + p.used["broker"]) / float64(p.rows) * 1e6
		measured[p.kind]++
	}
	for k, n := range measured {
		perRowAll[k] /= float64(n)
	}
	if c, s := perRowAll["copy"], perRowAll[sinkKind]; c > 0 && s > 0 {
		k := perRowAll["connect"]
		fmt.Fprintf(w, "CPU per row in all (client + PostgreSQL + broker): COPY %.1f µs, sink %.1f µs, Kafka Connect %s µs → by CPU: sink/COPY = %s, sink/KafkaConnect = %s\n",
			c, s, ratio(k, 1, "%.1f"), ratio(c, s, "%.2f"), ratio(k, s, "%.1f"))
	}
	fmt.Fprintf(w, "%s; aim: sink/COPY ≥ 0.90, sink/KafkaConnect ≥ 10\n", which)
	fmt.Fprintf(w, "ratios: sink/COPY = %s, sink/KafkaConnect = %s\n", ratio(sink, copyRate, "%.2f"), ratio(sink, connectRate, "%.1f"))
}

// perRow is the CPU time the named process tree used per row in the phase, in µs.
func perRow(p phase, tree string) string {
	sec, ok := p.used[tree]
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", sec/float64(p.rows)*1e6)
}

func ratio(a, b float64, format string) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, a/b)
}
