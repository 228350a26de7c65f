// A stand-in for Hasura, for the browser tests only: there is no Hasura binary on this machine (REFERENCE §1),
// so this server answers POST /v1/graphql from generated fixtures, in Hasura's response shapes
// ({"data": {...}} / {"errors": [{"message", "extensions": {"path", "code"}}]}, timestamps as
// "2025-03-01T10:00:00.000000+00:00", bigint and float8 as JSON numbers). It evaluates the small part of
// Hasura's where/order_by/limit/offset the viewer uses, so filters and paging are exercised for real.
// Subscriptions: a websocket on the same /v1/graphql speaking the graphql-ws protocol (subprotocol
// "graphql-transport-ws": connection_init → connection_ack, subscribe → next… → complete, ping ↔ pong, close codes
// 4400/4401/4409/4429 as the protocol says), like Hasura: keep-alive pings (the first one even before the ack, as
// Hasura does, hasura/graphql-engine#9246), `<t>_stream` as a streaming subscription (rows with cursor column >
// initial value, batch_size at a time, cursor advanced to the last row sent; polled every 300 ms here, 1 s in Hasura)
// and any other root field as a live query (sent again only when the answer changes).
// It also serves the built app (dist/) with the config.json the build ships.
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join, normalize } from 'node:path';
import { parse, Kind } from 'graphql';
import { WebSocketServer } from 'ws';

export const IDS = {
  base: '11111111-1111-4111-8111-111111111111',
  tuned: '22222222-2222-4222-8222-222222222222',
  pg: '33333333-3333-4333-8333-333333333333',
  big: '44444444-4444-4444-8444-444444444444',
  live: '55555555-5555-4555-8555-555555555555',
};

const T0 = Date.parse('2025-03-01T10:00:00Z');
/** Hasura's timestamptz text. */
const ts = (ms) => new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');

function run(id, over) {
  return {
    run_id: id, kind: 'mqtt', name: null, tags: {}, parameters: {}, target_url: 'mqtt://broker:1883', target_host: 'broker',
    target_port: 1883, target_database: null, target_version: null, host_name: 'pi-1', host_os: 'Debian 12',
    host_kernel: '6.1.0', host_arch: 'arm64', host_cpu_model: 'Cortex-A76', host_cpu_cores: 4,
    host_memory_bytes: 8 * 2 ** 30, host_device_model: 'Raspberry Pi 5', tools: { mqttload: '0.1.0' },
    started_at: null, status: 'ok', error: null, finished_at: null, measure_start: null, measure_end: null,
    ops: null, ops_rate: null, bytes: null, errors: 0, lat_min_ms: null, lat_mean_ms: null, lat_p50_ms: null,
    lat_p90_ms: null, lat_p95_ms: null, lat_p99_ms: null, lat_p999_ms: null, lat_max_ms: null, mqtt_sent: null,
    mqtt_received: null, mqtt_lost: null, mqtt_duplicated: null, mqtt_out_of_order: null, mqtt_offered_rate: null,
    mqtt_uncorrected_p50_ms: null, mqtt_uncorrected_p99_ms: null, mqtt_uncorrected_max_ms: null, pg_tps: null,
    pg_stddev_ms: null, pg_failed: null, pg_retried: null, pg_retries: null, pg_lag_ms: null, pg_skipped: null,
    summary_extra: null, updated_at: ts(T0), ...over,
  };
}

/** n one-second samples starting at startMs; the first `warmup` are warm-up; rate and latency wobble. */
function samples(id, startMs, n, warmup, rate, p50) {
  const out = new Array(n);
  for (let i = 0; i < n; i++) {
    const w = Math.sin(i / 17) * 0.1 + Math.sin(i / 3.1) * 0.03;
    const q = p50 * (1 + w);
    out[i] = {
      run_id: id, seq: i + 1, interval_start: ts(startMs + i * 1000), interval_end: ts(startMs + (i + 1) * 1000),
      phase: i < warmup ? 'warmup' : 'measure', ops_rate: Math.round(rate * (1 + w) * (i < warmup ? i / warmup : 1)),
      errors: i % 97 === 0 ? 2 : 0, lat_p50_ms: q, lat_p90_ms: q * 1.6, lat_p95_ms: q * 2, lat_p99_ms: q * 3.1,
      lat_p999_ms: q * 5, lat_max_ms: q * 8 + (i % 50 === 0 ? 20 : 0), mqtt_lost: i % 131 === 0 ? 1 : 0,
    };
  }
  return out;
}

