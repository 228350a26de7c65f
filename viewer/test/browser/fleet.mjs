// Fleet browser test (issue 14 item 3): the Agents page, sign-in, launch, stop and the group page in real headless
// Chromium, over the whole real path: go run ./internal/demo --fleet-fixture (built here; internal/demo/fleetfixture.go,
// the demo's own pipeline and fleet) runs PostgreSQL as deployed, kfake, the real sink, the real `sink api` (auth
// webhook and actions), three real agents (producer agent, in process) and internal/hasurastub, the one stand-in for
// Hasura, calling that webhook and those actions. recorder.mjs sits between
// the page and the fixture and keeps every request and websocket message, so the test can see the credentials the
// page sends. Run: npm run test:browser (after run.mjs) or node test/browser/fleet.mjs. Needs Go, the PostgreSQL
// server binaries and Chromium.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { build } from 'vite';
import { chromium } from 'playwright-core';
import { startRecorder } from './recorder.mjs';
import { declaredDocuments, FLEET_DOCUMENTS } from './documents.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const REPO = resolve(ROOT, '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN_KEY = 'benchpipe.operatorToken';

let fixture, server, context, workDir;
const pageErrors = [];

async function startFixture() {
  const bin = join(workDir, 'demo');
  try {
    execFileSync('go', ['build', '-o', bin, './internal/demo'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (err) {
    throw new Error(`cannot build the fleet fixture (go build ./internal/demo in ${REPO}): ${err.message}`);
  }
  const child = spawn(bin, ['--fleet-fixture'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let log = '';
  child.stderr.on('data', (d) => { log += d; });
  const exited = new Promise((r) => child.on('exit', (code) => r(code)));
  const line = await Promise.race([
    new Promise((r) => createInterface({ input: child.stdout }).once('line', r)),
    exited.then((code) => { throw new Error(`the fleet fixture exited with status ${code}:\n${log}`); }),
  ]);
  return { ...JSON.parse(line), log: () => log, close: async () => { child.stdin.end(); await exited; } };
}

/** A GraphQL request straight to the stand-in (not through the recorder), as the operator when token is given. */
async function gql(query, variables = {}, token = null) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const res = await fetch(`${fixture.url}v1/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

/** Polls fn until it returns a truthy value (or throws after timeoutMs with what it last saw). */
async function until(what, fn, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

before(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium, or set CHROMIUM_PATH`);
  mkdirSync(ARTIFACTS, { recursive: true });
  workDir = mkdtempSync(join(tmpdir(), 'benchpipe-viewer-fleet-'));
  await build({ root: ROOT, logLevel: 'warn' });
  fixture = await startFixture();
  server = await startRecorder(fixture.url);
  context = await chromium.launchPersistentContext(join(workDir, 'chromium'), {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1400, height: 1000 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // The agents' first heartbeats are in the database before any page opens.
  await until('three agents online', async () => (await gql('{ agent_status(where: {online: {_eq: true}}) { name } }')).agent_status.length === 3);
}, { timeout: 300_000 });

after(async () => {
  await context?.close();
  await server?.close();
  await fixture?.close();
  if (workDir) rmSync(workDir, { recursive: true, force: true });
  assert.deepEqual(pageErrors, []);
});

async function open(hash) {
  const page = await context.newPage();
  page.on('pageerror', (e) => pageErrors.push(`${hash}: ${e.message}`));
  await page.goto(`${server.url}${hash}`);
  return page;
}

/** The agents table as [name, status, state] rows. */
const agentRows = (page) => page.$$eval('table.agents-table tbody tr', (trs) => trs.map((tr) => [
  tr.querySelector('.agent-name').textContent, tr.querySelector('.agent-badge').textContent, tr.querySelector('.agent-state').textContent]));

/** The jobs table's job rows as [agent, state]. */
const jobRows = (page) => page.$$eval('table.jobs-table tr.job-row', (trs) => trs.map((tr) => [tr.children[0].textContent, tr.querySelector('.job-state').textContent]));

/** The requests and websocket connection_init payloads the page sent from index since on. */
const sentSince = (reqs, conns) => ({
  auth: server.requests.slice(reqs).map((r) => r.headers.authorization ?? null),
  inits: server.wsConnections.slice(conns).map((c) => c.init),
});

let page;

test('anonymous: every agent, live, read only (no selection, no launch form, no stop)', async () => {
  const [reqs, conns] = [server.requests.length, server.wsConnections.length];
  page = await open('#/agents');
  await page.waitForSelector('.live[data-mode="live"]');
  await page.waitForFunction(() => document.querySelectorAll('table.agents-table tbody tr').length === 3);
  assert.deepEqual(await agentRows(page), [['pi-a', 'online', 'idle'], ['pi-b', 'online', 'idle'], ['pi-c', 'online', 'idle']]);
  assert.deepEqual(await page.$$eval('table.agents-table .agent-tags', (tds) => tds.map((t) => t.textContent)), ['rack=1, site=lab', 'rack=2, site=lab', 'site=edge']);
  assert.equal(await page.locator('table.agents-table input[type=checkbox]').count(), 0);
  assert.equal(await page.locator('form.launch-form').count(), 0);
  assert.equal(await page.locator('button.stop-job, button.stop-group').count(), 0);
  assert.equal(await page.locator('input[name="operator-token"]').count(), 1);
  assert.match(await page.textContent('.jobs'), /No jobs yet/);
  const sent = sentSince(reqs, conns);
  assert.ok(sent.auth.length >= 2 && sent.auth.every((a) => a === null), `anonymous HTTP: ${JSON.stringify(sent.auth)}`);
  assert.deepEqual(sent.inits, [null], 'connection_init without payload: anonymous');
  assert.deepEqual(server.wsConnections.at(-1).subscriptions.map((s) => s.operationName).sort(), ['AgentsLive', 'JobsLive']);
  await page.screenshot({ path: join(ARTIFACTS, 'agents-anonymous.png'), fullPage: true });
});

test('sign-in: a wrong token is refused and not kept; the right one shows the controls and goes with every request', async () => {
  await page.fill('input[name="operator-token"]', 'not-the-token');
  await page.click('form.sign-in button[type=submit]');
  await page.waitForFunction(() => /Not signed in/.test(document.querySelector('.operator-bar .action-error')?.textContent ?? ''));
  assert.equal(await page.textContent('.operator-bar .action-error'), 'Not signed in: Authentication hook unauthorized this request');
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), null);
  assert.equal(await page.locator('form.launch-form').count(), 0);

  const [reqs, conns] = [server.requests.length, server.wsConnections.length];
  await page.fill('input[name="operator-token"]', fixture.token);
  await page.click('form.sign-in button[type=submit]');
  await page.waitForSelector('form.launch-form');
  await page.waitForSelector('.live[data-mode="live"]');
  assert.match(await page.textContent('.operator-bar'), /Signed in as operator/);
  assert.equal(await page.locator('table.agents-table tbody input[type=checkbox]').count(), 3);
  // sessionStorage only: not in localStorage, not in the URL.
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), fixture.token);
  assert.equal(await page.evaluate(() => localStorage.length), 0);
  assert.ok(!page.url().includes(fixture.token));
  const sent = sentSince(reqs, conns);
  assert.ok(sent.auth.length >= 3 && sent.auth.every((a) => a === `Bearer ${fixture.token}`), JSON.stringify(sent.auth));
  assert.deepEqual(sent.inits, [{ headers: { Authorization: `Bearer ${fixture.token}` } }]);
  await page.screenshot({ path: join(ARTIFACTS, 'agents-operator.png'), fullPage: true });
});

test('an action\'s refusal is one line; select by tag ticks the agents with the tags', async () => {
  await page.selectOption('select[name="select"]', 'tag');
  await page.fill('input[name="select_tags"]', 'site=mars');
  await page.click('button.launch-btn');
  await page.waitForSelector('.launch-error .action-error');
  assert.equal(await page.textContent('.launch-error .action-error'), 'Launch refused: no agent matches tags {"site":"mars"}: no online agent has them all');
  assert.deepEqual((await gql('{ jobs(limit: 10) { id } }', {}, fixture.token)).jobs, [], 'nothing launched');

  await page.fill('input[name="select-tags"]', 'site=lab');
  await page.click('.select-by-tag button[type=submit]');
  assert.deepEqual(await page.$$eval('table.agents-table tbody tr', (trs) => trs.filter((tr) => tr.querySelector('input').checked).map((tr) => tr.dataset.agent)), ['pi-a', 'pi-b']);
  assert.match(await page.textContent('.select-note'), /^2 agents with site=lab; 2 selected$/);
});

let groupId;

test('launch on the ticked agents: the jobs appear live, run, and link their runs', async () => {
  await page.selectOption('select[name="select"]', 'selected');
  await page.fill('.kind-mqtt input[name="publishers"]', '1');
  await page.fill('.kind-mqtt input[name="subscribers"]', '1');
  await page.selectOption('.kind-mqtt select[name="target"]', 'embedded');
  await page.selectOption('.kind-mqtt select[name="qos"]', '1');
  await page.fill('.kind-mqtt input[name="rate"]', '50');
  await page.fill('.kind-mqtt input[name="duration"]', '120s');
  await page.fill('.kind-mqtt input[name="warmup"]', '1s');
  await page.fill('input[name="name"]', 'fleet browser');
  await page.fill('input[name="run_tags"]', 'env=browser');
  const reqs = server.requests.length;
  await page.click('button.launch-btn');
  await page.waitForSelector('.launch-result [data-group]');
  groupId = await page.getAttribute('.launch-result [data-group]', 'data-group');
  assert.match(await page.textContent('.launch-result'), /^Launched 2 jobs \(pi-a, pi-b\) as group /);
  const launch = server.requests.slice(reqs).find((r) => r.body.includes('mutation LaunchJobs'));
  assert.deepEqual(JSON.parse(launch.body).variables, {
    kind: 'mqtt', spec: { embedded_target: true, publishers: 1, subscribers: 1, qos: 1, rate: 50, duration: '120s', warmup: '1s' },
    agents: ['pi-a', 'pi-b'], name: 'fleet browser', run_tags: { env: 'browser' },
  });
  // The launch's jobs, from the live subscription: launched → accepted → running, each with its run.
  await page.waitForFunction(() => [...document.querySelectorAll('table.jobs-table tr.job-row .job-state')].filter((s) => s.dataset.state === 'running').length === 2,
    null, { timeout: 60_000 });
  assert.deepEqual(await jobRows(page), [['pi-a', 'running'], ['pi-b', 'running']]);
  assert.equal(await page.locator('table.jobs-table tr.job-row a.run-link').count(), 2);
  assert.equal(await page.getAttribute('table.jobs-table tr.group-row', 'data-group'), groupId);
  // The agents table follows: pi-a and pi-b running their jobs, with their runs linked.
  await page.waitForFunction(() => [...document.querySelectorAll('table.agents-table .agent-state')].map((s) => s.textContent).join() === 'running,running,idle');
  const db = await gql('query ($g: uuid!) { job_status(where: {group_id: {_eq: $g}}, order_by: {agent: asc}) { agent state run_id } }', { g: groupId });
  assert.deepEqual(db.job_status.map((j) => [j.agent, j.state]), [['pi-a', 'running'], ['pi-b', 'running']]);
  assert.deepEqual(await page.$$eval('table.jobs-table tr.job-row a.run-link', (as) => as.map((a) => a.getAttribute('href'))),
    db.job_status.map((j) => `#/run/${j.run_id}`));
  await page.screenshot({ path: join(ARTIFACTS, 'agents-launched.png'), fullPage: true });
});

test('stop one job, then the group: both end aborted, and the agents idle again', async () => {
  await page.click('table.jobs-table tr.job-row:has-text("pi-a") button.stop-job');
  await page.waitForSelector('.stop-result .msg-info');
  assert.equal(await page.textContent('.stop-result'), 'Stop asked of 1 job (pi-a).');
  await page.waitForFunction(() => JSON.stringify([...document.querySelectorAll('table.jobs-table tr.job-row .job-state')].map((s) => s.textContent)) === '["aborted","running"]', null, { timeout: 60_000 });
  await page.click('button.stop-group');
  await page.waitForFunction(() => /Stop asked of 1 job \(pi-b\)\./.test(document.querySelector('.stop-result')?.textContent ?? ''));
  await page.waitForFunction(() => JSON.stringify([...document.querySelectorAll('table.jobs-table tr.job-row .job-state')].map((s) => s.textContent)) === '["aborted","aborted"]', null, { timeout: 60_000 });
  assert.equal(await page.locator('button.stop-job, button.stop-group').count(), 0, 'nothing left to stop');
  await page.waitForFunction(() => [...document.querySelectorAll('table.agents-table .agent-state')].map((s) => s.textContent).join() === 'idle,idle,idle');
  await page.screenshot({ path: join(ARTIFACTS, 'agents-stopped.png'), fullPage: true });
});

test('group page: totals (jobs by state, summed throughput) and the runs; the runs list and run page link the group', async () => {
  const { runs } = await until('both runs finished', async () => {
    const d = await gql('query ($g: uuid!) { runs(where: {group_id: {_eq: $g}}, order_by: {host_name: asc}) { run_id status ops_rate host_name name } }', { g: groupId });
    return d.runs.length === 2 && d.runs.every((r) => r.status === 'aborted') && d;
  });
  await page.click(`table.jobs-table tr.group-row a[href="#/group/${groupId}"]`);
  await page.waitForSelector('.group-totals .figure');
  await page.waitForFunction(() => document.querySelectorAll('.group-runs table.runs-table tbody tr').length === 2);
  const figures = Object.fromEntries(await page.$$eval('.group-totals .figure', (fs) => fs.map((f) => [f.dataset.figure, f.querySelector('.figure-value').textContent])));
  const fmt = (n) => n.toLocaleString('en-US', { maximumFractionDigits: Math.abs(n) >= 1000 ? 0 : Math.abs(n) >= 100 ? 1 : 3 });
  // The group's latency is the runs' histograms merged by the database, not an average of their percentiles.
  const merged = (await gql('query ($ids: _uuid!) { runs_latency_percentiles(args: {run_ids: $ids}) { series count p50_ms p99_ms p999_ms } }',
    { ids: `{${runs.map((r) => r.run_id).join(',')}}` })).runs_latency_percentiles.find((r) => r.series === 'latency');
  assert.ok(merged && merged.count > 0, 'the group\'s runs kept latency histograms');
  assert.deepEqual(figures, {
    jobs: '2', running: '0', ok: '0', failed: '0', aborted: '2', rejected: '0', expired: '0', runs: '2',
    'summed throughput (ops/s)': fmt(runs[0].ops_rate + runs[1].ops_rate),
    'p50 of the group (ms)': fmt(merged.p50_ms), 'p99 of the group (ms)': fmt(merged.p99_ms), 'p99.9 of the group (ms)': fmt(merged.p999_ms),
  });
  assert.deepEqual(await page.$$eval('.group-jobs tbody tr', (trs) => trs.map((tr) => [tr.children[0].textContent, tr.children[2].textContent])), [['pi-a', 'aborted'], ['pi-b', 'aborted']]);
  assert.deepEqual((await page.$$eval('.group-runs tbody tr td:nth-child(2) a:first-child', (as) => as.map((a) => a.getAttribute('href')))).sort(), runs.map((r) => `#/run/${r.run_id}`).sort());
  const compareIds = decodeURIComponent((await page.getAttribute('a.compare-group', 'href')).replace(/^#\/compare\?ids=/, '')).split(',');
  assert.deepEqual(compareIds.sort(), runs.map((r) => r.run_id).sort());
  await page.screenshot({ path: join(ARTIFACTS, 'group.png'), fullPage: true });

  await page.goto(`${server.url}#/runs`);
  await page.waitForSelector('table.runs-table tbody tr');
  assert.deepEqual(await page.$$eval('table.runs-table tbody tr', (trs) => trs.filter((tr) => tr.querySelector('a.group-link')).map((tr) => tr.querySelector('a.group-link').getAttribute('href'))),
    [`#/group/${groupId}`, `#/group/${groupId}`]);
  await page.goto(`${server.url}#/run/${runs[0].run_id}`);
  await page.waitForSelector('.run-header a.group-link');
  assert.equal(await page.getAttribute('.run-header a.group-link', 'href'), `#/group/${groupId}`);
});

test('an agent that stops sending heartbeats turns offline live; sign out hides the controls and forgets the token, also from the error a rotated token gives', async () => {
  await page.goto(`${server.url}#/agents`);
  await page.waitForSelector('.live[data-mode="live"]');
  const res = await fetch(`${fixture.url}_fixture/stop-agent?name=pi-c`, { method: 'POST' });
  assert.equal(res.status, 204);
  await page.waitForFunction(() => document.querySelector('table.agents-table tr[data-agent="pi-c"] .agent-badge')?.textContent === 'offline', null, { timeout: 20_000 });
  assert.deepEqual((await agentRows(page)).map((r) => r[1]), ['online', 'online', 'offline']);
  await page.screenshot({ path: join(ARTIFACTS, 'agents-offline.png'), fullPage: true });

  await page.click('.operator-bar button.sign-out');
  await page.waitForSelector('input[name="operator-token"]');
  assert.equal(await page.locator('form.launch-form').count(), 0);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), null);

  // A kept token the server no longer accepts (rotated) fails every request: the error offers to sign out.
  await page.evaluate((k) => sessionStorage.setItem(k, 'rotated-away'), TOKEN_KEY);
  await page.reload();
  await page.waitForSelector('button.sign-out.retry');
  assert.match(await page.textContent('.msg-error'), /Authentication hook unauthorized this request/);
  await page.click('button.sign-out.retry');
  await page.waitForSelector('input[name="operator-token"]');
  await page.waitForFunction(() => document.querySelectorAll('table.agents-table tbody tr').length === 3);
  assert.equal(await page.locator('form.launch-form').count(), 0);
  assert.equal(await page.locator('table.agents-table input[type=checkbox]').count(), 0);
  assert.equal(await page.evaluate((k) => sessionStorage.getItem(k), TOKEN_KEY), null);
  await page.close();
});

test('every fleet document was sent and answered with data; every document on the fleet\'s tables or actions is a fleet document', () => {
  const sent = new Set();
  for (const r of server.requests) {
    const { operationName, query } = JSON.parse(r.body);
    const name = operationName ?? /\b(?:query|subscription|mutation) (\w+)/.exec(query)?.[1];
    if (!FLEET_DOCUMENTS.includes(name)) continue;
    // The refusals the tests provoke: the wrong and the rotated token's requests, the launch on tag site=mars.
    if (['Bearer not-the-token', 'Bearer rotated-away'].includes(r.headers.authorization) || r.body.includes('"mars"')) continue;
    sent.add(name);
    assert.equal(r.status, 200, `${name}: HTTP ${r.status}`);
    assert.ok(r.answer.startsWith('{"data":'), `${name} answered ${r.answer}`);
  }
  for (const c of server.wsConnections) {
    for (const sub of c.subscriptions) {
      if (!FLEET_DOCUMENTS.includes(sub.operationName)) continue;
      sent.add(sub.operationName);
      const answers = c.received.filter((m) => m.id === sub.id && m.type !== 'complete');
      assert.ok(answers.length > 0 && answers.every((m) => m.type === 'next' && m.payload.data && !m.payload.errors), `${sub.operationName}: ${JSON.stringify(answers)}`);
    }
  }
  assert.deepEqual(FLEET_DOCUMENTS.filter((n) => !sent.has(n)), []);
  const fleetish = [...declaredDocuments()].filter(([, text]) => /\b(agent_status|job_status|job_groups|jobs|launchJobs|stopJobs)\b[ (]/.test(text)).map(([n]) => n);
  assert.deepEqual(fleetish.filter((n) => !FLEET_DOCUMENTS.includes(n)), []);
});
