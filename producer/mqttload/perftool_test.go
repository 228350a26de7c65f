package mqttload

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/schema"
	"github.com/benchpipe/benchpipe/schema/sinetstream"
)

// TestPerftoolPublisherIsTheClient: --perftool-compat names the result after the client that measured (the
// device, as SINETStream perftool's wrapper does), not after the run. Two runs with different --name from one
// device are one publisher, so the perftool views' per-publisher lines follow the device over time; the result
// reaches Kafka in SINETStream v3 framing and parses as a perftool line.
func TestPerftoolPublisherIsTheClient(t *testing.T) {
	const topic = "perftool-sinetstream-result"
	host := hostinfo.Collect().Hostname
	for _, tc := range []struct {
		name, device, want string
	}{
		{"configured device", "bench-pi-7", "bench-pi-7"},
		{"the machine's host name without producer.device", "", host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, brokers := testenv.Kafka(t, kfake.SeedTopics(1, "benchpipe.records", topic))
			dir := t.TempDir()
			cfgPath := filepath.Join(dir, "benchpipe.yaml")
			yaml := fmt.Sprintf("kafka:\n  brokers: [%q]\nproducer:\n  spool_dir: %q\n", brokers[0], filepath.Join(dir, "spool"))
			if tc.device != "" {
				yaml += fmt.Sprintf("  device: %s\n", tc.device)
			}
			if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			runNames := []string{"nightly qos1", "tuned qos1"}
			for _, run := range runNames {
				var stdout, stderr bytes.Buffer
				code := Run(context.Background(), []string{"--config", cfgPath, "--embedded-target", "--rate", "100",
					"--duration", "1s", "--name", run, "--perftool-compat", topic}, &stdout, &stderr)
				if code != ExitOK {
					t.Fatalf("%s: exit %d\n%s\n%s", run, code, stdout.String(), stderr.String())
				}
			}
			recs := testenv.Consume(t, brokers, topic, len(runNames), 10*time.Second)
			if len(recs) != len(runNames) {
				t.Fatalf("%d perftool results, want %d", len(recs), len(runNames))
			}
			var started []schema.Record
			for _, kr := range testenv.Consume(t, brokers, "benchpipe.records", 100, 2*time.Second) {
				if r, err := schema.Decode(kr.Value); err == nil && r.Started != nil {
					started = append(started, r)
				}
			}
			for i, kr := range recs {
				m, err := sinetstream.Decode(kr.Value)
				if err != nil {
					t.Fatalf("result %d: %v", i, err)
				}
				if m.Format != sinetstream.FormatV3 {
					t.Errorf("result %d: format %s, want %s", i, m.Format, sinetstream.FormatV3)
				}
				res, err := sinetstream.ParseResult(m.Payload)
				if err != nil {
					t.Fatalf("result %d: %v\n%s", i, err, m.Payload)
				}
				if res.Name != tc.want {
					t.Errorf("result %d (run %q): publisher %q, want the client %q", i, runNames[i], res.Name, tc.want)
				}
			}
			// The publisher is the name the viewer lists the run's device under.
			if len(started) != len(runNames) {
				t.Fatalf("%d run_started records, want %d", len(started), len(runNames))
			}
			for _, r := range started {
				if r.Started.Host.Hostname != tc.want {
					t.Errorf("run %q: host name %q, want %q like its perftool publisher", r.Started.Name, r.Started.Host.Hostname, tc.want)
				}
			}
		})
	}
}
