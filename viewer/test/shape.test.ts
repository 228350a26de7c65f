import { describe, expect, it } from 'vitest';
import {
  formatDuration, MAX_BUCKETS, overlaySeries, PERCENTILES, perftoolView, resolveRange,
  runsWhere, rowsAfter, samplesToSeries, appendSamples, tagConditions, type SampleRow,
} from '../src/shape';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString().replace('Z', '+00:00');

function row(seq: number, phase: 'warmup' | 'measure', over: Partial<SampleRow> = {}): SampleRow {
  return {
    seq, interval_start: iso(seq), interval_end: iso(seq + 1), phase, ops_rate: 100 + seq, errors: 0,
    lat_p50_ms: 1, lat_p90_ms: 2, lat_p95_ms: 3, lat_p99_ms: 4, lat_p999_ms: 5, lat_max_ms: 6, mqtt_lost: null, ...over,
  };
}

describe('samplesToSeries', () => {
  it('builds one column per percentile, in PERCENTILES order, x in Unix seconds', () => {
    const s = samplesToSeries([row(0, 'measure'), row(1, 'measure', { lat_p99_ms: 9.5 })]);
    expect(s.x).toEqual([T0 / 1000, T0 / 1000 + 1]);
    expect(s.latency).toHaveLength(PERCENTILES.length);
    expect(s.latency.map((c) => c[1])).toEqual([1, 2, 3, 9.5, 5, 6]);
    expect(s.opsRate).toEqual([100, 101]);
  });

  it('keeps null percentiles as gaps (an interval without completed operations has no latency)', () => {
    const s = samplesToSeries([row(0, 'measure', { lat_p50_ms: null, lat_p99_ms: null, ops_rate: 0 })]);
    expect(s.latency[0][0]).toBeNull();
    expect(s.latency[3][0]).toBeNull();
    expect(s.opsRate[0]).toBe(0);
  });

  it('accepts numbers Hasura sends as strings (stringified bigint/numeric) ', () => {
    const s = samplesToSeries([row(0, 'measure', { errors: '7' as unknown as number, lat_p99_ms: '2.5' as unknown as number })]);
    expect(s.errors[0]).toBe(7);
    expect(s.latency[3][0]).toBe(2.5);
    expect(s.totalErrors).toBe(7);
  });

  it('merges contiguous warm-up intervals into shaded spans and totals errors and loss', () => {
    const rows = [row(0, 'warmup'), row(1, 'warmup'), row(2, 'measure', { errors: 2, mqtt_lost: 3 }), row(3, 'measure', { errors: 1 }), row(5, 'warmup')];
    const s = samplesToSeries(rows);
    expect(s.warmup).toEqual([[T0 / 1000, T0 / 1000 + 2], [T0 / 1000 + 5, T0 / 1000 + 6]]);
    expect(s.totalErrors).toBe(3);
    expect(s.totalLost).toBe(3);
  });

  it('appends incrementally (live polling) with the same result as one pass', () => {
    const rows = Array.from({ length: 10 }, (_, i) => row(i, i < 3 ? 'warmup' : 'measure'));
    const once = samplesToSeries(rows);
    const twice = appendSamples(samplesToSeries(rows.slice(0, 2)), rows.slice(2));
    expect(twice).toEqual(once);
  });

  // Speed is measured by the browser test (data received → charts drawn, best of three), not by a timed unit
  // test on a shared machine; this checks that a 100k-row run shapes completely and in order.
  it('shapes 100k rows', () => {
    const rows = Array.from({ length: 100_000 }, (_, i) => row(i, i < 60 ? 'warmup' : 'measure'));
    const s = samplesToSeries(rows);
    expect(s.x).toHaveLength(100_000);
    expect(s.x[0]).toBeLessThan(s.x[99_999]);
  });
});

