// The zoomed x range of a page's charts, kept in the URL as the user zooms, so a link opens the same view. The URL
// is replaced in place (history.replaceState): zooming must not re-render the page or fill the back button.
import type { ChartGroup } from './charts';
import { parseRoute, routeHash } from './route';
import { parseUtc } from './shape';

export interface ZoomUrl {
  /** Parameter names of the range's ends. */
  keys: [string, string];
  /** x is Unix seconds, written as UTC ISO text (time axes); else plain seconds, written as numbers (compare). */
  time: boolean;
  /**
   * What a reset (double-click) leaves in the URL: 'delete' drops the keys (they mean the zoom only: run, compare,
   * devices); 'initial' puts back what the page was opened with (perftool, where from/to also choose what is
   * fetched, and the fetched range is what a reset shows).
   */
  reset: 'delete' | 'initial';
}

/** The range a URL's parameters ask for, or null when they name none (or nonsense). */
export function zoomFromParams(params: URLSearchParams, z: Pick<ZoomUrl, 'keys' | 'time'>): [number, number] | null {
  const [a, b] = z.keys.map((k) => params.get(k));
  if (!a || !b) return null;
  const v = z.time ? [parseUtc(a), parseUtc(b)].map((d) => (d ? d.getTime() / 1000 : NaN)) : [Number(a), Number(b)];
  return Number.isFinite(v[0]) && Number.isFinite(v[1]) && v[1] > v[0] ? [v[0], v[1]] : null;
}

/** Writes a range into params (in place), in the notation zoomFromParams reads. */
export function zoomToParams(params: URLSearchParams, z: Pick<ZoomUrl, 'keys' | 'time'>, r: [number, number]): void {
  const text = (v: number) => (z.time ? new Date(Math.round(v * 1000)).toISOString() : String(Math.round(v * 1000) / 1000));
  params.set(z.keys[0], text(r[0]));
  params.set(z.keys[1], text(r[1]));
}

/** Replaces the current URL's hash parameters with edit's result, without a hashchange (no re-render). */
export function replaceHashParams(edit: (q: URLSearchParams) => void): void {
  const route = parseRoute(location.hash);
  edit(route.params);
  history.replaceState(null, '', `${location.pathname}${location.search}${routeHash(route.page, route.id, route.params)}`);
}

/**
 * Ties group's zoom to the URL: every zoom (drag, range picker) is written to it, a reset as z.reset says; then
 * the range the URL was opened with, if any, is applied. Call once the charts exist. then(range) runs after each
 * change too (the run page's range picker follows it).
 */
export function bindZoomToUrl(group: ChartGroup, z: ZoomUrl, then?: (range: [number, number] | null) => void): void {
  const opened = parseRoute(location.hash).params;
  const initial = z.keys.map((k) => opened.get(k));
  group.onZoom = (r) => {
    replaceHashParams((q) => {
      if (r) zoomToParams(q, z, r);
      else
        z.keys.forEach((k, i) => {
          const v = initial[i];
          if (z.reset === 'initial' && v) q.set(k, v);
          else q.delete(k);
        });
    });
    then?.(r);
  };
  const linked = zoomFromParams(opened, z);
  if (linked && group.charts.length) group.setX(linked);
}
