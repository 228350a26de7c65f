// Data shaping: turns Hasura rows into what the pages draw. Pure functions, no DOM, unit-tested in
// test/shape.test.ts.

import type { PerftoolView } from './queries';

/** A row of RUN_SAMPLES_QUERY as Hasura returns it (bigint and float8 as JSON numbers, timestamps as ISO text). */
export interface SampleRow {
  seq: number;
  interval_start: string;
  interval_end: string;
  phase: 'warmup' | 'measure';
  ops?: number | null;
  bytes?: number | null;
  ops_rate: number;
  errors: number;
  lat_p50_ms: number | null;
  lat_p90_ms: number | null;
  lat_p95_ms: number | null;
  lat_p99_ms: number | null;
  lat_p999_ms: number | null;
  lat_max_ms: number | null;
  mqtt_lost: number | null;
  pg_lag_ms?: number | null;
}

/** Columns of a sample the run page draws, totals and exports (CSV/JSON); queries.ts selects exactly these. */
export const SAMPLE_COLUMNS = ['seq', 'interval_start', 'interval_end', 'phase', 'ops', 'ops_rate', 'bytes', 'errors',
  'lat_p50_ms', 'lat_p90_ms', 'lat_p95_ms', 'lat_p99_ms', 'lat_p999_ms', 'lat_max_ms', 'mqtt_lost', 'pg_lag_ms'] as const;

export const PERCENTILES = [
  { key: 'lat_p50_ms', label: 'p50' },
  { key: 'lat_p90_ms', label: 'p90' },
  { key: 'lat_p95_ms', label: 'p95' },
  { key: 'lat_p99_ms', label: 'p99' },
  { key: 'lat_p999_ms', label: 'p99.9' },
  { key: 'lat_max_ms', label: 'max' },
] as const;

/**
 * Column-oriented series for uPlot: x in Unix seconds (uPlot's time unit), one array per figure, nulls where an
 * interval has no value (a second without completed operations has no latency), and the warm-up spans to shade.
 */
export interface SampleSeries {
  x: number[];
  opsRate: (number | null)[];
  errors: (number | null)[];
  lost: (number | null)[];
  latency: (number | null)[][]; // in PERCENTILES order
  lag: (number | null)[]; // pgbench schedule lag (-R), ms
  warmup: [number, number][]; // [start, end] in Unix seconds, contiguous warm-up intervals merged
  totalErrors: number;
  totalLost: number;
  /** Whether any sample has an MQTT loss count / a pgbench schedule lag above 0 (only -R runs lag). */
  hasLost: boolean;
  hasLag: boolean;
  /**
   * Running totals of the measurement phase (warm-up excluded), for a live run's figures. maxP99 is the worst
   * interval's p99, an upper bound of the whole phase's p99 so far: if no interval has more than 1 % of its
   * operations above x, neither has their union.
   */
  measure: { samples: number; ops: number; errors: number; lost: number; seconds: number; lastP99: number | null; maxP99: number | null };
  /** Per percentile, the smallest positive and the largest value in the measurement phase: the latency chart's
   * y range, so warm-up spikes don't squash it. null while there is none. */
  latRange: { min: number | null; max: number | null }[];
}

