// The part of the ws package (a dev dependency without bundled types, and no @types/ws installed) that
// test/auth.test.ts uses: a server that records graphql-ws messages, and the client class graphql-ws runs on in node.
declare module 'ws' {
  export class WebSocket {
    constructor(url: string, protocols?: string | string[]);
  }
  export interface ServerSocket {
    on(event: 'message', listener: (data: Buffer | string) => void): void;
    send(data: string): void;
  }
  export class WebSocketServer {
    constructor(options: { port: number; handleProtocols?: (protocols: Set<string>) => string | false });
    on(event: 'connection', listener: (ws: ServerSocket) => void): void;
    once(event: 'listening', listener: () => void): void;
    address(): { port: number } | string;
    close(cb?: () => void): void;
  }
}
