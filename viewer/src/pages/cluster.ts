// The run page's cluster observation (issue 15): the topology banner under the title, and below the sample charts
// the events, node roles over time, replication lag per standby, reads per node (Pgpool), and the server's facts.
// A run without observations shows none of it. A run with more than a page of rounds (the anonymous row limit) is
// drawn a minute a point from the per-minute views, so it is shown whole. The shaping is in observe.ts; this builds
// the DOM and the charts.
import type uPlot from 'uplot';
import {
  CLUSTER_LENGTH_PROBE_QUERY, CLUSTER_MINUTES_PAGE_SIZE, OBSERVATION_PAGE_SIZE, RUN_NODE_MINUTES_QUERY, RUN_NODE_SAMPLES_QUERY,
  RUN_OBSERVATION_QUERY, RUN_POOL_MINUTES_QUERY, RUN_POOL_SAMPLES_QUERY,
} from '../queries';
import {
  describeEvent, EVENT_COLORS, lagSeries, nodeMinutesAsRounds, observationShown, poolMinutesAsRounds, readsPerNode, roleLanes, serverFacts,
  topologyBanner, topologyFlag, type ClusterEventRow, type NodeMinuteRow, type NodeSampleRow, type ObservedRun, type PoolMinuteRow,
  type PoolSampleRow, type SettingRow,
} from '../observe';
import { chart, type ChartGroup, type Mark } from '../charts';
import { facts, fmtTime, h, table } from '../ui';
import type { Client } from '../graphql';

/**
 * What the run page shows of a run's observation. perMinute: nodes and pool are the run's minutes (a round a minute,
 * observe.ts nodeMinutesAsRounds), not its rounds, because it has more rounds than one page.
 */
export interface Observation { nodes: NodeSampleRow[]; pool: PoolSampleRow[]; events: ClusterEventRow[]; settings: SettingRow[]; perMinute?: boolean }

/** Every row of a paged observation document, following pages of size rows until one comes back short. */
async function allPages<T>(client: Client, doc: string, field: string, id: string, signal: AbortSignal, size = OBSERVATION_PAGE_SIZE): Promise<T[]> {
  const out: T[] = [];
  for (let offset = 0; ; offset += size) {
    const page = (await client.request<Record<string, T[]>>(doc, { id, offset, limit: size }, signal))[field];
    out.push(...page);
    if (page.length < size) return out;
  }
}

/**
 * A run's observation: node and Pgpool rounds, events, settings (empty lists for a run without any). A run with more
 * than one page of node or Pgpool rows (OBSERVATION_PAGE_SIZE, the anonymous role's row limit: 100,000 rows, about 9
 * hours of three nodes) gets its minutes instead, from cluster_node_samples_1m and cluster_pool_samples_1m, as
 * run.ts draws a run with more than a page of samples from samples_1m; its events stay exact.
 */
export async function fetchObservation(client: Client, id: string, signal: AbortSignal): Promise<Observation> {
  const metaP = client.request<{ cluster_events: ClusterEventRow[]; run_settings: SettingRow[] }>(RUN_OBSERVATION_QUERY, { id }, signal);
  metaP.catch(() => undefined); // awaited below, after the probe
  const probe = await client.request<{ nodes: unknown[]; pool: unknown[] }>(CLUSTER_LENGTH_PROBE_QUERY, { id, offset: OBSERVATION_PAGE_SIZE }, signal);
  const perMinute = probe.nodes.length > 0 || probe.pool.length > 0;
  const [meta, nodes, pool] = await Promise.all([
    metaP,
    perMinute
      ? allPages<NodeMinuteRow>(client, RUN_NODE_MINUTES_QUERY, 'cluster_node_samples_1m', id, signal, CLUSTER_MINUTES_PAGE_SIZE).then(nodeMinutesAsRounds)
      : allPages<NodeSampleRow>(client, RUN_NODE_SAMPLES_QUERY, 'cluster_node_samples', id, signal),
    perMinute
      ? allPages<PoolMinuteRow>(client, RUN_POOL_MINUTES_QUERY, 'cluster_pool_samples_1m', id, signal, CLUSTER_MINUTES_PAGE_SIZE).then(poolMinutesAsRounds)
      : allPages<PoolSampleRow>(client, RUN_POOL_SAMPLES_QUERY, 'cluster_pool_samples', id, signal),
  ]);
  return { nodes, pool, events: meta.cluster_events, settings: meta.run_settings, perMinute };
}

/** The banner for a run whose topology changed, or null. */
export function topologyBannerEl(run: ObservedRun, events: readonly ClusterEventRow[]): HTMLElement | null {
  const b = topologyBanner(run, events);
  if (!b) return null;
  return h('div', { class: `msg topology-banner ${b.tone}`, role: 'alert' },
    h('strong', {}, b.title), h('ul', {}, ...b.lines.map((l) => h('li', {}, l))));
}

