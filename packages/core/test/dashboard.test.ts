// The dashboard recorder and listener against real HTTP servers: the extension's and the proxy agent's
// own status APIs (their buildServer/buildApp) on loopback ports.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Registry } from 'prom-client';
import { createConvergenceMetrics } from '../src/dashboard/metrics.js';
import type { ClusterModel, ExtensionConfig, ServiceStatus, SwarmSnapshot, Upstream } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { buildServer, ServedConfigState } from '@signalbox/extension';
import type { AgentSnapshot } from '@signalbox/proxy-agent';
import { buildApp as buildAgentApp } from '@signalbox/proxy-agent';
import { matches } from '../src/dashboard/plugin.js';
import { DashboardRecorder, makeFetchJson } from '../src/dashboard/recorder.js';
const EXT_TOKEN = 'dashboard-test-token-0123456789abcdef0123';
import { buildDashboardServer, checkBearer } from '../src/dashboard/server.js';
import type { DashboardPayload } from '@signalbox/protocol';
import { diffServices } from '../src/dashboard/view.js';
import { ModelStore } from '../src/model-store.js';

const log = createLogger('test', 'silent');
const cfg = parseConfig('[Extensions.default]\n');
if (!cfg.ok) throw new Error('default config must parse');

const CONTROL = 'net-control';
const APP = 'net-app';

function up(services: string[], servers: { addr: string; service: string }[]): Upstream {
  return {
    name: 'u_x',
    servers: servers.map((s) => ({ ...s, port: 80 })),
    balance: 'round_robin',
    tls: { enabled: false, verify: false },
    services,
  };
}

function status(name: string, servers: number, hosts = [`${name}.test`]): ServiceStatus {
  return { id: `id-${name}`, name, cluster: '', status: 'enabled', hosts, servers, errors: [], warnings: [] };
}

const rejected: ServiceStatus = {
  id: 'id-bad',
  name: 'bad',
  cluster: '',
  status: 'disabled',
  hosts: [],
  servers: 0,
  errors: [
    {
      code: 'ERR_LABEL_PORT_INVALID',
      severity: 'error',
      key: 'com.docker.lb.port',
      value: '99999',
      message: 'is not a port (1-65535)',
    },
  ],
  warnings: [],
};

function model(replicas: number): ClusterModel {
  const servers = Array.from({ length: replicas }, (_, i) => ({ addr: `10.0.1.${i + 2}`, service: 'web' }));
  return {
    cluster: '',
    virtualHosts: [
      {
        host: 'web.test',
        sslOnly: false,
        locations: [
          {
            path: '/',
            rewrite: false,
            websocketEndpoints: [],
            upstream: up(['web', 'web-canary'], [...servers, { addr: '10.0.1.50', service: 'web-canary' }]),
          },
        ],
      },
    ],
    passthrough: [],
    redirects: [],
    services: [status('web', replicas, ['web.test']), status('web-canary', 1, ['web.test']), rejected],
    proxyNetworks: [APP],
    proxySecrets: [],
  };
}

