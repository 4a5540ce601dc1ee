// The Synchronizer's timing (start, poll, burst, storm) and what one reconcile does with a swarm read.
// All timing runs on jest's fake clock (advanceTimersByTimeAsync), so a loaded machine cannot change
// what these tests see; nothing here asserts on elapsed wall-clock time.
import { jest } from '@jest/globals';
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { createMetrics } from '../src/metrics.js';
import { ModelStore } from '../src/model-store.js';
import { StatusTracker } from '../src/status-tracker.js';
import type { SynchronizerDeps } from '../src/synchronizer.js';
import { Synchronizer } from '../src/synchronizer.js';
import type { TaskChurnDamper } from '../src/task-churn-damper.js';

const APPS = { id: 'net-apps', name: 'apps', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };
const CTL = { id: 'net-ctl', name: 'signalbox-control', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };

/** A routed service with one running task on `apps`. */
function web(name: string, labels: Record<string, string> = {}): ServiceSnapshot {
  return {
    id: `id-${name}`,
    name,
    labels: { 'com.docker.lb.hosts': `${name}.example.com`, 'com.docker.lb.port': '80', 'com.docker.lb.network': APPS.name, ...labels },
    createdAt: '2026-01-01T00:00:00Z',
    networkIds: [APPS.id],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: `${name}-t1`, nodeId: 'n1', slot: 1, addresses: [{ networkId: APPS.id, addr: '10.0.0.2' }] }],
  };
}

/** The routing proxy with one running task, attached to `networks` and mounting `secrets`. */
function proxy(networks: string[], secrets: string[] = []): ServiceSnapshot {
  return {
    id: 'id-proxy',
    name: 'signalbox-proxy',
    labels: { 'com.signalbox.role': 'proxy' },
    createdAt: '2026-01-01T00:00:00Z',
    networkIds: networks,
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: 'proxy-t1', nodeId: 'n1', slot: 1, addresses: networks.map((n, i) => ({ networkId: n, addr: `10.0.9.${i + 2}` })), secrets }],
  };
}

const swarm = (services: ServiceSnapshot[], secrets: { id: string; name: string }[] = []): SwarmSnapshot => ({ services, networks: [CTL, APPS], secrets, nodes: [] });

const log = createLogger('test', 'silent');

