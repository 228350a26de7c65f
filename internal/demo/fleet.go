package main

// The fleet of issue 14 on the demo's pipeline: `sink api` (the auth webhook and the launch/stop actions) in
// process, with an operator token and an action secret made up at start as an operator would set them, and
// producer agents in process, each as `producer agent --config <its file> --name <name>` with its own spool and
// job memory. The GraphQL stand-in calls that webhook and those actions (fleet.stubOptions), as Hasura does in the
// compose stack. The demo launches one job group through it as `producer launch` does (launchJobs); the viewer's
// fleet browser test (--fleet-fixture) drives it from the Agents page.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/hasurastub"
	"github.com/benchpipe/benchpipe/producer/agent"
	"github.com/benchpipe/benchpipe/producer/fleetcli"
	"github.com/benchpipe/benchpipe/sink/api"
)

// fleetAgent is one in-process agent: its name and tags (producer.tags, which its heartbeats carry).
type fleetAgent struct {
	name string
	tags map[string]string
}

// demoAgents are `make demo`'s agents; the demo's job group is launched on them by their tag.
var demoAgents = []fleetAgent{
	{"demo-pi-1", map[string]string{"site": "demo"}},
	{"demo-pi-2", map[string]string{"site": "demo"}},
}

// demoAgentTag is the tag the demo launches by (--tag site=demo).
const demoAgentTag = "site=demo"

// fleet is sink api and the agents, started on a pipeline by startFleet and stopped by the pipeline's Close
// (before the sink and Kafka, so that the agents ship their last heartbeats and job events).
type fleet struct {
	token  string // the operator credential (BENCHPIPE_OPERATOR_TOKEN)
	secret string // Hasura → sink api (BENCHPIPE_ACTION_SECRET)
	apiURL string // sink api, no trailing slash
	names  []string

	mu    sync.Mutex
	stops map[string]context.CancelFunc // each agent's stop
	wg    sync.WaitGroup                // the agents
}

// startFleet starts sink api and the agents; their logs go to agentLog. graphqlURL is the stand-in's GraphQL
// endpoint, which sink api reads runs from for its report actions (graphql.url); dbURL is the database URL sink
// api reads agents and jobs with (the read-only role, as deployed). The pipeline's Close stops them.
func (p *pipeline) startFleet(ctx context.Context, agents []fleetAgent, agentLog io.Writer, graphqlURL, dbURL string) (*fleet, error) {
	f := &fleet{token: randomHex(), secret: randomHex(), stops: map[string]context.CancelFunc{}}
	cfg := *p.loaded
	cfg.GraphQL.URL = graphqlURL
	cfg.Sink.DatabaseURL = dbURL
	srv, err := api.New(ctx, &cfg, api.WithOperatorToken(f.token), api.WithActionSecret(f.secret), api.WithLogger(p.log))
	if err != nil {
		return nil, fmt.Errorf("sink api: %w", err)
	}
	p.stop = append(p.stop, srv.Close)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: srv.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	p.stop = append(p.stop, func() { _ = hs.Close() })
	f.apiURL = "http://" + ln.Addr().String()
	step(p.out, "sink api (auth webhook and the launch/stop actions) on %s", f.apiURL)

	p.stop = append(p.stop, f.close)
	for _, a := range agents {
		file, err := p.writeConfigWith("agent-"+a.name, func(c *config.Config) {
			c.Producer.Device = a.name
			c.Producer.Tags = a.tags
		})
		if err != nil {
			return nil, err
		}
		actx, stop := context.WithCancel(ctx)
		f.stops[a.name] = stop
		f.names = append(f.names, a.name)
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			if code := agent.Run(actx, []string{"--config", file, "--name", a.name}, io.Discard, agentLog); code != 0 && actx.Err() == nil {
				fmt.Fprintf(agentLog, "demo: agent %s exited with status %d\n", a.name, code)
			}
		}()
		step(p.out, "producer agent --name %s (tags %s), a heartbeat every %s", a.name, formatTags(a.tags), p.cfg.Fleet.Heartbeat)
	}
	return f, nil
}

// stubOptions make the GraphQL stand-in authenticate with sink api's webhook and call its actions, as Hasura is
// configured in the compose stack (HASURA_GRAPHQL_AUTH_HOOK, BENCHPIPE_API_URL, BENCHPIPE_ACTION_SECRET).
func (f *fleet) stubOptions() []hasurastub.Option {
	return []hasurastub.Option{hasurastub.WithAuthHook(f.apiURL + "/auth"),
		hasurastub.WithEnv(map[string]string{"BENCHPIPE_API_URL": f.apiURL, api.EnvActionSecret: f.secret})}
}

// stopAgent stops the agent called name, as its process ending would (its last heartbeat stays; it turns
// offline). It reports whether there was such an agent.
func (f *fleet) stopAgent(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	stop, ok := f.stops[name]
	if ok {
		stop()
	}
	return ok
}