export function emptySeries(): SampleSeries {
  return {
    x: [], opsRate: [], errors: [], lost: [], latency: PERCENTILES.map(() => []), lag: [], warmup: [], totalErrors: 0,
    totalLost: 0, hasLost: false, hasLag: false,
    measure: { samples: 0, ops: 0, errors: 0, lost: 0, seconds: 0, lastP99: null, maxP99: null },
    latRange: PERCENTILES.map(() => ({ min: null, max: null })),
  };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * Appends sample rows (in seq order) to series, so live polling can add the new rows without rebuilding.
 * Written as plain loops: for 100k rows this runs in a few tens of milliseconds.
 */
export function appendSamples(s: SampleSeries, rows: readonly SampleRow[]): SampleSeries {
  for (const r of rows) {
    const start = Date.parse(r.interval_start) / 1000;
    s.x.push(start);
    s.opsRate.push(num(r.ops_rate));
    const e = num(r.errors);
    s.errors.push(e);
    s.totalErrors += e ?? 0;
    const l = num(r.mqtt_lost);
    s.lost.push(l);
    s.totalLost += l ?? 0;
    if (l !== null) s.hasLost = true;
    const lag = num(r.pg_lag_ms);
    s.lag.push(lag);
    if (lag !== null && lag > 0) s.hasLag = true; // pgbench reports lag 0 without -R
    const measure = r.phase !== 'warmup';
    for (let i = 0; i < PERCENTILES.length; i++) {
      const v = num(r[PERCENTILES[i].key]);
      s.latency[i].push(v);
      if (measure && v !== null) {
        const rg = s.latRange[i];
        if (v > 0 && (rg.min === null || v < rg.min)) rg.min = v;
        if (rg.max === null || v > rg.max) rg.max = v;
      }
    }
    if (measure) {
      const m = s.measure;
      m.samples++;
      m.ops += num(r.ops) ?? 0;
      m.errors += e ?? 0;
      m.lost += l ?? 0;
      m.seconds += Date.parse(r.interval_end) / 1000 - start;
      const p99 = s.latency[3][s.latency[3].length - 1];
      if (p99 !== null) {
        m.lastP99 = p99;
        if (m.maxP99 === null || p99 > m.maxP99) m.maxP99 = p99;
      }
    } else {
      const end = Date.parse(r.interval_end) / 1000;
      const last = s.warmup[s.warmup.length - 1];
      // Merge touching (or overlapping) warm-up intervals into one shaded span.
      if (last && start <= last[1] + 1e-3) last[1] = Math.max(last[1], end);
      else s.warmup.push([start, end]);
    }
  }
  return s;
}

/**
 * The rows with seq > lastSeq, for appending to what a page already has: polling, the websocket stream and the
 * catch-up fetch after a run ends may overlap, and a sample must be drawn once.
 */
export function rowsAfter(rows: readonly SampleRow[], lastSeq: number): SampleRow[] {
  return rows.filter((r) => r.seq > lastSeq);
}

export function samplesToSeries(rows: readonly SampleRow[]): SampleSeries {
  return appendSamples(emptySeries(), rows);
}

/**
 * perftool view for a time range, as the seed viewer did: the finest bucket width that keeps the chart at no more
 * than MAX_BUCKETS points (30 s up to 2 h, 1 min up to 4 h, 2 min up to 8 h, then 10 min).
 */
export const MAX_BUCKETS = 240;
const PERFTOOL_WIDTHS: [PerftoolView, number][] = [
  ['perftool_30sec', 30],
  ['perftool_1min', 60],
  ['perftool_2min', 120],
  ['perftool_10min', 600],
];

export function perftoolView(from: Date, to: Date): PerftoolView {
  const seconds = Math.max(0, (to.getTime() - from.getTime()) / 1000);
  for (const [view, width] of PERFTOOL_WIDTHS) if (seconds / width <= MAX_BUCKETS) return view;
  return 'perftool_10min';
}

const UNIT_SECONDS: Record<string, number> = { m: 60, h: 3600, d: 86400, w: 604800 };

/**
 * A time the user typed or a URL carries, read as UTC when it names no zone: the from/to inputs are
 * datetime-local fields labelled UTC, whose text ("2025-03-01T18:35") Date.parse would read in the browser's zone
 * (a Tokyo browser would look nine hours off). Text with Z or ±hh:mm keeps its zone. null when unreadable.
 */
export function parseUtc(text?: string | null): Date | null {
  if (!text) return null;
  const t = text.trim();
  const zoned = /(Z|[+-]\d\d:?\d\d)$/i.test(t);
  const local = /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?)?$/.test(t);
  if (!zoned && !local) return null;
  const ms = Date.parse(zoned ? t : (t.length === 10 ? `${t}T00:00:00` : t.replace(' ', 'T')) + 'Z');
  return Number.isNaN(ms) ? null : new Date(ms);
}

/**
 * A Date as the text of a from/to input, in the tables' notation without the Z ("2025-03-01 18:35:46"; the label
 * says UTC). A text field, not datetime-local, which the browser shows in its own locale's format.
 */
export function utcInputValue(d: Date | null): string {
  return d ? d.toISOString().slice(0, 19).replace('T', ' ') : '';
}

