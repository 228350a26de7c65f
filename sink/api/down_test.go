package api

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// TestLaunchKafkaDown: with Kafka down, launchJobs answers an error after the produce timeout instead of hanging
// Hasura's request, and the launch it refused is not delivered later when Kafka is back: an operator told
// "failed" must not find the jobs running an hour later.
func TestLaunchKafkaDown(t *testing.T) {
	for _, kb := range testenv.KafkaBackends(t) {
		t.Run(kb.Name, func(t *testing.T) {
			const topic = "benchpipe.jobs"
			seeds, up := kb.Down(t, topic, 1)
			f := newFixture(t, seeds, topic, WithProduceTimeout(2*time.Second))
			f.agent("a1", nil, true)
			start := time.Now()
			status, out := f.action(testSecret, RoleOperator, "launchJobs", map[string]any{"kind": "mqtt", "spec": map[string]any{}, "agents": []string{"a1"}})
			took := time.Since(start)
			ext, _ := out["extensions"].(map[string]any)
			if status != 400 || ext["code"] != codeUnavailable || !strings.HasPrefix(out["message"].(string), "produce to benchpipe.jobs: ") ||
				!strings.HasSuffix(out["message"].(string), "(is Kafka up?); 0 of 1 messages were sent") || fmt.Sprint(ext["sent"]) != "[]" {
				t.Errorf("launch with Kafka down: %d %v, want 400, code unavailable, produce to benchpipe.jobs: … 0 of 1 sent, sent: []", status, out)
			}
			if took < 2*time.Second || took > 5*time.Second {
				t.Errorf("launch with Kafka down answered after %s, want the produce timeout (2s) and little more", took)
			}
			f.brokers = up()
			time.Sleep(3 * time.Second) // the API's client reconnects; a record it still held would be sent now
			if n := len(f.messages()); n != 0 {
				t.Errorf("after Kafka came back the jobs topic holds %d messages, want 0", n)
			}
			// And the same API launches once Kafka is up.
			if status, out := f.action(testSecret, RoleOperator, "launchJobs", map[string]any{"kind": "mqtt", "spec": map[string]any{}, "agents": []string{"a1"}}); status != 200 {
				t.Errorf("launch after Kafka came back: %d %v", status, out)
			}
			if n := len(f.messages()); n != 1 {
				t.Errorf("the jobs topic holds %d messages, want 1", n)
			}
		})
	}
}
