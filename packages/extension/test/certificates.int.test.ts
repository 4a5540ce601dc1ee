// Issue 9 case 5: one tenant's bad certificate secret must not freeze every proxy. The extension reads
// the mounted secrets (here: a directory of real PEM files made with openssl), excludes only the
// services whose pair cannot be served, and publishes the rest through real nginx -t.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { writeSelfSigned } from '@signalbox/test-support';
import { certificateCulprits, covers, pairProblem, secretsDirReader } from '../src/certificates.js';
import { NginxValidator } from '../src/nginx-validator.js';
import { Pipeline } from '../src/pipeline.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { MemoryPublisher } from './helpers/memory-publisher.js';

/** Debian builds stream as a module; behind the edge (config.toml's default) the TLS port is a stream block. */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

jest.setTimeout(60_000);

const dir = mkdtempSync(join(tmpdir(), 'sbx-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A self-signed pair for `names` written as secrets <base>.crt / <base>.key. */
function pair(base: string, names: string[]): void {
  writeSelfSigned({ certFile: join(dir, `${base}.crt`), keyFile: join(dir, `${base}.key`) }, { dnsNames: names, days: 30, keyType: 'rsa' });
}
pair('shop', ['shop.example.com']);
pair('wild', ['*.shop.example.com']);
pair('other', ['other.example.com']);
writeFileSync(join(dir, 'db-password'), 'hunter2\n');
const read = secretsDirReader(dir);

test('covers: exact names, and one-label wildcards over exact hosts only', () => {
  expect(covers('shop.example.com', 'shop.example.com')).toBe(true);
  expect(covers('*.shop.example.com', 'login.shop.example.com')).toBe(true);
  expect(covers('*.shop.example.com', 'a.b.shop.example.com')).toBe(false);
  expect(covers('*.shop.example.com', '*.shop.example.com')).toBe(true);
  expect(covers('*.example.com', '*.shop.example.com')).toBe(false);
});

test('pairProblem: parse, match, host coverage, mounted', () => {
  expect(pairProblem('shop.example.com', 'shop.crt', 'shop.key', read)).toBeUndefined();
  expect(pairProblem('login.shop.example.com', 'wild.crt', 'wild.key', read)).toBeUndefined();
  expect(pairProblem('x.example.com', 'db-password', 'db-password', read)).toBe('secret db-password (ssl_cert) is not a PEM certificate');
  expect(pairProblem('shop.example.com', 'shop.crt', 'other.key', read)).toBe('key other.key does not belong to certificate shop.crt');
  expect(pairProblem('evil.example.net', 'shop.crt', 'shop.key', read)).toBe('certificate shop.crt is not for host evil.example.net (it is for shop.example.com)');
  expect(pairProblem('shop.example.com', 'missing.crt', 'shop.key', read)).toMatch(/not mounted in the extension yet/);
});

const parsed = parseConfig('[Extensions.default]\n');
if (!parsed.ok) throw new Error('defaults must parse');
const ext: ExtensionConfig = parsed.config.Extensions.default!;

function tlsModel(hosts: { host: string; service: string; cert: string; key: string; addr: string }[]): ClusterModel {
  return {
    cluster: '',
    virtualHosts: hosts.map((h) => ({
      host: h.host,
      sslOnly: false,
      tls: { certSecret: h.cert, keySecret: h.key },
      locations: [
        {
          path: '/',
          rewrite: false,
          websocketEndpoints: [],
          upstream: {
            name: `u_${h.service}`,
            servers: [{ addr: h.addr, port: 80, service: h.service }],
            balance: 'round_robin',
            tls: { enabled: false, verify: false },
            services: [h.service],
          },
        },
      ],
    })),
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: [...new Set(hosts.flatMap((h) => [h.cert, h.key]))].sort(),
  };
}

/** The real pipeline (nginx -t) reading the secrets of `dir`, publishing in memory. */
function setup() {
  const publisher = new MemoryPublisher();
  const pipeline = new Pipeline({
    render: renderNginxConf,
    validator: new NginxValidator(),
    publisher,
    served: new ServedConfigState(),
    log: createLogger('test', 'silent'),
    renderOptions: { streamModulePath: STREAM_MODULE },
    allowedModules: [STREAM_MODULE],
    readSecret: read,
  });
  return { published: publisher.published, pipeline };
}

test('a non-PEM secret excludes only its service; the victim is published and the bad host is not routed', async () => {
  const { published, pipeline } = setup();
  const model = tlsModel([
    { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
    { host: 'evil.example.net', service: 'evil-web', cert: 'db-password', key: 'db-password', addr: '10.0.0.3' },
  ]);
  expect([...certificateCulprits(model, read)]).toEqual([['evil-web', 'secret db-password (ssl_cert) is not a PEM certificate']]);
  const res = await pipeline.process(model, ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded).toEqual([{ service: 'evil-web', code: 'ERR_CERT_INVALID', reason: 'secret db-password (ssl_cert) is not a PEM certificate' }]);
  const conf = published.at(-1)!.text;
  expect(conf).toContain('/run/secrets/shop.crt');
  expect(conf).not.toContain('db-password');
  // Behind the edge with nothing else to take it, the host answers like an unknown one (golden edge-held).
  expect(conf).not.toContain('server_name "evil.example.net"');
});

test('a secret this extension task does not mount yet is a wait (WARN_SECRET_PENDING), not an error; reserved names stay errors', async () => {
  const { published, pipeline } = setup();
  // new.crt/new.key: core mounts them into the new extension task; this (old) task was started before.
  const model = tlsModel([
    { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
    { host: 'new.example.com', service: 'new-web', cert: 'new.crt', key: 'new.key', addr: '10.0.0.4' },
    { host: 'thief.example.com', service: 'thief-web', cert: 'signalbox-api-token-abc123', key: 'signalbox-api-token-abc123', addr: '10.0.0.5' },
  ]);
  const res = await pipeline.process(model, ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded).toEqual([
    { service: 'new-web', code: 'WARN_SECRET_PENDING', reason: expect.stringContaining('waiting for the extension task that mounts secret "new.crt"') },
    { service: 'thief-web', code: 'ERR_CERT_INVALID', reason: expect.stringContaining('signalbox-api-token-abc123') },
  ]);
  const conf = published.at(-1)!.text;
  expect(conf).toContain('/run/secrets/shop.crt');
  expect(conf).not.toContain('new.crt');
  expect(conf).not.toContain('server_name "new.example.com"');
});
