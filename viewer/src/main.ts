// Entry point: loads config.json, then renders the page the URL hash names, again on every hash change.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { loadConfig, newClient, ViewerError, type Client } from './graphql';
import { authHeaders, operatorSession } from './auth';
import { parseRoute, routeHash } from './route';
import { h, message } from './ui';
import type { Page } from './page';
import { runsPage } from './pages/runs';
import { runPage } from './pages/run';
import { comparePage } from './pages/compare';
import { devicesPage } from './pages/devices';
import { perftoolPage } from './pages/perftool';
import { agentsPage } from './pages/agents';
import { groupPage } from './pages/group';
import { trendsPage } from './pages/trends';

const pages: Record<string, Page> = {
  runs: runsPage,
  run: runPage,
  compare: comparePage,
  devices: devicesPage,
  perftool: perftoolPage,
  agents: agentsPage,
  group: groupPage,
  trends: trendsPage,
};

/** The nav link a page lights up: a run under Runs, a launch's group under Agents, a run's trends under Devices. */
const NAV: Record<string, string> = { run: 'runs', group: 'agents', trends: 'devices' };

const session = operatorSession();

const app = document.getElementById('app')!;
let leave: (() => void) | null = null;

/** Shows an error in place of the page, with a button that tries again (the page, or the whole start). */
function show(err: unknown, retry: () => void): void {
  if ((err as Error)?.name === 'AbortError') return;
  console.error(err);
  const text = err instanceof ViewerError ? err.message : `Unexpected error: ${(err as Error)?.message ?? err}`;
  const again = h('button', { type: 'button', class: 'retry' }, 'Retry');
  again.addEventListener('click', () => {
    app.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    retry();
  });
  app.replaceChildren(message('error', text), again);
  // A token that stopped being accepted (rotated on the server) fails every request, this page's included: sign out
  // from here, where the page's own Sign out cannot be reached.
  if (session.token()) {
    const out = h('button', { type: 'button', class: 'retry sign-out' }, 'Sign out and retry');
    out.addEventListener('click', () => session.signOut());
    app.append(' ', out);
  }
}

async function render(client: Client): Promise<void> {
  leave?.();
  const route = parseRoute(location.hash);
  const controller = new AbortController();
  let cleanup: void | (() => void);
  leave = () => {
    controller.abort();
    cleanup?.();
    leave = null;
  };
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('data-page') === (NAV[route.page] ?? route.page)));
  const page = pages[route.page];
  const root = document.createElement('div');
  root.className = `page page-${route.page}`;
  app.replaceChildren(root);
  if (!page) {
    root.append(message('error', `No page "${route.page}". Use the links above.`));
    return;
  }
  try {
    cleanup = await page({
      client,
      route,
      root,
      signal: controller.signal,
      session,
      setParams: (params) => {
        location.hash = routeHash(route.page, route.id, params);
      },
    });
    if (controller.signal.aborted) cleanup?.();
  } catch (err) {
    if (controller.signal.aborted) return;
    show(err, () => void render(client));
  }
}

async function start(): Promise<void> {
  let client: Client;
  try {
    // Every request carries the signed-in operator's token (none: anonymous), read at the time of the request.
    client = newClient((await loadConfig()).graphqlUrl, undefined, () => authHeaders(session.token()));
  } catch (err) {
    show(err, () => void start());
    return;
  }
  window.addEventListener('hashchange', () => void render(client));
  // Signing in or out changes what the page may show and do (and the websocket's credentials): render it again.
  session.onChange(() => void render(client));
  await render(client);
}

void start();
