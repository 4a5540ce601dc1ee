import { HEALTH_START_PERIOD_SECONDS } from '@signalbox/protocol';
import { buildApp, type AgentSnapshot } from '../src/api.js';
import { silentLogger } from './helpers.js';

const SHA = 'a'.repeat(64);
const BAD_SHA = 'b'.repeat(64);

function snapshot(over: Partial<AgentSnapshot> = {}): AgentSnapshot {
  return {
    installed: { sha256: SHA, configName: 'signalbox-nginx-1', source: 'extension', installedAt: new Date('2026-01-02T03:04:05Z') },
    lastFailure: undefined,
    reloads: 3,
    reloadFailures: 0,
    lastReloadAt: new Date('2026-01-02T03:04:05Z'),
    nginxPid: 4242,
    nginxRunning: true,
    nginxRestarts: 0,
    ...over,
  };
}

function app(s: AgentSnapshot) {
  return buildApp({ logger: silentLogger, snapshot: () => s });
}

describe('GET /v1/health', () => {
  it('is 200 while nginx runs a valid config', async () => {
    const r = await app(snapshot()).inject({ url: '/v1/health' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({ ok: true });
  });

  it('stays 200 when the last candidate failed: the last good config is still served', async () => {
    const failure = { sha256: BAD_SHA, configName: 'x', source: 'extension' as const, reason: 'bogus', at: new Date() };
    const r = await app(snapshot({ lastFailure: failure, reloadFailures: 1 })).inject({ url: '/v1/health' });
    expect(r.statusCode).toBe(200);
  });

  it('is 503 when nginx is not running', async () => {
    const r = await app(snapshot({ nginxRunning: false, nginxPid: undefined })).inject({ url: '/v1/health' });
    expect(r.statusCode).toBe(503);
    expect(r.json()).toMatchObject({ ok: false, reason: 'nginx is not running' });
  });

  it('is 503 when no valid config was ever installed', async () => {
    const r = await app(snapshot({ installed: undefined })).inject({ url: '/v1/health' });
    expect(r.statusCode).toBe(503);
  });

  it('behind the edge, is 503 until the TLS front runs and holds the certificates, naming why', async () => {
    const notYet = await app(snapshot({ tlsFront: { running: true, ready: false, lastError: 'cannot set the TLS front’s certificates: fetch failed' } })).inject({ url: '/v1/health' });
    expect(notYet.statusCode).toBe(503);
    expect(notYet.json()).toEqual({ ok: false, reason: 'the TLS front is not ready: cannot set the TLS front’s certificates: fetch failed' });
    const ready = await app(snapshot({ tlsFront: { running: true, ready: true, lastError: undefined } })).inject({ url: '/v1/health' });
    expect(ready.statusCode).toBe(200);
  });
});

describe('GET /v1/health?wait= (a starting task)', () => {
  it('holds the check open and answers 200 the moment the task turns healthy', async () => {
    let s = snapshot({ nginxRunning: false, nginxPid: undefined });
    const a = buildApp({ logger: silentLogger, snapshot: () => s });
    const t0 = Date.now();
    setTimeout(() => (s = snapshot()), 300);
    const r = await a.inject({ url: '/v1/health?wait=3' });
    const took = Date.now() - t0;
    expect(r.statusCode).toBe(200);
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(1500);
  });

  it('answers 503 with the reason once the wait is over', async () => {
    const a = buildApp({ logger: silentLogger, snapshot: () => snapshot({ installed: undefined }) });
    const t0 = Date.now();
    const r = await a.inject({ url: '/v1/health?wait=0.4' });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(r.statusCode).toBe(503);
    expect(r.json()).toEqual({ ok: false, reason: 'no valid config installed' });
  });

  it('once the task has been healthy, answers at once: a failure is not held', async () => {
    let s = snapshot();
    const a = buildApp({ logger: silentLogger, snapshot: () => s });
    expect((await a.inject({ url: '/v1/health?wait=3' })).statusCode).toBe(200);
    s = snapshot({ nginxRunning: false, nginxPid: undefined });
    const t0 = Date.now();
    const r = await a.inject({ url: '/v1/health?wait=3' });
    expect(r.statusCode).toBe(503);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it("past the checks' start period, a task that never turned healthy is not held: its failures count at the usual pace", async () => {
    let clock = 1_000_000;
    const a = buildApp({ logger: silentLogger, snapshot: () => snapshot({ installed: undefined }), now: () => clock });
    clock += HEALTH_START_PERIOD_SECONDS * 1000 + 1;
    const t0 = Date.now();
    const r = await a.inject({ url: '/v1/health?wait=3' });
    expect(r.statusCode).toBe(503);
    expect(Date.now() - t0).toBeLessThan(200);
  });

  it('refuses a wait beyond the bound (the check times out at 5 s)', async () => {
    const r = await app(snapshot()).inject({ url: '/v1/health?wait=60' });
    expect(r.statusCode).toBe(400);
  });

  it('ends a held check when the API closes, so a stop does not wait for it', async () => {
    const a = buildApp({ logger: silentLogger, snapshot: () => snapshot({ installed: undefined }) });
    await a.listen({ host: '127.0.0.1', port: 0 });
    const { port } = a.server.address() as { port: number };
    const t0 = Date.now();
    const pending = fetch(`http://127.0.0.1:${port}/v1/health?wait=3`);
    await new Promise((r) => setTimeout(r, 200));
    await a.close();
    const r = await pending;
    expect(r.status).toBe(503);
    expect(Date.now() - t0).toBeLessThan(1500);
  });
});

describe('GET /v1/status', () => {
  it('reports the installed config, counters and the nginx pid', async () => {
    const r = await app(snapshot({ drainingWorkers: 2 })).inject({ url: '/v1/status' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      installed: { sha256: SHA, configName: 'signalbox-nginx-1', source: 'extension', installedAt: '2026-01-02T03:04:05.000Z' },
      reloads: 3,
      reloadFailures: 0,
      lastReloadAt: '2026-01-02T03:04:05.000Z',
      nginxPid: 4242,
      nginxRunning: true,
      nginxRestarts: 0,
      drainingWorkers: 2,
      upstreamFailures: [],
    });
  });

  it("includes the last failure with nginx's reason", async () => {
    const at = new Date('2026-01-02T03:05:00Z');
    const s = snapshot({
      lastFailure: { sha256: BAD_SHA, configName: 'signalbox-nginx-2', source: 'extension', reason: 'unknown directive "bogus_directive"', at },
      extension: { url: 'http://ext:8081', etag: BAD_SHA, lastError: undefined, lastContactAt: at },
    });
    const body = (await app(s).inject({ url: '/v1/status' })).json();
    expect(body.lastFailure).toEqual({
      sha256: BAD_SHA,
      configName: 'signalbox-nginx-2',
      source: 'extension',
      reason: 'unknown directive "bogus_directive"',
      at: '2026-01-02T03:05:00.000Z',
    });
    expect(body.extension).toEqual({ url: 'http://ext:8081', etag: BAD_SHA, lastError: null, lastContactAt: '2026-01-02T03:05:00.000Z' });
  });
});

describe('GET /metrics', () => {
  it('exposes reload counters, the config info gauge and the last reload time', async () => {
    let s = snapshot({ reloadFailures: 2 });
    const a = buildApp({ logger: silentLogger, snapshot: () => s });
    const r = await a.inject({ url: '/metrics' });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toContain('signalbox_proxy_reloads_total 3');
    expect(r.body).toContain('signalbox_proxy_reload_failures_total 2');
    expect(r.body).toContain(`signalbox_proxy_config_info{sha256="${SHA}",config="signalbox-nginx-1"} 1`);
    expect(r.body).toContain(`signalbox_proxy_last_reload_timestamp_seconds ${Date.parse('2026-01-02T03:04:05Z') / 1000}`);
    expect(r.body).toContain('signalbox_proxy_nginx_up 1');

    // The info gauge follows the installed config instead of accumulating label sets.
    s = snapshot({ installed: { ...s.installed!, sha256: BAD_SHA, configName: 'signalbox-nginx-2' }, reloads: 4 });
    const r2 = await a.inject({ url: '/metrics' });
    expect(r2.body).toContain('signalbox_proxy_reloads_total 4');
    expect(r2.body).toContain(`config="signalbox-nginx-2"`);
    expect(r2.body).not.toContain(`config="signalbox-nginx-1"`);
  });

  it('keeps a registry per app', async () => {
    const a1 = app(snapshot({ reloads: 1 }));
    const a2 = app(snapshot({ reloads: 2 }));
    expect((await a1.inject({ url: '/metrics' })).body).toContain('signalbox_proxy_reloads_total 1');
    expect((await a2.inject({ url: '/metrics' })).body).toContain('signalbox_proxy_reloads_total 2');
  });
});
