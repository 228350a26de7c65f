// Latency distributions from the merged histograms (runs_latency_distribution): a run's CDF, several runs' CDFs
// overlaid on one chart, and the true percentiles of a time window (run_latency_percentiles). The database merges
// the per-minute histograms the sink keeps, so these are exact to the histogram's precision for a run of any
// length, where percentiles of per-interval percentiles are not. The run page's CDF (runCdf) follows a running run.
import type uPlot from 'uplot';
import { chart, PALETTE } from './charts';
import type { Client } from './graphql';
import { RUN_DISTRIBUTION_QUERY, RUN_WINDOW_PERCENTILES_QUERY } from './queries';
import { formatNumber } from './shape';
import { h, message } from './ui';

export interface DistributionRow { series: string; value_ms: number; count: number; cumulative: number; quantile: number }
export interface PercentilesRow { series: string; count: number; p50_ms: number; p90_ms: number; p99_ms: number; p999_ms: number; max_ms: number }

/** A CDF: bucket values (ms, ascending) and the share of values at or below each. */
export interface Cdf { x: number[]; q: number[]; count: number }

/** The "latency" series of a run's distribution rows as a CDF; null when the run has no histograms. */
export function cdfOf(rows: readonly DistributionRow[]): Cdf | null {
  const lat = rows.filter((r) => r.series === 'latency' && r.value_ms > 0);
  if (!lat.length) return null;
  return { x: lat.map((r) => r.value_ms), q: lat.map((r) => r.quantile), count: lat[lat.length - 1].cumulative };
}

/**
 * CDFs on one x (the union of their bucket values), as uPlot wants them: each curve is a step function, so at an x
 * between two of its buckets it keeps the lower bucket's quantile; 0 before its first bucket, 1 after its last.
 */
export function alignCdfs(cdfs: readonly Cdf[]): (number | null)[][] {
  const xs = [...new Set(cdfs.flatMap((c) => c.x))].sort((a, b) => a - b);
  return [xs, ...cdfs.map((c) => {
    let i = -1;
    return xs.map((x) => {
      while (i + 1 < c.x.length && c.x[i + 1] <= x) i++;
      return i < 0 ? 0 : c.q[i];
    });
  })];
}

/** The value at quantile q of a CDF (the first bucket reaching it), as HdrHistogram reads a percentile. */
export function valueAtQuantile(c: Cdf, q: number): number | null {
  const i = c.q.findIndex((v) => v >= q - 1e-12);
  return i < 0 ? null : c.x[i];
}

/** Fetches one run's merged distribution (measurement phase). */
export async function fetchCdf(client: Client, id: string, signal?: AbortSignal): Promise<Cdf | null> {
  const d = await client.request<{ runs_latency_distribution: DistributionRow[] }>(RUN_DISTRIBUTION_QUERY, { ids: `{${id}}` }, signal);
  return cdfOf(d.runs_latency_distribution);
}

const NO_HISTOGRAMS = 'No latency histograms: producers before record version 2 send percentiles only.';

/**
 * A card with the CDFs of one or more runs (names label them, in the runs' chart colours), or a note (empty) when
 * none has histograms. data-runs, data-buckets and data-count (the latencies of each run drawn, as its row of the
 * quantiles table says) tell what was drawn (browser tests). plot is the chart, null without one: whoever replaces
 * the card destroys it.
 */