/**
 * Time range from URL parameters: explicit from/to (ISO, or datetime-local text read as UTC) win, else
 * range=<n><m|h|d|w> back from now, else the fallback range. Returns null bounds where the user asked for no bound.
 */
export function resolveRange(
  params: { from?: string | null; to?: string | null; range?: string | null },
  now: Date,
  fallback = '24h',
): { from: Date | null; to: Date | null } {
  const from = parseUtc(params.from);
  const to = parseUtc(params.to);
  if (from || to) return { from, to };
  const range = params.range ?? fallback;
  if (range === 'all') return { from: null, to: null };
  const m = /^(\d+)([mhdw])$/.exec(range);
  if (!m) return { from: null, to: null };
  return { from: new Date(now.getTime() - Number(m[1]) * UNIT_SECONDS[m[2]] * 1000), to: null };
}

/** Duration between two ISO timestamps as "1h 02m 03s"; "–" when either is missing. */
export function formatDuration(start?: string | null, end?: string | null): string {
  if (!start || !end) return '–';
  let s = Math.round((Date.parse(end) - Date.parse(start)) / 1000);
  if (!Number.isFinite(s) || s < 0) return '–';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/** Number for tables: up to 3 significant decimals, thousands separated; "–" for null. */
export function formatNumber(v: unknown, digits = 3): string {
  const n = num(v);
  if (n === null || Number.isNaN(n)) return '–';
  const abs = Math.abs(n);
  const d = abs >= 1000 ? 0 : abs >= 100 ? 1 : digits;
  return n.toLocaleString('en-US', { maximumFractionDigits: d });
}

/**
 * Tag filter text to a Hasura jsonb condition on runs.tags: "key=value" → _contains {key: value},
 * "key" → _has_key. Several comma-separated filters must all match.
 */
export function tagConditions(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq < 0) out.push({ tags: { _has_key: part } });
    else out.push({ tags: { _contains: { [part.slice(0, eq).trim()]: part.slice(eq + 1).trim() } } });
  }
  return out;
}

export interface RunFilters {
  kind?: string | null;
  device?: string | null;
  status?: string | null;
  tag?: string | null;
  /** Cluster observation (issue 15): 'changed' = runs whose topology changed (split brain included), 'split' = split brain. */
  cluster?: string | null;
  from: Date | null;
  to: Date | null;
}

/** runs_bool_exp for the runs page; sent as the $where variable. */
export function runsWhere(f: RunFilters): Record<string, unknown> {
  const and: Record<string, unknown>[] = [];
  if (f.kind) and.push({ kind: { _eq: f.kind } });
  if (f.device) and.push({ host_name: { _eq: f.device } });
  if (f.status) and.push({ status: { _eq: f.status } });
  if (f.tag) and.push(...tagConditions(f.tag));
  if (f.cluster === 'changed') and.push({ topology_changed: { _eq: true } });
  if (f.cluster === 'split') and.push({ split_brain: { _eq: true } });
  if (f.from) and.push({ started_at: { _gte: f.from.toISOString() } });
  if (f.to) and.push({ started_at: { _lte: f.to.toISOString() } });
  return and.length ? { _and: and } : {};
}

/** One run's series for the compare overlay: x in Unix seconds, and t0 = the run's measure start (else first sample). */
export interface OverlayInput {
  x: number[];
  y: (number | null)[];
  t0: number;
}

/** The typical sample interval of a run, in seconds: the median step between consecutive samples (1 if unknown). */
export function sampleStep(x: readonly number[]): number {
  if (x.length < 2) return 1;
  const d: number[] = [];
  for (let i = 1; i < x.length; i++) if (x[i] > x[i - 1]) d.push(x[i] - x[i - 1]);
  if (!d.length) return 1;
  d.sort((a, b) => a - b);
  return Math.max(1e-3, Math.round(d[d.length >> 1] * 1000) / 1000);
}

/**
 * Overlay of several runs on one axis: seconds since each run's measure start (warm-up negative), on a grid
 * common to every run (step = the coarsest run's sample interval). Each run's samples fall on the grid point
 * nearest their offset (averaged where a finer run has several), so runs whose samples start at different
 * fractions of a second still share x values and their lines are continuous; a grid point is null only where a run
 * really has no sample (before its start, after its end, or a missing interval). Returns uPlot's [x, ...ys].
 */