// close stops every agent and waits until each has aborted its job and shipped its spool.
func (f *fleet) close() {
	f.mu.Lock()
	for _, stop := range f.stops {
		stop()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// waitOnline waits until every agent has been seen online since since (a heartbeat of this demo's agent, not a
// previous demo's row under the same name).
func (p *pipeline) waitOnline(ctx context.Context, names []string, since time.Time) error {
	return p.until(ctx, fmt.Sprintf("agents %s online", strings.Join(names, ", ")), func() (bool, error) {
		var n int
		err := p.db.QueryRow(ctx, "SELECT count(*) FROM public.agent_status WHERE online AND name = ANY($1) AND last_seen >= $2",
			names, since).Scan(&n)
		return n == len(names), err
	})
}

// launchArgs are the demo's job group: `producer launch` arguments after --config, a short MQTT run against the
// target each agent embeds, on the agents tagged site=demo, followed until every job has ended.
func launchArgs(seconds int) []string {
	return []string{"--tag", demoAgentTag, "--name", "make demo fleet", "--run-tag", "source=demo", "--wait",
		"mqtt", "--embedded-target", "--publishers", "1", "--subscribers", "1", "--qos", "1", "--rate", "200",
		"--warmup", "1s", "--duration", fmt.Sprintf("%ds", seconds)}
}

// writeLaunchConfig writes the configuration `producer launch` needs against the demo: the stand-in's GraphQL URL.
func (p *pipeline) writeLaunchConfig(graphqlURL string) (string, error) {
	file := filepath.Join(p.work, "launch.yaml")
	return file, os.WriteFile(file, []byte(fmt.Sprintf("graphql:\n  url: %s\n", graphqlURL)), 0o600)
}

// fleetJobs is what the demo's job group left in the database.
type fleetJobs struct {
	group   uuid.UUID
	jobs    []fleetJob
	summary string // job_groups' totals, one line
}

type fleetJob struct {
	agent, state, status string
	runID                uuid.UUID
}

// launchDemoJobs waits for the agents, launches the demo's job group through the stand-in at graphqlURL with
// `producer launch --wait` (fleetcli.RunLaunch, the operator token in its environment as an operator exports it),
// waits until the sink has written the group's runs, and returns the group as the database holds it.
func (p *pipeline) launchDemoJobs(ctx context.Context, f *fleet, launchConfig string, since time.Time, seconds int) (*fleetJobs, error) {
	if err := p.waitOnline(ctx, f.names, since); err != nil {
		return nil, err
	}
	step(p.out, "agents %s online; producer launch %s", strings.Join(f.names, ", "), shellJoin(launchArgs(seconds)))
	os.Setenv(fleetcli.EnvOperatorToken, f.token)
	var stdout, stderr bytes.Buffer
	if code := fleetcli.RunLaunch(ctx, append([]string{"--config", launchConfig}, launchArgs(seconds)...), &stdout, &stderr); code != 0 {
		return nil, fmt.Errorf("producer launch exited with status %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	first, _, _ := strings.Cut(stdout.String(), "\n")
	group, err := uuid.Parse(strings.TrimPrefix(first, "group "))
	if err != nil {
		return nil, fmt.Errorf("producer launch printed no group: %q", stdout.String())
	}
	rows, err := p.db.Query(ctx, `SELECT coalesce(agent, ''), state, coalesce(status, ''), coalesce(run_id, '00000000-0000-0000-0000-000000000000')
		FROM public.job_status WHERE group_id = $1 ORDER BY agent`, group)
	if err != nil {
		return nil, err
	}
	res := &fleetJobs{group: group}
	for rows.Next() {
		var j fleetJob
		if err := rows.Scan(&j.agent, &j.state, &j.status, &j.runID); err != nil {
			return nil, err
		}
		res.jobs = append(res.jobs, j)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// A job's finished event and its run's last records travel on different topics: wait for the runs too.
	for _, j := range res.jobs {
		if j.runID == uuid.Nil {
			return nil, fmt.Errorf("job of %s ended %s %s without a run", j.agent, j.state, j.status)
		}
		if err := p.waitFinished(ctx, j.runID); err != nil {
			return nil, err
		}
	}
	var jobs, ok, runs int
	var rate *float64
	if err := p.db.QueryRow(ctx, "SELECT jobs, ok, runs, ops_rate FROM public.job_groups WHERE group_id = $1", group).
		Scan(&jobs, &ok, &runs, &rate); err != nil {
		return nil, fmt.Errorf("read job group %s: %w", group, err)
	}
	res.summary = fmt.Sprintf("%d jobs, %d finished ok, %d runs", jobs, ok, runs)
	if rate != nil {
		res.summary += fmt.Sprintf(", summed throughput %.1f msg/s", *rate)
	}
	return res, nil
}

// print prints the group as the database holds it (job_status, job_groups).
func (j *fleetJobs) print(out io.Writer) {
	fmt.Fprintf(out, "\nJob group %s, launched by tag %s through GraphQL with the operator token (job_status, job_groups):\n\n", j.group, demoAgentTag)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	for _, job := range j.jobs {
		fmt.Fprintf(tw, "  %s\t%s %s\trun %s\n", job.agent, job.state, job.status, job.runID)
	}
	_ = tw.Flush()
	fmt.Fprintf(out, "  %s\n", j.summary)
}

// shellJoin joins args for a shell, single-quoting those that need it.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = a
		if a == "" || strings.ContainsAny(a, " \t\n'\"\\$`!*?[]{}()<>|&;#~") {
			q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(q, " ")
}

// formatTags is tags as k=v, sorted, comma-separated.
func formatTags(tags map[string]string) string {
	kv := make([]string, 0, len(tags))
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// randomHex is 128 random bits in hex: the demo's operator token and action secret, made up for each start.
func randomHex() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
