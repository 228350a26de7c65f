// Hash routes: #/<page>[/<id>][?query]. All page state lives in the query so a link reproduces the view.

export interface Route {
  page: string;
  id: string | null;
  params: URLSearchParams;
}

export function parseRoute(hash: string): Route {
  const h = hash.replace(/^#/, '');
  const q = h.indexOf('?');
  const path = q < 0 ? h : h.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : h.slice(q + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { page: parts[0] || 'runs', id: parts[1] ?? null, params };
}

/** Builds a hash; empty and null parameters are left out so URLs stay short. */
export function routeHash(page: string, id: string | null, params: Record<string, string | number | null | undefined> | URLSearchParams = {}): string {
  const q = new URLSearchParams();
  const entries = params instanceof URLSearchParams ? [...params.entries()] : Object.entries(params);
  for (const [k, v] of entries) if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  const qs = q.toString();
  return `#/${page}${id ? '/' + encodeURIComponent(id) : ''}${qs ? '?' + qs : ''}`;
}
