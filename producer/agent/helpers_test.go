package agent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"gopkg.in/yaml.v3"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/testenv"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/schema"
)

// envChild makes the test binary run `producer agent` with the JSON-encoded arguments it holds, as a real process
// the tests can SIGTERM and SIGKILL (the crash-test pattern of producer/publish).
const envChild = "BENCHPIPE_AGENT_TEST_CHILD"

func TestMain(m *testing.M) {
	if args := os.Getenv(envChild); args != "" {
		var argv []string
		if err := json.Unmarshal([]byte(args), &argv); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		code := agent.Run(ctx, argv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	testenv.Main(m)
}

// fleet is one test's world: a Kafka with the records, jobs and agents topics, a configuration file, and the agents.
type fleet struct {
	t       *testing.T
	kc      *testenv.KafkaCluster
	dir     string
	cfg     config.Config
	cfgFile string
	cl      *kgo.Client // produces jobs
	events  *fleetReader
}

func newFleet(t *testing.T, kb testenv.KafkaBackend, mutate func(*config.Config)) *fleet {
	t.Helper()
	cfg := config.Default()
	kc := kb.Start(t, map[string]int32{"benchpipe.records": 3, "benchpipe.jobs": 1, "benchpipe.agents": 1, "benchpipe.dead-letter": 1})
	cfg.Kafka.Brokers = kc.Brokers
	for i := range cfg.Topics { // the records topic and, when the configuration lists them, the fleet's
		cfg.Topics[i].Name = kc.Topic(cfg.Topics[i].Name)
	}
	cfg.Producer.Topic = kc.Topic("benchpipe.records")
	cfg.Sink.DeadLetterTopic = kc.Topic(cfg.Sink.DeadLetterTopic)
	cfg.Sink.Group = kc.Group(cfg.Sink.Group)
	cfg.Sink.HTTPAddr = ""
	cfg.Sink.FlushInterval = 50 * time.Millisecond
	cfg.Fleet.JobsTopic = kc.Topic("benchpipe.jobs")
	cfg.Fleet.AgentsTopic = kc.Topic("benchpipe.agents")
	for _, name := range []string{cfg.Fleet.JobsTopic, cfg.Fleet.AgentsTopic} {
		if _, ok := cfg.Topic(name); !ok { // the sink reads the topics the configuration lists
			cfg.Topics = append(cfg.Topics, config.Topic{Name: name, Format: config.FormatFleet, Partitions: 1, ReplicationFactor: 1})
		}
	}
	cfg.Fleet.Heartbeat = 300 * time.Millisecond
	if mutate != nil {
		mutate(&cfg)
	}
	f := &fleet{t: t, kc: kc, dir: t.TempDir(), cfg: cfg}
	f.cfgFile = f.writeConfig("benchpipe.yaml", cfg)
	var err error
	f.cl, err = kgo.NewClient(kgo.SeedBrokers(kc.Brokers...), kgo.DefaultProduceTopic(cfg.Fleet.JobsTopic))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.cl.Close)
	f.events = readFleet(t, kc.Brokers, cfg.Fleet.AgentsTopic)
	return f
}

// writeConfig writes cfg as the YAML file name in the fleet's directory and returns its path.
func (f *fleet) writeConfig(name string, cfg config.Config) string {
	f.t.Helper()
	raw, err := yaml.Marshal(cfg)
	if err != nil {
		f.t.Fatal(err)
	}
	path := filepath.Join(f.dir, name)
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		f.t.Fatal(err)
	}
	return path
}

// agentProc is one `producer agent` process.
type agentProc struct {
	name   string
	cfg    string   // its configuration file
	env    []string // added to the test's environment
	spool  string   // its spool directory; default spool-<name> in the fleet's directory
	cmd    *exec.Cmd
	stderr *testenv.Buffer
	done   chan struct{}
	code   int
}

// start starts the agent called name with the fleet's configuration and its own spool (and job memory) under the
// fleet's directory.
func (f *fleet) start(name string) *agentProc {
	f.t.Helper()
	return f.startWith(&agentProc{name: name, cfg: f.cfgFile})
}

// startTagged starts the agent called name with producer.tags set to tags and env added to its environment.
func (f *fleet) startTagged(name string, tags map[string]string, env ...string) *agentProc {
	f.t.Helper()
	cfg := f.cfg
	cfg.Producer.Tags = tags
	return f.startWith(&agentProc{name: name, cfg: f.writeConfig(name+".yaml", cfg), env: env})
}

// restart starts p's agent again, as its service would after it stopped or was killed: same name, configuration,
// environment and spool.
func (f *fleet) restart(p *agentProc) *agentProc {
	f.t.Helper()
	return f.startWith(&agentProc{name: p.name, cfg: p.cfg, env: p.env, spool: p.spool})
}

