// Cluster observation (issue 15): what the run page shows of the nodes of a measured PostgreSQL cluster, of
// Pgpool-II and of the events (schema/observation.go; tables cluster_node_samples, cluster_pool_samples,
// cluster_events, run_settings, and for long runs the per-minute views cluster_node_samples_1m and
// cluster_pool_samples_1m; runs.topology_changed, split_brain, server_version_num, database_size_bytes,
// server_delta). Pure functions from rows to uPlot columns, banner and flag wording, server facts; no DOM, unit-tested
// in test/observe.test.ts.

import { formatNumber } from './shape';

/** A cluster_node_samples row (RUN_NODE_SAMPLES_QUERY): one node in one round of probes. */
export interface NodeSampleRow {
  seq: number;
  sampled_at: string;
  node: string;
  addr?: string;
  up: boolean;
  error?: string | null;
  role: string | null; // primary | standby; null when down
  timeline?: number | null;
  lag_bytes: number | null;
  lag_seconds: number | null;
  connections?: number | null;
}

/** A cluster_pool_samples row (RUN_POOL_SAMPLES_QUERY): one Pgpool-II backend in one round (SHOW POOL_NODES). */
export interface PoolSampleRow {
  seq: number;
  sampled_at: string;
  node_id: number;
  node: string | null;
  addr: string;
  status: string;
  role?: string | null;
  select_delta: number;
}

/**
 * A cluster_node_samples_1m row (RUN_NODE_MINUTES_QUERY): one node in one minute of a long observed run. state is the
 * node's at the minute's last round (primary, standby, down; null for an answering node without a role).
 */
export interface NodeMinuteRow {
  bucket: string;
  node: string;
  rounds: number;
  rounds_up: number;
  state: string | null;
  state_changed: boolean;
  lag_bytes_max: number | null;
  lag_seconds_max: number | null;
  connections_max: number | null;
}

/** A cluster_pool_samples_1m row (RUN_POOL_MINUTES_QUERY): one Pgpool-II backend in one minute. */
export interface PoolMinuteRow {
  bucket: string;
  node_id: number;
  node: string | null;
  addr: string;
  rounds: number;
  select_delta: number; // SELECTs sent to the backend in the minute
  status: string;
  status_changed: boolean;
}

/** A cluster_events row. */
export interface ClusterEventRow {
  seq: number;
  idx: number;
  event_time: string;
  kind: string;
  node: string | null;
  from_state: string | null;
  to_state: string | null;
  nodes: string[] | null;
  detail: string | null;
}

/** A run_settings row: a non-default server setting at the run's start. */
export interface SettingRow { name: string; setting: string; unit: string | null; source: string }

/** The run columns this module reads. */
export interface ObservedRun {
  status?: string | null;
  topology_changed?: boolean | null;
  split_brain?: boolean | null;
  server_version?: string | null;
  server_version_num?: number | null;
  database_size_bytes?: number | null;
  server_delta?: Record<string, unknown> | null;
}

const secs = (iso: string) => Date.parse(iso) / 1000;

/** Observation rounds' times (Unix seconds, ascending, each once) of rows ordered by time. */
function roundTimes(rows: readonly { sampled_at: string }[]): { x: number[]; index: Map<string, number> } {
  const index = new Map<string, number>();
  const x: number[] = [];
  for (const r of rows) {
    if (index.has(r.sampled_at)) continue;
    index.set(r.sampled_at, x.length);
    x.push(secs(r.sampled_at));
  }
  return { x, index };
}

/** Lane levels of a node's state, from the lane's bottom. */
export const LANE_LEVEL = { down: 0, standby: 1, primary: 2 } as const;
/** A lane's height in y units: three levels and a gap to the next lane. */
export const LANE_HEIGHT = 3;

export interface RoleLanes {
  x: number[];
  nodes: string[];
  /** Per node, its lane's value per round (base + LANE_LEVEL); null where the node was not in the round. */
  y: (number | null)[][];
  /** The y axis: one tick per node and state, labelled "node state". */
  ticks: { value: number; label: string }[];
  range: [number, number];
}

