// Every GraphQL document the viewer sends, as named constants. test/contract.test.ts parses each exported string
// (and each string inside an exported object) and checks it against the Hasura metadata in deploy/hasura: root
// fields must be tracked tables/views, selected columns must be in the anonymous role's select permission, and
// subscriptions (sent over the websocket by live.ts) have one root field that the role may subscribe to.
// Values always travel as variables; nothing the user typed is ever pasted into a document.
import { SAMPLE_COLUMNS } from './shape';

/** Columns of a run shown in lists. */
const RUN_LIST_FIELDS = `run_id kind name host_name status error started_at finished_at measure_start measure_end
  ops_rate lat_p99_ms errors mqtt_sent mqtt_lost pg_failed tags topology_changed split_brain job_id group_id`;

/** Summary figures of a run (measurement phase, warm-up excluded), used by the detail and compare pages. */
const RUN_SUMMARY_FIELDS = `ops ops_rate bytes errors lat_min_ms lat_mean_ms lat_p50_ms lat_p90_ms lat_p95_ms
  lat_p99_ms lat_p999_ms lat_max_ms mqtt_sent mqtt_received mqtt_lost mqtt_duplicated mqtt_out_of_order
  mqtt_offered_rate mqtt_uncorrected_p50_ms mqtt_uncorrected_p99_ms mqtt_uncorrected_max_ms pg_tps pg_stddev_ms
  pg_failed pg_retried pg_retries pg_lag_ms pg_skipped`;

/** Runs page: one page of runs matching $where (built by pages/runs.ts from the URL) and the total count. */
export const RUNS_QUERY = `query Runs($where: runs_bool_exp!, $limit: Int!, $offset: Int!) {
  runs(where: $where, order_by: [{started_at: desc_nulls_last}, {run_id: asc}], limit: $limit, offset: $offset) {
    ${RUN_LIST_FIELDS}
  }
  runs_aggregate(where: $where) { aggregate { count } }
}`;

/**
 * Runs page, for the runs on it that are still running: their measurement so far, from their samples (Hasura's
 * aggregate over the runs → samples array relationship; $phase is 'measure', the warm-up is left out as in the
 * summary). Re-sent every few seconds while any of them runs.
 */
export const RUNS_PROGRESS_QUERY = `query RunsProgress($ids: [uuid!]!, $phase: String!) {
  runs(where: {run_id: {_in: $ids}}) {
    run_id status kind started_at finished_at parameters ops_rate lat_p99_ms errors mqtt_lost pg_failed
    samples_aggregate(where: {phase: {_eq: $phase}}) {
      aggregate { count sum { ops errors mqtt_lost } max { lat_p99_ms interval_end } min { interval_start } }
    }
  }
}`;

/** Runs page filter choices: the kinds and devices that exist. */
export const RUN_FILTER_OPTIONS_QUERY = `query RunFilterOptions {
  kinds: runs(distinct_on: kind, order_by: {kind: asc}) { kind }
  devices: runs(distinct_on: host_name, order_by: {host_name: asc}, where: {host_name: {_is_null: false}}) { host_name }
}`;

/**
 * Rows per RUN_SAMPLES_QUERY page. Must not exceed the anonymous role's limit on samples (deploy/hasura): a page
 * cut short by that limit would look like the last page. Checked by test/contract.test.ts.
 */
export const SAMPLES_PAGE_SIZE = 100000;

/** Everything the run page shows about a run (all but its samples). */
const RUN_DETAIL_FIELDS = `run_id kind name tags parameters target_url target_host target_port target_database target_version
    host_name host_os host_kernel host_arch host_cpu_model host_cpu_cores host_memory_bytes host_device_model
    tools started_at status error finished_at measure_start measure_end updated_at summary_extra
    topology_changed split_brain server_version server_version_num database_size_bytes server_delta job_id group_id
    ${RUN_SUMMARY_FIELDS}`;

/** Columns of a sample the run page draws, totals and exports (shape.SAMPLE_COLUMNS). */
const SAMPLE_FIELDS = SAMPLE_COLUMNS.join(' ');

/** Run page: everything about one run except its samples. */
export const RUN_QUERY = `query Run($id: uuid!) {
  runs_by_pk(run_id: $id) {
    ${RUN_DETAIL_FIELDS}
  }
}`;

