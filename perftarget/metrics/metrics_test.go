package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/benchpipe/benchpipe/perftarget/metrics"
	"github.com/benchpipe/benchpipe/perftarget/target"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// The handler reports a real server's counters after real MQTT traffic, and its health until it stops.
func TestHandler(t *testing.T) {
	s, err := target.Start(target.Options{Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	web := httptest.NewServer(metrics.Handler(s))
	defer web.Close()

	c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + s.MQTTAddr()).SetClientID("m").SetProtocolVersion(4))
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	for range 3 {
		if tok := c.Publish("bench/m", 1, false, "hello"); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("publish: %v", tok.Error())
		}
	}

	// nats-server adds a connection's counts to its totals after it has answered the PUBLISH, so the last
	// message may show a moment after its PUBACK.
	var body string
	for deadline := time.Now().Add(5 * time.Second); ; {
		var code int
		code, body = get(t, web.URL+"/metrics")
		if code != http.StatusOK {
			t.Fatalf("/metrics = %d", code)
		}
		if strings.Contains(body, "perftarget_messages_received_total 3\n") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.Disconnect(250)
	if code, body := get(t, web.URL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q while running", code, body)
	}
	s.Shutdown()
	if code, _ := get(t, web.URL+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("/healthz = %d after Shutdown, want 503", code)
	}
}
