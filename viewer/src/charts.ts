// uPlot charts. uPlot draws 100k points per series in a few milliseconds on canvas, where SVG chart libraries
// need seconds; the price is its column-oriented data layout, which shape.ts produces.
import uPlot from 'uplot';

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

export interface ChartSpec {
  title: string;
  yLabel: string;
  series: { label: string; color?: string; width?: number }[];
  data: uPlot.AlignedData;
  /** x is Unix seconds (time axis) unless false: then plain seconds (compare page's offsets). */
  time?: boolean;
  shade?: () => [number, number][];
  /** Sparse data (one point per run): draw points and join them across gaps. */
  points?: boolean;
  /** Called once, after the chart's first draw. */
  onDrawn?: () => void;
}

/** Creates a chart in parent, sized to parent's width, and returns it (call .destroy() when leaving). */
export function chart(parent: HTMLElement, spec: ChartSpec): uPlot {
  const holder = document.createElement('div');
  holder.className = 'chart';
  parent.append(holder);
  let drawn = false;
  const opts: uPlot.Options = {
    title: spec.title,
    width: Math.max(320, (parent.clientWidth || 960) - 8),
    height: 260,
    scales: { x: { time: spec.time !== false } },
    // Axes in UTC, like every timestamp in the tables (edge devices and viewers are in many zones).
    tzDate: (ts: number) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    series: [
      { label: spec.time === false ? 's' : 'time' },
      ...spec.series.map((s, i) => ({
        label: s.label,
        stroke: s.color ?? PALETTE[i % PALETTE.length],
        width: s.width ?? 1,
        spanGaps: !!spec.points,
        points: { show: !!spec.points, size: 6 },
      })),
    ],
    axes: [{}, { label: spec.yLabel, size: 70 }],
    plugins: spec.shade ? [shadeSpans(spec.shade)] : [],
    hooks: {
      draw: [
        () => {
          if (!drawn) {
            drawn = true;
            spec.onDrawn?.();
          }
        },
      ],
    },
  };
  return new uPlot(opts, spec.data, holder);
}
