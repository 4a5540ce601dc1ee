// Demo backend for the Signalbox demo stack and the e2e tests.
// Any path: JSON echo of the request. GET /health: 200. Upgrade: websocket on any path: echo.
// Extras for tests: ?status=NNN sets the response status, ?delay=MS delays the response, and the
// `status` option (env STATUS) makes a task answer every request but /health with that status (a
// failing task, for retries).
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';

export interface DemoServerOptions {
  /** TCP port; 0 picks an ephemeral one. */
  port: number;
  /** Listen address; default: all interfaces (dual stack when available). */
  host?: string;
  /** Free text returned as `name` (and `x-demo-name` when printable ASCII). */
  name?: string;
  /** PEM cert + key: serve HTTPS (and WSS) instead of HTTP. */
  tls?: { cert: string | Buffer; key: string | Buffer };
  /** Answer every request except GET /health with this status (200-599), e.g. 503 for a failing task. */
  status?: number;
  /**
   * End a keep-alive connection after this many requests (the last response says `Connection: close`),
   * as nginx does after `keepalive_requests` (1000 by default). 0 or unset: never, Node's default.
   */
  maxRequestsPerSocket?: number;
}

export interface DemoServer {
  readonly server: http.Server | https.Server;
  readonly port: number;
  /** e.g. http://127.0.0.1:PORT */
  readonly url: string;
  /** Stops accepting, drops open connections and websockets. */
  close(): Promise<void>;
}

export interface DemoResponse {
  name: string;
  task: string;
  path: string;
  method: string;
  headers: http.IncomingHttpHeaders;
  tls: boolean;
  remoteAddress: string | undefined;
  bodyBytes: number;
}

const PRINTABLE = /^[\x20-\x7e]*$/;
const MAX_DELAY_MS = 60_000;

function commonHeaders(name: string, task: string): Record<string, string> {
  const h: Record<string, string> = { 'x-demo-task': task };
  if (name !== '' && PRINTABLE.test(name)) h['x-demo-name'] = name;
  return h;
}

export function startDemoServer(options: DemoServerOptions): Promise<DemoServer> {
  const name = options.name ?? '';
  const task = os.hostname();
  const isTls = options.tls !== undefined;

  // Node's own maxRequestsPerSocket says `Connection: close` but leaves the socket open (and answers 503
  // on it after): this ends it after the response, as nginx does.
  const maxRequests = options.maxRequestsPerSocket ?? 0;
  const requestsOn = new WeakMap<object, number>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const served = (requestsOn.get(req.socket) ?? 0) + 1;
    requestsOn.set(req.socket, served);
    const last = maxRequests > 0 && served >= maxRequests;
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://demo.invalid');
      const headers = { ...commonHeaders(name, task), 'content-type': 'application/json', 'cache-control': 'no-store' };
      let status = options.status ?? 200;
      let body: unknown;
      if (url.pathname === '/health') {
        status = 200;
        body = { ok: true, name, task };
      } else {
        const wanted = Number(url.searchParams.get('status'));
        if (Number.isInteger(wanted) && wanted >= 200 && wanted <= 599) status = wanted;
        const out: DemoResponse = {
          name,
          task,
          path: req.url ?? '/',
          method: req.method ?? 'GET',
          headers: req.headers,
          tls: isTls,
          remoteAddress: req.socket.remoteAddress,
          bodyBytes,
        };
        body = out;
      }
      const payload = JSON.stringify(body) + '\n';
      const delay = Math.min(Math.max(Number(url.searchParams.get('delay')) || 0, 0), MAX_DELAY_MS);
      const send = (): void => {
        if (res.destroyed) return;
        res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(payload), ...(last ? { connection: 'close' } : {}) });
        res.end(req.method === 'HEAD' ? undefined : payload);
      };
      if (delay > 0) setTimeout(send, delay).unref();
      else send();
    });
  };

  const server: http.Server | https.Server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key }, handler) : http.createServer(handler);
  server.keepAliveTimeout = 65_000; // longer than nginx's upstream keepalive_timeout default (60s)

  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  wss.on('connection', (ws) => {
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('error', () => ws.terminate());
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket') {
      socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  // Headers the ws library adds to the 101 response: identify the task there too.
  wss.on('headers', (headers: string[]) => {
    for (const [k, v] of Object.entries(commonHeaders(name, task))) headers.push(`${k}: ${v}`);
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const onListening = (): void => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      let closing: Promise<void> | undefined;
      resolve({
        server,
        port,
        url: `${isTls ? 'https' : 'http'}://127.0.0.1:${port}`,
        close: () => {
          closing ??= new Promise<void>((done) => {
            for (const ws of wss.clients) ws.terminate();
            wss.close();
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    };
    if (options.host !== undefined) server.listen(options.port, options.host, onListening);
    else server.listen(options.port, onListening);
  });
}
