// The fleet (issue 14), pure: agents, jobs and groups as the agents and group pages show them, and the launch form →
// launchJobs variables, the kind's spec mapping kept in one function (launchSpec) so that it follows the producers'
// Spec JSON (producer/mqttload.Spec, producer/pgbench.Spec: the server's DecodeSpec fills every field left out with
// the CLI flag's default and refuses unknown ones) in one place.
import { formatNumber } from './shape';

/** An agent_status row: the agent's last heartbeat, and online = heard within three of its heartbeat intervals. */
export interface AgentRow {
  name: string;
  host: Record<string, unknown> | null;
  version: string | null;
  tags: Record<string, string> | null;
  interval_s: number | null;
  state: string | null;
  job_id: string | null;
  run_id: string | null;
  up_since: string | null;
  first_seen: string | null;
  last_seen: string | null;
  online: boolean | null;
}

/** A job_status row: one job, its latest state (launched < accepted < running < finished | rejected | expired). */
export interface JobRow {
  id: string;
  group_id: string | null;
  agent: string | null;
  kind: string | null;
  name: string | null;
  created_at: string | null;
  expires_at: string | null;
  stop_requested_at: string | null;
  state: string;
  run_id: string | null;
  status: string | null;
  reason: string | null;
  updated_at: string | null;
}

/** A job_groups row: one launch's totals. */
export interface GroupRow {
  group_id: string;
  jobs: number | null;
  running: number | null;
  finished: number | null;
  ok: number | null;
  failed: number | null;
  aborted: number | null;
  rejected: number | null;
  expired: number | null;
  runs: number | null;
  ops_rate: number | null;
  started_at: string | null;
  finished_at: string | null;
}

/** Job states in the order job_status ranks them; the last three end a job. */
export const JOB_STATES = ['launched', 'accepted', 'running', 'finished', 'rejected', 'expired'] as const;

/**
 * A launch's totals as the group page's headline figures, [label, value, bad]: its jobs by state (failed, aborted,
 * rejected and expired marked when there are any), its runs and their summed throughput ("–" before any run has a
 * summary).
 */
export function groupFigures(g: GroupRow): [string, string, boolean][] {
  const n = (v: number | null) => formatNumber(v ?? 0);
  return [
    ['jobs', n(g.jobs), false],
    ['running', n(g.running), false],
    ['ok', n(g.ok), false],
    ['failed', n(g.failed), !!g.failed],
    ['aborted', n(g.aborted), !!g.aborted],
    ['rejected', n(g.rejected), !!g.rejected],
    ['expired', n(g.expired), !!g.expired],
    ['runs', n(g.runs), false],
    ['summed throughput (ops/s)', formatNumber(g.ops_rate), false],
  ];
}

/** A row of runs_latency_percentiles as the group page asks for it. */
export type GroupPercentiles = { series: string; count: number; p50_ms: number | null; p99_ms: number | null; p999_ms: number | null };

/**
 * The group's merged latency as headline figures: p50, p99 and p99.9 of every value the group's runs measured
 * ("latency", the corrected series; percentiles do not average, so these come from the merged histograms, not from
 * the runs' own percentiles). None when the runs kept no histograms.
 */
export function groupLatencyFigures(rows: GroupPercentiles[]): [string, string, boolean][] {
  const lat = rows.find((r) => r.series === 'latency');
  if (!lat || !lat.count) return [];
  const ms = (v: number | null) => (v === null ? '–' : formatNumber(v));
  return [
    ['p50 of the group (ms)', ms(lat.p50_ms), false],
    ['p99 of the group (ms)', ms(lat.p99_ms), false],
    ['p99.9 of the group (ms)', ms(lat.p999_ms), false],
  ];
}

/** A job that can still run (and so be stopped): not finished, rejected or expired. */
export function jobOpen(j: Pick<JobRow, 'state'>): boolean {
  return j.state === 'launched' || j.state === 'accepted' || j.state === 'running';
}

/**
 * A job's state in words and the badge class it gets: finished jobs by their run's status (ok, failed, aborted),
 * the others by their state; a stop asked of an open job is said ("running, stop asked").
 */
