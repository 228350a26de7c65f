-- The fleet (issue 14): agents that run benchmarks on devices, the jobs an operator launches on them, and what the
-- agents report of each job. Go side: schema.FleetMessage (schema/fleet.go); the sink reads the fleet topics
-- (fleet.jobs_topic, fleet.agents_topic; config format "fleet") and is the only writer (sink/ingest/fleet.go).
-- Every write is idempotent, so a redelivered message changes nothing: an agent's row only moves forward in time,
-- a job is inserted once, a stop keeps its earliest time, a job's event is stored once per state.
--
-- Plain tables and views, no hypertables (a few rows per agent and job), so there is no timescale variant: on
-- TimescaleDB these read runs as they read a plain table, and names, columns and types are the same everywhere.
-- Grants: the sink's role owns what it creates here, and the readers (Hasura, Grafana) get SELECT through the
-- owner's default privileges on tables, which cover views (deploy/timescaledb/100-benchpipe-roles.sh). Hasura's
-- metadata decides what GraphQL roles see: anonymous reads the views (no spec), operator reads jobs too.

-- agents: one row per agent, from its heartbeats (the newest one's facts). first_seen is the oldest heartbeat's
-- time, last_seen the newest's: a heartbeat older than last_seen (a producer's spool resending) only lowers
-- first_seen when it is older still. job_id and run_id are what the newest heartbeat said it was running.
CREATE TABLE agents (
    name        text        PRIMARY KEY,
    host        jsonb       NOT NULL DEFAULT '{}',  -- schema.Host: hostname, os, kernel, arch, cpu, memory, device
    version     text,                               -- benchpipe's version on the agent
    tags        jsonb       NOT NULL DEFAULT '{}',  -- the agent's tags: launch by tag selects on them
    interval_s  real        NOT NULL CHECK (interval_s > 0),
    state       text        NOT NULL CHECK (state IN ('idle', 'running')),
    job_id      uuid,
    run_id      uuid,
    up_since    timestamptz,                        -- when the agent process started
    first_seen  timestamptz NOT NULL,
    last_seen   timestamptz NOT NULL
);

CREATE INDEX agents_tags_idx ON agents USING gin (tags jsonb_path_ops);

-- jobs: one row per job message (one per agent of a launch; the agents of a launch share group_id). spec is the
-- kind's Spec as JSON, without secrets (the launch refuses a spec holding one); stop_requested_at is the earliest
-- job_stop's time.
CREATE TABLE jobs (
    id                 uuid        PRIMARY KEY,
    group_id           uuid        NOT NULL,
    agent              text        NOT NULL,
    kind               text        NOT NULL CHECK (kind IN ('mqtt', 'pgbench')),
    spec               jsonb       NOT NULL,
    name               text,
    tags               jsonb       NOT NULL DEFAULT '{}',  -- added to the run's tags
    created_at         timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    stop_requested_at  timestamptz
);

CREATE INDEX jobs_group_idx ON jobs (group_id);
CREATE INDEX jobs_agent_idx ON jobs (agent, created_at DESC);

-- job_events: the states an agent reported for a job, once each (the first report wins). run_id is set from
-- running on; status (ok, failed, aborted) on finished; reason on rejected, and on failed or aborted finishes.
CREATE TABLE job_events (
    job_id  uuid        NOT NULL,
    state   text        NOT NULL CHECK (state IN ('accepted', 'running', 'finished', 'rejected', 'expired')),
    agent   text        NOT NULL,
    at      timestamptz NOT NULL,
    run_id  uuid,
    status  text        CHECK (status IN ('ok', 'failed', 'aborted')),
    reason  text,
    PRIMARY KEY (job_id, state)
);

CREATE INDEX job_events_agent_idx ON job_events (agent, at DESC);

-- A job's run names its job and launch (run_started's job_id, group_id); NULL for a run started by hand.
ALTER TABLE runs
    ADD COLUMN job_id   uuid,
    ADD COLUMN group_id uuid;

CREATE INDEX runs_job_idx ON runs (job_id) WHERE job_id IS NOT NULL;
CREATE INDEX runs_group_idx ON runs (group_id, started_at) WHERE group_id IS NOT NULL;

-- agent_status: agents with online, derived at read time: a heartbeat within the last three of the agent's
-- intervals. An agent that stops (or is killed) is offline three intervals after its last heartbeat, with no
-- writer involved.
CREATE VIEW agent_status AS
SELECT name, host, version, tags, interval_s, state, job_id, run_id, up_since, first_seen, last_seen,
       last_seen > now() - make_interval(secs => 3 * interval_s::double precision) AS online
FROM agents;

