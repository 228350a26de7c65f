package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/kafkaopt"
	"github.com/benchpipe/benchpipe/producer/hostinfo"
	"github.com/benchpipe/benchpipe/producer/publish"
	"github.com/benchpipe/benchpipe/producer/recorder"
	"github.com/benchpipe/benchpipe/schema"
)

// Reasons the agent gives in job events.
const (
	ReasonRestarted = "agent restarted mid-job"
	ReasonStopped   = "agent stopped"
	ReasonStop      = "stop requested"
)

// StopTimeout bounds how long a stopping agent waits for the running job's run to end after cancelling it, and
// then again for the spool to reach Kafka; what is left in the spool is shipped by the next start.
const StopTimeout = 10 * time.Second

// errStopRequested and errAgentStopping are why a job's run is cancelled.
var (
	errStopRequested = errors.New(ReasonStop)
	errAgentStopping = errors.New(ReasonStopped)
)

// ErrNameTaken is why Run stops when another agent with its name joined the jobs group: two agents with one name
// (two Raspberry Pis left at the host name "raspberrypi") would take turns fencing each other out of the group,
// both heartbeating as one agent, and a job could run on either, or on both.
var ErrNameTaken = errors.New("agent name taken")

// Agent is one device's agent: it heartbeats, takes the jobs addressed to it and runs them one at a time.
type Agent struct {
	cfg            *config.Config
	name           string
	pub            *publish.Publisher
	mem            *memory
	kinds          map[string]Kind
	log            *slog.Logger
	stdout, stderr io.Writer
	redactor       *schema.Redactor // for the jobs' runs; nil = theirs over the environment

	host    schema.Host
	version string
	upSince time.Time

	mu  sync.Mutex
	cur *running // the job being run; nil when idle

	jobs sync.WaitGroup // the running job's goroutine
}

// running is the job in progress.
type running struct {
	id     uuid.UUID
	runID  *uuid.UUID
	cancel context.CancelCauseFunc
}

// New makes the agent called name over an open publisher and job memory directory. It does not take ownership
// of pub: the caller closes it after Run returns.
func New(cfg *config.Config, name string, pub *publish.Publisher, stateDir string, kinds map[string]Kind, log *slog.Logger, stdout, stderr io.Writer) (*Agent, error) {
	mem, err := openMemory(stateDir)
	if err != nil {
		return nil, err
	}
	host := hostinfo.Collect()
	if cfg.Producer.Device != "" {
		host.Hostname = cfg.Producer.Device
	}
	return &Agent{cfg: cfg, name: name, pub: pub, mem: mem, kinds: kinds, log: log, stdout: stdout, stderr: stderr,
		host: host, version: hostinfo.Tools(nil)["benchpipe"], upSince: time.Now().UTC()}, nil
}

