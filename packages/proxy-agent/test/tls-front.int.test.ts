// The TLS front on real nginx, in both modes: certificates through the shared dict (Lua, as in the
// signalbox-base image) and written into the config (an nginx without Lua). A client reaches the front's
// socket as the routing nginx's stream block does (PROXY header, then TLS); a plain HTTP server on the
// request socket stands in for the routing nginx's HTTPS servers.
import { createServer, type Server } from 'node:http';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { TLS_FRONT_SOCKET, TLS_REQUESTS_SOCKET } from '@signalbox/protocol';
import { TlsFront } from '../src/tls-front.js';
import { listChildren } from '../src/nginx.js';
import { makeTempDir, silentLogger } from './helpers.js';

const T = 60_000;
const NGINX = '/usr/sbin/nginx';
const NDK = '/usr/lib/nginx/modules/ndk_http_module.so';
const LUA = '/usr/lib/nginx/modules/ngx_http_lua_module.so';
let nextPort = 18791;

async function certificate(dir: string, name: string): Promise<void> {
  await execa('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '1',
    '-subj',
    `/CN=${name}`,
    '-keyout',
    path.join(dir, `${name}.key`),
    '-out',
    path.join(dir, `${name}.crt`),
  ]);
}

/** A routing config as the extension renders it behind the edge, reduced to what the front reads. */
function routingConfig(secrets: string, hosts: Record<string, string>, fallback: string | null): string {
  const entry = (name: string) => `"${path.join(secrets, `${name}.crt`)} ${path.join(secrets, `${name}.key`)}"`;
  return `worker_processes 1;
http {
    keepalive_timeout 75s;
    ssl_protocols TLSv1.2 TLSv1.3;

    map $ssl_server_name $signalbox_tls_certificate {
        hostnames;
${Object.entries(hosts)
  .map(([host, cert]) => `        "${host}" ${entry(cert)};\n`)
  .join('')}        default ${fallback ? entry(fallback) : '""'};
    }
}
`;
}

/** Connects as the stream block does: PROXY header with `client`, then TLS with `servername`. */
function connect(dir: string, servername: string, client = '203.0.113.7'): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(path.join(dir, TLS_FRONT_SOCKET), () => {
      raw.write(`PROXY TCP4 ${client} 10.0.0.1 40000 443\r\n`);
      const socket = tls.connect({ socket: raw, servername, rejectUnauthorized: false }, () => resolve(socket));
      socket.once('error', reject);
    });
    raw.once('error', reject);
  });
}

async function commonName(dir: string, servername: string): Promise<string> {
  const s = await connect(dir, servername);
  const cn = String(s.getPeerCertificate().subject?.CN);
  s.destroy();
  return cn;
}

