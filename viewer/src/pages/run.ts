// Run page: parameters, host facts, summary, and per-interval charts of throughput, latency percentiles and
// errors/loss, with warm-up shaded. While the run is 'running' it follows it live: over Hasura subscriptions on a
// websocket (live.ts), or, when that can't be used, by polling every 2 s for the run row and for samples after the
// last seq it has. Its latency distribution (CDF, from the merged histograms) is fetched again as samples arrive, at
// most every 10 s (cdf.ts runCdf), and once more when the run has ended.
import type uPlot from 'uplot';
import { MINUTES_PAGE_SIZE, RUN_LENGTH_PROBE_QUERY, RUN_MINUTES_QUERY, RUN_QUERY, RUN_SAMPLES_QUERY, SAMPLES_PAGE_SIZE } from '../queries';
import {
  appendSamples, emptySeries, formatDuration, formatNumber, headlineFigures, latencyRange, PERCENTILES, rowsAfter,
  SAMPLE_COLUMNS, shellJoin, shortId, toCsv, type SampleRow, type SampleSeries,
} from '../shape';
import { liveRun, newWsClient, wsUrl, type Live } from '../live';
import { chart, ChartGroup, type Mark } from '../charts';
import { runCdf, windowPercentiles } from '../cdf';
import { distributionCard } from '../distribution';
import { routeHash } from '../route';
import { bindZoomToUrl, replaceHashParams } from '../zoom';
import { facts, fmtTime, h, message } from '../ui';
import type { Client } from '../graphql';
import type { Page } from '../page';
import { statusBadge } from './runs';
import { fetchObservation, renderCluster, topologyBannerEl, type Observation } from './cluster';
import { eventMarks, type ObservedRun } from '../observe';

export const POLL_MS = 2000;

type Run = Record<string, unknown> & ObservedRun & { run_id: string; status: string; name: string | null; kind: string };

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

/** A samples_1m row (RUN_MINUTES_QUERY). */
interface MinuteRow {
  bucket: string; phase: 'warmup' | 'measure'; samples: number; ops: number | null; ops_rate: number | null; bytes: number | null;
  errors: number | null; lat_p50_ms: number | null; lat_p90_ms: number | null; lat_p99_ms: number | null; lat_p999_ms: number | null;
  lat_max_ms: number | null; hist_samples: number | null; mqtt_lost: number | null;
}

/** What the run page draws: the samples, or for a run longer than one page of them its minutes as rows. */
export interface RunRows { rows: SampleRow[]; perMinute: boolean; lastSeq: number }

/**
 * The rows to draw for a run. A run with more samples than one page (the anonymous role's row limit, 100,000: about
 * 28 hours at one a second) is drawn from samples_1m, a row a minute, so that a run of any length is shown whole
 * and the page stays fast; each minute becomes a row over [bucket, bucket + 1 min), seq counting the minutes.
 */
