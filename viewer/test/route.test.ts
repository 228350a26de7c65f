import { describe, expect, it } from 'vitest';
import { parseRoute, routeHash } from '../src/route';

describe('hash routes', () => {
  it('round-trips page, id and parameters', () => {
    const h = routeHash('runs', null, { kind: 'mqtt', tag: 'env=lab', offset: 50, device: '' });
    expect(h).toBe('#/runs?kind=mqtt&tag=env%3Dlab&offset=50');
    const r = parseRoute(h);
    expect(r.page).toBe('runs');
    expect(r.params.get('tag')).toBe('env=lab');
    expect(r.params.has('device')).toBe(false);
  });
  it('reads a run id and defaults to the runs page', () => {
    expect(parseRoute('#/run/0b7e0a4e-1111-4222-8333-944455556666').id).toBe('0b7e0a4e-1111-4222-8333-944455556666');
    expect(parseRoute('').page).toBe('runs');
  });
});
