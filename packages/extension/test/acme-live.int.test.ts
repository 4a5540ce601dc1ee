// The whole ACME path without a swarm: pebble validates HTTP-01 *through real nginx* (the rendered
// challenge location forwards to the extension's API), the extension renders the issued certificate,
// the proxy agent's AcmeFiles fetches it over the (token-protected) control API into its directory, and
// nginx serves it to a TLS client with SNI, verified against pebble's root; a second replica (its own
// agent directory and nginx) presents the same certificate and forwards HTTP-01 as well.
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import type { AcmeConfig, ClusterModel, ExtensionConfig } from '@signalbox/model';
import { defaultExtensionConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { AcmeFiles } from '@signalbox/proxy-agent';
import { AcmeService } from '../src/acme/service.js';
import { AcmeStore, type AcmeBackend, type StoredObject } from '../src/acme/store.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { buildServer } from '../src/server.js';
import { loadBaseExtension } from './golden/load-cases.js';
import { nginxInfo } from './helpers/nginx-check.js';
import { freePort } from './helpers/free-port.js';
import { startPebble, type Pebble } from './helpers/pebble.js';

const log = createLogger('test', 'silent');
const TOKEN = 'z'.repeat(40);
const HOST = 'live.acme.test';

class MemoryBackend implements AcmeBackend {
  readonly objects = new Map<string, StoredObject>();
  async list(extension: string) {
    return [...this.objects.values()].filter((o) => o.labels['com.signalbox.acme.extension'] === extension);
  }
  async create(obj: StoredObject) {
    this.objects.set(obj.name, obj);
  }
  async remove(name: string) {
    this.objects.delete(name);
  }
}

async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms: number): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function httpGet(port: number, host: string, urlPath: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: urlPath, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

let tmp: string;
let pebble: Pebble;
let extension: FastifyInstance;
let backend: http.Server;
let nginx: ChildProcess | undefined;
let nginx2: ChildProcess | undefined;

afterAll(async () => {
  for (const n of [nginx, nginx2]) {
    if (n && n.exitCode === null) {
      const exited = new Promise((r) => n.once('exit', r));
      n.kill('SIGTERM');
      await exited;
    }
  }
  await pebble?.stop();
  await extension?.close();
  await new Promise((r) => (backend ? backend.close(r) : r(undefined)));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('pebble validates through nginx, the agent fetches the issued pair, nginx serves it with SNI', async () => {
  const info = await nginxInfo();
  tmp = await mkdtemp(path.join(os.tmpdir(), 'sbx-acme-live-'));
  const ports = { http: await freePort(), https: await freePort(), extension: await freePort() };
  backend = http.createServer((_req, res) => res.end('hello from the app'));
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', () => r()));
  const backendPort = (backend.address() as { port: number }).port;

  pebble = await startPebble({ httpPort: ports.http });
  const acmeCfg: AcmeConfig = { ...defaultExtensionConfig('default').Acme, DirectoryURL: pebble.directoryUrl, CABundle: pebble.listenerCaPem };
  const issued: string[] = [];
  const service = new AcmeService({
    store: new AcmeStore(new MemoryBackend(), 'default', { key: { material: Buffer.from('k'.repeat(64)), name: 'test key' }, legacyApiToken: TOKEN }),
    log,
    onIssued: () => issued.push('x'),
    tickMs: 500,
  });
  extension = buildServer({
    served: new ServedConfigState(),
    status: () => ({ excluded: [] }),
    registry: new Registry(),
    log,
    apiToken: TOKEN,
    challenges: service.challenges,
    acmeFiles: () => service.files(),
  });
  await extension.listen({ host: '127.0.0.1', port: ports.extension });

  const model: ClusterModel = {
    cluster: '',
    virtualHosts: [
      {
        host: HOST,
        sslOnly: false,
        locations: [
          {
            path: '/',
            rewrite: false,
            websocketEndpoints: [],
            upstream: { name: 'u_live', servers: [{ addr: '127.0.0.1', port: backendPort, service: 'app' }], balance: 'round_robin', tls: { enabled: false, verify: false }, services: ['app'] },
          },
        ],
      },
    ],
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: [],
    acmeHosts: [HOST],
  };
  const base = loadBaseExtension();
  // The extension's "service name" is its loopback address here: no Docker DNS on the host.
  const ext: ExtensionConfig = {
    ...base,
    ServiceName: '127.0.0.1',
    TargetPort: ports.http,
    PublishedPort: ports.http,
    TargetSSLPort: ports.https,
    PublishedSSLPort: ports.https,
    Acme: acmeCfg,
    Config: {
      ...base.Config,
      User: '',
      PidPath: path.join(tmp, 'nginx.pid'),
      AccessLogPath: path.join(tmp, 'access.log'),
      ErrorLogPath: path.join(tmp, 'error.log'),
      HTTPOptions: ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((d) => `${d} ${path.join(tmp, d)};`),
    },
  };
  const acmeDir = path.join(tmp, 'acme');
  const agentFiles = new AcmeFiles({ dir: acmeDir, extensionUrl: `http://127.0.0.1:${ports.extension}`, headers: { authorization: `Bearer ${TOKEN}` }, log });
  const confPath = path.join(tmp, 'nginx.conf');
  const render = async (): Promise<string> => {
    const conf = renderNginxConf(await service.apply(model, acmeCfg), ext, {
      secretsDir: path.join(tmp, 'secrets'),
      acmeDir,
      acmeChallengePort: ports.extension,
      ...(info.streamModulesDir === null ? {} : { streamModulePath: path.join(info.streamModulesDir, 'ngx_stream_module.so') }),
    });
    await agentFiles.ensure(conf);
    await writeFile(confPath, conf);
    return conf;
  };

  // Before issuance: plain HTTP only, the challenge path forwarded, no TLS server for the host.
  const first = await render();
  expect(first).not.toContain('ssl_certificate ');
  nginx = spawn(info.bin, ['-p', `${tmp}/`, '-c', confPath, '-e', path.join(tmp, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
  await waitFor('nginx', async () => ((await httpGet(ports.http, HOST, '/').catch(() => null))?.status === 200 ? true : undefined), 30_000);
  expect((await httpGet(ports.http, HOST, '/.well-known/acme-challenge/unknown')).status).toBe(404); // answered by the extension

  // apply() started the order; pebble fetches the challenge from nginx on ports.http.
  await waitFor('the certificate', () => (service.status()[0]?.state === 'valid' ? true : undefined), 60_000);
  expect(issued.length).toBeGreaterThan(0);
  const second = await render();
  const files = await readdir(acmeDir);
  expect(files.sort()).toEqual(Object.keys(service.files()).sort());
  expect(files).toHaveLength(2);
  for (const f of files) expect((await stat(path.join(acmeDir, f))).mode & 0o777).toBe(0o600);
  expect((await stat(acmeDir)).mode & 0o777).toBe(0o700);
  expect(second).toContain(`ssl_certificate "${acmeDir}/acme-`);
  nginx.kill('SIGHUP'); // what the agent's reload does

  const root = await pebble.issuerRootPem();
  // GET / over TLS with SNI, the chain verified up to pebble's root.
  const tlsGet = (port: number) =>
    new Promise<{ cert: X509Certificate; body: string } | undefined>((resolve) => {
      // The issued chain's intermediates (the leaf is the first PEM block).
      const issued = service.files()[files.find((f) => f.endsWith('.crt'))!]!;
      const intermediates = issued.split(/(?=-----BEGIN)/).slice(1);
      const sock = tls.connect({ host: '127.0.0.1', port, servername: HOST, ca: [root, ...intermediates] }, () => {
        const cert = new X509Certificate(sock.getPeerX509Certificate()!.raw);
        sock.write(`GET / HTTP/1.1\r\nHost: ${HOST}\r\nConnection: close\r\n\r\n`);
        let body = '';
        sock.on('data', (c: Buffer) => (body += c.toString()));
        sock.on('end', () => resolve({ cert, body }));
      });
      sock.on('error', () => resolve(undefined));
    });
  const served = await waitFor('nginx to serve the ACME certificate', () => tlsGet(ports.https), 15_000);
  expect(served.cert.checkHost(HOST)).toBe(HOST);
  expect(served.body).toContain('hello from the app');
  expect(served.cert.issuer).not.toBe(served.cert.subject);
  const log_ = await readFile(path.join(tmp, 'error.log'), 'utf8').catch(() => '');
  expect(log_).not.toMatch(/\[emerg\]/);

  // A second proxy replica (its own agent directory and nginx, as another task would have): it fetches
  // the same pair from the extension and presents the same certificate, and forwards HTTP-01 too.
  const tmp2 = path.join(tmp, 'replica2');
  await mkdir(tmp2);
  const ports2 = { http: await freePort(), https: await freePort() };
  const ext2: ExtensionConfig = {
    ...ext,
    TargetPort: ports2.http,
    PublishedPort: ports2.http,
    TargetSSLPort: ports2.https,
    PublishedSSLPort: ports2.https,
    Config: {
      ...ext.Config,
      PidPath: path.join(tmp2, 'nginx.pid'),
      AccessLogPath: path.join(tmp2, 'access.log'),
      ErrorLogPath: path.join(tmp2, 'error.log'),
      HTTPOptions: ['client_body_temp_path', 'proxy_temp_path', 'fastcgi_temp_path', 'uwsgi_temp_path', 'scgi_temp_path'].map((d) => `${d} ${path.join(tmp2, d)};`),
    },
  };
  const acmeDir2 = path.join(tmp2, 'acme');
  const agentFiles2 = new AcmeFiles({ dir: acmeDir2, extensionUrl: `http://127.0.0.1:${ports.extension}`, headers: { authorization: `Bearer ${TOKEN}` }, log });
  const conf2 = renderNginxConf(await service.apply(model, acmeCfg), ext2, {
    secretsDir: path.join(tmp, 'secrets'),
    acmeDir: acmeDir2,
    acmeChallengePort: ports.extension,
    ...(info.streamModulesDir === null ? {} : { streamModulePath: path.join(info.streamModulesDir, 'ngx_stream_module.so') }),
  });
  await agentFiles2.ensure(conf2);
  expect((await readdir(acmeDir2)).sort()).toEqual([...files].sort());
  await writeFile(path.join(tmp2, 'nginx.conf'), conf2);
  nginx2 = spawn(info.bin, ['-p', `${tmp2}/`, '-c', path.join(tmp2, 'nginx.conf'), '-e', path.join(tmp2, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
  const served2 = await waitFor('the second replica to serve the ACME certificate', () => tlsGet(ports2.https), 30_000);
  expect(served2.cert.fingerprint256).toBe(served.cert.fingerprint256);
  expect(served2.body).toContain('hello from the app');
  service.challenges.set('replica2-token', 'replica2-token.thumb');
  const challenge = await httpGet(ports2.http, HOST, '/.well-known/acme-challenge/replica2-token');
  expect([challenge.status, challenge.body]).toEqual([200, 'replica2-token.thumb']);
  service.challenges.delete('replica2-token');

  // Files no longer named by the installed config are removed.
  await agentFiles.prune(first);
  expect(await readdir(acmeDir)).toEqual([]);
  service.stop();
}, 240_000);
