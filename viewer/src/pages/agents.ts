// Agents page (issue 14): every agent that has sent a heartbeat (agent_status), live, with its recent runs; the newest
// jobs with their states, live. Signed in as operator (auth.ts), it also launches jobs on the ticked agents, on the
// agents with given tags or on all of them (launchJobs), and stops a job or a whole launch (stopJobs). Anonymous, it
// is read only: no checkboxes, no form, no stop buttons (and Hasura would refuse the actions anyway).
import {
  AGENTS_LIVE_SUBSCRIPTION, AGENTS_QUERY, AGENT_RUNS_QUERY, JOBS_LIVE_SUBSCRIPTION, JOBS_QUERY, OPERATOR_DOCUMENTS, RECENT_JOBS,
} from '../queries';
import {
  ago, agentHostName, agentsWithTags, jobOpen, jobStateText, launchVariables, parseTags, tagList,
  type AgentRow, type JobRow, type LaunchFields,
} from '../fleet';
import { authHeaders, type OperatorSession } from '../auth';
import { newClient, ViewerError, type Client } from '../graphql';
import { formatNumber, shortId } from '../shape';
import { routeHash } from '../route';
import { fmtTime, h, message } from '../ui';
import type { Page } from '../page';
import { statusBadge } from './runs';
import { follow } from './follow';

/** How often the page polls when the websocket can't be used. */
export const AGENTS_POLL_MS = 2000;
/** Recent runs fetched for all agents together, and shown per agent. */
const AGENT_RUNS_LIMIT = 200;
const RUNS_PER_AGENT = 3;

interface AgentRun { run_id: string; kind: string; name: string | null; host_name: string | null; status: string; started_at: string | null; ops_rate: number | null }

/** A server's refusal in one line: the GraphQL messages (an action's own error) or the error's text. */
export function oneLine(err: unknown): string {
  if (err instanceof ViewerError && err.reasons.length) return err.reasons.join('; ');
  return (err as Error)?.message ?? String(err);
}

/** Sign-in bar: a password field for the operator token (checked before it is kept), or who is signed in. */
function operatorBar(session: OperatorSession, client: Client): HTMLElement {
  const bar = h('div', { class: 'operator-bar' });
  if (session.token()) {
    const out = h('button', { type: 'button', class: 'sign-out' }, 'Sign out');
    out.addEventListener('click', () => session.signOut());
    bar.append(h('span', { class: 'signed-in' }, 'Signed in as operator: you can launch and stop jobs.'), ' ', out);
    return bar;
  }
  const input = h('input', { type: 'password', name: 'operator-token', autocomplete: 'off', placeholder: 'operator token', size: 28, 'aria-label': 'operator token' });
  const err = h('span', { class: 'action-error', role: 'alert' });
  const form = h('form', { class: 'sign-in' }, h('span', { class: 'muted' }, 'Read only. Operators sign in to launch and stop jobs: '),
    input, h('button', { type: 'submit' }, 'Sign in'), err);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const token = input.value.trim();
    err.textContent = '';
    if (!token) {
      err.textContent = 'Enter the operator token.';
      return;
    }
    // Ask as the operator before keeping the token: jobs is the operator's alone, so data back means the token
    // was accepted; a wrong one is refused by Hasura's auth webhook and never stored.
    const probe = newClient(client.url, undefined, () => authHeaders(token));
    probe.request(OPERATOR_DOCUMENTS.OPERATOR_PROBE).then(() => {
      input.value = '';
      session.signIn(token);
    }, (e2) => {
      err.textContent = `Not signed in: ${oneLine(e2)}`;
    });
  });
  bar.append(form);
  return bar;
}

/** "pi-a · linux/arm64 · 4 cores · 3.8 GiB · Raspberry Pi 4 Model B": an agent's host facts in one line. */
function hostFacts(host: Record<string, unknown> | null): string {
  if (!host) return '–';
  const os = [host.os, host.arch].filter(Boolean).join('/');
  const mem = typeof host.memory_bytes === 'number' ? `${(host.memory_bytes / 2 ** 30).toFixed(1)} GiB` : null;
  return [host.hostname, os, host.cpu_cores ? `${host.cpu_cores} cores` : null, mem, host.device_model ?? host.cpu_model]
    .filter(Boolean).join(' · ') || '–';
}

function runLink(id: string | null | undefined, text?: string): Node | string {
  return id ? h('a', { href: routeHash('run', id), class: 'run-link' }, text ?? shortId(id)) : '–';
}

