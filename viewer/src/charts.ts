// uPlot charts. uPlot draws 100k points per series in a few milliseconds on canvas, where SVG chart libraries
// need seconds; the price is its column-oriented data layout, which shape.ts produces. Zoom (drag across a chart,
// double-click to reset), the shared crosshair and log scales are uPlot's own; ChartGroup only ties a page's
// charts together.
import uPlot from 'uplot';
import { compactTicks, utcTickLabels } from './shape';
import { fmtTime } from './ui';

export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Shades [start, end] spans of the x axis (warm-up) behind the series. */
function shadeSpans(spans: () => [number, number][], color = 'rgba(255, 193, 7, 0.18)'): uPlot.Plugin {
  return {
    hooks: {
      drawClear: (u: uPlot) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        ctx.save();
        ctx.fillStyle = color;
        for (const [a, b] of spans()) {
          const x0 = Math.round(u.valToPos(a, 'x', true));
          const x1 = Math.round(u.valToPos(b, 'x', true));
          if (x1 > x0) ctx.fillRect(x0, top, x1 - x0, height);
        }
        ctx.restore();
      },
    },
  };
}

let groups = 0;

/**
 * The charts of one page: one crosshair (moving over one chart shows the same instant on all) and one x range
 * (zooming one zooms all). onZoom hears every range change, null when reset to the whole data.
 */
export class ChartGroup {
  readonly key = `benchpipe-${++groups}`;
  readonly charts: uPlot[] = [];
  /** The x range the user chose (zoom or range picker); null = the whole data, so live updates extend it. */
  zoom: [number, number] | null = null;
  onZoom?: (range: [number, number] | null) => void;
  private syncing = false;

  plugin(): uPlot.Plugin {
    return {
      hooks: {
        setSelect: (u: uPlot) => {
          // A drag selection is a zoom (uPlot applies it to this chart); remember it so live redraws keep it.
          if (u.select.width > 0) {
            const min = u.posToVal(u.select.left, 'x');
            const max = u.posToVal(u.select.left + u.select.width, 'x');
            this.zoom = [min, max];
            this.onZoom?.(this.zoom);
          }
        },
        setScale: (u: uPlot, key: string) => {
          if (key !== 'x' || this.syncing) return;
          const { min, max } = u.scales.x;
          if (min == null || max == null) return;
          // Back to the whole data (double-click): no zoom to keep any more.
          const xs = u.data[0];
          if (this.zoom && xs.length && min <= xs[0] && max >= xs[xs.length - 1]) {
            this.zoom = null;
            this.onZoom?.(null);
          }
          this.syncing = true;
          for (const c of this.charts) if (c !== u) c.setScale('x', { min, max });
          this.syncing = false;
        },
      },
    };
  }

  /** Shows [min, max] on every chart; null shows the whole data. */
  setX(range: [number, number] | null): void {
    this.zoom = range;
    this.syncing = true;
    for (const c of this.charts) {
      const xs = c.data[0];
      const r = range ?? (xs.length ? [xs[0], xs[xs.length - 1]] : null);
      if (r) c.setScale('x', { min: r[0], max: r[1] });
    }
    this.syncing = false;
    this.onZoom?.(range);
  }

  /** New data for chart i, keeping the user's zoom (a live run grows under it). */
  setData(c: uPlot, data: uPlot.AlignedData): void {
    if (this.zoom) {
      c.setData(data, false);
      c.setScale('x', { min: this.zoom[0], max: this.zoom[1] });
    } else c.setData(data);
  }

  destroy(): void {
    this.charts.forEach((c) => c.destroy());
    this.charts.length = 0;
  }
}

export interface ChartSpec {
  title: string;
  yLabel: string;
  /** pointSize: this series' point diameter (perftool's writer, drawn larger under the reader's). */
  /** stepped: draw as steps holding each value until the next x (a CDF of histogram buckets). */
  series: { label: string; color?: string; width?: number; dash?: number[]; fill?: string; pointSize?: number; stepped?: boolean }[];
  data: uPlot.AlignedData;
  /** x is Unix seconds (time axis) unless false: then plain seconds (compare page's offsets), or xLabel's unit. */
  time?: boolean;
  /** The x axis's label when x is not time (default: seconds from measure start). */
  xLabel?: string;
  /** Logarithmic x (a latency CDF); the data must have no x ≤ 0. */
  xLog?: boolean;
  shade?: () => [number, number][];
  /** Sparse data (one point per run or bucket): draw points. */
  points?: boolean;
  /** Points without lines (per-round perftool results: rounds are not a continuous signal). */
  pointsOnly?: boolean;
  /** Join points across nulls (devices' per-kind trend); perftool leaves gaps between separate runs. */
  spanGaps?: boolean;
  /** y from zero (rates and counts: noise must not look like a cliff). */
  zero?: boolean;
  /** Logarithmic y (latency); the data must have no values ≤ 0 (use null). */
  log?: boolean;
  /** A fixed y range (e.g. the measurement phase's latency, clipping warm-up spikes); null = fit the data. */
  yRange?: () => [number, number] | null;
  /** A fixed x range when the data's own is no good (a single perftool bucket). */
  xRange?: [number, number] | null;
  group?: ChartGroup;
  /** The holder's class (default 'chart': the page's time charts, which zoom together; a CDF is 'cdf-chart'). */
  className?: string;
  /** Called once, after the chart's first draw. */
  onDrawn?: () => void;
}