const at = (s) => T0 + s * 1000;
export const RUNS = [
  run(IDS.base, { name: 'baseline qos1', tags: { env: 'lab', qos: '1' }, parameters: { qos: 1, payload_bytes: 256, rate: 1000 },
    started_at: ts(at(0)), finished_at: ts(at(300)), measure_start: ts(at(30)), measure_end: ts(at(300)),
    ops: 270000, ops_rate: 1000, errors: 6, lat_mean_ms: 2.4, lat_p50_ms: 2, lat_p90_ms: 3.2, lat_p95_ms: 4, lat_p99_ms: 6.2,
    lat_p999_ms: 10, lat_max_ms: 16, mqtt_sent: 270000, mqtt_received: 269998, mqtt_lost: 2, mqtt_duplicated: 0 }),
  run(IDS.tuned, { name: 'tuned qos1', tags: { env: 'lab', qos: '1' }, parameters: { qos: 1, payload_bytes: 256, rate: 1200 },
    started_at: ts(at(3600)), finished_at: ts(at(3900)), measure_start: ts(at(3630)), measure_end: ts(at(3900)),
    ops: 324000, ops_rate: 1200, errors: 0, lat_mean_ms: 2, lat_p50_ms: 1.6, lat_p90_ms: 2.8, lat_p95_ms: 3.5, lat_p99_ms: 5,
    lat_p999_ms: 9, lat_max_ms: 12, mqtt_sent: 324000, mqtt_received: 324000, mqtt_lost: 0, mqtt_duplicated: 0 }),
  run(IDS.pg, { kind: 'pgbench', name: 'tpcb scale 10', host_name: 'nuc-2', host_device_model: 'Intel NUC', host_arch: 'amd64',
    host_cpu_model: 'i5-1135G7', tags: { env: 'prod' }, status: 'failed', error: 'connection to server lost after 120 s',
    started_at: ts(at(7200)), finished_at: ts(at(7320)), ops_rate: 850, lat_p99_ms: 40, pg_tps: 850, pg_failed: 12 }),
  run(IDS.big, { name: '100k samples', host_name: 'pi-2', started_at: ts(at(10000)), finished_at: ts(at(110000)),
    measure_start: ts(at(10060)), measure_end: ts(at(110000)), ops_rate: 5000, lat_p99_ms: 3.3, lat_p50_ms: 1 }),
  run(IDS.live, { name: 'live run', status: 'running', started_at: ts(Date.now() - 20_000) }),
];
const LIVE_RUN = RUNS.find((r) => r.run_id === IDS.live);
const LIVE_RUNNING = { ...LIVE_RUN };

const SAMPLES = new Map([
  [IDS.base, samples(IDS.base, at(0), 300, 30, 1000, 2)],
  [IDS.tuned, samples(IDS.tuned, at(3600), 300, 30, 1200, 1.6)],
  [IDS.pg, samples(IDS.pg, at(7200), 120, 10, 850, 12)],
  [IDS.big, samples(IDS.big, at(10000), 100_000, 60, 5000, 1)],
]);

/**
 * The live run: 20 samples at (re)start, then one more every sampleMs (500 ms by default, so a 2 s poll always
 * finds new ones) until it ends (after runMs, or when a test calls finishLive); then its row turns 'ok'.
 */
const live = { start: Date.now(), sampleMs: 500, endAt: Infinity };
function liveCount() {
  return 20 + Math.floor((Math.min(Date.now(), live.endAt) - live.start) / live.sampleMs);
}
/** Brings the live run's row up to date: 'running' until endAt, then 'ok' with its summary. */
function liveTick() {
  if (Date.now() < live.endAt || LIVE_RUN.status !== 'running') return;
  Object.assign(LIVE_RUN, { status: 'ok', finished_at: ts(live.endAt), measure_start: ts(live.start - 15_000),
    measure_end: ts(live.endAt), ops_rate: 800, lat_p50_ms: 3, lat_p99_ms: 9.3, ops: 800 * liveCount(), updated_at: ts(Date.now()) });
}
function liveSamples() {
  liveTick();
  return samples(IDS.live, live.start - 20_000, liveCount(), 5, 800, 3);
}

