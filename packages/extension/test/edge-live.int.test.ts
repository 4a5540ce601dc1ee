// The split data plane on real nginx, without a swarm: the edge's generated L4 config in front of a
// routing proxy rendered with ProxyEdge. A tiny DNS server stands in for Docker's (tasks.<proxy>),
// listing a dead task first, so the edge's retry on another task is exercised too.
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { ClusterModel, Upstream } from '@signalbox/model';
import { edgeConfig } from '../../proxy-agent/src/edge.js';
import { renderNginxConf } from '../src/render/index.js';
import { loadBaseExtension } from './golden/load-cases.js';
import { nginxInfo, testMaterial } from './helpers/nginx-check.js';

const TIMEOUT = 60_000;
const TASKS = 'tasks.routing.test';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Answers A queries for `name` with `addrs` (TTL 1), NXDOMAIN for anything else. */
function dnsServer(name: string, addrs: string[]): Promise<{ port: number; close: () => void; queries: () => number }> {
  const sock = dgram.createSocket('udp4');
  let queries = 0;
  sock.on('message', (msg, rinfo) => {
    queries++;
    // Question name starts at byte 12: length-prefixed labels, then type and class.
    let i = 12;
    const labels: string[] = [];
    while (msg[i]! > 0) {
      labels.push(msg.subarray(i + 1, i + 1 + msg[i]!).toString('ascii'));
      i += msg[i]! + 1;
    }
    const qEnd = i + 5;
    const qtype = msg.readUInt16BE(i + 1);
    const match = labels.join('.').toLowerCase() === name && qtype === 1;
    const header = Buffer.alloc(12);
    msg.copy(header, 0, 0, 2); // id
    header.writeUInt16BE(match ? 0x8180 : 0x8183, 2); // response, recursion; rcode 0 or NXDOMAIN
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(match ? addrs.length : 0, 6);
    const answers = match
      ? addrs.map((a) => {
          const rr = Buffer.alloc(16);
          rr.writeUInt16BE(0xc00c, 0); // pointer to the question name
          rr.writeUInt16BE(1, 2);
          rr.writeUInt16BE(1, 4);
          rr.writeUInt32BE(1, 6);
          rr.writeUInt16BE(4, 10);
          a.split('.').forEach((o, k) => rr.writeUInt8(Number(o), 12 + k));
          return rr;
        })
      : [];
    sock.send(Buffer.concat([header, msg.subarray(12, qEnd), ...answers]), rinfo.port, rinfo.address);
  });
  return new Promise((resolve) =>
    sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => sock.close(), queries: () => queries })),
  );
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function get(port: number, host: string, urlPath: string, opts: { tls?: boolean; localAddress?: string; agent?: http.Agent } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = opts.tls ? https : http;
    const req = mod.request(
      { host: '127.0.0.1', port, path: urlPath, headers: { host }, agent: opts.agent ?? false, servername: host, rejectUnauthorized: false, localAddress: opts.localAddress },
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

const upstream = (name: string, port: number): Upstream => ({
  name,
  servers: [{ addr: '127.0.0.1', port, service: name }],
  balance: 'round_robin',
  tls: { enabled: false, verify: false },
  services: [name],
});

async function startNginx(bin: string, dir: string, conf: string, ready: () => Promise<boolean>): Promise<ChildProcess> {
  await mkdir(dir, { recursive: true });
  const confPath = path.join(dir, 'nginx.conf');
  await writeFile(confPath, conf);
  const child = spawn(bin, ['-p', `${dir}/`, '-c', confPath, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
  const started = Date.now();
  while (!(await ready().catch(() => false))) {
    if (child.exitCode !== null || Date.now() - started > 15_000) {
      throw new Error(`nginx did not start (exit ${String(child.exitCode)}):\n${await readFile(path.join(dir, 'error.log'), 'utf8').catch(() => '')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return child;
}

describe('edge → routing proxy on real nginx', () => {
  let tmp: string;
  const children: ChildProcess[] = [];
  const servers: net.Server[] = [];
  let dns: Awaited<ReturnType<typeof dnsServer>>;
  const p = { edgeHttp: 0, edgeHttps: 0, http: 0, https: 0, app: 0, tlsBackend: 0 };

  beforeAll(async () => {
    const info = await nginxInfo();
    const material = await testMaterial();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'signalbox-edge-'));
    const secretsDir = path.join(tmp, 'secrets');
    await mkdir(secretsDir);
    await writeFile(path.join(secretsDir, 'site_cert'), material.cert);
    await writeFile(path.join(secretsDir, 'site_key'), material.key);

    const echo = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ backend: name, url: req.url, headers: req.headers }));
    };
    const app = http.createServer(echo('app'));
    const tlsBackend = https.createServer({ cert: material.cert, key: material.key }, echo('passthrough-backend'));
    servers.push(app, tlsBackend);
    for (const [k, s] of [['app', app], ['tlsBackend', tlsBackend]] as const) {
      p[k] = await new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));
    }
    for (const k of ['edgeHttp', 'edgeHttps', 'http', 'https'] as const) p[k] = await freePort();
    // The first "task" is dead (nothing listens on 127.0.0.2): the edge must retry on the live one.
    dns = await dnsServer(TASKS, ['127.0.0.2', '127.0.0.1']);

    const model: ClusterModel = {
      cluster: '',
      virtualHosts: [
        { host: 'app.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_app', p.app) }] },
        {
          host: 'secure.test',
          sslOnly: false,
          tls: { certSecret: 'site_cert', keySecret: 'site_key' },
          locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_secure', p.app) }],
        },
      ],
      passthrough: [{ host: 'pt.test', upstream: upstream('u_pt', p.tlsBackend) }],
      redirects: [],
      services: [],
      proxyNetworks: [],
      proxySecrets: ['site_cert', 'site_key'],
    };
    const base = loadBaseExtension();
    const ext = {
      ...base,
      ProxyEdge: true,
      TargetPort: p.http,
      PublishedPort: p.edgeHttp,
      TargetSSLPort: p.https,
      PublishedSSLPort: p.edgeHttps,
      Config: {
        ...base.Config,
        User: '',
        PidPath: path.join(tmp, 'routing', 'nginx.pid'),
        AccessLogPath: '',
        ErrorLogPath: path.join(tmp, 'routing', 'error.log'),
        HTTPOptions: ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((d) => `${d} ${path.join(tmp, d)};`),
      },
    };
    const streamModulePath = info.streamModulesDir === null ? undefined : path.join(info.streamModulesDir, 'ngx_stream_module.so');
    let routing = renderNginxConf(model, ext, {
      secretsDir,
      edgeTrustedFrom: ['127.0.0.0/8'],
      internalTlsPort: await freePort(),
      internalPassthroughPort: await freePort(),
      ...(streamModulePath ? { streamModulePath } : {}),
    });
    // Only 127.0.0.1 is the live task; on 127.0.0.2 these ports are closed.
    routing = routing.replace(new RegExp(`listen (${p.http}|${p.https}) `, 'g'), 'listen 127.0.0.1:$1 ');
    const accepts = (port: number) =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
    children.push(await startNginx(info.bin, path.join(tmp, 'routing'), routing, () => accepts(p.http)));
    const edge = edgeConfig({
      upstream: TASKS,
      httpPort: p.edgeHttp,
      httpsPort: p.edgeHttps,
      upstreamHttpPort: p.http,
      upstreamHttpsPort: p.https,
      pidPath: path.join(tmp, 'edge', 'nginx.pid'),
      resolver: `127.0.0.1:${dns.port}`,
      streamModulePath,
    });
    children.push(await startNginx(info.bin, path.join(tmp, 'edge'), edge, async () => (await get(p.edgeHttp, 'app.test', '/ready')).status === 200));
  }, TIMEOUT);

  afterAll(async () => {
    for (const c of children) {
      if (c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    dns?.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, TIMEOUT);

  it('keeps the client address through the edge (PROXY protocol + realip), for every request, with a dead task listed first', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await get(p.edgeHttp, 'app.test', `/r${i}`, { localAddress: '127.0.0.7' });
      expect(r.status).toBe(200);
      const e = JSON.parse(r.body) as { backend: string; headers: http.IncomingHttpHeaders };
      expect(e.backend).toBe('app');
      expect(e.headers['x-real-ip']).toBe('127.0.0.7');
      expect(e.headers['x-forwarded-for']).toBe('127.0.0.7');
    }
    expect(dns.queries()).toBeGreaterThan(0);
  });

  it('terminates TLS on the routing proxy behind the edge and keeps the client address', async () => {
    const r = await get(p.edgeHttps, 'secure.test', '/s', { tls: true, localAddress: '127.0.0.8' });
    expect(r.status).toBe(200);
    const e = JSON.parse(r.body) as { headers: http.IncomingHttpHeaders };
    expect(e.headers['x-forwarded-proto']).toBe('https');
    expect(e.headers['x-real-ip']).toBe('127.0.0.8');
  });

  it('passes TLS through untouched behind the edge', async () => {
    const r = await get(p.edgeHttps, 'pt.test', '/direct', { tls: true });
    expect(JSON.parse(r.body)).toMatchObject({ backend: 'passthrough-backend', url: '/direct' });
    expect(r.headers['x-server-info']).toBeUndefined();
  });

  it('a routing proxy does not serve a connection without a PROXY header (only the edge may talk to it)', async () => {
    const r = await get(p.http, 'app.test', '/direct').catch((e: Error) => e);
    expect(r instanceof Error ? 'refused' : r.status).not.toBe(200);
  });

  it('a busy keep-alive connection is ended cleanly (Connection: close) once keepalive_time has passed', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const started = Date.now();
    let closedAfter = -1;
    let requests = 0;
    while (Date.now() - started < 10_000) {
      const r = await get(p.edgeHttp, 'app.test', '/ka', { agent });
      requests++;
      expect(r.status).toBe(200);
      if (r.headers['connection'] === 'close') {
        closedAfter = Date.now() - started;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
    agent.destroy();
    // keepalive_time is 5 s: the first ~5 s of requests share one connection, then it closes cleanly.
    expect(requests).toBeGreaterThan(10);
    expect(closedAfter).toBeGreaterThanOrEqual(4_500);
  }, 20_000);
});
