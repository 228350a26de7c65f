// Runs page: filterable, paged table of runs; select several to compare.
import { RUNS_PROGRESS_QUERY, RUNS_QUERY, RUN_FILTER_OPTIONS_QUERY } from '../queries';
import {
  formatDuration, formatNumber, liveProgress, parseUtc, resolveRange, runningFigures, runsWhere, shortId, soFarFromAggregate, utcInputValue,
  type ProgressAggregate, type SoFar,
} from '../shape';
import { baselineFirst } from '../compare';
import { routeHash } from '../route';
import { fmtTime, h, message, table } from '../ui';
import type { Page } from '../page';
import { topologyFlagEl } from './cluster';

const flagged = (r: RunListRow): (Node | string)[] => {
  const f = topologyFlagEl(r);
  return f ? [' ', f] : [];
};

/** A run from a job (issue 14): a link to its launch's group page beside its name. */
const fromJob = (r: RunListRow): (Node | string)[] => r.group_id
  ? [' ', h('a', { href: routeHash('group', r.group_id), class: 'group-link', title: `run by job ${r.job_id ?? '?'} of launch ${r.group_id}` }, 'job')]
  : [];

export interface RunListRow {
  run_id: string;
  kind: string;
  name: string | null;
  host_name: string | null;
  status: string;
  error?: string | null;
  started_at: string | null;
  finished_at: string | null;
  measure_start: string | null;
  measure_end: string | null;
  ops_rate: number | null;
  lat_p99_ms: number | null;
  errors: number | null;
  mqtt_sent?: number | null;
  mqtt_lost?: number | null;
  pg_failed?: number | null;
  tags: Record<string, unknown>;
  parameters?: Record<string, unknown> | null;
  /** Cluster observation (issue 15): the cluster's topology changed during the run / two primaries at once. */
  topology_changed?: boolean | null;
  split_brain?: boolean | null;
  /** Issue 14: the job an agent ran this run for, and its launch (group page). */
  job_id?: string | null;
  group_id?: string | null;
}

/** How often the runs page refreshes the figures of its running runs. */
export const PROGRESS_POLL_MS = 3000;

const STATUSES = ['running', 'ok', 'failed', 'aborted'];
/** The cluster filter (runs.topology_changed / split_brain, issue 15): its values and labels. */
const CLUSTER_FILTERS = [['', 'any'], ['changed', 'topology changed'], ['split', 'split brain']];
const RANGES = [['1h', 'last hour'], ['24h', 'last 24 h'], ['7d', 'last 7 days'], ['30d', 'last 30 days'], ['all', 'all time']];

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `status status-${status}` }, status);
}

/** Status with a failed or aborted run's reason beside it (shortened; the whole text in the tooltip). */
function statusCell(r: RunListRow): HTMLElement {
  const badge = statusBadge(r.status);
  if (!r.error || r.status === 'ok' || r.status === 'running') return badge;
  // Cut to the column by CSS (text-overflow); the whole text in the tooltip and on the run page.
  return h('span', { title: r.error }, badge, ' ', h('span', { class: 'reason' }, r.error));
}

/** Lost messages (MQTT) or failed transactions (pgbench); "–" for kinds that count neither. */
function lossCell(r: RunListRow): HTMLElement {
  const lost = r.mqtt_lost ?? r.pg_failed;
  const n = lost == null ? null : Number(lost);
  const title = r.mqtt_lost != null ? 'MQTT messages lost' : r.pg_failed != null ? 'pgbench transactions failed' : undefined;
  return h('span', { class: `num${n ? ' bad' : ''}`, title }, formatNumber(n));
}

/**
 * The cells of a running run that show its measurement so far (runs page): messages beside the status, elapsed
 * and time left as the duration, throughput, p99 (worst interval, an upper bound), errors and loss so far.
 */
function runningCells(r: RunListRow, m: SoFar): (Node | string)[] {
  const f = Object.fromEntries(runningFigures(r.kind, r as unknown as Record<string, unknown>, m, new Date()).map((x) => [x.label, x]));
  const unit = r.kind === 'pgbench' ? 'tx' : r.kind === 'mqtt' ? 'msgs' : 'ops';
  const p = liveProgress(r.kind, r.parameters, r.started_at, new Date());
  const left = p.remaining === null ? '' : p.remaining === 0 ? ' (finishing)' : ` (${f.remaining.value} left)`;
  const so = (v: string, title: string, bad = false) => h('span', { class: `num so-far${bad ? ' bad' : ''}`, title }, v);
  return [
    h('span', { class: 'running-now', 'data-samples': m.samples, 'data-ops': m.ops }, statusBadge(r.status), ' ', h('span', { class: 'so-far', title: `${unit} so far (measurement phase)` }, `${formatNumber(m.ops)} ${unit}`)),
    fmtTime(r.started_at),
    h('span', { class: 'elapsed' }, `${f.elapsed.value}${left}`),
    so(m.seconds > 0 ? formatNumber(m.ops / m.seconds) : '–', `throughput so far: ${f['throughput so far'].title}`),
    so(m.maxP99 === null ? '–' : `≤ ${formatNumber(m.maxP99)}`, `p99 so far: ${f['p99 so far'].title}`),
    so(formatNumber(m.errors), 'errors so far', m.errors > 0),
    so(m.lost === null ? '–' : formatNumber(m.lost), 'lost so far', !!m.lost),
  ];
}

