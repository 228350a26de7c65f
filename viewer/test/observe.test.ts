// Unit tests of the cluster observation's shaping (src/observe.ts): role lanes, lag and reads per node as uPlot
// columns, event wording, the topology banner and flag, server facts. Exact expected output; the browser tests
// (test/browser/run.mjs) show them drawn from the fixture's observed run.
import { describe, expect, it } from 'vitest';
import {
  backendLabel, clock, describeEvent, eventMarks, formatBytes, lagSeries, nodeMinutesAsRounds, observationShown, poolMinutesAsRounds, readsPerNode,
  roleLanes, serverFacts, topologyBanner, topologyFlag, versionText, type ClusterEventRow, type NodeMinuteRow, type NodeSampleRow, type PoolMinuteRow,
  type PoolSampleRow,
} from '../src/observe';

const T0 = Date.parse('2026-02-01T10:03:10Z');
const at = (s: number) => new Date(T0 + s * 1000).toISOString();
const x = (s: number) => T0 / 1000 + s;

/** Four rounds of two nodes: a standby promoted at round 1 while the primary runs on (split brain), then pg-a down. */
function node(s: number, name: string, role: 'primary' | 'standby' | null, lag: [number, number] | null = null): NodeSampleRow {
  return { seq: 2 * s + 2, sampled_at: at(s), node: name, up: role !== null, role, lag_bytes: lag?.[0] ?? null, lag_seconds: lag?.[1] ?? null };
}
const NODES: NodeSampleRow[] = [
  node(0, 'pg-a', 'primary'), node(0, 'pg-b', 'standby', [4096, 0.25]),
  node(1, 'pg-a', 'primary'), node(1, 'pg-b', 'primary'),
  node(2, 'pg-a', 'primary'), node(2, 'pg-b', 'primary'),
  node(3, 'pg-a', null), node(3, 'pg-b', 'primary'),
];

function event(s: number, idx: number, kind: string, over: Partial<ClusterEventRow> = {}): ClusterEventRow {
  return { seq: 2 * s + 2, idx, event_time: at(s), kind, node: null, from_state: null, to_state: null, nodes: null, detail: null, ...over };
}
const EVENTS: ClusterEventRow[] = [
  event(1, 0, 'role_change', { node: 'pg-b', from_state: 'standby', to_state: 'primary' }),
  event(1, 1, 'split_brain', { nodes: ['pg-a', 'pg-b'] }),
  event(3, 0, 'node_down', { node: 'pg-a', detail: 'connection refused' }),
  event(3, 1, 'split_brain_end'),
];

describe('node roles over time', () => {
  it('one lane per node, the first on top, at its down/standby/primary level; two primaries are two top levels', () => {
    const l = roleLanes(NODES);
    expect(l.x).toEqual([x(0), x(1), x(2), x(3)]);
    expect(l.nodes).toEqual(['pg-a', 'pg-b']);
    // pg-a's lane is 3..5 (down 3, standby 4, primary 5), pg-b's 0..2.
    expect(l.y).toEqual([[5, 5, 5, 3], [1, 2, 2, 2]]);
    expect(l.ticks).toEqual([
      { value: 0, label: 'pg-b down' }, { value: 1, label: 'pg-b standby' }, { value: 2, label: 'pg-b primary' },
      { value: 3, label: 'pg-a down' }, { value: 4, label: 'pg-a standby' }, { value: 5, label: 'pg-a primary' },
    ]);
    expect(l.range).toEqual([-0.5, 5.5]);
  });
  it('a node missing from a round is a gap, not a level', () => {
    const l = roleLanes([node(0, 'pg-a', 'primary'), node(0, 'pg-b', 'standby'), node(1, 'pg-a', 'primary')]);
    expect(l.y).toEqual([[5, 5], [1, null]]);
  });
});