export function overlaySeries(runs: readonly OverlayInput[], step = Math.max(...runs.map((r) => sampleStep(r.x)), 1e-3)): (number | null)[][] {
  const idx = runs.map((r) => r.x.map((t) => Math.round((t - r.t0) / step)));
  let lo = Infinity;
  let hi = -Infinity;
  for (const ks of idx) for (const k of ks) {
    if (k < lo) lo = k;
    if (k > hi) hi = k;
  }
  if (lo > hi) return [[], ...runs.map(() => [])];
  const n = hi - lo + 1;
  const xs = Array.from({ length: n }, (_, i) => Math.round((lo + i) * step * 1000) / 1000);
  const ys = runs.map((r, j) => {
    const sum = new Array<number>(n).fill(0);
    const cnt = new Array<number>(n).fill(0);
    idx[j].forEach((k, i) => {
      const v = r.y[i];
      if (v === null || v === undefined || Number.isNaN(v)) return;
      sum[k - lo] += v;
      cnt[k - lo]++;
    });
    return sum.map((v, i) => (cnt[i] ? v / cnt[i] : null));
  });
  return [xs, ...ys];
}

/** A y range from zero: throughput noise must not look like a cliff. [0, 1] for an all-zero or empty series. */
export function zeroBasedRange(max: number | null | undefined): [number, number] {
  const m = max == null || !Number.isFinite(max) || max <= 0 ? 0 : max;
  return [0, m > 0 ? m * 1.08 : 1];
}

/**
 * The latency chart's y range from the measurement phase only (warm-up spikes are clipped, and shaded), for a
 * linear or a log scale. null when the measurement has no latency yet (uPlot then fits the data).
 */
export function latencyRange(ranges: readonly { min: number | null; max: number | null }[], log: boolean): [number, number] | null {
  let min = Infinity;
  let max = -Infinity;
  for (const r of ranges) {
    if (r.min !== null && r.min < min) min = r.min;
    if (r.max !== null && r.max > max) max = r.max;
  }
  if (max === -Infinity) return null;
  if (log) {
    if (min === Infinity) min = max > 0 ? max / 10 : 0.001;
    const lo = 10 ** Math.floor(Math.log10(min));
    const hi = 10 ** Math.ceil(Math.log10(Math.max(max, lo * 10)));
    return [lo, hi === lo ? lo * 10 : hi];
  }
  return [0, max > 0 ? max * 1.08 : 1];
}

/**
 * x range for sparse time points: a single point gets one bucket either side instead of uPlot's default span
 * (two years for one perftool bucket). null when uPlot's own choice is fine.
 */
export function sparseXRange(xs: readonly number[], width: number): [number, number] | null {
  if (!xs.length) return null;
  const min = xs[0];
  const max = xs[xs.length - 1];
  return max - min < width ? [min - width, max + width] : [min - width / 2, max + width / 2];
}

/**
 * Inserts a null row between points further apart than 1.5 bucket widths, so that separate runs (results in
 * non-adjacent buckets) are drawn as separate segments, not joined by a line that looks like a ramp.
 */
export function withGaps(x: readonly number[], cols: readonly (number | null)[][], width: number): (number | null)[][] {
  const ox: number[] = [];
  const oc: (number | null)[][] = cols.map(() => []);
  for (let i = 0; i < x.length; i++) {
    if (i > 0 && x[i] - x[i - 1] > width * 1.5) {
      ox.push(x[i - 1] + width);
      oc.forEach((c) => c.push(null));
    }
    ox.push(x[i]);
    oc.forEach((c, k) => c.push(cols[k][i]));
  }
  return [ox, ...oc];
}

/**
 * Time axis tick labels in UTC, in the tables' notation ("2025-03-01 18:35:46Z"): the time on every tick, the date
 * under the first tick and wherever the day changes. Seconds are left out when every tick is on a whole minute, and
 * fractions shown when a tick is between seconds.
 */
