import { describe, expect, it } from 'vitest';
import {
  compareCommandLine, gateSummary, latestPerSeries, noiseRows, seriesDescription, signedPct, trendCharts, verdictCell, verdictsByFigure,
  type ComparisonReport, type FigureResult, type HistoryReport, type StatComparison,
} from '../src/verdicts';

// Reports in the shape of producer compare's and producer history's --json (producer/compare report.go, figures.go,
// historycli.go, history.go; internal/stat Comparison and Noise), field names as their JSON tags.

const stat = (o: Partial<StatComparison>): StatComparison => ({
  quantile: 0.5, confidence: 0.95, min_effect: 0.05, baseline: 1000, candidate: 900, diff: -100, diff_ci: { lo: -120, hi: -80 },
  relative: -0.1, relative_ci: { lo: -0.12, hi: -0.08 }, effect_size: -2.5, significant: true, verdict: 'worse',
  reason: 'the change is significant and at least the minimum effect', baseline_samples: 60, candidate_samples: 58, resamples: 2000, ...o,
});

const fig = (o: Partial<FigureResult>): FigureResult => ({
  name: 'throughput', column: 'ops_rate', unit: 'ops/s', better: 'higher', baseline: 1000, candidate: 900, delta: -100, delta_pct: -10,
  worse_pct: 10, max_regression_pct: null, verdict: 'worse', regression: false, statistic: 'median of per-second throughput', stat: null, ...o,
});

const report = (figures: FigureResult[], o: Partial<ComparisonReport> = {}): ComparisonReport => ({
  baseline: { run_id: 'b' }, candidate: { run_id: 'c' }, baseline_selection: 'explicit', figures, regressions: [], confidence: 0.95,
  warnings: [], notes: [], exit_code: 0, ...o,
});