func (f *fleet) startWith(p *agentProc) *agentProc {
	f.t.Helper()
	name := p.name
	if p.spool == "" {
		p.spool = filepath.Join(f.dir, "spool-"+name)
	}
	args := []string{"--config", p.cfg, "--spool-dir", p.spool, "--name", name}
	argv, _ := json.Marshal(args)
	p.stderr, p.done = &testenv.Buffer{}, make(chan struct{})
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(append(os.Environ(), p.env...), envChild+"="+string(argv))
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	go func() {
		_ = p.cmd.Wait()
		p.code = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	f.t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if f.t.Failed() {
			f.t.Logf("agent %s (pid %d) output:\n%s", name, p.cmd.Process.Pid, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and returns the exit status.
func (p *agentProc) stop(t *testing.T) int {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		t.Fatalf("agent %s did not stop within 40s after SIGTERM:\n%s", p.name, p.stderr.String())
	}
	return p.code
}

func (p *agentProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// job makes a job for agent with a fresh id, expiring in a minute.
func job(agentName, kind string, group uuid.UUID, spec string) schema.Job {
	now := time.Now().UTC()
	return schema.Job{ID: uuid.Must(uuid.NewV7()), GroupID: group, Agent: agentName, Kind: kind, Spec: json.RawMessage(spec),
		Name: "fleet test", Tags: map[string]string{"test": "agent"}, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
}

// send produces fleet messages to the jobs topic the way `sink api` does: encoded by schema.EncodeFleet, keyed by
// the agent, synchronously.
func (f *fleet) send(msgs ...schema.FleetMessage) {
	f.t.Helper()
	for _, m := range msgs {
		if m.Time.IsZero() {
			m.Time = time.Now().UTC()
		}
		v, err := schema.EncodeFleet(m)
		if err != nil {
			f.t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = f.cl.ProduceSync(ctx, &kgo.Record{Key: m.Key(), Value: v}).FirstErr()
		cancel()
		if err != nil {
			f.t.Fatal(err)
		}
	}
}

func jobMsg(j schema.Job) schema.FleetMessage {
	return schema.FleetMessage{Type: schema.FleetJob, Job: &j}
}

func stopMsg(agentName string, id uuid.UUID) schema.FleetMessage {
	return schema.FleetMessage{Type: schema.FleetJobStop, Stop: &schema.JobStop{JobID: id, Agent: agentName}}
}

// fleetReader reads the agents topic as the sink would, keeping every message.
type fleetReader struct {
	mu   sync.Mutex
	msgs []schema.FleetMessage
	bad  []string
}

func readFleet(t *testing.T, brokers []string, topic string) *fleetReader {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic), kgo.FetchMaxWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	r := &fleetReader{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cl.PollFetches(ctx).EachRecord(func(rec *kgo.Record) {
				m, err := schema.DecodeFleet(rec.Value)
				r.mu.Lock()
				defer r.mu.Unlock()
				if err != nil {
					r.bad = append(r.bad, err.Error())
					return
				}
				if !bytes.Equal(rec.Key, m.Key()) {
					r.bad = append(r.bad, fmt.Sprintf("key %q for a message of %q", rec.Key, m.Key()))
				}
				r.msgs = append(r.msgs, m)
			})
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		cl.Close()
		if len(r.bad) > 0 {
			t.Errorf("bad messages on the agents topic: %q", r.bad)
		}
	})
	return r
}

// jobEvents returns the events of job id in the order they were published.
func (r *fleetReader) jobEvents(id uuid.UUID) []schema.JobEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []schema.JobEvent
	for _, m := range r.msgs {
		if m.Event != nil && m.Event.JobID == id {
			out = append(out, *m.Event)
		}
	}
	return out
}

// heartbeats returns agent's heartbeats.
func (r *fleetReader) heartbeats(name string) []schema.Heartbeat {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []schema.Heartbeat
	for _, m := range r.msgs {
		if m.Heartbeat != nil && m.Heartbeat.Agent == name {
			out = append(out, *m.Heartbeat)
		}
	}
	return out
}

// waitEvent waits until job id has an event in state, and returns the job's events.
func (f *fleet) waitEvent(id uuid.UUID, state string, timeout time.Duration) []schema.JobEvent {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		evs := f.events.jobEvents(id)
		for _, e := range evs {
			if e.State == state {
				return evs
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("job %s: no %s event within %v; events: %+v", id, state, timeout, evs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitHeartbeats waits until agent has published n heartbeats.
func (f *fleet) waitHeartbeats(name string, n int, timeout time.Duration) []schema.Heartbeat {
	f.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		hs := f.events.heartbeats(name)
		if len(hs) >= n {
			return hs
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("agent %s: %d heartbeats within %v, want %d", name, len(hs), timeout, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// states lists the events' states, with the status and reason of the final ones.
func states(evs []schema.JobEvent) []string {
	var out []string
	for _, e := range evs {
		s := e.State
		if e.Status != "" {
			s += " " + string(e.Status)
		}
		if e.Reason != "" {
			s += ": " + e.Reason
		}
		out = append(out, s)
	}
	return out
}

// waitCommitted waits until group has committed offset n or more on the jobs topic (one partition).
func (f *fleet) waitCommitted(group string, n int64) {
	f.t.Helper()
	adm := kadm.NewClient(f.cl)
	deadline := time.Now().Add(30 * time.Second)
	for {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			if o, ok := offs.Lookup(f.cfg.Fleet.JobsTopic, 0); ok && o.At >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("group %s did not commit offset %d on %s within 30 s (err %v)", group, n, f.cfg.Fleet.JobsTopic, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
