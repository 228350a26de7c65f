package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// printSummary prints the throughput and latency tables and, last, the ratio line
// `ratios: sink/COPY = X.XX, sink/KafkaConnect = Y.Y`: sink/COPY is the median over the rounds of the sink's rate
// against raw COPY's in the same round; sink/KafkaConnect is the sink's mean rate against Kafka Connect's. sink is the
// sink from the real broker (from kfake when there is none, and the line before says so); n/a stands for what could
// not be measured.
func printSummary(w io.Writer, phases []phase, lats []lat, f flags, cores int) {
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-50s %9s %12s %8s %10s\n", "ingest of sample records", "rows", "rows/s", "× COPY", "start-up")
	copyOf := map[int]float64{} // round → raw COPY's rate
	copyMean := 0.0
	for _, p := range phases {
		if p.kind == "copy" && p.skipped == "" {
			copyOf[p.round] = p.rate
			copyMean += p.rate
		}
	}
	copyMean /= float64(max(len(copyOf), 1))
	byKind := kindSums{}
	for _, p := range phases {
		if p.skipped != "" {
			fmt.Fprintf(w, "%-50s %9s %12s %8s %10s  skipped: %s\n", label(p), "-", "-", "-", "-", p.skipped)
			continue
		}
		k := byKind[p.kind]
		if k == nil {
			k = &kindSum{name: p.name, client: p.client}
			byKind[p.kind] = k
		}
		k.add(p)
		x, startup := "", "-"
		if p.startup > 0 {
			startup = p.startup.Round(10 * time.Millisecond).String()
		}
		switch {
		case p.kind == "copy":
			x = "1.00"
		case p.round > 0:
			x = ratio(p.rate, copyOf[p.round], "%.2f")
			k.ratios = append(k.ratios, p.rate/copyOf[p.round])
		default:
			x = ratio(p.rate, copyMean, "%.2f")
		}
		fmt.Fprintf(w, "%-50s %9d %12.0f %8s %10s\n", label(p), p.rows, p.rate, x, startup)
	}
	fmt.Fprintln(w, "(rows/s: raw COPY from start to end; the consumers from their first rows landing to the last, start-up apart;")
	fmt.Fprintln(w, " × COPY: against raw COPY in the same round, back to back on the same PostgreSQL; Kafka Connect against the rounds' mean)")
	for _, kind := range []string{"copy", "kfake", "kafka"} {
		if k := byKind[kind]; k != nil {
			med := ""
			if len(k.ratios) > 0 {
				med = fmt.Sprintf("   × COPY by round: %s → median %.2f", joinRatios(k.ratios), median(k.ratios))
			}
			fmt.Fprintf(w, "%-40s %6d rounds, mean %7.0f rows/s%s\n", k.name, k.phases, k.mean(), med)
		}
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "%-50s %10s %10s %10s   %s\n", "CPU per row (µs; less noisy than rows/s), all rounds", "client", "PostgreSQL", "broker", "who had the CPU meanwhile")
	for _, kind := range []string{"copy", "kfake", "kafka", "connect"} {
		if k := byKind[kind]; k != nil && k.rows > 0 {
			fmt.Fprintf(w, "%-50s %10s %10s %10s   %s\n", k.name, k.perRow(k.client), k.perRow("PostgreSQL"), k.perRow("broker"), k.cpu.format())
		}
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
	if byKind["kafka"] == nil {
		sinkKind, which = "kfake", "sink = sink ← kfake (no real broker)"
	}
	sinkCopy := 0.0
	if k := byKind[sinkKind]; k != nil && len(k.ratios) > 0 {
		sinkCopy = median(k.ratios)
	}
	// The same comparison by CPU time per row, all processes (client, PostgreSQL, broker): what other people's load
	// on the machine moves least. Higher is better, like rows/s.
	if c, s := byKind.allPerRow("copy"), byKind.allPerRow(sinkKind); c > 0 && s > 0 {
		k := byKind.allPerRow("connect")
		fmt.Fprintf(w, "CPU per row in all (client + PostgreSQL + broker): COPY %.1f µs, sink %.1f µs, Kafka Connect %s µs → by CPU: sink/COPY = %s, sink/KafkaConnect = %s\n",
			c, s, ratio(k, 1, "%.1f"), ratio(c, s, "%.2f"), ratio(k, s, "%.1f"))
	}
	// What the cores allow the sink here, from its CPU per row: the sink, the broker and PostgreSQL share the
	// machine's cores, and PostgreSQL writes with one backend, which uses at most one of them.
	if s, k := byKind.allPerRow(sinkKind), byKind[sinkKind]; s > 0 && copyMean > 0 {
		if pg := k.perRowOf("PostgreSQL"); pg > 0 {
			shared, backend := float64(cores)/s*1e6, 1/pg*1e6
			fmt.Fprintf(w, "what %d cores allow the sink here: %d cores / %.1f µs a row = %.0f rows/s (PostgreSQL's backend alone: 1 core / %.1f µs = %.0f) → at most %.2f × COPY's mean\n",
				cores, cores, s, shared, pg, backend, min(shared, backend)/copyMean)
		}
	}
	fmt.Fprintf(w, "%s; aim: sink/COPY ≥ 0.90, sink/KafkaConnect ≥ 10\n", which)
	fmt.Fprintf(w, "ratios: sink/COPY = %s, sink/KafkaConnect = %s\n", ratio(sinkCopy, 1, "%.2f"), ratio(byKind.mean(sinkKind), byKind.mean("connect"), "%.1f"))
}

func label(p phase) string {
	if p.round > 0 {
		return fmt.Sprintf("round %d  %s", p.round, p.name)
	}
	return p.name
}

// kindSum adds up the phases of one kind.
type kindSum struct {
	name, client string
	phases, rows int
	rateSum      float64
	cpu          cpuUse
	ratios       []float64 // the sink's rate against raw COPY's, per round
}

func (k *kindSum) add(p phase) {
	k.phases++
	k.rows += p.rows
	k.rateSum += p.rate
	k.cpu = k.cpu.add(p.cpu)
}

func (k *kindSum) mean() float64 { return k.rateSum / float64(max(k.phases, 1)) }

// perRow is the CPU time the named process tree used per row, in µs; "-" when it was not measured.
func (k *kindSum) perRow(tree string) string {
	if _, ok := k.cpu.used[tree]; !ok {
		return "-"
	}
	return fmt.Sprintf("%.1f", k.perRowOf(tree))
}

// perRowOf is perRow as a number; 0 when not measured.
func (k *kindSum) perRowOf(tree string) float64 {
	if k.rows == 0 {
		return 0
	}
	return k.cpu.used[tree] / float64(k.rows) * 1e6
}

type kindSums map[string]*kindSum

func (m kindSums) mean(kind string) float64 {
	if k := m[kind]; k != nil {
		return k.mean()
	}
	return 0
}

// allPerRow is the CPU time per row of the client, PostgreSQL and the broker together, in µs.
func (m kindSums) allPerRow(kind string) float64 {
	k := m[kind]
	if k == nil {
		return 0
	}
	return k.perRowOf(k.client) + k.perRowOf("PostgreSQL") + k.perRowOf("broker")
}

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func joinRatios(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}

func ratio(a, b float64, format string) string {
	if a == 0 || b == 0 {
		return "n/a"
	}
	return fmt.Sprintf(format, a/b)
}
