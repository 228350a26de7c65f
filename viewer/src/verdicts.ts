// The statistics of `producer compare --json` and `producer history --json --noise` (producer/compare, internal/stat)
// as the viewer shows them. The viewer computes none of it: sink api serves the CLI's own reports through two Hasura
// query actions (compareRuns, runHistory: queries.ts), and these pure functions turn a report into what a page draws.
// Unit-tested in test/verdicts.test.ts.

/** stat.Interval: a confidence interval. */
export interface Interval { lo: number; hi: number }

/** stat.Comparison's verdicts (internal/stat/compare.go verdictNames). */
export type StatVerdict = 'no significant change' | 'better' | 'worse' | 'inconclusive';

/** stat.Comparison: the statistical comparison of one figure's per-second samples. */
export interface StatComparison {
  quantile: number;
  confidence: number;
  min_effect: number;
  baseline: number;
  candidate: number;
  diff: number;
  diff_ci?: Interval | null;
  relative: number;
  relative_ci?: Interval | null;
  effect_size: number;
  significant: boolean;
  verdict: StatVerdict;
  reason: string;
  need?: number;
  baseline_samples: number;
  candidate_samples: number;
  resamples: number;
}

/** producer/compare figureResult, the JSON form. */
export interface FigureResult {
  name: string;
  column: string;
  unit?: string;
  better: 'higher' | 'lower';
  baseline: number | null;
  candidate: number | null;
  delta: number | null;
  delta_pct: number | null;
  worse_pct: number | null;
  max_regression_pct: number | null;
  verdict: string; // better, same, worse, missing, new
  regression: boolean;
  gate?: 'statistics' | 'threshold';
  statistic?: string;
  stat: StatComparison | null;
  stat_error?: string;
  segment?: { first_run_id: string; runs: number };
}

/** producer/compare report: `producer compare --json`, the compareRuns action's report. */
export interface ComparisonReport {
  baseline: { run_id: string };
  candidate: { run_id: string };
  baseline_selection: string;
  figures: FigureResult[] | null;
  regressions: string[] | null;
  confidence: number;
  warnings: string[] | null;
  notes: string[] | null;
  exit_code: number;
}

/** A percentage from a fraction, signed, as producer compare's signedPct (two decimals). */
export function signedPct(fraction: number): string {
  return `${fraction >= 0 ? '+' : ''}${(100 * fraction).toFixed(2)} %`;
}

/** What the compare page shows of one figure's verdict. */
export interface VerdictCell {
  /** The class of the cell: better, worse, same (no significant change), inconclusive, or the threshold's verdict. */
  cls: string;
  /** The verdict in words, as the CLI prints it ("inconclusive (need 240 samples per run)"; "REGRESSION (worse)"). */
  text: string;
  /** The confidence interval of the relative change ("-3.10 % … +1.20 %"), "(blocks)" when decided by block separation. */
  interval: string | null;
  /** The effect size (standardised difference), signed. */
  effect: string | null;
  /** The relative change of the compared statistic. */
  change: string | null;
  /** What is compared and how: the statistic, samples, the reason, or why nothing was judged. */
  title: string;
  /** statistics: a per-second figure judged by stat; threshold: a count (or a figure stat could not judge). */
  by: 'statistics' | 'threshold';
  regression: boolean;
}

const STAT_CLASS: Record<StatVerdict, string> = { 'no significant change': 'same', better: 'better', worse: 'worse', inconclusive: 'inconclusive' };

/**
 * One figure of a report as the compare page shows it: the statistical verdict of a figure with per-second values
 * (throughput, tps, the latency percentiles), else the threshold's verdict on the run values (the counts, as
 * producer compare gates them), in the words of producer compare's text output.
 */
