// Following a page's rows live (agents and group pages): Hasura live queries over one websocket (live.ts, the run
// page's rules: one try, then polling), shown by the run page's indicator (live / polling / connecting…).
import { liveSubscriptions, newWsClient, wsUrl, type LiveSubscription } from '../live';
import type { Client } from '../graphql';
import { h } from '../ui';

export interface FollowOptions {
  client: Client;
  signal: AbortSignal;
  /** The indicator element (class live): data-mode and its text are set here. */
  indicator: HTMLElement;
  subscriptions: LiveSubscription[];
  /** Fetches the same rows over HTTP; called every pollMs when the websocket can't be used. */
  poll(): Promise<void>;
  pollMs: number;
}

/** Starts following; returns the stop (also run when signal aborts). */
export function follow(o: FollowOptions): () => void {
  let timer: number | undefined;
  let stopLive: (() => void) | null = null;
  let stopped = false;
  const setMode = (m: 'connecting' | 'live' | 'polling', title: string) => {
    o.indicator.setAttribute('data-mode', m);
    const detail = m === 'live' ? 'streaming from Hasura' : m === 'polling' ? `every ${o.pollMs / 1000} s` : 'opening a websocket';
    o.indicator.replaceChildren(h('span', { class: `live-badge live-${m}` }, m === 'connecting' ? 'connecting…' : m), ` ${detail}`);
    o.indicator.title = title;
  };
  const poll = async () => {
    if (stopped) return;
    try {
      await o.poll();
      o.indicator.removeAttribute('data-error');
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      o.indicator.setAttribute('data-error', (err as Error).message);
    }
    if (!stopped) timer = window.setTimeout(() => void poll(), o.pollMs);
  };
  const startPolling = (why: string) => {
    if (stopped) return;
    stopLive = null;
    setMode('polling', `Live updates by polling every ${o.pollMs / 1000} s: ${why}.`);
    void poll();
  };
  let url: string | null = null;
  try {
    url = wsUrl(o.client.url, document.baseURI);
  } catch (err) {
    startPolling(`no websocket (${(err as Error).message})`);
  }
  if (url) {
    setMode('connecting', `Opening a websocket to ${url} for live updates.`);
    const subs = liveSubscriptions({
      client: newWsClient(url, o.client.headers()),
      onLive: () => setMode('live', `Live: Hasura sends the rows again whenever they change (${url}).`),
      onFallback: (reason) => startPolling(`the websocket could not be used (${reason})`),
    }, o.subscriptions);
    stopLive = subs.stop;
  }
  const stop = () => {
    stopped = true;
    window.clearTimeout(timer);
    stopLive?.();
    stopLive = null;
  };
  o.signal.addEventListener('abort', stop, { once: true });
  return stop;
}
