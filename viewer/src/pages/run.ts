// Run page: parameters, host facts, summary, and per-interval charts of throughput, latency percentiles and
// errors/loss, with warm-up shaded. While the run is 'running' it follows it live: over Hasura subscriptions on a
// websocket (live.ts), or, when that can't be used, by polling every 2 s for the run row and for samples after the
// last seq it has.
import type uPlot from 'uplot';
import { RUN_QUERY, RUN_SAMPLES_QUERY, SAMPLES_PAGE_SIZE } from '../queries';
import { appendSamples, emptySeries, formatDuration, formatNumber, PERCENTILES, rowsAfter, type SampleRow, type SampleSeries } from '../shape';
import { liveRun, newWsClient, wsUrl, type Live } from '../live';
import { chart } from '../charts';
import { routeHash } from '../route';
import { facts, fmtTime, h, message } from '../ui';
import type { Client } from '../graphql';
import type { Page } from '../page';
import { statusBadge } from './runs';

export const POLL_MS = 2000;

type Run = Record<string, unknown> & { run_id: string; status: string; name: string | null; kind: string };

/** All samples of a run after afterSeq, following pages until one comes back short. */
export async function fetchSamples(client: Client, id: string, afterSeq: number, signal: AbortSignal): Promise<SampleRow[]> {
  const all: SampleRow[] = [];
  for (;;) {
    const { samples } = await client.request<{ samples: SampleRow[] }>(
      RUN_SAMPLES_QUERY,
      { id, afterSeq, limit: SAMPLES_PAGE_SIZE },
      signal,
    );
    for (const s of samples) all.push(s);
    if (samples.length < SAMPLES_PAGE_SIZE) return all;
    afterSeq = samples[samples.length - 1].seq;
  }
}

const SUMMARY_KEYS: [string, string][] = [
  ['ops', 'operations'], ['ops_rate', 'throughput (ops/s)'], ['bytes', 'bytes'], ['errors', 'errors'],
  ['lat_min_ms', 'latency min (ms)'], ['lat_mean_ms', 'latency mean (ms)'], ['lat_p50_ms', 'p50 (ms)'],
  ['lat_p90_ms', 'p90 (ms)'], ['lat_p95_ms', 'p95 (ms)'], ['lat_p99_ms', 'p99 (ms)'], ['lat_p999_ms', 'p99.9 (ms)'],
  ['lat_max_ms', 'max (ms)'], ['mqtt_sent', 'MQTT sent'], ['mqtt_received', 'MQTT received'], ['mqtt_lost', 'MQTT lost'],
  ['mqtt_duplicated', 'MQTT duplicated'], ['mqtt_out_of_order', 'MQTT out of order'],
  ['mqtt_offered_rate', 'MQTT offered rate (msg/s)'], ['mqtt_uncorrected_p99_ms', 'MQTT uncorrected p99 (ms)'],
  ['pg_tps', 'pgbench TPS'], ['pg_stddev_ms', 'pgbench latency stddev (ms)'], ['pg_failed', 'pgbench failed'],
  ['pg_retried', 'pgbench retried'], ['pg_lag_ms', 'pgbench lag (ms)'], ['pg_skipped', 'pgbench skipped'],
];

const HOST_KEYS: [string, string][] = [
  ['host_name', 'name'], ['host_device_model', 'device model'], ['host_os', 'OS'], ['host_kernel', 'kernel'],
  ['host_arch', 'arch'], ['host_cpu_model', 'CPU'], ['host_cpu_cores', 'cores'], ['host_memory_bytes', 'memory'],
];

const TARGET_KEYS: [string, string][] = [
  ['target_url', 'URL'], ['target_host', 'host'], ['target_port', 'port'], ['target_database', 'database'],
  ['target_version', 'version'], ['tools', 'tools'],
];

function header(run: Run): HTMLElement {
  return h(
    'div',
    { class: 'run-header' },
    h('h1', {}, `${run.kind}: ${run.name || run.run_id}`, ' ', statusBadge(run.status)),
    h(
      'p',
      { class: 'muted' },
      `run ${run.run_id} · started ${fmtTime(run.started_at as string)} · duration `,
      formatDuration(run.started_at as string, (run.finished_at as string) ?? (run.status === 'running' ? new Date().toISOString() : null)),
      ' · ',
      h('a', { href: routeHash('devices', null, { host: run.host_name as string }) }, 'device'),
    ),
    run.error ? message('error', `Run error: ${run.error}`) : null,
  );
}

