// The latency distribution of one or more runs (shape.distributionBars drawn as HTML bars): on the run page one
// bar per percentile, on the compare page one per run and percentile in the runs' chart colours.
import { distributionBars, formatNumber } from './shape';
import { PALETTE } from './charts';
import { h } from './ui';

export function distributionCard(runs: readonly Record<string, unknown>[], title: string, names: string[] = []): HTMLElement | null {
  const rows = distributionBars(runs);
  if (!rows) return null;
  return h('div', { class: 'card distribution' }, h('h2', {}, title),
    h('table', { class: 'dist' }, h('tbody', {}, ...rows.flatMap((r) => r.cells.map((c, i) => h('tr', { class: i === 0 ? 'first' : '' },
      h('th', {}, i === 0 ? r.label : ''),
      runs.length > 1 ? h('td', { class: 'run-name' }, names[i] ?? '') : null,
      h('td', { class: 'bar-cell' }, h('span', { class: 'bar', style: `width: ${c.width}%; background: ${PALETTE[i % PALETTE.length]}` })),
      h('td', { class: 'num' }, formatNumber(c.value))))))));
}
