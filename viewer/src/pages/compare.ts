// Compare page: 2–5 runs, the first the baseline, with the figures, signs and verdicts of `producer compare
// BASELINE CANDIDATE` (compare.ts), and overlays on one axis: seconds from each run's measure start, on a grid
// common to all runs (shape.overlaySeries).
import type uPlot from 'uplot';
import { COMPARE_RUNS_QUERY } from '../queries';
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
import type { Page } from '../page';
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

export const comparePage: Page = async ({ client, route, root, signal, setParams }) => {
  const ids = (route.params.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  root.append(h('h1', {}, 'Compare runs'));
  const form = h('form', { class: 'filters' },
    h('label', {}, 'run IDs (2–5, comma-separated; the first is the baseline, as in producer compare BASELINE CANDIDATE)',
      h('input', { name: 'ids', size: 100, value: ids.join(',') })),
    h('button', { type: 'submit' }, 'Compare'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    setParams({ ids: String(new FormData(form).get('ids') ?? '').replace(/\s+/g, '') });
  });
  root.append(form);

  const bad = ids.filter((id) => !UUID.test(id));
  if (ids.length < 2 || ids.length > 5 || bad.length) {
    root.append(message('info', bad.length
      ? `Not a run ID: ${bad.join(', ')}.`
      : 'Choose 2 to 5 runs: tick them on the runs page and press "Compare selected" (the oldest becomes the baseline), or paste their IDs here.'));
    return;
  }
  const [{ runs: found }, samples] = await Promise.all([
    client.request<{ runs: Record<string, unknown>[] }>(COMPARE_RUNS_QUERY, { ids }, signal),
    Promise.all(ids.map((id) => fetchSamples(client, id, -1, signal))),
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
  const rows = deltas.map((d) => [
    d.figure.label,
    ...d.cells.map((c) =>
      h('span', { class: `num delta ${c.verdict}`, title: c.verdict === 'baseline' ? 'baseline' : `${VERDICT_TEXT[c.verdict]} than the baseline; change ${c.delta === null ? 'n/a' : formatNumber(c.delta)}` },
        formatNumber(c.value), c.verdict === 'baseline' ? '' : ` (${formatPercent(c.percent)}) ${VERDICT_TEXT[c.verdict]}`),
    ),
    d.figure.better,
  ]);
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
    ...[settingsTable(order.map((o) => o.run), order.map((_, i) => role(i)))].filter((t): t is HTMLElement => t !== null),
    ...notesOf().filter((n): n is HTMLUListElement => n !== null),
    h('p', { class: 'legend-note' },
      'Change = candidate − baseline, in % of the baseline; green: better, red: worse, by each figure\'s direction ("better" column). ',
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