-- job_status: one row per job known from jobs or job_events (an agent's events may be written before the job
-- message when the two topics are read at different paces: such a job has only what its events say). state is the
-- job's latest state; a job no agent reported anything of is expired once now() passes expires_at (the agent was
-- offline: nobody will run it any more), and launched before. run_id is the run the job started (running,
-- finished); status the finished event's (ok, failed, aborted); reason the latest state's, or why a job was shown
-- expired; updated_at when the job reached its state. The order of states: launched (no event yet) < accepted <
-- running < finished, rejected, expired (the end states: an agent reports one of them; were there two, the later
-- report is shown).
--
-- Each job's events are grouped in one pass (array_agg in state order) rather than looked up job by job: a lateral
-- lookup per job is as fast to run, but its estimated cost makes PostgreSQL JIT-compile the list of launches
-- (job_groups), which took seconds (schema/fleet_test.go, TestFleetViewsSpeed). A filter on id reaches the events'
-- key; jobs without a job row (events only) are the second branch of the UNION ALL.
CREATE VIEW job_status AS
SELECT j.id,
       j.group_id,
       j.agent,
       j.kind,
       j.name,
       j.created_at,
       j.expires_at,
       j.stop_requested_at,
       CASE WHEN e.state IS NOT NULL THEN e.state
            WHEN now() > j.expires_at THEN 'expired'
            ELSE 'launched' END                     AS state,
       e.run_id,
       e.status,
       CASE WHEN e.state IS NOT NULL THEN e.reason
            WHEN now() > j.expires_at THEN 'no agent took the job before it expired'
            END                                     AS reason,
       CASE WHEN e.state IS NOT NULL THEN e.at
            WHEN now() > j.expires_at THEN j.expires_at
            ELSE j.created_at END                   AS updated_at
FROM jobs j
LEFT JOIN (
    SELECT ev.job_id,
           (array_agg(ev.state  ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS state,
           (array_agg(ev.agent  ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS agent,
           (array_agg(ev.at     ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS at,
           (array_agg(ev.status ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS status,
           (array_agg(ev.reason ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS reason,
           (array_agg(ev.run_id ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC) FILTER (WHERE ev.run_id IS NOT NULL))[1] AS run_id
    FROM job_events ev GROUP BY ev.job_id) e ON e.job_id = j.id
UNION ALL
SELECT e.job_id, NULL::uuid, e.agent, NULL::text, NULL::text, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz,
       e.state, e.run_id, e.status, e.reason, e.at
FROM (
    SELECT ev.job_id,
           (array_agg(ev.state  ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS state,
           (array_agg(ev.agent  ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS agent,
           (array_agg(ev.at     ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS at,
           (array_agg(ev.status ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS status,
           (array_agg(ev.reason ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC))[1] AS reason,
           (array_agg(ev.run_id ORDER BY CASE ev.state WHEN 'accepted' THEN 1 WHEN 'running' THEN 2 ELSE 3 END DESC, ev.at DESC) FILTER (WHERE ev.run_id IS NOT NULL))[1] AS run_id
    FROM job_events ev GROUP BY ev.job_id) e
WHERE NOT EXISTS (SELECT FROM jobs WHERE jobs.id = e.job_id);

-- job_groups: one row per launch (group_id), from its jobs' states and its runs. running counts jobs accepted or
-- running; finished those finished, split into ok, failed and aborted; rejected and expired the others (jobs -
-- the rest are still launched). runs counts the runs that name the group; ops_rate is their summed throughput
-- (the sum of each run's summary ops_rate: the group's total load), started_at the first run's start and
-- finished_at the last run's end; created_at is when the launch was made. A filter on group_id reaches the
-- indexes of jobs and runs through the union of their group ids; the list of launches aggregates every job once.
CREATE VIEW job_groups AS
SELECT g.group_id,
       coalesce(j.jobs, 0)      AS jobs,
       coalesce(j.running, 0)   AS running,
       coalesce(j.finished, 0)  AS finished,
       coalesce(j.ok, 0)        AS ok,
       coalesce(j.failed, 0)    AS failed,
       coalesce(j.aborted, 0)   AS aborted,
       coalesce(j.rejected, 0)  AS rejected,
       coalesce(j.expired, 0)   AS expired,
       coalesce(r.runs, 0)      AS runs,
       r.ops_rate,
       r.started_at,
       r.finished_at,
       j.created_at
FROM (SELECT group_id FROM jobs UNION SELECT group_id FROM runs WHERE group_id IS NOT NULL) g
LEFT JOIN (
    SELECT s.group_id,
           count(*)                                                              AS jobs,
           count(*) FILTER (WHERE s.state IN ('accepted', 'running'))            AS running,
           count(*) FILTER (WHERE s.state = 'finished')                          AS finished,
           count(*) FILTER (WHERE s.state = 'finished' AND s.status = 'ok')      AS ok,
           count(*) FILTER (WHERE s.state = 'finished' AND s.status = 'failed')  AS failed,
           count(*) FILTER (WHERE s.state = 'finished' AND s.status = 'aborted') AS aborted,
           count(*) FILTER (WHERE s.state = 'rejected')                          AS rejected,
           count(*) FILTER (WHERE s.state = 'expired')                           AS expired,
           min(s.created_at)                                                     AS created_at
    FROM job_status s WHERE s.group_id IS NOT NULL GROUP BY s.group_id) j ON j.group_id = g.group_id
LEFT JOIN (
    SELECT ru.group_id, count(*) AS runs, sum(ru.ops_rate) AS ops_rate, min(ru.started_at) AS started_at,
           max(ru.finished_at) AS finished_at
    FROM runs ru WHERE ru.group_id IS NOT NULL GROUP BY ru.group_id) r ON r.group_id = g.group_id;
