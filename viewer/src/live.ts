// Live updates of a running run over Hasura subscriptions, on the graphql-ws protocol (subprotocol
// "graphql-transport-ws", which Hasura v2 speaks beside the older subscriptions-transport-ws): a streaming
// subscription on the run's samples (RUN_SAMPLES_STREAM) and a live query on the run row (RUN_LIVE_SUBSCRIPTION)
// that tells the page when the run has finished; the agents and group pages' live queries (liveSubscriptions) follow
// the same rules. Like the HTTP client, anonymous unless an operator signed in: connection_init then carries the
// operator's Authorization header in its payload (payload.headers, as Hasura reads it), else no payload at all.
//
// The websocket is given one chance: if it does not connect, the server refuses a subscription, or the socket drops
// later (a proxy without websocket upgrade, Hasura restarting, a laptop waking up), liveRun calls onFallback once and
// the page polls over HTTP instead. Nothing here retries; polling is the retry.
import { createClient, type Client as GraphQLWsClient } from 'graphql-ws';
import { RUN_LIVE_SUBSCRIPTION, RUN_SAMPLES_STREAM, SAMPLES_STREAM_BATCH } from './queries';
import { rowsAfter, type SampleRow } from './shape';

/** Give up on the websocket when it has not acknowledged the connection within this long. */
export const CONNECT_TIMEOUT_MS = 5000;
/** Hasura sends a keep-alive every 5 s (HASURA_GRAPHQL_WEBSOCKET_KEEPALIVE): silence this long means a dead socket. */
export const SILENCE_TIMEOUT_MS = 30_000;
/** Client pings, so that a quiet connection still carries traffic through proxies and idle timeouts. */
export const KEEPALIVE_MS = 10_000;

/**
 * The websocket URL of a GraphQL HTTP endpoint: http → ws, https → wss, on the same host, path and query.
 * Relative URLs (config.json's "/v1/graphql") resolve against base, the page's URL.
 */
export function wsUrl(graphqlUrl: string, base: string): string {
  const u = new URL(graphqlUrl, base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  else if (u.protocol === 'https:') u.protocol = 'wss:';
  else if (u.protocol !== 'ws:' && u.protocol !== 'wss:') throw new Error(`no websocket URL for ${u.protocol} endpoint ${graphqlUrl}`);
  u.hash = '';
  return u.toString();
}

/**
 * What failed, in a few words, from whatever graphql-ws hands to a sink's error: a CloseEvent (or graphql-ws's
 * close-event-like objects), a list of GraphQL errors (the server refused the subscription), or an Error.
 */
export function describeWsError(err: unknown): string {
  if (Array.isArray(err)) {
    const msgs = err.map((e) => (e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e)));
    return `the server refused the subscription: ${msgs.join('; ') || 'no reason given'}`;
  }
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const { code, reason } = err as { code: number; reason?: string };
    // 1006: the browser's only word for "never connected" (refused upgrade, no route, TLS failure) or "dropped".
    const what = code === 1006 ? 'websocket closed abnormally (no upgrade, or connection lost)' : 'websocket closed';
    return `${what}, code ${code}${reason ? `: ${reason}` : ''}`;
  }
  if (err instanceof Error) return err.message;
  // A DOM 'error' Event: browsers tell scripts nothing more (the close that follows carries code 1006).
  if (err && typeof err === 'object' && 'type' in err && (err as { type: unknown }).type === 'error') {
    return 'websocket failed (upgrade refused, server unreachable, or connection lost)';
  }
  if (err && typeof err === 'object' && 'type' in err) return `websocket ${(err as { type: unknown }).type}`;
  return String(err);
}

/** The part of a graphql-ws client liveRun uses (a fake stands in for it in unit tests). */
export type WsClient = Pick<GraphQLWsClient, 'subscribe' | 'on' | 'dispose' | 'terminate'>;

/**
 * A graphql-ws client for url that tries once: no retries, since the caller falls back to polling. headers (the
 * signed-in operator's Authorization, auth.ts) go in connection_init's payload, where Hasura reads a websocket's
 * headers; without any, connection_init has no payload: anonymous.
 */
export function newWsClient(url: string, headers: Record<string, string> = {}): WsClient {
  return createClient({
    url,
    connectionParams: Object.keys(headers).length ? { headers } : undefined,
    lazy: true,
    retryAttempts: 0,
    shouldRetry: () => false,
    keepAlive: KEEPALIVE_MS,
    connectionAckWaitTimeout: CONNECT_TIMEOUT_MS,
  });
}

/** A subscription liveSubscriptions keeps: its document, name, variables, and what to do with each result's data. */
export interface LiveSubscription<T = any> {
  query: string;
  operationName: string;
  variables: Record<string, unknown>;
  /** In a few words, for the fallback reason ("the server ended the <what> subscription"). */
  what: string;
  next(data: T): void;
}

