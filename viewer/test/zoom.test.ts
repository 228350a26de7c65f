import { describe, expect, it } from 'vitest';
import { zoomFromParams, zoomToParams } from '../src/zoom';

describe('zoom range in the URL', () => {
  it('writes a time range as UTC ISO text and reads it back to the millisecond', () => {
    const q = new URLSearchParams('publisher=pi');
    zoomToParams(q, { keys: ['from', 'to'], time: true }, [1767225600.25, 1767225660]);
    expect(q.toString()).toBe('publisher=pi&from=2026-01-01T00%3A00%3A00.250Z&to=2026-01-01T00%3A01%3A00.000Z');
    expect(zoomFromParams(q, { keys: ['from', 'to'], time: true })).toEqual([1767225600.25, 1767225660]);
  });
  it('reads times typed without a zone as UTC, like the from/to fields', () => {
    const q = new URLSearchParams('from=2026-01-01 00:00:00&to=2026-01-01 00:01:00');
    expect(zoomFromParams(q, { keys: ['from', 'to'], time: true })).toEqual([1767225600, 1767225660]);
  });
  it('writes plain seconds (compare offsets) as numbers', () => {
    const q = new URLSearchParams();
    zoomToParams(q, { keys: ['xfrom', 'xto'], time: false }, [-1.23456, 3.5]);
    expect(q.toString()).toBe('xfrom=-1.235&xto=3.5');
    expect(zoomFromParams(q, { keys: ['xfrom', 'xto'], time: false })).toEqual([-1.235, 3.5]);
  });
  it('ignores a missing end, an empty or reversed range and unreadable text', () => {
    for (const qs of ['from=2026-01-01', 'from=2026-01-02&to=2026-01-01', 'from=x&to=y', 'from=2026-01-01&to=2026-01-01']) {
      expect(zoomFromParams(new URLSearchParams(qs), { keys: ['from', 'to'], time: true })).toBeNull();
    }
    expect(zoomFromParams(new URLSearchParams('xfrom=a&xto=2'), { keys: ['xfrom', 'xto'], time: false })).toBeNull();
  });
});