/**
 * Node roles over time as lanes, one per node (the first node in the top lane), each a step line at its lane's
 * down / standby / primary level, so two primaries at once show as two lanes at their top level. Nodes in order of
 * name (the rows' order within a round).
 */
export function roleLanes(rows: readonly NodeSampleRow[]): RoleLanes {
  const { x, index } = roundTimes(rows);
  const nodes: string[] = [];
  for (const r of rows) if (!nodes.includes(r.node)) nodes.push(r.node);
  const base = (i: number) => (nodes.length - 1 - i) * LANE_HEIGHT;
  const y = nodes.map(() => new Array<number | null>(x.length).fill(null));
  for (const r of rows) {
    const i = nodes.indexOf(r.node);
    const level = !r.up ? LANE_LEVEL.down : r.role === 'primary' ? LANE_LEVEL.primary : LANE_LEVEL.standby;
    y[i][index.get(r.sampled_at)!] = base(i) + level;
  }
  const ticks = nodes.flatMap((n, i) => (Object.entries(LANE_LEVEL) as [string, number][]).map(([state, l]) => ({ value: base(i) + l, label: `${n} ${state}` })))
    .sort((a, b) => a.value - b.value);
  return { x, nodes, y, ticks, range: [-0.5, Math.max(1, nodes.length) * LANE_HEIGHT - 0.5] };
}

export interface NodeColumns { x: number[]; labels: string[]; y: (number | null)[][] }

/**
 * Replication lag per standby over time (lag_bytes or lag_seconds): one column per node that has a value in any
 * round (a primary's lag is null, so a node that was never a standby gets no line); null where a round has none.
 */
export function lagSeries(rows: readonly NodeSampleRow[], key: 'lag_bytes' | 'lag_seconds'): NodeColumns {
  const { x, index } = roundTimes(rows);
  const labels: string[] = [];
  for (const r of rows) if (r[key] != null && !labels.includes(r.node)) labels.push(r.node);
  const y = labels.map(() => new Array<number | null>(x.length).fill(null));
  for (const r of rows) {
    const i = labels.indexOf(r.node);
    if (i >= 0 && r[key] != null) y[i][index.get(r.sampled_at)!] = Number(r[key]);
  }
  return { x, labels, y };
}

/** A Pgpool backend's name: the observed node at its host:port if any, else its address. */
export const backendLabel = (r: Pick<PoolSampleRow, 'node_id' | 'node' | 'addr'>) => `${r.node || r.addr} (backend ${r.node_id})`;

/**
 * Reads per node: each Pgpool backend's select_delta (SELECTs Pgpool sent it since the previous round) per round,
 * one column per backend in node_id order.
 */
export function readsPerNode(rows: readonly PoolSampleRow[]): NodeColumns {
  const { x, index } = roundTimes(rows);
  const ids = [...new Set(rows.map((r) => r.node_id))].sort((a, b) => a - b);
  const labels = ids.map((id) => backendLabel(rows.find((r) => r.node_id === id)!));
  const y = ids.map(() => new Array<number | null>(x.length).fill(null));
  for (const r of rows) y[ids.indexOf(r.node_id)][index.get(r.sampled_at)!] = Number(r.select_delta);
  return { x, labels, y };
}

/**
 * A long observed run's node minutes as the rounds roleLanes and lagSeries draw: a round a minute at the minute's
 * start, the node in its state at the minute's last round, with the minute's highest lag (what a chart a minute a
 * point should not hide: a lag spike inside the minute). seq counts the minutes. A state change inside a minute is
 * in the events, which stay exact.
 */
export function nodeMinutesAsRounds(rows: readonly NodeMinuteRow[]): NodeSampleRow[] {
  const seq = new Map<string, number>();
  return rows.map((m) => {
    if (!seq.has(m.bucket)) seq.set(m.bucket, seq.size + 1);
    const up = m.state !== 'down';
    return {
      seq: seq.get(m.bucket)!, sampled_at: m.bucket, node: m.node, up, role: up ? m.state : null,
      lag_bytes: m.lag_bytes_max, lag_seconds: m.lag_seconds_max, connections: m.connections_max,
    };
  });
}

