// Group page (issue 14): one launch (#/group/<group_id>): its totals from job_groups (jobs by state, the runs'
// summed throughput), the runs' merged latency percentiles (runs_latency_percentiles), its jobs live with their states, and its runs with the runs table's figures and links, and a
// link comparing them. The jobs come live (a live query); the totals and runs are fetched again when they change.
import { GROUP_JOBS_LIVE_SUBSCRIPTION, GROUP_PERCENTILES_QUERY, GROUP_QUERY } from '../queries';
import { groupFigures, groupLatencyFigures, jobOpen, type GroupPercentiles, type GroupRow, type JobRow } from '../fleet';
import { shortId } from '../shape';
import { baselineFirst } from '../compare';
import { routeHash } from '../route';
import { fmtTime, h, message, table } from '../ui';
import type { Page } from '../page';
import { ViewerError } from '../graphql';
import { RUN_HEADERS, runRows, type RunListRow } from './runs';
import { AGENTS_POLL_MS, jobBadge } from './agents';
import { follow } from './follow';

type GroupData = { job_groups: GroupRow[]; job_status: JobRow[]; runs: RunListRow[] };

export const groupPage: Page = async ({ client, route, root, signal }) => {
  const id = route.id;
  if (!id) {
    root.append(h('h1', {}, 'Group'), message('info', 'No group given. Open a launch from the Agents page or a run that came from a job.'));
    return;
  }
  root.append(h('h1', {}, `Group ${shortId(id)}`), h('p', { class: 'muted' }, `Launch ${id}: its jobs and the runs they made.`));
  const indicator = h('p', { class: 'live' });
  const totals = h('div', { class: 'headline group-totals' });
  const times = h('p', { class: 'muted group-times' });
  const jobsBox = h('div', { class: 'group-jobs' });
  const runsBox = h('div', { class: 'group-runs' });
  root.append(indicator, totals, times, h('h2', {}, 'Jobs'), jobsBox, h('h2', {}, 'Runs'), runsBox);

  const drawJobs = (jobs: JobRow[]) => {
    jobsBox.replaceChildren(jobs.length ? table(['agent', 'kind', 'state', 'run', 'launched (UTC)', 'job', 'reason'], jobs.map((j) => [
      j.agent ?? '–', j.kind ?? '–', jobBadge(j), j.run_id ? h('a', { href: routeHash('run', j.run_id) }, shortId(j.run_id)) : '–',
      fmtTime(j.created_at), h('span', { title: j.id }, shortId(j.id)), j.reason ? h('span', { class: 'reason', title: j.reason }, j.reason) : '',
    ]), 'jobs-table') : message('empty', 'No jobs known for this group.'));
    jobsBox.setAttribute('data-open', String(jobs.filter(jobOpen).length));
  };
  const draw = (d: GroupData, latency: GroupPercentiles[]) => {
    const g = d.job_groups[0];
    totals.replaceChildren(...[...(g ? groupFigures(g) : []), ...groupLatencyFigures(latency)].map(([label, value, bad]) =>
      h('div', { class: `figure${bad ? ' bad' : ''}`, 'data-figure': label }, h('div', { class: 'figure-value' }, value), h('div', { class: 'figure-label' }, label))));
    times.textContent = g ? `first run started ${fmtTime(g.started_at)} · last run ended ${fmtTime(g.finished_at)}` : '';
    drawJobs(d.job_status);
    if (!d.runs.length) {
      runsBox.replaceChildren(message('empty', 'No runs yet: the agents start them once they accept their jobs.'));
      return;
    }
    const ids = baselineFirst(d.runs);
    runsBox.replaceChildren(table(RUN_HEADERS, runRows(d.runs), 'runs-table'));
    if (d.runs.length >= 2 && d.runs.length <= 5) {
      runsBox.append(h('p', {}, h('a', { href: routeHash('compare', null, { ids: ids.join(',') }), class: 'compare-group' }, 'Compare these runs')));
    }
  };

  const fetchAll = async () => {
    const d = await client.request<GroupData>(GROUP_QUERY, { id }, signal);
    if (!d.job_groups.length && !d.job_status.length && !d.runs.length) throw new ViewerError(`No group ${id}: no job and no run names it.`, 'notfound');
    const latency = d.runs.length
      ? (await client.request<{ runs_latency_percentiles: GroupPercentiles[] }>(GROUP_PERCENTILES_QUERY,
        { ids: `{${d.runs.map((r) => r.run_id).join(',')}}` }, signal)).runs_latency_percentiles
      : [];
    draw(d, latency);
    return d;
  };
  let seen = JSON.stringify((await fetchAll()).job_status);
  return follow({
    client, signal, indicator, pollMs: AGENTS_POLL_MS,
    subscriptions: [{
      query: GROUP_JOBS_LIVE_SUBSCRIPTION, operationName: 'GroupJobsLive', variables: { id }, what: 'jobs',
      next: (d: { job_status: JobRow[] }) => {
        drawJobs(d.job_status);
        const now = JSON.stringify(d.job_status);
        if (now === seen) return;
        seen = now;
        // A state changed: the totals and runs follow (a run started or finished).
        fetchAll().catch(() => undefined);
      },
    }],
    poll: async () => { await fetchAll(); },
  });
};

