package fleetcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
	"github.com/benchpipe/benchpipe/producer/jobkind"
)

const launchUsage = `Usage:
  producer launch (--agent NAME ... | --tag k=v ... | --all) [flags] mqtt [producer mqtt's flags]
  producer launch (--agent NAME ... | --tag k=v ... | --all) [flags] pgbench [producer pgbench's flags] -- [pgbench options]

Launches one job per selected agent, all in one group: --agent names agents (an offline one gets a job that
waits for it until --expires), --tag selects the online agents whose tags hold every k=v, --all every online
agent. The job's flags are those of "producer mqtt" or "producer pgbench", checked here as they would be there;
flags of one local run (--config, --spool-dir, --summary-json, --compare-with, --max-regression, --pgbench)
are refused, and passwords stay on the agents (their environment or configuration), never in a job.
Prints the group id and one line per job; with --wait, follows the jobs until each has ended.

The operator token is read from $` + EnvOperatorToken + ` (never a flag); the endpoint is graphql.url.

Flags:
`

// launchResult is launchJobs' answer.
type launchResult struct {
	GroupID string `json:"group_id"`
	Jobs    []struct {
		JobID string `json:"job_id"`
		Agent string `json:"agent"`
	} `json:"jobs"`
}

const launchMutation = `mutation Launch($kind: String!, $spec: jsonb!, $agents: [String!], $tags: jsonb, $all: Boolean,
  $name: String, $run_tags: jsonb, $expires_in_s: Int) {
  launchJobs(kind: $kind, spec: $spec, agents: $agents, tags: $tags, all: $all, name: $name, run_tags: $run_tags,
             expires_in_s: $expires_in_s) {
    group_id
    jobs { job_id agent }
  }
}`

// pollInterval is how often --wait reads the jobs' states.
var pollInterval = time.Second

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// RunLaunch runs `producer launch` with args, the words after "launch", and returns the exit code: 0 when the
// jobs were launched (with --wait: when every job finished ok), 1 when the API refused or a job did not finish ok,
// 2 for bad usage.
func RunLaunch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const prog = "producer launch"
	fs := flag.NewFlagSet("launch", flag.ContinueOnError)
	var (
		agents     stringList
		selectTags = map[string]string{}
		runTags    = map[string]string{}
		all, wait  bool
		name       string
		expires    time.Duration
		configPath string
	)
	fs.Var(&agents, "agent", "launch on the agent `NAME` (repeatable)")
	cli.TagFlag(fs, selectTags, "launch on every online agent whose tags hold `k=v` (repeatable: all of them)")
	fs.BoolVar(&all, "all", false, "launch on every online agent")
	fs.StringVar(&name, "name", "", "the runs' `name` shown in the viewer")
	fs.DurationVar(&expires, "expires", 0, "a job not taken by its agent within this `duration` expires (default fleet.job_expiry of sink api, 10m)")
	fs.BoolVar(&wait, "wait", false, "follow the jobs until each has ended, printing each state change; exit 0 only if all finished ok")
	fs.StringVar(&configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	// --run-tag: the runs' tags, a TagFlag of its own name.
	rt := flag.NewFlagSet("", flag.ContinueOnError)
	cli.TagFlag(rt, runTags, "")
	fs.Var(rt.Lookup("tag").Value, "run-tag", "tag the runs with `k=v` (repeatable), besides the agents' producer.tags")

	err := cli.Parse(fs, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, launchUsage)
		cli.PrintDefaults(stdout, fs)
		return 0
	case err != nil:
		return cli.Fail(stderr, prog, err)
	}
	rest := fs.Args()
	selections := 0
	for _, given := range []bool{len(agents) > 0, len(selectTags) > 0, all} {
		if given {
			selections++
		}
	}
	var k jobkind.Kind
	known := len(rest) > 0
	if known {
		k, known = jobkind.Lookup(rest[0])
	}
	switch {
	case selections != 1:
		return cli.Fail(stderr, prog, cli.Errorf("choose the agents with exactly one of --agent, --tag and --all"))
	case len(rest) == 0:
		return cli.Fail(stderr, prog, cli.Errorf("missing the job's kind: %s", jobkind.Either()))
	case !known:
		return cli.Fail(stderr, prog, cli.Errorf("unknown job kind %q: %s", rest[0], jobkind.Either()))
	case expires < 0 || (expires > 0 && expires < time.Second):
		return cli.Fail(stderr, prog, cli.Errorf("--expires %s: want at least 1s", expires))
	}
	kind := k.Name()
	p, err := parse(k, rest[1:], stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return cli.Fail(stderr, "producer launch … "+kind, err)
	case len(p.local) > 0:
		return cli.Fail(stderr, prog, cli.Errorf("%s is a flag of a local run, not of a job: the agent uses its own configuration", cli.Dash(p.local[0])))
	case p.name != "" && name != "":
		return cli.Fail(stderr, prog, cli.Errorf("the run's name is given twice: --name before %s and after it", kind))
	}
	if p.name != "" {
		name = p.name
	}
	for k, v := range p.tags {
		runTags[k] = v
	}

	token, err := operatorToken()
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return cli.ExitUsage
	}
	c, code := openClient(prog, configPath, token, stderr)
	if c == nil {
		return code
	}

	vars := map[string]any{"kind": kind, "spec": p.spec}
	switch {
	case len(agents) > 0:
		vars["agents"] = []string(agents)
	case len(selectTags) > 0:
		vars["tags"] = selectTags
	default:
		vars["all"] = true
	}
	if name != "" {
		vars["name"] = name
	}
	if len(runTags) > 0 {
		vars["run_tags"] = runTags
	}
	if expires > 0 {
		vars["expires_in_s"] = int64((expires + time.Second - 1) / time.Second)
	}
	var out struct {
		LaunchJobs *launchResult `json:"launchJobs"`
	}
	if err := c.exec(ctx, "launch", launchMutation, vars, &out); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	res := out.LaunchJobs
	if res == nil {
		fmt.Fprintf(stderr, "%s: launch: %s answered no result\n", prog, c.url)
		return 1
	}
	fmt.Fprintf(stdout, "group %s\n", res.GroupID)
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, j := range res.Jobs {
		fmt.Fprintf(tw, "  %s\tjob %s\n", j.Agent, j.JobID)
	}
	_ = tw.Flush()
	if !wait {
		return 0
	}
	return follow(ctx, c, res, stdout, stderr)
}