export async function fetchRunRows(client: Client, id: string, signal: AbortSignal): Promise<RunRows> {
  const probe = await client.request<{ beyond: { seq: number }[]; last: { seq: number }[] }>(
    RUN_LENGTH_PROBE_QUERY, { id, offset: SAMPLES_PAGE_SIZE }, signal);
  if (!probe.beyond.length) {
    const rows = await fetchSamples(client, id, -1, signal);
    return { rows, perMinute: false, lastSeq: rows.length ? rows[rows.length - 1].seq : -1 };
  }
  const minutes: MinuteRow[] = [];
  let after = '1970-01-01T00:00:00Z';
  for (;;) {
    const page = (await client.request<{ samples_1m: MinuteRow[] }>(RUN_MINUTES_QUERY, { id, after, limit: MINUTES_PAGE_SIZE }, signal)).samples_1m;
    if (page.length < MINUTES_PAGE_SIZE) {
      minutes.push(...page);
      break;
    }
    // A full page may end inside a minute (its two phases): keep the whole minutes and start again at the last one.
    const lastBucket = page[page.length - 1].bucket;
    const whole = page.filter((m) => m.bucket !== lastBucket);
    if (!whole.length) throw new Error(`samples_1m: a page of ${MINUTES_PAGE_SIZE} rows holds a single minute`);
    minutes.push(...whole);
    after = lastBucket;
  }
  const rows = minutes.map((m, i): SampleRow => ({
    seq: i + 1, interval_start: m.bucket, interval_end: new Date(Date.parse(m.bucket) + 60_000).toISOString(), phase: m.phase,
    ops: m.ops, bytes: m.bytes, ops_rate: m.ops_rate ?? 0, errors: m.errors ?? 0, lat_p50_ms: m.lat_p50_ms, lat_p90_ms: m.lat_p90_ms,
    lat_p95_ms: null, lat_p99_ms: m.lat_p99_ms, lat_p999_ms: m.lat_p999_ms, lat_max_ms: m.lat_max_ms, mqtt_lost: m.mqtt_lost, pg_lag_ms: null,
  }));
  return { rows, perMinute: true, lastSeq: probe.last[0]?.seq ?? -1 };
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

/** The figures a benchmark engineer looks for first; for a running run, its running totals and time left. */
function headline(run: Run, s: SampleSeries | null): HTMLElement {
  // A running run's figures say which samples they add up (data-samples: the measurement intervals so far).
  return h('div', { class: 'headline', 'data-samples': s ? s.measure.samples : null }, ...headlineFigures(run, s, new Date()).map((f) =>
    h('div', { class: `figure${f.tone ? ' ' + f.tone : ''}`, title: f.title }, h('div', { class: 'figure-value' }, f.value), h('div', { class: 'figure-label' }, f.label))));
}

/** A run an agent ran for a job (issue 14): its job and the launch's group page, where its sibling runs are. */
function jobLinks(run: Run): (Node | string)[] {
  if (!run.group_id) return [];
  return [' · from job ', h('span', { class: 'job-id', title: String(run.job_id ?? '') }, run.job_id ? shortId(String(run.job_id)) : '?'),
    ' of ', h('a', { href: routeHash('group', String(run.group_id)), class: 'group-link' }, `group ${shortId(String(run.group_id))}`)];
}

function header(run: Run): HTMLElement {
  const failed = run.status === 'failed' || run.status === 'aborted';
  return h(
    'div',
    { class: 'run-header' },
    h('h1', {}, `${run.kind}: ${run.name || run.run_id}`, ' ', statusBadge(run.status)),
    failed || run.error
      ? h('div', { class: 'msg msg-error failure', role: 'alert' }, h('strong', {}, failed ? `Run ${run.status}: ` : 'Run error: '),
        (run.error as string) || 'no reason recorded')
      : null,
    h(
      'p',
      { class: 'muted' },
      `run ${run.run_id} · started ${fmtTime(run.started_at as string)} · duration `,
      formatDuration(run.started_at as string, (run.finished_at as string) ?? (run.status === 'running' ? new Date().toISOString() : null)),
      ' · ',
      h('a', { href: routeHash('devices', null, { host: run.host_name as string }) }, 'device'),
      ' · ',
      // Its history: the runs of the same kind, device and parameters, with change points (producer history).
      h('a', { href: routeHash('trends', null, { run: run.run_id as string }), class: 'trends-link' }, 'trends'),
      ...jobLinks(run),
      ' · all times UTC',
    ),
  );
}

/** pgbench's own final summary (summary_extra.pgbench), the init phase and what benchpipe and pgbench disagree on. */
const PGBENCH_KEYS: [string, string][] = [
  ['transaction_type', 'transaction type'], ['scaling_factor', 'scaling factor'], ['query_mode', 'query mode'],
  ['clients', 'clients'], ['threads', 'threads'], ['duration_s', 'duration (s)'], ['processed', 'transactions processed'],
  ['failed', 'failed'], ['skipped', 'skipped (-L)'], ['latency_avg_ms', 'latency average (ms)'],
  ['latency_stddev_ms', 'latency stddev (ms)'], ['lag_avg_ms', 'schedule lag average (ms)'], ['lag_max_ms', 'schedule lag max (ms)'],
  ['initial_connection_time_ms', 'initial connection time (ms)'], ['tps', 'tps'], ['tps_includes', 'tps counts'],
  ['version', 'pgbench version'], ['server_version', 'server version'],
];

function pgbenchCard(run: Run): HTMLElement | null {
  const extra = run.summary_extra as Record<string, unknown> | null;
  if (run.kind !== 'pgbench' || !extra) return null;
  const pg = (extra.pgbench ?? {}) as Record<string, unknown>;
  const init = extra.init as { scale?: number; seconds?: number; exit_code?: number } | undefined;
  const scripts = (pg.scripts as { name: string; weight?: number; transactions: number; tps?: number }[] | undefined) ?? [];
  return h('div', { class: 'card pgbench-summary' }, h('h2', {}, 'pgbench\'s own summary'),
    facts(PGBENCH_KEYS.map(([k, l]): [string, unknown] => [l, typeof pg[k] === 'number' ? formatNumber(pg[k]) : pg[k]])),
    scripts.length > 1 ? facts(scripts.map((sc): [string, unknown] => [`script ${sc.name}${sc.weight ? ` @${sc.weight}` : ''}`, `${formatNumber(sc.transactions)} tx, ${formatNumber(sc.tps)} tps`])) : null,
    init ? h('h2', {}, 'Init phase (--init-scale)') : null,
    init ? facts([['scale', init.scale], ['took', `${formatNumber(init.seconds)} s`], ['exit code', init.exit_code]]) : null,
    h('h2', {}, 'benchpipe vs pgbench'),
    facts([['latency from', extra.latency_source], ['pgbench exit code', extra.pgbench_exit_code], ['pgbench signal', extra.pgbench_signal],
      ['warm-up samples', extra.warmup_samples],
      ...((extra.disagreements as string[] | undefined) ?? []).map((d, i): [string, unknown] => [`disagreement ${i + 1}`, d]),
      ...((extra.notes as string[] | undefined) ?? []).map((d, i): [string, unknown] => [`note ${i + 1}`, d])]));
}

/** Parameters, with argument vectors as the command line they are (pgbench's) instead of a JSON array. */
function parameterFacts(params: Record<string, unknown>): [string, unknown][] {
  return Object.entries(params).map(([k, v]): [string, unknown] => {
    if (Array.isArray(v) && v.every((x) => typeof x !== 'object')) {
      if (k === 'pgbench_command') return ['command', `pgbench ${shellJoin(v)}`];
      return [k, v.length ? shellJoin(v) : 'none'];
    }
    return [k, v];
  });
}

function details(run: Run): HTMLElement {
  return h(
    'div',
    { class: 'cols' },
    pgbenchCard(run),
    h('div', { class: 'card' }, h('h2', {}, 'Summary (measurement phase)'),
      facts([['measured', `${fmtTime(run.measure_start as string)} → ${fmtTime(run.measure_end as string)}`],
        ...SUMMARY_KEYS.map(([k, l]): [string, unknown] => [l, run[k] == null ? null : formatNumber(run[k])])])),
    h('div', { class: 'card' }, h('h2', {}, 'Parameters'), facts(parameterFacts((run.parameters as Record<string, unknown>) ?? {})),
      h('h2', {}, 'Tags'), facts(Object.entries((run.tags as object) ?? {}))),
    h('div', { class: 'card' }, h('h2', {}, 'Host'), facts(HOST_KEYS.map(([k, l]) => [l, k === 'host_memory_bytes' && run[k] != null ? `${(Number(run[k]) / 2 ** 30).toFixed(1)} GiB` : run[k]])),
      h('h2', {}, 'Target'), facts(TARGET_KEYS.map(([k, l]) => [l, run[k]]))),
    distributionCard([run], 'Latency distribution (measurement phase, ms, log scale)'),
  );
}

export const runPage: Page = async ({ client, route, root, signal }) => {
  const id = route.id;
  if (!id) {
    root.append(message('info', 'Pick a run on the runs page.'));
    return;
  }
  const runP = client.request<{ runs_by_pk: Run | null }>(RUN_QUERY, { id }, signal);
  const rowsP = fetchRunRows(client, id, signal);
  rowsP.catch(() => undefined); // awaited after the run row: no unhandled rejection if it fails first
  const first = (await runP).runs_by_pk;
  if (!first) {
    root.append(message('empty', `No run ${id}. It may not have reached the database yet, or the link is wrong.`));
    return;
  }
  let run: Run = first;
  let head = header(run);
  let det = details(run);
  const live = h('p', { class: 'live', 'aria-live': 'polite' });
  let top = headline(run, null);
  // The topology banner (issue 15): from the run's flags at once, with the events' times once they are here.
  const banner = h('div', { class: 'topology-holder' });
  root.append(head, banner, top, live);
  const toolbar = h('div', { class: 'toolbar' });
  const chartsEl = h('div', { class: 'charts' });
  // The true percentiles of the shown window, from the merged per-minute histograms; follows every zoom.
  const wp = windowPercentiles(client, id, signal);
  // The run's latency distribution (CDF) from its merged histograms; drawn again as a running run's samples arrive.
  const cdf = runCdf(client, id, signal);
  // Cluster observation (issue 15): events, node roles, lag, reads per node, server facts; nothing without any.
  const clusterEl = h('div', { class: 'cluster', 'data-observation': 'loading' });
  root.append(h('h2', {}, 'Per interval'), toolbar, wp.el, chartsEl, clusterEl, det, cdf.el);
  void wp.update(null);
  void cdf.draw(run.status === 'running');

  const obsP = fetchObservation(client, id, signal);
  obsP.catch(() => undefined); // handled where it is awaited
  let obs: Observation = { nodes: [], pool: [], events: [], settings: [] };
  // The events as marks on every time chart of the page (the sample charts' too: a failover's effect on throughput).
  let marks: Mark[] = [];
  const markFn = () => marks;
  const showBanner = () => banner.replaceChildren(...[topologyBannerEl(run, obs.events)].filter((b): b is HTMLElement => b !== null));
  showBanner();

  const { rows, perMinute, lastSeq: fetchedLastSeq } = await rowsP;
  performance.mark('samples-received');
  const s: SampleSeries = appendSamples(emptySeries(), rows);
  // Every row, for CSV/JSON export; live updates append to it.
  const allRows: SampleRow[] = rows;
  let lastSeq = fetchedLastSeq;
  // A run longer than one page of samples is drawn a minute a row (fetchRunRows); say so above the charts.
  chartsEl.setAttribute('data-resolution', perMinute ? 'minute' : 'sample');
  if (perMinute) {
    wp.el.after(h('p', { class: 'per-minute-note' },
      `This run has more than ${SAMPLES_PAGE_SIZE.toLocaleString('en-US')} samples: it is drawn a minute a point from samples_1m `
      + '(each minute\'s percentiles from its merged histogram where the samples carry one), so the whole run is shown; '
      + 'the export holds these minutes. p95 is not kept per minute.'));
  }
  const group = new ChartGroup();
  const charts = group.charts;
  const clusterGroup = group.follower();
  const refreshHeadline = () => {
    const t2 = headline(run, run.status === 'running' ? s : null);
    top.replaceWith(t2);
    top = t2;
  };
  refreshHeadline();

  if (rows.length === 0) {
    chartsEl.append(message('empty', run.status === 'running' ? 'No samples yet; waiting for the first interval.' : 'This run has no samples.'));
  }
  // Latency scale: linear (default) or log, kept in the URL (lat=log) without reloading the page.
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  let logLatency = params.get('lat') === 'log';
  const isPgbench = run.kind === 'pgbench';
  const lossSeries = () => !isPgbench && (s.hasLost || run.kind === 'mqtt');
  const lagChart = () => isPgbench && (s.hasLag || Number((run.parameters as Record<string, unknown> | null)?.rate ?? 0) > 0);
  /** Log scales can't show 0: such intervals become gaps. Only built when the log scale is on. */
  const latencyData = (): uPlot.AlignedData => (logLatency
    ? [s.x, ...s.latency.map((c) => c.map((v) => (v !== null && v > 0 ? v : null)))]
    : [s.x, ...s.latency]) as uPlot.AlignedData;
  const errorsData = (): uPlot.AlignedData => (lossSeries() ? [s.x, s.errors, s.lost] : [s.x, s.errors]) as uPlot.AlignedData;
  const dataOf = [
    () => [s.x, s.opsRate] as uPlot.AlignedData,
    latencyData,
    errorsData,
    () => [s.x, s.lag] as uPlot.AlignedData,
  ];
  const shade = () => s.warmup;
  const note = h('p', { class: 'legend-note' },
    'Shaded: warm-up (excluded from the summary, and from the latency axis: warm-up spikes are clipped). ',
    'Drag across a chart to zoom (all charts follow), double-click to reset; the crosshair is shared. Times in UTC.');
  const latencyChart = (onDrawn?: () => void) => chart(chartsEl, {
    title: `Latency percentiles${logLatency ? ' (log scale)' : ''}`, yLabel: 'ms', series: PERCENTILES.map((p) => ({ label: p.label })),
    data: latencyData(), shade, group, marks: markFn, log: logLatency, yRange: () => latencyRange(s.latRange, logLatency), onDrawn,
  });
  const drawCharts = () => {
    chartsEl.replaceChildren(note);
    const withLag = lagChart();
    let pending = withLag ? 4 : 3;
    const drawn = () => {
      if (--pending === 0) {
        performance.mark('charts-drawn');
        performance.measure('samples-to-charts', 'samples-received', 'charts-drawn');
        chartsEl.setAttribute('data-drawn', String(s.x.length));
        chartsEl.setAttribute('data-points', String(s.x.length));
      }
    };
    chart(chartsEl, { title: 'Throughput', yLabel: isPgbench ? 'tx/s' : 'ops/s', series: [{ label: isPgbench ? 'tx/s' : 'ops/s', width: 1.5 }], data: dataOf[0](), shade, group, marks: markFn, zero: true, onDrawn: drawn });
    latencyChart(drawn);
    chart(chartsEl, {
      title: isPgbench
        ? `Failed transactions per interval (total ${formatNumber(s.totalErrors)})`
        : `Errors and loss (total errors ${formatNumber(s.totalErrors)}, lost ${formatNumber(s.totalLost)})`,
      yLabel: 'count',
      series: lossSeries() ? [{ label: 'errors', color: '#d62728' }, { label: 'MQTT lost', color: '#9467bd' }] : [{ label: isPgbench ? 'failed' : 'errors', color: '#d62728' }],
      data: dataOf[2](), shade, group, marks: markFn, zero: true, onDrawn: drawn,
    });
    if (withLag) {
      chart(chartsEl, { title: 'Schedule lag (pgbench -R): how late transactions started', yLabel: 'ms', series: [{ label: 'lag', color: '#8c564b' }], data: dataOf[3](), shade, group, marks: markFn, zero: true, onDrawn: drawn });
    }
  };
  if (rows.length) drawCharts();

  /**
   * Fetches the run's observation and shows it: banner, cluster section, marks on the sample charts. Of overlapping
   * fetches (a flag change, then the run's end) only the latest is shown.
   */
  let observationFetches = 0;
  const showObservation = async (p: Promise<Observation>) => {
    const mine = ++observationFetches;
    let next: Observation;
    try {
      next = await p;
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal.aborted || mine !== observationFetches) return;
      clusterEl.setAttribute('data-observation', 'error');
      clusterEl.replaceChildren(message('error', `Cluster observation unavailable: ${(err as Error).message}`));
      return;
    }
    if (signal.aborted || mine !== observationFetches) return;
    obs = next;
    marks = eventMarks(obs.events);
    showBanner();
    renderCluster(clusterEl, clusterGroup, run, obs, markFn);
    for (const c of charts) c.redraw(false);
  };
  void showObservation(obsP);

  // Toolbar: time range (all charts), latency scale, export of the samples.
  const rangeSel = h('select', { name: 'range', 'aria-label': 'time range' },
    h('option', { value: 'all' }, 'whole run'), h('option', { value: 'measure' }, 'measurement phase'),
    h('option', { value: '60' }, 'last 1 min'), h('option', { value: '300' }, 'last 5 min'), h('option', { value: '900' }, 'last 15 min'),
    h('option', { value: 'zoom', hidden: true }, 'zoomed'));
  rangeSel.addEventListener('change', () => {
    const v = rangeSel.value;
    const end = s.x.length ? s.x[s.x.length - 1] + 1 : 0;
    if (v === 'all' || !s.x.length) group.setX(null);
    else if (v === 'measure') {
      const ms = run.measure_start ? Date.parse(run.measure_start as string) / 1000 : s.x[0];
      const me = run.measure_end ? Date.parse(run.measure_end as string) / 1000 : end;
      group.setX([ms, me]);
    } else group.setX([Math.max(s.x[0], end - Number(v)), end]);
  });
  // The shown range is in the URL (from/to, UTC), so a link opens the same view; the picker follows drag-zoom.
  bindZoomToUrl(group, { keys: ['from', 'to'], time: true, reset: 'delete' }, (r) => {
    void wp.update(r);
    if (r && document.activeElement !== rangeSel) rangeSel.value = 'zoom';
    if (!r) rangeSel.value = 'all';
  });
  const logBox = h('input', { type: 'checkbox', name: 'lat-log', checked: logLatency });
  logBox.addEventListener('change', () => {
    logLatency = logBox.checked;
    replaceHashParams((q) => (logLatency ? q.set('lat', 'log') : q.delete('lat')));
    const i = 1;
    const old = charts[i];
    if (!old) return;
    const holder = old.root.parentElement!;
    charts.splice(i, 1);
    old.destroy();
    const fresh = latencyChart();
    charts.splice(charts.indexOf(fresh), 1);
    charts.splice(i, 0, fresh);
    chartsEl.insertBefore(fresh.root.parentElement!, holder);
    holder.remove();
    if (group.zoom) fresh.setScale('x', { min: group.zoom[0], max: group.zoom[1] });
  });
  const download = (kind: 'csv' | 'json') => {
    const body = kind === 'csv'
      ? toCsv(allRows as unknown as Record<string, unknown>[], SAMPLE_COLUMNS)
      : JSON.stringify({ run_id: id, samples: allRows }, null, 1);
    const a = h('a', { href: URL.createObjectURL(new Blob([body], { type: kind === 'csv' ? 'text/csv' : 'application/json' })), download: `run-${id}-samples.${kind}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
  };
  toolbar.append(
    h('label', {}, 'time range ', rangeSel),
    h('label', {}, logBox, ' log scale for latency'),
    h('button', { type: 'button', class: 'export-csv', onclick: (() => download('csv')) as EventListener }, 'Export samples CSV'),
    h('button', { type: 'button', class: 'export-json', onclick: (() => download('json')) as EventListener }, 'Export samples JSON'),
  );

  // ---- Live updates while the run is 'running' ----
  // Preferred: Hasura subscriptions over a websocket (live.ts): new samples arrive as Hasura streams them and the run
  // row as it changes. Fallback: poll every 2 s over HTTP, when the websocket can't connect, is refused or drops.
  // Either way, once the run has left 'running', one last HTTP fetch picks up samples written just before the end.
  // The .live line says which is in effect ("live" or "polling", data-mode for tests) and why, in its tooltip.

  /** Appends new rows (duplicates from overlapping sources are dropped) and redraws; the CDF too, when due. */
  const addRows = (more: SampleRow[]) => {
    const fresh = rowsAfter(more, lastSeq);
    if (!fresh.length) return;
    if (run.status === 'running' && !finishing) cdf.follow();
    appendSamples(s, fresh);
    for (const r of fresh) allRows.push(r);
    lastSeq = fresh[fresh.length - 1].seq;
    // A new kind of series (the first loss count or lag value) needs the charts rebuilt; else new data in place.
    const want = lagChart() ? 4 : 3;
    const lossNow = lossSeries();
    if (charts.length === want && (charts[2]?.series.length === (lossNow ? 3 : 2))) charts.forEach((c, i) => group.setData(c, dataOf[i]()));
    else {
      group.destroy();
      drawCharts();
    }
    chartsEl.setAttribute('data-points', String(s.x.length));
    refreshHeadline();
  };
  /** Shows the run row: the header every time (its duration grows), the summary when the status changed. */
  const showRun = (next: Run) => {
    const changed = next.status !== run.status || next.updated_at !== run.updated_at;
    // The sink raises the topology flags while the run goes on: the banner at once, and the events and rounds that
    // raised them fetched then (not polled: the run row's live query says when).
    const flagged = next.status === 'running' && (!!next.topology_changed !== !!run.topology_changed || !!next.split_brain !== !!run.split_brain);
    run = next;
    showBanner();
    if (flagged) void showObservation(fetchObservation(client, id, signal));
    const h2 = header(run);
    head.replaceWith(h2);
    head = h2;
    refreshHeadline();
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
      live.append(` · updated ${new Date().toISOString().slice(11, 19)}Z${extra}`);
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
      // The cluster's rounds and events written while it ran, too (shown whole once the run is over; it handles its
      // own failure). Awaited before 'done', so nothing is in flight once the page says the run has ended.
      const observed = showObservation(fetchObservation(client, id, signal));
      // The CDF once more, now with the last samples' histograms (the sink merges them as it writes the samples);
      // it handles its own failure and supersedes a fetch still in flight.
      const distribution = cdf.draw(false);
      addRows(await fetchSamples(client, id, lastSeq, signal));
      await observed;
      await distribution;
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
        client: newWsClient(url, client.headers()),
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
    clusterGroup.destroy();
    group.destroy();
  };
  signal.addEventListener('abort', stopAll, { once: true });
  return leave;
};