export function utcTickLabels(ticks: readonly number[]): string[] {
  const ms = ticks.map((t) => Math.round(t * 1000));
  const wholeMinutes = ms.every((t) => t % 60000 === 0);
  // Ticks between whole seconds (runs sampled faster than 1/s) need their fraction, or two ticks read the same.
  const decimals = ms.every((t) => t % 1000 === 0) ? 0 : ms.every((t) => t % 100 === 0) ? 1 : ms.every((t) => t % 10 === 0) ? 2 : 3;
  let lastDay = '';
  return ms.map((t) => {
    const iso = new Date(t).toISOString();
    const day = iso.slice(0, 10);
    const time = `${iso.slice(11, wholeMinutes ? 16 : decimals ? 20 + decimals : 19)}Z`;
    const label = day !== lastDay ? `${time}\n${day}` : time;
    lastDay = day;
    return label;
  });
}

/** Seconds as a compact duration: "59s", "1m 05s", "1h 02m 03s". */
export function formatSeconds(total: number): string {
  let s = Math.round(total);
  if (!Number.isFinite(s) || s < 0) return '–';
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (n: number) => String(n).padStart(2, '0');
  if (h) return `${h}h ${pad(m)}m ${pad(s)}s`;
  if (m) return `${m}m ${pad(s)}s`;
  return `${s}s`;
}

/**
 * A live run's progress: elapsed since start, and the planned length from its parameters (MQTT: warm-up +
 * duration; pgbench: -T, which includes the warm-up). remaining is null when the run has no planned length
 * (--count, -t) and 0 once it is overdue (draining, finishing).
 */
export function liveProgress(kind: string, params: Record<string, unknown> | null | undefined, startedAt: string | null | undefined, now: Date): { elapsed: number | null; planned: number | null; remaining: number | null } {
  const start = startedAt ? Date.parse(startedAt) : NaN;
  const elapsed = Number.isNaN(start) ? null : Math.max(0, (now.getTime() - start) / 1000);
  const d = Number(params?.duration_s ?? 0) || 0;
  const w = Number(params?.warmup_s ?? 0) || 0;
  const planned = d > 0 ? (kind === 'mqtt' ? d + w : d) : null;
  const remaining = planned !== null && elapsed !== null ? Math.max(0, planned - elapsed) : null;
  return { elapsed, planned, remaining };
}

