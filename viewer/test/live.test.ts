// Live updates without a browser: the websocket URL, error wording, and liveRun's rules (when it is live, what it
// delivers, when it gives up and hands over to polling) against a fake graphql-ws client.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CONNECT_TIMEOUT_MS, describeWsError, liveRun, SILENCE_TIMEOUT_MS, wsUrl, type WsClient } from '../src/live';
import { RUN_LIVE_SUBSCRIPTION, RUN_SAMPLES_STREAM, SAMPLES_STREAM_BATCH } from '../src/queries';
import type { SampleRow } from '../src/shape';

describe('wsUrl', () => {
  it('swaps http for ws and https for wss, keeping host, port, path and query', () => {
    expect(wsUrl('http://127.0.0.1:8080/v1/graphql', 'http://x/')).toBe('ws://127.0.0.1:8080/v1/graphql');
    expect(wsUrl('https://bench.example.org/hasura/v1/graphql?x=1', 'http://x/')).toBe('wss://bench.example.org/hasura/v1/graphql?x=1');
    expect(wsUrl('HTTPS://Bench.Example.org/v1/graphql', 'http://x/')).toBe('wss://bench.example.org/v1/graphql');
  });

  it('resolves relative URLs against the page, taking its scheme', () => {
    expect(wsUrl('/v1/graphql', 'https://viewer.lab/app/index.html#/run/abc')).toBe('wss://viewer.lab/v1/graphql');
    expect(wsUrl('/v1/graphql', 'http://10.0.0.5:8080/')).toBe('ws://10.0.0.5:8080/v1/graphql');
    expect(wsUrl('v1/graphql', 'http://h:8080/sub/dir/index.html')).toBe('ws://h:8080/sub/dir/v1/graphql');
    expect(wsUrl('//other.host/v1/graphql', 'https://viewer.lab/')).toBe('wss://other.host/v1/graphql');
  });

  it('drops a fragment, passes ws/wss through, refuses other schemes', () => {
    expect(wsUrl('http://h/v1/graphql#frag', 'http://x/')).toBe('ws://h/v1/graphql');
    expect(wsUrl('wss://h/v1/graphql', 'http://x/')).toBe('wss://h/v1/graphql');
    expect(() => wsUrl('ftp://h/v1/graphql', 'http://x/')).toThrow(/no websocket URL for ftp:/);
    expect(() => wsUrl('file:///v1/graphql', 'http://x/')).toThrow(/file:/);
  });
});