// Run serves until ctx ends: it reports the jobs a previous process left unfinished, heartbeats, and consumes the
// jobs topic. When ctx ends, a running job is aborted ("agent stopped") and reported before Run returns. The job
// memory is closed on return.
func (a *Agent) Run(ctx context.Context) error {
	defer a.mem.close()
	if err := a.recover(ctx); err != nil {
		return err
	}
	opts, err := kafkaopt.Options(a.cfg.Kafka)
	if err != nil {
		return fmt.Errorf("kafka: %w", err)
	}
	opts = append(opts,
		kgo.ConsumerGroup(GroupName(a.name)),
		// Static membership: a restarted agent (killed, or its service restarted) takes its partitions back at once
		// instead of waiting out the dead member's session timeout (45s), during which it would see no job.
		kgo.InstanceID(GroupName(a.name)),
		kgo.ConsumeTopics(a.cfg.Fleet.JobsTopic),
		kgo.DisableAutoCommit(),
		// A job launched before this agent's group first joined must still be seen; what is older than that is
		// either for another agent, or remembered, or expired, so reading from the start costs only time.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("kafka client: %w", err)
	}
	defer cl.Close()

	var beats sync.WaitGroup
	beatCtx, stopBeats := context.WithCancel(context.WithoutCancel(ctx))
	beats.Add(1)
	go func() {
		defer beats.Done()
		a.heartbeatLoop(beatCtx)
	}()

	a.log.Info("agent started", "jobs_topic", a.cfg.Fleet.JobsTopic, "agents_topic", a.cfg.Fleet.AgentsTopic,
		"group", GroupName(a.name), "heartbeat", a.cfg.Fleet.Heartbeat)
	failing := false
	var runErr error
	for {
		fetches := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			break
		}
		fetches.EachError(func(_ string, _ int32, err error) {
			if runErr == nil {
				runErr = a.fenced(err)
			}
		})
		if runErr != nil {
			break
		}
		// An outage makes every poll fail: say so once, and once more when jobs can be read again. The records of
		// the partitions that did answer are handled all the same.
		if err := fetches.Err0(); err != nil {
			if !failing {
				a.log.Warn("cannot read jobs from Kafka; retrying", "topic", a.cfg.Fleet.JobsTopic, "err", err)
			}
			failing = true
		} else if failing {
			a.log.Info("reading jobs again", "topic", a.cfg.Fleet.JobsTopic)
			failing = false
		}
		var recs []*kgo.Record
		// A message being handled is handled to its end, its events spooled, even if SIGTERM comes meanwhile.
		// A job the job memory cannot take stops the agent before its offset is committed: without the memory the
		// agent cannot run a job at most once, and the job is read again when the agent starts (or expires).
		hctx := context.WithoutCancel(ctx)
		for it := fetches.RecordIter(); !it.Done() && runErr == nil; {
			r := it.Next()
			if runErr = a.handle(hctx, r.Value); runErr == nil {
				recs = append(recs, r)
			}
		}
		if len(recs) > 0 {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := cl.CommitRecords(cctx, recs...)
			cancel()
			if fenced := a.fenced(err); fenced != nil && runErr == nil {
				runErr = fenced
			}
			if err != nil && runErr == nil {
				// Not fatal: a message handled again is found in the job memory and not run twice.
				a.log.Warn("committing job offsets", "err", err)
			}
		}
		if runErr != nil {
			break
		}
	}

	a.log.Info("agent stopping")
	a.abortCurrent(errAgentStopping)
	done := make(chan struct{})
	go func() { a.jobs.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(StopTimeout):
		a.log.Warn("the running job did not end in time; its run is finished as aborted by the next start", "timeout", StopTimeout)
	}
	stopBeats()
	beats.Wait()
	return runErr
}

// fenced turns Kafka's FENCED_INSTANCE_ID into ErrNameTaken: the group's static member id is the agent's name,
// and Kafka fences the older member when a newer one joins with the same id.
func (a *Agent) fenced(err error) error {
	if !errors.Is(err, kerr.FencedInstanceID) {
		return nil
	}
	return fmt.Errorf("%w: another agent named %q joined the jobs group %s and Kafka fenced this one out (FENCED_INSTANCE_ID); "+
		"each agent needs its own name: set --name or producer.device (the default is the host name)", ErrNameTaken, a.name, GroupName(a.name))
}

// GroupName is the consumer group of the agent called name: each agent reads the whole jobs topic.
func GroupName(name string) string { return "benchpipe-agent-" + name }

// recover reports the jobs a previous process of this agent took and did not finish (it was killed, or the
// machine lost power) as finished aborted. Their runs, if started, were already finished as aborted by the spool
// when it was opened (publish.Open finishes every run left open), with the samples they had spooled kept.
func (a *Agent) recover(ctx context.Context) error {
	open, err := a.mem.unfinished()
	if err != nil {
		return err
	}
	for id, n := range open {
		a.log.Warn("job was interrupted by the agent's restart: reported aborted", "job", id, "run", n.RunID)
		// Published first, remembered second: if the agent dies in between, the next start reports it again, and
		// the sink stores one event per job and state.
		if err := a.event(ctx, schema.JobEvent{JobID: id, State: schema.JobFinished, RunID: n.RunID, Status: schema.StatusAborted, Reason: ReasonRestarted}); err != nil {
			return err
		}
		if err := a.mem.put(id, jobNote{State: schema.JobFinished, RunID: n.RunID, Status: schema.StatusAborted, Reason: ReasonRestarted}); err != nil {
			return err
		}
	}
	return nil
}

