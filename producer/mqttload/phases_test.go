package mqttload

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestMeasurementAccountsBalance runs a warm-up and a measurement at a fixed rate against the embedded target
// (issue 11 item 13). The measurement's totals are exactly the messages scheduled in it, each received or lost:
// a message sent in the warm-up and received after the boundary, or acknowledged after it, is not the
// measurement's. Every sample is a whole interval: the last deliveries after the final publish are merged into
// the last interval instead of making a millisecond sliver whose rate is a spike. The summary's throughput is
// the measured count over the measured time.
func TestMeasurementAccountsBalance(t *testing.T) {
	srv := startTarget(t)
	const (
		// Low enough that a loaded 2-core machine under the race detector keeps the schedule: at 2,000 msg/s the
		// publisher once fell behind, and the backlog made three more intervals.
		rate     = 500
		warmup   = 700 * time.Millisecond // not a whole number of intervals: the warm-up's last one absorbs it
		duration = 2 * time.Second
		interval = 500 * time.Millisecond
		// Timers fire late by up to a few milliseconds, and an interval ends when its timer fires: an interval
		// after a late one may be that much shorter. A sliver is shorter by far more.
		jitter = 25 * time.Millisecond
	)
	var samples []Interval
	b, err := Connect(context.Background(), Config{Broker: brokerURL(srv), Subscribers: 1, QoS: 1, Rate: rate, Warmup: warmup,
		Duration: duration, Interval: interval, Topic: "phases/{id}"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	res := b.Run(context.Background(), func(iv Interval) { samples = append(samples, iv) })
	if res.Status != schema.StatusOK {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	tot := res.Totals
	t.Logf("totals %+v", tot)
	for _, s := range samples {
		t.Logf("%s %v → %v (%v): sent %d received %d, %.1f msg/s", s.Phase, s.Start.Format("05.000"), s.End.Format("05.000"),
			s.End.Sub(s.Start), s.MQTT.Sent, s.MQTT.Received, s.OpsRate)
	}

	// Exactly the messages scheduled in [warm-up end, end): message k is due at k/rate.
	if want := int64(duration.Seconds() * rate); tot.Sent != want {
		t.Errorf("sent %d, want the %d messages scheduled in the measurement", tot.Sent, want)
	}
	if tot.Received+tot.Lost != tot.Sent || tot.Duplicated != 0 || tot.ReceivedUnconfirmed != 0 {
		t.Errorf("sent %d ≠ received %d + lost %d (duplicated %d, unconfirmed %d)", tot.Sent, tot.Received, tot.Lost, tot.Duplicated, tot.ReceivedUnconfirmed)
	}
	sum := res.Summary
	if sum == nil {
		t.Fatal("no summary")
	}
	if d := sum.End.Sub(sum.Start); d != duration {
		t.Errorf("measured time %v, want the scheduled %v", d, duration)
	}
	if sum.MQTT.Sent != tot.Sent || sum.MQTT.Received != tot.Received || sum.MQTT.Lost != tot.Lost || sum.Ops != tot.Received {
		t.Errorf("summary figures %+v %+v differ from the totals", sum.Figures, *sum.MQTT)
	}
	if want := float64(tot.Received) / duration.Seconds(); sum.OpsRate != want {
		t.Errorf("summary throughput %v, want received / measured time = %v", sum.OpsRate, want)
	}
	var extra summaryExtra
	if err := jsonUnmarshal(sum.Extra, &extra); err != nil || math.Abs(extra.SentRate-rate) > 1e-9 {
		t.Errorf("sent rate %v (%v), want %d = sent / measured time", extra.SentRate, err, rate)
	}

	// Whole intervals: none is a sliver, the warm-up's last one absorbs its remainder, the last one the drain.
	if len(samples) != 5 {
		t.Fatalf("%d samples, want 1 warm-up + 4 measured intervals", len(samples))
	}
	for i, s := range samples {
		wantPhase := schema.PhaseMeasure
		if i == 0 {
			wantPhase = schema.PhaseWarmup
		}
		d := s.End.Sub(s.Start)
		if s.Phase != wantPhase || d < interval-jitter || d > interval+warmup%interval+jitter+time.Second/2 {
			t.Errorf("sample %d: %s, %v long", i+1, s.Phase, d)
		}
		if i > 0 && !s.Start.Equal(samples[i-1].End) {
			t.Errorf("sample %d starts at %v, the previous one ended at %v", i+1, s.Start, samples[i-1].End)
		}
	}
	last := samples[len(samples)-1]
	if d := last.End.Sub(last.Start); d < interval-jitter || last.OpsRate > 1.25*rate || last.OpsRate < 0.75*rate || !last.Draining {
		t.Errorf("last sample: %v long, %.1f msg/s, draining %v: want a whole interval with the drain, at about %d msg/s", d, last.OpsRate, last.Draining, rate)
	}
	if first := samples[0]; first.End.Sub(first.Start) < warmup-jitter {
		t.Errorf("the warm-up's interval is %v long, want all of the %v warm-up", first.End.Sub(first.Start), warmup)
	}
}

// TestLastDeliveriesMergeIntoLastInterval: with 60 ms between publisher and subscriber, deliveries go on for
// 60 ms after the last publish. They count in the last interval, which ends when they have arrived, instead of
// making a 60 ms sample of their own.
func TestLastDeliveriesMergeIntoLastInterval(t *testing.T) {
	srv := startTarget(t)
	proxy := testenv.StartDelayProxy(t, srv.MQTTAddr(), 30*time.Millisecond)
	const interval, jitter = 500 * time.Millisecond, 25 * time.Millisecond
	var samples []Interval
	res, err := Measure(context.Background(), Config{Broker: "tcp://" + proxy.Addr(), Subscribers: 1, Rate: 1000, Duration: time.Second,
		Interval: interval, Topic: "tail/{id}"}, func(iv Interval) { samples = append(samples, iv) })
	if err != nil {
		t.Fatal(err)
	}
	var received int64
	for _, s := range samples {
		t.Logf("%v → %v (%v): received %d", s.Start.Format("05.000"), s.End.Format("05.000"), s.End.Sub(s.Start), s.MQTT.Received)
		received += s.MQTT.Received
	}
	if res.Status != schema.StatusOK || res.Totals.Sent != 1000 || res.Totals.Received != 1000 || received != 1000 {
		t.Fatalf("status %s, totals %+v, samples hold %d deliveries", res.Status, res.Totals, received)
	}
	if len(samples) != 2 {
		t.Fatalf("%d samples, want 2 whole intervals", len(samples))
	}
	last := samples[1]
	if d := last.End.Sub(last.Start); d < interval+20*time.Millisecond || d > interval+jitter+time.Second/4 || !last.Draining {
		t.Errorf("last sample %v long (draining %v), want the interval and the deliveries after it", d, last.Draining)
	}
	if d := samples[0].End.Sub(samples[0].Start); d < interval-jitter {
		t.Errorf("first sample %v long", d)
	}
}