// A minimal Hasura bool_exp evaluator over the operators the viewer sends.
function matches(row, exp) {
  for (const [k, v] of Object.entries(exp ?? {})) {
    if (k === '_and') { if (!v.every((e) => matches(row, e))) return false; continue; }
    if (k === '_or') { if (!v.some((e) => matches(row, e))) return false; continue; }
    if (k === '_not') { if (matches(row, v)) return false; continue; }
    const x = row[k];
    for (const [op, want] of Object.entries(v)) {
      const cmp = (a, b) => (typeof a === 'string' && /^\d{4}-/.test(a) ? Date.parse(a) - Date.parse(b) : a - b);
      const ok = {
        _eq: () => x === want, _neq: () => x !== want, _in: () => want.includes(x), _nin: () => !want.includes(x),
        _gt: () => x != null && cmp(x, want) > 0, _gte: () => x != null && cmp(x, want) >= 0,
        _lt: () => x != null && cmp(x, want) < 0, _lte: () => x != null && cmp(x, want) <= 0,
        _is_null: () => (x == null) === want,
        _contains: () => Object.entries(want).every(([a, b]) => x?.[a] === b),
        _has_key: () => x != null && want in x,
      }[op];
      if (!ok) throw new Error(`fake Hasura: operator ${op} not implemented`);
      if (!ok()) return false;
    }
  }
  return true;
}

/** Resolves a GraphQL literal or variable to a JS value. */
function value(node, vars) {
  switch (node.kind) {
    case Kind.VARIABLE: return vars[node.name.value];
    case Kind.OBJECT: return Object.fromEntries(node.fields.map((f) => [f.name.value, value(f.value, vars)]));
    case Kind.LIST: return node.values.map((v) => value(v, vars));
    case Kind.INT: case Kind.FLOAT: return Number(node.value);
    case Kind.NULL: return null;
    default: return node.value; // String, Boolean, Enum
  }
}

function pick(row, set) {
  const out = {};
  for (const s of set.selections) out[s.alias?.value ?? s.name.value] = row[s.name.value] ?? null;
  return out;
}

function perftoolRows(view, vars) {
  const width = { perftool_30sec: 30, perftool_1min: 60, perftool_2min: 120, perftool_10min: 600 }[view] * 1000;
  const from = Math.ceil(Date.parse(vars.from) / width) * width;
  const to = Date.parse(vars.to);
  const rows = [];
  for (let t = from, i = 0; t <= to; t += width, i++) {
    if (i % 7 === 3) continue; // gaps: buckets without results
    const w = 1 + 0.2 * Math.sin(i / 5);
    rows.push({ timestamp: ts(t), reader_bytes_rate: 2.4e6 * w, writer_bytes_rate: 2.5e6 * w, reader_count_rate: 9400 * w,
      writer_count_rate: 9800 * w, reader_error_rate: i % 11 === 0 ? 3 : 0, writer_error_rate: 0, reader_error_count: 0,
      writer_error_count: 0, thread_count: 4, result_count: 8, publisher: vars.publisher });
  }
  return rows;
}

function table(root, args, vars) {
  const a = Object.fromEntries((args ?? []).map((x) => [x.name.value, value(x.value, vars)]));
  let rows;
  if (root === 'runs') rows = RUNS;
  else if (root === 'samples') {
    const id = a.where?.run_id?._eq;
    rows = id === IDS.live ? liveSamples() : SAMPLES.get(id) ?? [];
  } else if (root === 'perftool') rows = [{ publisher: 'edge-1' }, { publisher: 'edge-2' }];
  else throw new Error(`fake Hasura: no fixture for ${root}`);
  rows = rows.filter((r) => matches(r, a.where));
  if (a.distinct_on) {
    const seen = new Set();
    rows = [...rows].sort((x, y) => String(x[a.distinct_on]).localeCompare(String(y[a.distinct_on])))
      .filter((r) => !seen.has(r[a.distinct_on]) && seen.add(r[a.distinct_on]));
  }
  if (a.order_by && !a.distinct_on) {
    const keys = (Array.isArray(a.order_by) ? a.order_by : [a.order_by]).flatMap((o) => Object.entries(o));
    rows = [...rows].sort((x, y) => {
      for (const [k, dir] of keys) {
        const u = x[k], v = y[k];
        if (u === v) continue;
        if (u == null) return 1;
        if (v == null) return -1;
        const c = u < v ? -1 : 1;
        return dir.startsWith('desc') ? -c : c;
      }
      return 0;
    });
  }
  return { rows, offset: a.offset ?? 0, limit: a.limit ?? Infinity };
}

const cache = new Map();

