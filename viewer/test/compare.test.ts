import { describe, expect, it } from 'vitest';
import {
  baselineFirst, compareDeltas, compareFigure, COMPARE_FIGURES, compareNotes, formatPercent, jsonDiff, settingsDiffer, settingsNote, settingsRows, topologyWarning,
} from '../src/compare';

const fig = (name: string) => COMPARE_FIGURES.find((f) => f.name === name)!;

describe('compare semantics = producer compare', () => {
  it('has producer compare\'s figures, in its order, with its directions (producer/compare/figures.go)', () => {
    expect(COMPARE_FIGURES.map((f) => [f.name, f.key, f.better])).toEqual([
      ['throughput', 'ops_rate', 'higher'], ['p50', 'lat_p50_ms', 'lower'], ['p90', 'lat_p90_ms', 'lower'],
      ['p99', 'lat_p99_ms', 'lower'], ['p99.9', 'lat_p999_ms', 'lower'], ['errors', 'errors', 'lower'],
      ['loss', 'mqtt_lost', 'lower'], ['dup', 'mqtt_duplicated', 'lower'], ['reorder', 'mqtt_out_of_order', 'lower'],
      ['tps', 'pg_tps', 'higher'], ['failed', 'pg_failed', 'lower'],
    ]);
  });

  // The pair: producer compare OLD NEW printed p99 +45 % REGRESSION; the page must say the same.
  it('signs the change as candidate − baseline, in % of |baseline|, with the figure\'s own direction', () => {
    const p99 = compareFigure(fig('p99'), 10, 14.5);
    expect(p99.delta).toBeCloseTo(4.5);
    expect(p99.percent).toBeCloseTo(45);
    expect(p99.verdict).toBe('worse');
    expect(formatPercent(p99.percent)).toBe('+45.0 %');
    const thr = compareFigure(fig('throughput'), 1000, 800);
    expect(thr.percent).toBeCloseTo(-20);
    expect(thr.verdict).toBe('worse');
    expect(compareFigure(fig('throughput'), 1000, 1200).verdict).toBe('better');
    expect(compareFigure(fig('p99'), 10, 8).verdict).toBe('better');
    expect(compareFigure(fig('errors'), 0, 0)).toEqual({ value: 0, delta: 0, percent: 0, verdict: 'same' });
  });

  it('gives ±inf % from a zero baseline, still with a verdict (producer compare: "+inf%", worse from 0)', () => {
    const c = compareFigure(fig('errors'), 0, 4);
    expect(c.percent).toBe(Infinity);
    expect(c.verdict).toBe('worse');
    expect(formatPercent(c.percent)).toBe('+inf %');
    expect(compareFigure(fig('throughput'), 0, 5).verdict).toBe('better');
  });

  it('says missing / new where one side has no value', () => {
    expect(compareFigure(fig('p99'), 10, null).verdict).toBe('missing');
    expect(compareFigure(fig('p99'), null, 10).verdict).toBe('new');
  });

  it('compares every run with the first and leaves out figures no run has', () => {
    const rows = compareDeltas([{ ops_rate: 1000, lat_p99_ms: 10, errors: 0 }, { ops_rate: 1200, lat_p99_ms: 12, errors: 0 }, { ops_rate: 500, lat_p99_ms: 5 }]);
    expect(rows.map((r) => r.figure.name)).toEqual(['throughput', 'p99', 'errors']);
    expect(rows[0].cells.map((c) => c.verdict)).toEqual(['baseline', 'better', 'worse']);
    expect(rows[0].cells.map((c) => c.percent)).toEqual([null, 20, -50]);
    expect(rows[1].cells.map((c) => c.verdict)).toEqual(['baseline', 'worse', 'better']);
    expect(rows[2].cells.map((c) => c.verdict)).toEqual(['baseline', 'same', 'missing']);
    expect(compareDeltas([])).toEqual([]);
  });

  it('reads numbers Hasura sends as strings', () => {
    expect(compareDeltas([{ errors: '2' }, { errors: '3' }])[0].cells[1]).toMatchObject({ value: 3, delta: 1, percent: 50, verdict: 'worse' });
  });

  it('formats percentages with a sign', () => {
    expect(formatPercent(20)).toBe('+20.0 %');
    expect(formatPercent(-19.35)).toBe('-19.4 %');
    expect(formatPercent(0)).toBe('0.0 %');
    expect(formatPercent(0.01)).toBe('+0.0 %');
    expect(formatPercent(-Infinity)).toBe('-inf %');
    expect(formatPercent(null)).toBe('n/a');
  });
});

describe('baselineFirst', () => {
  it('puts the older run first whatever the pick order, as producer compare OLDER NEWER', () => {
    const runs = [
      { run_id: 'new', started_at: '2025-03-02T00:00:00Z' },
      { run_id: 'old', started_at: '2025-03-01T00:00:00Z' },
      { run_id: 'none', started_at: null },
    ];
    expect(baselineFirst(runs)).toEqual(['old', 'new', 'none']);
  });
});