function harness(over: Partial<SynchronizerDeps> = {}, toml = '') {
  const cfg = parseConfig(`[Extensions.default]\n${toml}`);
  if (!cfg.ok) throw new Error('default config must parse');
  const state = { current: swarm([web('a')]), failing: false, reads: 0 };
  const store = new ModelStore();
  const tracker = new StatusTracker(log);
  const metrics = createMetrics(false);
  const sync = new Synchronizer({
    config: cfg.config,
    pollIntervalMs: 10_000,
    readSnapshot: async () => {
      state.reads++;
      if (state.failing) throw new Error('engine unreachable');
      return state.current;
    },
    store,
    tracker,
    metrics,
    log,
    quietMs: 10,
    maxWaitMs: 50,
    ...over,
  });
  const counter = async (m: { get: () => Promise<{ values: { labels: Record<string, unknown>; value: number }[] }> }, labels: Record<string, string> = {}) =>
    (await m.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
  return { sync, state, store, tracker, metrics, counter };
}

beforeEach(() => {
  jest.useFakeTimers();
});
afterEach(() => {
  jest.useRealTimers();
});

describe('Synchronizer timing', () => {
  test('start reads at once, then every pollIntervalMs, each read counted by its trigger; stop ends the polling and leaves no timer', async () => {
    const { sync, state, metrics, counter } = harness();
    sync.start();
    await jest.advanceTimersByTimeAsync(20);
    expect(state.reads).toBe(1);
    expect(await counter(metrics.reconciles, { trigger: 'start' })).toBe(1);
    await jest.advanceTimersByTimeAsync(9_970); // 9 990 ms: the first poll is not due yet
    expect(state.reads).toBe(1);
    await jest.advanceTimersByTimeAsync(30);
    expect(state.reads).toBe(2);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(state.reads).toBe(3);
    expect(await counter(metrics.reconciles, { trigger: 'poll' })).toBe(2);
    sync.stop();
    expect(jest.getTimerCount()).toBe(0); // nothing left to keep a stopping core's process alive
    await jest.advanceTimersByTimeAsync(60_000);
    expect(state.reads).toBe(3);
  });

  test('a burst polls every burstIntervalMs until burstMs after the last burst call, then stops; stop ends it early and leaves no timer', async () => {
    const { sync, state, metrics, counter } = harness({ burstMs: 1000, burstIntervalMs: 200 });
    sync.burst();
    await jest.advanceTimersByTimeAsync(1_030);
    expect(state.reads).toBe(5); // reads after the ticks at 200, 400, 600, 800 and 1000 ms
    sync.burst(); // a second spec change extends the burst (one timer, not two)
    await jest.advanceTimersByTimeAsync(600);
    expect(state.reads).toBe(8);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(state.reads).toBe(10); // up to burstMs after the second call, then quiet (no poll timer: not started)
    expect(await counter(metrics.reconciles, { trigger: 'burst' })).toBe(10);
    sync.burst();
    await jest.advanceTimersByTimeAsync(230);
    expect(state.reads).toBe(11);
    sync.stop();
    expect(jest.getTimerCount()).toBe(0);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(state.reads).toBe(11);
  });

  test('changes spread wider than stormWindowMs are no storm; in a storm triggers wait stormQuietMs, after stormHoldMs they do not', async () => {
    const { sync, state } = harness({ stormThreshold: 3, stormWindowMs: 1000, stormHoldMs: 5000, stormQuietMs: 700, stormMaxWaitMs: 3000 });
    sync.noteSpecChange();
    jest.advanceTimersByTime(600);
    sync.noteSpecChange();
    jest.advanceTimersByTime(600);
    sync.noteSpecChange(); // three changes, but the first left the window
    expect(sync.inStorm()).toBe(false);
    sync.noteSpecChange(); // three within the last 1000 ms
    expect(sync.inStorm()).toBe(true);
    sync.trigger('event');
    await jest.advanceTimersByTimeAsync(690);
    expect(state.reads).toBe(0); // storm quiet time, not the normal 10 ms
    await jest.advanceTimersByTimeAsync(20);
    expect(state.reads).toBe(1);
    await jest.advanceTimersByTimeAsync(4_300); // 5 000 ms after the last change: over
    expect(sync.inStorm()).toBe(false);
    sync.trigger('event');
    await jest.advanceTimersByTimeAsync(20);
    expect(state.reads).toBe(2);
    sync.stop();
  });
});

describe('Synchronizer reconcile', () => {
  test('a failed read is counted and keeps the last model and the last success time; the next read recovers', async () => {
    const onModels = jest.fn(async (_models: Map<string, ClusterModel>, _snap: SwarmSnapshot) => undefined);
    const { sync, state, store, metrics, counter } = harness({ onModels });
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    const first = store.get('default')!.version;
    const okAt = sync.lastSuccessAt();
    expect(okAt).toBe(Date.now() - 10);
    expect(onModels).toHaveBeenCalledTimes(1);
    state.failing = true;
    state.current = swarm([web('a'), web('b')]);
    await jest.advanceTimersByTimeAsync(100);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(state.reads).toBe(2);
    expect(await counter(metrics.reconcileErrors)).toBe(1);
    expect(store.get('default')!.version).toBe(first);
    expect(sync.lastSuccessAt()).toBe(okAt);
    expect(onModels).toHaveBeenCalledTimes(1);
    state.failing = false;
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(store.get('default')!.model.virtualHosts.map((v) => v.host)).toEqual(['a.example.com', 'b.example.com']);
    expect(sync.lastSuccessAt()).toBeGreaterThan(okAt);
    expect(await counter(metrics.modelUpdates, { extension: 'default' })).toBe(2);
    sync.stop();
  });

  test('onModels gets the models and the snapshot after each read; when it throws, the models are still served and the next read calls it again', async () => {
    const seen: [ClusterModel, SwarmSnapshot][] = [];
    let fail = true;
    const onModels = async (models: Map<string, ClusterModel>, snap: SwarmSnapshot) => {
      seen.push([models.get('default')!, snap]);
      if (fail) throw new Error('engine refused the update');
    };
    const { sync, state, store } = harness({ onModels });
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(store.get('default')!.model.virtualHosts.map((v) => v.host)).toEqual(['a.example.com']);
    fail = false;
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(seen).toHaveLength(2);
    expect(seen[1]![0].virtualHosts.map((v) => v.host)).toEqual(['a.example.com']);
    expect(seen[1]![1]).toBe(state.current);
    sync.stop();
  });

  test('a service counts as a rejection once when it becomes disabled; the status gauge counts only the services of the last read', async () => {
    const { sync, state, metrics, counter } = harness();
    state.current = swarm([web('a'), web('bad', { 'com.docker.lb.port': 'eighty' })]);
    for (let i = 0; i < 2; i++) {
      sync.trigger('test');
      await jest.advanceTimersByTimeAsync(20);
    }
    expect(await counter(metrics.rejections)).toBe(1);
    // Still disabled, for another reason: a change of the status, not a new rejection.
    state.current = swarm([web('a'), web('bad', { 'com.docker.lb.port': 'ninety' })]);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(await counter(metrics.rejections)).toBe(1);
    expect(await counter(metrics.services, { status: 'disabled' })).toBe(1);
    expect(await counter(metrics.services, { status: 'enabled' })).toBe(1);
    state.current = swarm([web('a')]);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(await counter(metrics.services, { status: 'disabled' })).toBe(0);
    expect(await counter(metrics.services)).toBe(1);
    state.current = swarm([web('a'), web('bad', { 'com.docker.lb.port': 'eighty' })]); // disabled again: a new rejection
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(await counter(metrics.rejections)).toBe(2);
    sync.stop();
  });

  test('the ACME refusal gauge counts the refusals of the last read only', async () => {
    const { sync, state, metrics, counter } = harness({}, '[Extensions.default.Acme]\nDirectoryURL = "https://ca.test/dir"\nAllowedHosts = ["*.ok.test"]\n');
    state.current = swarm([web('a', { 'com.docker.lb.hosts': 'a.ok.test,b.other.test', 'com.docker.lb.acme': 'true' })]);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(await counter(metrics.acmeRefusals, { code: 'WARN_ACME_HOST_NOT_ALLOWED' })).toBe(1);
    state.current = swarm([web('a', { 'com.docker.lb.hosts': 'a.ok.test', 'com.docker.lb.acme': 'true' })]); // the refused host dropped
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(await counter(metrics.acmeRefusals)).toBe(0);
    sync.stop();
  });

  test('the served model names the secrets and networks the running proxy task lacks (pending); the damper decides what is published', async () => {
    const apply = jest.fn((_name: string, model: ClusterModel, _now: number) => model);
    const { sync, state, store } = harness({ damper: { apply } as unknown as TaskChurnDamper });
    const tls = { 'com.docker.lb.ssl_cert': 'web.crt', 'com.docker.lb.ssl_key': 'web.key' };
    const secrets = [
      { id: 's1', name: 'web.crt' },
      { id: 's2', name: 'web.key' },
    ];
    state.current = swarm([web('a', tls), proxy([CTL.id])], secrets);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(apply).toHaveBeenCalledTimes(1);
    expect(apply.mock.calls[0]![0]).toBe('default');
    const served = store.get('default')!.model;
    expect(served.pendingSecrets).toEqual(['web.crt', 'web.key']);
    expect(served.pendingNetworks).toEqual([{ service: 'a', network: 'apps' }]);
    // The new proxy task runs with both: nothing pending.
    state.current = swarm([web('a', tls), proxy([CTL.id, APPS.id], ['web.crt', 'web.key'])], secrets);
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(store.get('default')!.model.pendingSecrets).toBeUndefined();
    expect(store.get('default')!.model.pendingNetworks).toBeUndefined();
    // What the damper returns is what is published.
    apply.mockImplementation((_name, model) => ({ ...model, virtualHosts: [] }));
    sync.trigger('test');
    await jest.advanceTimersByTimeAsync(20);
    expect(store.get('default')!.model.virtualHosts).toEqual([]);
    sync.stop();
  });
});
