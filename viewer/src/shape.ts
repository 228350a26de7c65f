// Data shaping: turns Hasura rows into what the pages draw. Pure functions, no DOM, unit-tested in
// test/shape.test.ts.

import type { PerftoolView } from './queries';

/** A row of RUN_SAMPLES_QUERY as Hasura returns it (bigint and float8 as JSON numbers, timestamps as ISO text). */
export interface SampleRow {
  seq: number;
  interval_start: string;
  interval_end: string;
  phase: 'warmup' | 'measure';
  ops_rate: number;
  errors: number;
  lat_p50_ms: number | null;
  lat_p90_ms: number | null;
  lat_p95_ms: number | null;
  lat_p99_ms: number | null;
  lat_p999_ms: number | null;
  lat_max_ms: number | null;
  mqtt_lost: number | null;
}

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
  warmup: [number, number][]; // [start, end] in Unix seconds, contiguous warm-up intervals merged
  totalErrors: number;
  totalLost: number;
}

export function emptySeries(): SampleSeries {
  return { x: [], opsRate: [], errors: [], lost: [], latency: PERCENTILES.map(() => []), warmup: [], totalErrors: 0, totalLost: 0 };
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
    for (let i = 0; i < PERCENTILES.length; i++) s.latency[i].push(num(r[PERCENTILES[i].key]));
    if (r.phase === 'warmup') {
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

/** A run figure compared across runs: higher is better for throughput, lower for latency and losses. */
export interface Figure {
  key: string;
  label: string;
  better: 'higher' | 'lower';
}

export const COMPARE_FIGURES: Figure[] = [
  { key: 'ops_rate', label: 'throughput (ops/s)', better: 'higher' },
  { key: 'lat_mean_ms', label: 'latency mean (ms)', better: 'lower' },
  { key: 'lat_p50_ms', label: 'latency p50 (ms)', better: 'lower' },
  { key: 'lat_p90_ms', label: 'latency p90 (ms)', better: 'lower' },
  { key: 'lat_p95_ms', label: 'latency p95 (ms)', better: 'lower' },
  { key: 'lat_p99_ms', label: 'latency p99 (ms)', better: 'lower' },
  { key: 'lat_p999_ms', label: 'latency p99.9 (ms)', better: 'lower' },
  { key: 'lat_max_ms', label: 'latency max (ms)', better: 'lower' },
  { key: 'errors', label: 'errors', better: 'lower' },
  { key: 'mqtt_lost', label: 'MQTT lost', better: 'lower' },
  { key: 'mqtt_duplicated', label: 'MQTT duplicated', better: 'lower' },
  { key: 'pg_tps', label: 'pgbench TPS', better: 'higher' },
  { key: 'pg_failed', label: 'pgbench failed', better: 'lower' },
];

/**
 * Relative change of value against base, in percent. null when it can't be said: either side missing, or a zero
 * base with a non-zero value (no finite percentage; the page shows the absolute values). 0 → 0 is 0 %.
 */
export function deltaPercent(base: number | null | undefined, value: number | null | undefined): number | null {
  const b = num(base);
  const v = num(value);
  if (b === null || v === null || Number.isNaN(b) || Number.isNaN(v)) return null;
  if (b === 0) return v === 0 ? 0 : null;
  return ((v - b) / Math.abs(b)) * 100;
}

export interface DeltaCell {
  value: number | null;
  percent: number | null; // against the baseline (first run); null for the baseline itself or when undefined
  verdict: 'better' | 'worse' | 'same' | 'unknown' | 'baseline';
}

export interface DeltaRow {
  figure: Figure;
  cells: DeltaCell[];
}

/**
 * The compare table: one row per figure that at least one run has, one cell per run, percentages against the
 * first run. Figures no run has (pgbench figures on MQTT runs) are left out.
 */
export function compareDeltas(runs: readonly Record<string, unknown>[], figures: Figure[] = COMPARE_FIGURES): DeltaRow[] {
  const rows: DeltaRow[] = [];
  if (runs.length === 0) return rows;
  for (const f of figures) {
    const values = runs.map((r) => num(r[f.key]));
    if (values.every((v) => v === null)) continue;
    const base = values[0];
    const cells = values.map((value, i): DeltaCell => {
      if (i === 0) return { value, percent: null, verdict: 'baseline' };
      const percent = deltaPercent(base, value);
      let verdict: DeltaCell['verdict'] = 'unknown';
      if (percent === 0) verdict = 'same';
      else if (percent !== null) verdict = (percent > 0) === (f.better === 'higher') ? 'better' : 'worse';
      return { value, percent, verdict };
    });
    rows.push({ figure: f, cells });
  }
  return rows;
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
 * Time range from URL parameters: explicit from/to (ISO or datetime-local text) win, else range=<n><m|h|d|w>
 * back from now, else the fallback range. Returns null bounds where the user asked for no bound.
 */
export function resolveRange(
  params: { from?: string | null; to?: string | null; range?: string | null },
  now: Date,
  fallback = '24h',
): { from: Date | null; to: Date | null } {
  const parse = (s?: string | null) => {
    if (!s) return null;
    const t = Date.parse(s);
    return Number.isNaN(t) ? null : new Date(t);
  };
  const from = parse(params.from);
  const to = parse(params.to);
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

export function formatPercent(p: number | null): string {
  if (p === null) return 'n/a';
  const sign = p > 0 ? '+' : '';
  return `${sign}${p.toFixed(1)} %`;
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
  if (f.from) and.push({ started_at: { _gte: f.from.toISOString() } });
  if (f.to) and.push({ started_at: { _lte: f.to.toISOString() } });
  return and.length ? { _and: and } : {};
}

/**
 * Overlay of several runs on one time axis: seconds since each run's first sample, merged onto one sorted x with
 * nulls where a run has no sample at that offset (uPlot's data layout). Offsets are rounded to the millisecond so
 * runs sampled every second line up exactly.
 */
export function overlaySeries(runs: readonly { x: number[]; y: (number | null)[] }[]): (number | null)[][] {
  const rel = runs.map((r) => {
    const t0 = r.x.length ? r.x[0] : 0;
    return r.x.map((t) => Math.round((t - t0) * 1000) / 1000);
  });
  const xs = Array.from(new Set(rel.flat())).sort((a, b) => a - b);
  const index = new Map(xs.map((x, i) => [x, i]));
  const ys = runs.map((r, k) => {
    const col: (number | null)[] = new Array(xs.length).fill(null);
    rel[k].forEach((x, i) => {
      col[index.get(x)!] = r.y[i];
    });
    return col;
  });
  return [xs, ...ys];
}
