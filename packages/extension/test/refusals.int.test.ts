// Issue 9: a proxy refuses a config the extension accepted. The agent reports nginx's reason; the
// extension traces it to the services it names, excludes them like services that fail nginx -t
// there (ERR_PROXY_REFUSED) and publishes the rest, so the other services keep updating.
import { jest } from '@jest/globals';
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { NginxValidator } from '../src/nginx-validator.js';
import { Pipeline } from '../src/pipeline.js';
import { missingSecret, servicesBlamed } from '../src/refusals.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { MemoryPublisher } from './helpers/memory-publisher.js';

/** Debian builds stream as a module; behind the edge (config.toml's default) the TLS port is a stream block. */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

jest.setTimeout(60_000);

const parsed = parseConfig('[Extensions.default]\n');
if (!parsed.ok) throw new Error('defaults must parse');
const ext: ExtensionConfig = parsed.config.Extensions.default!;

function model(port = 80): ClusterModel {
  const vh = (host: string, service: string, addr: string, tls?: { certSecret: string; keySecret: string }) => ({
    host,
    sslOnly: false,
    ...(tls ? { tls } : {}),
    locations: [
      {
        path: '/',
        rewrite: false,
        websocketEndpoints: [],
        upstream: {
          name: `u_${service}`,
          servers: [{ addr, port: service === 'b' ? port : 80, service }],
          balance: 'round_robin' as const,
          tls: { enabled: false, verify: false },
          services: [service],
        },
      },
    ],
  });
  return {
    cluster: '',
    virtualHosts: [vh('a.test', 'a', '10.0.0.2'), vh('b.test', 'b', '10.0.0.3'), vh('c.test', 'c', '10.0.0.4', { certSecret: 'c.crt', keySecret: 'c.key' })],
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: ['c.crt', 'c.key'],
  };
}

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
    allowedModules: [STREAM_MODULE],
  });
  return { published: publisher.published, served, pipeline };
}

const lineOf = (text: string, needle: string) => text.split('\n').findIndex((l) => l.includes(needle)) + 1;

test('servicesBlamed: a line in a server or upstream block, a secret path, or nothing', async () => {
  const { served, pipeline } = setup();
  await pipeline.process(model(), ext);
  const text = served.get()!.text;
  const m = model();
  expect(servicesBlamed(`[emerg] bad in /etc/nginx/.nginx.conf.7.ab12.tmp:${lineOf(text, 'server_name "b.test"')}`, text, m)).toEqual(['b']);
  expect(servicesBlamed(`[emerg] bad in /etc/nginx/nginx.conf:${lineOf(text, 'server 10.0.0.2:80')}`, text, m)).toEqual(['a']);
  expect(servicesBlamed('[emerg] cannot load certificate "/run/secrets/c.crt": PEM_read_bio_X509_AUX() failed', text, m)).toEqual(['c']);
  expect(servicesBlamed(`[emerg] bad in /etc/nginx/nginx.conf:${lineOf(text, 'worker_connections')}`, text, m)).toEqual([]);
  expect(servicesBlamed('[emerg] something without a place', text, m)).toEqual([]);
});

test('a refusal of the served config excludes the services it names and publishes the rest; retried when their routes change', async () => {
  const { published, served, pipeline } = setup();
  await pipeline.process(model(), ext);
  const first = served.get()!;
  // Stale or unattributable refusals change nothing.
  expect(await pipeline.proxyRefusal({ sha256: '0'.repeat(64), reason: 'whatever' })).toBeUndefined();
  expect(await pipeline.proxyRefusal({ sha256: first.sha256, reason: '[emerg] no place' })).toBeUndefined();
  const res = await pipeline.proxyRefusal({ sha256: first.sha256, reason: `[emerg] "proxy_pass" bad in /etc/nginx/.nginx.conf.1.x.tmp:${lineOf(first.text, 'server_name "b.test"')}` });
  expect(res?.outcome).toBe('published');
  expect(res?.excluded).toEqual([{ service: 'b', code: 'ERR_PROXY_REFUSED', reason: expect.stringContaining('"proxy_pass" bad') }]);
  const text = served.get()!.text;
  expect(text).toContain('server_name "a.test"');
  // Not routed; behind the edge with nothing else to take it, it answers like an unknown host.
  expect(text).not.toContain('server_name "b.test"');
  expect(text).not.toMatch(/upstream u_b\b/);
  expect(published).toHaveLength(2);
  // The same model again: b stays excluded. A model where b's routes changed: b is tried again.
  expect((await pipeline.process(model(), ext)).excluded.map((x) => x.service)).toEqual(['b']);
  const again = await pipeline.process(model(8080), ext);
  expect(again.excluded).toEqual([]);
  expect(served.get()!.text).toMatch(/upstream u_b\b/);
});

