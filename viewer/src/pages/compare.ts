// Compare page: 2–5 runs, the first the baseline, with the figures, signs and verdicts of `producer compare
// BASELINE CANDIDATE` (compare.ts), and overlays on one axis: seconds from each run's measure start, on a grid
// common to all runs (shape.overlaySeries). The verdicts of the figures with per-second values are producer compare's
// statistics, computed by sink api (the compareRuns action, one call per candidate; verdicts.ts shapes its report);
// the counts keep their thresholds, as the CLI does. Without the action the page shows the rest.
import type uPlot from 'uplot';
import { COMPARE_RUNS_QUERY, COMPARE_VERDICTS_QUERY } from '../queries';
import {
  compareCommand, compareDeltas, compareNotes, formatPercent, settingsNote, settingsRows, topologyWarning, type DeltaCell, type Setting,
} from '../compare';
import { formatNumber, overlaySeries, samplesToSeries, shortId, zeroBasedRange } from '../shape';
import { chart, ChartGroup } from '../charts';
import { cdfCard, fetchCdf } from '../cdf';
import { distributionCard } from '../distribution';
import { routeHash } from '../route';
import { bindZoomToUrl } from '../zoom';
import { fmtTime, h, message, table } from '../ui';
import { compareCommandLine, gateSummary, verdictsByFigure, type ComparisonReport, type VerdictCell } from '../verdicts';
import type { Page } from '../page';
import type { Client } from '../graphql';
import { fetchSamples } from './run';
import { topologyFlagEl } from './cluster';
import { topologyFlag } from '../observe';

