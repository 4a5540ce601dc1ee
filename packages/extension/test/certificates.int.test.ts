// Issue 9 case 5: one tenant's bad certificate secret must not freeze every proxy. Only the proxy tasks
// mount the secrets: the extension publishes the pairs unread (its nginx -t loads dummies), a routing
// task's check (the agent's CertificateCheck, here on a directory of real PEM files made with openssl)
// refuses the config naming the bad pairs, and the extension leaves out only those hosts' services and
// publishes the rest through real nginx -t.
import { jest } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { CertificateCheck } from '@signalbox/proxy-agent';
import { writeSelfSigned } from '@signalbox/test-support';
import { NginxValidator } from '../src/nginx-validator.js';
import { Pipeline } from '../src/pipeline.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { sha256 } from '../src/publisher.js';
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
pair('other', ['other.example.com']);
writeFileSync(join(dir, 'db-password'), 'hunter2\n');

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

/** The real pipeline (nginx -t), publishing in memory; proxies find the secrets in `dir`. */
function setup() {
  const publisher = new MemoryPublisher();
  const served = new ServedConfigState();
  const pipeline = new Pipeline({
    render: renderNginxConf,
    validator: new NginxValidator(),
    publisher,
    served,
    log: createLogger('test', 'silent'),
    renderOptions: { streamModulePath: STREAM_MODULE },
    secretsDir: dir,
    allowedModules: [STREAM_MODULE],
  });
  return { published: publisher.published, pipeline, served };
}

/** What a routing task that mounts `dir` says about a config: its refusal, or undefined when it would install it. */
async function proxyVerdict(text: string) {
  const certificates = await new CertificateCheck({ secretsDir: dir }).problems(text);
  return certificates.length > 0 ? { sha256: sha256(text), reason: 'certificate pairs this proxy task cannot serve', certificates } : undefined;
}

test('a non-PEM secret: the proxy task refuses naming its pair, only its service is left out (ERR_CERT_INVALID), the victim is published', async () => {
  const { published, pipeline } = setup();
  const model = tlsModel([
    { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
    { host: 'evil.example.net', service: 'evil-web', cert: 'db-password', key: 'db-password', addr: '10.0.0.3' },
  ]);
  // The extension cannot read the secrets: it publishes both (nginx -t passes on its dummies).
  expect((await pipeline.process(model, ext)).excluded).toEqual([]);
  const first = published.at(-1)!.text;
  const refusal = await proxyVerdict(first);
  expect(refusal?.certificates).toEqual([{ host: 'evil.example.net', certSecret: 'db-password', keySecret: 'db-password', reason: 'secret db-password (ssl_cert) is not a PEM certificate' }]);
  const res = await pipeline.proxyRefusal(refusal!);
  expect(res?.outcome).toBe('published');
  expect(res?.excluded).toEqual([{ service: 'evil-web', code: 'ERR_CERT_INVALID', reason: 'secret db-password (ssl_cert) is not a PEM certificate' }]);
  const conf = published.at(-1)!.text;
  expect(conf).toContain(`${dir}/shop.crt`);
  expect(conf).not.toContain('db-password');
  // Behind the edge with nothing else to take it, the host answers like an unknown one (golden edge-held).
  expect(conf).not.toContain('server_name "evil.example.net"');
  // The proxies install that one; the same refusal again (another task) changes nothing.
  expect(await proxyVerdict(conf)).toBeUndefined();
  expect(await pipeline.proxyRefusal(refusal!)).toBeUndefined();
  // Still left out with the next model; retried once its labels name other secrets.
  expect((await pipeline.process(model, ext)).excluded.map((x) => x.service)).toEqual(['evil-web']);
  const fixed = tlsModel([
    { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
    { host: 'evil.example.net', service: 'evil-web', cert: 'other.crt', key: 'other.key', addr: '10.0.0.3' },
  ]);
  expect((await pipeline.process(fixed, ext)).excluded).toEqual([]);
  // A pair for another host: nginx -t would load it; the proxy task's check does not serve it.
  const wrongHost = await proxyVerdict(published.at(-1)!.text);
  expect(wrongHost?.certificates).toEqual([
    { host: 'evil.example.net', certSecret: 'other.crt', keySecret: 'other.key', reason: 'certificate other.crt is not for host evil.example.net (it is for other.example.com)' },
  ]);
});

test("a secret the extension cannot read is no wait any more; secrets of Signalbox's own are errors", async () => {
  const { published, pipeline } = setup();
  const model = tlsModel([
    { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
    { host: 'new.example.com', service: 'new-web', cert: 'new.crt', key: 'new.key', addr: '10.0.0.4' },
    { host: 'thief.example.com', service: 'thief-web', cert: 'signalbox-api-token-abc123', key: 'signalbox-api-token-abc123', addr: '10.0.0.5' },
  ]);
  const res = await pipeline.process(model, ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded).toEqual([{ service: 'thief-web', code: 'ERR_CERT_INVALID', reason: expect.stringContaining("secret signalbox-api-token-abc123 is Signalbox's own") }]);
  const conf = published.at(-1)!.text;
  expect(conf).toContain('server_name "new.example.com"');
  expect(conf).not.toContain('thief.example.com');
});

test("a pair refused for a roll's new tasks is left out of both configs", async () => {
  const { pipeline, served } = setup();
  // evil's secret is pending (the running tasks do not mount it): only the new tasks get its route.
  const model: ClusterModel = {
    ...tlsModel([
      { host: 'shop.example.com', service: 'shop-web', cert: 'shop.crt', key: 'shop.key', addr: '10.0.0.2' },
      { host: 'evil.example.net', service: 'evil-web', cert: 'db-password', key: 'db-password', addr: '10.0.0.3' },
    ]),
    pendingSecrets: ['db-password'],
    proxyTasksPastPending: ['task-new'],
  };
  const first = await pipeline.process(model, ext);
  expect(first.excluded).toEqual([{ service: 'evil-web', code: 'WARN_SECRET_PENDING', reason: expect.stringContaining('db-password') }]);
  const early = served.get()!.early!;
  expect(early.text).toContain('server_name "evil.example.net"');
  const refusal = await proxyVerdict(early.text);
  const res = await pipeline.proxyRefusal(refusal!);
  expect(res?.excluded).toEqual([{ service: 'evil-web', code: 'ERR_CERT_INVALID', reason: 'secret db-password (ssl_cert) is not a PEM certificate' }]);
  expect(served.get()!.early).toBeUndefined();
  expect(served.get()!.text).not.toContain('evil.example.net');
});
