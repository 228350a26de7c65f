// Devices page: every host that ran something, with its latest facts; for a chosen host, its recent runs and the
// trend of throughput and p99 latency over them, one series per kind of run. Each device's run-to-run noise per figure
// is fetched on demand (its expander): producer history --noise's, from the runHistory action, for the latest ok run
// of each of its series (kind and parameters), with a link to that series' Trends page.
import { DEVICES_QUERY, DEVICE_RUNS_QUERY, DEVICE_SERIES_QUERY, RUN_HISTORY_QUERY } from '../queries';
import type { Client } from '../graphql';
import { FALSE_ALARM, HISTORY_FIGURES, latestPerSeries, noiseRows, seriesDescription, type HistoryReport } from '../verdicts';
import { chart, ChartGroup } from '../charts';
import { bindZoomToUrl } from '../zoom';
import { shortId, sparseXRange } from '../shape';
import { routeHash } from '../route';
import { fmtTime, h, message, table } from '../ui';
import type { Page } from '../page';
import { RUN_HEADERS, runRows, type RunListRow } from './runs';

const RECENT = 100;

/** The runs a device's noise is asked of: its newest ok runs, reduced to one per series. */
const SERIES_RUNS = 200;
/** At most this many series per device get a history (one runHistory call each). */
const MAX_SERIES = 8;

/**
 * A device's run-to-run noise, loaded when first opened: for the latest ok run of each series, runHistory's noise per
 * figure over the current segment and the minimum effect at FALSE_ALARM false alarms, and its Trends link. An
 * action error is shown in one line in place of that series' table.
 */
export function noiseExpander(client: Client, host: string, signal: AbortSignal): HTMLElement {
  const body = h('div', { class: 'noise-body' });
  const el = h('details', { class: 'device-noise', 'data-host': host },
    h('summary', {}, `run-to-run noise of ${host} (minimum effects for ${FALSE_ALARM * 100} % false alarms)`), body);
  let loaded = false;
  el.addEventListener('toggle', () => {
    if (!el.open || loaded) return;
    loaded = true;
    body.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    void loadNoise(client, host, signal).then((children) => body.replaceChildren(...children)).catch((e: Error) => {
      if (signal.aborted) return;
      loaded = false; // opening it again retries
      body.replaceChildren(h('p', { class: 'msg msg-error verdict-error', role: 'alert' }, `Noise unavailable: ${e.message.replace(/\s+/g, ' ')}`));
    });
  });
  return el;
}

async function loadNoise(client: Client, host: string, signal: AbortSignal): Promise<HTMLElement[]> {
  const { runs } = await client.request<{ runs: { run_id: string; kind: string; name: string | null; status: string; started_at: string | null; parameters: unknown }[] }>(
    DEVICE_SERIES_QUERY, { host, status: 'ok', limit: SERIES_RUNS }, signal);
  const all = latestPerSeries(runs);
  if (!all.length) return [message('empty', `No run of ${host} finished ok: no noise to measure.`)];
  const series = all.slice(0, MAX_SERIES);
  const reports = await Promise.all(series.map((r) => client.request<{ runHistory: { report: HistoryReport } | null }>(RUN_HISTORY_QUERY,
    { run_id: r.run_id, figures: HISTORY_FIGURES, false_alarm: FALSE_ALARM }, signal)
    .then((d) => (d.runHistory ? d.runHistory.report : new Error('runHistory answered nothing')))
    .catch((e: Error) => { if (e.name === 'AbortError') throw e; return e; })));
  const out: HTMLElement[] = [];
  series.forEach((r, i) => {
    const rep = reports[i];
    const title = h('h3', {}, `${r.kind}: latest ${r.name || 'unnamed'} · ${shortId(r.run_id)} `,
      h('a', { href: routeHash('trends', null, { run: r.run_id }), class: 'trends-link' }, 'trends'));
    if (rep instanceof Error) {
      out.push(h('div', { class: 'noise-series' }, title, h('p', { class: 'msg msg-error verdict-error', role: 'alert' }, `Noise unavailable: ${rep.message.replace(/\s+/g, ' ')}`)));
      return;
    }
    const rows = noiseRows(rep);
    out.push(h('div', { class: 'noise-series', 'data-run': r.run_id }, title, h('p', { class: 'muted' }, seriesDescription(rep)),
      rows.length ? table(['figure', 'runs', 'mean', 'stddev', 'CV', 'spread', 'min effect vs 1 run', 'vs the segment'],
        rows.map((n) => (n.error ? [n.figure, n.runs, h('span', { class: 'muted' }, n.error), '', '', '', '', ''] :
          [n.figure, n.runs, n.mean, n.stddev, n.cv, n.spread, n.minEffect, n.minEffectSegment])), 'noise-table')
        : message('empty', 'No figure with per-second values.')));
  });
  if (all.length > MAX_SERIES) out.push(h('p', { class: 'legend-note' }, `${all.length - MAX_SERIES} older series not shown.`));
  out.push(h('p', { class: 'legend-note' }, 'The noise is producer history --noise\'s: the current segment\'s runs (since the last change point) as ',
    'repeated identical runs; CV = stddev / mean of their per-run medians; min effect: the smallest relative change a gate against one run ',
    '(or the whole segment) should act on at that false-alarm rate. Computed by sink api.'));
  return out;
}