describe('replication lag and reads per node', () => {
  it('lag per node that ever had one (a standby), null where it had none', () => {
    expect(lagSeries(NODES, 'lag_bytes')).toEqual({ x: [x(0), x(1), x(2), x(3)], labels: ['pg-b'], y: [[4096, null, null, null]] });
    expect(lagSeries(NODES, 'lag_seconds')).toEqual({ x: [x(0), x(1), x(2), x(3)], labels: ['pg-b'], y: [[0.25, null, null, null]] });
    expect(lagSeries([node(0, 'pg-a', 'primary')], 'lag_bytes')).toEqual({ x: [x(0)], labels: [], y: [] });
  });
  it('select_delta per Pgpool backend, in node_id order, named after the observed node or the address', () => {
    const pool = (s: number, id: number, delta: number, name: string | null): PoolSampleRow =>
      ({ seq: 2 * s + 2, sampled_at: at(s), node_id: id, node: name, addr: `127.0.0.1:${5433 + id}`, status: 'up', select_delta: delta });
    const rows = [pool(0, 1, 0, null), pool(0, 0, 0, 'pg-a'), pool(1, 0, 120, 'pg-a'), pool(1, 1, 80, null), pool(2, 1, 200, null)];
    expect(readsPerNode(rows)).toEqual({
      x: [x(0), x(1), x(2)], labels: ['pg-a (backend 0)', '127.0.0.1:5434 (backend 1)'], y: [[0, 120, null], [0, 80, 200]],
    });
    expect(backendLabel({ node_id: 3, node: '', addr: 'db:5432' })).toBe('db:5432 (backend 3)');
  });
});

describe('a long observed run, a minute a point (cluster_node_samples_1m, cluster_pool_samples_1m)', () => {
  const M0 = Date.parse('2026-02-01T10:00:00Z');
  const min = (m: number) => new Date(M0 + m * 60_000).toISOString().replace('.000Z', '+00:00'); // Hasura's timestamptz
  const mx = (m: number) => M0 / 1000 + m * 60;
  const nm = (m: number, node: string, state: string | null, lag: [number, number] | null, changed = false): NodeMinuteRow => ({
    bucket: min(m), node, rounds: 60, rounds_up: state === 'down' ? 0 : 60, state, state_changed: changed,
    lag_bytes_max: lag?.[0] ?? null, lag_seconds_max: lag?.[1] ?? null, connections_max: 4,
  });
  // Three minutes of two nodes: pg-b promoted and pg-a gone down within minute 1 (so both changed there), pg-a back
  // as a standby in minute 2.
  const MINUTES: NodeMinuteRow[] = [
    nm(0, 'pg-a', 'primary', null), nm(0, 'pg-b', 'standby', [8192, 0.5]),
    nm(1, 'pg-a', 'down', null, true), nm(1, 'pg-b', 'primary', [900, 0.1], true),
    nm(2, 'pg-a', 'standby', [70000, 2.5], true), nm(2, 'pg-b', 'primary', null),
  ];
  it('each minute is a round at its start with the state of its last round and its highest lag', () => {
    const rounds = nodeMinutesAsRounds(MINUTES);
    expect(rounds[2]).toEqual({ seq: 2, sampled_at: min(1), node: 'pg-a', up: false, role: null, lag_bytes: null, lag_seconds: null, connections: 4 });
    expect(rounds[3]).toEqual({ seq: 2, sampled_at: min(1), node: 'pg-b', up: true, role: 'primary', lag_bytes: 900, lag_seconds: 0.1, connections: 4 });
    const l = roleLanes(rounds);
    expect(l.x).toEqual([mx(0), mx(1), mx(2)]);
    expect(l.nodes).toEqual(['pg-a', 'pg-b']);
    expect(l.y).toEqual([[5, 3, 4], [1, 2, 2]]);
    // The lag a standby had within a minute (pg-b's 900 bytes before its promotion) is kept: the minute's highest.
    expect(lagSeries(rounds, 'lag_bytes')).toEqual({ x: [mx(0), mx(1), mx(2)], labels: ['pg-b', 'pg-a'], y: [[8192, 900, null], [null, null, 70000]] });
    expect(lagSeries(rounds, 'lag_seconds').y).toEqual([[0.5, 0.1, null], [null, null, 2.5]]);
  });
  it('an answering node without a role is drawn at the standby level, as a round of it is', () => {
    expect(roleLanes(nodeMinutesAsRounds([nm(0, 'pg-a', null, null)])).y).toEqual([[1]]);
  });
  it('reads per node are the SELECTs of each minute per backend', () => {
    const pm = (m: number, id: number, delta: number, node: string | null, status = 'up'): PoolMinuteRow =>
      ({ bucket: min(m), node_id: id, node, addr: `db${id}:5432`, rounds: 60, select_delta: delta, status, status_changed: false });
    const rounds = poolMinutesAsRounds([pm(0, 0, 2400, 'pg-a'), pm(0, 1, 3600, 'pg-b'), pm(1, 0, 1200, 'pg-a', 'down'), pm(1, 1, 6000, 'pg-b'), pm(2, 1, 6000, null)]);
    expect(rounds[2]).toEqual({ seq: 2, sampled_at: min(1), node_id: 0, node: 'pg-a', addr: 'db0:5432', status: 'down', select_delta: 1200 });
    expect(readsPerNode(rounds)).toEqual({
      x: [mx(0), mx(1), mx(2)], labels: ['pg-a (backend 0)', 'pg-b (backend 1)'], y: [[2400, 1200, null], [3600, 6000, 6000]],
    });
  });
});