export function cdfCard(parent: HTMLElement, cdfs: (Cdf | null)[], names: string[], title: string, empty = NO_HISTOGRAMS): { card: HTMLElement; plot: uPlot | null } {
  const card = h('div', { class: 'card cdf' }, h('h2', {}, title));
  parent.append(card);
  const shown = cdfs.map((c, i) => ({ c, i })).filter((x): x is { c: Cdf; i: number } => x.c !== null);
  card.setAttribute('data-runs', String(shown.length));
  card.setAttribute('data-buckets', shown.map((s) => s.c.x.length).join(','));
  card.setAttribute('data-count', shown.map((s) => s.c.count).join(','));
  if (!shown.length) {
    card.append(h('p', { class: 'legend-note' }, empty));
    return { card, plot: null };
  }
  const plot = chart(card, {
    title: 'Share of latencies at or below (merged histograms, measurement phase)', yLabel: 'quantile', time: false, xLog: true, xLabel: 'ms (log)',
    series: shown.map((s) => ({ label: names[s.i] ?? `run ${s.i + 1}`, color: PALETTE[s.i % PALETTE.length], width: 1.5, stepped: true })),
    data: alignCdfs(shown.map((s) => s.c)) as uPlot.AlignedData,
    yRange: () => [0, 1], className: 'cdf-chart',
  });
  card.append(h('table', { class: 'cdf-quantiles' },
    h('thead', {}, h('tr', {}, h('th', {}, 'run'), h('th', {}, 'values'), h('th', {}, 'p50 ms'), h('th', {}, 'p99 ms'), h('th', {}, 'p99.9 ms'))),
    h('tbody', {}, ...shown.map((s) => h('tr', { 'data-run': names[s.i] ?? '' }, h('td', {}, names[s.i] ?? ''), h('td', { class: 'num' }, formatNumber(s.c.count)),
      ...[0.5, 0.99, 0.999].map((q) => h('td', { class: 'num' }, formatNumber(valueAtQuantile(s.c, q)))))))));
  return { card, plot };
}

/**
 * How often at most the run page fetches a running run's CDF again as its samples arrive. The merged histograms
 * grow with every sample, but a fetch per sample (one a second per open page, each merging the whole run) would
 * load Hasura and the database for a curve that moves little in a second.
 */
export const CDF_REFRESH_MS = 10_000;

/** Whether a running run's CDF is due for another fetch at now (ms): none in flight, the last begun CDF_REFRESH_MS ago or more. */
export function cdfRefreshDue(lastStart: number, inFlight: boolean, now: number): boolean {
  return !inFlight && now - lastStart >= CDF_REFRESH_MS;
}

/** The run page's CDF card (runCdf). */
export interface RunCdf {
  /** Where the card is drawn; the page places it once. */
  el: HTMLElement;
  /** Fetches the run's distribution and draws the card in place of the last one; running: the run is still running. */
  draw: (running: boolean) => Promise<void>;
  /** New samples of the running run have arrived: draw(true) if due (cdfRefreshDue). */
  follow: () => void;
}

const RUN_CDF_TITLE = 'Latency distribution from the merged histograms (CDF)';
const clock = (d: Date) => `${d.toISOString().slice(11, 19)}Z`;

/**
 * The run page's CDF card: one run's distribution, drawn by draw() and drawn again in place while the run is running
 * (follow(), then draw(false) once it has ended, which picks up its last samples). While running, the card says when
 * it was fetched ("updated HH:MM:SSZ"). A failed fetch keeps the last card and says so in it, or, with no card yet,
 * is a message in its place. Of overlapping draws only the latest begun is shown; the page's signal ends them.
 * The card's data-state is 'running', 'final' or 'error' (the last drawn card kept), data-count the latencies drawn.
 */