/**
 * Run page, live over the websocket: the same row as RUN_QUERY as a Hasura live query, which sends the row again
 * whenever it changes (Hasura re-runs it every second and sends only changes), so the page sees the status leave
 * 'running' and the final summary without polling.
 */
export const RUN_LIVE_SUBSCRIPTION = `subscription RunLive($id: uuid!) {
  runs_by_pk(run_id: $id) {
    ${RUN_DETAIL_FIELDS}
  }
}`;

/**
 * Samples of one run after $afterSeq, in seq order. The viewer pages through with $afterSeq = last seq seen
 * (keyset paging, cheaper than offset and exactly what live polling needs); Hasura caps a page at the
 * anonymous role's limit (100000).
 */
export const RUN_SAMPLES_QUERY = `query RunSamples($id: uuid!, $afterSeq: bigint!, $limit: Int!) {
  samples(where: {run_id: {_eq: $id}, seq: {_gt: $afterSeq}}, order_by: {seq: asc}, limit: $limit) {
    ${SAMPLE_FIELDS}
  }
}`;

/**
 * Rows per RUN_SAMPLES_STREAM batch (Hasura sends at most one batch per poll, every second by default). A run adds
 * about one sample a second, so 1000 keeps up even after a stall; must not exceed the anonymous role's limit.
 */
export const SAMPLES_STREAM_BATCH = 1000;

/**
 * Run page, live over the websocket: a Hasura streaming subscription on the run's samples with seq > $afterSeq
 * (the cursor's initial value is exclusive), in seq order. Hasura keeps the cursor and sends each new batch once.
 * $afterSeq is the last seq the page fetched over HTTP, so the stream carries only what is new.
 */
export const RUN_SAMPLES_STREAM = `subscription RunSamplesStream($id: uuid!, $afterSeq: bigint!, $batch: Int!) {
  samples_stream(batch_size: $batch, cursor: {initial_value: {seq: $afterSeq}, ordering: ASC},
                 where: {run_id: {_eq: $id}}) {
    ${SAMPLE_FIELDS}
  }
}`;

/**
 * Compare page: the summaries of the chosen runs, their cluster flags and server settings (issue 15: producer
 * compare's topology warnings and the settings that differ).
 */
export const COMPARE_RUNS_QUERY = `query CompareRuns($ids: [uuid!]!) {
  runs(where: {run_id: {_in: $ids}}) {
    run_id kind name host_name status error started_at measure_start measure_end parameters tags
    topology_changed split_brain run_settings(order_by: {name: asc}) { name setting unit source }
    ${RUN_SUMMARY_FIELDS}
  }
}`;

/** Devices page: the latest facts of every host (DISTINCT ON host_name, newest run first). */
export const DEVICES_QUERY = `query Devices {
  runs(distinct_on: host_name, order_by: [{host_name: asc}, {started_at: desc_nulls_last}],
       where: {host_name: {_is_null: false}}) {
    host_name host_os host_kernel host_arch host_cpu_model host_cpu_cores host_memory_bytes host_device_model
    started_at
  }
}`;

/** Devices page: recent runs of one host, for its table and trend charts. */
export const DEVICE_RUNS_QUERY = `query DeviceRuns($host: String!, $limit: Int!) {
  runs(where: {host_name: {_eq: $host}}, order_by: {started_at: desc_nulls_last}, limit: $limit) {
    ${RUN_LIST_FIELDS}
  }
  runs_aggregate(where: {host_name: {_eq: $host}}) { aggregate { count } }
}`;

/**
 * Devices page, on demand (the noise of a device): its latest runs that finished ok with their parameters, so the
 * page can ask runHistory for the newest run of each series (kind and parameters).
 */
export const DEVICE_SERIES_QUERY = `query DeviceSeries($host: String!, $status: String!, $limit: Int!) {
  runs(where: {host_name: {_eq: $host}, status: {_eq: $status}}, order_by: [{started_at: desc_nulls_last}, {run_id: asc}], limit: $limit) {
    run_id kind name status started_at parameters
  }
}`;