/** The server settings that differ (compare.ts settingsRows), one column per run; null when none differ. */
function settingsTable(runs: Record<string, unknown>[], roles: string[]): HTMLElement | null {
  const rows = settingsRows(runs.map((r) => (r.run_settings as Setting[] | undefined) ?? []));
  if (!rows.length) return null;
  return h('div', {}, h('h3', {}, 'Server settings that differ (pg_settings not at their default at the run\'s start; - = default)'),
    table(['setting', ...roles], rows.map((r) => [r.name, ...r.values]), 'settings-differ'));
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const VERDICT_TEXT: Record<DeltaCell['verdict'], string> = {
  better: 'better', worse: 'worse', same: 'same', missing: 'missing', new: 'new', baseline: '',
};

/** The run's identity for headers: two runs with the same name on the same host must not look alike. */
function runLabel(r: Record<string, unknown>): string {
  return `${r.name || 'unnamed'} · ${shortId(r.run_id as string)} · ${r.host_name ?? '?'} · ${fmtTime(r.started_at as string)}`;
}

/** A candidate's report from compareRuns, or why there is none (the error's message, in one line). */
type Verdicts = { report: ComparisonReport; cells: Map<string, VerdictCell> } | { error: string };

/** Asks sink api for producer compare's report of baseline against candidate; a failure is kept, not thrown. */
async function fetchVerdicts(client: Client, baseline: string, candidate: string, maxRegression: string | null,
  confidence: number | null, signal: AbortSignal): Promise<Verdicts> {
  try {
    const { compareRuns } = await client.request<{ compareRuns: { report: ComparisonReport } | null }>(COMPARE_VERDICTS_QUERY,
      { baseline, candidate, max_regression: maxRegression, confidence }, signal);
    if (!compareRuns) return { error: 'compareRuns answered nothing' };
    return { report: compareRuns.report, cells: verdictsByFigure(compareRuns.report) };
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    return { error: (e as Error).message.replace(/\s+/g, ' ') };
  }
}

/**
 * One candidate's statistical verdicts, as producer compare's statistics table: per figure with per-second values the
 * verdict (the samples an inconclusive one needs), the change of the compared statistic, its confidence interval and
 * the effect size; the gate's outcome under it.
 */
function verdictTable(v: { report: ComparisonReport; cells: Map<string, VerdictCell> }, caption: string): HTMLElement {
  const r = v.report;
  const judged = (r.figures ?? []).filter((f) => v.cells.get(f.name)!.by === 'statistics' || f.stat_error);
  const gate = gateSummary(r);
  const conf = `${(100 * r.confidence).toFixed(0)} % CI of the change`;
  return h('div', { class: 'verdicts', 'data-candidate': r.candidate.run_id },
    h('h3', {}, caption),
    judged.length
      ? table(['figure', 'statistic', 'verdict', 'change', conf, 'effect size', 'max regression'], judged.map((f) => {
        const c = v.cells.get(f.name)!;
        return [f.name, f.statistic ?? '–', h('span', { class: `verdict ${c.cls}`, title: c.title }, c.text), c.change ?? '–', c.interval ?? '–',
          c.effect ?? '–', f.max_regression_pct == null ? '–' : `${f.max_regression_pct} %`];
      }), 'verdict-table')
      : message('empty', 'No figure with per-second values to judge.'),
    h('p', { class: `gate ${gate.fails ? 'worse' : ''}` }, h('strong', {}, 'Gate: '), gate.text),
    ...(r.warnings ?? []).map((w) => h('p', { class: 'msg msg-error' }, `WARNING: ${w}`)));
}

export const comparePage: Page = async ({ client, route, root, signal, setParams }) => {
  const ids = (route.params.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  root.append(h('h1', {}, 'Compare runs'));
  // producer compare's --max-regression and --confidence; none given gates nothing, as the CLI without the flag.
  const maxRegression = route.params.get('max_regression') || null;
  const confParam = route.params.get('confidence');
  const confidence = confParam && Number.isFinite(Number(confParam)) ? Number(confParam) : null;
  const form = h('form', { class: 'filters' },
    h('label', {}, 'run IDs (2–5, comma-separated; the first is the baseline, as in producer compare BASELINE CANDIDATE)',
      h('input', { name: 'ids', size: 100, value: ids.join(',') })),
    h('label', {}, 'max regression (as --max-regression: 5% or p99=10%,throughput=3%; empty gates nothing)',
      h('input', { name: 'max_regression', size: 24, value: maxRegression ?? '' })),
    h('label', {}, 'confidence (default 0.95)', h('input', { name: 'confidence', size: 5, value: confParam ?? '' })),
    h('button', { type: 'submit' }, 'Compare'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    setParams({ ids: String(data.get('ids') ?? '').replace(/\s+/g, ''), max_regression: String(data.get('max_regression') ?? '').replace(/\s+/g, ''),
      confidence: String(data.get('confidence') ?? '').trim() });
  });
  root.append(form);

  const bad = ids.filter((id) => !UUID.test(id));
  if (ids.length < 2 || ids.length > 5 || bad.length) {
    root.append(message('info', bad.length
      ? `Not a run ID: ${bad.join(', ')}.`
      : 'Choose 2 to 5 runs: tick them on the runs page and press "Compare selected" (the oldest becomes the baseline), or paste their IDs here.'));
    return;
  }
  const [{ runs: found }, samples, verdicts] = await Promise.all([
    client.request<{ runs: Record<string, unknown>[] }>(COMPARE_RUNS_QUERY, { ids }, signal),
    Promise.all(ids.map((id) => fetchSamples(client, id, -1, signal))),
    // Each candidate against the baseline, as producer compare BASELINE CANDIDATE; by candidate id.
    Promise.all(ids.slice(1).map((id) => fetchVerdicts(client, ids[0], id, maxRegression, confidence, signal)))
      .then((vs) => new Map(ids.slice(1).map((id, i) => [id, vs[i]]))),
  ]);
  // Keep the URL's order: the first ID is the baseline.
  const byId = new Map(found.map((r) => [r.run_id as string, r]));
  const missing = ids.filter((id) => !byId.has(id));
  if (missing.length) root.append(message('error', `Not found: ${missing.join(', ')}. Compared the others.`));
  const order = ids.map((id, i) => ({ id, run: byId.get(id)!, rows: samples[i] })).filter((x) => x.run);
  if (order.length < 2) {
    root.append(message('empty', 'Fewer than two of these runs exist; nothing to compare.'));
    return;
  }
  const role = (i: number) => (i === 0 ? 'baseline' : order.length === 2 ? 'candidate' : `candidate ${i}`);

  const deltas = compareDeltas(order.map((o) => o.run));
  const head = ['figure', ...order.map((o, i) => `${role(i)}: ${runLabel(o.run)}`), 'better'];
  // A candidate's verdicts when its compareRuns succeeded, against the page's baseline (ids[0]: the same run order[0] is).
  const statsOf = (i: number) => {
    const v = i > 0 && order[0].id === ids[0] ? verdicts.get(order[i].id) : undefined;
    return v && 'cells' in v ? v.cells : null;
  };
  const rows = deltas.map((d) => [
    d.figure.label,
    ...d.cells.map((c, i) => {
      const sv = statsOf(i)?.get(d.figure.name);
      // A figure with per-second values: producer compare's statistical verdict replaces the threshold's.
      if (sv && sv.by === 'statistics') {
        return h('span', { class: `num delta stat ${sv.cls}`, title: `${sv.title}${sv.interval ? ` Interval of the change: ${sv.interval}; effect size ${sv.effect}.` : ''}` },
          formatNumber(c.value), ` (${formatPercent(c.percent)}) ${sv.text}`);
      }
      return h('span', { class: `num delta ${sv?.regression ? 'worse regression' : c.verdict}`, title: c.verdict === 'baseline' ? 'baseline' : `${VERDICT_TEXT[c.verdict]} than the baseline; change ${c.delta === null ? 'n/a' : formatNumber(c.delta)}${sv ? `; ${sv.title}` : ''}` },
        formatNumber(c.value), c.verdict === 'baseline' ? '' : ` (${formatPercent(c.percent)}) ${sv?.regression ? sv.text : VERDICT_TEXT[c.verdict]}`);
    }),
    d.figure.better,
  ]);
  // The statistical verdicts per candidate, or the action's error in one line each (the page works on without them).
  const verdictSection = () => {
    if (order[0].id !== ids[0]) return [message('info', `The baseline ${shortId(ids[0])} was not found: no statistical verdicts.`)];
    const out: HTMLElement[] = [];
    order.slice(1).forEach((o, k) => {
      const v = verdicts.get(o.id);
      if (!v) return;
      if ('error' in v) {
        out.push(h('p', { class: 'msg msg-error verdict-error', role: 'alert' }, `Statistical verdicts for ${role(k + 1)} ${shortId(o.id)} unavailable: ${v.error}`));
      } else {
        out.push(verdictTable(v, `Statistical verdicts: ${role(k + 1)} ${shortId(o.id)} against the baseline`));
      }
    });
    if (out.some((e) => e.classList.contains('verdicts'))) {
      out.push(h('p', { class: 'legend-note stat-note' },
        'These statistics are the CLI\'s: sink api runs producer compare\'s own code (steady-state per-second samples, warm-up and a final partial second excluded; ',
        'a circular block bootstrap of the change in the median per-second value, or the block separation test on short runs: "(blocks)"), as ',
        ...order.slice(1).map((o, i) => h('code', {}, `${i ? '; ' : ''}${compareCommandLine(order[0].id, o.id, maxRegression, confidence)} --json`)),
        '. Inconclusive: too short or too noisy to tell a change of the minimum effect from none, with the samples per run it would need. ',
        'Counts (errors, loss, dup, reorder, failed) keep their threshold on the run totals. A figure fails the gate only when significantly worse by at least its max regression.'));
    }
    return out;
  };
  // producer compare's notes on what makes each candidate less comparable to the baseline.
  const notesOf = () => order.slice(1).map((o, i) => {
    const notes = compareNotes(order[0].run, o.run);
    const sn = settingsNote((order[0].run.run_settings as Setting[] | undefined) ?? [], (o.run.run_settings as Setting[] | undefined) ?? []);
    if (sn) notes.push(sn);
    return notes.length ? h('ul', { class: 'compare-notes' }, ...notes.map((n) => h('li', {}, `${order.length > 2 ? `${role(i + 1)}: ` : ''}note: ${n}`))) : null;
  });
  // producer compare's warning for a run whose cluster changed under it (failover, node down, split brain).
  const topologyWarnings = () => order.flatMap((o, i) => {
    const w = topologyWarning(role(i), o.run);
    return w ? [h('div', { class: `msg topology-banner topology-warning ${topologyFlag(o.run)!.cls}`, role: 'alert' },
      `WARNING: ${w} (${shortId(o.id)}: `, h('a', { href: routeHash('run', o.id) }, 'its run page'), ' says when)')] : [];
  });
  const reorder = (first: string) => routeHash('compare', null, { ids: [first, ...order.map((o) => o.id).filter((x) => x !== first)].join(',') });
  root.append(
    h('h2', {}, 'Summary and change against the baseline'),
    h('ul', { class: 'compare-runs' }, ...order.map((o, i) => h('li', {}, h('strong', {}, `${role(i)}: `),
      h('a', { href: routeHash('run', o.id) }, runLabel(o.run)), ` [${o.run.kind}, ${o.run.status}]`,
      topologyFlag(o.run) ? ' ' : null, topologyFlagEl(o.run),
      i ? h('a', { class: 'make-baseline', href: reorder(o.id) }, ' make this the baseline') : null))),
    ...topologyWarnings(),
    deltas.length ? table(head, rows, 'delta-table') : message('empty', 'These runs have no summary figures yet.'),
    ...verdictSection(),
    ...[settingsTable(order.map((o) => o.run), order.map((_, i) => role(i)))].filter((t): t is HTMLElement => t !== null),
    ...notesOf().filter((n): n is HTMLUListElement => n !== null),
    h('p', { class: 'legend-note' },
      'Change = candidate − baseline, in % of the baseline; green: better, red: worse, by each figure\'s direction ("better" column); ',
      'the figures with per-second values (throughput, tps, latency) show producer compare\'s statistical verdict when sink api could give it, the counts their threshold\'s. ',
      'Same figures, signs and verdicts as ', ...order.slice(1).map((o, i) => h('code', {}, `${i ? '; ' : ''}${compareCommand([order[0].id, o.id])}`)),
      '. +inf %: from a baseline of 0. Measurement phase only.'),
  );

  const dist = distributionCard(order.map((o) => o.run), 'Latency distribution (measurement phase, ms, log scale)',
    order.map((o, i) => `${role(i)} ${shortId(o.id)}`));
  if (dist) root.append(dist);
  // The runs' CDFs from their merged histograms, overlaid in the same colours (below the time charts).
  const cdfEl = h('div', { class: 'cdf-holder' });
  Promise.all(order.map((o) => fetchCdf(client, o.id, signal)))
    .then((cdfs) => cdfCard(cdfEl, cdfs, order.map((o, i) => `${role(i)} ${shortId(o.id)}`), 'Latency distributions from the merged histograms (CDF, overlaid)'))
    .catch((e: Error) => { if (!signal.aborted) cdfEl.append(message('error', `Latency distributions unavailable: ${e.message}`)); });

  const series = order.map((o) => samplesToSeries(o.rows));
  const group = new ChartGroup();
  if (series.every((s) => s.x.length === 0)) {
    root.append(message('empty', 'None of these runs has samples to overlay.'));
  } else {
    root.append(h('h2', {}, 'Overlaid (x: seconds from each run\'s measure start; warm-up is negative)'));
    const el = h('div', { class: 'charts' });
    root.append(el);
    const legend = order.map((o, i) => ({ label: `${role(i)} ${shortId(o.run.run_id as string)}`, width: i === 0 ? 2 : 1.5 }));
    const t0 = (i: number) => {
      const ms = order[i].run.measure_start ? Date.parse(order[i].run.measure_start as string) : NaN;
      return Number.isNaN(ms) ? (series[i].x[0] ?? 0) : ms / 1000;
    };
    const thr = overlaySeries(series.map((s, i) => ({ x: s.x, y: s.opsRate, t0: t0(i) })));
    const p99 = overlaySeries(series.map((s, i) => ({ x: s.x, y: s.latency[3], t0: t0(i) })));
    // The p99 axis fits the measurement (x ≥ 0): warm-up spikes are clipped.
    let p99max = 0;
    p99[0].forEach((x, k) => {
      if ((x as number) < 0) return;
      for (let j = 1; j < p99.length; j++) if ((p99[j][k] ?? 0) > p99max) p99max = p99[j][k] as number;
    });
    chart(el, { title: 'Throughput', yLabel: 'ops/s', time: false, series: legend, zero: true, group,
      data: thr as uPlot.AlignedData });
    chart(el, { title: 'Latency p99', yLabel: 'ms', time: false, series: legend, group,
      yRange: () => (p99max > 0 ? zeroBasedRange(p99max) : null), data: p99 as uPlot.AlignedData });
    el.append(h('p', { class: 'legend-note' }, 'Drag across a chart to zoom (the range goes into the URL: xfrom/xto, seconds), double-click to reset; the crosshair is shared.'));
    bindZoomToUrl(group, { keys: ['xfrom', 'xto'], time: false, reset: 'delete' });
  }
  root.append(cdfEl);
  return () => group.destroy();
};