// jobState is a row of job_status.
type jobState struct {
	ID     string  `json:"id"`
	Agent  *string `json:"agent"`
	Kind   *string `json:"kind"`
	State  string  `json:"state"`
	RunID  *string `json:"run_id"`
	Status *string `json:"status"`
	Reason *string `json:"reason"`
}

// ended reports whether a job has reached an end state.
func (j jobState) ended() bool {
	return j.State == "finished" || j.State == "rejected" || j.State == "expired"
}

// describe is the state as printed: "running run R", "finished ok", "rejected: busy …".
func (j jobState) describe() string {
	s := j.State
	if j.Status != nil && *j.Status != "" {
		s += " " + *j.Status
	}
	if j.RunID != nil && j.State != "finished" {
		s += " run " + *j.RunID
	}
	if j.Reason != nil && *j.Reason != "" {
		s += ": " + *j.Reason
	}
	return s
}

const groupStatusQuery = `query GroupStatus($group: uuid!) {
  job_status(where: {group_id: {_eq: $group}}) { id agent kind state run_id status reason }
}`

// follow polls the group's job_status until every job has ended, printing each state change, and returns 0 when
// all finished ok, else 1. A job the sink has not recorded yet counts as launched.
func follow(ctx context.Context, c *client, res *launchResult, stdout, stderr io.Writer) int {
	last := map[string]string{}
	agentOf := map[string]string{}
	for _, j := range res.Jobs {
		last[j.JobID] = "launched"
		agentOf[j.JobID] = j.Agent
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		var out struct {
			JobStatus []jobState `json:"job_status"`
		}
		if err := c.exec(ctx, "read the jobs' states", groupStatusQuery, map[string]any{"group": res.GroupID}, &out); err != nil {
			if ctx.Err() != nil {
				fmt.Fprintf(stderr, "producer launch: stopped waiting; the jobs go on (producer jobs --group %s)\n", res.GroupID)
				return 1
			}
			fmt.Fprintf(stderr, "producer launch: %v\n", err)
			return 1
		}
		byID := map[string]jobState{}
		for _, j := range out.JobStatus {
			byID[j.ID] = j
		}
		done, ok := 0, 0
		for _, j := range res.Jobs {
			s, seen := byID[j.JobID]
			if !seen {
				continue
			}
			if d := s.describe(); d != last[j.JobID] {
				last[j.JobID] = d
				fmt.Fprintf(stdout, "%s  %s  %s\n", agentOf[j.JobID], j.JobID, d)
			}
			if s.ended() {
				done++
				if s.State == "finished" && s.Status != nil && *s.Status == "ok" {
					ok++
				}
			}
		}
		if done == len(res.Jobs) {
			fmt.Fprintf(stdout, "group %s: %d of %d jobs finished ok\n", res.GroupID, ok, len(res.Jobs))
			if ok == len(res.Jobs) {
				return 0
			}
			return 1
		}
		select {
		case <-ctx.Done():
			fmt.Fprintf(stderr, "producer launch: stopped waiting; the jobs go on (producer jobs --group %s)\n", res.GroupID)
			return 1
		case <-t.C:
		}
	}
}