/** An argument vector as a command line a shell would run as given: arguments with specials in single quotes. */
export function shellJoin(args: readonly unknown[]): string {
  return args
    .map((a) => {
      const s = String(a);
      if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
      return `'${s.replace(/'/g, `'\\''`)}'`;
    })
    .join(' ');
}

/** Sample rows as CSV: a header of the columns, one line per row; text quoted when it needs to be (RFC 4180). */
export function toCsv(rows: readonly Record<string, unknown>[], columns: readonly string[]): string {
  const cell = (v: unknown) => {
    if (v === null || v === undefined) return '';
    const s = typeof v === 'object' ? JSON.stringify(v) : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  return [columns.join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
}

/** Headline figures of a run for the top of its page; a running run gets its running totals instead. */
export interface Headline {
  label: string;
  value: string;
  tone?: 'bad' | 'good';
  title?: string;
}

export function headlineFigures(run: Record<string, unknown>, s: SampleSeries | null, now: Date): Headline[] {
  const out: Headline[] = [];
  const kind = String(run.kind ?? '');
  const running = run.status === 'running';
  if (running && s) {
    const m = s.measure;
    out.push(...runningFigures(kind, run, { samples: m.samples, ops: m.ops, errors: m.errors, lost: s.hasLost ? m.lost : null, seconds: m.seconds, maxP99: m.maxP99 }, now));
    out.push({ label: 'p99 last interval', value: m.lastP99 === null ? '–' : `${formatNumber(m.lastP99)} ms` });
    return out;
  }
  const tps = kind === 'pgbench' && run.pg_tps != null;
  out.push({ label: tps ? 'tps' : 'throughput', value: run[tps ? 'pg_tps' : 'ops_rate'] == null ? '–' : `${formatNumber(run[tps ? 'pg_tps' : 'ops_rate'])} ${tps ? 'tx/s' : 'ops/s'}` });
  out.push({ label: 'p99', value: run.lat_p99_ms == null ? '–' : `${formatNumber(run.lat_p99_ms)} ms` });
  const errors = num(run.errors);
  out.push({ label: 'errors', value: formatNumber(errors), tone: errors ? 'bad' : undefined });
  if (kind === 'mqtt' || run.mqtt_lost != null) {
    const lost = num(run.mqtt_lost);
    const sent = num(run.mqtt_sent);
    const pct = lost !== null && sent ? ` (${((lost / sent) * 100).toFixed(lost / sent < 0.001 && lost > 0 ? 3 : 1)} %)` : '';
    out.push({ label: 'lost', value: `${formatNumber(lost)}${lost ? pct : ''}`, tone: lost ? 'bad' : undefined });
  }
  if (kind === 'pgbench' && run.pg_failed != null) {
    const failed = num(run.pg_failed);
    out.push({ label: 'failed tx', value: formatNumber(failed), tone: failed ? 'bad' : undefined });
  }
  out.push({ label: 'measured', value: formatDuration(run.measure_start as string, run.measure_end as string) });
  return out;
}

/** A live run's measurement so far: from its samples (run page) or their aggregate (runs table). */
export interface SoFar {
  samples: number;
  ops: number;
  errors: number;
  /** null: the kind counts no loss. */
  lost: number | null;
  seconds: number;
  maxP99: number | null;
}

/** samples_aggregate of a run's measurement-phase samples (RUNS_PROGRESS_QUERY). */
export interface ProgressAggregate {
  count: number;
  sum: { ops: number | null; errors: number | null; mqtt_lost: number | null };
  max: { lat_p99_ms: number | null; interval_end: string | null };
  min: { interval_start: string | null };
}

/** A running run's measurement so far from its samples' aggregate: the same totals the run page adds up. */
export function soFarFromAggregate(a: ProgressAggregate, countsLoss: boolean): SoFar {
  const start = a.min.interval_start ? Date.parse(a.min.interval_start) : NaN;
  const end = a.max.interval_end ? Date.parse(a.max.interval_end) : NaN;
  return {
    samples: a.count,
    ops: num(a.sum.ops) ?? 0,
    errors: num(a.sum.errors) ?? 0,
    lost: countsLoss ? (num(a.sum.mqtt_lost) ?? 0) : null,
    seconds: Number.isNaN(start) || Number.isNaN(end) ? 0 : Math.max(0, (end - start) / 1000),
    maxP99: num(a.max.lat_p99_ms),
  };
}

/**
 * The figures of a running run so far: messages (operations; pgbench transactions), throughput over the measured
 * time, p99 as the worst interval's (an upper bound, see SampleSeries.measure), errors, loss, elapsed and remaining.
 */
export function runningFigures(kind: string, run: Record<string, unknown>, m: SoFar, now: Date): Headline[] {
  const unit = kind === 'pgbench' ? 'tx' : kind === 'mqtt' ? 'msgs' : 'ops';
  const rate = m.seconds > 0 ? m.ops / m.seconds : null;
  const out: Headline[] = [
    { label: `${unit} so far`, value: formatNumber(m.ops), title: `${m.samples} intervals of measurement (warm-up excluded)` },
    { label: 'throughput so far', value: rate === null ? '–' : `${formatNumber(rate)} ${unit}/s`, title: `${formatNumber(m.ops)} ${unit} in ${formatSeconds(m.seconds)} of measurement` },
    { label: 'p99 so far', value: m.maxP99 === null ? '–' : `≤ ${formatNumber(m.maxP99)} ms`, title: 'the worst interval\'s p99: the whole measurement\'s p99 is at most this' },
    { label: 'errors so far', value: formatNumber(m.errors), tone: m.errors > 0 ? 'bad' : undefined },
  ];
  if (m.lost !== null) out.push({ label: 'lost so far', value: formatNumber(m.lost), tone: m.lost > 0 ? 'bad' : undefined });
  const p = liveProgress(kind, run.parameters as Record<string, unknown>, run.started_at as string, now);
  out.push({ label: 'elapsed', value: p.elapsed === null ? '–' : formatSeconds(p.elapsed) });
  out.push({ label: 'remaining', value: p.remaining === null ? 'no planned end' : p.remaining === 0 ? 'finishing' : formatSeconds(p.remaining), title: p.planned === null ? undefined : `planned ${formatSeconds(p.planned)}` });
  return out;
}

/**
 * Long rows (one per time and key: a perftool publisher or thread) to uPlot columns: one sorted x of every time,
 * one column per key (sorted), null where a key has no row at that time. Several rows of one key at one time
 * (rounds of a thread ending in the same millisecond) are averaged.
 */
export function pivot<R>(rows: readonly R[], time: (r: R) => number, key: (r: R) => string, value: (r: R) => number | null): { keys: string[]; data: (number | null)[][] } {
  const keys = Array.from(new Set(rows.map(key))).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  const xs = Array.from(new Set(rows.map(time))).sort((a, b) => a - b);
  const xi = new Map(xs.map((x, i) => [x, i]));
  const ki = new Map(keys.map((k, i) => [k, i]));
  const sum = keys.map(() => new Array<number>(xs.length).fill(0));
  const cnt = keys.map(() => new Array<number>(xs.length).fill(0));
  for (const r of rows) {
    const v = value(r);
    if (v === null || Number.isNaN(v)) continue;
    const k = ki.get(key(r))!;
    const i = xi.get(time(r))!;
    sum[k][i] += v;
    cnt[k][i]++;
  }
  return { keys, data: [xs, ...sum.map((col, k) => col.map((v, i) => (cnt[k][i] ? v / cnt[k][i] : null)))] };
}

/** Bucket width in seconds of a perftool view. */
export function perftoolWidth(view: PerftoolView): number {
  return PERFTOOL_WIDTHS.find(([v]) => v === view)?.[1] ?? 600;
}

/**
 * Axis tick numbers that fit beside the axis label, in one unit per axis (the largest tick's): 0, 500k, 1M, 1.5M
 * rather than 500,000 … 3,000,000 running into the label, and never 8000 next to 12k.
 */
export function compactTicks(ticks: readonly (number | null)[]): string[] {
  const max = Math.max(0, ...ticks.map((t) => (t === null || !Number.isFinite(t) ? 0 : Math.abs(t))));
  const [div, unit] = max >= 1e9 ? [1e9, 'G'] : max >= 1e6 ? [1e6, 'M'] : max >= 1e4 ? [1e3, 'k'] : [1, ''];
  return ticks.map((t) => (t === null || !Number.isFinite(t) ? '' : `${Number((t / div).toPrecision(4))}${t === 0 ? '' : unit}`));
}

/**
 * A run id short enough for labels and still telling runs apart: the last 8 hex digits. Run ids are UUIDv7, whose
 * first digits are the time, so two runs started in the same minute share their first 8.
 */
export function shortId(id: string): string {
  return `…${id.slice(-8)}`;
}

/** The summary percentiles a latency distribution shows, in order. */
export const DISTRIBUTION = [
  { key: 'lat_min_ms', label: 'min' }, { key: 'lat_p50_ms', label: 'p50' }, { key: 'lat_p90_ms', label: 'p90' },
  { key: 'lat_p95_ms', label: 'p95' }, { key: 'lat_p99_ms', label: 'p99' }, { key: 'lat_p999_ms', label: 'p99.9' },
  { key: 'lat_max_ms', label: 'max' },
] as const;

/**
 * Latency distributions of one or more runs from their summary percentiles, as bars on one log scale (latency
 * spans decades: p50 0.5 ms, max 50 ms): per percentile one bar per run, width in % of the widest. Percentiles no
 * run has are left out; null when fewer than two remain (one number is no distribution).
 */
export function distributionBars(runs: readonly Record<string, unknown>[]): { label: string; cells: { value: number | null; width: number }[] }[] | null {
  const rows = DISTRIBUTION.map((p) => ({ label: p.label, values: runs.map((r) => num(r[p.key])) }))
    .filter((r) => r.values.some((v) => v !== null && v > 0));
  if (rows.length < 2) return null;
  const all = rows.flatMap((r) => r.values.filter((v): v is number => v !== null && v > 0));
  const lo = Math.log10(Math.min(...all)) - 0.3; // the smallest value still gets a visible bar
  const hi = Math.log10(Math.max(...all));
  const width = (v: number | null) => (v === null || v <= 0 ? 0 : Math.max(2, Math.round(((Math.log10(v) - lo) / Math.max(1e-9, hi - lo)) * 1000) / 10));
  return rows.map((r) => ({ label: r.label, cells: r.values.map((value) => ({ value, width: width(value) })) }));
}