function details(run: Run): HTMLElement {
  return h(
    'div',
    { class: 'cols' },
    h('div', { class: 'card' }, h('h2', {}, 'Summary (measurement phase)'),
      facts([['measured', `${fmtTime(run.measure_start as string)} → ${fmtTime(run.measure_end as string)}`],
        ...SUMMARY_KEYS.map(([k, l]): [string, unknown] => [l, run[k] == null ? null : formatNumber(run[k])])])),
    h('div', { class: 'card' }, h('h2', {}, 'Parameters'), facts(Object.entries((run.parameters as object) ?? {})),
      h('h2', {}, 'Tags'), facts(Object.entries((run.tags as object) ?? {}))),
    h('div', { class: 'card' }, h('h2', {}, 'Host'), facts(HOST_KEYS.map(([k, l]) => [l, k === 'host_memory_bytes' && run[k] != null ? `${(Number(run[k]) / 2 ** 30).toFixed(1)} GiB` : run[k]])),
      h('h2', {}, 'Target'), facts(TARGET_KEYS.map(([k, l]) => [l, run[k]]))),
  );
}

export const runPage: Page = async ({ client, route, root, signal }) => {
  const id = route.id;
  if (!id) {
    root.append(message('info', 'Pick a run on the runs page.'));
    return;
  }
  const runP = client.request<{ runs_by_pk: Run | null }>(RUN_QUERY, { id }, signal);
  const rowsP = fetchSamples(client, id, -1, signal);
  const first = (await runP).runs_by_pk;
  if (!first) {
    root.append(message('empty', `No run ${id}. It may not have reached the database yet, or the link is wrong.`));
    return;
  }
  let run: Run = first;
  let head = header(run);
  let det = details(run);
  const live = h('p', { class: 'live', 'aria-live': 'polite' });
  root.append(head, live, det, h('h2', {}, 'Per interval'));
  const chartsEl = h('div', { class: 'charts' });
  root.append(chartsEl);

  const rows = await rowsP;
  performance.mark('samples-received');
  const s: SampleSeries = appendSamples(emptySeries(), rows);
  let lastSeq = rows.length ? rows[rows.length - 1].seq : -1;
  const charts: uPlot[] = [];

  if (rows.length === 0) {
    chartsEl.append(message('empty', run.status === 'running' ? 'No samples yet; waiting for the first interval.' : 'This run has no samples.'));
  }
  const note = h('p', { class: 'legend-note' }, 'Shaded: warm-up (excluded from the summary).');
  const drawCharts = () => {
    chartsEl.replaceChildren(note);
    let pending = 3;
    const drawn = () => {
      if (--pending === 0) {
        performance.mark('charts-drawn');
        performance.measure('samples-to-charts', 'samples-received', 'charts-drawn');
        chartsEl.setAttribute('data-drawn', String(s.x.length));
        chartsEl.setAttribute('data-points', String(s.x.length));
      }
    };
    const shade = () => s.warmup;
    charts.push(
      chart(chartsEl, { title: 'Throughput', yLabel: 'ops/s', series: [{ label: 'ops/s', width: 1.5 }], data: [s.x, s.opsRate], shade, onDrawn: drawn }),
      chart(chartsEl, { title: 'Latency percentiles', yLabel: 'ms', series: PERCENTILES.map((p) => ({ label: p.label })), data: [s.x, ...s.latency], shade, onDrawn: drawn }),
      chart(chartsEl, {
        title: `Errors and loss (total errors ${formatNumber(s.totalErrors)}, lost ${formatNumber(s.totalLost)})`,
        yLabel: 'count',
        series: [{ label: 'errors', color: '#d62728' }, { label: 'MQTT lost', color: '#9467bd' }],
        data: [s.x, s.errors, s.lost],
        shade,
        onDrawn: drawn,
      }),
    );
  };
  if (rows.length) drawCharts();

  // ---- Live updates while the run is 'running' ----
  // Preferred: Hasura subscriptions over a websocket (live.ts): new samples arrive as Hasura streams them and the run
  // row as it changes. Fallback: poll every 2 s over HTTP, when the websocket can't connect, is refused or drops.
  // Either way, once the run has left 'running', one last HTTP fetch picks up samples written just before the end.
  // The .live line says which is in effect ("live" or "polling", data-mode for tests) and why, in its tooltip.

  /** Appends new rows (duplicates from overlapping sources are dropped) and redraws. */
  const addRows = (more: SampleRow[]) => {
    const fresh = rowsAfter(more, lastSeq);
    if (!fresh.length) return;
    appendSamples(s, fresh);
    lastSeq = fresh[fresh.length - 1].seq;
    if (charts.length) charts.forEach((c, i) => c.setData(i === 0 ? [s.x, s.opsRate] : i === 1 ? [s.x, ...s.latency] : [s.x, s.errors, s.lost]));
    else drawCharts();
    chartsEl.setAttribute('data-points', String(s.x.length));
  };
  /** Shows the run row: the header every time (its duration grows), the summary when the status changed. */
  const showRun = (next: Run) => {
    const changed = next.status !== run.status || next.updated_at !== run.updated_at;
    run = next;
    const h2 = header(run);
    head.replaceWith(h2);
    head = h2;
    if (changed) {
      const d2 = details(run);
      det.replaceWith(d2);
      det = d2;
    }
  };

  type Mode = 'connecting' | 'live' | 'polling' | 'done';
  let mode: Mode = 'done';
  let modeTitle = '';
  const setMode = (m: Mode, title = modeTitle) => {
    mode = m;
    modeTitle = title;
    live.setAttribute('data-mode', m);
    if (m === 'done') {
      live.replaceChildren();
      live.removeAttribute('title');
      return;
    }
    const label = m === 'connecting' ? 'connecting…' : m;
    const detail =
      m === 'live' ? 'streaming from Hasura' : m === 'polling' ? `every ${POLL_MS / 1000} s` : 'opening a websocket';
    live.replaceChildren(h('span', { class: `live-badge live-${m}` }, label), ` ${detail}`);
    live.title = title;
  };
  const touched = (extra = '') => {
    if (mode === 'live' || mode === 'polling') {
      setMode(mode);
      live.append(` · updated ${new Date().toLocaleTimeString()}${extra}`);
    }
  };

  let timer: number | undefined;
  let stream: Live | null = null;
  let finishing = false;
  const stopAll = () => {
    window.clearTimeout(timer);
    stream?.stop();
    stream = null;
  };

  /** The run has left 'running': stop live updates, then fetch what was written last. */
  const finish = async () => {
    if (finishing) return;
    finishing = true;
    stopAll();
    try {
      addRows(await fetchSamples(client, id, lastSeq, signal));
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      setMode('done');
      live.textContent = `The run has ended, but fetching its last samples failed: ${(err as Error).message}. Reload to see them.`;
      return;
    }
    setMode('done');
  };

  // A timeout chain (not setInterval) so a slow answer never overlaps the next poll.
  const poll = async () => {
    try {
      const [next, more] = await Promise.all([
        client.request<{ runs_by_pk: Run | null }>(RUN_QUERY, { id }, signal),
        fetchSamples(client, id, lastSeq, signal),
      ]);
      addRows(more);
      if (next.runs_by_pk) showRun(next.runs_by_pk);
      touched();
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      touched(` · update failed: ${(err as Error).message} — retrying`);
    }
    if (signal.aborted) return;
    if (run.status === 'running') timer = window.setTimeout(poll, POLL_MS);
    else void finish();
  };
  const startPolling = (why: string) => {
    if (signal.aborted || finishing) return;
    stream = null;
    setMode('polling', `Live updates by polling every ${POLL_MS / 1000} s: ${why}.`);
    void poll(); // at once: the websocket attempt may have taken a while
  };

  if (run.status === 'running') {
    let url: string | null = null;
    try {
      url = wsUrl(client.url, document.baseURI);
    } catch (err) {
      startPolling(`no websocket (${(err as Error).message})`);
    }
    if (url) {
      setMode('connecting', `Opening a websocket to ${url} for live updates.`);
      stream = liveRun<Run>({
        client: newWsClient(url),
        id,
        afterSeq: lastSeq,
        onLive: () => {
          setMode('live', `Live: Hasura streams new samples over a websocket (${url}).`);
          touched();
        },
        onSamples: (more) => {
          addRows(more);
          showRun(run); // the header's duration grows with the run
          touched();
        },
        onRun: (next) => {
          showRun(next);
          if (next.status !== 'running') void finish();
        },
        onFallback: (reason) => startPolling(`the websocket could not be used (${reason})`),
      });
    }
  }
  const leave = () => {
    stopAll();
    charts.forEach((c) => c.destroy());
    charts.length = 0;
  };
  signal.addEventListener('abort', stopAll, { once: true });
  return leave;
};
