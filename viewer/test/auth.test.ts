// Operator sign-in (src/auth.ts): the token kept in sessionStorage only, sent as `Authorization: Bearer …` on every
// HTTP request and in the websocket's connection_init payload (a real ws server records it); anonymous sends none.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket as NodeWebSocket, WebSocketServer } from 'ws';
import { authHeaders, operatorSession, TOKEN_KEY } from '../src/auth';
import { newClient, ViewerError } from '../src/graphql';
import { newWsClient } from '../src/live';

const HERE = dirname(fileURLToPath(import.meta.url));

/** A Web Storage over a Map, recording every call. */
function memoryStorage() {
  const m = new Map<string, string>();
  const calls: string[] = [];
  return {
    m, calls,
    getItem: (k: string) => { calls.push(`get ${k}`); return m.get(k) ?? null; },
    setItem: (k: string, v: string) => { calls.push(`set ${k}`); m.set(k, v); },
    removeItem: (k: string) => { calls.push(`remove ${k}`); m.delete(k); },
  };
}

describe('operatorSession', () => {
  const g = globalThis as Record<string, unknown>;
  afterEach(() => {
    delete g.sessionStorage;
    delete g.localStorage;
  });

  it('keeps the token in sessionStorage and nowhere else (not localStorage)', () => {
    const session = memoryStorage();
    const local = memoryStorage();
    g.sessionStorage = session;
    g.localStorage = local;
    const s = operatorSession();
    let changes = 0;
    s.onChange(() => changes++);
    expect(s.token()).toBeNull();
    s.signIn('  s3cret-token\n');
    expect(s.token()).toBe('s3cret-token');
    expect([...session.m]).toEqual([[TOKEN_KEY, 's3cret-token']]);
    expect(local.calls).toEqual([]);
    s.signOut();
    expect(s.token()).toBeNull();
    expect(session.m.size).toBe(0);
    expect(changes).toBe(2);
    expect(local.calls).toEqual([]);
  });

  it('refuses a blank token or one with spaces, and signs nobody in without storage', () => {
    const st = memoryStorage();
    const s = operatorSession(st);
    expect(() => s.signIn('   ')).toThrow('Enter the operator token.');
    expect(() => s.signIn('two words')).toThrow(/no spaces/);
    expect(st.m.size).toBe(0);
    expect(() => operatorSession(null).signIn('t')).toThrow(/refuses session storage/);
    expect(operatorSession(null).token()).toBeNull();
  });

  it('the app never touches localStorage', () => {
    const files: string[] = [];
    const walk = (d: string) => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : files.push(join(d, f))));
    walk(resolve(HERE, '../src'));
    for (const f of files) {
      const text = readFileSync(f, 'utf8');
      expect(text, f).not.toMatch(/localStorage/);
    }
  });
});

describe('the token on the wire', () => {
  it('HTTP: Authorization: Bearer <token> while signed in, no Authorization header while anonymous', async () => {
    const seen: Record<string, string>[] = [];
    const fetchFn = (async (_url: string, init: RequestInit) => {
      seen.push(init.headers as Record<string, string>);
      return new Response(JSON.stringify({ data: { ok: true } }), { status: 200 });
    }) as unknown as typeof fetch;
    const st = memoryStorage();
    const s = operatorSession(st);
    const c = newClient('http://h/v1/graphql', fetchFn, () => authHeaders(s.token()));
    await c.request('query A { a }');
    s.signIn('tok-1');
    await c.request('query B { b }');
    s.signOut();
    await c.request('query C { c }');
    expect(seen.map((hd) => hd.Authorization ?? null)).toEqual([null, 'Bearer tok-1', null]);
    expect(Object.keys(seen[0]).sort()).toEqual(['Accept', 'Content-Type']);
  });

  it('an action\'s refusal keeps the server\'s own message for a one-line error', async () => {
    const fetchFn = (async () => new Response(JSON.stringify({
      errors: [{ message: 'no agent matches tags {"site":"mars"}', extensions: { path: '$', code: 'unexpected' } }],
    }), { status: 200 })) as unknown as typeof fetch;
    const err = await newClient('http://h/v1/graphql', fetchFn).request('mutation M { m }').catch((e) => e);
    expect(err).toBeInstanceOf(ViewerError);
    expect((err as ViewerError).reasons).toEqual(['no agent matches tags {"site":"mars"}']);
    expect((err as ViewerError).message).toBe('The GraphQL endpoint refused the query: no agent matches tags {"site":"mars"} (at $)');
  });

  it('websocket: connection_init carries {headers: {Authorization}} signed in, and no payload anonymous', async () => {
    const inits: unknown[] = [];
    const wss = new WebSocketServer({ port: 0, handleProtocols: () => 'graphql-transport-ws' });
    wss.on('connection', (ws) => ws.on('message', (data) => {
      const m = JSON.parse(String(data));
      if (m.type === 'connection_init') {
        inits.push('payload' in m ? m.payload : 'no payload');
        ws.send(JSON.stringify({ type: 'connection_ack' }));
      }
    }));
    await new Promise<void>((r) => wss.once('listening', r));
    const url = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/v1/graphql`;
    const g = globalThis as Record<string, unknown>;
    const had = g.WebSocket;
    g.WebSocket = NodeWebSocket; // graphql-ws uses the global WebSocket, as in the browser
    try {
      for (const headers of [authHeaders('tok-2'), authHeaders(null)]) {
        const c = newWsClient(url, headers);
        await new Promise<void>((res) => c.on('connected', () => res()) && c.subscribe({ query: 'subscription S { s }' }, { next() {}, error() {}, complete() {} }));
        await c.dispose();
      }
    } finally {
      g.WebSocket = had;
      await new Promise<void>((r) => wss.close(r));
    }
    expect(inits).toEqual([{ headers: { Authorization: 'Bearer tok-2' } }, 'no payload']);
  });
});
