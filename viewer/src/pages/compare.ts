// Compare page: 2–5 runs overlaid on one time axis (seconds since each run's first sample) and a table of each
// summary figure with its change in % against the first run.
import type uPlot from 'uplot';
import { COMPARE_RUNS_QUERY } from '../queries';
import { compareDeltas, formatNumber, formatPercent, overlaySeries, samplesToSeries } from '../shape';
import { chart } from '../charts';
import { routeHash } from '../route';
import { h, message, table } from '../ui';
import type { Page } from '../page';
import { fetchSamples } from './run';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const comparePage: Page = async ({ client, route, root, signal, setParams }) => {
  const ids = (route.params.get('ids') ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  root.append(h('h1', {}, 'Compare runs'));
  const form = h('form', { class: 'filters' },
    h('label', {}, 'run IDs (2–5, comma-separated; the first is the baseline)',
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
      : 'Choose 2 to 5 runs: tick them on the runs page and press "Compare selected", or paste their IDs here.'));
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
  const order = ids.map((id, i) => ({ id, run: byId.get(id), rows: samples[i] })).filter((x) => x.run);
  if (order.length < 2) {
    root.append(message('empty', 'Fewer than two of these runs exist; nothing to compare.'));
    return;
  }
  const label = (r: Record<string, unknown>) => `${r.name || (r.run_id as string).slice(0, 8)} (${r.host_name ?? '?'})`;

  const deltas = compareDeltas(order.map((o) => o.run!));
  const head = ['figure', ...order.map((o, i) => (i === 0 ? `${label(o.run!)} — baseline` : label(o.run!)))];
  const rows = deltas.map((d) => [
    d.figure.label,
    ...d.cells.map((c) =>
      h('span', { class: `num delta ${c.verdict}` }, formatNumber(c.value), c.verdict === 'baseline' ? '' : ` (${formatPercent(c.percent)})`),
    ),
  ]);
  root.append(
    h('h2', {}, 'Summary and change against the baseline'),
    h('p', {}, ...order.map((o, i) => h('span', {}, i ? ' · ' : '', h('a', { href: routeHash('run', o.id) }, label(o.run!)), ` [${o.run!.kind}, ${o.run!.status}]`))),
    deltas.length ? table(head, rows, 'delta-table') : message('empty', 'These runs have no summary figures yet.'),
    h('p', { class: 'legend-note' }, 'Green: better than the baseline, red: worse. n/a: no value, or a zero baseline.'),
  );

  const series = order.map((o) => samplesToSeries(o.rows));
  const charts: uPlot[] = [];
  if (series.every((s) => s.x.length === 0)) {
    root.append(message('empty', 'None of these runs has samples to overlay.'));
  } else {
    root.append(h('h2', {}, 'Overlaid (x: seconds since each run\'s first sample, warm-up included)'));
    const el = h('div', { class: 'charts' });
    root.append(el);
    const legend = order.map((o) => ({ label: label(o.run!) }));
    charts.push(
      chart(el, { title: 'Throughput', yLabel: 'ops/s', time: false, series: legend,
        data: overlaySeries(series.map((s) => ({ x: s.x, y: s.opsRate }))) as uPlot.AlignedData }),
      chart(el, { title: 'Latency p99', yLabel: 'ms', time: false, series: legend,
        data: overlaySeries(series.map((s) => ({ x: s.x, y: s.latency[3] }))) as uPlot.AlignedData }),
    );
  }
  return () => charts.forEach((c) => c.destroy());
};