describe('events', () => {
  it('say what happened, in the banner\'s and the table\'s words', () => {
    expect(EVENTS.map(describeEvent)).toEqual([
      'Failover: pg-b promoted (standby → primary)',
      'Split brain: 2 primaries (pg-a, pg-b)',
      'Node down: pg-a (connection refused)',
      'Split brain over: fewer than two primaries',
    ]);
    expect(describeEvent(event(0, 0, 'role_change', { node: 'pg-a', from_state: 'primary', to_state: 'standby' }))).toBe('Role change: pg-a demoted (primary → standby)');
    expect(describeEvent(event(0, 0, 'node_up', { node: 'pg-a' }))).toBe('Node up: pg-a');
    expect(describeEvent(event(0, 0, 'pool_status', { node: 'pg-a', from_state: 'up', to_state: 'down' }))).toBe('Pgpool: backend pg-a up → down');
  });
  it('are marks at their time, coloured by kind', () => {
    expect(eventMarks(EVENTS).map((m) => [m.x, m.color])).toEqual([[x(1), '#ff7f0e'], [x(1), '#d62728'], [x(3), '#9467bd'], [x(3), '#7f7f7f']]);
    expect(clock('2026-02-01T10:03:14.250Z')).toBe('10:03:14Z');
  });
});

describe('topology banner and flag', () => {
  it('a split brain: when, how long, and the node down with its reason', () => {
    expect(topologyBanner({ topology_changed: true, split_brain: true }, EVENTS)).toEqual({
      tone: 'split-brain',
      title: 'Split brain during this run: two or more primaries at once. Its figures may not mean what they seem.',
      lines: [
        'Failover: pg-b promoted (standby → primary) at 10:03:11Z',
        'Split brain: 2 primaries (pg-a, pg-b) at 10:03:11Z, for 2 s',
        'Node down: pg-a (connection refused) at 10:03:13Z, still down at the end of the observation',
      ],
    });
  });
  it('a failover and a node that came back; a split brain that lasted to the end', () => {
    const events = [
      event(0, 0, 'node_down', { node: 'pg-a' }), event(2, 0, 'role_change', { node: 'pg-b', from_state: 'standby', to_state: 'primary' }),
      event(65, 0, 'node_up', { node: 'pg-a' }), event(70, 0, 'split_brain', { nodes: ['pg-a', 'pg-b', 'pg-c'] }),
    ];
    expect(topologyBanner({ topology_changed: true, split_brain: false }, events)).toEqual({
      tone: 'topology',
      title: 'The cluster\'s topology changed during this run (failover, node down or Pgpool status). Its figures may not mean what they seem.',
      lines: [
        'Node down: pg-a at 10:03:10Z, back at 10:04:15Z (65 s)',
        'Failover: pg-b promoted (standby → primary) at 10:03:12Z',
        'Split brain: 3 primaries (pg-a, pg-b, pg-c) at 10:04:20Z, until the end of the observation',
      ],
    });
  });
  it('a running run\'s split brain and node down are still on, not over at the end', () => {
    const open = EVENTS.filter((e) => e.kind !== 'split_brain_end');
    expect(topologyBanner({ status: 'running', topology_changed: true, split_brain: true }, open)?.lines).toEqual([
      'Failover: pg-b promoted (standby → primary) at 10:03:11Z',
      'Split brain: 2 primaries (pg-a, pg-b) at 10:03:11Z, still on',
      'Node down: pg-a (connection refused) at 10:03:13Z, still down',
    ]);
    expect(topologyBanner({ status: 'ok', topology_changed: true, split_brain: true }, open)?.lines[1]).toBe('Split brain: 2 primaries (pg-a, pg-b) at 10:03:11Z, until the end of the observation');
  });
  it('none for a run that is not flagged, even with events that do not flag it; the flags alone make one', () => {
    expect(topologyBanner({ topology_changed: false, split_brain: false }, [event(0, 0, 'node_up', { node: 'pg-a' })])).toBeNull();
    expect(topologyBanner({}, [])).toBeNull();
    expect(topologyBanner({ topology_changed: true }, [])?.lines).toEqual(['The cluster\'s topology changed during this run; its events are not (yet) available.']);
  });
  it('the runs list\'s flag', () => {
    expect(topologyFlag({ topology_changed: true, split_brain: true })?.label).toBe('split brain');
    expect(topologyFlag({ topology_changed: true, split_brain: false })?.label).toBe('topology changed');
    expect(topologyFlag({ topology_changed: false, split_brain: false })).toBeNull();
    expect(topologyFlag({})).toBeNull();
  });
});