/** Run table rows shared with the devices page; progress holds the measurement so far of running runs. */
export function runRows(runs: RunListRow[], select?: Set<string>, progress?: Map<string, SoFar>): (Node | string)[][] {
  return runs.map((r) => [
    ...(select
      ? [
          h('input', {
            type: 'checkbox',
            'aria-label': 'select for compare',
            checked: select.has(r.run_id),
            onchange: ((e: Event) => {
              if ((e.target as HTMLInputElement).checked) select.add(r.run_id);
              else select.delete(r.run_id);
            }) as EventListener,
          }),
        ]
      : []),
    r.kind,
    // A run whose cluster changed under it is flagged beside its name (its run page says what happened when).
    h('span', {}, h('a', { href: routeHash('run', r.run_id) }, r.name || shortId(r.run_id)), ...flagged(r), ...fromJob(r)),
    r.host_name ?? '–',
    ...(r.status === 'running' && progress?.has(r.run_id)
      ? runningCells(r, progress.get(r.run_id)!)
      : [
          statusCell(r),
          fmtTime(r.started_at),
          // Duration of the whole run; a running run counts up to now.
          formatDuration(r.started_at, r.finished_at ?? (r.status === 'running' ? new Date().toISOString() : null)),
          h('span', { class: 'num' }, formatNumber(r.ops_rate)),
          h('span', { class: 'num' }, formatNumber(r.lat_p99_ms)),
          h('span', { class: `num${r.errors ? ' bad' : ''}` }, formatNumber(r.errors)),
          lossCell(r),
        ]),
  ]);
}

export const RUN_HEADERS = ['kind', 'name', 'device', 'status', 'start (UTC)', 'duration', 'throughput (ops/s)', 'p99 (ms)', 'errors', 'lost / failed'];