describe('describeWsError', () => {
  it('words close events, refused subscriptions and errors', () => {
    expect(describeWsError({ code: 1006, reason: '', wasClean: false })).toMatch(/closed abnormally.*code 1006$/);
    expect(describeWsError({ code: 4400, reason: 'Bad request' })).toBe('websocket closed, code 4400: Bad request');
    expect(describeWsError([{ message: "field 'samples_stream' not found in type: 'subscription_root'" }]))
      .toBe("the server refused the subscription: field 'samples_stream' not found in type: 'subscription_root'");
    expect(describeWsError(new Error('boom'))).toBe('boom');
    expect(describeWsError({ type: 'error' })).toMatch(/^websocket failed \(upgrade refused/);
    expect(describeWsError({ type: 'close' })).toBe('websocket close');
  });
});

/** A stand-in for graphql-ws's client: records subscriptions, lets the test play the server. */
function fakeClient() {
  type Sink = { next(v: unknown): void; error(e: unknown): void; complete(): void };
  const listeners = new Map<string, Set<(...a: unknown[]) => void>>();
  const subs: { payload: { query: string; variables?: Record<string, unknown>; operationName?: string }; sink: Sink; released: boolean }[] = [];
  const state = { terminated: false, disposed: false };
  const client = {
    on(ev: string, l: (...a: unknown[]) => void) {
      if (!listeners.has(ev)) listeners.set(ev, new Set());
      listeners.get(ev)!.add(l);
      return () => listeners.get(ev)!.delete(l);
    },
    subscribe(payload: (typeof subs)[number]['payload'], sink: Sink) {
      const s = { payload, sink, released: false };
      subs.push(s);
      // Like graphql-ws: releasing a subscription completes its sink.
      return () => {
        if (s.released) return;
        s.released = true;
        sink.complete();
      };
    },
    dispose() {
      state.disposed = true;
      return Promise.resolve();
    },
    terminate() {
      state.terminated = true;
    },
  };
  const emit = (ev: string, ...a: unknown[]) => listeners.get(ev)?.forEach((l) => l(...a));
  const byName = (n: string) => subs.find((s) => s.payload.operationName === n)!;
  return { client: client as unknown as WsClient, subs, state, emit, byName, listeners };
}

const T0 = Date.parse('2025-03-01T10:00:00Z');
const row = (seq: number): SampleRow => ({
  seq, interval_start: new Date(T0 + seq * 1000).toISOString(), interval_end: new Date(T0 + seq * 1000 + 1000).toISOString(),
  phase: 'measure', ops_rate: 100, errors: 0, lat_p50_ms: 1, lat_p90_ms: 2, lat_p95_ms: 3, lat_p99_ms: 4, lat_p999_ms: 5,
  lat_max_ms: 6, mqtt_lost: 0,
});

function start(afterSeq = 20) {
  const f = fakeClient();
  const got = { samples: [] as number[][], runs: [] as string[], live: 0, fallback: [] as string[] };
  const live = liveRun<{ status: string }>({
    client: f.client,
    id: 'run-1',
    afterSeq,
    onSamples: (rows) => got.samples.push(rows.map((r) => r.seq)),
    onRun: (r) => got.runs.push(r.status),
    onLive: () => got.live++,
    onFallback: (why) => got.fallback.push(why),
  });
  return { f, got, live };
}

describe('liveRun', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('subscribes to the sample stream after afterSeq and to the run row, with variables only', () => {
    const { f } = start(41);
    expect(f.subs).toHaveLength(2);
    const stream = f.byName('RunSamplesStream');
    expect(stream.payload.query).toBe(RUN_SAMPLES_STREAM);
    expect(stream.payload.variables).toEqual({ id: 'run-1', afterSeq: 41, batch: SAMPLES_STREAM_BATCH });
    const runSub = f.byName('RunLive');
    expect(runSub.payload.query).toBe(RUN_LIVE_SUBSCRIPTION);
    expect(runSub.payload.variables).toEqual({ id: 'run-1' });
  });

  it('is live once connected, delivers new samples once each in seq order, and the run row', () => {
    const { f, got, live } = start(20);
    expect(got.live).toBe(0);
    f.emit('connected');
    expect(got.live).toBe(1);
    const stream = f.byName('RunSamplesStream');
    stream.sink.next({ data: { samples_stream: [row(21), row(22)] } });
    stream.sink.next({ data: { samples_stream: [] } });
    stream.sink.next({ data: { samples_stream: [row(22), row(23)] } }); // an overlap is dropped
    f.byName('RunLive').sink.next({ data: { runs_by_pk: { status: 'running' } } });
    f.byName('RunLive').sink.next({ data: { runs_by_pk: null } }); // gone (or not visible): ignored
    expect(got.samples).toEqual([[21, 22], [23]]);
    expect(live.lastSeq()).toBe(23);
    expect(got.runs).toEqual(['running']);
    expect(got.fallback).toEqual([]);
  });

  it('falls back once when the websocket fails before connecting (refused upgrade), and closes the client', () => {
    const { f, got } = start();
    // graphql-ws errors every sink with the close event.
    f.byName('RunSamplesStream').sink.error({ code: 1006, reason: '' });
    f.byName('RunLive').sink.error({ code: 1006, reason: '' });
    expect(got.fallback).toHaveLength(1);
    expect(got.fallback[0]).toMatch(/code 1006/);
    expect(f.state.terminated).toBe(true);
    expect(f.state.disposed).toBe(true);
    expect(f.subs.every((s) => s.released)).toBe(true);
    f.emit('connected');
    expect(got.live).toBe(0);
  });

  it('falls back when the server refuses a subscription or answers with errors', () => {
    let t = start();
    t.f.emit('connected');
    t.f.byName('RunSamplesStream').sink.error([{ message: "field 'samples_stream' not found in type: 'subscription_root'" }]);
    expect(t.got.fallback).toEqual(["the server refused the subscription: field 'samples_stream' not found in type: 'subscription_root'"]);

    t = start();
    t.f.emit('connected');
    t.f.byName('RunLive').sink.next({ data: null, errors: [{ message: 'permission denied' }] });
    expect(t.got.fallback).toEqual(['the server refused the subscription: permission denied']);
    expect(t.got.runs).toEqual([]);
  });

  it('falls back when the server ends a subscription it should keep open', () => {
    const { f, got } = start();
    f.emit('connected');
    f.byName('RunSamplesStream').sink.complete();
    expect(got.fallback).toEqual(['the server ended the samples subscription']);
  });

  it('falls back when not connected in time', () => {
    const { f, got } = start();
    vi.advanceTimersByTime(CONNECT_TIMEOUT_MS - 1);
    expect(got.fallback).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(got.fallback).toEqual([`websocket not connected within ${CONNECT_TIMEOUT_MS / 1000} s`]);
    expect(f.state.terminated).toBe(true);
  });

  it('falls back when a connected socket goes silent; any message (keep-alive pings too) keeps it', () => {
    const { f, got } = start();
    f.emit('connected');
    vi.advanceTimersByTime(CONNECT_TIMEOUT_MS * 2); // the connect timer no longer applies
    expect(got.fallback).toEqual([]);
    f.emit('message', { type: 'ping' });
    for (let i = 0; i < 5; i++) {
      vi.advanceTimersByTime(SILENCE_TIMEOUT_MS - 1000);
      f.emit('message', { type: 'ping' });
    }
    expect(got.fallback).toEqual([]);
    vi.advanceTimersByTime(SILENCE_TIMEOUT_MS);
    expect(got.fallback).toEqual([`no message from the server for ${SILENCE_TIMEOUT_MS / 1000} s`]);
  });

  it('stop() ends both subscriptions and closes the socket without falling back', () => {
    const { f, got, live } = start();
    f.emit('connected');
    live.stop();
    expect(f.subs.every((s) => s.released)).toBe(true); // graphql-ws sends "complete" for each
    expect(f.state.disposed).toBe(true);
    expect(f.state.terminated).toBe(false);
    f.byName('RunSamplesStream').sink.next({ data: { samples_stream: [row(30)] } });
    vi.advanceTimersByTime(SILENCE_TIMEOUT_MS * 2);
    live.stop();
    expect(got.fallback).toEqual([]);
    expect(got.samples).toEqual([]);
    expect([...f.listeners.values()].every((s) => s.size === 0)).toBe(true);
  });
});