/**
 * Compare page: `producer compare --json BASELINE CANDIDATE` computed by sink api (the compareRuns query action,
 * deploy/hasura/metadata/actions.graphql): the statistical verdict of each figure with per-second values, the
 * threshold's of the counts, the gate. max_regression is --max-regression's text ("5%", "p99=10%,throughput=3%");
 * null gates nothing, as the CLI without the flag.
 */
export const COMPARE_VERDICTS_QUERY = `query CompareVerdicts($baseline: uuid!, $candidate: uuid!, $max_regression: String, $confidence: Float) {
  compareRuns(baseline: $baseline, candidate: $candidate, max_regression: $max_regression, confidence: $confidence) { report }
}`;

/**
 * Trends page and the devices page's noise: `producer history --json --noise RUN_ID` computed by sink api (the
 * runHistory query action): the run's comparable runs, change points per figure, the current segment and its noise.
 */
export const RUN_HISTORY_QUERY = `query RunHistory($run_id: uuid!, $figures: [String!], $false_alarm: Float, $significance: Float, $limit: Int) {
  runHistory(run_id: $run_id, figures: $figures, false_alarm: $false_alarm, significance: $significance, limit: $limit) { report }
}`;

/** perftool page: the publishers that have results. */
export const PERFTOOL_PUBLISHERS_QUERY = `query PerftoolPublishers {
  perftool(distinct_on: publisher, order_by: {publisher: asc}) { publisher }
}`;

const perftoolBuckets = (view: string) => `query PerftoolBuckets($publisher: String!, $from: timestamptz!, $to: timestamptz!) {
  ${view}(where: {publisher: {_eq: $publisher}, timestamp: {_gte: $from, _lte: $to}}, order_by: {timestamp: asc}) {
    timestamp reader_bytes_rate writer_bytes_rate reader_count_rate writer_count_rate
    reader_error_rate writer_error_rate reader_error_count writer_error_count thread_count result_count
  }
}`;

/**
 * perftool page: one publisher's buckets between $from and $to, one document per view (the root field is the
 * view's name, as in the seed's viewer); shape.ts's perftoolView picks the view from the time range.
 */
export const PERFTOOL_QUERIES = {
  perftool_30sec: perftoolBuckets('perftool_30sec'),
  perftool_1min: perftoolBuckets('perftool_1min'),
  perftool_2min: perftoolBuckets('perftool_2min'),
  perftool_10min: perftoolBuckets('perftool_10min'),
} as const;

export type PerftoolView = keyof typeof PERFTOOL_QUERIES;

const perftoolAllBuckets = (view: string) => `query PerftoolAllBuckets($from: timestamptz!, $to: timestamptz!) {
  ${view}(where: {timestamp: {_gte: $from, _lte: $to}}, order_by: [{timestamp: asc}, {publisher: asc}]) {
    timestamp publisher reader_bytes_rate writer_bytes_rate reader_count_rate writer_count_rate thread_count result_count
  }
}`;

/** perftool page, "all publishers": every publisher's buckets between $from and $to, one line per publisher. */
export const PERFTOOL_ALL_QUERIES = {
  perftool_30sec: perftoolAllBuckets('perftool_30sec'),
  perftool_1min: perftoolAllBuckets('perftool_1min'),
  perftool_2min: perftoolAllBuckets('perftool_2min'),
  perftool_10min: perftoolAllBuckets('perftool_10min'),
} as const;

const perftoolThreadBuckets = (view: string) => `query PerftoolThreadBuckets($publisher: String!, $from: timestamptz!, $to: timestamptz!) {
  ${view}(where: {publisher: {_eq: $publisher}, timestamp: {_gte: $from, _lte: $to}},
          order_by: [{timestamp: asc}, {thread_number: asc}]) {
    timestamp thread_number reader_bytes_rate writer_bytes_rate reader_count_rate writer_count_rate
    reader_error_rate writer_error_rate result_count
  }
}`;

/**
 * perftool page, per thread: one publisher's buckets per thread (perftool_thread_<width>: each thread's results in
 * the bucket averaged), the same buckets whose sum over threads perftool_<width> shows, so the thread lines add up
 * to the publisher's line. Keyed by the per-publisher view's name: both are chosen from the time range alike.
 */
export const PERFTOOL_THREAD_QUERIES = {
  perftool_30sec: perftoolThreadBuckets('perftool_thread_30sec'),
  perftool_1min: perftoolThreadBuckets('perftool_thread_1min'),
  perftool_2min: perftoolThreadBuckets('perftool_thread_2min'),
  perftool_10min: perftoolThreadBuckets('perftool_thread_10min'),
} as const;

