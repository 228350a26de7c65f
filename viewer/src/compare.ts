// Compare semantics, the same as `producer compare BASELINE CANDIDATE` (producer/compare/figures.go): the same
// figures in the same order, the baseline is the first run (the older one when runs are picked from the runs
// table, as `producer compare RUN_A RUN_B` takes A), the sign is candidate − baseline, the percentage is relative
// to |baseline|, and each figure's verdict follows its own direction (higher throughput is better, lower latency,
// errors and loss are better). A zero baseline gives ±inf % and still a verdict. Pure functions, unit-tested in
// test/compare.test.ts; the browser shows what these return.

/** One compared figure; name is producer compare's FIGURE column (and its --max-regression key). */
export interface Figure {
  name: string;
  key: string; // runs column
  label: string; // the viewer's row label
  unit: string;
  better: 'higher' | 'lower';
  count?: boolean; // an integer count
}

/** producer/compare/figures.go's figures, in its table order. Keep the two lists equal. */
export const COMPARE_FIGURES: Figure[] = [
  { name: 'throughput', key: 'ops_rate', label: 'throughput (ops/s)', unit: 'ops/s', better: 'higher' },
  { name: 'p50', key: 'lat_p50_ms', label: 'latency p50 (ms)', unit: 'ms', better: 'lower' },
  { name: 'p90', key: 'lat_p90_ms', label: 'latency p90 (ms)', unit: 'ms', better: 'lower' },
  { name: 'p99', key: 'lat_p99_ms', label: 'latency p99 (ms)', unit: 'ms', better: 'lower' },
  { name: 'p99.9', key: 'lat_p999_ms', label: 'latency p99.9 (ms)', unit: 'ms', better: 'lower' },
  { name: 'errors', key: 'errors', label: 'errors', unit: '', better: 'lower', count: true },
  { name: 'loss', key: 'mqtt_lost', label: 'MQTT lost', unit: 'msgs', better: 'lower', count: true },
  { name: 'dup', key: 'mqtt_duplicated', label: 'MQTT duplicated', unit: 'msgs', better: 'lower', count: true },
  { name: 'reorder', key: 'mqtt_out_of_order', label: 'MQTT out of order', unit: 'msgs', better: 'lower', count: true },
  { name: 'tps', key: 'pg_tps', label: 'pgbench TPS', unit: 'tx/s', better: 'higher' },
  { name: 'failed', key: 'pg_failed', label: 'pgbench failed', unit: 'tx', better: 'lower', count: true },
];

export type Verdict = 'better' | 'same' | 'worse' | 'missing' | 'new' | 'baseline';

export interface DeltaCell {
  value: number | null;
  delta: number | null; // candidate − baseline
  /** delta relative to |baseline| in %; ±Infinity from a zero baseline; null for the baseline or a missing side. */
  percent: number | null;
  verdict: Verdict;
}

export interface DeltaRow {
  figure: Figure;
  cells: DeltaCell[];
}

const num = (v: unknown): number | null => {
  if (v === null || v === undefined || v === '') return null;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
};

/** One figure of a candidate against the baseline, as producer compare's compareFigure. */
export function compareFigure(f: Figure, base: number | null, cand: number | null): DeltaCell {
  if (cand === null) return { value: null, delta: null, percent: null, verdict: 'missing' };
  if (base === null) return { value: cand, delta: null, percent: null, verdict: 'new' };
  const d = cand - base;
  const worse = f.better === 'higher' ? -d : d;
  let percent: number;
  if (d === 0) percent = 0;
  else if (base === 0) percent = d > 0 ? Infinity : -Infinity;
  else percent = (d / Math.abs(base)) * 100;
  const verdict: Verdict = worse > 0 ? 'worse' : worse < 0 ? 'better' : 'same';
  return { value: cand, delta: d, percent, verdict };
}

/**
 * The compare table: one row per figure that at least one run has, one cell per run, every run after the first
 * compared with the first (the baseline). Figures no run has (pgbench figures of MQTT runs) are left out.
 */
export function compareDeltas(runs: readonly Record<string, unknown>[], figures: Figure[] = COMPARE_FIGURES): DeltaRow[] {
  const rows: DeltaRow[] = [];
  if (runs.length === 0) return rows;
  for (const f of figures) {
    const values = runs.map((r) => num(r[f.key]));
    if (values.every((v) => v === null)) continue;
    const base = values[0];
    const cells = values.map((value, i): DeltaCell =>
      i === 0 ? { value, delta: null, percent: null, verdict: 'baseline' } : compareFigure(f, base, value));
    rows.push({ figure: f, cells });
  }
  return rows;
}

/** A percentage as the viewer prints it: sign always shown, one decimal; "+inf %" from a zero baseline. */
export function formatPercent(p: number | null): string {
  if (p === null || Number.isNaN(p)) return 'n/a';
  if (p === Infinity) return '+inf %';
  if (p === -Infinity) return '-inf %';
  const s = p.toFixed(1);
  if (s === '0.0' || s === '-0.0') return p === 0 ? '0.0 %' : `${p > 0 ? '+' : '-'}0.0 %`;
  return `${p > 0 ? '+' : ''}${s} %`;
}

/**
 * The order to compare runs picked from a table in: oldest first, so the baseline is the earlier run, as
 * `producer compare RUN_A RUN_B` with A the earlier one. Runs without a start time go last; ties keep their order.
 */
export function baselineFirst<T extends { run_id: string; started_at: string | null }>(runs: readonly T[]): string[] {
  const t = (r: T) => (r.started_at ? Date.parse(r.started_at) : Infinity);
  return runs
    .map((r, i) => ({ r, i }))
    .sort((a, b) => t(a.r) - t(b.r) || a.i - b.i)
    .map((x) => x.r.run_id);
}

/** The same command line a terminal user would type for this comparison (first id = baseline). */
export function compareCommand(ids: readonly string[]): string {
  return `producer compare ${ids[0]} ${ids[1]}`;
}
