package mqttload

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/schema"
)

// checkComplete asserts a run that lost nothing: every confirmed publish arrived once per matching subscriber.
func checkComplete(t *testing.T, res *Result, wantSent int64, fanout int64) {
	t.Helper()
	if res.Status != schema.StatusOK {
		t.Fatalf("status %s: %v", res.Status, res.Err)
	}
	tot := res.Totals
	if tot.Sent != wantSent || tot.Received != wantSent*fanout || tot.Lost != 0 || tot.Duplicated != 0 || tot.Errors != 0 {
		t.Fatalf("totals %+v, want sent %d received %d", tot, wantSent, wantSent*fanout)
	}
	s := res.Summary
	if s == nil || s.Latency == nil || s.MQTT == nil {
		t.Fatalf("summary %+v", s)
	}
	if s.MQTT.Received != tot.Received || s.Ops != tot.Received || s.Latency.P50Ms <= 0 || s.MQTT.UncorrectedP50Ms <= 0 {
		t.Fatalf("summary figures %+v mqtt %+v latency %+v", s.Figures, s.MQTT, s.Latency)
	}
	if err := (&schema.Record{V: schema.Version, Type: schema.TypeRunFinished, RunID: [16]byte{1}, Seq: 2, Time: time.Now(),
		Finished: &schema.Finished{Status: res.Status, FinishedAt: time.Now(), Summary: s}}).Validate(); err != nil {
		t.Fatalf("summary breaks the record contract: %v", err)
	}
}

func TestQoSLevelsAgainstTarget(t *testing.T) {
	srv := startTarget(t)
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			var samples []Interval
			res, err := Measure(context.Background(), Config{
				Broker: brokerURL(srv), Publishers: 2, Subscribers: 2, QoS: qos, Rate: 400, Count: 400,
				Topic: fmt.Sprintf("qos%d/{id}", qos), Interval: 250 * time.Millisecond,
			}, func(iv Interval) { samples = append(samples, iv) })
			if err != nil {
				t.Fatal(err)
			}
			checkComplete(t, res, 400, 1)
			var sent, recv int64
			for _, iv := range samples {
				sent += iv.MQTT.Sent
				recv += iv.MQTT.Received
				if iv.Phase != schema.PhaseMeasure || iv.MQTT.OfferedRate != 400 {
					t.Fatalf("sample %+v", iv.Sample)
				}
			}
			if sent != 400 || recv != 400 || len(samples) < 3 {
				t.Fatalf("%d samples add up to sent %d received %d", len(samples), sent, recv)
			}
		})
	}
}
