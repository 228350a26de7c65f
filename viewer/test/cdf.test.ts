import { describe, expect, it } from 'vitest';
import { alignCdfs, CDF_REFRESH_MS, cdfOf, cdfRefreshDue, valueAtQuantile, type DistributionRow } from '../src/cdf';

// Rows as runs_latency_distribution returns them for 50 values at 1 ms, 45 at 2 ms and 5 at 3 ms, and an
// uncorrected series that the CDF leaves out.
const rows: DistributionRow[] = [
  { series: 'latency', value_ms: 1, count: 50, cumulative: 50, quantile: 0.5 },
  { series: 'latency', value_ms: 2, count: 45, cumulative: 95, quantile: 0.95 },
  { series: 'latency', value_ms: 3, count: 5, cumulative: 100, quantile: 1 },
  { series: 'uncorrected', value_ms: 1, count: 100, cumulative: 100, quantile: 1 },
];

describe('latency CDFs from merged histograms', () => {
  it('takes the latency series', () => {
    expect(cdfOf(rows)).toEqual({ x: [1, 2, 3], q: [0.5, 0.95, 1], count: 100 });
    expect(cdfOf(rows.filter((r) => r.series !== 'latency'))).toBeNull();
  });

  it('reads percentiles as HdrHistogram does (first bucket reaching the quantile)', () => {
    const c = cdfOf(rows)!;
    expect([0.5, 0.9, 0.95, 0.99, 0.999].map((q) => valueAtQuantile(c, q))).toEqual([1, 2, 2, 3, 3]);
  });

  it('aligns several CDFs on the union of their buckets as step functions', () => {
    const a = cdfOf(rows)!;
    const b = { x: [1.5, 4], q: [0.25, 1], count: 4 };
    expect(alignCdfs([a, b])).toEqual([
      [1, 1.5, 2, 3, 4],
      [0.5, 0.5, 0.95, 1, 1],
      [0, 0.25, 0.25, 0.25, 1],
    ]);
  });

  it('fetches a running run\'s CDF again at most every CDF_REFRESH_MS, never beside a fetch in flight', () => {
    expect(CDF_REFRESH_MS).toBe(10_000);
    const last = 1_000_000;
    // [now, a fetch in flight] → due
    const cases: [number, boolean, boolean][] = [
      [last, false, false],
      [last + 9_999, false, false],
      [last + 10_000, false, true],
      [last + 60_000, false, true],
      [last + 60_000, true, false],
    ];
    expect(cases.map(([now, inFlight]) => cdfRefreshDue(last, inFlight, now))).toEqual(cases.map((c) => c[2]));
    // Before the first fetch (runCdf starts from -Infinity) it is due at once.
    expect(cdfRefreshDue(-Infinity, false, 0)).toBe(true);
  });
});