const utcValue = (_u: uPlot, v: number | null) => (v == null ? '–' : fmtTime(new Date(v * 1000).toISOString()));

/** Creates a chart in parent, sized to parent's width, and returns it (call .destroy() when leaving). */
export function chart(parent: HTMLElement, spec: ChartSpec): uPlot {
  const holder = document.createElement('div');
  holder.className = spec.className ?? 'chart';
  parent.append(holder);
  let drawn = false;
  const time = spec.time !== false;
  const yScale: uPlot.Scale = spec.log ? { distr: 3, log: 10 } : {};
  if (spec.yRange || spec.zero) {
    yScale.range = (_u, dmin, dmax) => {
      const fixed = spec.yRange?.();
      if (fixed) return fixed;
      if (spec.zero) return [0, dmax > 0 ? dmax * 1.08 : 1];
      return spec.log ? uPlot.rangeLog(dmin, dmax, 10, true) : uPlot.rangeNum(dmin, dmax, 0.1, true);
    };
  }
  const xScale: uPlot.Scale = spec.xLog ? { time: false, distr: 3, log: 10 } : { time };
  if (spec.xRange) {
    const fixed = spec.xRange;
    // uPlot widens a single point's x to min + 86400/ms, i.e. 2.7 years with x in seconds; the data decides here.
    xScale.range = (u, dmin, dmax) => {
      if (spec.group?.zoom) return [dmin, dmax]; // the user's window (zoom, picker, link) as asked
      const xs = u.data[0];
      const single = xs.length > 0 && xs[xs.length - 1] - xs[0] < (fixed[1] - fixed[0]) / 2;
      return single && dmin <= xs[0] && dmax >= xs[xs.length - 1] && dmax - dmin > fixed[1] - fixed[0] ? fixed : [dmin, dmax];
    };
  }
  const opts: uPlot.Options = {
    title: spec.title,
    width: Math.max(320, (parent.clientWidth || 960) - 8),
    height: 260,
    scales: { x: xScale, y: yScale },
    // Axes in UTC, like every timestamp in the tables (edge devices and viewers are in many zones).
    tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    cursor: spec.group ? { sync: { key: spec.group.key, setSeries: false } } : {},
    series: [
      time ? { label: 'time (UTC)', value: utcValue } : { label: spec.xLabel ?? 's from measure start' },
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: s.width ?? 1,
        dash: s.dash,
        fill: s.fill,
        spanGaps: !!spec.spanGaps,
        points: { show: !!spec.points || !!spec.pointsOnly, size: s.pointSize ?? 6, ...(s.pointSize ? { fill: s.color } : {}) },
        ...(spec.pointsOnly ? { paths: () => null } : {}),
        ...(s.stepped && !spec.pointsOnly ? { paths: uPlot.paths.stepped!({ align: 1 }) } : {}),
      })),
    ],
    axes: [
      // Wide labels ("18:35:46Z"): more space per tick than uPlot's default, or they overlap.
      time ? { values: (_u, ticks) => utcTickLabels(ticks), size: 48, space: 110 } : { label: spec.xLabel ?? 'seconds from measure start' },
      { label: spec.yLabel, size: 64, values: (_u, ticks) => compactTicks(ticks) },
    ],
    plugins: [...(spec.shade ? [shadeSpans(spec.shade)] : []), ...(spec.group ? [spec.group.plugin()] : [])],
    hooks: {
      draw: [
        (u: uPlot) => {
          // The x window drawn, on the chart's holder (data-x="min,max", x's unit): what a zoom or the picker did.
          if (u.scales.x.min != null && u.scales.x.max != null) holder.setAttribute('data-x', `${u.scales.x.min},${u.scales.x.max}`);
          if (!drawn) {
            drawn = true;
            spec.onDrawn?.();
          }
        },
      ],
    },
  };
  const u = new uPlot(opts, spec.data, holder);
  spec.group?.charts.push(u);
  return u;
}
