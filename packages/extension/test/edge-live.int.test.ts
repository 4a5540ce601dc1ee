// The split data plane on real nginx, without a swarm: the edge's generated config (L7 on the HTTP port,
// L4 on the TLS port) in front of two routing proxies rendered with ProxyEdge, each with its TLS front
// (the proxy agent's TlsFront: a second nginx that ends TLS and the client's keep-alive). A tiny DNS server stands in
// for Docker's (tasks.<proxy>), listing a dead task first, so the edge's retry on another task is
// exercised too; the routing proxies reload in a loop while keep-alive clients go through the edge.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import os from 'node:os';
import path from 'node:path';
import type { ClusterModel, Upstream } from '@signalbox/model';
import { EDGE_CLIENT_ADDRESS_HEADER, RELAY_TLS_PORT } from '@signalbox/protocol';
import { EdgePeers, LAME_DUCK_ANSWERS, TlsFront, edgeConfig, lameDuck } from '@signalbox/proxy-agent';
import { selfSigned } from '@signalbox/test-support';
import { pino } from 'pino';
import { renderNginxConf } from '../src/render/index.js';
import { loadBaseExtension } from './golden/load-cases.js';
import { nginxInfo, testMaterial } from './helpers/nginx-check.js';
import { freePort } from './helpers/free-port.js';

const TIMEOUT = 60_000;
/** Debian's libnginx-mod-http-lua (and NDK), which the proxy image and the host tools install. */
const NDK_MODULE = '/usr/lib/nginx/modules/ndk_http_module.so';
const LUA_MODULE = '/usr/lib/nginx/modules/ngx_http_lua_module.so';

/** Sockets in TIME-WAIT whose local port is `port`: connections a routing proxy closed. */
function timeWaitOn(port: number): number {
  return execFileSync('ss', ['-Htn', 'state', 'time-wait', `( sport = :${port} )`], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.trim() !== '').length;
}
const TASKS = 'tasks.routing.test';
/** The two live routing proxy "tasks"; 127.0.0.2 is listed first and nothing listens there. */
const ROUTING = ['127.0.0.1', '127.0.0.3'] as const;

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
  return new Promise((resolve) => sock.bind(0, '127.0.0.1', () => resolve({ port: sock.address().port, close: () => sock.close(), queries: () => queries })));
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  reused: boolean;
}

interface RequestOptions {
  method?: string;
  headers?: http.OutgoingHttpHeaders;
  body?: Buffer;
  /** Send the body with Transfer-Encoding: chunked (no Content-Length). */
  chunked?: boolean;
  tls?: boolean;
  localAddress?: string;
  agent?: http.Agent;
}

function request(port: number, host: string, urlPath: string, opts: RequestOptions = {}, address = '127.0.0.1'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const mod = opts.tls ? https : http;
    const headers: http.OutgoingHttpHeaders = { host, ...opts.headers };
    if (opts.body && !opts.chunked) headers['content-length'] = opts.body.length;
    const req = mod.request(
      { host: address, port, path: urlPath, method: opts.method ?? 'GET', headers, agent: opts.agent ?? false, servername: host, rejectUnauthorized: false, localAddress: opts.localAddress },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, reused: req.reusedSocket }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (opts.body && opts.chunked) {
      // Two writes, so the body really goes out in chunks.
      req.write(opts.body.subarray(0, opts.body.length >> 1));
      req.end(opts.body.subarray(opts.body.length >> 1));
    } else {
      req.end(opts.body);
    }
  });
}

/** The CN of the certificate a TLS server sends for `servername` (rejects when the handshake fails). */
function peerCommonName(port: number, servername: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername, rejectUnauthorized: false }, () => {
      const cn = socket.getPeerCertificate().subject?.CN;
      socket.destroy();
      resolve(String(cn));
    });
    socket.once('error', reject);
  });
}

/** An HTTPS GET to a routing task's TLS listener, as the edge sends it: a PROXY header with `client` first. */
function proxiedTlsGet(address: string, port: number, host: string, urlPath: string, client: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(port, address, () => {
      raw.write(`PROXY TCP4 ${client} ${address} 40000 ${port}\r\n`);
      const socket = tls.connect({ socket: raw, servername: host, rejectUnauthorized: false }, () => {
        socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      let text = '';
      socket.setEncoding('utf8');
      socket.on('data', (c: string) => (text += c));
      socket.on('end', () => {
        const [head = '', body = ''] = text.split('\r\n\r\n', 2);
        const [statusLine = '', ...lines] = head.split('\r\n');
        const headers: http.IncomingHttpHeaders = {};
        for (const l of lines) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        resolve({ status: Number(statusLine.split(' ')[1]), headers, body, reused: false });
      });
      socket.once('error', reject);
    });
    raw.once('error', reject);
  });
}

interface Echo {
  backend: string;
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bodyLength: number;
  bodySha256: string;
}
const echoOf = (r: Reply) => JSON.parse(r.body) as Echo;
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

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

