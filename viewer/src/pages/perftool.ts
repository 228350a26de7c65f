// perftool page: SINETStream perftool results. Per publisher (default): the perftool_<width> views (sum over
// threads per bucket), with the view chosen from the time range as the seed viewer did (shape.perftoolView);
// all publishers: one line per publisher; per thread: one line per thread of a publisher from the
// perftool_thread_<width> views (each thread's results averaged per bucket: the lines that perftool_<width> sums),
// with a table of each thread's means. Bytes/s and msgs/s everywhere. Writer and reader are both drawn: the writer
// as a wide pale line under the reader's dashed one, so equal rates (the usual case) still show both. Buckets of
// separate runs are not joined (shape.withGaps), and a single bucket gets a sensible x range (shape.sparseXRange).
// Zooming writes the shown window to from/to in the URL, so a link (or a reload) fetches that window.
import type uPlot from 'uplot';
import { PERFTOOL_ALL_QUERIES, PERFTOOL_PUBLISHERS_QUERY, PERFTOOL_QUERIES, PERFTOOL_THREAD_QUERIES } from '../queries';
import { formatNumber, parseUtc, perftoolView, perftoolWidth, pivot, resolveRange, sparseXRange, utcInputValue, withGaps } from '../shape';
import { chart, ChartGroup, PALETTE } from '../charts';
import { fmtTime, h, message, table } from '../ui';
import { bindZoomToUrl } from '../zoom';
import type { Page } from '../page';

interface Bucket {
  timestamp: string;
  publisher?: string;
  reader_bytes_rate: number | null;
  writer_bytes_rate: number | null;
  reader_count_rate: number | null;
  writer_count_rate: number | null;
  reader_error_rate?: number | null;
  writer_error_rate?: number | null;
  thread_count: number;
  result_count: number;
}

interface ThreadRow {
  timestamp: string;
  thread_number: number;
  writer_bytes_rate: number | null;
  reader_bytes_rate: number | null;
  writer_count_rate: number | null;
  reader_count_rate: number | null;
  writer_error_rate: number | null;
  reader_error_rate: number | null;
  result_count: number;
}

/** Mean of a figure over a thread's buckets (buckets without the figure left out); null when none has it. */
function mean(rows: readonly ThreadRow[], f: keyof ThreadRow): number | null {
  let sum = 0;
  let n = 0;
  for (const r of rows) {
    if (r[f] == null) continue;
    sum += Number(r[f]);
    n++;
  }
  return n ? sum / n : null;
}

const RANGES = [['1h', 'last hour'], ['6h', 'last 6 h'], ['24h', 'last 24 h'], ['7d', 'last 7 days'], ['30d', 'last 30 days']];
const ALL = '*';

/** Writer (wide, pale, underneath) and reader (dashed, on top) of one colour. */
const sides = (label: string, color: string) => [
  { label: `${label} writer`, color: `${color}80`, width: 5, pointSize: 12 },
  { label: `${label} reader`, color, width: 1.5, dash: [6, 4] },
];

