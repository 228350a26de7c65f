package api

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/benchpipe/benchpipe/internal/testenv"
)

// TestLaunchPartlySent: a launch's messages go to several partitions, led by several brokers; when one broker
// refuses its share, the answer is an error that lists exactly the jobs Kafka took (extensions.sent, which will
// run unless stopped), and the topic holds exactly those. kfake only: the refusal is injected.
func TestLaunchPartlySent(t *testing.T) {
	const topic = "benchpipe.jobs"
	c, brokers := testenv.Kafka(t, kfake.NumBrokers(3), kfake.SeedTopics(6, topic))
	refusing := c.LeaderFor(topic, 0)
	refused := 0
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if c.CurrentNode() != refusing {
			return nil, nil, false
		}
		// Not retriable: the client fails these records at once instead of retrying until the timeout.
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		resp.Version = pr.Version
		for _, rt := range pr.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, kerr.MessageTooLarge.Code
				st.Partitions = append(st.Partitions, sp)
				refused++
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp, nil, true
	})
	f := newFixture(t, brokers, topic)
	var names []string
	for i := range 8 {
		names = append(names, fmt.Sprintf("agent-%d", i))
		f.agent(names[i], nil, true)
	}
	status, out := f.action(testSecret, RoleOperator, "launchJobs", map[string]any{"kind": "mqtt", "spec": map[string]any{}, "all": true})
	ext, _ := out["extensions"].(map[string]any)
	b, _ := json.Marshal(ext["sent"])
	var sent []LaunchedJob
	if err := json.Unmarshal(b, &sent); err != nil || status != 400 || ext["code"] != codeUnavailable {
		t.Fatalf("launch with one broker refusing: %d %v (%v)", status, out, err)
	}
	if len(sent) == 0 || len(sent) == len(names) || refused == 0 {
		t.Fatalf("%d of %d jobs sent, %d partitions refused: the injection did not split the launch", len(sent), len(names), refused)
	}
	if msg := out["message"].(string); !strings.HasSuffix(msg, fmt.Sprintf("(is Kafka up?); %d of %d messages were sent", len(sent), len(names))) {
		t.Errorf("message %q", msg)
	}
	var onTopic, listed []uuid.UUID
	for _, m := range f.messages() {
		onTopic = append(onTopic, m.Job.ID)
	}
	for _, j := range sent {
		listed = append(listed, j.JobID)
	}
	slices.SortFunc(onTopic, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	slices.SortFunc(listed, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	if !slices.Equal(onTopic, listed) {
		t.Errorf("the topic holds jobs %v, the answer says %v were sent", onTopic, listed)
	}
}