/** Answers one GraphQL request body, as Hasura would for the anonymous role. */
export function answer(body) {
  liveTick();
  const doc = parse(body.query);
  const op = doc.definitions[0];
  const vars = body.variables ?? {};
  const data = {};
  for (const f of op.selectionSet.selections) {
    const key = f.alias?.value ?? f.name.value;
    const name = f.name.value;
    if (name.startsWith('perftool_')) {
      data[key] = perftoolRows(name, vars).map((r) => pick(r, f.selectionSet));
    } else if (name === 'runs_by_pk') {
      const id = value(f.arguments[0].value, vars);
      const r = RUNS.find((x) => x.run_id === id);
      data[key] = r ? pick(r, f.selectionSet) : null;
    } else if (name.endsWith('_aggregate')) {
      const { rows } = table(name.replace(/_aggregate$/, ''), f.arguments, vars);
      data[key] = { aggregate: { count: rows.length } };
    } else {
      const { rows, offset, limit } = table(name, f.arguments, vars);
      data[key] = rows.slice(offset, offset + limit).map((r) => pick(r, f.selectionSet));
    }
  }
  return { data };
}

const SUBPROTOCOL = 'graphql-transport-ws';

/** Hasura's answer to a field the role can't see, as a graphql-ws error message payload. */
const notFound = (field) => [{ message: `field '${field}' not found in type: 'subscription_root'`,
  extensions: { path: `$.selectionSet.${field}`, code: 'validation-failed' } }];

/**
 * One graphql-ws connection. mode(): 'ok', or 'graphql-error' (subscribe to a _stream field is refused, as when the
 * role's subscription_root_fields leave out select_stream). Everything seen is recorded in conn for the tests.
 */
function serveGraphqlWs(ws, req, conn, mode) {
  const ops = new Map(); // id -> stop()
  const send = (m) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m)); };
  send({ type: 'ping', payload: { message: 'keepalive' } });
  const keepAlive = setInterval(() => send({ type: 'ping', payload: { message: 'keepalive' } }), 1000);

  const subscribe = (id, payload) => {
    conn.subscriptions.push({ id, ...payload });
    let op;
    try {
      op = parse(payload.query).definitions[0];
    } catch (err) {
      return send({ id, type: 'error', payload: [{ message: String(err.message), extensions: { path: '$.query', code: 'validation-failed' } }] });
    }
    if (op.operation !== 'subscription' || op.selectionSet.selections.length !== 1) {
      return send({ id, type: 'error', payload: [{ message: 'subscriptions must select one top level field', extensions: { path: '$', code: 'validation-failed' } }] });
    }
    const f = op.selectionSet.selections[0];
    const name = f.name.value;
    const key = f.alias?.value ?? name;
    const vars = payload.variables ?? {};
    let tick;
    if (name.endsWith('_stream')) {
      if (mode() === 'graphql-error') return send({ id, type: 'error', payload: notFound(name) });
      const a = Object.fromEntries((f.arguments ?? []).map((x) => [x.name.value, value(x.value, vars)]));
      const cursorArg = Array.isArray(a.cursor) ? a.cursor[0] : a.cursor;
      const [col, initial] = Object.entries(cursorArg.initial_value)[0];
      const desc = cursorArg.ordering === 'DESC';
      let cursor = initial;
      tick = () => {
        const { rows } = table(name.replace(/_stream$/, ''), f.arguments.filter((x) => x.name.value === 'where'), vars);
        const batch = rows.filter((r) => (desc ? r[col] < cursor : r[col] > cursor))
          .sort((x, y) => (desc ? y[col] - x[col] : x[col] - y[col])).slice(0, a.batch_size);
        if (!batch.length) return;
        cursor = batch[batch.length - 1][col];
        send({ id, type: 'next', payload: { data: { [key]: batch.map((r) => pick(r, f.selectionSet)) } } });
      };
    } else {
      // A live query: the whole answer, sent when it differs from the last one sent.
      let last = null;
      tick = () => {
        const out = JSON.stringify(answer(payload));
        if (out !== last) send({ id, type: 'next', payload: JSON.parse((last = out)) });
      };
    }
    tick();
    const timer = setInterval(tick, 300);
    ops.set(id, () => clearInterval(timer));
  };

  ws.on('message', (data) => {
    let m;
    try {
      m = JSON.parse(String(data));
    } catch {
      return ws.close(4400, 'Invalid message received');
    }
    conn.messages.push(m);
    switch (m.type) {
      case 'connection_init':
        if (conn.init !== undefined) return ws.close(4429, 'Too many initialisation requests');
        conn.init = m.payload ?? null;
        return send({ type: 'connection_ack' });
      case 'ping':
        return send(m.payload ? { type: 'pong', payload: m.payload } : { type: 'pong' });
      case 'pong':
        return undefined;
      case 'subscribe':
        if (conn.init === undefined) return ws.close(4401, 'Unauthorized');
        if (ops.has(m.id)) return ws.close(4409, `Subscriber for ${m.id} already exists`);
        return subscribe(m.id, m.payload);
      case 'complete':
        conn.completed.push(m.id);
        ops.get(m.id)?.();
        ops.delete(m.id);
        return undefined;
      default:
        return ws.close(4400, `Invalid message type ${m.type}`);
    }
  });
  ws.on('close', (code) => {
    conn.open = false;
    conn.closeCode = code;
    clearInterval(keepAlive);
    for (const stop of ops.values()) stop();
    ops.clear();
  });
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json', '.map': 'application/json' };