/** The runs list's and compare page's flag, or null. */
export function topologyFlagEl(run: ObservedRun): HTMLElement | null {
  const f = topologyFlag(run);
  return f ? h('span', { class: `topology-flag ${f.cls}`, title: f.title }, f.label) : null;
}

/**
 * Fills el with the run's cluster section (replacing what it held) and draws its charts in group (a follower of the
 * page's chart group: same crosshair and zoom). el's data-observation says what it shows (observe.ts observationShown).
 */
export function renderCluster(el: HTMLElement, group: ChartGroup, run: ObservedRun, o: Observation, marks: () => readonly Mark[]): void {
  group.destroy();
  el.replaceChildren();
  const shown = observationShown(o, run);
  el.setAttribute('data-observation', shown);
  el.setAttribute('data-resolution', o.perMinute ? 'minute' : 'round');
  if (shown === 'none') return;
  if (shown === 'cluster') el.append(h('h2', {}, 'Cluster during the run'));
  const perMinute = !!o.perMinute;
  if (perMinute) {
    el.append(h('p', { class: 'cluster-per-minute-note' },
      `This run has more than ${OBSERVATION_PAGE_SIZE.toLocaleString('en-US')} per-second node or Pgpool rows: its cluster charts are drawn `
      + 'a minute a point from cluster_node_samples_1m and cluster_pool_samples_1m (each node in its state at the minute\'s last round, '
      + 'the minute\'s highest lag, the SELECTs of the minute), so the whole run is shown. The events are exact, to the second.'));
  }
  if (o.events.length) {
    el.append(h('h3', {}, `Events (${o.events.length})`), table(['time (UTC)', 'event'], o.events.map((e) => [
      fmtTime(e.event_time),
      h('span', {}, h('span', { class: 'event-swatch', style: `background: ${EVENT_COLORS[e.kind] ?? '#000'}` }), ' ', describeEvent(e)),
    ]), 'cluster-events'));
  }
  const charts = h('div', { class: 'charts cluster-charts' });
  el.append(charts);
  const drawn: uPlot[] = [];
  if (o.nodes.length) {
    const l = roleLanes(o.nodes);
    drawn.push(chart(charts, {
      title: `Node roles (a lane per node: down, standby, primary${perMinute ? '; at each minute\'s last round' : ''})`, yLabel: 'node', group, marks, yTicks: l.ticks,
      yRange: () => l.range, series: l.nodes.map((n) => ({ label: n, width: 2, stepped: true })),
      data: [l.x, ...l.y] as uPlot.AlignedData,
    }));
    for (const [key, title, unit] of [['lag_bytes', 'Replication lag per standby (bytes behind its primary)', 'bytes'],
      ['lag_seconds', 'Replication lag per standby (seconds since the last replayed transaction)', 's']] as const) {
      const s = lagSeries(o.nodes, key);
      if (!s.labels.length) continue;
      drawn.push(chart(charts, {
        title: perMinute ? title.replace('(', '(each minute\'s highest, ') : title, yLabel: unit, group, marks, zero: true,
        series: s.labels.map((n) => ({ label: n, width: 1.5 })), data: [s.x, ...s.y] as uPlot.AlignedData,
      }));
    }
  }
  if (o.pool.length) {
    const r = readsPerNode(o.pool);
    drawn.push(chart(charts, {
      title: `Reads per node (Pgpool-II: SELECTs sent to each backend per ${perMinute ? 'minute' : 'round'})`, yLabel: 'SELECTs', group, marks, zero: true,
      series: r.labels.map((n) => ({ label: n, width: 1.5 })), data: [r.x, ...r.y] as uPlot.AlignedData,
    }));
  }
  if (drawn.length) {
    charts.append(h('p', { class: 'legend-note' },
      'Dashed vertical lines: the events, in the colours of the table (also on the charts above). ',
      perMinute ? 'A point a minute (of the rounds of probes, one a second); ' : 'One round of probes a second; ',
      'zoom and crosshair are shared with the charts above. Times in UTC.'));
  }
  if (group.zoom) for (const c of drawn) c.setScale('x', { min: group.zoom[0], max: group.zoom[1] });
  const server = serverFacts(run, o.settings);
  if (server.length) {
    el.append(h('div', { class: 'card server-facts' }, h('h2', {}, 'Server'), facts(server),
      o.settings.length
        ? h('details', {}, h('summary', {}, `Non-default settings (${o.settings.length})`),
          table(['name', 'setting', 'unit', 'source'], o.settings.map((s) => [s.name, s.setting, s.unit ?? '', s.source]), 'run-settings'))
        : null));
  }
}
