// Operator sign-in (issue 14): launching and stopping jobs needs the operator token, which `sink api` checks behind
// Hasura's auth webhook. The token is kept in sessionStorage only: it lives as long as the tab, is not shared with
// other tabs or kept on disk past the session as the browser's persistent storage is, and never goes into the URL (a link or the history would
// carry it). It travels as `Authorization: Bearer <token>` on every HTTP request and in the websocket's
// connection_init payload; without it the viewer is anonymous and read only, as it always was.

/** The sessionStorage key of the operator token. */
export const TOKEN_KEY = 'benchpipe.operatorToken';

/** The part of the Web Storage API the session uses (sessionStorage in the page; a Map-backed one in tests). */
export type TokenStorage = Pick<Storage, 'getItem' | 'setItem' | 'removeItem'>;

export interface OperatorSession {
  /** The token, or null when nobody signed in. */
  token(): string | null;
  /** Keeps token (trimmed) for this tab; an empty or blank token is refused with an error. */
  signIn(token: string): void;
  signOut(): void;
  /** Calls fn after every sign-in and sign-out; returns the unsubscribe. */
  onChange(fn: () => void): () => void;
}

/** sessionStorage, or null where the browser refuses it (storage disabled): then nobody can sign in. */
function pageSessionStorage(): TokenStorage | null {
  try {
    return globalThis.sessionStorage ?? null;
  } catch {
    return null;
  }
}

/** An operator session over storage (default: the page's sessionStorage). */
export function operatorSession(storage: TokenStorage | null = pageSessionStorage()): OperatorSession {
  const listeners = new Set<() => void>();
  const changed = () => listeners.forEach((fn) => fn());
  return {
    token() {
      const t = storage?.getItem(TOKEN_KEY);
      return t ? t : null;
    },
    signIn(token: string) {
      const t = token.trim();
      if (!t) throw new Error('Enter the operator token.');
      if (/\s/.test(t)) throw new Error('An operator token has no spaces or line breaks; paste it again.');
      if (!storage) throw new Error('This browser refuses session storage, so the viewer cannot keep a sign-in.');
      storage.setItem(TOKEN_KEY, t);
      changed();
    },
    signOut() {
      storage?.removeItem(TOKEN_KEY);
      changed();
    },
    onChange(fn: () => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
}

/** The HTTP headers that carry token: `Authorization: Bearer <token>`, or none for anonymous. */
export function authHeaders(token: string | null): Record<string, string> {
  return token ? { Authorization: `Bearer ${token}` } : {};
}