/**
 * Run page: the true latency percentiles of a window of the run ($from/$to, UTC; null: open), merged by the database
 * from the run's per-minute histograms (run_latency_percentiles, schema/migrations/0004_histograms.sql). Windows
 * are minute-granular: $from is rounded down to its minute, and a minute counts when it starts before $to. One row
 * per series ("latency"; MQTT also "uncorrected"); no row for a run without histograms (producers before record
 * version 2).
 */
export const RUN_WINDOW_PERCENTILES_QUERY = `query RunWindowPercentiles($id: uuid!, $from: timestamptz, $to: timestamptz) {
  run_latency_percentiles(args: {run_id: $id, from_time: $from, to_time: $to}) {
    series count p50_ms p90_ms p99_ms p999_ms max_ms
  }
}`;

/**
 * Group page: the true latency percentiles of a launch's runs together (measurement phases), merged by the database
 * from the runs' histograms (runs_latency_percentiles). $ids is a PostgreSQL array literal ("{a,b}"). One row per
 * series ("latency"; MQTT also "uncorrected"); none for runs without histograms.
 */
export const GROUP_PERCENTILES_QUERY = `query GroupPercentiles($ids: _uuid!) {
  runs_latency_percentiles(args: {run_ids: $ids}) {
    series count p50_ms p99_ms p999_ms
  }
}`;

/**
 * Run and compare pages: the merged latency histogram of each run (measurement phase), bucket by bucket, for its
 * CDF. $ids is a PostgreSQL array literal of one run id ("{id}"): runs_latency_distribution merges the runs it is
 * given, so the compare page asks once per run to overlay them. A histogram has a few thousand buckets at most,
 * well under the anonymous role's limit on latency_distribution.
 */
export const RUN_DISTRIBUTION_QUERY = `query RunDistribution($ids: _uuid!) {
  runs_latency_distribution(args: {run_ids: $ids}, order_by: [{series: asc}, {value_ms: asc}]) {
    series value_ms count cumulative quantile
  }
}`;

/**
 * Run page, before fetching samples: is the run longer than one page of samples (the anonymous role's row limit)?
 * beyond is the first sample past SAMPLES_PAGE_SIZE ($offset), last the run's last sample (where live updates go on
 * from). A run with a sample beyond is drawn from samples_1m instead (RUN_MINUTES_QUERY), so it is shown whole.
 */
export const RUN_LENGTH_PROBE_QUERY = `query RunLengthProbe($id: uuid!, $offset: Int!) {
  beyond: samples(where: {run_id: {_eq: $id}}, order_by: {seq: asc}, offset: $offset, limit: 1) { seq }
  last: samples(where: {run_id: {_eq: $id}}, order_by: {seq: desc}, limit: 1) { seq }
}`;

/**
 * Rows per RUN_MINUTES_QUERY page: the anonymous role's limit on samples_1m (deploy/hasura), 50,000 minutes, about
 * 35 days. Checked by test/contract.test.ts.
 */
export const MINUTES_PAGE_SIZE = 50000;

/**
 * Run page, for a run longer than one page of samples: its minutes from samples_1m after $after, in order. The
 * minute's percentiles are its merged histogram's (true per-minute percentiles) where its samples carry histograms.
 */
export const RUN_MINUTES_QUERY = `query RunMinutes($id: uuid!, $after: timestamptz!, $limit: Int!) {
  samples_1m(where: {run_id: {_eq: $id}, bucket: {_gte: $after}}, order_by: [{bucket: asc}, {phase: desc}], limit: $limit) {
    bucket phase samples ops ops_rate bytes errors lat_p50_ms lat_p90_ms lat_p99_ms lat_p999_ms lat_max_ms hist_samples mqtt_lost
  }
}`;

/**
 * Rows per RUN_NODE_SAMPLES_QUERY / RUN_POOL_SAMPLES_QUERY page: the anonymous role's limit on cluster_node_samples
 * and cluster_pool_samples (deploy/hasura). Checked by test/contract.test.ts.
 */
export const OBSERVATION_PAGE_SIZE = 100000;

