// The extension's gate with real nginx: a service whose routes fail nginx -t is found by bisection and
// left out with nginx's reason; everything else is published; a globally broken config is never published.
import { jest } from '@jest/globals';
import type { ClusterModel, ExtensionConfig, Upstream } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { directives } from '../src/config-policy.js';
import { NginxValidator } from '../src/nginx-validator.js';
import type { ConfigValidator } from '../src/nginx-validator.js';
import { Pipeline } from '../src/pipeline.js';
import { renderNginxConf } from '../src/render/index.js';
import { ServedConfigState } from '../src/served-config.js';
import { MemoryPublisher } from './helpers/memory-publisher.js';

/** Debian builds stream as a module; behind the edge (config.toml's default) the TLS port is a stream block. */
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

jest.setTimeout(60_000);

const parsed = parseConfig('[Extensions.default]\n');
if (!parsed.ok) throw new Error('defaults must parse');
const ext: ExtensionConfig = parsed.config.Extensions.default!;

function upstream(name: string, service: string, addr: string): Upstream {
  return { name, servers: [{ addr, port: 80, service }], balance: 'round_robin', tls: { enabled: false, verify: false }, services: [service] };
}

function modelOf(services: { name: string; addr: string }[]): ClusterModel {
  return {
    cluster: '',
    virtualHosts: services.map((s) => ({
      host: `${s.name}.test`,
      sslOnly: false,
      locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: upstream(`u_${s.name.replace(/-/g, '_')}`, s.name, s.addr) }],
    })),
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: [],
  };
}

function setup() {
  const publisher = new MemoryPublisher();
  const served = new ServedConfigState();
  const validator = new NginxValidator();
  const pipeline = new Pipeline({
    render: renderNginxConf,
    validator,
    publisher,
    served,
    log: createLogger('test', 'silent'),
    renderOptions: { proxyId: 'test', streamModulePath: STREAM_MODULE },
    allowedModules: [STREAM_MODULE],
  });
  return { publisher, served, pipeline };
}

test('a valid model is validated and published once; the same bytes are not republished', async () => {
  const { publisher, pipeline } = setup();
  const m = modelOf([{ name: 'a', addr: '10.0.0.2' }]);
  expect((await pipeline.process(m, ext)).outcome).toBe('published');
  expect((await pipeline.process(m, ext)).outcome).toBe('unchanged');
  expect(publisher.published).toHaveLength(1);
});

test('bisection excludes exactly the services that break nginx -t, with nginx reason', async () => {
  const { publisher, pipeline, served } = setup();
  // Addresses that are not IPs make nginx resolve them; these cannot resolve, so nginx -t fails.
  const services = Array.from({ length: 12 }, (_, i) => ({ name: `svc-${String(i).padStart(2, '0')}`, addr: `10.0.0.${i + 2}` }));
  services[3]!.addr = 'no-such-host.invalid';
  services[9]!.addr = 'another-bad.invalid';
  const res = await pipeline.process(modelOf(services), ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded.map((x) => x.service)).toEqual(['svc-03', 'svc-09']);
  for (const x of res.excluded) expect(x.reason).toMatch(/host not found|invalid/i);
  const text = served.get()!.text;
  expect(text).toContain('svc-00.test');
  expect(text).toContain('svc-11.test');
  // An excluded service's host is not routed. Behind the edge, with no default backend or wildcard to
  // take it, it answers like an unknown host: no servers of its own (golden edge-held: when it has).
  expect(text).not.toMatch(/upstream \S*svc_03/);
  expect(text).not.toContain('server_name "svc-03.test"');
  expect(publisher.published).toHaveLength(1);
});