function snapshot(replicas: number, proxyAddrs: string[]): SwarmSnapshot {
  return {
    services: [
      {
        id: 'svc-web',
        name: 'web',
        labels: {},
        createdAt: '',
        networkIds: ['id-app'],
        endpointMode: 'dnsrr',
        vips: [],
        ports: [],
        tasks: Array.from({ length: replicas }, (_, i) => ({
          id: `taskweb${i}aaaaaaaaaaaa`,
          nodeId: 'n1',
          slot: i + 1,
          addresses: [{ networkId: 'id-app', addr: `10.0.1.${i + 2}` }],
        })),
      },
      {
        id: 'svc-proxy',
        name: 'signalbox-proxy',
        labels: {},
        createdAt: '',
        networkIds: ['id-control'],
        endpointMode: 'dnsrr',
        vips: [],
        ports: [],
        tasks: proxyAddrs.map((addr, i) => ({
          id: `taskproxy${i}bbbbbbbbbbb`,
          nodeId: 'n1',
          slot: i + 1,
          addresses: [{ networkId: 'id-control', addr }],
        })),
      },
    ],
    networks: [
      {
        id: 'id-control',
        name: CONTROL,
        driver: 'overlay',
        scope: 'swarm',
        attachable: true,
        ingress: false,
        labels: {},
      },
      { id: 'id-app', name: APP, driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
    ],
    secrets: [],
    nodes: [{ id: 'n1', hostname: 'manager-1', addr: '127.0.0.1', role: 'manager', ready: true }],
  };
}

describe('dashboard recorder against real extension and agent APIs', () => {
  let extensionApp: FastifyInstance;
  let agentApp: FastifyInstance;
  const extState: {
    modelVersion?: string;
    excluded: { service: string; code: 'ERR_NGINX_REJECTED'; reason: string }[];
    lastError?: string;
  } = { excluded: [] };
  const served = new ServedConfigState();
  let agent: AgentSnapshot;
  let recorder: DashboardRecorder;
  let store: ModelStore;
  let ext: ExtensionConfig;
  const registry = new Registry();

  beforeAll(async () => {
    extensionApp = buildServer({ served, status: () => extState, registry: new Registry(), log, apiToken: EXT_TOKEN });
    await extensionApp.listen({ host: '127.0.0.1', port: 0 });
    agent = {
      installed: undefined,
      lastFailure: undefined,
      reloads: 0,
      reloadFailures: 0,
      lastReloadAt: undefined,
      nginxPid: 1,
      nginxRunning: true,
      nginxRestarts: 0,
    };
    agentApp = buildAgentApp({ logger: log, snapshot: () => agent });
    await agentApp.listen({ host: '127.0.0.1', port: 0 });
    const port = (a: FastifyInstance) => (a.server.address() as { port: number }).port;
    ext = { ...cfg.config.Extensions.default!, ServiceName: '127.0.0.1', ProxyServiceName: 'signalbox-proxy' };
    store = new ModelStore();
    recorder = new DashboardRecorder({
      extensions: { default: ext },
      store,
      statuses: () => store.get('default')?.model.services ?? [],
      controlNetwork: CONTROL,
      extensionPort: port(extensionApp),
      agentPort: port(agentApp),
      log,
      metrics: createConvergenceMetrics(registry),
      // The extension's API needs the token (issue 10), as core's recorder sends it.
      fetchJson: makeFetchJson(() => EXT_TOKEN),
    });
  });

  afterAll(async () => {
    recorder.stop();
    await Promise.all([extensionApp.close(), agentApp.close()]);
  });

  const view = () => recorder.current.get()!;

  test('routes carry servers with task and node, the canary split, and rejected services their problem', async () => {
    store.set('default', ext, model(2));
    recorder.noteSnapshot(snapshot(2, ['127.0.0.1', '127.0.0.3']));
    recorder.noteModel('default', store.get('default')!.version, store.get('default')!.model);
    await recorder.poll();
    const v = view();
    expect(v.routes).toHaveLength(1);
    const r = v.routes[0]!;
    expect(r).toMatchObject({ host: 'web.test', path: '/', kind: 'http', services: ['web', 'web-canary'] });
    expect(r.servers[0]).toEqual({
      addr: '10.0.1.2',
      port: 80,
      service: 'web',
      task: 'web.1.taskweb0aaaa',
      node: 'manager-1',
      failures: 0,
      lastFailure: null,
    });
    expect(r.split).toEqual([
      { service: 'web', servers: 2, percent: 66.7 },
      { service: 'web-canary', servers: 1, percent: 33.3 },
    ]);
    const bad = v.services.find((s) => s.name === 'bad')!;
    expect(bad.status).toBe('disabled');
    expect(bad.errors).toEqual([
      {
        code: 'ERR_LABEL_PORT_INVALID',
        severity: 'error',
        key: 'com.docker.lb.port',
        value: '99999',
        message: 'is not a port (1-65535)',
      },
    ]);
    expect(Date.parse(bad.since)).toBeLessThanOrEqual(Date.now());
  });

  test('a proxy task that does not answer is unreachable with the reason; one that answers shows its reloads', async () => {
    agent = {
      ...agent,
      installed: {
        sha256: 'abc',
        configName: 'signalbox-default-1',
        source: 'extension',
        installedAt: new Date('2026-01-01T00:00:00Z'),
      },
      reloads: 4,
      lastReloadAt: new Date('2026-01-01T00:00:00Z'),
    };
    await recorder.poll();
    agent = {
      ...agent,
      upstreamFailures: [
        {
          server: '10.0.1.50:80',
          recent: 3,
          total: 7,
          lastAt: '2026-01-01T00:00:05.000Z',
          lastError: 'connect() failed (111: Connection refused) while connecting to upstream',
        },
      ],
    };
    await recorder.poll();
    const failing = view().routes[0]!.servers.find((x) => x.service === 'web-canary')!;
    expect(failing.failures).toBe(3);
    expect(failing.lastFailure).toBe('connect() failed (111: Connection refused) while connecting to upstream (signalbox-proxy.1.taskproxy0bb, 2026-01-01T00:00:05.000Z)');
    expect(view().routes[0]!.servers.find((x) => x.service === 'web')!.failures).toBe(0);
    const [ok, gone] = view().proxies;
    expect(ok).toMatchObject({
      task: 'signalbox-proxy.1.taskproxy0bb',
      node: 'manager-1',
      state: 'ok',
      config: 'signalbox-default-1',
      reloads: 4,
      drainingWorkers: null,
    });
    expect(gone).toMatchObject({ task: 'signalbox-proxy.2.taskproxy1bb', state: 'unreachable', config: null });
    expect(gone!.error).toMatch(/127\.0\.0\.3:\d+ does not answer/);
  });

  test('config history: a served config with its model change, the installs per proxy task, and exclusions as failed validations', async () => {
    const v1 = store.get('default')!.version;
    extState.modelVersion = v1;
    served.set({ name: 'signalbox-default-1', sha256: 'abc', text: 'x' });
    await recorder.poll();
    await recorder.poll(); // installs attach once the config is known
    expect(view().configs[0]).toMatchObject({
      config: 'signalbox-default-1',
      modelVersion: v1,
      installs: [{ task: 'signalbox-proxy.1.taskproxy0bb', node: 'manager-1', at: '2026-01-01T00:00:00.000Z' }],
    });

    // Scale web 2 → 3: a new model version whose change names the server count; the version moves.
    const before = view().version;
    store.set('default', ext, model(3));
    recorder.noteSnapshot(snapshot(3, ['127.0.0.1', '127.0.0.3']));
    const v2 = store.get('default')!.version;
    recorder.noteModel('default', v2, store.get('default')!.model);
    extState.modelVersion = v2;
    extState.excluded = [{ service: 'web-canary', code: 'ERR_NGINX_REJECTED', reason: 'unknown directive "x"' }];
    served.set({ name: 'signalbox-default-2', sha256: 'def', text: 'y' });
    await recorder.poll();
    const v = view();
    expect(v.version).not.toBe(before);
    expect(v.models[0]!.change).toEqual({ added: [], removed: [], changed: [{ name: 'web', what: 'servers 2 → 3' }] });
    expect(v.configs[0]).toMatchObject({
      config: 'signalbox-default-2',
      change: { changed: [{ name: 'web', what: 'servers 2 → 3' }] },
      excluded: [{ service: 'web-canary', reason: 'unknown directive "x"' }],
    });
    expect(v.failures[0]).toMatchObject({ kind: 'validation', excluded: ['web-canary'] });
    expect(v.routes[0]!.servers).toHaveLength(4);
  });

  test('convergence: observed once every proxy task runs the served config', async () => {
    const metric = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    expect((await metric('signalbox_proxies_converged'))[0]!.value).toBe(0); // one task unreachable
    recorder.noteSnapshot(snapshot(3, ['127.0.0.1']));
    agent = {
      ...agent,
      installed: { sha256: 'def', configName: 'signalbox-default-2', source: 'extension', installedAt: new Date() },
    };
    await recorder.poll();
    await recorder.poll();
    expect((await metric('signalbox_proxies_converged'))[0]!.value).toBe(1);
    const count = (await metric('signalbox_convergence_seconds')).find((v) => (v as { metricName?: string }).metricName === 'signalbox_convergence_seconds_count');
    expect(count?.value).toBe(1);
    await recorder.poll();
    expect((await metric('signalbox_convergence_seconds')).find((v) => (v as { metricName?: string }).metricName === 'signalbox_convergence_seconds_count')?.value).toBe(1);
  });

  test('by content: a task on the bytes the extension serves, under the name it installed them as (the held routes, +new-tasks), is converged, and its install counts for that config', async () => {
    const converged = async () => (await registry.getSingleMetric('signalbox_proxies_converged')!.get()).values[0]!.value;
    served.set({ name: 'signalbox-default-3', sha256: 'fed', text: 'z' });
    agent = { ...agent, installed: { sha256: 'fed', configName: 'signalbox-default-2+new-tasks', source: 'extension', installedAt: new Date() } };
    await recorder.poll();
    await recorder.poll();
    expect(await converged()).toBe(1);
    const v = view();
    expect(v.extensions[0]).toMatchObject({ serving: 'signalbox-default-3', servingSha256: 'fed' });
    expect(v.proxies).toEqual([expect.objectContaining({ state: 'ok', config: 'signalbox-default-2+new-tasks', sha256: 'fed' })]);
    expect(v.configs[0]).toMatchObject({ config: 'signalbox-default-3', installs: [expect.objectContaining({ task: 'signalbox-proxy.1.taskproxy0bb' })] });
    // Other bytes served: not converged, whatever the names.
    served.set({ name: 'signalbox-default-4', sha256: '0ab', text: 'w' });
    await recorder.poll();
    expect(await converged()).toBe(0);
  });

  test('nothing new keeps the version, so long-polls wait', async () => {
    const before = view().version;
    await recorder.poll();
    expect(view().version).toBe(before);
  });

  test('diffServices names added, removed and rejected services', () => {
    const c = diffServices([status('a', 1), status('b', 1)], [status('b', 1), { ...rejected, id: 'id-a', name: 'a' }, status('c', 2)]);
    expect(c).toEqual({
      added: ['c'],
      removed: [],
      changed: [{ name: 'a', what: 'rejected (ERR_LABEL_PORT_INVALID); hosts a.test → -; servers 1 → 0' }],
    });
    expect(diffServices([status('a', 1)], []).removed).toEqual(['a']);
  });

  describe('listener', () => {
    let dir: string;
    let server: FastifyInstance;
    const token = 'tok-123456';

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'sbx-dash-'));
      writeFileSync(join(dir, 'token'), `${token}\n`);
      writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Signalbox</title>');
      server = await buildDashboardServer({ recorder, tokenFile: join(dir, 'token'), assetsDir: dir, log });
    });
    afterAll(async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    });

    test('the page needs no token; the data does, and says how to get one', async () => {
      const page = await server.inject({ url: '/' });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('Signalbox');
      expect(page.headers['content-security-policy']).toContain("default-src 'self'");
      const none = await server.inject({ url: '/v1/dashboard' });
      expect(none.statusCode).toBe(401);
      expect(none.json().code).toBe('ERR_DASHBOARD_TOKEN_MISSING');
      const wrong = await server.inject({ url: '/v1/dashboard', headers: { authorization: 'Bearer nope' } });
      expect(wrong.json().code).toBe('ERR_DASHBOARD_TOKEN_INVALID');
      expect((await server.inject({ method: 'POST', url: '/v1/dashboard', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(404);
    });

    test('with the token: the whole view, its parts filtered by ?q=, and a long-poll that answers on a change', async () => {
      const auth = { authorization: `Bearer ${token}` };
      const res = await server.inject({ url: '/v1/dashboard', headers: auth });
      expect(res.statusCode).toBe(200);
      const body = res.json() as DashboardPayload;
      expect(res.headers.etag).toBe(`"${body.version}"`);
      expect(body.routes[0]!.host).toBe('web.test');
      expect(body.proxies).toHaveLength(1);

      const services = await server.inject({ url: '/v1/dashboard/services?q=ERR_LABEL_PORT', headers: auth });
      expect(services.json().services.map((s: { name: string }) => s.name)).toEqual(['bad']);
      expect((await server.inject({ url: '/v1/dashboard/routes?q=nothing-like-this', headers: auth })).json().routes).toEqual([]);
      expect((await server.inject({ url: '/v1/dashboard/routes?wait=999', headers: auth })).statusCode).toBe(400);

      expect(
        (
          await server.inject({
            url: '/v1/dashboard?wait=0',
            headers: { ...auth, 'if-none-match': `"${body.version}"` },
          })
        ).statusCode,
      ).toBe(304);
      const waiting = server.inject({
        url: '/v1/dashboard/proxies?wait=10',
        headers: { ...auth, 'if-none-match': `"${body.version}"` },
      });
      await new Promise((r) => setTimeout(r, 100));
      agent = { ...agent, reloads: 5 };
      await recorder.poll();
      const changed = await waiting;
      expect(changed.statusCode).toBe(200);
      expect(changed.json().proxies[0].reloads).toBe(5);
    });

    test('core without a token file refuses the data with 503 and names the secret', () => {
      expect(checkBearer('Bearer x', undefined, '/run/secrets/signalbox-api-token')).toMatchObject({
        status: 503,
        code: 'ERR_DASHBOARD_NO_TOKEN_FILE',
      });
      expect(checkBearer(`Bearer ${token}`, token, 'f')).toBeUndefined();
    });
  });

  test('status requests carry the API token when core has one', async () => {
    const seen: (string | undefined)[] = [];
    const probe = buildAgentApp({ logger: log, snapshot: () => agent });
    probe.addHook('onRequest', async (req) => void seen.push(req.headers.authorization));
    await probe.listen({ host: '127.0.0.1', port: 0 });
    const at = `http://127.0.0.1:${(probe.server.address() as { port: number }).port}/v1/status`;
    try {
      expect(await makeFetchJson(() => 'tok-1')(at)).toMatchObject({ nginxRunning: true });
      await makeFetchJson()(at);
      await expect(makeFetchJson()(at.replace('/v1/status', '/nope'))).rejects.toThrow('answered 404');
    } finally {
      await probe.close();
    }
    expect(seen.slice(0, 2)).toEqual(['Bearer tok-1', undefined]);
  });

  test('search matches any field, case-insensitively; an empty search matches everything', () => {
    expect(matches('WEB', 'x', 'web.test')).toBe(true);
    expect(matches('nope', 'x', 'web.test')).toBe(false);
    expect(matches('  ', 'x')).toBe(true);
  });
});