describe('server facts', () => {
  it('version, size, settings count and the counters\' change over the run', () => {
    expect(versionText(170002)).toBe('17.2');
    expect(versionText(100023)).toBe('10.23');
    expect(versionText(90624)).toBe('9.6.24');
    expect(versionText(null)).toBeNull();
    expect(formatBytes(23_456_789)).toBe('22.4 MiB');
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(-2048)).toBe('-2.0 KiB');
    const settings = [{ name: 'max_connections', setting: '200', unit: null, source: 'configuration file' },
      { name: 'shared_buffers', setting: '16384', unit: '8kB', source: 'configuration file' }];
    expect(serverFacts({
      server_version: 'PostgreSQL 17.2 on x86_64-pc-linux-gnu', server_version_num: 170002, database_size_bytes: 23_456_789,
      server_delta: { since: '2026-02-01T10:02:00Z', seconds: 89.5, database_size_bytes: 1_048_576,
        database: { xact_commit: 44_820, blks_hit: 1_234_567, deadlocks: 0 }, bgwriter: { buffers_clean: 12 } },
    }, settings)).toEqual([
      ['server version', '17.2 (170002)'], ['version()', 'PostgreSQL 17.2 on x86_64-pc-linux-gnu'], ['database size at start', '22.4 MiB'],
      ['non-default settings', '2'], ['counters over', '89.5 s'], ['database size change', '+1.0 MiB'],
      ['Δ database.blks_hit', '1,234,567'], ['Δ database.deadlocks', '0'], ['Δ database.xact_commit', '44,820'],
      ['Δ bgwriter.buffers_clean', '12'],
    ]);
    expect(serverFacts({}, [])).toEqual([]);
  });
  it('a run shows the cluster section with rounds or events, the server card alone with only facts, else nothing', () => {
    const none = { nodes: [], pool: [], events: [], settings: [] };
    expect(observationShown(none, {})).toBe('none');
    expect(observationShown(none, { topology_changed: false, split_brain: false, server_version_num: null, server_delta: null })).toBe('none');
    expect(observationShown(none, { server_version_num: 170002 })).toBe('server');
    expect(observationShown({ ...none, settings: [{}] }, {})).toBe('server');
    expect(observationShown({ ...none, nodes: [{}] }, {})).toBe('cluster');
    expect(observationShown({ ...none, pool: [{}] }, { server_version_num: 170002 })).toBe('cluster');
    expect(observationShown({ ...none, events: [{}] }, {})).toBe('cluster');
  });
});
