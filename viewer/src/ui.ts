// Small DOM helpers. Text always goes in as text nodes (never innerHTML), because run names, tags and errors
// come from edge devices.

type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.replace(/^on/, ''), v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, ...children);
  return el;
}

export function append(el: Element, ...children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
}

/** A visible message box; kind 'error' for failures, 'empty' for no data, 'info' otherwise. */
export function message(kind: 'error' | 'empty' | 'info', text: string): HTMLElement {
  return h('div', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function table(headers: string[], rows: Child[][], cls = ''): HTMLTableElement {
  return h(
    'table',
    { class: `grid ${cls}` },
    h('thead', {}, h('tr', {}, ...headers.map((t) => h('th', {}, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
  );
}

/** Key/value list for parameters, host facts and summaries; nested JSON shown compactly. */
export function facts(entries: [string, unknown][]): HTMLElement {
  const dl = h('dl', { class: 'facts' });
  for (const [k, v] of entries) {
    if (v === null || v === undefined || v === '') continue;
    append(dl, h('dt', {}, k), h('dd', {}, factText(v)));
  }
  if (!dl.childElementCount) append(dl, h('dd', { class: 'muted' }, 'none'));
  return dl;
}

/** A fact's text: a flat object (tool versions) as "mqttload 0.1.0, go go1.26"; other JSON compactly. */
export function factText(v: unknown): string {
  if (v === null || typeof v !== 'object') return String(v);
  if (!Array.isArray(v) && Object.values(v).every((x) => x === null || typeof x !== 'object')) {
    return Object.entries(v).map(([k, x]) => `${k} ${x}`).join(', ');
  }
  return JSON.stringify(v);
}

export function fmtTime(iso?: string | null): string {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}