export const devicesPage: Page = async ({ client, route, root, signal }) => {
  const host = route.params.get('host');
  root.append(h('h1', {}, host ? `Device ${host}` : 'Devices'));
  const { runs: devices } = await client.request<{ runs: Record<string, unknown>[] }>(DEVICES_QUERY, {}, signal);
  if (!host) {
    if (!devices.length) {
      root.append(message('empty', 'No device has reported a run yet.'));
      return;
    }
    root.append(table(
      ['device', 'model', 'OS', 'arch', 'CPU', 'cores', 'memory (GiB)', 'last run (UTC)'],
      devices.map((d) => [
        h('a', { href: routeHash('devices', null, { host: d.host_name as string }) }, d.host_name as string),
        (d.host_device_model as string) ?? '–', (d.host_os as string) ?? '–', (d.host_arch as string) ?? '–',
        (d.host_cpu_model as string) ?? '–', (d.host_cpu_cores as number) ?? '–',
        d.host_memory_bytes == null ? '–' : (Number(d.host_memory_bytes) / 2 ** 30).toFixed(1),
        fmtTime(d.started_at as string),
      ]),
      'devices-table',
    ),
    // Below the table, not in it: a device's noise tables are wider than a cell.
    h('h2', {}, 'Run-to-run noise per device'),
    ...devices.map((d) => noiseExpander(client, d.host_name as string, signal)));
    return;
  }
  const { runs, runs_aggregate } = await client.request<{ runs: RunListRow[]; runs_aggregate: { aggregate: { count: number } } }>(
    DEVICE_RUNS_QUERY, { host, limit: RECENT }, signal);
  const d = devices.find((x) => x.host_name === host);
  if (d) root.append(h('p', { class: 'muted' }, [d.host_device_model, d.host_os, d.host_kernel, d.host_arch, d.host_cpu_model,
    d.host_cpu_cores ? `${d.host_cpu_cores} cores` : null].filter(Boolean).join(' · ')));
  if (!runs.length) {
    root.append(message('empty', `No runs from ${host}.`));
    return;
  }
  const latestOk = runs.find((r) => r.status === 'ok');
  root.append(h('p', {}, `${runs.length} most recent of ${runs_aggregate.aggregate.count} runs. `,
    h('a', { href: routeHash('runs', null, { device: host }) }, 'All runs of this device'),
    latestOk ? ' · ' : null,
    latestOk ? h('a', { href: routeHash('trends', null, { run: latestOk.run_id }), class: 'trends-link' }, 'Trends of its latest ok run') : null),
  noiseExpander(client, host, signal));

  // Trend: oldest first, one series per kind, nulls where a run is of another kind.
  // Finished runs only: a running run has no summary yet.
  const chrono = runs.filter((r) => r.started_at && r.status !== 'running').slice().reverse();
  const kinds = Array.from(new Set(chrono.map((r) => r.kind))).sort();
  const x = chrono.map((r) => Date.parse(r.started_at!) / 1000);
  const col = (k: string, f: 'ops_rate' | 'lat_p99_ms') => chrono.map((r) => (r.kind === k && r[f] != null ? Number(r[f]) : null));
  const group = new ChartGroup();
  // Runs are sparse points, not a continuous signal: drawn as dots joined across other kinds' runs.
  if (chrono.length) {
    const el = h('div', { class: 'charts' });
    root.append(h('h2', {}, 'Trend'), el);
    const series = kinds.map((k) => ({ label: k }));
    const xRange = sparseXRange(x, 3600); // one run alone: an hour either side
    chart(el, { title: 'Throughput per run', yLabel: 'ops/s', series, points: true, spanGaps: true, zero: true, xRange, group, data: [x, ...kinds.map((k) => col(k, 'ops_rate'))] });
    chart(el, { title: 'p99 latency per run', yLabel: 'ms', series, points: true, spanGaps: true, zero: true, xRange, group, data: [x, ...kinds.map((k) => col(k, 'lat_p99_ms'))] });
    el.append(h('p', { class: 'legend-note' }, 'Drag across a chart to zoom (both follow; the range goes into the URL), double-click to reset. Times in UTC.'));
    bindZoomToUrl(group, { keys: ['from', 'to'], time: true, reset: 'delete' });
  }
  root.append(h('h2', {}, 'Recent runs'), table(RUN_HEADERS, runRows(runs), 'runs-table'));
  return () => group.destroy();
};
