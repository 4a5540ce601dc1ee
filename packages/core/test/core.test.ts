// Timing logic runs on jest's fake clock (advanceTimersByTimeAsync), so a loaded machine cannot change
// what these tests see; nothing here asserts on elapsed wall-clock time.
import { jest } from '@jest/globals';
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import type { InjectOptions } from 'fastify';
import { buildApp } from '../src/api.js';
import { Coalescer } from '../src/coalescer.js';
import { ExclusionStore } from '../src/exclusions.js';
import { createMetrics } from '../src/metrics.js';
import { ModelStore } from '../src/model-store.js';

const log = createLogger('test', 'silent');
const cfg = parseConfig('[Extensions.default]\n');
if (!cfg.ok) throw new Error('default config must parse');
const ext: ExtensionConfig = cfg.config.Extensions.default!;
const empty = (cluster = ''): ClusterModel => ({ cluster, virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] });

afterEach(() => {
  jest.useRealTimers();
});

describe('Coalescer', () => {
  test('a burst of triggers becomes one run; a trigger during a run causes exactly one more', async () => {
    jest.useFakeTimers();
    let runs = 0;
    let release: () => void = () => {};
    const c = new Coalescer(
      async () => {
        runs++;
        if (runs === 1) await new Promise<void>((r) => (release = r));
      },
      { quietMs: 20, maxWaitMs: 100 },
    );
    for (let i = 0; i < 50; i++) c.trigger();
    await jest.advanceTimersByTimeAsync(19);
    expect(runs).toBe(0); // still quiet-waiting
    await jest.advanceTimersByTimeAsync(41);
    expect(runs).toBe(1);
    for (let i = 0; i < 10; i++) c.trigger();
    await jest.advanceTimersByTimeAsync(200);
    expect(runs).toBe(1); // never two at once
    release();
    await jest.advanceTimersByTimeAsync(80);
    expect(runs).toBe(2);
    await jest.advanceTimersByTimeAsync(500);
    expect(runs).toBe(2); // exactly one more
    c.stop();
  });

  test('after stop, triggers run nothing', async () => {
    jest.useFakeTimers();
    let runs = 0;
    const c = new Coalescer(async () => void runs++, { quietMs: 10, maxWaitMs: 50 });
    c.stop();
    c.trigger();
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toBe(0);
  });

  test('a steady stream of triggers still runs within maxWait', async () => {
    jest.useFakeTimers();
    let runs = 0;
    const c = new Coalescer(async () => void runs++, { quietMs: 50, maxWaitMs: 120 });
    const t = setInterval(() => c.trigger(), 10);
    // First trigger at 10 ms: the quiet period never comes, maxWait fires the run at 130 ms.
    await jest.advanceTimersByTimeAsync(129);
    expect(runs).toBe(0);
    await jest.advanceTimersByTimeAsync(71);
    clearInterval(t);
    c.stop();
    expect(runs).toBe(1);
  });
});

describe('ModelStore', () => {
  test('set reports changes only when the content changes', () => {
    const s = new ModelStore();
    expect(s.set('default', ext, empty())).toBe(true);
    expect(s.set('default', ext, empty())).toBe(false);
    expect(s.set('default', ext, { ...empty(), proxyNetworks: ['x'] })).toBe(true);
  });

  test('waitForChange resolves on a new version, or undefined after the timeout', async () => {
    const s = new ModelStore();
    s.set('default', ext, empty());
    const v = s.get('default')!.version;
    const waiting = s.waitForChange('default', v, 1000);
    s.set('default', ext, { ...empty(), proxySecrets: ['a'] });
    expect((await waiting)?.model.proxySecrets).toEqual(['a']);
    expect(await s.waitForChange('default', s.get('default')!.version, 30)).toBeUndefined();
  });
});

jest.setTimeout(30_000); // the fuzz tests make a few hundred requests; slow on a loaded machine

const TOKEN = 'test-token-0123456789abcdef0123456789abcdef';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** A request with the API token (core refuses everything but /v1/health without it). */
const call = (app: ReturnType<typeof buildApp>, o: InjectOptions) => app.inject({ ...o, headers: { ...AUTH, ...(o.headers ?? {}) } });

