// A recording front for the browser tests: the page talks to it, it passes every request and websocket message on
// to the fixture (go run ./internal/demo --browser-fixture: the built viewer and internal/hasurastub, the one
// stand-in for Hasura, over runs the real sink wrote) and keeps what it saw, so the tests can count requests and
// inspect the graphql-ws conversation. It answers nothing itself, except the failures a proxy in front of Hasura
// produces, on demand:
//   mode   'ok' | 'down' (HTTP 503, a proxy before a stopped Hasura) | 'refuse' (connection dropped) |
//          'graphql-error' (the request goes to the stand-in for a role without permissions: Hasura's own refusal)
//   wsMode 'ok' | 'refuse' (the upgrade is answered 400, a proxy without websocket support) |
//          'graphql-error' (the socket goes to the role without permissions, so subscriptions are refused)
import { createServer, request } from 'node:http';
import { WebSocket, WebSocketServer } from 'ws';

const SUBPROTOCOL = 'graphql-transport-ws';

/** Starts the front on a free port, passing on to upstream (the fixture's base URL, with a trailing slash). */
export async function startRecorder(upstream) {
  const up = new URL(upstream);
  let mode = 'ok';
  let wsMode = 'ok';
  const requests = [];
  const upgrades = [];
  const wsConnections = [];
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });

  const server = createServer(async (req, res) => {
    let body = Buffer.alloc(0);
    for await (const chunk of req) body = Buffer.concat([body, chunk]);
    let path = req.url;
    let record = null;
    if (req.method === 'POST' && new URL(req.url, 'http://x').pathname === '/v1/graphql') {
      record = { headers: req.headers, body: body.toString(), mode, status: null, answer: '' };
      requests.push(record);
      if (mode === 'refuse') return req.socket.destroy();
      if (mode === 'down') {
        res.writeHead(503, { 'Content-Type': 'text/plain' });
        return res.end('upstream unavailable');
      }
      if (mode === 'graphql-error') path = '/nobody/v1/graphql';
    }
    const headers = { ...req.headers, host: up.host };
    const fwd = request({ host: up.hostname, port: up.port, method: req.method, path, headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      if (record) {
        // The answer's start says whether it was data or errors; the whole of a 100k-sample answer is not kept.
        record.status = r.statusCode;
        r.on('data', (chunk) => { if (record.answer.length < 200) record.answer += String(chunk).slice(0, 200); });
      }
      r.pipe(res);
    });
    fwd.on('error', (err) => { res.writeHead(502).end(String(err)); });
    fwd.end(body);
  });

  server.on('upgrade', (req, socket, head) => {
    upgrades.push({ url: req.url, headers: req.headers });
    if (new URL(req.url, 'http://x').pathname !== '/v1/graphql' || wsMode === 'refuse') {
      const body = 'websocket upgrade refused\n';
      socket.end(`HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`);
      return;
    }
    const target = `ws://${up.host}${wsMode === 'graphql-error' ? '/nobody/v1/graphql' : '/v1/graphql'}`;
    wss.handleUpgrade(req, socket, head, (ws) => {
      const conn = { headers: req.headers, protocol: ws.protocol, init: undefined, messages: [], received: [], subscriptions: [], completed: [], open: true, closeCode: null };
      wsConnections.push(conn);
      const upstreamWs = new WebSocket(target, ws.protocol || undefined);
      const pending = [];
      upstreamWs.on('open', () => { for (const m of pending.splice(0)) upstreamWs.send(m); });
      upstreamWs.on('message', (data) => {
        conn.received.push(JSON.parse(String(data)));
        if (ws.readyState === ws.OPEN) ws.send(String(data));
      });
      upstreamWs.on('close', (code, reason) => {
        if (ws.readyState === ws.OPEN) ws.close(code === 1005 || code === 1006 ? 1011 : code, String(reason));
      });
      upstreamWs.on('error', () => ws.terminate());
      ws.on('message', (data) => {
        const text = String(data);
        try {
          const m = JSON.parse(text);
          conn.messages.push(m);
          if (m.type === 'connection_init') conn.init = m.payload ?? null;
          if (m.type === 'subscribe') conn.subscriptions.push({ id: m.id, ...m.payload });
          if (m.type === 'complete') conn.completed.push(m.id);
        } catch { /* passed on as it is: the stand-in answers a bad message */ }
        if (upstreamWs.readyState === WebSocket.OPEN) upstreamWs.send(text);
        else pending.push(text);
      });
      ws.on('close', (code) => {
        conn.open = false;
        conn.closeCode = code;
        upstreamWs.close();
      });
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
    close: () => new Promise((r) => {
      for (const ws of wss.clients) ws.terminate();
      server.closeAllConnections();
      server.close(r);
    }),
  };
}