/** A job's state badge (finished jobs by their run's status), the reason in its tooltip. */
export function jobBadge(j: JobRow): HTMLElement {
  const s = jobStateText(j);
  return h('span', { class: `status job-state ${s.cls}`, 'data-state': j.state, title: j.reason ?? undefined }, s.text);
}

export const agentsPage: Page = async ({ client, root, signal, session }) => {
  const operator = !!session.token();
  root.append(h('h1', {}, 'Agents'), operatorBar(session, client));
  const indicator = h('p', { class: 'live' });
  root.append(indicator);

  let agents: AgentRow[] = [];
  let jobs: JobRow[] = [];
  const selected = new Set<string>();
  const runsByHost = new Map<string, AgentRun[]>();
  let runsKey = '';

  const agentsBox = h('div', { class: 'agents' });
  const selectBox = h('div', { class: 'select-by-tag' });
  const launchBox = h('div', { class: 'launch' });
  const jobsBox = h('div', { class: 'jobs' });
  root.append(agentsBox);
  if (operator) root.append(selectBox, launchBox);
  root.append(h('h2', {}, 'Jobs'), jobsBox);

  const drawAgents = () => {
    if (!agents.length) {
      agentsBox.replaceChildren(message('empty', 'No agent has sent a heartbeat yet. Start one with `producer agent` on a device.'));
      return;
    }
    const now = new Date();
    const head = ['', 'agent', 'status', 'last seen', 'state', 'current job', 'run', 'tags', 'version', 'host', 'recent runs'];
    const body = agents.map((a) => {
      const job = a.job_id ? jobs.find((j) => j.id === a.job_id) : undefined;
      const recent = (runsByHost.get(agentHostName(a)) ?? []).slice(0, RUNS_PER_AGENT);
      return h('tr', { 'data-agent': a.name, class: a.online ? 'online' : 'offline' },
        operator ? h('td', {}, h('input', {
          type: 'checkbox', 'aria-label': `select ${a.name}`, checked: selected.has(a.name),
          onchange: ((e: Event) => {
            if ((e.target as HTMLInputElement).checked) selected.add(a.name);
            else selected.delete(a.name);
          }) as EventListener,
        })) : null,
        h('td', { class: 'agent-name' }, a.name),
        h('td', {}, h('span', { class: `agent-badge ${a.online ? 'agent-online' : 'agent-offline'}` }, a.online ? 'online' : 'offline')),
        h('td', { class: 'last-seen', title: fmtTime(a.last_seen) }, ago(a.last_seen, now)),
        h('td', { class: 'agent-state' }, a.state ?? '–'),
        h('td', { class: 'agent-job' }, a.job_id ? h('span', { title: a.job_id }, job?.name || shortId(a.job_id), job ? ' ' : null, job ? jobBadge(job) : null) : '–'),
        // The heartbeat names the run from the next beat after it started; the job's running event may come first.
        h('td', {}, runLink(a.run_id ?? (a.state === 'running' ? job?.run_id : null))),
        h('td', { class: 'agent-tags' }, tagList(a.tags).join(', ') || '–'),
        h('td', {}, a.version || '–'),
        h('td', { class: 'agent-host' }, hostFacts(a.host)),
        h('td', { class: 'agent-runs' }, ...(recent.length ? recent.flatMap((r, i) => [i ? ' ' : '',
          h('span', { class: 'recent-run', title: `${r.name ?? ''} ${fmtTime(r.started_at)} ${formatNumber(r.ops_rate)} ops/s` }, runLink(r.run_id, r.name || shortId(r.run_id)), ' ', statusBadge(r.status))]) : ['–'])),
      );
    });
    agentsBox.replaceChildren(h('table', { class: 'grid agents-table' },
      h('thead', {}, h('tr', {}, ...(operator ? head : head.slice(1)).map((t) => h('th', {}, t)))), h('tbody', {}, ...body)));
  };

  const stopLine = h('div', { class: 'stop-result' });
  const stop = (vars: { job_id?: string; group_id?: string }, btn: HTMLButtonElement) => {
    btn.disabled = true;
    stopLine.replaceChildren();
    client.request<{ stopJobs: { jobs: { job_id: string; agent: string }[] } | null }>(OPERATOR_DOCUMENTS.STOP_JOBS, vars, signal).then((r) => {
      const n = r.stopJobs?.jobs.length ?? 0;
      stopLine.replaceChildren(message('info', n ? `Stop asked of ${n} job${n === 1 ? '' : 's'} (${r.stopJobs!.jobs.map((j) => j.agent).join(', ')}).` : 'No job left to stop.'));
    }, (err) => {
      if ((err as Error).name === 'AbortError') return;
      btn.disabled = false;
      stopLine.replaceChildren(h('div', { class: 'msg msg-error action-error', role: 'alert' }, `Stop refused: ${oneLine(err)}`));
    });
  };

  const drawJobs = () => {
    if (!jobs.length) {
      jobsBox.replaceChildren(message('empty', 'No jobs yet.'), stopLine);
      return;
    }
    // Newest launch first, each launch's jobs under one row that links its group page (and stops it whole).
    const groups = new Map<string, JobRow[]>();
    for (const j of jobs) {
      const g = j.group_id ?? '';
      if (!groups.has(g)) groups.set(g, []);
      groups.get(g)!.push(j);
    }
    const cols = operator ? 8 : 7;
    const rows: HTMLElement[] = [];
    for (const [g, js] of groups) {
      const open = js.filter(jobOpen).length;
      const stopGroup = operator && g && open ? h('button', { type: 'button', class: 'stop-group' }, 'Stop group') : null;
      stopGroup?.addEventListener('click', () => stop({ group_id: g }, stopGroup));
      rows.push(h('tr', { class: 'group-row', 'data-group': g },
        h('td', { colspan: cols }, g ? h('a', { href: routeHash('group', g) }, `Group ${shortId(g)}`) : 'No group',
          ` · ${js.length} job${js.length === 1 ? '' : 's'}${open ? `, ${open} open` : ''}`, js[0].name ? ` · ${js[0].name}` : '', stopGroup ? ' ' : '', stopGroup)));
      for (const j of js) {
        const stopJob = operator && jobOpen(j) ? h('button', { type: 'button', class: 'stop-job' }, 'Stop') : null;
        stopJob?.addEventListener('click', () => stop({ job_id: j.id }, stopJob));
        rows.push(h('tr', { class: 'job-row', 'data-job': j.id },
          h('td', {}, j.agent ?? '–'), h('td', {}, j.kind ?? '–'), h('td', {}, jobBadge(j)), h('td', {}, runLink(j.run_id)),
          h('td', {}, fmtTime(j.created_at)), h('td', { title: j.id }, shortId(j.id)),
          h('td', {}, j.reason ? h('span', { class: 'reason', title: j.reason }, j.reason) : ''),
          operator ? h('td', {}, stopJob) : null));
      }
    }
    jobsBox.replaceChildren(h('table', { class: 'grid jobs-table' },
      h('thead', {}, h('tr', {}, ...['agent', 'kind', 'state', 'run', 'launched (UTC)', 'job', 'reason', ...(operator ? [''] : [])].map((t) => h('th', {}, t)))),
      h('tbody', {}, ...rows)), stopLine);
  };

  /** The agents' recent runs, fetched again when the hosts or their current runs change. */
  const refreshRuns = async () => {
    const hosts = [...new Set(agents.map(agentHostName))].sort();
    const key = JSON.stringify([hosts, agents.map((a) => a.run_id), jobs.map((j) => [j.run_id, j.state])]);
    if (key === runsKey || !hosts.length) return;
    runsKey = key;
    try {
      const { runs } = await client.request<{ runs: AgentRun[] }>(AGENT_RUNS_QUERY, { hosts, limit: AGENT_RUNS_LIMIT }, signal);
      runsByHost.clear();
      for (const r of runs) {
        const k = r.host_name ?? '';
        if (!runsByHost.has(k)) runsByHost.set(k, []);
        runsByHost.get(k)!.push(r);
      }
      update();
    } catch (err) {
      if ((err as Error).name === 'AbortError') return;
      runsKey = ''; // try again with the next update
      agentsBox.title = `Fetching the agents' recent runs failed: ${(err as Error).message}`;
    }
  };
  // Redraw a table only when what it shows changed: a heartbeat a second would otherwise replace the rows under the
  // pointer (a click between mouse down and up is lost). last_seen alone changes only the "last seen" cells.
  let agentsKey = '';
  let jobsKey = '';
  const drawLastSeen = () => {
    const now = new Date();
    for (const a of agents) {
      const td = agentsBox.querySelector<HTMLElement>(`tr[data-agent="${CSS.escape(a.name)}"] td.last-seen`);
      if (!td) continue;
      td.textContent = ago(a.last_seen, now);
      td.title = fmtTime(a.last_seen);
    }
  };
  const update = () => {
    const ak = JSON.stringify([agents.map(({ last_seen: _, ...rest }) => rest), [...runsByHost], jobs.map((j) => [j.id, j.name, j.state, j.status])]);
    if (ak !== agentsKey) {
      agentsKey = ak;
      drawAgents();
    } else drawLastSeen();
    const jk = JSON.stringify(jobs);
    if (jk !== jobsKey) {
      jobsKey = jk;
      drawJobs();
    }
    void refreshRuns();
  };

  const first = await client.request<{ agent_status: AgentRow[]; }>(AGENTS_QUERY, {}, signal);
  const firstJobs = await client.request<{ job_status: JobRow[] }>(JOBS_QUERY, { limit: RECENT_JOBS }, signal);
  agents = first.agent_status;
  jobs = firstJobs.job_status;
  update();
  if (operator) {
    drawSelectByTag(selectBox, () => agents, selected, drawAgents);
    drawLaunchForm(launchBox, client, signal, () => [...selected].filter((n) => agents.some((a) => a.name === n)));
  }

  // "last seen" counts up between updates.
  const clock = window.setInterval(drawLastSeen, 1000);
  const stopFollowing = follow({
    client, signal, indicator, pollMs: AGENTS_POLL_MS,
    subscriptions: [
      { query: AGENTS_LIVE_SUBSCRIPTION, operationName: 'AgentsLive', variables: {}, what: 'agents',
        next: (d: { agent_status: AgentRow[] }) => { agents = d.agent_status; update(); } },
      { query: JOBS_LIVE_SUBSCRIPTION, operationName: 'JobsLive', variables: { limit: RECENT_JOBS }, what: 'jobs',
        next: (d: { job_status: JobRow[] }) => { jobs = d.job_status; update(); } },
    ],
    poll: async () => {
      const [a, j] = await Promise.all([
        client.request<{ agent_status: AgentRow[] }>(AGENTS_QUERY, {}, signal),
        client.request<{ job_status: JobRow[] }>(JOBS_QUERY, { limit: RECENT_JOBS }, signal),
      ]);
      agents = a.agent_status;
      jobs = j.job_status;
      update();
    },
  });
  return () => {
    window.clearInterval(clock);
    stopFollowing();
  };
};

