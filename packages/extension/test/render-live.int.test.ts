// The rendered config does what it says: real nginx serving real (in-process) backends on free
// loopback ports. Covers routing, context-root rewrite, redirects, sticky cookies, websocket
// upgrades, empty upstreams, ssl_only, TLS termination next to TLS passthrough on one port, and the
// PROXY-protocol hop that keeps the client address for terminated TLS.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { ClusterModel, Upstream } from '@signalbox/model';
import { renderNginxConf } from '../src/render/index.js';
import { loadBaseExtension } from './golden/load-cases.js';
import { nginxInfo, testMaterial } from './helpers/nginx-check.js';
import { freePort } from './helpers/free-port.js';

const TIMEOUT = 60_000;

interface Echo {
  backend: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

function echoHandler(name: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    const body: Echo = { backend: name, method: req.method ?? '', url: req.url ?? '', headers: req.headers };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  };
}

async function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, host: string, urlPath: string, opts: { tls?: boolean; headers?: Record<string, string>; localAddress?: string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = opts.tls ? https : http;
    const req = mod.request(
      {
        host: '127.0.0.1',
        port,
        path: urlPath,
        headers: { host, ...opts.headers },
        agent: false,
        servername: host,
        rejectUnauthorized: false,
        localAddress: opts.localAddress,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function echo(r: Reply): Echo {
  expect(r.status).toBe(200);
  return JSON.parse(r.body) as Echo;
}

function upstream(name: string, ports: number[], extra: Partial<Upstream> = {}): Upstream {
  return {
    name,
    servers: ports.map((port) => ({ addr: '127.0.0.1', port, service: name })),
    balance: 'round_robin',
    tls: { enabled: false, verify: false },
    services: [name],
    ...extra,
  };
}

describe('live nginx with a rendered config', () => {
  let tmp: string;
  let nginx: ChildProcess | undefined;
  const servers: net.Server[] = [];
  const p = { http: 0, https: 0, a: 0, b: 0, tlsBackend: 0, flaky: 0 };
  let flakyHits = 0;

  beforeAll(async () => {
    const info = await nginxInfo();
    const material = await testMaterial();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'signalbox-live-'));
    const secretsDir = path.join(tmp, 'secrets');
    await mkdir(secretsDir);
    await writeFile(path.join(secretsDir, 'site_cert'), material.cert);
    await writeFile(path.join(secretsDir, 'site_key'), material.key);

    const a = http.createServer(echoHandler('a'));
    a.on('upgrade', (req, socket) => {
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-seen-upgrade: ${String(req.headers['upgrade'])}\r\n\r\n`);
    });
    const b = http.createServer(echoHandler('b'));
    // A task that answers every request with 503: Interlock retried idempotent requests on another task.
    const flaky = http.createServer((_req, res) => {
      flakyHits++;
      res.statusCode = 503;
      res.end('flaky');
    });
    servers.push(flaky);
    p.flaky = await listen(flaky);
    const tlsBackend = https.createServer({ cert: material.cert, key: material.key }, echoHandler('passthrough-backend'));
    servers.push(a, b, tlsBackend);
    p.a = await listen(a);
    p.b = await listen(b);
    p.tlsBackend = await listen(tlsBackend);
    p.http = await freePort();
    p.https = await freePort();
    const internalTls = await freePort();
    const internalHop = await freePort();

    const model: ClusterModel = {
      cluster: '',
      virtualHosts: [
        {
          host: 'app.test',
          sslOnly: false,
          locations: [
            { path: '/', rewrite: false, websocketEndpoints: ['/ws'], upstream: upstream('u_app', [p.a]) },
            { path: '/admin', rewrite: true, websocketEndpoints: [], upstream: upstream('u_admin', [p.b]) },
            { path: '/keep', rewrite: false, websocketEndpoints: [], upstream: upstream('u_keep', [p.b]) },
          ],
        },
        { host: 'retry.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_retry', [p.flaky, p.b]) }] },
        { host: 'down.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_down', []) }] },
        {
          host: 'secure.test',
          sslOnly: true,
          tls: { certSecret: 'site_cert', keySecret: 'site_key' },
          locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_secure', [p.a]) }],
        },
        {
          host: 'sticky.test',
          sslOnly: false,
          locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_sticky', [p.a, p.b], { balance: 'cookie', cookie: 'SESS-ID' }) }],
        },
      ],
      passthrough: [{ host: 'pt.test', upstream: upstream('u_pt', [p.tlsBackend]) }],
      redirects: [{ sourceHost: 'old.test', source: 'http://old.test', target: 'http://new.test' }],
      services: [],
      proxyNetworks: [],
      proxySecrets: ['site_cert', 'site_key'],
    };
    const base = loadBaseExtension();
    const ext = {
      ...base,
      TargetPort: p.http,
      PublishedPort: p.http,
      TargetSSLPort: p.https,
      PublishedSSLPort: p.https,
      Config: {
        ...base.Config,
        // The test client connects from 127.0.0.2 to play a trusted load balancer; 127.0.0.1 is anybody.
        TrustedProxies: ['127.0.0.2'],
        User: '',
        PidPath: path.join(tmp, 'nginx.pid'),
        AccessLogPath: path.join(tmp, 'access.log'),
        ErrorLogPath: path.join(tmp, 'error.log'),
        HTTPOptions: ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((d) => `${d} ${path.join(tmp, d)};`),
      },
    };
    const conf = renderNginxConf(model, ext, {
      secretsDir,
      internalTlsPort: internalTls,
      internalPassthroughPort: internalHop,
      ...(info.streamModulesDir === null ? {} : { streamModulePath: path.join(info.streamModulesDir, 'ngx_stream_module.so') }),
    });
    const confPath = path.join(tmp, 'nginx.conf');
    await writeFile(confPath, conf);
    nginx = spawn(info.bin, ['-p', `${tmp}/`, '-c', confPath, '-e', path.join(tmp, 'error.log'), '-g', 'daemon off;'], {
      stdio: 'ignore',
    });
    const started = Date.now();
    for (;;) {
      const r = await get(p.http, 'health.check', '/signalbox-health').catch(() => null);
      if (r?.status === 200) break;
      if (nginx.exitCode !== null || Date.now() - started > 15_000) {
        const log = await readFile(path.join(tmp, 'error.log'), 'utf8').catch(() => '');
        throw new Error(`nginx did not start (exit ${String(nginx.exitCode)}):\n${log}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }, TIMEOUT);

  afterAll(async () => {
    if (nginx && nginx.exitCode === null) {
      const exited = new Promise((r) => nginx!.once('exit', r));
      nginx.kill('SIGTERM');
      await exited;
    }
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, TIMEOUT);

  it('routes by host and sets the forwarding and info headers', async () => {
    const r = await get(p.http, 'app.test', '/hello?x=1');
    const e = echo(r);
    expect(e).toMatchObject({ backend: 'a', url: '/hello?x=1' });
    expect(e.headers['host']).toBe('app.test');
    expect(e.headers['x-forwarded-proto']).toBe('http');
    expect(e.headers['x-forwarded-host']).toBe('app.test');
    expect(e.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(r.headers['x-request-id']).toBe(e.headers['x-request-id']);
    expect(r.headers['x-server-info']).toBe('signalbox');
    // x-proxy-id names the proxy task: nginx's $hostname (the task's container hostname in swarm).
    expect(r.headers['x-proxy-id']).toBe(os.hostname());
    expect(r.headers['x-upstream-addr']).toBe(`127.0.0.1:${p.a}`);
  });

  it('answers unknown hosts with 503 and the health check with 200', async () => {
    const r = await get(p.http, 'nobody.test', '/');
    expect(r.status).toBe(503);
    expect(r.body).toBe('signalbox: no service is routed for this host\n');
    expect((await get(p.http, 'nobody.test', '/signalbox-health')).body).toBe('ok\n');
    // The health check lives in the default server only.
    expect(echo(await get(p.http, 'app.test', '/signalbox-health')).url).toBe('/signalbox-health');
  });

  it('strips a rewritten context root and redirects its bare path; keeps a plain one', async () => {
    expect(echo(await get(p.http, 'app.test', '/admin/users?id=7'))).toMatchObject({ backend: 'b', url: '/users?id=7' });
    expect(echo(await get(p.http, 'app.test', '/admin/'))).toMatchObject({ backend: 'b', url: '/' });
    const bare = await get(p.http, 'app.test', '/admin?x=1');
    expect(bare.status).toBe(301);
    expect(bare.headers['location']).toBe('/admin/?x=1');
    expect(echo(await get(p.http, 'app.test', '/keep/a'))).toMatchObject({ backend: 'b', url: '/keep/a' });
    expect(echo(await get(p.http, 'app.test', '/keep'))).toMatchObject({ backend: 'b', url: '/keep' });
    expect(echo(await get(p.http, 'app.test', '/keeper'))).toMatchObject({ backend: 'a', url: '/keeper' });
  });

  it('passes websocket upgrades on the endpoint', async () => {
    const status = await new Promise<{ code: number; seen: string | undefined }>((resolve, reject) => {
      const req = http.request({
        host: '127.0.0.1',
        port: p.http,
        path: '/ws',
        agent: false,
        headers: { host: 'app.test', connection: 'Upgrade', upgrade: 'websocket' },
      });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve({ code: res.statusCode ?? 0, seen: res.headers['x-seen-upgrade'] as string | undefined });
      });
      req.on('response', (res) => resolve({ code: res.statusCode ?? 0, seen: undefined }));
      req.on('error', reject);
      req.end();
    });
    expect(status).toEqual({ code: 101, seen: 'websocket' });
  });

  it('upgrades websockets below the endpoint too (prefix, as Interlock)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: p.http, path: '/ws/room/7?x=1', agent: false, headers: { host: 'app.test', connection: 'Upgrade', upgrade: 'websocket' } });
      req.on('upgrade', (res, socket) => {
        socket.destroy();
        resolve(res.statusCode ?? 0);
      });
      req.on('response', (res) => resolve(res.statusCode ?? 0));
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(101);
  });

  it('passes Host as the client sent it, port included', async () => {
    const e = echo(await get(p.http, 'app.test:8080', '/'));
    expect(e.headers['host']).toBe('app.test:8080');
    expect(e.headers['x-forwarded-host']).toBe('app.test:8080');
  });

  it('replaces X-Forwarded-* from an untrusted client and keeps them from a trusted load balancer', async () => {
    const sent = { 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7', 'x-forwarded-host': 'www.example.com' };
    const untrusted = echo(await get(p.http, 'app.test', '/', { headers: sent, localAddress: '127.0.0.1' }));
    expect(untrusted.headers).toMatchObject({ 'x-forwarded-proto': 'http', 'x-forwarded-for': '127.0.0.1', 'x-forwarded-host': 'app.test' });
    const trusted = echo(await get(p.http, 'app.test', '/', { headers: sent, localAddress: '127.0.0.2' }));
    expect(trusted.headers).toMatchObject({ 'x-forwarded-proto': 'https', 'x-forwarded-for': '198.51.100.7, 127.0.0.2', 'x-forwarded-host': 'www.example.com' });
    // A trusted balancer that sets none: the proxy's own view.
    const bare = echo(await get(p.http, 'app.test', '/', { localAddress: '127.0.0.2' }));
    expect(bare.headers).toMatchObject({ 'x-forwarded-proto': 'http', 'x-forwarded-for': '127.0.0.2', 'x-forwarded-host': 'app.test' });
  });

  it('retries an idempotent request on another task when one answers 503', async () => {
    const before = flakyHits;
    for (let i = 0; i < 4; i++) expect(echo(await get(p.http, 'retry.test', `/r${i}`)).backend).toBe('b');
    expect(flakyHits).toBeGreaterThan(before); // the 503 task was tried, and the request retried on the other
  });

  it('answers 503 for an upstream without servers', async () => {
    expect((await get(p.http, 'down.test', '/')).status).toBe(503);
  });

  it('redirects a whole host keeping the request URI', async () => {
    const r = await get(p.http, 'old.test', '/a/b?c=d');
    expect(r.status).toBe(302);
    expect(r.headers['location']).toBe('http://new.test/a/b?c=d');
  });

  it('keeps a sticky cookie on one backend, also for names that need the regex map', async () => {
    for (const value of ['alpha', 'beta', 'gamma']) {
      const seen = new Set<string>();
      for (let i = 0; i < 4; i++) {
        seen.add(echo(await get(p.http, 'sticky.test', '/', { headers: { cookie: `other=1; SESS-ID=${value}; x=y` } })).backend);
      }
      expect(seen.size).toBe(1);
    }
  });

  it('redirects ssl_only hosts to the published HTTPS port with a 302, as Interlock', async () => {
    const r = await get(p.http, 'secure.test', '/p?q=1');
    expect(r.status).toBe(302);
    expect(r.headers['location']).toBe(`https://secure.test:${p.https}/p?q=1`);
  });

  it('routes ssl_only requests a trusted TLS-terminating balancer received over https (no redirect loop)', async () => {
    const https = { 'x-forwarded-proto': 'https' };
    const viaBalancer = await get(p.http, 'secure.test', '/lb', { headers: https, localAddress: '127.0.0.2' });
    expect(viaBalancer.status).toBe(200);
    expect(echo(viaBalancer).headers['x-forwarded-proto']).toBe('https');
    // The balancer's own plain-HTTP traffic, and any client claiming https, still go to https.
    expect((await get(p.http, 'secure.test', '/lb', { localAddress: '127.0.0.2' })).status).toBe(302);
    expect((await get(p.http, 'secure.test', '/lb', { headers: https, localAddress: '127.0.0.1' })).status).toBe(302);
  });

  it('terminates TLS behind the passthrough port and keeps the client address', async () => {
    const e = echo(await get(p.https, 'secure.test', '/s', { tls: true, localAddress: '127.0.0.2' }));
    expect(e).toMatchObject({ backend: 'a', url: '/s' });
    expect(e.headers['x-forwarded-proto']).toBe('https');
    expect(e.headers['x-real-ip']).toBe('127.0.0.2');
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.2');
  });

  it('passes TLS through untouched to the passthrough backend', async () => {
    const r = await get(p.https, 'pt.test', '/direct', { tls: true });
    // The backend itself answered: no proxy headers were added.
    expect(echo(r)).toMatchObject({ backend: 'passthrough-backend', url: '/direct' });
    expect(r.headers['x-server-info']).toBeUndefined();
  });

  it('rejects the TLS handshake for unknown names', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: p.https, servername: 'unknown.test', rejectUnauthorized: false }, () => {
          s.end();
          resolve('connected');
        });
        s.on('error', reject);
      }),
    ).rejects.toThrow(/alert|handshake|ECONNRESET|socket/i);
  });
});
