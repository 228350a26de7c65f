// perftool page: one publisher's SINETStream perftool results from the perftool_<width> views (sum over threads
// per bucket), with the view chosen from the time range as the seed viewer did (shape.perftoolView).
import type uPlot from 'uplot';
import { PERFTOOL_PUBLISHERS_QUERY, PERFTOOL_QUERIES } from '../queries';
import { perftoolView, resolveRange } from '../shape';
import { chart } from '../charts';
import { h, message } from '../ui';
import type { Page } from '../page';

interface Bucket {
  timestamp: string;
  reader_bytes_rate: number | null;
  writer_bytes_rate: number | null;
  reader_count_rate: number | null;
  writer_count_rate: number | null;
  reader_error_rate: number | null;
  writer_error_rate: number | null;
  thread_count: number;
  result_count: number;
}

const RANGES = [['1h', 'last hour'], ['6h', 'last 6 h'], ['24h', 'last 24 h'], ['7d', 'last 7 days'], ['30d', 'last 30 days']];

export const perftoolPage: Page = async ({ client, route, root, signal, setParams }) => {
  const p = route.params;
  root.append(h('h1', {}, 'SINETStream perftool'));
  const { perftool: pubs } = await client.request<{ perftool: { publisher: string }[] }>(PERFTOOL_PUBLISHERS_QUERY, {}, signal);
  if (!pubs.length) {
    root.append(message('empty', 'No perftool results yet.'));
    return;
  }
  const publisher = p.get('publisher') || pubs[0].publisher;
  const now = new Date();
  const r = resolveRange({ from: p.get('from'), to: p.get('to'), range: p.get('range') }, now, '24h');
  const from = r.from ?? new Date(now.getTime() - 86400e3);
  const to = r.to ?? now;
  const view = perftoolView(from, to);

  const form = h('form', { class: 'filters' },
    h('label', {}, 'publisher', h('select', { name: 'publisher' },
      ...pubs.map((x) => h('option', { value: x.publisher, selected: x.publisher === publisher }, x.publisher)))),
    h('label', {}, 'range', h('select', { name: 'range' },
      ...RANGES.map(([v, l]) => h('option', { value: v, selected: (p.get('range') ?? '24h') === v }, l)))),
    h('label', {}, 'from', h('input', { name: 'from', type: 'datetime-local', value: p.get('from') ?? '' })),
    h('label', {}, 'to', h('input', { name: 'to', type: 'datetime-local', value: p.get('to') ?? '' })),
    h('button', { type: 'submit' }, 'Show'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const next: Record<string, string> = {};
    new FormData(form).forEach((v, k) => (next[k] = String(v)));
    setParams(next);
  });
  root.append(form, h('p', { class: 'muted view-name' }, `${from.toISOString()} → ${to.toISOString()}, from view ${view}`));

  const data = await client.request<Record<string, Bucket[]>>(
    PERFTOOL_QUERIES[view], { publisher, from: from.toISOString(), to: to.toISOString() }, signal);
  const rows = data[view] ?? [];
  if (!rows.length) {
    root.append(message('empty', `No results from ${publisher} in this time range.`));
    return;
  }
  const x = rows.map((b) => Date.parse(b.timestamp) / 1000);
  const col = (k: keyof Bucket) => rows.map((b) => (b[k] == null ? null : Number(b[k])));
  const el = h('div', { class: 'charts' });
  root.append(el);
  const charts: uPlot[] = [
    chart(el, { title: 'Bytes rate (sum over threads)', yLabel: 'bytes/s', points: true,
      series: [{ label: 'writer' }, { label: 'reader' }], data: [x, col('writer_bytes_rate'), col('reader_bytes_rate')] }),
    chart(el, { title: 'Message rate (sum over threads)', yLabel: 'msg/s', points: true,
      series: [{ label: 'writer' }, { label: 'reader' }], data: [x, col('writer_count_rate'), col('reader_count_rate')] }),
    chart(el, { title: 'Error rate', yLabel: 'errors/s', points: true,
      series: [{ label: 'writer', color: '#d62728' }, { label: 'reader', color: '#9467bd' }], data: [x, col('writer_error_rate'), col('reader_error_rate')] }),
  ];
  return () => charts.forEach((c) => c.destroy());
};
