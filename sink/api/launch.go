package api

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/benchpipe/benchpipe/schema"
)

// launchInput is launchJobs' arguments (actions.graphql). Absent and null arguments decode alike.
type launchInput struct {
	Kind       string          `json:"kind"`
	Spec       json.RawMessage `json:"spec"`
	Agents     *[]string       `json:"agents"`
	Tags       json.RawMessage `json:"tags"`
	All        *bool           `json:"all"`
	Name       *string         `json:"name"`
	RunTags    json.RawMessage `json:"run_tags"`
	ExpiresInS *int64          `json:"expires_in_s"`
}

// LaunchResult is launchJobs' answer: the launch's group id and one job per agent, in the agents' name order.
type LaunchResult struct {
	GroupID uuid.UUID     `json:"group_id"`
	Jobs    []LaunchedJob `json:"jobs"`
}

// LaunchedJob is one job and the agent it is for.
type LaunchedJob struct {
	JobID uuid.UUID `json:"job_id"`
	Agent string    `json:"agent"`
}

// maxExpiry bounds expires_in_s: a job that waits longer for an offline agent is almost surely forgotten.
const maxExpiry = 7 * 24 * time.Hour

// launch checks everything, resolves the agents, and produces one job message per agent. Nothing is produced
// unless every check passed.
func (s *Server) launch(ctx context.Context, in launchInput) (*LaunchResult, error) {
	spec, err := checkSpec(in.Kind, in.Spec)
	if err != nil {
		return nil, err
	}
	runTags, err := stringMap("run_tags", in.RunTags)
	if err != nil {
		return nil, err
	}
	var name string
	if in.Name != nil {
		name = *in.Name
		if schema.RedactText(name) != name {
			return nil, invalid("name holds a secret: jobs carry no passwords")
		}
	}
	expiry := s.expiry
	if in.ExpiresInS != nil {
		expiry = time.Duration(*in.ExpiresInS) * time.Second
		if *in.ExpiresInS <= 0 || expiry > maxExpiry {
			return nil, invalid("expires_in_s %d is not between 1 and %d", *in.ExpiresInS, int64(maxExpiry/time.Second))
		}
	}
	agents, err := s.resolve(ctx, in)
	if err != nil {
		return nil, err
	}

	now := s.now().UTC()
	res := &LaunchResult{GroupID: uuid.New()}
	recs := make([]*kgo.Record, 0, len(agents))
	for _, agent := range agents {
		job := schema.Job{ID: uuid.New(), GroupID: res.GroupID, Agent: agent, Kind: in.Kind, Spec: spec, Name: name,
			Tags: runTags, CreatedAt: now, ExpiresAt: now.Add(expiry)}
		m := schema.FleetMessage{Type: schema.FleetJob, Time: now, Job: &job}
		b, err := schema.EncodeFleet(m)
		if err != nil {
			return nil, invalid("job for %s: %v", agent, err)
		}
		recs = append(recs, &kgo.Record{Key: m.Key(), Value: b})
		res.Jobs = append(res.Jobs, LaunchedJob{JobID: job.ID, Agent: agent})
	}
	if err := s.produce(ctx, recs, res.Jobs); err != nil {
		return nil, err
	}
	s.log.Info("launched", "group_id", res.GroupID, "kind", in.Kind, "jobs", len(res.Jobs), "agents", strings.Join(agents, ","), "expires_at", now.Add(expiry))
	return res, nil
}

// resolve returns the names of the agents the launch selects, sorted: exactly one of agents (each must be known;
// offline ones get a job that may expire), tags (online agents whose tags hold all of them) or all (every online
// agent).
func (s *Server) resolve(ctx context.Context, in launchInput) ([]string, error) {
	tags, err := stringMap("tags", in.Tags)
	if err != nil {
		return nil, err
	}
	all := in.All != nil && *in.All
	chosen := 0
	for _, set := range []bool{in.Agents != nil, tags != nil, all} {
		if set {
			chosen++
		}
	}
	if chosen != 1 {
		return nil, invalid("choose the agents with exactly one of agents (names), tags (an object) or all: true")
	}
	var names []string
	switch {
	case in.Agents != nil:
		want := slices.Clone(*in.Agents)
		slices.Sort(want)
		want = slices.Compact(want)
		if len(want) == 0 {
			return nil, invalid("no agent matches: agents is empty")
		}
		for _, n := range want {
			if !schema.AgentNamePattern.MatchString(n) {
				return nil, invalid("%q is not an agent name", n)
			}
		}
		if names, err = s.queryNames(ctx, `SELECT name FROM agent_status WHERE name = ANY($1) ORDER BY name`, want); err != nil {
			return nil, err
		}
		if missing := minus(want, names); len(missing) > 0 {
			return nil, invalid("no agent matches %s: no heartbeat was ever received from %s", strings.Join(missing, ", "), plural(len(missing), "it", "them"))
		}
	case tags != nil:
		if len(tags) == 0 {
			return nil, invalid("tags is empty: name at least one tag, or use all: true for every online agent")
		}
		b, _ := json.Marshal(tags)
		if names, err = s.queryNames(ctx, `SELECT name FROM agent_status WHERE online AND tags @> $1::jsonb ORDER BY name`, string(b)); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, invalid("no agent matches tags %s: no online agent has them all", b)
		}
	default:
		if names, err = s.queryNames(ctx, `SELECT name FROM agent_status WHERE online ORDER BY name`); err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, invalid("no agent matches all: no agent is online")
		}
	}
	return names, nil
}

func (s *Server) queryNames(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, unavailable("read agents: %s", schema.RedactText(err.Error()))
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, unavailable("read agents: %v", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("read agents: %s", schema.RedactText(err.Error()))
	}
	return names, nil
}

// produce writes recs (one per job of jobs, in the same order) to the jobs topic and waits for Kafka's
// acknowledgement, at most the produce timeout. The messages go to several partitions, so Kafka may take some and
// fail others: the error then names the jobs that were sent (extensions.sent), which will run unless stopped.
func (s *Server) produce(ctx context.Context, recs []*kgo.Record, jobs []LaunchedJob) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	results := s.cl.ProduceSync(ctx, recs...)
	err := results.FirstErr()
	if err == nil {
		return nil
	}
	// The results come in the order Kafka answered, not the order of recs.
	job := map[*kgo.Record]LaunchedJob{}
	for i, r := range recs {
		job[r] = jobs[i]
	}
	sent := []LaunchedJob{}
	for _, r := range results {
		if r.Err == nil {
			sent = append(sent, job[r.Record])
		}
	}
	e := unavailable("produce to %s: %v (is Kafka up?); %d of %d messages were sent", s.cfg.Fleet.JobsTopic, err, len(sent), len(recs))
	e.Ext["sent"] = sent
	return e
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