describe('compare report → verdicts', () => {
  it('shows a per-second figure by its statistical verdict, interval, change and effect size', () => {
    const v = verdictCell(fig({ stat: stat({}), gate: 'statistics', max_regression_pct: 5, regression: true }));
    expect(v).toEqual({
      cls: 'worse regression', text: 'REGRESSION (worse)', interval: '-12.00 % … -8.00 %', effect: '-2.50', change: '-10.00 %',
      title: 'median of per-second throughput: 60 / 58 samples, 95 % confidence, minimum effect 5.00 %. the change is significant and at least the minimum effect',
      by: 'statistics', regression: true,
    });
  });

  it('says how many samples an inconclusive verdict needs (segment runs against a history)', () => {
    const v = verdictCell(fig({ verdict: 'worse', stat: stat({ verdict: 'inconclusive', need: 240, significant: false, relative_ci: { lo: -0.2, hi: 0.05 }, effect_size: 0.3 }) }));
    expect([v.cls, v.text, v.interval, v.effect]).toEqual(['inconclusive', 'inconclusive (need 240 samples per run)', '-20.00 % … +5.00 %', '+0.30']);
    const h = verdictCell(fig({ segment: { first_run_id: 'x', runs: 4 }, stat: stat({ verdict: 'inconclusive', need: 9, resamples: 0 }) }));
    expect(h.text).toBe('inconclusive (need 9 segment runs)');
    expect(h.interval).toBe('-12.00 % … -8.00 %'); // a t interval on the segment, not block separation
  });

  it('marks an interval from block separation, and a no-change verdict as same', () => {
    const v = verdictCell(fig({ stat: stat({ verdict: 'no significant change', resamples: 0, relative: 0.004, relative_ci: { lo: -0.01, hi: 0.02 }, effect_size: 0 }) }));
    expect([v.cls, v.text, v.interval, v.change, v.effect]).toEqual(['same', 'no significant change', '-1.00 % … +2.00 % (blocks)', '+0.40 %', '+0.00']);
    expect(verdictCell(fig({ stat: stat({ verdict: 'better', relative_ci: null }) })).interval).toBeNull();
  });

  it('keeps the threshold for counts, and says why a per-second figure was not judged', () => {
    const errors = verdictCell(fig({ name: 'errors', verdict: 'worse', regression: true, gate: 'threshold', max_regression_pct: 0, statistic: undefined }));
    expect([errors.cls, errors.text, errors.by, errors.interval, errors.title]).toEqual(['worse regression', 'REGRESSION (worse)', 'threshold', null,
      'a count: judged by its threshold on the run totals']);
    const same = verdictCell(fig({ name: 'loss', verdict: 'same', statistic: undefined }));
    expect([same.cls, same.text]).toEqual(['same', 'same']);
    const p99 = verdictCell(fig({ name: 'p99', verdict: 'better', stat_error: 'no per-second values to judge (baseline 0, candidate 12 samples with lat_p99_ms)' }));
    expect([p99.cls, p99.by, p99.title]).toEqual(['better', 'threshold', 'not judged by statistics: no per-second values to judge (baseline 0, candidate 12 samples with lat_p99_ms)']);
  });

  it('tells whether the gate fails, passes or gates nothing', () => {
    const failing = report([fig({ max_regression_pct: 5, regression: true, stat: stat({}) })], { regressions: ['throughput'], exit_code: 1 });
    expect(gateSummary(failing)).toEqual({ fails: true, text: 'the gate fails: throughput (producer compare would exit 1)' });
    expect(gateSummary(report([fig({ max_regression_pct: 5, stat: stat({ verdict: 'no significant change' }) })]))).toEqual({
      fails: false, text: 'the gate passes: no figure is worse than its max regression' });
    // Go's nil slices are JSON null.
    expect(gateSummary(report([fig({})], { regressions: null }))).toEqual({
      fails: false, text: 'no max regression given: nothing is gated (as producer compare without --max-regression)' });
    expect(gateSummary(report([], { figures: null, regressions: null })).fails).toBe(false);
  });

  it('maps the verdicts by figure name, and prints the command the report is of', () => {
    const m = verdictsByFigure(report([fig({ stat: stat({}) }), fig({ name: 'errors', verdict: 'same', statistic: undefined })]));
    expect([...m.keys()]).toEqual(['throughput', 'errors']);
    expect(m.get('errors')!.by).toBe('threshold');
    expect(compareCommandLine('B', 'C', null, null)).toBe('producer compare B C');
    expect(compareCommandLine('B', 'C', 'p99=10%,throughput=3%', 0.99)).toBe('producer compare --max-regression p99=10%,throughput=3% --confidence 0.99 B C');
    expect(signedPct(0)).toBe('+0.00 %');
  });
});

const history = (): HistoryReport => ({
  run: { run_id: 'r5', kind: 'mqtt', name: 'n', host_name: 'pi-7', status: 'ok', parameters: { rate: 100, qos: 1 }, tags: { site: 'lab' } },
  significance: 0.05, false_alarm: 0.05,
  runs: [
    { run_id: 'r1', started_at: '2026-12-01T10:00:00Z', samples: 30, values: { throughput: 100, p99: 5 } },
    { run_id: 'r2', started_at: '2026-12-01T11:00:00Z', samples: 30, values: { throughput: 101, p99: 5.1 } },
    { run_id: 'r3', started_at: '2026-12-01T12:00:00Z', samples: 30, values: { throughput: 80 } }, // no latency that run
    { run_id: 'r4', started_at: '2026-12-01T13:00:00Z', samples: 30, values: { throughput: 81, p99: 7 } },
    { run_id: 'r5', started_at: '2026-12-01T14:00:00Z', samples: 30, values: { throughput: 79, p99: 7.2 } },
  ],
  series: [
    {
      figure: 'throughput', statistic: 'median of per-second throughput', unit: 'ops/s', better: 'higher', runs: 5,
      change_points: [{ run_id: 'r3', index: 2, started_at: '2026-12-01T12:00:00Z', before: 100.5, after: 80, relative: -0.204, p_value: 0.004, worse: true }],
      segment: { first_run_id: 'r3', runs: 3 },
      noise: { runs: 3, mean: 80, stddev: 1, cv: 0.0125, spread: 0.0125 }, min_effect: 0.0321, min_effect_segment: 0.0234,
    },
    {
      figure: 'p99', statistic: 'median of per-second p99', unit: 'ms', better: 'lower', runs: 4, change_points: null,
      segment: { first_run_id: 'r1', runs: 4 }, noise: null, noise_error: 'measure noise: 2 runs, need at least 3 repeated identical runs',
    },
  ],
  notes: ['throughput: 5 runs; a change point needs at least 5 runs on either side'],
  exit_code: 0,
});