// Issue 15: a certificate secret reaches a proxy only with new proxy tasks. Core lists the secrets the
// running proxy tasks do not all mount yet (model.pendingSecrets); their routes wait instead of making
// every running proxy refuse the config, and are published once the secret is mounted.
test('a route on a secret the running proxies do not mount yet waits (WARN_SECRET_PENDING), the others keep updating, and it is published once mounted', async () => {
  const { served, pipeline } = setup();
  const pending = { ...model(), pendingSecrets: ['c.crt'] };
  const first = await pipeline.process(pending, ext);
  expect(first.outcome).toBe('published');
  expect(first.excluded).toEqual([{ service: 'c', code: 'WARN_SECRET_PENDING', reason: expect.stringContaining('secret "c.crt"') }]);
  expect(served.get()!.text).not.toContain('/run/secrets/c.crt');
  expect(served.get()!.text).toMatch(/upstream u_a\b/);
  // Another service changes meanwhile: published, c still waits.
  const other = await pipeline.process({ ...model(8080), pendingSecrets: ['c.crt'] }, ext);
  expect(other.outcome).toBe('published');
  expect(other.excluded.map((x) => [x.service, x.code])).toEqual([['c', 'WARN_SECRET_PENDING']]);
  expect(served.get()!.text).toContain('server 10.0.0.3:8080');
  // Core sees every running proxy task mount it: c is published with its certificate.
  const mounted = await pipeline.process(model(8080), ext);
  expect(mounted.outcome).toBe('published');
  expect(mounted.excluded).toEqual([]);
  expect(served.get()!.text).toContain('ssl_certificate "/run/secrets/c.crt";');
  expect(served.get()!.text).toMatch(/upstream u_c\b/);
});

// Issue 15: a network reaches a proxy only with new proxy tasks. Core lists the services whose backends
// are on a network some running proxy task is not attached to (model.pendingNetworks); their routes wait
// (the old task would take them and fail their requests) and are published once every task is on it.
test('a route on a network a running proxy task lacks waits (WARN_NETWORK_PENDING), routes already served stay, and it is published once attached', async () => {
  const { served, pipeline } = setup();
  await pipeline.process(model(), ext);
  expect(served.get()!.text).toMatch(/upstream u_a\b/);
  // b moves to a network the proxy is joining (its servers change): it waits, a and c are served as before.
  const pending = { ...model(8080), pendingNetworks: [{ service: 'b', network: 'new-net' }] };
  const first = await pipeline.process(pending, ext);
  expect(first.outcome).toBe('published');
  expect(first.excluded).toEqual([{ service: 'b', code: 'WARN_NETWORK_PENDING', reason: expect.stringContaining('network "new-net"') }]);
  expect(served.get()!.text).not.toContain('10.0.0.3');
  expect(served.get()!.text).toMatch(/upstream u_a\b/);
  expect(served.get()!.text).toMatch(/upstream u_c\b/);
  // A pending entry for a service no longer routed is not reported.
  const gone = await pipeline.process({ ...pending, pendingNetworks: [...pending.pendingNetworks, { service: 'zz', network: 'other' }] }, ext);
  expect(gone.excluded.map((x) => x.service)).toEqual(['b']);
  // Every running proxy task is on the network: b is published. The old task told to shut down (core
  // no longer waits for it) is named beside the config, so its agent does not install it.
  const attached = await pipeline.process({ ...model(8080), retiredProxyTasks: ['oldtask1'] }, ext);
  expect(attached.outcome).toBe('published');
  expect(attached.excluded).toEqual([]);
  expect(served.get()!.text).toContain('server 10.0.0.3:8080');
  expect(served.get()!.notForTasks).toEqual(['oldtask1']);
  // The next config published once it is gone names nobody.
  await pipeline.process(model(9090), ext);
  expect(served.get()!.text).toContain('server 10.0.0.3:9090');
  expect(served.get()!.notForTasks).toBeUndefined();
});