export function runCdf(client: Client, id: string, signal: AbortSignal): RunCdf {
  const el = h('div', { class: 'cdf-holder' });
  let seq = 0;
  let inFlight = 0;
  let lastStart = -Infinity;
  let plot: uPlot | null = null;
  let drawnAt = '';
  const note = (card: HTMLElement, text: string) => {
    card.querySelector('.cdf-updated')?.remove();
    card.querySelector('h2')?.after(h('p', { class: 'cdf-updated legend-note' }, text));
  };
  const draw = async (running: boolean) => {
    const mine = ++seq;
    lastStart = Date.now();
    inFlight++;
    let c: Cdf | null;
    try {
      c = await fetchCdf(client, id, signal);
    } catch (e) {
      if (mine !== seq || signal.aborted) return;
      const card = el.querySelector<HTMLElement>('.cdf');
      if (!card) {
        el.replaceChildren(message('error', `Latency distribution unavailable: ${(e as Error).message}`));
        return;
      }
      card.setAttribute('data-state', 'error');
      note(card, `${running
        ? `Update at ${clock(new Date())} failed; still shown: the latencies as of ${drawnAt}.`
        : `The run has ended, but fetching its final distribution failed; still shown: the latencies as of ${drawnAt} (reload to see them all).`} ${(e as Error).message}`);
      return;
    } finally {
      inFlight--;
    }
    if (mine !== seq || signal.aborted) return;
    plot?.destroy();
    el.replaceChildren();
    const drawn = cdfCard(el, [c], ['this run'], RUN_CDF_TITLE,
      running ? 'No latency histograms yet: the measurement phase has not begun, or the producer sends percentiles only (before record version 2).' : NO_HISTOGRAMS);
    plot = drawn.plot;
    drawnAt = clock(new Date());
    drawn.card.setAttribute('data-state', running ? 'running' : 'final');
    if (running) {
      note(drawn.card, `Run in progress: the latencies measured so far, updated ${drawnAt}; fetched again as samples arrive, at most every ${CDF_REFRESH_MS / 1000} s.`);
    }
  };
  const follow = () => {
    if (!signal.aborted && cdfRefreshDue(lastStart, inFlight > 0, Date.now())) void draw(true);
  };
  return { el, draw, follow };
}

/** The tooltip of the window percentiles: what they are and how the window is rounded. */
export const WINDOW_TOOLTIP = 'True percentiles of the shown window, merged by the database from the run\'s per-minute latency histograms '
  + '(measurement phase). Windows are minute-granular: the window is widened to whole minutes (its start rounded down, '
  + 'every minute starting before its end counted).';

/**
 * The window percentiles line of the run page: p50/p99/p99.9 of [from, to] (Unix seconds; null: the whole run),
 * refreshed by update(range) as the user zooms. data-from/data-to/data-p50/data-p99/data-p999 say what it shows.
 */
export function windowPercentiles(client: Client, id: string, signal: AbortSignal): { el: HTMLElement; update: (r: [number, number] | null) => Promise<void> } {
  const el = h('p', { class: 'window-percentiles', title: WINDOW_TOOLTIP });
  let seq = 0;
  const update = async (r: [number, number] | null) => {
    const mine = ++seq;
    const iso = (s: number) => new Date(Math.round(s * 1000)).toISOString();
    const vars = { id, from: r ? iso(r[0]) : null, to: r ? iso(r[1]) : null };
    el.setAttribute('data-state', 'loading');
    let rows: PercentilesRow[];
    try {
      rows = (await client.request<{ run_latency_percentiles: PercentilesRow[] }>(RUN_WINDOW_PERCENTILES_QUERY, vars, signal)).run_latency_percentiles;
    } catch (e) {
      if (mine !== seq || signal.aborted) return;
      el.setAttribute('data-state', 'error');
      el.replaceChildren(`Window percentiles unavailable: ${(e as Error).message}`);
      return;
    }
    if (mine !== seq) return; // a later zoom answered first
    const lat = rows.find((x) => x.series === 'latency');
    el.setAttribute('data-from', vars.from ?? '');
    el.setAttribute('data-to', vars.to ?? '');
    el.setAttribute('data-state', 'done');
    for (const k of ['p50', 'p99', 'p999'] as const) el.setAttribute(`data-${k}`, lat ? String(lat[`${k}_ms`]) : '');
    el.setAttribute('data-count', lat ? String(lat.count) : '0');
    const where = r ? 'this window (minute-granular)' : 'the whole measurement';
    el.replaceChildren(lat
      ? h('span', {}, h('strong', {}, `Latency of ${where}: `),
        `p50 ${formatNumber(lat.p50_ms)} ms · p99 ${formatNumber(lat.p99_ms)} ms · p99.9 ${formatNumber(lat.p999_ms)} ms · max ${formatNumber(lat.max_ms)} ms`,
        ` (${formatNumber(lat.count)} values, merged histograms)`)
      : `No latency histograms for ${where}: the charts' per-interval percentiles are all there is.`);
  };
  return { el, update };
}
