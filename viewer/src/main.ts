// Entry point: loads config.json, then renders the page the URL hash names, again on every hash change.
import 'uplot/dist/uPlot.min.css';
import './style.css';
import { loadConfig, newClient, ViewerError, type Client } from './graphql';
import { parseRoute, routeHash } from './route';
import { h, message } from './ui';
import type { Page } from './page';
import { runsPage } from './pages/runs';
import { runPage } from './pages/run';
import { comparePage } from './pages/compare';
import { devicesPage } from './pages/devices';
import { perftoolPage } from './pages/perftool';

const pages: Record<string, Page> = {
  runs: runsPage,
  run: runPage,
  compare: comparePage,
  devices: devicesPage,
  perftool: perftoolPage,
};

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
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('data-page') === (route.page === 'run' ? 'runs' : route.page)));
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
    client = newClient((await loadConfig()).graphqlUrl);
  } catch (err) {
    show(err, () => void start());
    return;
  }
  window.addEventListener('hashchange', () => void render(client));
  await render(client);
}

void start();