describe('perftoolView', () => {
  const at = (seconds: number) => perftoolView(new Date(T0), new Date(T0 + seconds * 1000));
  it.each([
    [0, 'perftool_30sec'],
    [3600, 'perftool_30sec'],
    [30 * MAX_BUCKETS, 'perftool_30sec'],
    [30 * MAX_BUCKETS + 1, 'perftool_1min'],
    [4 * 3600, 'perftool_1min'],
    [6 * 3600, 'perftool_2min'],
    [8 * 3600, 'perftool_2min'],
    [24 * 3600, 'perftool_10min'],
    [365 * 86400, 'perftool_10min'],
  ])('%i s → %s', (s, want) => expect(at(s as number)).toBe(want));
  it('treats a reversed range as empty', () => expect(perftoolView(new Date(T0 + 1e6), new Date(T0))).toBe('perftool_30sec'));
});

describe('resolveRange and runsWhere', () => {
  const now = new Date(T0);
  it('reads range=, explicit from/to, all', () => {
    expect(resolveRange({ range: '2h' }, now).from?.getTime()).toBe(T0 - 7200e3);
    expect(resolveRange({ range: '7d' }, now).from?.getTime()).toBe(T0 - 7 * 86400e3);
    expect(resolveRange({ range: 'all' }, now)).toEqual({ from: null, to: null });
    expect(resolveRange({ from: '2025-01-01T00:00:00Z', range: '1h' }, now).from?.toISOString()).toBe('2025-01-01T00:00:00.000Z');
    expect(resolveRange({}, now, '24h').from?.getTime()).toBe(T0 - 86400e3);
  });
  it('builds a runs_bool_exp with only the filters given', () => {
    expect(runsWhere({ from: null, to: null })).toEqual({});
    expect(runsWhere({ kind: 'mqtt', device: 'pi-1', status: 'ok', tag: 'env=lab, nightly', from: new Date(T0), to: null })).toEqual({
      _and: [
        { kind: { _eq: 'mqtt' } },
        { host_name: { _eq: 'pi-1' } },
        { status: { _eq: 'ok' } },
        { tags: { _contains: { env: 'lab' } } },
        { tags: { _has_key: 'nightly' } },
        { started_at: { _gte: new Date(T0).toISOString() } },
      ],
    });
    expect(runsWhere({ cluster: 'changed', from: null, to: null })).toEqual({ _and: [{ topology_changed: { _eq: true } }] });
    expect(runsWhere({ cluster: 'split', kind: 'pgbench', from: null, to: null })).toEqual({ _and: [{ kind: { _eq: 'pgbench' } }, { split_brain: { _eq: true } }] });
    expect(runsWhere({ cluster: '', from: null, to: null })).toEqual({});
    expect(tagConditions('  ')).toEqual([]);
  });
});

describe('overlaySeries and formatDuration', () => {
  it('aligns runs on seconds from their measure start, on a common grid, null where a run has none', () => {
    const a = { x: [1000, 1001, 1002], y: [1, 2, 3], t0: 1000 };
    const b = { x: [5000.5, 5001.5], y: [10, 20], t0: 5000.5 };
    expect(overlaySeries([a, b])).toEqual([[0, 1, 2], [1, 2, 3], [10, 20, null]]);
  });
  it('formats durations', () => {
    expect(formatDuration(iso(0), iso(59))).toBe('59s');
    expect(formatDuration(iso(0), iso(3723))).toBe('1h 02m 03s');
    expect(formatDuration(iso(0), null)).toBe('–');
  });
});

describe('rowsAfter', () => {
  it('keeps only rows after the last seq a page has, so overlapping sources draw each sample once', () => {
    const rows = [row(3, 'measure'), row(4, 'measure'), row(5, 'measure')];
    expect(rowsAfter(rows, 4).map((r) => r.seq)).toEqual([5]);
    expect(rowsAfter(rows, -1).map((r) => r.seq)).toEqual([3, 4, 5]);
    expect(rowsAfter(rows, 5)).toEqual([]);
    expect(rowsAfter([], 0)).toEqual([]);
  });
});