/**
 * Run page, cluster observation (issue 15): the run's events (failover, node down, split brain, Pgpool status) and
 * the server's non-default settings at its start. Sent for every run; a run without observations gets empty lists
 * and the page shows none of it.
 */
export const RUN_OBSERVATION_QUERY = `query RunObservation($id: uuid!) {
  cluster_events(where: {run_id: {_eq: $id}}, order_by: [{event_time: asc}, {seq: asc}, {idx: asc}]) {
    seq idx event_time kind node from_state to_state nodes detail
  }
  run_settings(where: {run_id: {_eq: $id}}, order_by: {name: asc}) { name setting unit source }
}`;

/** Run page: what each observed node was, round by round (one row per round and node), a page from $offset. */
export const RUN_NODE_SAMPLES_QUERY = `query RunNodeSamples($id: uuid!, $offset: Int!, $limit: Int!) {
  cluster_node_samples(where: {run_id: {_eq: $id}}, order_by: [{sampled_at: asc}, {node: asc}], offset: $offset, limit: $limit) {
    seq sampled_at node addr up error role timeline lag_bytes lag_seconds connections
  }
}`;

/** Run page: Pgpool-II's SHOW POOL_NODES, round by round (one row per round and backend), a page from $offset. */
export const RUN_POOL_SAMPLES_QUERY = `query RunPoolSamples($id: uuid!, $offset: Int!, $limit: Int!) {
  cluster_pool_samples(where: {run_id: {_eq: $id}}, order_by: [{sampled_at: asc}, {node_id: asc}], offset: $offset, limit: $limit) {
    seq sampled_at node_id node addr status role select_delta
  }
}`;

/**
 * Run page, cluster observation: does the run have more than one page (OBSERVATION_PAGE_SIZE, $offset) of node or
 * Pgpool rows? Then its cluster charts are drawn from the per-minute views (RUN_NODE_MINUTES_QUERY,
 * RUN_POOL_MINUTES_QUERY), as a run with more than a page of samples is drawn from samples_1m, so it is shown whole.
 */
export const CLUSTER_LENGTH_PROBE_QUERY = `query ClusterLengthProbe($id: uuid!, $offset: Int!) {
  nodes: cluster_node_samples(where: {run_id: {_eq: $id}}, offset: $offset, limit: 1) { seq }
  pool: cluster_pool_samples(where: {run_id: {_eq: $id}}, offset: $offset, limit: 1) { seq }
}`;

/**
 * Rows per RUN_NODE_MINUTES_QUERY / RUN_POOL_MINUTES_QUERY page: the anonymous role's limit on
 * cluster_node_samples_1m and cluster_pool_samples_1m (deploy/hasura), 50,000 minutes of one node: about 11 days of
 * three nodes a page. Checked by test/contract.test.ts.
 */
export const CLUSTER_MINUTES_PAGE_SIZE = 50000;

/**
 * Run page, a long observed run: each node per minute (schema/migrations/0006_cluster_1m.sql): its state at the
 * minute's last round, whether it changed within the minute, the minute's highest lag and connections; a page from
 * $offset.
 */
export const RUN_NODE_MINUTES_QUERY = `query RunNodeMinutes($id: uuid!, $offset: Int!, $limit: Int!) {
  cluster_node_samples_1m(where: {run_id: {_eq: $id}}, order_by: [{bucket: asc}, {node: asc}], offset: $offset, limit: $limit) {
    bucket node rounds rounds_up state state_changed lag_bytes_max lag_seconds_max connections_max
  }
}`;

/** Run page, a long observed run: each Pgpool-II backend per minute (SELECTs sent to it in the minute, last status). */
export const RUN_POOL_MINUTES_QUERY = `query RunPoolMinutes($id: uuid!, $offset: Int!, $limit: Int!) {
  cluster_pool_samples_1m(where: {run_id: {_eq: $id}}, order_by: [{bucket: asc}, {node_id: asc}], offset: $offset, limit: $limit) {
    bucket node_id node addr rounds select_delta status status_changed
  }
}`;

/** The columns of an agent_status row the agents page shows (fleet.AgentRow). */
const AGENT_FIELDS = 'name host version tags interval_s state job_id run_id up_since first_seen last_seen online';

