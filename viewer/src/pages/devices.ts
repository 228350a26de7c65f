// Devices page: every host that ran something, with its latest facts; for a chosen host, its recent runs and the
// trend of throughput and p99 latency over them, one series per kind of run.
import { DEVICES_QUERY, DEVICE_RUNS_QUERY } from '../queries';
import { chart, ChartGroup } from '../charts';
import { bindZoomToUrl } from '../zoom';
import { sparseXRange } from '../shape';
import { routeHash } from '../route';
import { fmtTime, h, message, table } from '../ui';
import type { Page } from '../page';
import { RUN_HEADERS, runRows, type RunListRow } from './runs';

const RECENT = 100;

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
    ));
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
  root.append(h('p', {}, `${runs.length} most recent of ${runs_aggregate.aggregate.count} runs. `,
    h('a', { href: routeHash('runs', null, { device: host }) }, 'All runs of this device')));

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
