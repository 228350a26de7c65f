package mqttload

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// startMosquitto runs a Mosquitto broker on a free port for the test, or skips the test when Mosquitto is not
// installed.
func startMosquitto(t *testing.T) string {
	t.Helper()
	bin := testenv.Tool(t, "mosquitto", "apt-get install -y mosquitto")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "mosquitto.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\n", port)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd := exec.Command(bin, "-c", conf)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start mosquitto: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return "tcp://" + addr
		}
		select {
		case err := <-exited:
			t.Fatalf("mosquitto exited: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("mosquitto did not listen on %s: %v\n%s", addr, err, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAgainstMosquitto(t *testing.T) {
	broker := startMosquitto(t)
	for _, qos := range []byte{0, 1, 2} {
		t.Run(fmt.Sprintf("qos%d", qos), func(t *testing.T) {
			b, err := Connect(context.Background(), Config{
				Broker: broker, Publishers: 2, Subscribers: 2, QoS: qos, Rate: 600, Count: 300,
				Topic: fmt.Sprintf("m%d/{id}", qos), Retain: qos == 1,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if v := b.BrokerVersion(time.Second); !strings.HasPrefix(v, "mosquitto version ") {
				t.Errorf("broker version %q", v)
			}
			checkComplete(t, b.Run(context.Background(), nil), 300, 1)
		})
	}
	// Fan-out: one publisher, every subscriber receives every message.
	res, err := Measure(context.Background(), Config{Broker: broker, Publishers: 1, Subscribers: 3, QoS: 1, Rate: 500, Count: 200, Topic: "fanout"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkComplete(t, res, 200, 3)
}
