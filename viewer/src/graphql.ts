// GraphQL over HTTP to Hasura. No admin secret and no role header are ever sent: a request is anonymous, unless an
// operator signed in (auth.ts), when it carries `Authorization: Bearer <token>` and Hasura's auth webhook (`sink
// api`) gives it the operator role.

/** ViewerError carries a message written for the person looking at the page: what failed and what to check. */
export class ViewerError extends Error {
  /**
   * reasons: the server's own messages, for a 'graphql' error (e.g. a launchJobs action's "no agent matches …"), so a
   * form can show just those in one line.
   */
  constructor(message: string, readonly kind: 'network' | 'http' | 'graphql' | 'config' | 'notfound', readonly reasons: string[] = []) {
    super(message);
    this.name = 'ViewerError';
  }
}

interface GraphQLResponse<T> {
  data?: T | null;
  errors?: { message: string; extensions?: { path?: string; code?: string } }[];
}

export interface Client {
  url: string;
  /** The headers every request carries (the operator's Authorization when signed in), for the websocket too. */
  headers(): Record<string, string>;
  request<T>(query: string, variables?: Record<string, unknown>, signal?: AbortSignal): Promise<T>;
}

/** A client for url; headers is asked before every request (auth.ts: the signed-in operator's Authorization). */
export function newClient(url: string, fetchFn: typeof fetch = fetch.bind(globalThis), headers: () => Record<string, string> = () => ({})): Client {
  return {
    url,
    headers,
    async request<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
      let res: Response;
      try {
        res = await fetchFn(url, {
          method: 'POST',
          headers: { ...headers(), 'Content-Type': 'application/json', Accept: 'application/json' },
          body: JSON.stringify({ query, variables }),
          signal,
        });
      } catch (err) {
        if ((err as Error).name === 'AbortError') throw err;
        throw new ViewerError(
          `Cannot reach the GraphQL endpoint ${url} (${(err as Error).message}). Check that Hasura is running and that config.json's graphqlUrl points to it.`,
          'network',
        );
      }
      let body: GraphQLResponse<T> | undefined;
      try {
        body = (await res.json()) as GraphQLResponse<T>;
      } catch {
        body = undefined;
      }
      if (body?.errors?.length) {
        const msgs = body.errors.map((e) => (e.extensions?.path ? `${e.message} (at ${e.extensions.path})` : e.message));
        throw new ViewerError(`The GraphQL endpoint refused the query: ${msgs.join('; ')}`, 'graphql', body.errors.map((e) => e.message));
      }
      if (!res.ok) {
        throw new ViewerError(
          `The GraphQL endpoint ${url} answered HTTP ${res.status} ${res.statusText}. Hasura may be starting or down; try again shortly.`,
          'http',
        );
      }
      if (!body || body.data == null) {
        throw new ViewerError(`The GraphQL endpoint ${url} sent no data. Is graphqlUrl in config.json a Hasura endpoint?`, 'http');
      }
      return body.data;
    },
  };
}

export interface ViewerConfig {
  graphqlUrl: string;
}

/** Reads config.json beside index.html, so one build serves every site. */
export async function loadConfig(fetchFn: typeof fetch = fetch.bind(globalThis)): Promise<ViewerConfig> {
  let res: Response;
  try {
    res = await fetchFn('config.json', { cache: 'no-store' });
  } catch (err) {
    throw new ViewerError(`Cannot load config.json (${(err as Error).message}).`, 'config');
  }
  if (!res.ok) throw new ViewerError(`Cannot load config.json: HTTP ${res.status}. Put it next to index.html.`, 'config');
  let cfg: Partial<ViewerConfig>;
  try {
    cfg = (await res.json()) as Partial<ViewerConfig>;
  } catch {
    throw new ViewerError('config.json is not valid JSON; expected {"graphqlUrl": "/v1/graphql"}.', 'config');
  }
  if (typeof cfg.graphqlUrl !== 'string' || !cfg.graphqlUrl) {
    throw new ViewerError('config.json has no graphqlUrl; expected {"graphqlUrl": "/v1/graphql"}.', 'config');
  }
  // Relative URLs resolve against the page, like every other asset.
  return { graphqlUrl: new URL(cfg.graphqlUrl, document.baseURI).toString() };
}