export const perftoolPage: Page = async ({ client, route, root, signal, setParams }) => {
  const p = route.params;
  root.append(h('h1', {}, 'SINETStream perftool'));
  const { perftool: pubs } = await client.request<{ perftool: { publisher: string }[] }>(PERFTOOL_PUBLISHERS_QUERY, {}, signal);
  if (!pubs.length) {
    root.append(message('empty', 'No perftool results yet.'));
    return;
  }
  const publisher = p.get('publisher') || pubs[0].publisher;
  const perThread = p.get('by') === 'thread' && publisher !== ALL;
  const now = new Date();
  const r = resolveRange({ from: p.get('from'), to: p.get('to'), range: p.get('range') }, now, '24h');
  const from = r.from ?? new Date(now.getTime() - 86400e3);
  const to = r.to ?? now;
  const view = perftoolView(from, to);
  const unread = (['from', 'to'] as const).filter((k) => p.get(k) && !parseUtc(p.get(k)));
  if (unread.length) root.append(message('info', `Could not read ${unread.map((k) => `${k} "${p.get(k)}"`).join(' and ')}: write UTC as YYYY-MM-DD HH:MM:SS. Ignored.`));
  const width = perftoolWidth(view);

  const form = h('form', { class: 'filters' },
    h('label', {}, 'publisher', h('select', { name: 'publisher' },
      h('option', { value: ALL, selected: publisher === ALL }, 'all publishers (one line each)'),
      ...pubs.map((x) => h('option', { value: x.publisher, selected: x.publisher === publisher }, x.publisher)))),
    h('label', {}, 'show', h('select', { name: 'by' },
      h('option', { value: '' }, 'sum over threads'), h('option', { value: 'thread', selected: perThread }, 'per thread'))),
    h('label', {}, 'range', h('select', { name: 'range' },
      ...RANGES.map(([v, l]) => h('option', { value: v, selected: (p.get('range') ?? '24h') === v }, l)))),
    h('label', {}, 'from (UTC)', h('input', { name: 'from', placeholder: 'YYYY-MM-DD HH:MM:SS', size: 19, value: utcInputValue(parseUtc(p.get('from'))) })),
    h('label', {}, 'to (UTC)', h('input', { name: 'to', placeholder: 'YYYY-MM-DD HH:MM:SS', size: 19, value: utcInputValue(parseUtc(p.get('to'))) })),
    h('button', { type: 'submit' }, 'Show'));
  // Picking a range means "back from now": the from/to fields (typed, or filled by zooming) would override it.
  form.querySelector('select[name="range"]')!.addEventListener('change', () => {
    form.querySelectorAll<HTMLInputElement>('input[name="from"], input[name="to"]').forEach((i) => (i.value = ''));
  });
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    new FormData(form).forEach((v, k) => (next[k] = String(v)));
    setParams(next);
  });
  // Per thread, the perftool_thread_<width> view of the same buckets (PERFTOOL_THREAD_QUERIES[view] asks it).
  const threadView = `perftool_thread_${view.slice('perftool_'.length)}`;
  root.append(form, h('p', { class: 'muted view-name' },
    `${fmtTime(from.toISOString())} → ${fmtTime(to.toISOString())} (UTC), `,
    `from view ${perThread ? threadView : view} (${width} s buckets)`));

  const el = h('div', { class: 'charts' });
  const group = new ChartGroup();
  // Buckets are named by their start: the one that started up to a width before from overlaps the range too (a
  // window zoomed into the middle of a bucket still shows it).
  const vars = { from: new Date(from.getTime() - width * 1000).toISOString(), to: to.toISOString() };
  const note = (text: string) => el.append(h('p', { class: 'legend-note' }, text,
    ' Drag to zoom (all charts follow; the window goes into the URL, and a reload fetches it in finer buckets), double-click to reset. Times in UTC.'));
  // The zoomed window is the page's from/to: in the URL (a link or reload fetches exactly it) and in the form.
  const zoomInUrl = () => bindZoomToUrl(group, { keys: ['from', 'to'], time: true, reset: 'initial' }, (r) => {
    const [f, t] = ['from', 'to'].map((n) => form.querySelector<HTMLInputElement>(`input[name="${n}"]`)!);
    f.value = utcInputValue(r ? new Date(r[0] * 1000) : parseUtc(p.get('from')));
    t.value = utcInputValue(r ? new Date(r[1] * 1000) : parseUtc(p.get('to')));
  });

  if (perThread) {
    const data = await client.request<Record<string, ThreadRow[]>>(PERFTOOL_THREAD_QUERIES[view], { ...vars, publisher }, signal);
    const rows = data[threadView] ?? [];
    if (!rows.length) {
      root.append(message('empty', `No results from ${publisher} in this time range.`));
      return;
    }
    root.append(el);
    note(`Each thread's results averaged per ${width} s bucket (they add up to the publisher's line); pale wide: writer, dashed: reader; separate runs are not joined.`);
    const t = (x: ThreadRow) => Date.parse(x.timestamp) / 1000;
    const k = (x: ThreadRow) => `thread ${x.thread_number}`;
    const col = (f: keyof ThreadRow) => (x: ThreadRow) => (x[f] == null ? null : Number(x[f]));
    for (const [title, unit, w, rd] of [
      ['Bytes rate per thread', 'bytes/s', 'writer_bytes_rate', 'reader_bytes_rate'],
      ['Message rate per thread', 'msgs/s', 'writer_count_rate', 'reader_count_rate'],
    ] as [string, string, keyof ThreadRow, keyof ThreadRow][]) {
      const wr = pivot(rows, t, k, col(w));
      const re = pivot(rows, t, k, col(rd));
      const cols: (number | null)[][] = [];
      const series: ReturnType<typeof sides> = [];
      wr.keys.forEach((key, i) => {
        cols.push(wr.data[i + 1], re.data[i + 1]);
        series.push(...sides(key, PALETTE[i % PALETTE.length]));
      });
      const c = chart(el, { title, yLabel: unit, points: true, zero: true, group, series,
        data: withGaps(wr.data[0] as number[], cols, width) as uPlot.AlignedData, xRange: sparseXRange(wr.data[0] as number[], width) });
      c.root.parentElement?.setAttribute('data-series', wr.keys.join(','));
    }
    // Each thread's means over the shown buckets, as numbers to read off (and to check).
    const threads = Array.from(new Set(rows.map((r) => r.thread_number))).sort((a, b) => a - b);
    el.append(h('h2', {}, 'Per thread (mean over the buckets shown)'), table(
      ['thread', 'buckets', 'results', 'writer msgs/s', 'reader msgs/s', 'writer bytes/s', 'reader bytes/s', 'writer errors/s'],
      threads.map((n) => {
        const mine = rows.filter((r) => r.thread_number === n);
        const cell = (f: keyof ThreadRow) => h('span', { class: 'num' }, formatNumber(mean(mine, f)));
        return [String(n), String(mine.length), formatNumber(mine.reduce((a, r) => a + Number(r.result_count), 0)),
          cell('writer_count_rate'), cell('reader_count_rate'), cell('writer_bytes_rate'), cell('reader_bytes_rate'), cell('writer_error_rate')];
      }),
      'thread-table'));
    zoomInUrl();
    return () => group.destroy();
  }

  if (publisher === ALL) {
    const data = await client.request<Record<string, Bucket[]>>(PERFTOOL_ALL_QUERIES[view], vars, signal);
    const rows = data[view] ?? [];
    if (!rows.length) {
      root.append(message('empty', 'No perftool results in this time range.'));
      return;
    }
    root.append(el);
    note('Sum over each publisher\'s threads per bucket; pale wide: writer, dashed: reader.');
    const t = (b: Bucket) => Date.parse(b.timestamp) / 1000;
    const k = (b: Bucket) => b.publisher ?? '?';
    for (const [title, unit, w, rd] of [
      ['Bytes rate per publisher', 'bytes/s', 'writer_bytes_rate', 'reader_bytes_rate'],
      ['Message rate per publisher', 'msgs/s', 'writer_count_rate', 'reader_count_rate'],
    ] as [string, string, keyof Bucket, keyof Bucket][]) {
      const wr = pivot(rows, t, k, (b) => (b[w] == null ? null : Number(b[w])));
      const re = pivot(rows, t, k, (b) => (b[rd] == null ? null : Number(b[rd])));
      const cols: (number | null)[][] = [];
      const series: ReturnType<typeof sides> = [];
      wr.keys.forEach((key, i) => {
        cols.push(wr.data[i + 1], re.data[i + 1]);
        series.push(...sides(key, PALETTE[i % PALETTE.length]));
      });
      const gapped = withGaps(wr.data[0] as number[], cols, width);
      chart(el, { title, yLabel: unit, points: true, zero: true, group, series, data: gapped as uPlot.AlignedData,
        xRange: sparseXRange(wr.data[0] as number[], width) });
    }
    zoomInUrl();
    return () => group.destroy();
  }

  const data = await client.request<Record<string, Bucket[]>>(PERFTOOL_QUERIES[view], { ...vars, publisher }, signal);
  const rows = data[view] ?? [];
  if (!rows.length) {
    root.append(message('empty', `No results from ${publisher} in this time range.`));
    return;
  }
  root.append(el);
  note(`Sum over threads per ${width} s bucket; pale wide: writer, dashed: reader; separate runs are not joined.`);
  const x = rows.map((b) => Date.parse(b.timestamp) / 1000);
  const col = (k: keyof Bucket) => rows.map((b) => (b[k] == null ? null : Number(b[k])));
  const xRange = sparseXRange(x, width);
  const gapped = (...cols: (number | null)[][]) => withGaps(x, cols, width) as uPlot.AlignedData;
  chart(el, { title: 'Bytes rate (sum over threads)', yLabel: 'bytes/s', points: true, zero: true, group, xRange,
    series: sides('', PALETTE[0]).map((s) => ({ ...s, label: s.label.trim() })), data: gapped(col('writer_bytes_rate'), col('reader_bytes_rate')) });
  chart(el, { title: 'Message rate (sum over threads)', yLabel: 'msgs/s', points: true, zero: true, group, xRange,
    series: sides('', PALETTE[2]).map((s) => ({ ...s, label: s.label.trim() })), data: gapped(col('writer_count_rate'), col('reader_count_rate')) });
  chart(el, { title: 'Error rate', yLabel: 'errors/s', points: true, zero: true, group, xRange,
    series: [{ label: 'writer', color: '#d6272880', width: 5, pointSize: 12 }, { label: 'reader', color: '#9467bd', width: 1.5, dash: [6, 4] }],
    data: gapped(col('writer_error_rate'), col('reader_error_rate')) });
  zoomInUrl();
  return () => group.destroy();
};