describe('notes, as producer compare prints them', () => {
  it('lists the keys that differ, nested keys dotted, (none) for a missing key, arrays whole', () => {
    expect(jsonDiff({ qos: 0, rate: 1000, same: 1, tls: { enabled: false }, args: ['-c', '8'] }, { qos: 1, rate: 2000, same: 1, tls: { enabled: true }, args: ['-c', '16'], extra: 'x' }))
      .toEqual(['args ["-c","8"] → ["-c","16"]', 'extra (none) → "x"', 'qos 0 → 1', 'rate 1000 → 2000', 'tls.enabled false → true']);
    expect(jsonDiff(null, { env: 'lab' })).toEqual(['env (none) → "lab"']);
    expect(jsonDiff({ a: 1 }, { a: 1 })).toEqual([]);
  });
  it('says what makes the runs less comparable', () => {
    const base = { kind: 'mqtt', host_name: 'pi-1', status: 'ok', ops_rate: 1, started_at: '2025-03-02T00:00:00Z', parameters: { qos: 0 }, tags: {} };
    const cand = { kind: 'pgbench', host_name: 'pi-2', status: 'failed', error: 'broker unreachable', ops_rate: null, started_at: '2025-03-01T00:00:00Z', parameters: { qos: 1 }, tags: { env: 'lab' } };
    expect(compareNotes(base, cand)).toEqual([
      'the runs are of different kinds (mqtt, pgbench)',
      'the runs are from different devices (pi-1, pi-2)',
      'the parameters differ (baseline → candidate): qos 0 → 1',
      'the tags differ (baseline → candidate): env (none) → "lab"',
      "the candidate run's status is failed: broker unreachable (it has no summary)",
      'the baseline started after the candidate',
    ]);
    expect(compareNotes(base, { ...base })).toEqual([]);
  });
});

// producer/compare/cluster_test.go's cases (TestCluster): the same warnings, settings and notes, word for word.
describe('cluster observation in compare = producer compare', () => {
  it('warns about a run whose cluster changed topology, a split brain by name', () => {
    expect([topologyWarning('baseline', { topology_changed: true, split_brain: false }), topologyWarning('candidate', { topology_changed: true, split_brain: true })]).toEqual([
      'the baseline run saw the cluster\'s topology change (a failover, switchover or node down): its figures are not a steady cluster\'s',
      'the candidate run saw a split brain (two or more primaries at once): its figures are not a steady cluster\'s',
    ]);
    expect(topologyWarning('candidate', { topology_changed: false, split_brain: false })).toBeNull();
    expect(topologyWarning('candidate', {})).toBeNull();
  });
  it('lists the settings whose value and unit differ, not where they came from', () => {
    const base = [
      { name: 'max_connections', setting: '100', unit: null, source: 'configuration file' },
      { name: 'shared_buffers', setting: '16384', unit: '8kB', source: 'configuration file' },
      { name: 'work_mem', setting: '4096', unit: 'kB', source: 'configuration file' },
    ];
    const cand = [
      { name: 'max_connections', setting: '100', unit: null, source: 'command line' },
      { name: 'shared_buffers', setting: '32768', unit: '8kB', source: 'configuration file' },
      { name: 'synchronous_commit', setting: 'off', unit: null, source: 'configuration file' },
    ];
    expect(settingsDiffer(base, cand)).toEqual([
      { name: 'shared_buffers', baseline: '16384 8kB', candidate: '32768 8kB' },
      { name: 'synchronous_commit', baseline: null, candidate: 'off' },
      { name: 'work_mem', baseline: '4096 kB', candidate: null },
    ]);
    expect(settingsDiffer(base, base)).toEqual([]);
    expect(settingsNote(base, cand)).toBeNull();
    expect(settingsNote([], [])).toBeNull();
    expect(settingsNote(cand, [])).toBe('only the baseline run recorded its server\'s settings (producer pgbench --observe); the candidate\'s are unknown, so none are compared');
    // The page's table for three runs: the third recorded none ("?"), "-" where a server had the default.
    expect(settingsRows([base, cand, []])).toEqual([
      { name: 'shared_buffers', values: ['16384 8kB', '32768 8kB', '?'] },
      { name: 'synchronous_commit', values: ['-', 'off', '?'] },
      { name: 'work_mem', values: ['4096 kB', '-', '?'] },
    ]);
    expect(settingsRows([base, base])).toEqual([]);
    expect(settingsRows([[], cand])).toEqual([]);
    expect(settingsNote([], cand)).toBe('only the candidate run recorded its server\'s settings (producer pgbench --observe); the baseline\'s are unknown, so none are compared');
  });
});
