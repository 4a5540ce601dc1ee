import { execFileSync } from 'node:child_process';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import { selfSigned } from '@signalbox/test-support';
import WebSocket from 'ws';
import { startDemoServer, type DemoServer, type DemoResponse } from '../src/index.js';

function wsEcho(url: string, messages: string[], opts: WebSocket.ClientOptions = {}): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts);
    const got: string[] = [];
    ws.on('open', () => messages.forEach((m) => ws.send(m)));
    ws.on('message', (data) => {
      got.push(data.toString());
      if (got.length === messages.length) ws.close();
    });
    ws.on('close', () => resolve(got));
    ws.on('error', reject);
  });
}

describe('demo-app as a failing task (status option, env STATUS)', () => {
  let demo: DemoServer;
  beforeAll(async () => {
    demo = await startDemoServer({ port: 0, host: '127.0.0.1', name: 'bad', status: 503 });
  });
  afterAll(() => demo.close());

  it('answers every request with the status, but keeps /health at 200', async () => {
    const res = await fetch(`${demo.url}/any`);
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ name: 'bad', path: '/any' });
    expect((await fetch(`${demo.url}/health`)).status).toBe(200);
  });
});

/** Sends `count` GETs one after another on one connection; the responses' Connection headers, and whether the server closed it. */
async function keepAliveRun(port: number, count: number): Promise<{ connection: string[]; closedByServer: boolean }> {
  const socket = net.connect(port, '127.0.0.1');
  let closedByServer = false;
  socket.on('end', () => {
    closedByServer = true;
  });
  let buffered = '';
  let waiting: (() => void) | undefined;
  // One reader for the whole run: 'end' is only seen by a socket that keeps being read.
  socket.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    waiting?.();
  });
  const connection: string[] = [];
  const nextResponse = (): Promise<string> =>
    new Promise((resolve, reject) => {
      waiting = (): void => {
        const head = buffered.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(buffered.slice(0, head));
        if (head < 0 || !length || buffered.length < head + 4 + Number(length[1])) return;
        const response = buffered.slice(0, head);
        buffered = buffered.slice(head + 4 + Number(length[1]));
        waiting = undefined;
        resolve(response);
      };
      socket.once('error', reject);
      waiting();
    });
  for (let i = 0; i < count; i++) {
    socket.write('GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n');
    const head = await nextResponse();
    connection.push(/\r\nconnection: ([^\r]*)/i.exec(head)?.[1] ?? '');
  }
  await new Promise((r) => setTimeout(r, 100));
  socket.destroy();
  return { connection, closedByServer };
}

describe('demo-app ending keep-alive connections (maxRequestsPerSocket, env MAX_REQUESTS_PER_SOCKET)', () => {
  it('says Connection: close on the last allowed request and closes; unset, it keeps the connection', async () => {
    const limited = await startDemoServer({ port: 0, host: '127.0.0.1', maxRequestsPerSocket: 3 });
    const unlimited = await startDemoServer({ port: 0, host: '127.0.0.1' });
    try {
      expect(await keepAliveRun(limited.port, 3)).toEqual({ connection: ['keep-alive', 'keep-alive', 'close'], closedByServer: true });
      expect(await keepAliveRun(unlimited.port, 3)).toEqual({ connection: ['keep-alive', 'keep-alive', 'keep-alive'], closedByServer: false });
    } finally {
      await Promise.all([limited.close(), unlimited.close()]);
    }
  });
});

describe('demo-app over HTTP', () => {
  let demo: DemoServer;
  beforeAll(async () => {
    demo = await startDemoServer({ port: 0, host: '127.0.0.1', name: 'blue' });
  });
  afterAll(() => demo.close());

  it('echoes the request as JSON', async () => {
    const res = await fetch(`${demo.url}/some/path?x=1`, { headers: { 'x-test': 'yes' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('x-demo-task')).toBe(os.hostname());
    expect(res.headers.get('x-demo-name')).toBe('blue');
    const body = (await res.json()) as DemoResponse;
    expect(body).toMatchObject({ name: 'blue', task: os.hostname(), path: '/some/path?x=1', method: 'GET', tls: false });
    expect(body.headers['x-test']).toBe('yes');
  });

  it('counts a POST body and honours ?status=', async () => {
    const res = await fetch(`${demo.url}/p?status=503`, { method: 'POST', body: 'hello' });
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({ method: 'POST', bodyBytes: 5 });
  });

  it('answers /health', async () => {
    const res = await fetch(`${demo.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ok: true });
  });

  it('echoes websocket messages on any path', async () => {
    const got = await wsEcho(`ws://127.0.0.1:${demo.port}/any/where`, ['one', 'two']);
    expect(got).toEqual(['one', 'two']);
  });
});

const haveOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

(haveOpenssl ? describe : describe.skip)('demo-app over TLS', () => {
  let demo: DemoServer;
  beforeAll(async () => {
    const { cert, key } = selfSigned({ commonName: 'demo.test', days: 1 });
    demo = await startDemoServer({ port: 0, host: '127.0.0.1', tls: { cert, key } });
  });
  afterAll(async () => {
    await demo.close();
  });

  it('serves HTTPS and reports tls: true', async () => {
    const body = await new Promise<DemoResponse>((resolve, reject) => {
      https
        .get(`${demo.url}/secure`, { rejectUnauthorized: false }, (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => resolve(JSON.parse(data) as DemoResponse));
        })
        .on('error', reject);
    });
    expect(body).toMatchObject({ path: '/secure', tls: true });
  });

  it('echoes over wss', async () => {
    const got = await wsEcho(`wss://127.0.0.1:${demo.port}/`, ['x'], { rejectUnauthorized: false });
    expect(got).toEqual(['x']);
  });
});