describe('history report → trends and noise', () => {
  it('draws each series over its runs\' start times, with the change points and the current segment', () => {
    const [thr, p99] = trendCharts(history());
    const t = (iso: string) => Date.parse(iso) / 1000;
    expect(thr).toEqual({
      figure: 'throughput', title: 'throughput (median of per-second throughput; higher is better)', unit: 'ops/s',
      x: [t('2026-12-01T10:00:00Z'), t('2026-12-01T11:00:00Z'), t('2026-12-01T12:00:00Z'), t('2026-12-01T13:00:00Z'), t('2026-12-01T14:00:00Z')],
      y: [100, 101, 80, 81, 79], runIds: ['r1', 'r2', 'r3', 'r4', 'r5'],
      changes: [{ x: t('2026-12-01T12:00:00Z'), runId: 'r3', worse: true, label: '-20.40 % worse, p = 0.004: 100.5 ops/s → 80 ops/s' }],
      segment: [t('2026-12-01T12:00:00Z'), t('2026-12-01T14:00:00Z')], segmentRuns: 3,
    });
    // A run without the figure is no point (not a zero); null change points are none.
    expect(p99.runIds).toEqual(['r1', 'r2', 'r4', 'r5']);
    expect(p99.y).toEqual([5, 5.1, 7, 7.2]);
    expect(p99.changes).toEqual([]);
    expect(p99.segment).toEqual([t('2026-12-01T10:00:00Z'), t('2026-12-01T14:00:00Z')]);
    expect(trendCharts({ ...history(), runs: null, series: null })).toEqual([]);
  });

  it('lists each figure\'s run-to-run noise and minimum effects, or why there is none', () => {
    expect(noiseRows(history())).toEqual([
      { figure: 'throughput', runs: 3, mean: '80 ops/s', stddev: '1 ops/s', cv: '1.25 %', spread: '1.25 %', minEffect: '3.21 %', minEffectSegment: '2.34 %', error: null },
      { figure: 'p99', runs: 4, mean: '–', stddev: '–', cv: '–', spread: '–', minEffect: '–', minEffectSegment: '–',
        error: 'measure noise: 2 runs, need at least 3 repeated identical runs' },
    ]);
  });

  it('describes the series: kind, device, parameters (key order aside), the run\'s tags', () => {
    expect(seriesDescription(history())).toBe(
      'mqtt runs on pi-7 with parameters {"qos":1,"rate":100}, finished ok, any tags (this run\'s: {"site":"lab"}): 5 comparable runs, oldest first');
  });

  it('picks the newest ok run of each series (kind and parameters) for the devices page\'s noise', () => {
    const runs = [
      { run_id: 'a', kind: 'mqtt', status: 'ok', parameters: { rate: 100, qos: 1 } },
      { run_id: 'b', kind: 'mqtt', status: 'failed', parameters: { rate: 200 } },
      { run_id: 'c', kind: 'mqtt', status: 'ok', parameters: { qos: 1, rate: 100 } }, // the same series as a, older
      { run_id: 'd', kind: 'pgbench', status: 'ok', parameters: { rate: 100, qos: 1 } },
      { run_id: 'e', kind: 'mqtt', status: 'ok', parameters: { rate: 200 } },
    ];
    expect(latestPerSeries(runs).map((r) => r.run_id)).toEqual(['a', 'd', 'e']);
  });
});