/** The columns of a job_status row the agents and group pages show (fleet.JobRow). */
const JOB_FIELDS = 'id group_id agent kind name created_at expires_at stop_requested_at state run_id status reason updated_at';

/** Agents page: every agent (issue 14), by name; online is derived by the view (three heartbeat intervals). */
export const AGENTS_QUERY = `query Agents {
  agent_status(order_by: {name: asc}) { ${AGENT_FIELDS} }
}`;

/**
 * Agents page, live over the websocket: the same rows as a Hasura live query, sent again whenever one changes (a
 * heartbeat, an agent going offline as the view's clock passes its three intervals: Hasura re-runs it every second).
 */
export const AGENTS_LIVE_SUBSCRIPTION = `subscription AgentsLive {
  agent_status(order_by: {name: asc}) { ${AGENT_FIELDS} }
}`;

/** Rows of the agents page's job list: the newest jobs, of every launch. */
export const RECENT_JOBS = 50;

/** Agents page: the newest jobs and their states (job_status). */
export const JOBS_QUERY = `query Jobs($limit: Int!) {
  job_status(order_by: [{created_at: desc_nulls_last}, {agent: asc}], limit: $limit) { ${JOB_FIELDS} }
}`;

/** Agents page, live: the newest jobs, so a launch's jobs appear and change state as the agents report. */
export const JOBS_LIVE_SUBSCRIPTION = `subscription JobsLive($limit: Int!) {
  job_status(order_by: [{created_at: desc_nulls_last}, {agent: asc}], limit: $limit) { ${JOB_FIELDS} }
}`;

/** Agents page: the recent runs of the agents' hosts (runs.host_name = the heartbeat's host.hostname). */
export const AGENT_RUNS_QUERY = `query AgentRuns($hosts: [String!]!, $limit: Int!) {
  runs(where: {host_name: {_in: $hosts}}, order_by: {started_at: desc_nulls_last}, limit: $limit) {
    run_id kind name host_name status started_at ops_rate
  }
}`;

/** The columns of a job_groups row (fleet.GroupRow). */
const GROUP_FIELDS = 'group_id jobs running finished ok failed aborted rejected expired runs ops_rate started_at finished_at';

/** Group page: one launch's totals, its jobs and its runs. */
export const GROUP_QUERY = `query Group($id: uuid!) {
  job_groups(where: {group_id: {_eq: $id}}) { ${GROUP_FIELDS} }
  job_status(where: {group_id: {_eq: $id}}, order_by: [{agent: asc}, {created_at: asc}]) { ${JOB_FIELDS} }
  runs(where: {group_id: {_eq: $id}}, order_by: [{started_at: asc_nulls_last}, {run_id: asc}]) {
    ${RUN_LIST_FIELDS}
  }
}`;

/** Group page, live: the group's jobs; the page fetches the totals and runs again when one changes. */
export const GROUP_JOBS_LIVE_SUBSCRIPTION = `subscription GroupJobsLive($id: uuid!) {
  job_status(where: {group_id: {_eq: $id}}, order_by: [{agent: asc}, {created_at: asc}]) { ${JOB_FIELDS} }
}`;

/**
 * Documents only the operator role may send (the contract test checks them against role operator and the actions):
 * the sign-in probe (jobs, with the spec, is operator-only, so data back means the token gave the operator role) and
 * the two actions of the operator API (deploy/hasura/metadata/actions.graphql, handled by `sink api`).
 */
export const OPERATOR_DOCUMENTS = {
  OPERATOR_PROBE: `query OperatorProbe {
  jobs(limit: 1) { id }
}`,
  LAUNCH_JOBS: `mutation LaunchJobs($kind: String!, $spec: jsonb!, $agents: [String!], $tags: jsonb, $all: Boolean,
    $name: String, $run_tags: jsonb, $expires_in_s: Int) {
  launchJobs(kind: $kind, spec: $spec, agents: $agents, tags: $tags, all: $all, name: $name, run_tags: $run_tags,
             expires_in_s: $expires_in_s) {
    group_id jobs { job_id agent }
  }
}`,
  STOP_JOBS: `mutation StopJobs($job_id: uuid, $group_id: uuid) {
  stopJobs(job_id: $job_id, group_id: $group_id) { jobs { job_id agent } }
}`,
} as const;