/**
 * A long observed run's Pgpool minutes as the rounds readsPerNode draws: a round a minute at the minute's start whose
 * select_delta is the SELECTs of the whole minute.
 */
export function poolMinutesAsRounds(rows: readonly PoolMinuteRow[]): PoolSampleRow[] {
  const seq = new Map<string, number>();
  return rows.map((m) => {
    if (!seq.has(m.bucket)) seq.set(m.bucket, seq.size + 1);
    return { seq: seq.get(m.bucket)!, sampled_at: m.bucket, node_id: m.node_id, node: m.node, addr: m.addr, status: m.status, select_delta: Number(m.select_delta) };
  });
}

/** Colours of event marks by kind: what broke in red tones, what recovered in green or grey. */
export const EVENT_COLORS: Record<string, string> = {
  split_brain: '#d62728', split_brain_end: '#7f7f7f', role_change: '#ff7f0e', node_down: '#9467bd', node_up: '#2ca02c', pool_status: '#8c564b',
};

export interface EventMark { x: number; color: string; label: string }

/** The events as vertical marks on the time charts. */
export function eventMarks(events: readonly ClusterEventRow[]): EventMark[] {
  return events.map((e) => ({ x: secs(e.event_time), color: EVENT_COLORS[e.kind] ?? '#000', label: describeEvent(e) }));
}

/** What an event says, without its time. */
export function describeEvent(e: ClusterEventRow): string {
  const detail = e.detail ? ` (${e.detail})` : '';
  switch (e.kind) {
    case 'split_brain': {
      const n = e.nodes ?? [];
      return `Split brain: ${n.length} primaries (${n.join(', ')})`;
    }
    case 'split_brain_end':
      return 'Split brain over: fewer than two primaries';
    case 'role_change':
      if (e.from_state === 'standby' && e.to_state === 'primary') return `Failover: ${e.node} promoted (standby → primary)`;
      if (e.from_state === 'primary' && e.to_state === 'standby') return `Role change: ${e.node} demoted (primary → standby)`;
      return `Role change: ${e.node} ${e.from_state ?? '?'} → ${e.to_state ?? '?'}`;
    case 'node_down':
      return `Node down: ${e.node}${detail}`;
    case 'node_up':
      return `Node up: ${e.node}`;
    case 'pool_status':
      return `Pgpool: backend ${e.node} ${e.from_state ?? '?'} → ${e.to_state ?? '?'}${detail}`;
    default:
      return `${e.kind}${e.node ? `: ${e.node}` : ''}${detail}`;
  }
}

/** Whether an event of kind flags its run: schema.FlagsRun (a node coming back or a split brain ending does not). */
export const flagsRun = (kind: string) => kind === 'role_change' || kind === 'node_down' || kind === 'split_brain' || kind === 'pool_status';

/** "10:03:14Z": events within a run, whose date the page's header gives. */
export const clock = (iso: string) => `${new Date(iso).toISOString().slice(11, 19)}Z`;

const span = (from: string, to: string) => formatNumber(Math.round(secs(to) - secs(from))) + ' s';

export interface Banner { tone: 'split-brain' | 'topology'; title: string; lines: string[] }

/**
 * The run page's banner for a run whose topology changed: a title, then one line per event that flags the run,
 * with its time, and for a split brain or a node down how long it lasted (until the matching split_brain_end or
 * node_up) or that it lasted to the end of the observation (of a running run: that it still does). null for a run
 * that is not flagged. The flags come from
 * the run row (the sink sets them), so a flagged run has a banner even before (or without) its events.
 */