/** GET over a TLS socket, HTTP/1.1 keep-alive: resolves to the body. */
function get(socket: tls.TLSSocket, host: string, urlPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const onData = (c: Buffer) => {
      data += c.toString();
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: (\d+)/i.exec(data.slice(0, end))?.[1] ?? -1);
      if (data.length - end - 4 < length) return;
      socket.off('data', onData);
      resolve(data.slice(end + 4, end + 4 + length));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(`GET ${urlPath} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  });
}

describe.each([
  ['Lua: certificates in a shared dict', true],
  ['no Lua: certificates in the config', false],
] as const)('TLS front (%s)', (_mode, withLua) => {
  let dir: string;
  let secrets: string;
  let cleanup: () => Promise<void>;
  let front: TlsFront;
  let routing: Server;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sb-front-'));
    secrets = path.join(dir, 'secrets');
    await mkdir(secrets);
    for (const name of ['alpha', 'wild', 'fallback', 'late']) await certificate(secrets, name);
    front = new TlsFront({
      dir: path.join(dir, 'front'),
      controlPort: nextPort++,
      nginxBin: NGINX,
      ndkModulePath: withLua ? NDK : path.join(dir, 'no-ndk.so'),
      luaModulePath: withLua ? LUA : path.join(dir, 'no-lua.so'),
      testTimeoutMs: 10_000,
      logger: silentLogger,
      checkMs: 200,
    });
    expect(front.lua).toBe(withLua);
    // The routing nginx's HTTPS servers, in plain HTTP on the request socket: echo what they receive.
    routing = createServer((req, res) => {
      const body = JSON.stringify({ host: req.headers.host, url: req.url, client: req.headers['x-signalbox-client-address'] });
      res.setHeader('content-length', Buffer.byteLength(body));
      res.end(body);
    });
    await mkdir(path.join(dir, 'front'), { recursive: true });
    await new Promise<void>((r) => routing.listen(path.join(dir, 'front', TLS_REQUESTS_SOCKET), r));
    // The front's workers run as nobody (nginx started as root): as the routing nginx's socket, open to them.
    await chmod(dir, 0o755);
    await chmod(path.join(dir, 'front', TLS_REQUESTS_SOCKET), 0o666);
    await front.apply(routingConfig(secrets, { 'alpha.test': 'alpha', '*.wild.test': 'wild' }, null));
    expect(await front.ready(15_000)).toBe(true);
  }, T);

  afterAll(async () => {
    await front?.stop('SIGTERM');
    await new Promise((r) => routing?.close(r));
    await cleanup?.();
  }, T);

  it('picks the certificate by SNI, exact then wildcard, and rejects a name it has none for', async () => {
    expect(await commonName(path.join(dir, 'front'), 'alpha.test')).toBe('alpha');
    expect(await commonName(path.join(dir, 'front'), 'x.wild.test')).toBe('wild');
    expect(await commonName(path.join(dir, 'front'), 'a.b.wild.test')).toBe('wild');
    for (const name of ['wild.test', 'nobody.test']) await expect(commonName(path.join(dir, 'front'), name)).rejects.toThrow();
  });

  it('sends each request to the request socket with Host and the client address from the PROXY header, keep-alive kept', async () => {
    const socket = await connect(path.join(dir, 'front'), 'alpha.test', '198.51.100.4');
    for (let i = 0; i < 3; i++) expect(JSON.parse(await get(socket, 'alpha.test', `/r${i}`))).toEqual({ host: 'alpha.test', url: `/r${i}`, client: '198.51.100.4' });
    socket.destroy();
  });

  it(
    withLua ? 'takes a new host and a default certificate without reloading (same workers)' : 'takes a new host and a default certificate by a reload of the front',
    async () => {
      const master = Number((await readFile(path.join(dir, 'front', 'nginx.pid'), 'utf8')).trim());
      const before = new Set(((await listChildren(master)) ?? []).map((c) => c.pid));
      expect(before.size).toBeGreaterThan(0);
      await front.apply(routingConfig(secrets, { 'alpha.test': 'alpha', '*.wild.test': 'wild', 'late.test': 'late' }, 'fallback'));
      expect(await front.ready(15_000)).toBe(true);
      expect(await commonName(path.join(dir, 'front'), 'late.test')).toBe('late');
      expect(await commonName(path.join(dir, 'front'), 'nobody.test')).toBe('fallback');
      const after = new Set(((await listChildren(master)) ?? []).filter((c) => !c.cmdline.includes('shutting down')).map((c) => c.pid));
      if (withLua) expect(after).toEqual(before);
      else expect([...after].some((pid) => !before.has(pid))).toBe(true);
    },
    T,
  );

  (withLua ? it : it.skip)(
    'a restarted front gets its certificates again (the shared dict starts empty)',
    async () => {
      const pidFile = path.join(dir, 'front', 'nginx.pid');
      const master = Number((await readFile(pidFile, 'utf8')).trim());
      process.kill(master, 'SIGKILL');
      // The supervisor starts a new master (backoff 0.5 s; the killed one's workers are told to quit). Its
      // shared dict starts empty, and the agent's check (every 200 ms here) sends the certificates again.
      const until = Date.now() + 20_000;
      let restarted = false;
      let cn = '';
      while (Date.now() < until) {
        const now = Number((await readFile(pidFile, 'utf8').catch(() => '0')).trim());
        restarted ||= now !== master && now > 0 && ((await listChildren(now)) ?? []).length > 0;
        if (restarted) cn = await commonName(path.join(dir, 'front'), 'late.test').catch(() => '');
        if (cn === 'late') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(restarted).toBe(true);
      expect(cn).toBe('late');
    },
    T,
  );
});

describe('TLS front that cannot start', () => {
  it(
    'leaves the task unhealthy (not ready, with the reason) instead of serving HTTPS without a terminator',
    async () => {
      const { dir, cleanup } = await makeTempDir('sb-front-bad-');
      try {
        const secrets = path.join(dir, 'secrets');
        await mkdir(secrets);
        await certificate(secrets, 'alpha');
        // /bin/false as nginx: every `nginx -t` of the front's config fails.
        const front = new TlsFront({
          dir: path.join(dir, 'front'),
          controlPort: nextPort++,
          nginxBin: '/bin/false',
          ndkModulePath: NDK,
          luaModulePath: LUA,
          testTimeoutMs: 5000,
          logger: silentLogger,
        });
        expect(front.state()).toBeUndefined();
        await expect(front.apply(routingConfig(secrets, { 'alpha.test': 'alpha' }, null))).rejects.toThrow(/fails nginx -t/);
        expect(front.state()).toEqual({ running: false, ready: false, lastError: expect.stringMatching(/fails nginx -t/) });
        await front.stop('SIGTERM');
      } finally {
        await cleanup();
      }
    },
    T,
  );
});