export function verdictCell(f: FigureResult): VerdictCell {
  const reg = (t: string) => (f.regression ? `REGRESSION (${t})` : t);
  const c = f.stat;
  if (!c) {
    const why = f.stat_error ? `not judged by statistics: ${f.stat_error}` : 'a count: judged by its threshold on the run totals';
    return { cls: f.regression ? 'worse regression' : f.verdict, text: reg(f.verdict), interval: null, effect: null, change: null,
      title: why, by: 'threshold', regression: f.regression };
  }
  let text: string = c.verdict;
  if (c.verdict === 'inconclusive' && c.need) text += ` (need ${c.need} ${f.segment ? 'segment runs' : 'samples per run'})`;
  let interval: string | null = null;
  if (c.relative_ci) {
    interval = `${signedPct(c.relative_ci.lo)} … ${signedPct(c.relative_ci.hi)}`;
    // stat's block separation test: the interval is the range of the block differences, not a bootstrap interval.
    if (!f.segment && c.resamples === 0) interval += ' (blocks)';
  }
  const sign = c.effect_size >= 0 ? '+' : '';
  return {
    cls: `${STAT_CLASS[c.verdict]}${f.regression ? ' regression' : ''}`,
    text: reg(text),
    interval,
    effect: `${sign}${c.effect_size.toFixed(2)}`,
    change: signedPct(c.relative),
    title: `${f.statistic ?? 'statistic'}: ${c.baseline_samples} / ${c.candidate_samples} samples, ${(100 * c.confidence).toFixed(0)} % confidence, ` +
      `minimum effect ${(100 * c.min_effect).toFixed(2)} %. ${c.reason}`,
    by: 'statistics',
    regression: f.regression,
  };
}

/** The gate's outcome over a report: fails (with the failing figures), passes, or nothing gated. */
export function gateSummary(r: ComparisonReport): { fails: boolean; text: string } {
  const regs = r.regressions ?? [];
  if (regs.length) return { fails: true, text: `the gate fails: ${regs.join(', ')} (producer compare would exit ${r.exit_code})` };
  const gated = (r.figures ?? []).some((f) => f.max_regression_pct != null);
  if (!gated) return { fails: false, text: 'no max regression given: nothing is gated (as producer compare without --max-regression)' };
  return { fails: false, text: 'the gate passes: no figure is worse than its max regression' };
}

/** The verdicts of a report by figure name (producer compare's FIGURE, compare.ts's Figure.name). */
export function verdictsByFigure(r: ComparisonReport): Map<string, VerdictCell> {
  return new Map((r.figures ?? []).map((f) => [f.name, verdictCell(f)]));
}

/** The command line whose --json the compareRuns action answers with. */
export function compareCommandLine(baseline: string, candidate: string, maxRegression: string | null, confidence: number | null): string {
  let s = 'producer compare';
  if (maxRegression) s += ` --max-regression ${maxRegression}`;
  if (confidence != null) s += ` --confidence ${confidence}`;
  return `${s} ${baseline} ${candidate}`;
}

// ---- history: `producer history --json --noise` ----

/** stat.Noise: a figure's run-to-run noise over the current segment. */
export interface Noise { runs: number; mean: number; stddev: number; cv: number; spread: number }

/** producer/compare historyChange: a change point, at the first run after the change. */
export interface HistoryChange {
  run_id: string;
  index: number; // into the report's runs
  started_at: string | null;
  before: number;
  after: number;
  relative: number;
  p_value: number;
  worse: boolean;
}

/** producer/compare seriesResult: one figure's history. */
export interface HistorySeries {
  figure: string;
  statistic: string;
  unit?: string;
  better: 'higher' | 'lower';
  runs: number;
  change_points: HistoryChange[] | null;
  segment: { first_run_id: string; runs: number };
  noise: Noise | null;
  noise_error?: string;
  min_effect?: number | null;
  min_effect_segment?: number | null;
}

/** producer/compare historyPoint: one run of a history. */
export interface HistoryPoint {
  run_id: string;
  name?: string;
  started_at: string | null;
  samples: number;
  values: Record<string, number>;
}

/** producer/compare historyReport: `producer history --json --noise`, the runHistory action's report. */
export interface HistoryReport {
  run: { run_id: string; kind: string; name?: string; host_name?: string; status: string; parameters: unknown; tags: unknown };
  significance: number;
  false_alarm?: number;
  runs: HistoryPoint[] | null;
  series: HistorySeries[] | null;
  notes: string[] | null;
  exit_code: number;
}

/** The false-alarm rate the noise's minimum effects are for: producer history's --false-alarm default. */
export const FALSE_ALARM = 0.05;

/** Every figure a history can follow (producer/compare historyFigures), in its order: the Trends page asks for all. */
export const HISTORY_FIGURES = ['throughput', 'p50', 'p90', 'p99', 'p99.9', 'tps'];

/** A change point as the Trends page marks and lists it. */
export interface TrendChange {
  x: number; // the run's start, Unix seconds
  runId: string;
  worse: boolean;
  /** "+12.30 % worse, p = 0.004: 1,234 → 1,386 ms" */
  label: string;
}