// The tasks that replace the old ones (model.proxyTasksPastPending) are on the network: they are served a
// second config in which the held route is published, checked with nginx -t like the first; the others
// and the Docker config object get the one that holds it.
test('tasks past the roll get the held route in a config of their own; the others and the published object do not', async () => {
  const { published, served, pipeline } = setup();
  await pipeline.process(model(), ext);
  const objects = published.length;
  const pending = { ...model(8080), pendingNetworks: [{ service: 'b', network: 'new-net' }], proxyTasksPastPending: ['newtask1'] };
  const res = await pipeline.process(pending, ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded).toEqual([{ service: 'b', code: 'WARN_NETWORK_PENDING', reason: expect.stringContaining('network "new-net"') }]);
  const cur = served.get()!;
  expect(cur.text).not.toContain('10.0.0.3');
  expect(cur.early?.forTasks).toEqual(['newtask1']);
  expect(cur.early?.text).toContain('server 10.0.0.3:8080');
  expect(cur.early?.text).toMatch(/upstream u_a\b/);
  expect(published).toHaveLength(objects + 1);
  expect(published.at(-1)?.text).toBe(cur.text);
  // Another task starts: the same configs, one more task named; nothing new is published.
  const more = await pipeline.process({ ...pending, proxyTasksPastPending: ['newtask1', 'newtask2'] }, ext);
  expect(more.outcome).toBe('unchanged');
  expect(served.get()!.early?.forTasks).toEqual(['newtask1', 'newtask2']);
  expect(published).toHaveLength(objects + 1);
  // The roll is over: one config again, with b, and nothing for the tasks past it.
  await pipeline.process({ ...model(8080), retiredProxyTasks: ['oldtask1'] }, ext);
  expect(served.get()!.text).toBe(cur.early?.text);
  expect(served.get()!.early).toBeUndefined();
  // Named tasks but nothing held that they could publish (the extension cannot read a pending secret's
  // pair, or nothing is pending): no second config.
  await pipeline.process({ ...model(9090), proxyTasksPastPending: ['newtask1'] }, ext);
  expect(served.get()!.early).toBeUndefined();
});

// On several nodes the roll goes one task at a time: core names the healthy tasks past it (proxyRelayPeers)
// and the old ones relay the TLS connections of the hosts they hold to them. The tasks past the roll relay
// nothing (they hold nothing of the roll, and a relay to themselves would loop).
test('with relay peers the held hosts are relayed in the config of the old tasks, never in that of the tasks past the roll', async () => {
  const { served, pipeline } = setup();
  await pipeline.process(model(), ext);
  const pending = { ...model(8080), pendingNetworks: [{ service: 'b', network: 'new-net' }], proxyTasksPastPending: ['newtask1'], proxyRelayPeers: ['10.0.9.7'] };
  await pipeline.process(pending, ext);
  const cur = served.get()!;
  expect(cur.text).toContain('server 10.0.9.7:10445;');
  expect(cur.text).toMatch(/"b\.test" signalbox_relay;/);
  expect(cur.early?.text).toContain('server 10.0.0.3:8080');
  expect(cur.early?.text).not.toContain('signalbox_relay');
  // The roll is over: nothing relayed.
  await pipeline.process({ ...model(8080), retiredProxyTasks: ['oldtask1'] }, ext);
  expect(served.get()!.text).not.toContain('signalbox_relay');
});

test('a refusal because a secret core mounts is missing (a proxy task on its way out) excludes nothing; other refusals of that secret still do', async () => {
  const { published, served, pipeline } = setup();
  await pipeline.process(model(), ext);
  const first = served.get()!;
  const missing =
    '[emerg] cannot load certificate "/run/secrets/c.crt": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory:calling fopen(/run/secrets/c.crt, r) error:10000080:BIO routines::no such file)';
  expect(await pipeline.proxyRefusal({ sha256: first.sha256, reason: missing })).toBeUndefined();
  expect(published).toHaveLength(1);
  // The next model publishes c as before: it was never excluded.
  const next = await pipeline.process(model(8080), ext);
  expect(next.excluded).toEqual([]);
  expect(served.get()!.text).toMatch(/upstream u_c\b/);
  // A certificate the proxy cannot read for another reason is still the service's fault.
  const bad = await pipeline.proxyRefusal({ sha256: served.get()!.sha256, reason: '[emerg] cannot load certificate "/run/secrets/c.crt": PEM_read_bio_X509_AUX() failed' });
  expect(bad?.excluded).toEqual([{ service: 'c', code: 'ERR_PROXY_REFUSED', reason: expect.stringContaining('PEM_read_bio') }]);
});

test('missingSecret: the secret of a "No such file" refusal only', () => {
  expect(missingSecret('cannot load certificate "/run/secrets/x.crt": BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory)')).toBe('x.crt');
  expect(missingSecret('cannot load certificate "/run/secrets/x.crt": PEM_read_bio_X509_AUX() failed')).toBeUndefined();
  expect(missingSecret('open() "/etc/nginx/x" failed (2: No such file or directory)')).toBeUndefined();
});
