package main

import (
	"bytes"
	"strings"
	"testing"
)

// The ratio line is what the README quotes: sink/COPY is the median of the rounds' ratios (each against raw COPY
// of the same round, not the mean COPY), sink/KafkaConnect the sink's mean rate against Kafka Connect's.
func TestSummaryRatios(t *testing.T) {
	cpu := func(client, pg float64) cpuUse {
		return cpuUse{used: map[string]float64{"bench": client, "PostgreSQL": pg}, wall: 1, busy: client + pg}
	}
	var phases []phase
	copyRates := []float64{100, 80, 120}
	sinkRates := []float64{90, 60, 114} // 0.90, 0.75, 0.95 → median 0.90
	for r := range 3 {
		phases = append(phases,
			phase{kind: "copy", round: r + 1, name: "raw binary COPY (physical limit)", rows: 1000, rate: copyRates[r], cpu: cpu(1, 2), client: "bench"},
			phase{kind: "kfake", round: r + 1, name: "sink ← kfake", rows: 1000, rate: sinkRates[r] * 2, cpu: cpu(3, 2), client: "bench"},
			phase{kind: "kafka", round: r + 1, name: "sink ← Apache Kafka 4.1.1", rows: 1000, rate: sinkRates[r], cpu: cpu(3, 2), client: "bench"})
	}
	phases = append(phases, phase{kind: "connect", name: "Kafka Connect", rows: 1000, rate: 8.8, client: "Kafka Connect",
		cpu: cuse(map[string]float64{"Kafka Connect": 50, "PostgreSQL": 5})})
	var out bytes.Buffer
	printSummary(&out, phases, nil, flags{rate: 1000}, 2)
	text := out.String()
	lines := strings.Split(strings.TrimSpace(text), "\n")
	// mean sink rate 88 against Kafka Connect's 8.8
	if got, want := lines[len(lines)-1], "ratios: sink/COPY = 0.90, sink/KafkaConnect = 10.0"; got != want {
		t.Errorf("last line %q, want %q\n%s", got, want, text)
	}
	for _, want := range []string{
		"sink ← Apache Kafka 4.1.1                     3 rounds, mean      88 rows/s   × COPY by round: 0.90 0.75 0.95 → median 0.90",
		"Kafka Connect                                           1000            9     0.09",
		"by CPU: sink/COPY = 0.60, sink/KafkaConnect = 11.0",
		// the sink ← Apache Kafka rounds: 9 s of the sink's CPU and 6 of PostgreSQL's for 3,000 rows
		"what 2 cores allow the sink here: 2 cores / 5000.0 µs a row = 400 rows/s (PostgreSQL's backend alone: 1 core / 2000.0 µs = 500) → at most 4.00 × COPY's mean",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("summary lacks %q:\n%s", want, text)
		}
	}
}

func cuse(used map[string]float64) cpuUse { return cpuUse{used: used, wall: 1, busy: 1} }
