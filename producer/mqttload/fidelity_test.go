package mqttload

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/schema"
)

// TestLatencyThroughDelayProxy checks that the measured latency is the network's: a proxy adding 20 ms each way
// between the clients and the broker must show as 40 ms on top of the direct path's latency.
func TestLatencyThroughDelayProxy(t *testing.T) {
	srv := startTarget(t)
	const oneWay = 20 * time.Millisecond
	// The reference: the same path through a proxy that adds nothing, so the proxy's own cost is not mistaken
	// for measurement error.
	direct := testenv.StartDelayProxy(t, srv.MQTTAddr(), 0)
	base, err := Measure(context.Background(), Config{Broker: "tcp://" + direct.Addr(), Subscribers: 1, Rate: 200, Count: 100, Topic: "base/{id}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, base, 100, 1)

	proxy := testenv.StartDelayProxy(t, srv.MQTTAddr(), oneWay)
	res, err := Measure(context.Background(), Config{Broker: "tcp://" + proxy.Addr(), Subscribers: 1, Rate: 200, Count: 300, Topic: "delay/{id}"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, res, 300, 1)
	expected := 2*float64(oneWay.Milliseconds()) + base.Summary.Latency.P50Ms
	for name, p50 := range map[string]float64{"corrected": res.Summary.Latency.P50Ms, "uncorrected": res.Summary.MQTT.UncorrectedP50Ms} {
		t.Logf("%s p50 %.2f ms, expected %.2f ms (direct p50 %.2f ms)", name, p50, expected, base.Summary.Latency.P50Ms)
		if p50 < 2*float64(oneWay.Milliseconds()) || p50 < 0.9*expected || p50 > 1.1*expected {
			t.Errorf("%s p50 %.2f ms is not within 10%% of %.2f ms", name, p50, expected)
		}
	}
}

// TestStallShowsInCorrectedLatencyOnly is the coordinated-omission check: the network stops for 500 ms during an
// open-loop run with a small window. The publisher is blocked meanwhile, so only the few messages in flight see
// the stall from their actual send time; measured from the intended send time, every message the stall delayed
// does, and the corrected p99 shows the stall while the uncorrected one does not.
func TestStallShowsInCorrectedLatencyOnly(t *testing.T) {
	srv := startTarget(t)
	proxy := testenv.StartDelayProxy(t, srv.MQTTAddr(), 0)
	const stall = 500 * time.Millisecond
	var once sync.Once
	res, err := Measure(context.Background(), Config{
		Broker: "tcp://" + proxy.Addr(), Subscribers: 1, QoS: 1, Inflight: 2, Rate: 500, Duration: 3 * time.Second, Topic: "stall/{id}",
	}, func(iv Interval) {
		if iv.Elapsed >= time.Second {
			once.Do(func() { proxy.Stall(stall) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, res, res.Totals.Sent, 1)
	corrected, uncorrected := res.Summary.Latency, res.Uncorrected
	t.Logf("corrected p50 %.2f p99 %.2f max %.2f ms; uncorrected p50 %.2f p99 %.2f max %.2f ms",
		corrected.P50Ms, corrected.P99Ms, corrected.MaxMs, uncorrected.P50Ms, uncorrected.P99Ms, uncorrected.MaxMs)
	if corrected.P99Ms < 400 || corrected.P99Ms > 700 {
		t.Errorf("corrected p99 %.1f ms does not show the %v stall", corrected.P99Ms, stall)
	}
	if uncorrected.P99Ms > 100 {
		t.Errorf("uncorrected p99 %.1f ms shows the stall; the publisher should have been held back", uncorrected.P99Ms)
	}
	if res.Summary.MQTT.UncorrectedP99Ms != uncorrected.P99Ms {
		t.Errorf("summary uncorrected p99 %v ≠ %v", res.Summary.MQTT.UncorrectedP99Ms, uncorrected.P99Ms)
	}
}

// TestLateSubscriberCountsMissedMessagesAsLost: a subscriber that subscribes after publishing began never gets
// the earlier messages; exactly those count as lost.
func TestLateSubscriberCountsMissedMessagesAsLost(t *testing.T) {
	srv := startTarget(t)
	const count = 500
	res, err := Measure(context.Background(), Config{
		Broker: brokerURL(srv), Subscribers: 1, QoS: 1, Rate: 1000, Count: count, Topic: "late/{id}", lateJoin: 200 * time.Millisecond,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	unique := tot.Received - tot.Duplicated
	t.Logf("sent %d, received %d, lost %d", tot.Sent, tot.Received, tot.Lost)
	if res.Status != schema.StatusOK || tot.Sent != count || tot.Lost == 0 || tot.Lost != count-unique || tot.OutOfOrder != 0 {
		t.Fatalf("status %s (%v), totals %+v: want lost = %d - %d", res.Status, res.Err, tot, count, unique)
	}
	if res.Summary.MQTT.Lost != tot.Lost {
		t.Fatalf("summary lost %d ≠ %d", res.Summary.MQTT.Lost, tot.Lost)
	}
}

// TestTargetStoppedMidRun: the broker goes away during the run. The run stops, is recorded failed and partial,
// and the loss account still balances: every confirmed publish either arrived or counts as lost.
func TestTargetStoppedMidRun(t *testing.T) {
	srv := startTarget(t)
	var stopped sync.WaitGroup
	var once sync.Once
	res, err := Measure(context.Background(), Config{
		Broker: brokerURL(srv), Subscribers: 1, QoS: 1, Rate: 1000, Duration: 10 * time.Second, Topic: "stop/{id}", Interval: 200 * time.Millisecond,
	}, func(iv Interval) {
		if iv.Elapsed >= time.Second {
			once.Do(func() {
				stopped.Add(1)
				go func() {
					defer stopped.Done()
					srv.Shutdown()
				}()
			})
		}
	})
	stopped.Wait()
	if err != nil {
		t.Fatal(err)
	}
	tot := res.Totals
	t.Logf("status %s (%v), totals %+v, elapsed %v", res.Status, res.Err, tot, res.Elapsed)
	if res.Status != schema.StatusFailed || !res.Partial || res.Err == nil || !strings.Contains(res.Err.Error(), "lost its connection") {
		t.Fatalf("status %s partial %v err %v", res.Status, res.Partial, res.Err)
	}
	if tot.Disconnects < 1 || tot.Errors < tot.Disconnects || tot.Sent == 0 {
		t.Fatalf("totals %+v", tot)
	}
	if want := tot.Sent - (tot.Received - tot.Duplicated - tot.ReceivedUnconfirmed); tot.Lost != want {
		t.Fatalf("lost %d, but %d confirmed publishes did not arrive", tot.Lost, want)
	}
	if res.Elapsed > 5*time.Second {
		t.Fatalf("the run went on for %v after the broker stopped", res.Elapsed)
	}
	var extra summaryExtra
	if err := jsonUnmarshal(res.Summary.Extra, &extra); err != nil || !extra.Partial || extra.Disconnects != tot.Disconnects {
		t.Fatalf("extra %s: %v", res.Summary.Extra, err)
	}
}