/** One figure's chart on the Trends page. */
export interface TrendChart {
  figure: string;
  title: string;
  unit: string;
  x: number[]; // run starts, Unix seconds, oldest first
  y: (number | null)[];
  runIds: string[]; // the run of each point
  changes: TrendChange[];
  /** The current segment, [first run's start, last run's start]; null without runs. */
  segment: [number, number] | null;
  segmentRuns: number;
}

const fmtValue = (v: number, unit?: string) => `${v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 1 : 3 })}${unit ? ` ${unit}` : ''}`;

/**
 * The Trends page's charts: one per series of the report, each run a point at its start time (runs without a start
 * or without the figure are left out), the change points as marks at their run, the current segment's span.
 */
export function trendCharts(r: HistoryReport): TrendChart[] {
  const runs = r.runs ?? [];
  return (r.series ?? []).map((s) => {
    const pts = runs.filter((p) => p.started_at && s.figure in p.values);
    const x = pts.map((p) => Date.parse(p.started_at!) / 1000);
    const changes = (s.change_points ?? []).filter((c) => runs[c.index]?.started_at).map((c) => ({
      x: Date.parse(runs[c.index].started_at!) / 1000,
      runId: c.run_id,
      worse: c.worse,
      label: `${signedPct(c.relative)} ${c.worse ? 'worse' : 'better'}, p = ${c.p_value.toFixed(3)}: ${fmtValue(c.before, s.unit)} → ${fmtValue(c.after, s.unit)}`,
    }));
    const first = pts.findIndex((p) => p.run_id === s.segment.first_run_id);
    return {
      figure: s.figure,
      title: `${s.figure} (${s.statistic}; ${s.better} is better)`,
      unit: s.unit ?? '',
      x,
      y: pts.map((p) => p.values[s.figure]),
      runIds: pts.map((p) => p.run_id),
      changes,
      segment: first >= 0 ? [x[first], x[x.length - 1]] : null,
      segmentRuns: s.segment.runs,
    };
  });
}

/** One figure's run-to-run noise as the devices page lists it. */
export interface NoiseRow {
  figure: string;
  runs: number;
  mean: string;
  stddev: string;
  cv: string;
  spread: string;
  /** The minimum effect against one run at the report's false-alarm rate, and against the whole segment. */
  minEffect: string;
  minEffectSegment: string;
  /** Why there is no noise (fewer than 3 runs in the segment). */
  error: string | null;
}

const pct = (f: number | null | undefined) => (f == null ? '–' : `${(100 * f).toFixed(2)} %`);

/** The noise of every series of a history (producer history --noise's table). */
export function noiseRows(r: HistoryReport): NoiseRow[] {
  return (r.series ?? []).map((s) => {
    const n = s.noise;
    if (!n) return { figure: s.figure, runs: s.segment.runs, mean: '–', stddev: '–', cv: '–', spread: '–', minEffect: '–', minEffectSegment: '–', error: s.noise_error ?? 'no noise' };
    return {
      figure: s.figure, runs: n.runs, mean: fmtValue(n.mean, s.unit), stddev: fmtValue(n.stddev, s.unit), cv: pct(n.cv), spread: pct(n.spread),
      minEffect: pct(s.min_effect), minEffectSegment: pct(s.min_effect_segment), error: null,
    };
  });
}

/**
 * The runs a devices page asks the noise of: the latest finished-ok run of each series (kind and parameters; the
 * history's own comparability rule adds the device), newest first in, one per series out, in the input's order.
 */
export function latestPerSeries<T extends { run_id: string; kind: string; status: string; parameters?: unknown }>(runs: readonly T[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const r of runs) {
    if (r.status !== 'ok') continue;
    const key = `${r.kind} ${canonical(r.parameters ?? {})}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** JSON with sorted keys: equal parameters give equal keys, whatever order the producer wrote them in. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** What a history is of, in one line: the device, kind and parameters of its runs, and the run's tags. */
export function seriesDescription(r: HistoryReport): string {
  const run = r.run;
  const params = canonical(run.parameters ?? {});
  const tags = canonical(run.tags ?? {});
  // runHistory follows producer history's default rule: tags are not compared (--same-tags is the CLI's only).
  return `${run.kind} runs on ${run.host_name ?? '?'} with parameters ${params}, finished ok, any tags (this run's: ${tags}): ` +
    `${(r.runs ?? []).length} comparable runs, oldest first`;
}
