// The fleet's pure parts (src/fleet.ts): the launch form → launchJobs variables and the kind's spec (field names of
// producer/mqttload.Spec and producer/pgbench.Spec), tags, pgbench's argument line, job states as shown, ages.
import { describe, expect, it } from 'vitest';
import {
  ago, agentHostName, agentsWithTags, groupFigures, groupLatencyFigures, jobOpen, jobStateText, launchSpec, launchVariables, parseSeconds, parseTags, splitArgs,
  type AgentRow, type GroupRow, type JobRow,
} from '../src/fleet';
import { shellJoin } from '../src/shape';

describe('launchSpec: the form as the kind\'s Spec JSON', () => {
  it('maps the MQTT load shape to mqttload.Spec\'s names, durations as Go durations, empty fields left to the defaults', () => {
    expect(launchSpec({
      kind: 'mqtt', target: 'broker', broker: ' tcp://broker:1883 ', publishers: '4', subscribers: '0', qos: '1', size: '256',
      rate: '2000', duration: '60s', warmup: '5s',
    })).toEqual({
      spec: { broker: 'tcp://broker:1883', publishers: 4, subscribers: 0, qos: 1, size: 256, rate: 2000, duration: '60s', warmup: '5s' },
      errors: [],
    });
    expect(launchSpec({ kind: 'mqtt', target: 'embedded', broker: 'tcp://ignored:1', publishers: '', duration: '1m30s' }))
      .toEqual({ spec: { embedded_target: true, duration: '1m30s' }, errors: [] });
    expect(launchSpec({ kind: 'mqtt' })).toEqual({ spec: {}, errors: [] });
  });

  it('maps pgbench\'s argument line to pgbench_args split as a shell would, with warmup and init_scale', () => {
    expect(launchSpec({ kind: 'pgbench', args: `-c 4 -j 2 -T 60 -f "my script.sql" benchdb`, warmup: '10s', init_scale: '5' })).toEqual({
      spec: { pgbench_args: ['-c', '4', '-j', '2', '-T', '60', '-f', 'my script.sql', 'benchdb'], warmup: '10s', init_scale: 5 },
      errors: [],
    });
    expect(launchSpec({ kind: 'pgbench', args: '  ' })).toEqual({ spec: {}, errors: [] });
  });

  it('reports every unreadable field at once', () => {
    expect(launchSpec({ kind: 'mqtt', publishers: '0', subscribers: '-1', qos: '3', size: '1.5', rate: 'fast', duration: '60', warmup: '5 s' }).errors).toEqual([
      'publishers: a whole number of at least 1',
      'subscribers: a whole number of at least 0',
      'qos: 0, 1 or 2',
      'size: a whole number of at least 1',
      'rate: messages per second, 0 or more (0 = as fast as possible)',
      'duration: a duration such as 30s, 5m or 1h',
      'warmup: a duration such as 30s, 5m or 1h',
    ]);
    expect(launchSpec({ kind: 'pgbench', args: '-c "4', init_scale: '0' }).errors).toEqual([
      'pgbench arguments: unmatched " in the arguments', 'init scale: a whole number of at least 1',
    ]);
    expect(launchSpec({ kind: 'iperf' }).errors).toEqual(['kind: mqtt or pgbench, not "iperf"']);
  });
});

describe('launchVariables: which agents, name, run tags, expiry', () => {
  const mqtt = { kind: 'mqtt', publishers: '2' };
  it('sends the ticked agents, or tags, or all: exactly one selection', () => {
    expect(launchVariables({ ...mqtt, select: 'selected' }, ['pi-a', 'pi-b'])).toEqual({
      vars: { kind: 'mqtt', spec: { publishers: 2 }, agents: ['pi-a', 'pi-b'] }, errors: [],
    });
    expect(launchVariables({ ...mqtt, select: 'tag', select_tags: 'site=lab, rack=2' }, ['ignored'])).toEqual({
      vars: { kind: 'mqtt', spec: { publishers: 2 }, tags: { site: 'lab', rack: '2' } }, errors: [],
    });
    expect(launchVariables({ ...mqtt, select: 'all' }, ['ignored'])).toEqual({ vars: { kind: 'mqtt', spec: { publishers: 2 }, all: true }, errors: [] });
  });

  it('adds name, run tags and expiry in seconds only when given', () => {
    expect(launchVariables({ ...mqtt, select: 'all', name: ' nightly ', run_tags: 'env=lab qos=1', expires: '10m' }, []).vars).toEqual({
      kind: 'mqtt', spec: { publishers: 2 }, all: true, name: 'nightly', run_tags: { env: 'lab', qos: '1' }, expires_in_s: 600,
    });
    expect(launchVariables({ ...mqtt, select: 'all', expires: '90' }, []).vars?.expires_in_s).toBe(90);
  });

  it('refuses an empty selection, bad tags and a bad expiry, with every reason', () => {
    expect(launchVariables({ ...mqtt, select: 'selected' }, [])).toEqual({ vars: null, errors: ['agents: tick at least one agent, or choose by tag or all'] });
    expect(launchVariables({ ...mqtt, select: 'tag', select_tags: '' }, []).errors).toEqual(['agents: give the tags to select by (key=value)']);
    expect(launchVariables({ kind: 'mqtt', qos: '5', select: 'tag', select_tags: 'site', run_tags: '=x', expires: 'soon' }, []).errors).toEqual([
      'qos: 0, 1 or 2', 'tag "site": write key=value', 'run tag "=x": write key=value', 'expires: a duration such as 10m (at least 1s)',
    ]);
  });
});