/**
 * Starts the server on a free port. mode: 'ok' | 'down' (HTTP 503 like a proxy before a stopped Hasura) |
 * 'refuse' (connection dropped) | 'graphql-error' (a Hasura validation error). wsMode, for the websocket: 'ok' |
 * 'refuse' (the upgrade is answered 400, like a proxy without websocket support) | 'graphql-error' (connects, but
 * _stream subscriptions are refused). Returns { url, setMode, setWsMode, resetLive, finishLive, liveCount, close,
 * requests, upgrades, wsConnections }.
 */
export async function startServer(distDir) {
  let mode = 'ok';
  let wsMode = 'ok';
  const requests = [];
  const upgrades = [];
  const wsConnections = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/v1/graphql') {
      let text = '';
      for await (const chunk of req) text += chunk;
      requests.push({ headers: req.headers, body: text });
      if (mode === 'refuse') return req.socket.destroy();
      if (mode === 'down') {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        return res.end('upstream unavailable');
      }
      res.setHeader('Content-Type', 'application/json');
      if (mode === 'graphql-error') {
        return res.end(JSON.stringify({ errors: [{ message: "field 'runs' not found in type: 'query_root'", extensions: { path: '$.selectionSet.runs', code: 'validation-failed' } }] }));
      }
      try {
        const body = JSON.parse(text);
        // The 100k-sample answer is ~25 MB of JSON; build it once.
        const key = text.length < 400 && body.variables?.id === IDS.big ? text : null;
        if (key && cache.has(key)) return res.end(cache.get(key));
        const out = JSON.stringify(answer(body));
        if (key) cache.set(key, out);
        return res.end(out);
      } catch (err) {
        return res.end(JSON.stringify({ errors: [{ message: String(err.message), extensions: { path: '$', code: 'unexpected' } }] }));
      }
    }
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    try {
      const file = join(distDir, path === '/' ? 'index.html' : path);
      const data = await readFile(file);
      res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' });
      res.end(data);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url, headers: req.headers });
    if (new URL(req.url, 'http://x').pathname !== '/v1/graphql' || wsMode === 'refuse') {
      const body = 'websocket upgrade refused\n';
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = { headers: req.headers, protocol: ws.protocol, init: undefined, messages: [], subscriptions: [], completed: [], open: true, closeCode: null };
      wsConnections.push(conn);
      if (ws.protocol !== SUBPROTOCOL) return ws.close(4406, 'Subprotocol not acceptable');
      const connMode = wsMode;
      serveGraphqlWs(ws, req, conn, () => connMode);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    upgrades,
    wsConnections,
    setMode: (m) => { mode = m; },
    setWsMode: (m) => { wsMode = m; },
    /** Restarts the live run: 'running', 20 samples, one more every sampleMs, 'ok' after runMs (default: never). */
    resetLive: ({ sampleMs = 500, runMs = Infinity } = {}) => {
      Object.assign(LIVE_RUN, LIVE_RUNNING, { started_at: ts(Date.now() - 20_000) });
      Object.assign(live, { start: Date.now(), sampleMs, endAt: Date.now() + runMs });
    },
    /** Ends the live run now: no more samples, its row turns 'ok'. */
    finishLive: () => { live.endAt = Math.min(live.endAt, Date.now()); liveTick(); },
    liveCount,
    close: () => new Promise((r) => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      server.close(r);
    }),
  };
}