describe('core API', () => {
  const setup = () => {
    const store = new ModelStore();
    store.set('default', ext, empty());
    const exclusions = new ExclusionStore();
    const app = buildApp({ store, exclusions, statuses: () => [], registry: createMetrics(false).registry, log, apiToken: TOKEN });
    return { app, store, exclusions };
  };

  test('model with ETag; 304 when unchanged; long-poll returns the next version', async () => {
    const { app, store } = setup();
    const first = await call(app, { url: '/v1/extensions/default/model' });
    expect(first.statusCode).toBe(200);
    const etag = first.headers.etag as string;
    expect(etag).toBe(`"${store.get('default')!.version}"`);
    const same = await call(app, { url: '/v1/extensions/default/model', headers: { 'if-none-match': etag } });
    expect(same.statusCode).toBe(304);
    const pending = call(app, { url: '/v1/extensions/default/model?wait=5', headers: { 'if-none-match': etag } });
    setTimeout(() => store.set('default', ext, { ...empty(), proxyNetworks: ['n'] }), 50);
    const next = await pending;
    expect(next.statusCode).toBe(200);
    expect(next.json().model.proxyNetworks).toEqual(['n']);
    expect(next.headers.etag).not.toBe(etag);
  });

  test('unknown extension is a coded 404', async () => {
    const { app } = setup();
    const r = await call(app, { url: '/v1/extensions/nope/model' });
    expect(r.statusCode).toBe(404);
    expect(r.json().code).toBe('ERR_EXTENSION_UNKNOWN');
  });

  test('exclusions reported by an extension mark the service disabled with nginx reason', async () => {
    const { app, exclusions } = setup();
    const r = await call(app, { method: 'PUT', url: '/v1/extensions/default/exclusions', payload: { excluded: [{ service: 'web', reason: 'unknown directive' }] } });
    expect(r.statusCode).toBe(200);
    const merged = exclusions.apply([{ id: '1', name: 'web', cluster: '', status: 'enabled', hosts: ['w.test'], servers: 2, errors: [], warnings: [] }], () => '');
    expect(merged[0]).toMatchObject({ status: 'disabled', servers: 0 });
    expect(merged[0]!.errors[0]!.code).toBe('ERR_NGINX_REJECTED');
  });

  test('certificate and proxy-refusal exclusions keep their own codes (issue 9); unknown codes fall back', async () => {
    const { app, exclusions } = setup();
    const excluded = [
      { service: 'a', reason: 'secret db-password (ssl_cert) is not a PEM certificate', code: 'ERR_CERT_INVALID' },
      { service: 'b', reason: 'cannot load certificate', code: 'ERR_PROXY_REFUSED' },
      { service: 'c', reason: 'x', code: 'ERR_SOMETHING_ELSE' },
    ];
    await call(app, { method: 'PUT', url: '/v1/extensions/default/exclusions', payload: { excluded } });
    const st = (name: string) => ({ id: name, name, cluster: '', status: 'enabled' as const, hosts: [], servers: 1, errors: [], warnings: [] });
    const merged = exclusions.apply([st('a'), st('b'), st('c')], () => '');
    expect(merged.map((s) => [s.name, s.status, s.errors[0]!.code, s.errors[0]!.key])).toEqual([
      ['a', 'disabled', 'ERR_CERT_INVALID', 'com.docker.lb.ssl_cert'],
      ['b', 'disabled', 'ERR_PROXY_REFUSED', 'com.docker.lb.*'],
      ['c', 'disabled', 'ERR_NGINX_REJECTED', 'com.docker.lb.*'],
    ]);
  });

  test('closing the server does not wait for long-polls in flight (core restarts on every config.toml change)', async () => {
    const { app, store } = setup();
    await app.listen({ host: '127.0.0.1', port: 0 });
    const port = (app.server.address() as { port: number }).port;
    const etag = `"${store.get('default')!.version}"`;
    const held = jest.spyOn(store, 'waitForChange');
    const poll = fetch(`http://127.0.0.1:${port}/v1/extensions/default/model?wait=30`, { headers: { 'if-none-match': etag, ...AUTH } }).then(
      (r) => r.status,
      () => 'closed',
    );
    // Wait (ceiling 10 s) until core holds the poll.
    for (const end = Date.now() + 10_000; held.mock.calls.length === 0 && Date.now() < end;) await new Promise((r) => setTimeout(r, 10));
    expect(held).toHaveBeenCalled();
    // The poll would be held 30 s; close must end it rather than wait (the ceiling is far below 30 s).
    let ceiling: NodeJS.Timeout | undefined;
    const closed = await Promise.race([app.close().then(() => 'closed'), new Promise((r) => (ceiling = setTimeout(() => r('still waiting for the long-poll'), 15_000)))]);
    clearTimeout(ceiling);
    expect(closed).toBe('closed');
    expect(await poll).toBe('closed');
    store.set('default', ext, { ...empty(), proxySecrets: ['release-the-waiter'] }); // clears its 30 s timer
  }, 20_000);

  test('metrics are served in Prometheus text format', async () => {
    const { app } = setup();
    const r = await call(app, { url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.body).toContain('signalbox_model_updates_total');
  });

  test('every path but /v1/health needs the bearer token; a wrong or malformed one is a coded 401', async () => {
    const { app, exclusions } = setup();
    expect((await app.inject({ url: '/v1/health' })).statusCode).toBe(200);
    const bad = [undefined, '', 'Bearer', `Bearer ${TOKEN}x`, `bearer ${TOKEN}`, `Basic ${TOKEN}`, `Bearer ${TOKEN.slice(0, -1)}`, `Bearer  ${TOKEN} extra`, 'Bearer \u0000'];
    for (const url of ['/v1/status', '/v1/extensions', '/v1/extensions/default/model', '/metrics', '/v1/health/../status', '/v1/status?x=/v1/health']) {
      for (const authorization of bad) {
        const r = await app.inject({ url, headers: authorization === undefined ? {} : { authorization } });
        expect(r.statusCode).toBe(401);
        expect(r.json().code).toBe('ERR_API_UNAUTHORIZED');
        expect(r.headers['www-authenticate']).toContain('Bearer');
      }
    }
    // The forged exclusion of the report: refused, and nothing recorded.
    const forged = await app.inject({ method: 'PUT', url: '/v1/extensions/default/exclusions', payload: { excluded: [{ service: 'web', reason: 'spoofed' }] } });
    expect(forged.statusCode).toBe(401);
    expect(exclusions.apply([{ id: '1', name: 'web', cluster: '', status: 'enabled', hosts: [], servers: 1, errors: [], warnings: [] }], () => '')[0]!.status).toBe('enabled');
    expect((await call(app, { url: '/v1/status' })).statusCode).toBe(200);
  });

  test('bad ?wait= values are a coded 400, never a guess or a crash', async () => {
    const { app } = setup();
    for (const wait of ['-1', '1.5', 'abc', '1e9', '9999999', '0x10', ' 5', '%00', 'Infinity', 'NaN']) {
      const r = await call(app, { url: `/v1/extensions/default/model?wait=${encodeURIComponent(wait)}` });
      expect([r.statusCode, r.json().code]).toEqual([400, 'ERR_API_BAD_REQUEST']);
    }
    const twice = await call(app, { url: '/v1/extensions/default/model?wait=1&wait=2' });
    expect(twice.statusCode).toBe(400);
    // Large but well-formed values are capped at the maximum, not refused.
    expect((await call(app, { url: '/v1/extensions/default/model?wait=600' })).statusCode).toBe(200);
  });

  test('fuzzed bodies, headers and parameters: always a 4xx with a code or a 2xx/304, and the API keeps answering', async () => {
    const { app } = setup();
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const junk = (n: number) => Array.from({ length: n }, () => String.fromCharCode(Math.floor(rnd() * 0x7f))).join('');
    const bodies: string[] = [
      '',
      'null',
      '[]',
      '{}',
      '{"excluded": null}',
      '{"excluded": {}}',
      '{"excluded": [1, "x", null, {"service": 1}]}',
      '{"excluded": [{"service": "a", "reason": {"x": 1}}]}',
      '{"__proto__": {"excluded": []}}',
      '{"excluded": [' + '[],'.repeat(5000) + '[]]}',
      '{',
      '{"excluded": "' + 'x'.repeat(2 * 1024 * 1024) + '"}',
    ];
    for (let i = 0; i < 100; i++) bodies.push(junk(Math.floor(rnd() * 300)));
    for (const payload of bodies) {
      const r = await call(app, { method: 'PUT', url: '/v1/extensions/default/exclusions', payload, headers: { 'content-type': 'application/json' } });
      expect(r.statusCode === 200 || (r.statusCode >= 400 && r.statusCode < 500)).toBe(true);
      if (r.statusCode !== 200) expect(typeof r.json().code).toBe('string');
    }
    const tooMany = await call(app, { method: 'PUT', url: '/v1/extensions/default/exclusions', payload: { excluded: Array.from({ length: 10_001 }, () => ({ service: 's', reason: 'r' })) } });
    expect(tooMany.statusCode).toBe(400);
    for (let i = 0; i < 100; i++) {
      const name = encodeURIComponent(junk(Math.floor(rnd() * 400)));
      const r = await call(app, { url: `/v1/extensions/${name}/model?wait=${encodeURIComponent(junk(3))}`, headers: { 'if-none-match': junk(Math.floor(rnd() * 2000)).replace(/[^\x20-\x7e]/g, '') } });
      expect(r.statusCode).toBeGreaterThanOrEqual(200);
      expect(r.statusCode).toBeLessThan(500);
    }
    expect((await call(app, { url: '/v1/status' })).statusCode).toBe(200);
  });
});

describe('deploy storms', () => {
  test('a run of service spec changes switches to storm timing; a lone change does not', async () => {
    jest.useFakeTimers();
    const { Synchronizer } = await import('../src/synchronizer.js');
    const store = new ModelStore();
    const { StatusTracker } = await import('../src/status-tracker.js');
    const sync = new Synchronizer({
      config: cfg.ok ? cfg.config : (undefined as never),
      pollIntervalMs: 60_000,
      readSnapshot: async () => ({ services: [], networks: [], secrets: [], nodes: [] }),
      store,
      tracker: new StatusTracker(log),
      metrics: createMetrics(false),
      log,
      stormThreshold: 3,
      stormWindowMs: 1000,
      stormHoldMs: 200,
    });
    sync.noteSpecChange();
    expect(sync.inStorm()).toBe(false);
    sync.noteSpecChange();
    sync.noteSpecChange();
    expect(sync.inStorm()).toBe(true);
    jest.advanceTimersByTime(199);
    expect(sync.inStorm()).toBe(true);
    jest.advanceTimersByTime(2);
    expect(sync.inStorm()).toBe(false);
    sync.stop();
  });

  test('storm timing coalesces a stream of triggers into runs at most every maxWait', async () => {
    jest.useFakeTimers();
    let runs = 0;
    const c = new Coalescer(async () => void runs++, { quietMs: 5, maxWaitMs: 10 });
    const storm = { quietMs: 100, maxWaitMs: 150 };
    const t = setInterval(() => c.trigger(storm), 20);
    // Triggers every 20 ms from 20 ms: runs at 170 and 330 ms (maxWait after the first trigger of each
    // round), never at the normal 5-10 ms pace.
    await jest.advanceTimersByTimeAsync(169);
    expect(runs).toBe(0);
    await jest.advanceTimersByTimeAsync(231);
    clearInterval(t);
    c.stop();
    expect(runs).toBe(2);
  });
});

describe('ACME refusals', () => {
  test('reach the service status, the served model (acmeHosts) and the refusal gauge', async () => {
    const { Synchronizer } = await import('../src/synchronizer.js');
    const { StatusTracker } = await import('../src/status-tracker.js');
    const acmeCfg = parseConfig('[Extensions.default]\n[Extensions.default.Acme]\nDirectoryURL = "https://ca.test/dir"\nAllowedHosts = ["*.ok.test"]\n');
    if (!acmeCfg.ok) throw new Error(JSON.stringify(acmeCfg.errors));
    const net = { id: 'n1', name: 'appnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };
    const service = {
      id: 'id-web',
      name: 'web',
      labels: { 'com.docker.lb.hosts': 'a.ok.test,b.other.test', 'com.docker.lb.port': '80', 'com.docker.lb.acme': 'true' },
      createdAt: '2026-01-01T00:00:00Z',
      networkIds: ['n1'],
      endpointMode: 'dnsrr' as const,
      vips: [],
      ports: [],
      tasks: [{ id: 't1', nodeId: 'node1', slot: 1, addresses: [{ networkId: 'n1', addr: '10.0.1.5' }] }],
    };
    const store = new ModelStore();
    const tracker = new StatusTracker(log);
    const metrics = createMetrics(false);
    const sync = new Synchronizer({
      config: acmeCfg.config,
      pollIntervalMs: 60_000,
      readSnapshot: async () => ({ services: [service], networks: [net], secrets: [], nodes: [] }),
      store,
      tracker,
      metrics,
      log,
    });
    sync.trigger('test');
    for (let i = 0; i < 200 && tracker.all().length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    sync.stop();
    const [status] = tracker.all();
    expect(status).toMatchObject({ name: 'web', status: 'enabled' });
    expect(status!.warnings.map((w) => [w.code, w.value])).toEqual([['WARN_ACME_HOST_NOT_ALLOWED', 'b.other.test']]);
    expect(store.get('default')?.model.acmeHosts).toEqual(['a.ok.test']);
    expect(await metrics.registry.getSingleMetricAsString('signalbox_acme_refused_hosts')).toContain('signalbox_acme_refused_hosts{cluster="",code="WARN_ACME_HOST_NOT_ALLOWED"} 1');
  });
});

describe('ACME order failures reported by the extension', () => {
  test('show as WARN_ACME_ORDER_FAILED on the enabled services routing the host, until the extension reports them fixed', async () => {
    const { AcmeFailureStore } = await import('../src/acme-failures.js');
    const store = new ModelStore();
    store.set('default', ext, empty());
    const acmeFailures = new AcmeFailureStore();
    const base = [
      { id: '1', name: 'web', cluster: '', status: 'enabled' as const, hosts: ['a.test', 'b.test'], servers: 1, errors: [], warnings: [] },
      { id: '2', name: 'other', cluster: '', status: 'enabled' as const, hosts: ['c.test'], servers: 1, errors: [], warnings: [] },
      { id: '3', name: 'off', cluster: '', status: 'disabled' as const, hosts: ['a.test'], servers: 0, errors: [], warnings: [] },
    ];
    const app = buildApp({ store, exclusions: new ExclusionStore(), acmeFailures, statuses: () => acmeFailures.apply(base, () => ''), registry: createMetrics(false).registry, log, apiToken: TOKEN });
    const put = (payload: unknown) => call(app, { method: 'PUT', url: '/v1/extensions/default/acme', payload: payload as object });
    expect((await put({ failed: [{ host: 'a.test', error: 'urn:ietf:params:acme:error:rateLimited', failures: 3, nextAt: '2026-01-01T00:10:00Z' }, { bogus: 1 }] })).statusCode).toBe(200);
    const services = (await call(app, { url: '/v1/status' })).json().services as { name: string; warnings: { code: string; value: string; message: string }[] }[];
    expect(services.map((s) => [s.name, s.warnings.map((w) => `${w.code} ${w.value}`)])).toEqual([
      ['web', ['WARN_ACME_ORDER_FAILED a.test']],
      ['other', []],
      ['off', []],
    ]);
    expect(services[0]!.warnings[0]!.message).toMatch(/3 failed tries: urn:ietf:params:acme:error:rateLimited\); next try at 2026-01-01T00:10:00.000Z/);
    expect((await put({ failed: [] })).statusCode).toBe(200);
    expect(((await call(app, { url: '/v1/status' })).json().services as { warnings: unknown[] }[]).every((s) => s.warnings.length === 0)).toBe(true);
    expect((await put({ failed: 'x' })).statusCode).toBe(400);
    expect((await call(app, { method: 'PUT', url: '/v1/extensions/nope/acme', payload: { failed: [] } })).statusCode).toBe(404);
    expect((await app.inject({ method: 'PUT', url: '/v1/extensions/default/acme', payload: { failed: [] } })).statusCode).toBe(401);
  });
});