/**
 * An edge (generated config; with the keep-alive pool when `peersPort` is given) in front of one stand-in
 * routing task on 127.0.0.4, found through its own DNS stand-in as tasks.<name>.test. The task closes a
 * connection as soon as it has read a request while `closes()` says so (what a routing task without the
 * route does behind the edge), else answers 200 `ok`.
 */
async function edgeBeforeOneTask(dir: string, name: string, closes: () => boolean, peersPort?: number) {
  let connections = 0;
  const task = net.createServer((socket) => {
    connections++;
    socket.once('data', () => {
      if (closes()) {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n');
    });
  });
  const taskPort = await new Promise<number>((r) => task.listen(0, '127.0.0.4', () => r((task.address() as net.AddressInfo).port)));
  const upstream = `tasks.${name}.test`;
  const dns = await dnsServer(upstream, ['127.0.0.4']);
  const port = await freePort();
  const conf = edgeConfig({
    upstream,
    httpPort: port,
    upstreamHttpPort: taskPort,
    pidPath: path.join(dir, 'nginx.pid'),
    resolver: `127.0.0.1:${dns.port}`,
    tempDir: dir,
    pool: peersPort === undefined ? undefined : { ndkModulePath: NDK_MODULE, luaModulePath: LUA_MODULE, peersPort },
  });
  const edge = await startNginx((await nginxInfo()).bin, dir, conf, async () => (await request(port, 'app.test', '/')).status === 200);
  return {
    port,
    upstream,
    taskPort,
    resolver: `127.0.0.1:${dns.port}`,
    connections: () => connections,
    async stop(): Promise<void> {
      const exited = new Promise((r) => edge.once('exit', r));
      edge.kill('SIGTERM');
      await exited;
      dns.close();
      await new Promise((r) => task.close(r));
    },
  };
}

/** The worker processes of an nginx master (from /proc: every process whose parent it is). */
async function childPids(parent: number): Promise<Set<number>> {
  const out = new Set<number>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // pid (comm) state ppid …: comm may hold spaces, so split after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid === parent) out.add(Number(entry));
  }
  return out;
}

