// perftool page: SINETStream perftool results. Per publisher (default): the perftool_<width> views (sum over
// threads per bucket), with the view chosen from the time range as the seed viewer did (shape.perftoolView);
// all publishers: one line per publisher; per thread: every thread's results as perftool printed them (the
// perftool table, one point per thread and round). Writer and reader are both drawn: the writer as a wide pale
// line under the reader's dashed one, so equal rates (the usual case) still show both. Buckets of separate runs are
// not joined (shape.withGaps), and a single bucket gets a sensible x range (shape.sparseXRange).
import type uPlot from 'uplot';
import { PERFTOOL_ALL_QUERIES, PERFTOOL_PUBLISHERS_QUERY, PERFTOOL_QUERIES, PERFTOOL_THREADS_LIMIT, PERFTOOL_THREADS_QUERY } from '../queries';
import { parseUtc, perftoolView, perftoolWidth, pivot, resolveRange, sparseXRange, utcInputValue, withGaps } from '../shape';
import { chart, ChartGroup, PALETTE } from '../charts';
import { fmtTime, h, message } from '../ui';
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
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    new FormData(form).forEach((v, k) => (next[k] = String(v)));
    setParams(next);
  });
  root.append(form, h('p', { class: 'muted view-name' },
    `${fmtTime(from.toISOString())} → ${fmtTime(to.toISOString())} (UTC), `,
    perThread ? `every result of each thread (perftool table)` : `from view ${view} (${width} s buckets)`));

  const el = h('div', { class: 'charts' });
  const group = new ChartGroup();
  const vars = { from: from.toISOString(), to: to.toISOString() };
  const note = (text: string) => el.append(h('p', { class: 'legend-note' }, text,
    ' Drag to zoom (all charts follow), double-click to reset. Times in UTC.'));

  if (perThread) {
    const { perftool: rows } = await client.request<{ perftool: ThreadRow[] }>(PERFTOOL_THREADS_QUERY,
      { ...vars, publisher, limit: PERFTOOL_THREADS_LIMIT }, signal);
    if (!rows.length) {
      root.append(message('empty', `No results from ${publisher} in this time range.`));
      return;
    }
    if (rows.length === PERFTOOL_THREADS_LIMIT) root.append(message('info', `Showing the latest ${PERFTOOL_THREADS_LIMIT} results; narrow the range to see older ones.`));
    root.append(el);
    note('One point per thread and round (perftool\'s own lines); pale wide: writer, dashed: reader.');
    const t = (x: ThreadRow) => Date.parse(x.timestamp) / 1000;
    const k = (x: ThreadRow) => `thread ${x.thread_number}`;
    const col = (f: keyof ThreadRow) => (x: ThreadRow) => (x[f] == null ? null : Number(x[f]));
    for (const [title, unit, w, rd] of [
      ['Bytes rate per thread', 'bytes/s', 'writer_bytes_rate', 'reader_bytes_rate'],
      ['Message rate per thread', 'msg/s', 'writer_count_rate', 'reader_count_rate'],
    ] as [string, string, keyof ThreadRow, keyof ThreadRow][]) {
      const wr = pivot(rows, t, k, col(w));
      const re = pivot(rows, t, k, col(rd));
      const data: (number | null)[][] = [wr.data[0]];
      const series: ReturnType<typeof sides> = [];
      wr.keys.forEach((key, i) => {
        data.push(wr.data[i + 1], re.data[i + 1]);
        series.push(...sides(key, PALETTE[i % PALETTE.length]));
      });
      chart(el, { title, yLabel: unit, pointsOnly: true, zero: true, group, series, data: data as uPlot.AlignedData,
        xRange: sparseXRange(wr.data[0] as number[], 60) });
    }
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
      ['Message rate per publisher', 'msg/s', 'writer_count_rate', 'reader_count_rate'],
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
  chart(el, { title: 'Message rate (sum over threads)', yLabel: 'msg/s', points: true, zero: true, group, xRange,
    series: sides('', PALETTE[2]).map((s) => ({ ...s, label: s.label.trim() })), data: gapped(col('writer_count_rate'), col('reader_count_rate')) });
  chart(el, { title: 'Error rate', yLabel: 'errors/s', points: true, zero: true, group, xRange,
    series: [{ label: 'writer', color: '#d6272880', width: 5, pointSize: 12 }, { label: 'reader', color: '#9467bd', width: 1.5, dash: [6, 4] }],
    data: gapped(col('writer_error_rate'), col('reader_error_rate')) });
  return () => group.destroy();
};