test('a config that fails without any service is refused and nothing is published', async () => {
  const { publisher, pipeline, served } = setup();
  await pipeline.process(modelOf([{ name: 'ok', addr: '10.0.0.2' }]), ext);
  const before = served.get();
  const broken: ExtensionConfig = { ...ext, Config: { ...ext.Config, HTTPOptions: ['bogus_directive on;'] } };
  const res = await pipeline.process(modelOf([{ name: 'ok', addr: '10.0.0.3' }]), broken);
  expect(res.outcome).toBe('refused');
  expect(res.error).toMatch(/bogus_directive/);
  expect(res.excluded).toEqual([]); // not any service's fault: none is blamed
  expect(served.get()).toBe(before);
  expect(publisher.published).toHaveLength(1);
});

test('a config that still fails nginx -t after the exclusions is refused, not published', async () => {
  // nginx -t is not a pure function of the config (names resolve, files come and go): the config left
  // after bisection is checked once more. Here the real nginx -t is wrapped so that the remaining
  // services fail when checked a second time, as when a name stops resolving between two checks.
  const real = new NginxValidator();
  const passed = new Set<string>();
  const validator: ConfigValidator = {
    async validate(render, secrets) {
      let text = '';
      const res = await real.validate((s) => (text = render(s)), secrets);
      const hosts = [...text.matchAll(/server_name\s+([^;]+);/g)]
        .map((m) => m[1])
        .sort()
        .join(' ');
      if (!res.ok || hosts === '') return res;
      if (passed.has(hosts)) return { ok: false, error: `host not found in upstream (second check of ${hosts})` };
      passed.add(hosts);
      return res;
    },
  };
  const publisher = new MemoryPublisher();
  const served = new ServedConfigState();
  const pipeline = new Pipeline({
    render: renderNginxConf,
    validator,
    publisher,
    served,
    log: createLogger('test', 'silent'),
    renderOptions: { proxyId: 'test', streamModulePath: STREAM_MODULE },
    allowedModules: [STREAM_MODULE],
  });
  const res = await pipeline.process(
    modelOf([
      { name: 'good', addr: '10.0.0.2' },
      { name: 'bad', addr: 'no-such-host.invalid' },
    ]),
    ext,
  );
  expect(res.excluded.map((x) => x.service)).toEqual(['bad']);
  expect(res.outcome).toBe('refused');
  expect(res.error).toMatch(/second check/);
  expect(publisher.published).toEqual([]);
  expect(served.get()).toBeUndefined();
});

test('the policy refuses directives no label can produce, even if nginx would accept them', async () => {
  const { publisher, pipeline } = setup();
  const sneaky: ExtensionConfig = { ...ext, Config: { ...ext.Config, HTTPOptions: ['include /etc/passwd;'] } };
  const res = await pipeline.process(modelOf([{ name: 'a', addr: '10.0.0.2' }]), sneaky);
  expect(res.outcome).toBe('refused');
  expect(res.error).toMatch(/ERR_DIRECTIVE_FORBIDDEN: .*"include" is not allowed/);
  expect(publisher.published).toHaveLength(0);
});

test('directives() sees statements, not quoted text or comments', () => {
  const ds = directives('# include x;\nadd_header x "include y; {";\nhttp {\n  server_name a;\n}\n');
  expect(ds.map((d) => d.name)).toEqual(['add_header', 'http', 'server_name']);
});

test('a service naming the API token secret as its certificate is left out, the others are published', async () => {
  const { publisher, pipeline } = setup();
  const m = modelOf([
    { name: 'good', addr: '10.0.0.2' },
    { name: 'thief', addr: '10.0.0.3' },
  ]);
  const thief = m.virtualHosts.find((v) => v.host === 'thief.test')!;
  thief.tls = { certSecret: 'signalbox-api-token-abc123', keySecret: 'signalbox-api-token-abc123' };
  const model = { ...m, proxySecrets: ['signalbox-api-token-abc123'] };
  const res = await pipeline.process(model, ext);
  expect(res.outcome).toBe('published');
  expect(res.excluded.map((x) => x.service)).toEqual(['thief']);
  expect(publisher.published.at(-1)!.text).not.toContain('signalbox-api-token');
});
