// Unit tests of what the pages show: time zone, scales, overlay alignment, perftool axes and gaps, live figures,
// exports. Pure functions from src/shape.ts; the browser tests show them drawn.
import { describe, expect, it } from 'vitest';
import {
  compactTicks, distributionBars, headlineFigures, latencyRange, liveProgress, runningFigures, soFarFromAggregate, overlaySeries, parseUtc, pivot, resolveRange, samplesToSeries, sampleStep,
  shellJoin, shortId, sparseXRange, toCsv, utcInputValue, utcTickLabels, withGaps, zeroBasedRange, type SampleRow,
} from '../src/shape';

const T0 = Date.parse('2025-03-01T10:00:00Z');
const iso = (s: number) => new Date(T0 + s * 1000).toISOString();
function row(seq: number, phase: 'warmup' | 'measure', over: Partial<SampleRow> = {}): SampleRow {
  return {
    seq, interval_start: iso(seq), interval_end: iso(seq + 1), phase, ops: 100, ops_rate: 100, errors: 0,
    lat_p50_ms: 1, lat_p90_ms: 2, lat_p95_ms: 3, lat_p99_ms: 4, lat_p999_ms: 5, lat_max_ms: 6, mqtt_lost: null, ...over,
  };
}

describe('one time zone: UTC', () => {
  it('reads from/to without a zone as UTC (a datetime-local input), with a zone as given', () => {
    expect(parseUtc('2025-03-01T18:35')?.toISOString()).toBe('2025-03-01T18:35:00.000Z');
    expect(parseUtc('2025-03-01T18:35:46')?.toISOString()).toBe('2025-03-01T18:35:46.000Z');
    expect(parseUtc('2025-03-01 18:35:46')?.toISOString()).toBe('2025-03-01T18:35:46.000Z');
    expect(parseUtc('2025-03-01')?.toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(parseUtc('2025-03-01T18:35:46+09:00')?.toISOString()).toBe('2025-03-01T09:35:46.000Z');
    expect(parseUtc('2025-03-01T18:35:46Z')?.toISOString()).toBe('2025-03-01T18:35:46.000Z');
    expect(parseUtc('yesterday')).toBeNull();
    expect(parseUtc('')).toBeNull();
    expect(utcInputValue(new Date('2025-03-01T18:35:46.123Z'))).toBe('2025-03-01 18:35:46');
    expect(parseUtc(utcInputValue(new Date('2025-03-01T18:35:46Z')))?.toISOString()).toBe('2025-03-01T18:35:46.000Z');
  });
  it('resolveRange uses it, so a browser in Tokyo finds the same runs as one in London', () => {
    const r = resolveRange({ from: '2025-03-01T00:00', to: '2025-03-02T00:00' }, new Date(T0));
    expect(r.from?.toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(r.to?.toISOString()).toBe('2025-03-02T00:00:00.000Z');
  });
  it('labels time ticks in the tables\' notation, the date under the first tick and at day changes', () => {
    const t = Date.parse('2025-03-01T23:59:58Z') / 1000;
    expect(utcTickLabels([t, t + 1, t + 2])).toEqual(['23:59:58Z\n2025-03-01', '23:59:59Z', '00:00:00Z\n2025-03-02']);
    const m = Date.parse('2025-03-01T18:35:00Z') / 1000;
    expect(utcTickLabels([m, m + 60])).toEqual(['18:35Z\n2025-03-01', '18:36Z']);
    expect(utcTickLabels([m + 15, m + 15.5, m + 16])).toEqual(['18:35:15.0Z\n2025-03-01', '18:35:15.5Z', '18:35:16.0Z']);
    expect(utcTickLabels([m + 0.25, m + 0.5])).toEqual(['18:35:00.25Z\n2025-03-01', '18:35:00.50Z']);
  });
});

describe('scales', () => {
  it('axis numbers compact enough to sit beside the axis label', () => {
    expect(compactTicks([0, 2000, 4000, 8000, 10_000, 12_000])).toEqual(['0', '2k', '4k', '8k', '10k', '12k']);
    expect(compactTicks([0, 500_000, 1_000_000, 1_500_000])).toEqual(['0', '0.5M', '1M', '1.5M']);
    expect(compactTicks([0, 2_250_000_000])).toEqual(['0', '2.25G']);
    expect(compactTicks([0, 0.25, 0.5, null])).toEqual(['0', '0.25', '0.5', '']);
    expect(compactTicks([0, 950, 1900])).toEqual(['0', '950', '1900']);
  });
  it('throughput from zero', () => {
    expect(zeroBasedRange(100_005)).toEqual([0, 100_005 * 1.08]);
    expect(zeroBasedRange(0)).toEqual([0, 1]);
    expect(zeroBasedRange(null)).toEqual([0, 1]);
  });
  it('latency axis from the measurement phase only: warm-up spikes are clipped', () => {
    const s = samplesToSeries([row(0, 'warmup', { lat_max_ms: 900, lat_p99_ms: 500 }), row(1, 'measure'), row(2, 'measure', { lat_max_ms: 8 })]);
    expect(s.latRange[5]).toEqual({ min: 6, max: 8 });
    expect(latencyRange(s.latRange, false)).toEqual([0, 8 * 1.08]);
    expect(latencyRange(s.latRange, true)).toEqual([1, 10]);
    expect(latencyRange(samplesToSeries([row(0, 'warmup')]).latRange, false)).toBeNull();
  });
  it('log range ignores zero latencies and spans whole decades', () => {
    expect(latencyRange([{ min: 0.04, max: 250 }], true)).toEqual([0.01, 1000]);
    expect(latencyRange([{ min: null, max: 0 }], true)).toEqual([0.001, 0.01]);
  });
});

describe('compare overlay alignment', () => {
  it('puts runs sampled at different fractions of a second on one grid: continuous lines, no artificial gaps', () => {
    const a = { x: [100.0, 101.0, 102.0, 103.0], y: [1, 2, 3, 4], t0: 101.0 };
    const b = { x: [500.37, 501.37, 502.37], y: [10, 20, 30], t0: 500.37 };
    const [x, ya, yb] = overlaySeries([a, b]);
    expect(x).toEqual([-1, 0, 1, 2]);
    expect(ya).toEqual([1, 2, 3, 4]);
    expect(yb).toEqual([null, 10, 20, 30]);
  });
  it('brings a finer run to the coarsest resolution, averaging', () => {
    const coarse = { x: [0, 2, 4], y: [1, 1, 1], t0: 0 };
    const fine = { x: [10, 11, 12, 13, 16, 17], y: [2, 4, 6, 8, 1, 3], t0: 10 };
    expect(sampleStep(coarse.x)).toBe(2);
    const [x, , yf] = overlaySeries([coarse, fine]);
    expect(x).toEqual([0, 2, 4, 6, 8]);
    // offsets 0 1 2 3 6 7 s on a 2 s grid: points 0 | 1 1 | 2 | 3 | 4 (halves round up), averaged per point
    expect(yf).toEqual([2, 5, 8, 1, 3]);
  });
  it('aligns on the measure start: warm-up gets negative offsets', () => {
    const [x] = overlaySeries([{ x: [0, 1, 2, 3], y: [1, 1, 1, 1], t0: 2 }]);
    expect(x).toEqual([-2, -1, 0, 1]);
  });
});

describe('perftool axes and gaps', () => {
  it('gives a single bucket one bucket either side, not two years', () => {
    expect(sparseXRange([1000], 30)).toEqual([970, 1030]);
    expect(sparseXRange([1000, 1300], 30)).toEqual([985, 1315]);
    expect(sparseXRange([], 30)).toBeNull();
  });
  it('breaks the line between separate runs', () => {
    expect(withGaps([0, 30, 60, 600, 630], [[1, 2, 3, 4, 5]], 30)).toEqual([[0, 30, 60, 90, 600, 630], [1, 2, 3, null, 4, 5]]);
  });
  it('pivots per-thread and per-publisher rows into one column each', () => {
    const rows = [{ t: 1, k: 'thread 1', v: 5 }, { t: 1, k: 'thread 0', v: 3 }, { t: 2, k: 'thread 0', v: 4 }, { t: 2, k: 'thread 0', v: 6 }, { t: 3, k: 'thread 10', v: 1 }];
    const p = pivot(rows, (r) => r.t, (r) => r.k, (r) => r.v);
    expect(p.keys).toEqual(['thread 0', 'thread 1', 'thread 10']);
    expect(p.data).toEqual([[1, 2, 3], [3, 5, null], [5, null, null], [null, null, 1]]);
  });
});

describe('series kinds', () => {
  it('knows an MQTT run by its loss counts and a -R pgbench run by a lag above 0 (pgbench prints 0 without -R)', () => {
    expect(samplesToSeries([row(0, 'measure', { mqtt_lost: 0 })]).hasLost).toBe(true);
    expect(samplesToSeries([row(0, 'measure', { pg_lag_ms: 0 })]).hasLag).toBe(false);
    expect(samplesToSeries([row(0, 'measure', { pg_lag_ms: 0 }), row(1, 'measure', { pg_lag_ms: 0.2 })]).hasLag).toBe(true);
  });
});

describe('live run figures', () => {
  it('elapsed and remaining from the planned length (MQTT: warm-up + duration; pgbench: -T)', () => {
    const now = new Date(T0 + 25_000);
    expect(liveProgress('mqtt', { duration_s: 60, warmup_s: 10 }, iso(0), now)).toEqual({ elapsed: 25, planned: 70, remaining: 45 });
    expect(liveProgress('pgbench', { duration_s: 60, warmup_s: 10 }, iso(0), now)).toEqual({ elapsed: 25, planned: 60, remaining: 35 });
    expect(liveProgress('mqtt', { duration_s: 0, count: 1000 }, iso(0), now).remaining).toBeNull();
    expect(liveProgress('mqtt', { duration_s: 10 }, iso(0), now).remaining).toBe(0);
  });
  it('running totals of the measurement phase: messages and throughput so far, p99 bound, errors, loss, time left', () => {
    const s = samplesToSeries([row(0, 'warmup', { ops: 50, errors: 9, lat_p99_ms: 90 }), row(1, 'measure', { ops: 100, errors: 1, mqtt_lost: 2, lat_p99_ms: 9 }), row(2, 'measure', { ops: 300, lat_p99_ms: 7 })]);
    expect(s.measure).toEqual({ samples: 2, ops: 400, errors: 1, lost: 2, seconds: 2, lastP99: 7, maxP99: 9 });
    const h = headlineFigures({ kind: 'mqtt', status: 'running', started_at: iso(0), parameters: { duration_s: 60, warmup_s: 1 } }, s, new Date(T0 + 3000));
    const by = Object.fromEntries(h.map((f) => [f.label, f]));
    expect(by['msgs so far'].value).toBe('400');
    expect(by['throughput so far'].value).toBe('200 msgs/s');
    // The worst measured interval, not the warm-up's 90 ms: an upper bound of the phase's p99.
    expect(by['p99 so far'].value).toBe('≤ 9 ms');
    expect(by['p99 last interval'].value).toBe('7 ms');
    expect(by['errors so far']).toMatchObject({ value: '1', tone: 'bad' });
    expect(by['lost so far'].value).toBe('2');
    expect(by.elapsed.value).toBe('3s');
    expect(by.remaining.value).toBe('58s');
  });
  it('the runs table\'s figures of a running run come from its samples\' aggregate, equal to the run page\'s', () => {
    const rows = [row(1, 'measure', { ops: 100, errors: 1, mqtt_lost: 2, lat_p99_ms: 9 }), row(2, 'measure', { ops: 300, lat_p99_ms: 7 })];
    const s = samplesToSeries(rows);
    const agg = soFarFromAggregate({ count: 2, sum: { ops: 400, errors: 1, mqtt_lost: 2 }, max: { lat_p99_ms: 9, interval_end: rows[1].interval_end }, min: { interval_start: rows[0].interval_start } }, true);
    const { lastP99: _, ...m } = s.measure;
    expect(agg).toEqual(m);
    const pg = soFarFromAggregate({ count: 0, sum: { ops: null, errors: null, mqtt_lost: null }, max: { lat_p99_ms: null, interval_end: null }, min: { interval_start: null } }, false);
    expect(pg).toEqual({ samples: 0, ops: 0, errors: 0, lost: null, seconds: 0, maxP99: null });
    const f = runningFigures('pgbench', { started_at: iso(0), parameters: { duration_s: 10 } }, pg, new Date(T0 + 12_000));
    expect(f.map((x) => [x.label, x.value])).toEqual([['tx so far', '0'], ['throughput so far', '–'], ['p99 so far', '–'], ['errors so far', '0'], ['elapsed', '12s'], ['remaining', 'finishing']]);
  });
  it('a finished run: throughput, p99, errors, loss with its share; pgbench: tps and failed, no loss', () => {
    const mqtt = headlineFigures({ kind: 'mqtt', status: 'ok', ops_rate: 2000, lat_p99_ms: 2.353, errors: 0, mqtt_lost: 3, mqtt_sent: 30000 }, null, new Date());
    expect(mqtt.map((f) => [f.label, f.value])).toEqual([['throughput', '2,000 ops/s'], ['p99', '2.353 ms'], ['errors', '0'], ['lost', '3 (0.010 %)'], ['measured', '–']]);
    const pg = headlineFigures({ kind: 'pgbench', status: 'ok', ops_rate: 500, pg_tps: 501, lat_p99_ms: 3, errors: 0, pg_failed: 2 }, null, new Date());
    expect(pg.map((f) => f.label)).toEqual(['tps', 'p99', 'errors', 'failed tx', 'measured']);
    expect(pg[0].value).toBe('501 tx/s');
  });
});

describe('exports and arguments', () => {
  it('CSV with a header, empty for null, quoting where needed', () => {
    expect(toCsv([{ a: 1, b: null, c: 'x,y' }, { a: 2, b: 'say "hi"', c: '' }], ['a', 'b', 'c'])).toBe('a,b,c\r\n1,,"x,y"\r\n2,"say ""hi""",\r\n');
  });
  it('pgbench arguments as a command line, quoted only where a shell needs it', () => {
    expect(shellJoin(['-c', '8', '-T', '60', '-f', 'my script.sql', "it's", 'postgresql://bench@db/bench'])).toBe(`-c 8 -T 60 -f 'my script.sql' 'it'\\''s' postgresql://bench@db/bench`);
  });
});

describe('facts', () => {
  it('shows tool versions as words, other JSON compactly', async () => {
    const { factText, fmtTime } = await import('../src/ui');
    expect(factText({ mqttload: '0.1.0', go: 'go1.26' })).toBe('mqttload 0.1.0, go go1.26');
    expect(factText({ a: { b: 1 } })).toBe('{"a":{"b":1}}');
    expect(factText(7)).toBe('7');
    expect(fmtTime('2025-03-01T18:35:46.123+00:00')).toBe('2025-03-01 18:35:46Z');
  });
});

describe('shortId', () => {
  it('tells apart UUIDv7 run ids started in the same minute', () => {
    expect(shortId('01a23960-2dc2-7efe-922b-87ea5c547f77')).toBe('…5c547f77');
    expect(shortId('01a23960-429d-74c6-8853-c55e6892d56f')).not.toBe(shortId('01a23960-2dc2-7efe-922b-87ea5c547f77'));
  });
});

describe('latency distribution', () => {
  it('bars on one log scale across runs, percentiles no run has left out', () => {
    const rows = distributionBars([{ lat_p50_ms: 1, lat_p99_ms: 10, lat_max_ms: 100 }, { lat_p50_ms: 2, lat_p99_ms: null, lat_max_ms: 50 }])!;
    expect(rows.map((r) => r.label)).toEqual(['p50', 'p99', 'max']);
    expect(rows[2].cells[0].width).toBe(100);
    expect(rows[1].cells[1]).toEqual({ value: null, width: 0 });
    expect(rows[0].cells[0].width).toBeGreaterThan(0);
    expect(rows[0].cells[0].width).toBeLessThan(rows[0].cells[1].width);
    expect(distributionBars([{ lat_p99_ms: 3 }])).toBeNull();
  });
});