// handle acts on one message of the jobs topic. Its error is ErrMemory's: the agent must stop.
func (a *Agent) handle(ctx context.Context, value []byte) error {
	m, err := schema.DecodeFleet(value)
	if err != nil {
		a.log.Warn("ignoring an unreadable message on the jobs topic", "err", err)
		return nil
	}
	switch {
	case m.Job != nil && m.Job.Agent == a.name:
		return a.handleJob(ctx, *m.Job)
	case m.Stop != nil && m.Stop.Agent == a.name:
		a.handleStop(m.Stop.JobID)
	}
	return nil
}

// ErrMemory is why Run stops when the job memory cannot be read or written (a full disk, most likely): the job it
// was taking is neither run nor reported, and is read again when the agent starts.
var ErrMemory = errors.New("the job memory failed")

func (a *Agent) handleJob(ctx context.Context, j schema.Job) error {
	log := a.log.With("job", j.ID, "group", j.GroupID, "kind", j.Kind)
	memFailed := func(err error) error {
		return fmt.Errorf("%w: job %s not taken: %w; stopping: the job is read again when the agent starts", ErrMemory, j.ID, err)
	}
	if n, seen, err := a.mem.get(j.ID); err != nil {
		return memFailed(err)
	} else if seen {
		log.Info("job seen before: not run again", "state", n.State)
		return nil
	}
	// settle remembers a job that will not run, then reports it.
	settle := func(e schema.JobEvent) error {
		if err := a.mem.put(j.ID, jobNote{State: e.State, Reason: e.Reason}); err != nil {
			return memFailed(err)
		}
		log.Info("job "+e.State, "reason", e.Reason)
		a.report(ctx, e)
		return nil
	}
	ev := schema.JobEvent{JobID: j.ID, Agent: a.name}
	if now := time.Now(); now.After(j.ExpiresAt) {
		ev.State = schema.JobExpired
		ev.Reason = fmt.Sprintf("seen at %s, after it expired at %s", now.UTC().Format(time.RFC3339), j.ExpiresAt.UTC().Format(time.RFC3339))
		return settle(ev)
	}
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur != nil {
		ev.State, ev.Reason = schema.JobRejected, fmt.Sprintf("busy: running job %s", cur.id)
		return settle(ev)
	}
	kind, ok := a.kinds[j.Kind]
	if !ok {
		ev.State, ev.Reason = schema.JobRejected, fmt.Sprintf("this agent cannot run %s jobs", j.Kind)
		return settle(ev)
	}
	if err := kind.Check(j.Spec); err != nil {
		// jobkind Decode's error names the kind and the spec ("pgbench spec: …"); an event's reason is one line.
		ev.State, ev.Reason = schema.JobRejected, strings.ReplaceAll(err.Error(), "\n", "; ")
		return settle(ev)
	}

	// Remembered before anything runs: at most once, even if the agent dies right after.
	if err := a.mem.put(j.ID, jobNote{State: schema.JobAccepted}); err != nil {
		return memFailed(err)
	}
	log.Info("job accepted")
	ev.State = schema.JobAccepted
	a.report(ctx, ev)

	jctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	r := &running{id: j.ID, cancel: cancel}
	a.mu.Lock()
	a.cur = r
	a.mu.Unlock()
	a.jobs.Add(1)
	go func() {
		defer a.jobs.Done()
		defer cancel(nil)
		a.runJob(jctx, log, r, kind, j)
	}()
	return nil
}

