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

/** JSON with object keys sorted, so equal values print equal (Go's json.Marshal does the same). */
function show(v: unknown): string {
  if (v === undefined) return 'null';
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(show).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${show((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * The keys in which two JSON objects differ, with both values, as producer compare's jsonDiff: "rate 1000 → 2000",
 * nested keys dotted, "(none)" for a key one side lacks; arrays and scalars compared whole; null reads as {}.
 */
export function jsonDiff(a: unknown, b: unknown, path = ''): string[] {
  if (a == null && isObj(b)) a = {};
  if (b == null && isObj(a)) b = {};
  if (isObj(a) && isObj(b)) {
    const out: string[] = [];
    for (const k of Array.from(new Set([...Object.keys(a), ...Object.keys(b)])).sort()) {
      const child = path ? `${path}.${k}` : k;
      if (!(k in a)) out.push(`${child} (none) → ${show(b[k])}`);
      else if (!(k in b)) out.push(`${child} ${show(a[k])} → (none)`);
      else out.push(...jsonDiff(a[k], b[k], child));
    }
    return out;
  }
  if (show(a) === show(b)) return [];
  return [path ? `${path} ${show(a)} → ${show(b)}` : `${show(a)} → ${show(b)}`];
}

/** What makes two runs less comparable: producer compare's notes, in its order and words. */
export function compareNotes(base: Record<string, unknown>, cand: Record<string, unknown>): string[] {
  const notes: string[] = [];
  if (base.kind !== cand.kind) notes.push(`the runs are of different kinds (${base.kind}, ${cand.kind})`);
  if ((base.host_name ?? '') !== (cand.host_name ?? '')) notes.push(`the runs are from different devices (${base.host_name ?? ''}, ${cand.host_name ?? ''})`);
  for (const what of ['parameters', 'tags']) {
    const d = jsonDiff(base[what], cand[what]);
    if (d.length) notes.push(`the ${what} differ (baseline → candidate): ${d.join('; ')}`);
  }
  for (const [role, r] of [['baseline', base], ['candidate', cand]] as const) {
    if (r.status !== 'ok') {
      let n = `the ${role} run's status is ${r.status}`;
      if (r.error) n += `: ${r.error}`;
      if (r.ops_rate == null) n += ' (it has no summary)';
      notes.push(n);
    }
  }
  if (base.started_at && cand.started_at && Date.parse(base.started_at as string) > Date.parse(cand.started_at as string)) {
    notes.push('the baseline started after the candidate');
  }
  return notes;
}

/** A run's cluster flags (pgbench --observe, issue 15), as compare reads them. */
export interface ClusterFlags { topology_changed?: boolean | null; split_brain?: boolean | null }

/**
 * producer compare's warning about a run whose cluster changed topology while it ran (producer/compare/cluster.go
 * addCluster), role "baseline" or "candidate" (the viewer: "candidate 2" … with more than two runs); null for a
 * steady run. A split brain is named as such, the other changes together.
 */
export function topologyWarning(role: string, r: ClusterFlags): string | null {
  if (r.split_brain) return `the ${role} run saw a split brain (two or more primaries at once): its figures are not a steady cluster's`;
  if (r.topology_changed) return `the ${role} run saw the cluster's topology change (a failover, switchover or node down): its figures are not a steady cluster's`;
  return null;
}

/** A run_settings row. */
export interface Setting { name: string; setting: string; unit?: string | null; source?: string }

/** A server setting whose value differs; null on a side whose server had it at its default. */
export interface SettingDiff { name: string; baseline: string | null; candidate: string | null }

/**
 * The settings whose value (with its unit) differs between two runs, by name, as producer compare's diffSettings.
 * Where a setting came from (file, command line, ALTER SYSTEM) is not a difference: the server ran with the same value.
 */
export function settingsDiffer(base: readonly Setting[], cand: readonly Setting[]): SettingDiff[] {
  const value = (s: Setting) => (s.unit ? `${s.setting} ${s.unit}` : s.setting);
  const b = new Map(base.map((s) => [s.name, value(s)]));
  const c = new Map(cand.map((s) => [s.name, value(s)]));
  return [...new Set([...b.keys(), ...c.keys()])].sort()
    .filter((n) => b.get(n) === undefined || c.get(n) === undefined || b.get(n) !== c.get(n))
    .map((n) => ({ name: n, baseline: b.get(n) ?? null, candidate: c.get(n) ?? null }));
}

/**
 * producer compare's note when only one of two runs recorded its server's settings (nothing is compared then);
 * null when both or neither did.
 */
export function settingsNote(base: readonly Setting[], cand: readonly Setting[]): string | null {
  const b = base.length > 0;
  const c = cand.length > 0;
  if (b === c) return null;
  const [has, lacks] = b ? ['baseline', 'candidate'] : ['candidate', 'baseline'];
  return `only the ${has} run recorded its server's settings (producer pgbench --observe); the ${lacks}'s are unknown, so none are compared`;
}

/**
 * The compare page's settings table for 2–5 runs (the first the baseline): the names producer compare's
 * settingsDiffer lists between the baseline and any candidate when both recorded settings, in name order, with
 * each run's value: the setting with its unit, "-" at its default, "?" for a run that recorded no settings. Empty
 * when nothing differs (or nothing was compared).
 */
export function settingsRows(sets: readonly (readonly Setting[])[]): { name: string; values: string[] }[] {
  const [base, ...cands] = sets;
  const names = [...new Set(cands.flatMap((c) => (base.length && c.length ? settingsDiffer(base, c).map((d) => d.name) : [])))].sort();
  return names.map((name) => ({
    name,
    values: sets.map((s) => {
      if (!s.length) return '?';
      const x = s.find((y) => y.name === name);
      return x ? (x.unit ? `${x.setting} ${x.unit}` : x.setting) : '-';
    }),
  }));
}