describe('tags, arguments, durations', () => {
  it('parses key=value lists and refuses a key given twice', () => {
    expect(parseTags('a=1,b=2 c=')).toEqual({ tags: { a: '1', b: '2', c: '' }, errors: [] });
    expect(parseTags('a=1,a=2').errors).toEqual(['tag a given twice']);
  });

  it('splits an argument line as a POSIX shell does, the inverse of shellJoin', () => {
    expect(splitArgs(`-c 4  'a b' "c \\"d\\" $e" f\\ g ''`)).toEqual(['-c', '4', 'a b', 'c "d" $e', 'f g', '']);
    const args = ['-c', '4', 'select 1;', "it's", '', '--log-prefix=x y'];
    expect(splitArgs(shellJoin(args))).toEqual(args);
    expect(() => splitArgs("'open")).toThrow(/unmatched '/);
  });

  it('reads Go-style durations and bare seconds', () => {
    expect([parseSeconds('90s'), parseSeconds('10m'), parseSeconds('1h30m'), parseSeconds('500ms'), parseSeconds('45'), parseSeconds('')])
      .toEqual([90, 600, 5400, 0.5, 45, null]);
    expect(parseSeconds('10 minutes')).toBeNaN();
  });
});

describe('agents and jobs as shown', () => {
  const agent = (name: string, tags: Record<string, string>, host: Record<string, unknown> | null = null): AgentRow => ({
    name, host, version: null, tags, interval_s: 5, state: 'idle', job_id: null, run_id: null, up_since: null, first_seen: null, last_seen: null, online: true,
  });

  it('selects by tag only agents holding every given tag', () => {
    const all = [agent('a', { site: 'lab', rack: '1' }), agent('b', { site: 'lab', rack: '2' }), agent('c', { site: 'edge' })];
    expect(agentsWithTags(all, { site: 'lab' }).map((a) => a.name)).toEqual(['a', 'b']);
    expect(agentsWithTags(all, { site: 'lab', rack: '2' }).map((a) => a.name)).toEqual(['b']);
    expect(agentsWithTags(all, {})).toEqual([]);
  });

  it('matches an agent\'s runs by its heartbeat\'s host name', () => {
    expect(agentHostName(agent('pi-a', {}, { hostname: 'raspberrypi' }))).toBe('raspberrypi');
    expect(agentHostName(agent('pi-a', {}))).toBe('pi-a');
  });

  it('says how long ago, in the largest whole unit', () => {
    const now = new Date('2026-12-03T10:00:00Z');
    const before = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
    expect([0, 1, 2, 119, 120, 7199, 7200, 2 * 86400 - 1, 2 * 86400].map((s) => ago(before(s), now)))
      .toEqual(['just now', 'just now', '2 s ago', '119 s ago', '2 min ago', '119 min ago', '2 h ago', '47 h ago', '2 d ago']);
    expect(ago(null, now)).toBe('never');
  });

  it('shows a finished job by its run\'s status and an open one by its state, a stop asked of it too', () => {
    const job = (state: string, status: string | null = null, stop: string | null = null) => ({ state, status, stop_requested_at: stop }) as Pick<JobRow, 'state' | 'status' | 'stop_requested_at'>;
    expect([
      job('launched'), job('accepted'), job('running'), job('running', null, '2026-12-03T10:00:00Z'), job('finished', 'ok'),
      job('finished', 'aborted', '2026-12-03T10:00:00Z'), job('finished', 'failed'), job('rejected'), job('expired'),
    ].map(jobStateText)).toEqual([
      { text: 'launched', cls: 'status-pending' }, { text: 'accepted', cls: 'status-pending' }, { text: 'running', cls: 'status-running' },
      { text: 'running, stop asked', cls: 'status-running' }, { text: 'ok', cls: 'status-ok' }, { text: 'aborted', cls: 'status-aborted' },
      { text: 'failed', cls: 'status-failed' }, { text: 'rejected', cls: 'status-failed' }, { text: 'expired', cls: 'status-failed' },
    ]);
    expect(['launched', 'accepted', 'running', 'finished', 'rejected', 'expired'].map((state) => jobOpen({ state })))
      .toEqual([true, true, true, false, false, false]);
  });
});

describe('a launch\'s totals', () => {
  it('shows jobs by state, runs and summed throughput, marking failures', () => {
    const g: GroupRow = { group_id: 'g', jobs: 3, running: 1, finished: 2, ok: 1, failed: 0, aborted: 1, rejected: 0, expired: 0, runs: 3,
      ops_rate: 1234.5 + 987.25, started_at: null, finished_at: null };
    expect(groupFigures(g)).toEqual([
      ['jobs', '3', false], ['running', '1', false], ['ok', '1', false], ['failed', '0', false], ['aborted', '1', true],
      ['rejected', '0', false], ['expired', '0', false], ['runs', '3', false], ['summed throughput (ops/s)', '2,222', false],
    ]);
    expect(groupFigures({ ...g, runs: 0, ops_rate: null }).at(-1)).toEqual(['summed throughput (ops/s)', '–', false]);
  });
  it('shows the merged latency of the corrected series only, none without histograms', () => {
    const rows = [
      { series: 'uncorrected', count: 900, p50_ms: 1, p99_ms: 2, p999_ms: 3 },
      { series: 'latency', count: 1000, p50_ms: 1.25, p99_ms: 12.5, p999_ms: null },
    ];
    expect(groupLatencyFigures(rows)).toEqual([
      ['p50 of the group (ms)', '1.25', false], ['p99 of the group (ms)', '12.5', false], ['p99.9 of the group (ms)', '–', false],
    ]);
    expect(groupLatencyFigures(rows.slice(0, 1))).toEqual([]);
    expect(groupLatencyFigures([])).toEqual([]);
  });
});