export function topologyBanner(run: ObservedRun, events: readonly ClusterEventRow[]): Banner | null {
  if (!run.topology_changed && !run.split_brain) return null;
  const lines: string[] = [];
  events.forEach((e, i) => {
    if (!flagsRun(e.kind)) return;
    const later = events.slice(i + 1);
    let line = `${describeEvent(e)} at ${clock(e.event_time)}`;
    // While the run goes on, what has not ended yet may still end.
    const running = run.status === 'running';
    if (e.kind === 'split_brain') {
      const end = later.find((x) => x.kind === 'split_brain_end');
      line += end ? `, for ${span(e.event_time, end.event_time)}` : running ? ', still on' : ', until the end of the observation';
    } else if (e.kind === 'node_down') {
      const up = later.find((x) => x.kind === 'node_up' && x.node === e.node);
      line += up ? `, back at ${clock(up.event_time)} (${span(e.event_time, up.event_time)})` : running ? ', still down' : ', still down at the end of the observation';
    }
    lines.push(line);
  });
  if (!lines.length) lines.push('The cluster\'s topology changed during this run; its events are not (yet) available.');
  return run.split_brain
    ? { tone: 'split-brain', title: 'Split brain during this run: two or more primaries at once. Its figures may not mean what they seem.', lines }
    : { tone: 'topology', title: 'The cluster\'s topology changed during this run (failover, node down or Pgpool status). Its figures may not mean what they seem.', lines };
}

/** The runs list's and compare page's flag of a run, or null. */
export function topologyFlag(run: ObservedRun): { label: string; title: string; cls: string } | null {
  if (run.split_brain) return { label: 'split brain', title: 'Two or more primaries at once during this run', cls: 'split-brain' };
  if (run.topology_changed) return { label: 'topology changed', title: 'A failover, a node down or a Pgpool status change during this run', cls: 'topology' };
  return null;
}

/** server_version_num as a version: 170002 → "17.2", 90624 → "9.6.24" (before 10, three parts). */
export function versionText(n: number | null | undefined): string | null {
  if (n == null) return null;
  const major = Math.floor(n / 10000);
  if (major >= 10) return `${major}.${n % 10000}`;
  return `${major}.${Math.floor(n / 100) % 100}.${n % 100}`;
}

/** Bytes in binary units: 23456789 → "22.4 MiB". */
export function formatBytes(n: number | null | undefined): string | null {
  if (n == null) return null;
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = Math.abs(Number(n));
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number(n) < 0 ? '-' : ''}${u ? v.toFixed(1) : v} ${units[u]}`;
}

/**
 * The server's facts as [label, value] pairs: version, database size, the count of non-default settings, and the
 * counters' change over the run (server_delta: pg_stat_database, pg_stat_bgwriter and, from PostgreSQL 17,
 * pg_stat_checkpointer; each counter as "group.counter", in name order). Empty for a run without any.
 */
export function serverFacts(run: ObservedRun, settings: readonly SettingRow[]): [string, string][] {
  const out: [string, string][] = [];
  const v = versionText(run.server_version_num);
  if (v) out.push(['server version', `${v} (${run.server_version_num})`]);
  if (run.server_version) out.push(['version()', run.server_version]);
  const size = formatBytes(run.database_size_bytes);
  if (size) out.push(['database size at start', size]);
  if (settings.length) out.push(['non-default settings', formatNumber(settings.length)]);
  const d = run.server_delta;
  if (d) {
    if (typeof d.seconds === 'number') out.push(['counters over', `${formatNumber(d.seconds)} s`]);
    if (typeof d.database_size_bytes === 'number') out.push(['database size change', `${d.database_size_bytes >= 0 ? '+' : ''}${formatBytes(d.database_size_bytes)}`]);
    for (const group of ['database', 'bgwriter', 'checkpointer']) {
      const g = d[group];
      if (!g || typeof g !== 'object') continue;
      for (const k of Object.keys(g).sort()) out.push([`Δ ${group}.${k}`, formatNumber((g as Record<string, unknown>)[k])]);
    }
  }
  return out;
}

/**
 * What of the cluster observation a run has to show: 'cluster' (rounds or events: the cluster section, with the
 * server's facts when it has them), 'server' (only the server's facts and settings), or 'none' (nothing: no section,
 * no empty charts).
 */
export function observationShown(o: { nodes: readonly unknown[]; pool: readonly unknown[]; events: readonly unknown[]; settings: readonly unknown[] }, run: ObservedRun): 'cluster' | 'server' | 'none' {
  if (o.nodes.length || o.pool.length || o.events.length) return 'cluster';
  if (o.settings.length || run.server_version_num != null || run.server_version != null || run.database_size_bytes != null || run.server_delta != null) return 'server';
  return 'none';
}
