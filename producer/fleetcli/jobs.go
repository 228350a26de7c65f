package fleetcli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/google/uuid"

	"github.com/benchpipe/benchpipe/config"
	"github.com/benchpipe/benchpipe/internal/cli"
)

const jobsUsage = `Usage:
  producer jobs [--group G] [--agent A] [--limit N]   the latest jobs and their states
  producer jobs stop JOB_ID                            stop a job (its run ends aborted, its samples kept)
  producer jobs stop --group G                         stop the group's jobs that have not ended

Listing reads the job_status view, which anonymous may read; stopping needs the operator token in
$` + EnvOperatorToken + `. The endpoint is graphql.url.

Flags:
`

const jobsQuery = `query Jobs($where: job_status_bool_exp!, $limit: Int!) {
  job_status(where: $where, order_by: [{created_at: desc}, {id: asc}], limit: $limit) {
    id agent kind state run_id status reason
  }
}`

const stopMutation = `mutation Stop($job_id: uuid, $group_id: uuid) {
  stopJobs(job_id: $job_id, group_id: $group_id) { jobs { job_id agent } }
}`

// RunJobs runs `producer jobs` with args, the words after "jobs", and returns the exit code: 0 on success, 1 when
// the API refused or failed, 2 for bad usage.
func RunJobs(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	prog := "producer jobs"
	fs := flag.NewFlagSet("jobs", flag.ContinueOnError)
	var (
		group, agent, configPath string
		limit                    int
	)
	fs.StringVar(&group, "group", "", "the jobs of the launch `GROUP` (its group id)")
	fs.StringVar(&agent, "agent", "", "list the jobs of the agent `NAME`")
	fs.IntVar(&limit, "limit", 20, "list at most `N` jobs, the latest first")
	fs.StringVar(&configPath, "config", "", "configuration `file` (default $"+config.EnvConfigFile+", else "+config.SystemFile+" if it exists)")
	// Flags may come before or after "stop" and the job id.
	var rest []string
	for {
		err := cli.Parse(fs, args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fmt.Fprint(stdout, jobsUsage)
			cli.PrintDefaults(stdout, fs)
			return 0
		case err != nil:
			return cli.Fail(stderr, prog, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		rest, args = append(rest, args[0]), args[1:]
	}
	stop := len(rest) > 0 && rest[0] == "stop"
	if stop {
		prog, rest = "producer jobs stop", rest[1:]
	}
	if group != "" {
		if _, err := uuid.Parse(group); err != nil {
			return cli.Fail(stderr, prog, cli.Errorf("--group %q is not a group id (a UUID)", group))
		}
	}
	var jobID string
	switch {
	case stop && (agent != "" || limit != 20):
		return cli.Fail(stderr, prog, cli.Errorf("--agent and --limit are for listing; stop takes one JOB_ID or --group G"))
	case stop && len(rest) == 1 && group == "":
		if _, err := uuid.Parse(rest[0]); err != nil {
			return cli.Fail(stderr, prog, cli.Errorf("JOB_ID %q is not a job id (a UUID)", rest[0]))
		}
		jobID = rest[0]
	case stop && !(len(rest) == 0 && group != ""):
		return cli.Fail(stderr, prog, cli.Errorf("give one JOB_ID or --group G"))
	case !stop && len(rest) > 0:
		return cli.Fail(stderr, prog, cli.Errorf("unexpected argument %q (to stop a job: producer jobs stop JOB_ID)", rest[0]))
	case !stop && limit < 1:
		return cli.Fail(stderr, prog, cli.Errorf("--limit %d: want at least 1", limit))
	}

	token, err := operatorToken()
	if err != nil && stop {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return cli.ExitUsage
	}
	c, code := openClient(prog, configPath, token, stderr)
	if c == nil {
		return code
	}
	if stop {
		return stopJobs(ctx, c, jobID, group, stdout, stderr)
	}

	where := map[string]any{}
	if group != "" {
		where["group_id"] = map[string]any{"_eq": group}
	}
	if agent != "" {
		where["agent"] = map[string]any{"_eq": agent}
	}
	var out struct {
		JobStatus []jobState `json:"job_status"`
	}
	if err := c.exec(ctx, "list jobs", jobsQuery, map[string]any{"where": where, "limit": limit}, &out); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", prog, err)
		return 1
	}
	if len(out.JobStatus) == 0 {
		fmt.Fprintln(stdout, "no jobs")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tAGENT\tKIND\tSTATE\tRUN\tREASON")
	for _, j := range out.JobStatus {
		state := j.State
		if j.Status != nil && *j.Status != "" {
			state += " " + *j.Status
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, orDash(j.Agent), orDash(j.Kind), state, orDash(j.RunID), orDash(j.Reason))
	}
	_ = tw.Flush()
	return 0
}

func orDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// stopJobs calls stopJobs for one job or a group and prints the jobs asked to stop.
func stopJobs(ctx context.Context, c *client, jobID, group string, stdout, stderr io.Writer) int {
	vars := map[string]any{}
	if jobID != "" {
		vars["job_id"] = jobID
	} else {
		vars["group_id"] = group
	}
	var out struct {
		StopJobs *struct {
			Jobs []struct {
				JobID string `json:"job_id"`
				Agent string `json:"agent"`
			} `json:"jobs"`
		} `json:"stopJobs"`
	}
	if err := c.exec(ctx, "stop", stopMutation, vars, &out); err != nil {
		fmt.Fprintf(stderr, "producer jobs stop: %v\n", err)
		return 1
	}
	if out.StopJobs == nil || len(out.StopJobs.Jobs) == 0 {
		fmt.Fprintln(stdout, "no job to stop: every job has already ended")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, j := range out.StopJobs.Jobs {
		fmt.Fprintf(tw, "stop requested\t%s\tjob %s\n", j.Agent, j.JobID)
	}
	_ = tw.Flush()
	return 0
}