/** The rules every live view shares: when it is live, when it gives up and hands over to polling. */
export interface LiveRules {
  client: WsClient;
  /** The websocket is connected and the subscriptions are running. */
  onLive(): void;
  /** The websocket can't be used (reason says why); the client is already closed. Called at most once. */
  onFallback(reason: string): void;
  connectTimeoutMs?: number;
  silenceTimeoutMs?: number;
}

type Result<T> = { data?: T | null; errors?: readonly { message: string }[] };

/**
 * Runs subscriptions on one websocket until stop(): any refusal, error, unasked-for end, a connection not
 * acknowledged in time or a connected socket silent too long closes the client and calls onFallback once.
 */
export function liveSubscriptions(o: LiveRules, subscriptions: readonly LiveSubscription[]): { stop(): void } {
  let stopped = false;
  let connected = false;
  const offs: (() => void)[] = [];
  let silence: ReturnType<typeof setTimeout> | undefined;

  const cleanup = (terminate: boolean) => {
    stopped = true;
    clearTimeout(connectTimer);
    clearTimeout(silence);
    for (const off of offs.splice(0)) off();
    if (terminate) o.client.terminate();
    // dispose waits for a connection still being opened; its rejection (that attempt failing) is of no interest.
    void Promise.resolve(o.client.dispose()).catch(() => undefined);
  };
  const fail = (reason: string) => {
    if (stopped) return;
    cleanup(true);
    o.onFallback(reason);
  };
  const heard = () => {
    clearTimeout(silence);
    silence = setTimeout(() => fail(`no message from the server for ${Math.round(silenceMs / 1000)} s`), silenceMs);
  };
  const silenceMs = o.silenceTimeoutMs ?? SILENCE_TIMEOUT_MS;
  const connectMs = o.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const connectTimer = setTimeout(() => fail(`websocket not connected within ${Math.round(connectMs / 1000)} s`), connectMs);

  offs.push(
    o.client.on('connected', () => {
      if (stopped) return;
      connected = true;
      clearTimeout(connectTimer);
      heard();
      o.onLive();
    }),
    o.client.on('message', () => {
      if (connected && !stopped) heard();
    }),
  );

  for (const s of subscriptions) {
    offs.push(o.client.subscribe(
      { query: s.query, operationName: s.operationName, variables: s.variables },
      {
        next(r: Result<unknown>) {
          if (stopped) return;
          if (r.errors?.length) return fail(describeWsError(r.errors));
          if (r.data) s.next(r.data);
        },
        error(err: unknown) {
          fail(describeWsError(err));
        },
        complete() {
          // Hasura never ends a subscription on its own; an end we did not ask for means the stream is gone.
          fail(`the server ended the ${s.what} subscription`);
        },
      },
    ));
  }

  return {
    stop() {
      if (!stopped) cleanup(false);
    },
  };
}

export interface LiveOptions<Run> extends LiveRules {
  id: string;
  /** The last seq the page already has; the stream starts after it. */
  afterSeq: number;
  /** New samples, in seq order, each seq once and after every seq delivered before. */
  onSamples(rows: SampleRow[]): void;
  /** The run row, first when the subscription starts, then whenever it changes. */
  onRun(run: Run): void;
}

export interface Live {
  /** Ends both subscriptions and closes the socket; no callback runs after it. */
  stop(): void;
  /** The last seq delivered (or afterSeq). */
  lastSeq(): number;
}

/** Subscribes to a run's new samples and to its row; see the file comment for the fallback rules. */
export function liveRun<Run>(o: LiveOptions<Run>): Live {
  let lastSeq = o.afterSeq;
  const subs = liveSubscriptions(o, [
    {
      query: RUN_SAMPLES_STREAM, operationName: 'RunSamplesStream', what: 'samples',
      variables: { id: o.id, afterSeq: o.afterSeq, batch: SAMPLES_STREAM_BATCH },
      next: (d: { samples_stream: SampleRow[] }) => {
        const fresh = rowsAfter(d.samples_stream ?? [], lastSeq);
        if (!fresh.length) return;
        lastSeq = fresh[fresh.length - 1].seq;
        o.onSamples(fresh);
      },
    },
    {
      query: RUN_LIVE_SUBSCRIPTION, operationName: 'RunLive', what: 'run', variables: { id: o.id },
      next: (d: { runs_by_pk: Run | null }) => {
        if (d.runs_by_pk) o.onRun(d.runs_by_pk);
      },
    },
  ]);
  return { stop: subs.stop, lastSeq: () => lastSeq };
}