export function jobStateText(j: Pick<JobRow, 'state' | 'status' | 'stop_requested_at'>): { text: string; cls: string } {
  if (j.state === 'finished') {
    const st = j.status || 'finished';
    return { text: st, cls: ['ok', 'failed', 'aborted'].includes(st) ? `status-${st}` : 'status-finished' };
  }
  const cls = j.state === 'running' ? 'status-running' : j.state === 'rejected' || j.state === 'expired' ? 'status-failed' : 'status-pending';
  return { text: j.stop_requested_at && jobOpen(j) ? `${j.state}, stop asked` : j.state, cls };
}

/** "just now", "12 s ago", "4 min ago", "3 h ago", "2 d ago": how long ago iso was at now; "never" without a time. */
export function ago(iso: string | null | undefined, now: Date): string {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 2) return 'just now';
  if (s < 120) return `${s} s ago`;
  if (s < 7200) return `${Math.floor(s / 60)} min ago`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** The host name an agent's runs carry (runs.host_name): its heartbeat's host.hostname, else its name. */
export function agentHostName(a: Pick<AgentRow, 'name' | 'host'>): string {
  const h = a.host?.hostname;
  return typeof h === 'string' && h ? h : a.name;
}

/** An agent's tags as "k=v" in key order. */
export function tagList(tags: Record<string, unknown> | null | undefined): string[] {
  return Object.keys(tags ?? {}).sort().map((k) => `${k}=${tags![k]}`);
}

/**
 * "k=v, k2=v2" (commas or spaces between) as an object. Each item needs a key and "="; a key given twice is an
 * error, as is anything unreadable: errors are returned, one line each.
 */
export function parseTags(text: string): { tags: Record<string, string>; errors: string[] } {
  const tags: Record<string, string> = {};
  const errors: string[] = [];
  for (const item of text.split(/[,\s]+/).filter(Boolean)) {
    const i = item.indexOf('=');
    if (i <= 0) {
      errors.push(`tag "${item}": write key=value`);
      continue;
    }
    const k = item.slice(0, i);
    if (k in tags) errors.push(`tag ${k} given twice`);
    tags[k] = item.slice(i + 1);
  }
  return { tags, errors };
}

/** Agents whose tags hold every one of want (as launchJobs selects by tag; the server also keeps only online ones). */
export function agentsWithTags(agents: readonly AgentRow[], want: Record<string, string>): AgentRow[] {
  const keys = Object.keys(want);
  if (!keys.length) return [];
  return agents.filter((a) => keys.every((k) => a.tags?.[k] === want[k]));
}

/**
 * Splits a command line the way a POSIX shell splits words: blanks separate, '…' keeps everything literally,
 * "…" keeps blanks (\\ escapes " \\ $ `), a backslash outside quotes escapes the next character. Nothing is
 * expanded. The inverse of shape.shellJoin, for pgbench's arguments.
 */