// runJob runs an accepted job to its end and reports it.
func (a *Agent) runJob(ctx context.Context, log *slog.Logger, r *running, kind Kind, j schema.Job) {
	// The reports outlive the run's cancellation: a stopped job is still reported finished.
	rctx := context.WithoutCancel(ctx)
	jobID, groupID := j.ID, j.GroupID
	env := recorder.Env{
		Config: a.cfg, Publisher: a.pub, Stdout: a.stdout, Stderr: a.stderr, Redactor: a.redactor,
		Name: j.Name, Tags: maps.Clone(j.Tags), JobID: &jobID, GroupID: &groupID,
		// Called from the run's record writer once run_started is in the spool; it writes the job memory and
		// the event (two fsyncs) while the run's next records wait in the recorder's queue.
		OnStarted: func(runID uuid.UUID) {
			a.mu.Lock()
			r.runID = &runID
			a.mu.Unlock()
			if err := a.mem.put(j.ID, jobNote{State: schema.JobRunning, RunID: &runID}); err != nil {
				log.Error("job memory", "err", err)
			}
			log.Info("job running", "run", runID)
			a.report(rctx, schema.JobEvent{JobID: j.ID, Agent: a.name, State: schema.JobRunning, RunID: &runID})
		},
	}
	out := kind.Execute(ctx, env, j.Spec)
	// Idle from here: the run is over, and a job arriving while this one is being reported is not "busy".
	a.mu.Lock()
	a.cur = nil
	a.mu.Unlock()
	reason := out.Err
	if out.Status == schema.StatusAborted {
		// The run says "interrupted"; the agent knows why: a stop, or its own SIGTERM.
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			reason = cause.Error()
		}
	}
	if out.Status != schema.StatusOK && out.Status != schema.StatusFailed && out.Status != schema.StatusAborted {
		out.Status, reason = schema.StatusFailed, fmt.Sprintf("the run ended with status %q: %s", out.Status, reason)
	}
	if out.Status == schema.StatusOK {
		reason = ""
	}
	a.mu.Lock()
	runID := r.runID
	a.mu.Unlock()
	if runID == nil && out.RunID != uuid.Nil {
		runID = &out.RunID
	}
	ev := schema.JobEvent{JobID: j.ID, Agent: a.name, State: schema.JobFinished, RunID: runID, Status: out.Status, Reason: reason}
	log.Info("job finished", "run", runID, "status", out.Status, "reason", reason)
	// Reported before it is remembered finished: a crash in between reports it again (aborted) on restart, which
	// the sink ignores since the job already has its finished event.
	a.report(rctx, ev)
	if err := a.mem.put(j.ID, jobNote{State: schema.JobFinished, RunID: runID, Status: out.Status, Reason: reason}); err != nil {
		log.Error("job memory", "err", err)
	}
	a.beat(rctx) // say idle at once, not a heartbeat later
}

// handleStop aborts the running job if it is jobID; a stop for any other job is logged and ignored.
func (a *Agent) handleStop(jobID uuid.UUID) {
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur == nil || cur.id != jobID {
		a.log.Info("stop ignored: not the running job", "job", jobID)
		return
	}
	a.log.Info("stop requested", "job", jobID)
	cur.cancel(errStopRequested)
}

func (a *Agent) abortCurrent(cause error) {
	a.mu.Lock()
	cur := a.cur
	a.mu.Unlock()
	if cur != nil {
		cur.cancel(cause)
	}
}

// heartbeatLoop says the agent is here every fleet.heartbeat, from the start.
func (a *Agent) heartbeatLoop(ctx context.Context) {
	t := time.NewTicker(a.cfg.Fleet.Heartbeat)
	defer t.Stop()
	for {
		a.beat(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) beat(ctx context.Context) {
	h := schema.Heartbeat{Agent: a.name, Host: a.host, Version: a.version, Tags: a.cfg.Producer.Tags,
		IntervalS: a.cfg.Fleet.Heartbeat.Seconds(), State: schema.AgentIdle, UpSince: a.upSince}
	a.mu.Lock()
	if a.cur != nil {
		id := a.cur.id
		h.State, h.JobID, h.RunID = schema.AgentRunning, &id, a.cur.runID
	}
	a.mu.Unlock()
	if err := a.publish(ctx, schema.FleetMessage{Type: schema.FleetHeartbeat, Heartbeat: &h}); err != nil {
		a.log.Warn("heartbeat not spooled", "err", err)
	}
}

// report publishes a job event, logging a failure: the job goes on either way.
func (a *Agent) report(ctx context.Context, e schema.JobEvent) {
	if err := a.event(ctx, e); err != nil {
		a.log.Error("job event not spooled", "job", e.JobID, "state", e.State, "err", err)
	}
}

func (a *Agent) event(ctx context.Context, e schema.JobEvent) error {
	e.Agent = a.name
	return a.publish(ctx, schema.FleetMessage{Type: schema.FleetJobEvent, Event: &e})
}

// publish spools m for the agents topic, keyed by the agent's name.
func (a *Agent) publish(ctx context.Context, m schema.FleetMessage) error {
	m.Time = time.Now().UTC()
	v, err := schema.EncodeFleet(m)
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return a.pub.PublishRaw(wctx, a.cfg.Fleet.AgentsTopic, m.Key(), v, m.Time)
}
