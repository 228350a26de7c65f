// Trends page (#/trends?run=<id>[&significance=]): the history of a run as `producer history --json --noise` gives it,
// computed by sink api (the runHistory action): its comparable runs (same kind, device and parameters, finished ok),
// each figure per run over time with its change points marked and the current segment shaded, every point linked to
// its run, and the run-to-run noise of the current segment. verdicts.ts shapes the report; nothing is computed here.
import { RUN_HISTORY_QUERY } from '../queries';
import { chart, ChartGroup, type Mark } from '../charts';
import { sparseXRange, shortId } from '../shape';
import { routeHash } from '../route';
import { fmtTime, h, message, table } from '../ui';
import type { Page } from '../page';
import { FALSE_ALARM, HISTORY_FIGURES, noiseRows, seriesDescription, trendCharts, type HistoryReport } from '../verdicts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const WORSE = '#d62728';
const BETTER = '#2ca02c';

export const trendsPage: Page = async ({ client, route, root, signal, setParams }) => {
  const run = route.params.get('run') ?? '';
  const sigParam = route.params.get('significance');
  const significance = sigParam && Number.isFinite(Number(sigParam)) ? Number(sigParam) : null;
  root.append(h('h1', {}, 'Trends'));
  const form = h('form', { class: 'filters' },
    h('label', {}, 'run ID (its history: the runs of the same kind, device and parameters that finished ok up to it)',
      h('input', { name: 'run', size: 40, value: run })),
    h('label', {}, 'significance of a change point (default 0.05)', h('input', { name: 'significance', size: 5, value: sigParam ?? '' })),
    h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(form);
    setParams({ run: String(data.get('run') ?? '').trim(), significance: String(data.get('significance') ?? '').trim() });
  });
  root.append(form);
  if (!UUID.test(run)) {
    root.append(message('info', run ? `Not a run ID: ${run}.` : 'Open a run and follow its "trends" link, or paste a run ID here.'));
    return;
  }
  let report: HistoryReport;
  try {
    const { runHistory } = await client.request<{ runHistory: { report: HistoryReport } | null }>(RUN_HISTORY_QUERY,
      { run_id: run, figures: HISTORY_FIGURES, false_alarm: FALSE_ALARM, significance }, signal);
    if (!runHistory) throw new Error('runHistory answered nothing');
    report = runHistory.report;
  } catch (e) {
    if ((e as Error).name === 'AbortError') throw e;
    root.append(h('p', { class: 'msg msg-error verdict-error', role: 'alert' }, `The history is unavailable: ${(e as Error).message.replace(/\s+/g, ' ')}`),
      h('p', {}, h('a', { href: routeHash('run', run) }, 'the run page')));
    return;
  }
  const r = report.run;
  root.append(
    h('p', { class: 'series-description' }, seriesDescription(report)),
    h('p', { class: 'muted' }, 'history of ', h('a', { href: routeHash('run', r.run_id) }, `${r.name || 'unnamed'} · ${shortId(r.run_id)}`),
      ' · ', h('a', { href: routeHash('devices', null, { host: r.host_name ?? '' }) }, `device ${r.host_name ?? '?'}`),
      ` · change points at significance ${report.significance} · times UTC`),
  );
  const runs = report.runs ?? [];
  if (!runs.length) {
    root.append(message('empty', 'No comparable run has finished ok yet: nothing to draw.'));
    return;
  }
  const charts = trendCharts(report);
  const group = new ChartGroup();
  const el = h('div', { class: 'charts' });
  root.append(h('h2', {}, 'Per run (the median of its steady-state per-second values)'), el);
  for (const c of charts) {
    const pad = Math.max(60, ((c.x[c.x.length - 1] ?? 0) - (c.x[0] ?? 0)) / 200);
    const marks: Mark[] = c.changes.map((m) => ({ x: m.x, color: m.worse ? WORSE : BETTER, label: m.label }));
    const u = chart(el, {
      title: c.title, yLabel: c.unit, series: [{ label: c.figure }], points: true, zero: true, group,
      xRange: sparseXRange(c.x, 3600), data: [c.x, c.y],
      // A one-run segment is widened a little, or its shading would be a zero-width span nobody sees.
      marks: () => marks, shade: () => (c.segment ? [[c.segment[0] - pad, c.segment[1] + pad]] : []),
    });
    const holder = u.root.parentElement!;
    holder.setAttribute('data-figure', c.figure);
    holder.setAttribute('data-runs', c.runIds.join(','));
    // A click on a point opens its run (a drag is a zoom, not a click).
    let downX = 0;
    u.over.addEventListener('mousedown', (e) => { downX = e.clientX; });
    u.over.addEventListener('click', (e) => {
      const i = u.cursor.idx;
      if (Math.abs(e.clientX - downX) < 4 && i != null && c.runIds[i]) location.hash = routeHash('run', c.runIds[i]);
    });
    el.append(h('ul', { class: 'segment-legend', 'data-figure': c.figure },
      ...c.changes.map((m) => h('li', { class: m.worse ? 'worse' : 'better' }, 'change point at ',
        h('a', { href: routeHash('run', m.runId) }, shortId(m.runId)), `: ${m.label}`)),
      h('li', {}, `current segment (shaded): ${c.segmentRuns} run${c.segmentRuns === 1 ? '' : 's'}`, c.segment ? '' : ' (none drawn)'),
      c.changes.length ? null : h('li', { class: 'muted' }, 'no change point')));
  }
  el.append(h('p', { class: 'legend-note' }, 'Dashed lines: change points (red worse, green better; E-divisive means, each confirmed by a permutation ',
    'test at the significance above, as producer history). Click a point to open its run; drag to zoom, double-click to reset.'));

  const noise = noiseRows(report);
  if (noise.length) {
    root.append(h('h2', {}, `Run-to-run noise of the current segment (minimum effects for ${FALSE_ALARM * 100} % false alarms)`),
      table(['figure', 'runs', 'mean', 'stddev', 'CV', 'spread', 'min effect vs 1 run', 'vs the segment'],
        noise.map((n) => (n.error ? [n.figure, n.runs, h('span', { class: 'muted' }, n.error), '', '', '', '', ''] :
          [n.figure, n.runs, n.mean, n.stddev, n.cv, n.spread, n.minEffect, n.minEffectSegment])), 'noise-table'));
  }

  // Every run of the history, linked, with its values and where a figure changed.
  const figs = (report.series ?? []).map((s) => s.figure);
  const changedAt = new Map<string, string[]>();
  for (const s of report.series ?? []) for (const cp of s.change_points ?? []) changedAt.set(`${cp.index} ${s.figure}`, [cp.worse ? 'worse' : 'better']);
  root.append(h('h2', {}, 'Runs (oldest first)'), table(['#', 'run', 'started (UTC)', 'samples', ...figs],
    runs.map((p, i) => [i + 1, h('a', { href: routeHash('run', p.run_id) }, `${p.name || 'unnamed'} · ${shortId(p.run_id)}`), fmtTime(p.started_at),
      p.samples, ...figs.map((f) => {
        const v = p.values[f];
        const cp = changedAt.get(`${i} ${f}`);
        return v === undefined ? '–' : h('span', { class: cp ? `change ${cp[0]}` : '' }, v.toLocaleString('en-US', { maximumFractionDigits: Math.abs(v) >= 100 ? 1 : 3 }), cp ? ' ◀ change' : '');
      })]), 'history-table'));
  for (const n of report.notes ?? []) root.append(h('p', { class: 'legend-note' }, `note: ${n}`));
  return () => group.destroy();
};