/** "Select by tag": ticks the agents whose tags hold all of the given ones (adds to the ticked). */
function drawSelectByTag(box: HTMLElement, agents: () => AgentRow[], selected: Set<string>, redraw: () => void): void {
  const input = h('input', { name: 'select-tags', placeholder: 'site=lab', size: 24, 'aria-label': 'tags to select by' });
  const note = h('span', { class: 'muted select-note' });
  const form = h('form', { class: 'filters' }, h('label', {}, 'select by tag (key=value, …)', input),
    h('button', { type: 'submit' }, 'Select'), h('button', { type: 'button', class: 'select-none' }, 'Clear selection'), note);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const t = parseTags(input.value);
    if (t.errors.length) {
      note.textContent = t.errors.join('; ');
      return;
    }
    const hit = agentsWithTags(agents(), t.tags);
    hit.forEach((a) => selected.add(a.name));
    note.textContent = `${hit.length} agent${hit.length === 1 ? '' : 's'} with ${tagList(t.tags).join(', ')}; ${selected.size} selected`;
    redraw();
  });
  form.querySelector('.select-none')!.addEventListener('click', () => {
    selected.clear();
    note.textContent = 'none selected';
    redraw();
  });
  box.replaceChildren(form);
}

/** The launch form: kind, its load shape, name, run tags, expiry, and which agents. */
function drawLaunchForm(box: HTMLElement, client: Client, signal: AbortSignal, selected: () => string[]): void {
  const field = (label: string, name: string, attrs: Record<string, string | number> = {}) =>
    h('label', { 'data-field': name }, label, h('input', { name, ...attrs }));
  const pick = (label: string, name: string, options: [string, string][], value: string) =>
    h('label', { 'data-field': name }, label, h('select', { name }, ...options.map(([v, l]) => h('option', { value: v, selected: v === value }, l))));
  const mqtt = h('fieldset', { class: 'kind-mqtt' }, h('legend', {}, 'MQTT load'),
    pick('target', 'target', [['broker', 'broker URL'], ['embedded', 'embedded target (in the agent)']], 'broker'),
    field('broker', 'broker', { placeholder: 'tcp://broker:1883', size: 24 }),
    field('publishers', 'publishers', { placeholder: '1', size: 5 }), field('subscribers', 'subscribers', { placeholder: '1', size: 5 }),
    pick('qos', 'qos', [['', 'default (0)'], ['0', '0'], ['1', '1'], ['2', '2']], ''),
    field('size (bytes)', 'size', { placeholder: 'default', size: 7 }), field('rate (msg/s, 0 = max)', 'rate', { placeholder: '0', size: 7 }),
    field('duration', 'duration', { placeholder: 'default', size: 7 }), field('warmup', 'warmup', { placeholder: '0s', size: 6 }));
  const pgbench = h('fieldset', { class: 'kind-pgbench', hidden: true }, h('legend', {}, 'pgbench'),
    field('pgbench arguments', 'args', { placeholder: '-c 4 -j 2 -T 60 benchdb', size: 40 }),
    field('warmup', 'warmup', { placeholder: '0s', size: 6 }), field('init scale (pgbench -i -s)', 'init_scale', { placeholder: 'none', size: 6 }));
  const target = h('fieldset', { class: 'launch-target' }, h('legend', {}, 'on'),
    pick('agents', 'select', [['selected', 'the ticked agents'], ['tag', 'the online agents with tags'], ['all', 'every online agent']], 'selected'),
    field('tags (key=value, …)', 'select_tags', { placeholder: 'site=lab', size: 18 }));
  const common = h('fieldset', { class: 'launch-common' }, h('legend', {}, 'run'),
    field('name', 'name', { size: 18 }), field('run tags (key=value, …)', 'run_tags', { placeholder: 'env=lab', size: 18 }),
    field('expires after', 'expires', { placeholder: 'default (10m)', size: 10 }));
  const kind = pick('kind', 'kind', [['mqtt', 'MQTT'], ['pgbench', 'pgbench']], 'mqtt');
  const err = h('div', { class: 'launch-error' });
  const done = h('div', { class: 'launch-result' });
  const submit = h('button', { type: 'submit', class: 'launch-btn' }, 'Launch');
  const form = h('form', { class: 'launch-form filters' }, kind, mqtt, pgbench, common, target, submit);
  const kindSel = kind.querySelector('select')!;
  const showKind = () => {
    mqtt.hidden = kindSel.value !== 'mqtt';
    pgbench.hidden = kindSel.value !== 'pgbench';
  };
  kindSel.addEventListener('change', showKind);
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const fields: LaunchFields & Record<string, string> = { kind: kindSel.value };
    // Only the shown kind's fields (both kinds have a warmup).
    for (const fs of [kindSel.value === 'mqtt' ? mqtt : pgbench, common, target]) {
      fs.querySelectorAll<HTMLInputElement | HTMLSelectElement>('input, select').forEach((i) => { fields[i.name] = i.value; });
    }
    const { vars, errors } = launchVariables(fields, selected());
    err.replaceChildren();
    done.replaceChildren();
    if (!vars) {
      err.append(h('div', { class: 'msg msg-error action-error', role: 'alert' }, errors.join('; ')));
      return;
    }
    submit.disabled = true;
    client.request<{ launchJobs: { group_id: string; jobs: { job_id: string; agent: string }[] } | null }>(OPERATOR_DOCUMENTS.LAUNCH_JOBS, { ...vars }, signal)
      .then((r) => {
        const l = r.launchJobs;
        if (!l) throw new Error('the server answered without a result');
        done.append(h('div', { class: 'msg msg-info', role: 'status', 'data-group': l.group_id },
          `Launched ${l.jobs.length} job${l.jobs.length === 1 ? '' : 's'} (${l.jobs.map((j) => j.agent).join(', ')}) as group `,
          h('a', { href: routeHash('group', l.group_id) }, shortId(l.group_id)), '; they appear under Jobs as the agents report.'));
      })
      .catch((e2) => {
        if ((e2 as Error).name === 'AbortError') return;
        err.append(h('div', { class: 'msg msg-error action-error', role: 'alert' }, `Launch refused: ${oneLine(e2)}`));
      })
      .finally(() => { submit.disabled = false; });
  });
  showKind();
  box.replaceChildren(h('h2', {}, 'Launch'), form, err, done);
}
