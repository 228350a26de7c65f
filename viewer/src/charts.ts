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

/** A vertical line at x (an event: failover, node down, split brain), in color; label is its tooltip text. */
export interface Mark { x: number; color: string; label: string }

/** Draws marks as dashed vertical lines over the series, where they fall inside the shown x range. */
function markLines(marks: () => readonly Mark[]): uPlot.Plugin {
  return {
    hooks: {
      draw: (u: uPlot) => {
        const { ctx } = u;
        const { top, height } = u.bbox;
        const { min, max } = u.scales.x;
        ctx.save();
        ctx.lineWidth = 2 * devicePixelRatio;
        ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
        for (const m of marks()) {
          if (min == null || max == null || m.x < min || m.x > max) continue;
          const x = Math.round(u.valToPos(m.x, 'x', true));
          ctx.strokeStyle = m.color;
          ctx.beginPath();
          ctx.moveTo(x, top);
          ctx.lineTo(x, top + height);
          ctx.stroke();
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
 *
 * A follower (follower()) is a set of more charts in the same crosshair and x range, drawn and destroyed on their
 * own: the run page's cluster charts, which come from other tables than its sample charts and must survive the
 * sample charts being rebuilt (and the other way round). Its zoom, setX and onZoom are the leader's.
 */
export class ChartGroup {
  readonly key: string;
  readonly charts: uPlot[] = [];
  onZoom?: (range: [number, number] | null) => void;
  private syncing = false;
  private ownZoom: [number, number] | null = null;
  private readonly followers: ChartGroup[] = [];

  constructor(private readonly leader?: ChartGroup) {
    this.key = leader ? leader.key : `benchpipe-${++groups}`;
    leader?.followers.push(this);
  }

  /** A new follower: more charts that share this group's crosshair and x range. */
  follower(): ChartGroup {
    return new ChartGroup(this.leader ?? this);
  }

  /** The x range the user chose (zoom or range picker); null = the whole data, so live updates extend it. */
  get zoom(): [number, number] | null {
    return this.leader ? this.leader.zoom : this.ownZoom;
  }

  set zoom(r: [number, number] | null) {
    if (this.leader) this.leader.zoom = r;
    else this.ownZoom = r;
  }

  /** Every chart that zooms with this group's: the leader's and all its followers'. */
  private all(): uPlot[] {
    const l = this.leader ?? this;
    return [...l.charts, ...l.followers.flatMap((f) => f.charts)];
  }

  plugin(): uPlot.Plugin {
    if (this.leader) return this.leader.plugin();
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
          for (const c of this.all()) if (c !== u) c.setScale('x', { min, max });
          this.syncing = false;
        },
      },
    };
  }

  /** Shows [min, max] on every chart; null shows the whole data. */
  setX(range: [number, number] | null): void {
    if (this.leader) return this.leader.setX(range);
    this.zoom = range;
    this.syncing = true;
    for (const c of this.all()) {
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

  /** Destroys this group's own charts (a leader's, not its followers'). */
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
  /** Vertical marks (events) over the series; the holder's data-marks counts them. */
  marks?: () => readonly Mark[];
  /** A categorical y axis: ticks only at these values, labelled (the cluster's role lanes). */
  yTicks?: { value: number; label: string }[];
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
      spec.yTicks
        ? {
            label: spec.yLabel,
            size: Math.max(64, 16 + 7 * Math.max(...spec.yTicks.map((t) => t.label.length))),
            splits: () => spec.yTicks!.map((t) => t.value),
            values: (_u, ticks) => ticks.map((v) => spec.yTicks!.find((t) => t.value === v)?.label ?? ''),
          }
        : { label: spec.yLabel, size: 64, values: (_u, ticks) => compactTicks(ticks) },
    ],
    plugins: [...(spec.shade ? [shadeSpans(spec.shade)] : []), ...(spec.marks ? [markLines(spec.marks)] : []), ...(spec.group ? [spec.group.plugin()] : [])],
    hooks: {
      draw: [
        (u: uPlot) => {
          // The x window drawn, on the chart's holder (data-x="min,max", x's unit): what a zoom or the picker did.
          if (u.scales.x.min != null && u.scales.x.max != null) holder.setAttribute('data-x', `${u.scales.x.min},${u.scales.x.max}`);
          // What it draws, for the browser tests: series (x excluded), x values, and marks.
          holder.setAttribute('data-series-count', String(u.data.length - 1));
          holder.setAttribute('data-points', String(u.data[0].length));
          if (spec.marks) holder.setAttribute('data-marks', String(spec.marks().length));
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
