import type { Client } from './graphql';
import type { Route } from './route';
import type { OperatorSession } from './auth';

/** What a page gets: the client, its route, the element to fill, and a signal aborted when the user leaves. */
export interface PageContext {
  client: Client;
  route: Route;
  root: HTMLElement;
  signal: AbortSignal;
  /** The operator sign-in (auth.ts); every page is rendered again when it changes. */
  session: OperatorSession;
  /** Replaces the page's query parameters (and so re-renders the page). */
  setParams(params: Record<string, string | number | null | undefined>): void;
}

/** A page renders into ctx.root and may return a cleanup (stop polling, destroy charts). */
export type Page = (ctx: PageContext) => Promise<void | (() => void)>;