export function splitArgs(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error('unmatched \' in the arguments');
      cur += line.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`'.includes(line[j + 1])) j++;
        cur += line[j];
      }
      if (j >= line.length) throw new Error('unmatched " in the arguments');
      i = j;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** A duration as the producers write it ("90s", "10m", "1h30m", "500ms"); a bare number is seconds. */
export function parseSeconds(text: string): number | null {
  const t = text.trim();
  if (!t) return null;
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  const unit: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };
  let total = 0;
  let rest = t;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)/.exec(rest);
    if (!m) return NaN;
    total += Number(m[1]) * unit[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** The launch form's fields, as text from its inputs (checkboxes as "on" or ""). */
export interface LaunchFields {
  kind: string;
  /** mqtt */
  target?: string; // 'broker' | 'embedded'
  broker?: string;
  publishers?: string;
  subscribers?: string;
  qos?: string;
  size?: string;
  rate?: string;
  duration?: string;
  warmup?: string;
  /** pgbench */
  args?: string;
  init_scale?: string;
  /** every kind */
  name?: string;
  run_tags?: string;
  expires?: string;
  /** which agents: 'selected' (agents), 'tag' (select_tags) or 'all' */
  select?: string;
  select_tags?: string;
}

/** launchJobs' variables (GraphQL operator API, fleet design); absent optional arguments are left out. */
export interface LaunchVariables {
  kind: string;
  spec: Record<string, unknown>;
  agents?: string[];
  tags?: Record<string, string>;
  all?: boolean;
  name?: string;
  run_tags?: Record<string, string>;
  expires_in_s?: number;
}

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h))+$/;

/**
 * The kind's Spec JSON from the form: producer/mqttload.Spec and producer/pgbench.Spec field names (JSON tags;
 * durations as Go duration strings, "60s"). Fields left empty are left out, so the spec's defaults apply as they
 * do for the CLI's flags. The one place that knows those names. errors: one line per unreadable field.
 */
export function launchSpec(f: LaunchFields): { spec: Record<string, unknown>; errors: string[] } {
  const spec: Record<string, unknown> = {};
  const errors: string[] = [];
  const int = (key: string, label: string, v: string | undefined, min: number) => {
    if (!v?.trim()) return;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) errors.push(`${label}: a whole number of at least ${min}`);
    else spec[key] = n;
  };
  const dur = (key: string, label: string, v: string | undefined) => {
    if (!v?.trim()) return;
    const t = v.trim();
    if (!DURATION.test(t)) errors.push(`${label}: a duration such as 30s, 5m or 1h`);
    else spec[key] = t;
  };
  if (f.kind === 'mqtt') {
    if (f.target === 'embedded') spec.embedded_target = true;
    else if (f.broker?.trim()) spec.broker = f.broker.trim();
    int('publishers', 'publishers', f.publishers, 1);
    int('subscribers', 'subscribers', f.subscribers, 0);
    if (f.qos?.trim()) {
      if (!['0', '1', '2'].includes(f.qos.trim())) errors.push('qos: 0, 1 or 2');
      else spec.qos = Number(f.qos);
    }
    int('size', 'size', f.size, 1);
    if (f.rate?.trim()) {
      const r = Number(f.rate);
      if (!Number.isFinite(r) || r < 0) errors.push('rate: messages per second, 0 or more (0 = as fast as possible)');
      else spec.rate = r;
    }
    dur('duration', 'duration', f.duration);
    dur('warmup', 'warmup', f.warmup);
  } else if (f.kind === 'pgbench') {
    let args: string[] = [];
    try {
      args = splitArgs(f.args ?? '');
    } catch (err) {
      errors.push(`pgbench arguments: ${(err as Error).message}`);
    }
    if (args.length) spec.pgbench_args = args;
    dur('warmup', 'warmup', f.warmup);
    int('init_scale', 'init scale', f.init_scale, 1);
  } else {
    errors.push(`kind: mqtt or pgbench, not "${f.kind}"`);
  }
  return { spec, errors };
}

/** launchJobs' variables from the form and the ticked agents; errors: every problem, one line each. */
export function launchVariables(f: LaunchFields, selected: readonly string[]): { vars: LaunchVariables | null; errors: string[] } {
  const { spec, errors } = launchSpec(f);
  const vars: LaunchVariables = { kind: f.kind, spec };
  if (f.select === 'all') vars.all = true;
  else if (f.select === 'tag') {
    const t = parseTags(f.select_tags ?? '');
    errors.push(...t.errors);
    if (!t.errors.length && !Object.keys(t.tags).length) errors.push('agents: give the tags to select by (key=value)');
    vars.tags = t.tags;
  } else {
    if (!selected.length) errors.push('agents: tick at least one agent, or choose by tag or all');
    vars.agents = [...selected];
  }
  if (f.name?.trim()) vars.name = f.name.trim();
  if (f.run_tags?.trim()) {
    const t = parseTags(f.run_tags);
    errors.push(...t.errors.map((e) => `run ${e}`));
    vars.run_tags = t.tags;
  }
  if (f.expires?.trim()) {
    const s = parseSeconds(f.expires);
    if (s === null || !Number.isFinite(s) || s < 1) errors.push('expires: a duration such as 10m (at least 1s)');
    else vars.expires_in_s = Math.round(s);
  }
  return { vars: errors.length ? null : vars, errors };
}