/** SIGHUP, then wait until the master has started a worker it did not have before: one graceful reload done. */
async function reload(master: ChildProcess): Promise<void> {
  const before = await childPids(master.pid!);
  master.kill('SIGHUP');
  const started = Date.now();
  for (;;) {
    const now = await childPids(master.pid!);
    if ([...now].some((pid) => !before.has(pid))) return;
    if (Date.now() - started > 20_000) throw new Error('nginx did not start new workers within 20 s of SIGHUP');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('edge → routing proxies on real nginx', () => {
  let tmp: string;
  const routing = new Map<string, ChildProcess>();
  const fronts: TlsFront[] = [];
  let edge: ChildProcess | undefined;
  const servers: net.Server[] = [];
  let dns: Awaited<ReturnType<typeof dnsServer>>;
  const p = { edgeHttp: 0, edgeHttps: 0, http: 0, https: 0, app: 0, tlsBackend: 0, peers: 0 };
  let peers: EdgePeers;

  beforeAll(async () => {
    const info = await nginxInfo();
    const material = await testMaterial();
    tmp = await mkdtemp(path.join(os.tmpdir(), 'signalbox-edge-'));
    // nginx run as root starts its workers as nobody: they must reach the temp dirs (request bodies).
    await chmod(tmp, 0o755);
    const secretsDir = path.join(tmp, 'secrets');
    await mkdir(secretsDir);
    await writeFile(path.join(secretsDir, 'site_cert'), material.cert);
    await writeFile(path.join(secretsDir, 'site_key'), material.key);
    // A second certificate, for a wildcard host: the TLS front picks it by SNI.
    const wild = selfSigned({ commonName: 'wild', days: 1, keyType: 'ec' });
    await writeFile(path.join(secretsDir, 'wild_cert'), wild.cert);
    await writeFile(path.join(secretsDir, 'wild_key'), wild.key);

    const echo = (name: string) => (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, bodyLength: body.length, bodySha256: sha256(body) }));
      });
    };
    const app = http.createServer(echo('app'));
    // Longer than nginx's upstream keepalive_timeout, so the app never closes a connection nginx reuses.
    app.keepAliveTimeout = 120_000;
    // WebSocket stand-in: answer the upgrade, then echo whatever comes.
    app.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
      socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers['upgrade']}\r\nConnection: Upgrade\r\n\r\n`);
      socket.pipe(socket);
    });
    const tlsBackend = https.createServer({ cert: material.cert, key: material.key }, echo('passthrough-backend'));
    servers.push(app, tlsBackend);
    for (const [k, s] of [
      ['app', app],
      ['tlsBackend', tlsBackend],
    ] as const) {
      p[k] = await new Promise((r) => s.listen(0, '127.0.0.1', () => r((s.address() as net.AddressInfo).port)));
    }
    for (const k of ['edgeHttp', 'edgeHttps', 'http', 'https', 'peers'] as const) p[k] = await freePort();
    dns = await dnsServer(TASKS, ['127.0.0.2', ...ROUTING]);

    const model: ClusterModel = {
      cluster: '',
      virtualHosts: [
        { host: 'app.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: ['/ws'], upstream: upstream('u_app', p.app) }] },
        {
          host: 'secure.test',
          sslOnly: false,
          tls: { certSecret: 'site_cert', keySecret: 'site_key' },
          locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_secure', p.app) }],
        },
        {
          host: '*.wild.test',
          sslOnly: false,
          tls: { certSecret: 'wild_cert', keySecret: 'wild_key' },
          locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream('u_wild', p.app) }],
        },
      ],
      passthrough: [{ host: 'pt.test', upstream: upstream('u_pt', p.tlsBackend) }],
      redirects: [],
      services: [],
      proxyNetworks: [],
      proxySecrets: ['site_cert', 'site_key', 'wild_cert', 'wild_key'],
    };
    const base = loadBaseExtension();
    const streamModulePath = info.streamModulesDir === null ? undefined : path.join(info.streamModulesDir, 'ngx_stream_module.so');
    const accepts = (port: number, host: string) =>
      new Promise<boolean>((resolve) => {
        const s = net.connect(port, host);
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
    for (const [i, addr] of ROUTING.entries()) {
      const dir = path.join(tmp, `routing${i}`);
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
          PidPath: path.join(dir, 'nginx.pid'),
          AccessLogPath: '',
          ErrorLogPath: path.join(dir, 'error.log'),
          // The client's own X-Forwarded-For is kept only from a trusted load balancer, as in single hop.
          TrustedProxies: ['127.0.0.7'],
          HTTPOptions: ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((d) => `${d} ${path.join(dir, d)};`),
        },
      };
      // The second task has loaded what the first has not (yet): the moment between two proxies' reloads.
      // The first does not know fresh.test, holds new.test (a route waiting for its network), has
      // starting.test from a model in which its service had no running task yet, and knows only /old/ of
      // grow.test (a context_root service added since).
      const late = (host: string, name: string, port: number | null = p.app): ClusterModel['virtualHosts'][number] => ({
        host,
        sslOnly: false,
        locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: port === null ? { ...upstream(name, p.app), servers: [] } : upstream(name, port) }],
      });
      const grow = (paths: string[]): ClusterModel['virtualHosts'][number] => ({
        host: 'grow.test',
        sslOnly: false,
        locations: paths.map((root) => ({ path: root, rewrite: false, websocketEndpoints: [], upstream: upstream(`u_grow${root.replace(/\//g, '_')}`, p.app) })),
      });
      // newtls.test (a new stack's HTTPS host, its network or certificate pending): the first task holds
      // it and, as during a multi-node roll, relays its TLS connections to the second (proxyRelayPeers).
      const newTls = { ...late('newtls.test', 'u_newtls'), tls: { certSecret: 'site_cert', keySecret: 'site_key' } };
      const loaded: ClusterModel =
        i === 1
          ? {
              ...model,
              virtualHosts: [...model.virtualHosts, late('new.test', 'u_new'), late('fresh.test', 'u_fresh'), late('starting.test', 'u_starting'), grow(['/old/', '/new/']), newTls],
            }
          : {
              ...model,
              virtualHosts: [...model.virtualHosts, late('starting.test', 'u_starting', null), grow(['/old/'])],
              heldHosts: ['new.test', 'newtls.test'],
              proxyRelayPeers: [ROUTING[1]],
            };
      let conf = renderNginxConf(loaded, ext, {
        secretsDir,
        proxyId: `routing${i}`,
        // Only the edge's source address (127.0.0.1 for every loopback destination) is the edge network.
        edgeTrustedFrom: ['127.0.0.1/32'],
        internalTlsPort: await freePort(),
        internalPassthroughPort: await freePort(),
        tlsFrontDir: path.join(dir, 'front'),
        ...(streamModulePath ? { streamModulePath } : {}),
      });
      // Each "task" listens on its own address; on 127.0.0.2 these ports are closed.
      conf = conf.replace(new RegExp(`listen (${p.http}|${p.https}|${RELAY_TLS_PORT})( |;)`, 'g'), `listen ${addr}:$1$2`);
      // As the agent does: the front starts with the first config that asks for it, and gets its certificates.
      const front = new TlsFront({
        dir: path.join(dir, 'front'),
        controlPort: await freePort(),
        nginxBin: info.bin,
        ndkModulePath: NDK_MODULE,
        luaModulePath: LUA_MODULE,
        testTimeoutMs: 10_000,
        logger: pino({ level: 'silent' }),
      });
      fronts.push(front);
      await mkdir(dir, { recursive: true });
      await front.apply(conf);
      expect(await front.ready(15_000)).toBe(true);
      routing.set(addr, await startNginx(info.bin, dir, conf, () => accepts(p.http, addr)));
    }
    const edgeDir = path.join(tmp, 'edge');
    const conf = edgeConfig({
      upstream: TASKS,
      httpPort: p.edgeHttp,
      httpsPort: p.edgeHttps,
      upstreamHttpPort: p.http,
      upstreamHttpsPort: p.https,
      pidPath: path.join(edgeDir, 'nginx.pid'),
      resolver: `127.0.0.1:${dns.port}`,
      streamModulePath,
      tempDir: edgeDir,
      // As deployed: the keep-alive pool, its tasks set by the agent's EdgePeers from the same DNS.
      pool: { ndkModulePath: NDK_MODULE, luaModulePath: LUA_MODULE, peersPort: p.peers },
    });
    edge = await startNginx(info.bin, edgeDir, conf, async () => (await request(p.edgeHttp, 'app.test', '/ready')).status === 200);
    peers = new EdgePeers({ name: TASKS, port: p.http, resolver: `127.0.0.1:${dns.port}`, peersPort: p.peers, log: pino({ level: 'silent' }) });
    expect(await peers.once()).toBe(`127.0.0.1:${p.http},127.0.0.2:${p.http},127.0.0.3:${p.http}`);
  }, TIMEOUT);

  afterAll(async () => {
    for (const c of [edge, ...routing.values()]) {
      if (!c || c.exitCode !== null) continue;
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      await exited;
    }
    await Promise.all(fronts.map((f) => f.stop('SIGTERM')));
    dns?.close();
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    if (tmp) await rm(tmp, { recursive: true, force: true });
  }, TIMEOUT);

  it('keeps the client address through the edge (realip from its header), for every request, with a dead task listed first', async () => {
    const proxies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      // A client's own copy of the edge header is replaced by the edge.
      const r = await request(p.edgeHttp, 'app.test', `/r${i}`, { localAddress: '127.0.0.8', headers: { [EDGE_CLIENT_ADDRESS_HEADER]: '203.0.113.9' } });
      expect(r.status).toBe(200);
      proxies.add(String(r.headers['x-proxy-id']));
      const e = echoOf(r);
      expect(e.backend).toBe('app');
      expect(e.url).toBe(`/r${i}`);
      expect(e.headers['host']).toBe('app.test');
      expect(e.headers['x-real-ip']).toBe('127.0.0.8');
      expect(e.headers['x-forwarded-for']).toBe('127.0.0.8');
      // Consumed by the routing proxy: an app never sees it.
      expect(e.headers[EDGE_CLIENT_ADDRESS_HEADER.toLowerCase()]).toBeUndefined();
    }
    expect([...proxies].sort()).toEqual(['routing0', 'routing1']);
    expect(dns.queries()).toBeGreaterThan(0);
  });

  it('serves a host, a running task or a path only one routing proxy has loaded yet: the other closes without an answer and the edge asks the next', async () => {
    for (let i = 0; i < 20; i++) {
      for (const [host, urlPath] of [
        ['new.test', `/n${i}`],
        ['fresh.test', `/n${i}`],
        ['starting.test', `/n${i}`],
        ['grow.test', `/new/n${i}`],
      ] as const) {
        const r = await request(p.edgeHttp, host, urlPath);
        expect([host, urlPath, r.status, r.headers['x-proxy-id']]).toEqual([host, urlPath, 200, 'routing1']);
      }
      // What both have loaded is served by both.
      expect((await request(p.edgeHttp, 'grow.test', `/old/o${i}`)).status).toBe(200);
    }
    // A host, or a path of a routed host, no routing proxy serves: each is asked (twice, see the single
    // task test below), then the edge answers 503 and says why.
    for (const [host, urlPath] of [
      ['nobody.test', '/'],
      ['grow.test', '/elsewhere'],
    ]) {
      const unserved = await request(p.edgeHttp, host!, urlPath!);
      expect([host, unserved.status, unserved.body]).toEqual([host, 503, 'signalbox: no service with a running task is routed for this host and path\n']);
    }
    const unknown = await request(p.edgeHttp, 'nobody.test', '/');
    expect(unknown.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
    expect(typeof unknown.headers['x-proxy-id']).toBe('string');
    // The health check of a balancer in front still reaches a routing proxy's default server.
    expect((await request(p.edgeHttp, '127.0.0.1', '/signalbox-health')).status).toBe(200);
  });

  it('answers 503 naming the cause when no routing proxy can be reached', async () => {
    const dir = path.join(tmp, 'edge-nowhere');
    const port = await freePort();
    const conf = edgeConfig({ upstream: 'tasks.nowhere.test', httpPort: port, upstreamHttpPort: p.http, pidPath: path.join(dir, 'nginx.pid'), resolver: `127.0.0.1:${dns.port}`, tempDir: dir });
    const nowhere = await startNginx((await nginxInfo()).bin, dir, conf, async () => (await request(port, 'app.test', '/')).status > 0);
    try {
      const r = await request(port, 'app.test', '/');
      expect([r.status, r.body]).toEqual([503, 'signalbox: no routing proxy could be reached\n']);
    } finally {
      const exited = new Promise((r) => nowhere.once('exit', r));
      nowhere.kill('SIGTERM');
      await exited;
    }
  });

  it('asks a single routing task once more when it closed without an answer (its old workers right after a reload), but never sends a request with a body twice', async () => {
    // The only routing task closes the next `closeNext` connections, then answers 200.
    let closeNext = 0;
    const edge = await edgeBeforeOneTask(path.join(tmp, 'edge-single'), 'single', () => closeNext-- > 0);
    const attempt = async (method: string, close: number) => {
      closeNext = close;
      const before = edge.connections();
      const r = await request(edge.port, 'app.test', '/x', { method, ...(method === 'POST' ? { body: Buffer.from('payload') } : {}) });
      return [method, close, r.status, edge.connections() - before, r.body];
    };
    try {
      expect(await attempt('GET', 1)).toEqual(['GET', 1, 200, 2, 'ok\n']);
      expect(await attempt('HEAD', 1)).toEqual(['HEAD', 1, 200, 2, '']);
      // Asked twice, closed twice: the edge's 503.
      expect(await attempt('GET', 2)).toEqual(['GET', 2, 503, 2, 'signalbox: no service with a running task is routed for this host and path\n']);
      // A POST is sent once: the edge cannot know whether the task handled it.
      expect(await attempt('POST', 1)).toEqual(['POST', 1, 503, 1, 'signalbox: no service with a running task is routed for this host and path\n']);
    } finally {
      await edge.stop();
    }
  });

  it('with the Lua module (as deployed), waits for a routing task that loads the route late instead of failing (a GET), but not for a POST', async () => {
    // A routing task that has not loaded the route yet closes every connection without an answer until
    // `servesFrom` (epoch ms), then answers 200: what the other task of a pair does for the few hundred
    // ms between their reloads.
    let servesFrom = 0;
    const peersPort = await freePort();
    const edge = await edgeBeforeOneTask(path.join(tmp, 'edge-late'), 'late', () => Date.now() < servesFrom, peersPort);
    const latePeers = new EdgePeers({ name: edge.upstream, port: edge.taskPort, resolver: edge.resolver, peersPort, log: pino({ level: 'silent' }) });
    const timed = async (method: string, serveAfterMs: number) => {
      servesFrom = Date.now() + serveAfterMs;
      const [before, t0] = [edge.connections(), Date.now()];
      const r = await request(edge.port, 'app.test', '/x', { method, ...(method === 'POST' ? { body: Buffer.from('payload') } : {}) });
      return { status: r.status, body: r.body, ms: Date.now() - t0, tries: edge.connections() - before };
    };
    try {
      for (const pooled of [false, true]) {
        if (pooled) expect(await latePeers.once()).toBe(`127.0.0.4:${edge.taskPort}`);
        // The route arrives 500 ms late: answered by a later round, after the pauses' first 200 ms.
        const get = await timed('GET', 500);
        expect([pooled, get.status, get.body]).toEqual([pooled, 200, 'ok\n']);
        expect(get.ms).toBeGreaterThanOrEqual(500);
        // Never: the 503 once every round has failed, after both pauses (0.8 s).
        const never = await timed('GET', 60_000);
        expect([pooled, never.status]).toEqual([pooled, 503]);
        expect(never.ms).toBeGreaterThanOrEqual(800);
        // A POST is sent once and gets the 503 at once: the edge cannot know whether the task handled it.
        const post = await timed('POST', 500);
        expect([pooled, post.status, post.tries]).toEqual([pooled, 503, 1]);
        expect(post.ms).toBeLessThan(500);
      }
    } finally {
      await edge.stop();
    }
  }, 30_000);

  it('a stopping edge (the lame duck) fails the LB health path for each load balancer that checks it, while it serves every other request, until each has seen it fail; a one-off check is no load balancer', async () => {
    const peersPort = await freePort();
    const edge = await edgeBeforeOneTask(path.join(tmp, 'edge-lame'), 'lame', () => false, peersPort);
    const log = pino({ level: 'silent' });
    let stop = false;
    const health: Record<string, { at: number; status: number }[]> = { '127.0.0.5': [], '127.0.0.6': [] };
    // Two load balancers, one checking every 100 ms, one every 250 ms.
    const checker = async (from: string, everyMs: number) => {
      while (!stop) {
        const r = await request(edge.port, '', '/signalbox-health', { localAddress: from });
        health[from]!.push({ at: Date.now(), status: r.status });
        await new Promise((res) => setTimeout(res, everyMs));
      }
    };
    const served: number[] = [];
    const client = async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
      while (!stop) served.push((await request(edge.port, 'app.test', '/x', { agent })).status);
      agent.destroy();
    };
    try {
      // Someone's one curl of the health path: no load balancer, so no wait and the switch stays off.
      expect((await request(edge.port, '', '/signalbox-health', { localAddress: '127.0.0.7' })).status).toBe(200);
      expect(await lameDuck({ port: peersPort, maxMs: 5000, log })).toEqual({ checkers: [], notWarned: [], waitedMs: 0 });
      expect((await request(edge.port, '', '/signalbox-health')).status).toBe(200);

      const loops = [checker('127.0.0.5', 100), checker('127.0.0.6', 250), client()];
      await new Promise((res) => setTimeout(res, 800));
      const began = Date.now();
      const r = await lameDuck({ port: peersPort, maxMs: 5000, log });
      const ended = Date.now();
      const servedDuring = served.length;
      await new Promise((res) => setTimeout(res, 300));
      stop = true;
      await Promise.all(loops);

      expect(r.checkers.sort()).toEqual(['127.0.0.5', '127.0.0.6']);
      expect(r.notWarned).toEqual([]);
      // The slower checker needed its 3 answers: about 3 × 250 ms, well short of the cap.
      expect(r.waitedMs).toBeGreaterThanOrEqual((LAME_DUCK_ANSWERS - 1) * 250);
      expect(r.waitedMs).toBeLessThan(3000);
      for (const [from, seen] of Object.entries(health)) {
        const before = seen.filter((h) => h.at < began).map((h) => h.status);
        const after = seen.filter((h) => h.at > ended).map((h) => h.status);
        expect([from, new Set(before)]).toEqual([from, new Set([200])]);
        // Once failing it never passes again (the edge is stopping), and each saw the 503s it was waited for.
        expect([from, new Set(after)]).toEqual([from, new Set([503])]);
        const statuses = seen.map((h) => h.status);
        expect(statuses.slice(statuses.indexOf(503)).every((s) => s === 503)).toBe(true);
        expect(statuses.filter((s) => s === 503).length).toBeGreaterThanOrEqual(LAME_DUCK_ANSWERS);
      }
      const failing = await request(edge.port, '', '/signalbox-health');
      expect([failing.status, failing.body]).toEqual([503, 'signalbox: this edge is stopping\n']);
      // Every other request was served, before, during and after.
      expect(servedDuring).toBeGreaterThan(20);
      expect(new Set(served)).toEqual(new Set([200]));
    } finally {
      stop = true;
      await edge.stop();
    }
  }, 30_000);

  it('the lame duck ends at its cap, naming the load balancer that stopped checking before it saw the edge fail', async () => {
    const peersPort = await freePort();
    const edge = await edgeBeforeOneTask(path.join(tmp, 'edge-lame-cap'), 'lamecap', () => false, peersPort);
    try {
      for (let i = 0; i < 3; i++) expect((await request(edge.port, '', '/signalbox-health', { localAddress: '127.0.0.5' })).status).toBe(200);
      const r = await lameDuck({ port: peersPort, maxMs: 700, log: pino({ level: 'silent' }) });
      expect([r.checkers, r.notWarned]).toEqual([['127.0.0.5'], ['127.0.0.5']]);
      expect(r.waitedMs).toBeGreaterThanOrEqual(700);
      expect(r.waitedMs).toBeLessThan(1500);
      expect((await request(edge.port, 'app.test', '/x')).status).toBe(200);
    } finally {
      await edge.stop();
    }
  }, 30_000);

  it("passes a trusted client's X-Forwarded-For chain unchanged, as single hop does (the edge adds nothing)", async () => {
    const r = await request(p.edgeHttp, 'app.test', '/xff', { localAddress: '127.0.0.7', headers: { 'x-forwarded-for': '198.51.100.1, 198.51.100.2' } });
    expect(echoOf(r).headers['x-forwarded-for']).toBe('198.51.100.1, 198.51.100.2, 127.0.0.7');
    expect(echoOf(r).headers['x-real-ip']).toBe('127.0.0.7');
    // From a client that is not a trusted load balancer, its chain is replaced by its own address.
    const u = await request(p.edgeHttp, 'app.test', '/xff', { localAddress: '127.0.0.8', headers: { 'x-forwarded-for': '198.51.100.1' } });
    expect(echoOf(u).headers['x-forwarded-for']).toBe('127.0.0.8');
  });

  it('ignores the edge header from anyone but the edge network (an app or a client talking to a routing proxy directly)', async () => {
    const r = await request(p.http, 'app.test', '/forged', { localAddress: '127.0.0.9', headers: { [EDGE_CLIENT_ADDRESS_HEADER]: '203.0.113.9' } }, ROUTING[0]);
    expect(r.status).toBe(200);
    const e = echoOf(r);
    expect(e.headers['x-real-ip']).toBe('127.0.0.9');
    expect(e.headers['x-forwarded-for']).toBe('127.0.0.9');
    expect(e.headers[EDGE_CLIENT_ADDRESS_HEADER.toLowerCase()]).toBeUndefined();
  });

  it('streams a POST body through the edge, with a Content-Length and chunked', async () => {
    const body = Buffer.alloc(3 * 1024 * 1024 + 7, 'signalbox');
    for (const chunked of [false, true]) {
      const r = await request(p.edgeHttp, 'app.test', '/upload', { method: 'POST', body, chunked });
      expect(r.status).toBe(200);
      expect(echoOf(r)).toMatchObject({ method: 'POST', bodyLength: body.length, bodySha256: sha256(body) });
    }
  });

  it('passes a large request header through (up to the routing proxy’s own limit)', async () => {
    const cookie = `c=${'x'.repeat(7000)}`;
    const r = await request(p.edgeHttp, 'app.test', '/big', { headers: { cookie } });
    expect(r.status).toBe(200);
    expect(echoOf(r).headers['cookie']).toBe(cookie);
  });

  it('passes a WebSocket upgrade through and keeps the tunnel open both ways', async () => {
    const socket = net.connect(p.edgeHttp, '127.0.0.1');
    let got = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (got += d));
    const waitFor = async (text: string) => {
      const started = Date.now();
      while (!got.includes(text)) {
        if (Date.now() - started > 10_000) throw new Error(`no ${JSON.stringify(text)} within 10 s; got ${JSON.stringify(got)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    socket.write('GET /ws HTTP/1.1\r\nHost: app.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n');
    await waitFor('\r\n\r\n');
    expect(got).toMatch(/^HTTP\/1\.1 101 /);
    socket.write('ping-1');
    await waitFor('ping-1');
    socket.write('ping-2');
    await waitFor('ping-2');
    socket.destroy();
  });

  it('ends TLS in the routing task’s TLS front (L4 through the edge, PROXY protocol) and keeps the client address and scheme', async () => {
    const r = await request(p.edgeHttps, 'secure.test', '/s', { tls: true, localAddress: '127.0.0.8' });
    expect(r.status).toBe(200);
    const e = echoOf(r);
    expect(e.headers['x-forwarded-proto']).toBe('https');
    expect(e.headers['x-real-ip']).toBe('127.0.0.8');
    expect(e.headers['host']).toBe('secure.test');
    // Consumed by the routing nginx: an app never sees the front's client address header.
    expect(e.headers[EDGE_CLIENT_ADDRESS_HEADER.toLowerCase()]).toBeUndefined();
  });

  it('the TLS front picks the certificate by SNI (exact, then wildcard) and rejects the handshake of a name it has none for', async () => {
    expect(await peerCommonName(p.edgeHttps, 'secure.test')).toBe('test');
    expect(await peerCommonName(p.edgeHttps, 'a.wild.test')).toBe('wild');
    expect(await peerCommonName(p.edgeHttps, 'deep.a.wild.test')).toBe('wild');
    expect(echoOf(await request(p.edgeHttps, 'a.wild.test', '/w', { tls: true }))).toMatchObject({ url: '/w' });
    // `*.wild.test` does not cover wild.test itself, and nobody.test has no certificate.
    for (const name of ['wild.test', 'nobody.test']) await expect(peerCommonName(p.edgeHttps, name)).rejects.toThrow();
  });

  it('relays the TLS connections for a host it holds to the task past the roll (proxyRelayPeers): every HTTPS request for it through the edge is answered, client address kept', async () => {
    const served = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await request(p.edgeHttps, 'newtls.test', `/r${i}`, { tls: true, localAddress: '127.0.0.8' });
      expect([i, r.status]).toEqual([i, 200]);
      expect(echoOf(r).headers['x-real-ip']).toBe('127.0.0.8');
      served.add(String(r.headers['x-proxy-id']));
    }
    expect([...served]).toEqual(['routing1']);
    // Straight to the first task's public TLS port (as the edge sends it: a PROXY header first): relayed.
    const direct = await proxiedTlsGet(ROUTING[0], p.https, 'newtls.test', '/direct', '127.0.0.9');
    expect([direct.status, direct.headers['x-proxy-id'], echoOf(direct).headers['x-real-ip']]).toEqual([200, 'routing1', '127.0.0.9']);
    // What it serves itself is not relayed.
    expect((await proxiedTlsGet(ROUTING[0], p.https, 'secure.test', '/own', '127.0.0.9')).headers['x-proxy-id']).toBe('routing0');
  });

  it('never relays twice: on the relay port a held host is refused like on a task without the relay, so a connection cannot loop', async () => {
    await expect(proxiedTlsGet(ROUTING[0], RELAY_TLS_PORT, 'newtls.test', '/loop', '127.0.0.9')).rejects.toThrow();
    // The task past the roll takes it there, and anything it serves.
    expect((await proxiedTlsGet(ROUTING[1], RELAY_TLS_PORT, 'newtls.test', '/relayed', '127.0.0.9')).status).toBe(200);
    expect((await proxiedTlsGet(ROUTING[0], RELAY_TLS_PORT, 'secure.test', '/relayed', '127.0.0.9')).headers['x-proxy-id']).toBe('routing0');
  });

  it('passes TLS through untouched behind the edge', async () => {
    const r = await request(p.edgeHttps, 'pt.test', '/direct', { tls: true });
    expect(echoOf(r)).toMatchObject({ backend: 'passthrough-backend', url: '/direct' });
    expect(r.headers['x-server-info']).toBeUndefined();
  });

  it('a busy TLS keep-alive connection (L4 through the edge) is ended cleanly (Connection: close) once keepalive_time has passed', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const started = Date.now();
    let closedAfter = -1;
    let requests = 0;
    while (Date.now() - started < 10_000) {
      const r = await request(p.edgeHttps, 'secure.test', '/ka', { tls: true, agent });
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

  it('reuses its connections to the routing proxies for GET (the keep-alive pool), never for a POST', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const before = timeWaitOn(p.http);
      for (let i = 0; i < 30; i++) expect((await request(p.edgeHttp, 'app.test', `/pooled${i}`, { agent })).status).toBe(200);
      const afterGets = timeWaitOn(p.http);
      for (let i = 0; i < 30; i++) expect((await request(p.edgeHttp, 'app.test', `/fresh${i}`, { agent, method: 'POST', body: Buffer.from('x') })).status).toBe(200);
      const afterPosts = timeWaitOn(p.http);
      // A connection per request is closed by the routing proxy (it leaves a TIME-WAIT there); pooled ones are
      // not. Fewer than 30 for the POSTs: on loopback Linux reuses a TIME-WAIT tuple for a new connection.
      expect(afterGets - before).toBeLessThanOrEqual(3);
      expect(afterPosts - afterGets).toBeGreaterThanOrEqual(15);
    } finally {
      agent.destroy();
    }
  }, 30_000);

  // HTTPS: TLS and the keep-alive end in each task's TLS front, which never reloads; before the front the
  // routing nginx ended them, and each reload reset a few idle keep-alive connections (docs/performance.md).
  it.each([
    ['HTTP', false],
    ['HTTPS', true],
  ] as const)(
    '0 errors of any kind on %s keep-alive connections while both routing proxies reload in a loop (GET and POST)',
    async (_scheme, tlsClient) => {
      const RELOADS = 30;
      const LOOPS = 4;
      const errors: Record<string, number> = {};
      const statuses: Record<number, number> = {};
      const servedBy: Record<string, number> = {};
      let total = 0;
      let reused = 0;
      let stop = false;
      const body = Buffer.alloc(2048, 'p');
      const loop = async (n: number) => {
        const agent = tlsClient ? new https.Agent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
        for (let i = 0; !stop; i++) {
          const post = i % 2 === 1;
          try {
            const r = tlsClient
              ? await request(p.edgeHttps, 'secure.test', `/loop${n}`, { agent, tls: true, ...(post ? { method: 'POST', body } : {}) })
              : await request(p.edgeHttp, 'app.test', `/loop${n}`, { agent, ...(post ? { method: 'POST', body } : {}) });
            total++;
            if (r.reused) reused++;
            statuses[r.status] = (statuses[r.status] ?? 0) + 1;
            const id = String(r.headers['x-proxy-id']);
            servedBy[id] = (servedBy[id] ?? 0) + 1;
            if (post && r.status === 200 && echoOf(r).bodyLength !== body.length) errors['short body'] = (errors['short body'] ?? 0) + 1;
          } catch (e) {
            const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
            errors[code] = (errors[code] ?? 0) + 1;
          }
        }
        agent.destroy();
      };
      const loops = Array.from({ length: LOOPS }, (_, n) => loop(n));
      let reloads = 0;
      const began = Date.now();
      let elapsed = 0;
      try {
        for (let i = 0; i < RELOADS; i++) {
          await reload(routing.get(ROUTING[i % ROUTING.length]!)!);
          reloads++;
          // Let requests run on the new workers (and old ones finish) before the next reload.
          await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        stop = true;
        await Promise.all(loops);
        elapsed = Date.now() - began;
      }
      expect(reloads).toBe(RELOADS);
      expect(errors).toEqual({});
      expect(Object.keys(statuses)).toEqual(['200']);
      expect(Object.keys(servedBy).sort()).toEqual(['routing0', 'routing1']);
      // The clients kept their connections across every reload: a new one only at the start of each loop and
      // when the edge (HTTP) or the TLS front (HTTPS) ends one cleanly: after keepalive_requests (the edge's
      // 10 000, nginx's default 1 000 in the front, as the routing nginx had), and over HTTPS after
      // keepalive_time (5 s, what lets a stopping task drain), so the loop's seconds bound those.
      expect(total).toBeGreaterThan(RELOADS * 10);
      const cleanEnds = tlsClient ? Math.ceil(total / 1000) + LOOPS * Math.ceil(elapsed / 5000) : Math.ceil(total / 10_000);
      expect(total - reused).toBeLessThanOrEqual(LOOPS + cleanEnds);
    },
    120_000,
  );
});
