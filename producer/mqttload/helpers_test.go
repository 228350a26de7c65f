package mqttload

import (
	"encoding/json"
	"testing"

	"github.com/benchpipe/benchpipe/perftarget/target"
)

// startTarget starts the in-process NATS MQTT target on a random port.
func startTarget(t testing.TB) *target.Server {
	t.Helper()
	srv, err := target.Start(target.Options{ServerName: "mqttload-test", Host: "127.0.0.1", MQTTPort: -1, NATSPort: -1})
	if err != nil {
		t.Fatalf("start target: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func brokerURL(srv *target.Server) string { return "tcp://" + srv.MQTTAddr() }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