export const runsPage: Page = async ({ client, route, root, signal, setParams }) => {
  const p = route.params;
  const limit = Math.min(500, Math.max(1, Number(p.get('limit')) || 50));
  const offset = Math.max(0, Number(p.get('offset')) || 0);
  const current = Object.fromEntries(p.entries());
  const { from, to } = resolveRange({ from: p.get('from'), to: p.get('to'), range: p.get('range') }, new Date(), 'all');

  root.append(h('h1', {}, 'Runs'));
  const unread = (['from', 'to'] as const).filter((k) => p.get(k) && !parseUtc(p.get(k)));
  if (unread.length) root.append(message('info', `Could not read ${unread.map((k) => `${k} "${p.get(k)}"`).join(' and ')}: write UTC as YYYY-MM-DD HH:MM:SS. Ignored.`));
  const form = h('form', { class: 'filters' });
  root.append(form);
  const body = h('div', {});
  root.append(body);

  // Filter choices load alongside the runs; if they fail the table still shows, with free-text fields.
  const optionsP = client
    .request<{ kinds: { kind: string }[]; devices: { host_name: string }[] }>(RUN_FILTER_OPTIONS_QUERY, {}, signal)
    .catch(() => ({ kinds: [], devices: [] }));
  const where = runsWhere({ kind: p.get('kind'), device: p.get('device'), status: p.get('status'), tag: p.get('tag'), cluster: p.get('cluster'), from, to });
  const dataP = client.request<{ runs: RunListRow[]; runs_aggregate: { aggregate: { count: number } } }>(
    RUNS_QUERY,
    { where, limit, offset },
    signal,
  );
  // Awaited below, after the filter choices; without a handler now, a failure that arrives first would be reported
  // as an unhandled rejection although the page shows it.
  dataP.catch(() => undefined);

  const options = await optionsP;
  const select = (name: string, label: string, values: string[], allLabel = 'all') =>
    h(
      'label',
      {},
      label,
      h(
        'select',
        { name },
        h('option', { value: '' }, allLabel),
        ...Array.from(new Set([...values, p.get(name) ?? ''].filter(Boolean))).map((v) =>
          h('option', { value: v, selected: p.get(name) === v }, v),
        ),
      ),
    );
  form.append(
    select('kind', 'kind', options.kinds.map((k) => k.kind)),
    select('device', 'device', options.devices.map((d) => d.host_name)),
    select('status', 'status', STATUSES),
    h('label', {}, 'cluster', h('select', { name: 'cluster' }, ...CLUSTER_FILTERS.map(([v, l]) => h('option', { value: v, selected: (p.get('cluster') ?? '') === v }, l)))),
    h('label', {}, 'tag (key=value, …)', h('input', { name: 'tag', value: p.get('tag') ?? '', placeholder: 'env=lab' })),
    h(
      'label',
      {},
      'started',
      h(
        'select',
        { name: 'range' },
        ...RANGES.map(([v, l]) => h('option', { value: v, selected: (p.get('range') ?? 'all') === v }, l)),
      ),
    ),
    h('label', {}, 'from (UTC)', h('input', { name: 'from', placeholder: 'YYYY-MM-DD HH:MM:SS', size: 19, value: utcInputValue(parseUtc(p.get('from'))) })),
    h('label', {}, 'to (UTC)', h('input', { name: 'to', placeholder: 'YYYY-MM-DD HH:MM:SS', size: 19, value: utcInputValue(parseUtc(p.get('to'))) })),
    h('button', { type: 'submit' }, 'Apply'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fd = new FormData(form);
    const next: Record<string, string> = {};
    fd.forEach((v, k) => (next[k] = String(v)));
    setParams({ ...next, limit: p.get('limit'), offset: null });
  });

  const data = await dataP;
  const total = data.runs_aggregate.aggregate.count;
  if (data.runs.length === 0) {
    body.append(message('empty', total === 0 ? 'No runs match these filters.' : 'No runs on this page; go back to the first page.'));
    if (offset > 0) body.append(h('a', { href: routeHash('runs', null, { ...current, offset: null }) }, 'First page'));
    return;
  }
  const selected = new Set<string>();
  const compare = h('button', { type: 'button', class: 'compare-btn' }, 'Compare selected');
  compare.addEventListener('click', () => {
    if (selected.size < 2 || selected.size > 5) {
      compare.after(message('info', 'Select 2 to 5 runs to compare.'));
      return;
    }
    // The oldest run is the baseline, as `producer compare OLDER NEWER`, whatever order they were ticked in.
    location.hash = routeHash('compare', null, { ids: baselineFirst(data.runs.filter((r) => selected.has(r.run_id))).join(',') });
  });
  const pager = h(
    'div',
    { class: 'pager' },
    h('span', {}, `${offset + 1}–${offset + data.runs.length} of ${total}`),
    offset > 0 ? h('a', { href: routeHash('runs', null, { ...current, offset: Math.max(0, offset - limit) || null }) }, '← newer') : null,
    offset + limit < total ? h('a', { href: routeHash('runs', null, { ...current, offset: offset + limit }), class: 'next' }, 'older →') : null,
    compare,
  );
  let grid = table(['', ...RUN_HEADERS], runRows(data.runs, selected), 'runs-table');
  body.append(pager, grid);

  // Running runs: their figures so far, refreshed every few seconds until none on the page is running.
  const progress = new Map<string, SoFar>();
  let timer: number | undefined;
  const refresh = async () => {
    const running = data.runs.filter((r) => r.status === 'running').map((r) => r.run_id);
    if (!running.length || signal.aborted) return;
    try {
      const { runs } = await client.request<{ runs: (RunListRow & { samples_aggregate: { aggregate: ProgressAggregate } })[] }>(
        RUNS_PROGRESS_QUERY, { ids: running, phase: 'measure' }, signal);
      for (const p of runs) {
        const i = data.runs.findIndex((r) => r.run_id === p.run_id);
        if (i < 0) continue;
        const { samples_aggregate, ...row } = p;
        data.runs[i] = { ...data.runs[i], ...row };
        progress.set(p.run_id, soFarFromAggregate(samples_aggregate.aggregate, p.kind === 'mqtt'));
      }
      const next = table(['', ...RUN_HEADERS], runRows(data.runs, selected, progress), 'runs-table');
      grid.replaceWith(next);
      grid = next;
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      // The table still shows what it had; the next refresh tries again.
      grid.title = `Refreshing the running runs failed: ${(err as Error).message}`;
    }
    if (!signal.aborted && data.runs.some((r) => r.status === 'running')) timer = window.setTimeout(() => void refresh(), PROGRESS_POLL_MS);
  };
  void refresh();
  return () => window.clearTimeout(timer);
};
