// Issue 15: a route whose backends are on a network that a serving proxy task is not attached to waits
// (the old task of a start-first roll would take it and fail its requests), and is published once every
// running proxy task swarm still wants is on the network; one told to shut down is named retired instead. Routes on networks every task is on are never held.
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot, TaskSnapshot, Upstream } from '@signalbox/model';
import { stoppingTasksByService } from '../src/docker/snapshot.js';
import { ExclusionStore } from '../src/exclusions.js';
import { pendingNetworks, retiredProxyTasks, withPendingNetworks } from '../src/pending-networks.js';

const PROXY = 'signalbox-proxy';
const OLD_NET = { id: 'net-old', name: 'old-net' };
const NEW_NET = { id: 'net-new', name: 'new-net' };

/** A proxy task attached to these networks (one address on each). */
const proxyTask = (id: string, networkIds: string[]): TaskSnapshot => ({ id, nodeId: 'n1', slot: 1, addresses: networkIds.map((networkId, i) => ({ networkId, addr: `10.9.${i}.${id.length}` })) });

function service(name: string, addrs: { networkId: string; addr: string }[], extra: Partial<ServiceSnapshot> = {}): ServiceSnapshot {
  return {
    id: name,
    name,
    labels: {},
    createdAt: '',
    networkIds: [...new Set(addrs.map((a) => a.networkId))],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: addrs.map((a, i) => ({ id: `${name}-${i}`, nodeId: 'n1', slot: i + 1, addresses: [a] })),
    ...extra,
  };
}

// "kept" runs on the network the proxies have long been on; "fresh" on the one being joined.
const kept = service('kept', [{ networkId: OLD_NET.id, addr: '10.0.1.5' }]);
const fresh = service('fresh', [{ networkId: NEW_NET.id, addr: '10.0.2.7' }]);

function snap(running: TaskSnapshot[] | undefined, stopping: TaskSnapshot[] = [], apps: ServiceSnapshot[] = [kept, fresh]): SwarmSnapshot {
  const proxy: ServiceSnapshot | undefined = running && {
    ...service(PROXY, []),
    networkIds: [OLD_NET.id, NEW_NET.id],
    tasks: running,
    ...(stopping.length > 0 ? { stoppingTasks: stopping } : {}),
  };
  return {
    services: [...apps, ...(proxy ? [proxy] : [])],
    networks: [OLD_NET, NEW_NET].map((n) => ({ ...n, driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} })),
    secrets: [],
    nodes: [],
  };
}

const upstream = (name: string, servers: { addr: string; service: string }[]): Upstream => ({
  name,
  servers: servers.map((s) => ({ ...s, port: 80 })),
  balance: 'round_robin',
  tls: { enabled: false, verify: false },
  services: [...new Set(servers.map((s) => s.service))].sort(),
});

const model: ClusterModel = {
  cluster: '',
  virtualHosts: [
    { host: 'fresh.test', locations: [{ path: '/', upstream: upstream('fresh', [{ addr: '10.0.2.7', service: 'fresh' }]) }] },
    { host: 'kept.test', locations: [{ path: '/', upstream: upstream('kept', [{ addr: '10.0.1.5', service: 'kept' }]) }] },
  ] as ClusterModel['virtualHosts'],
  passthrough: [],
  redirects: [],
  services: [],
  proxyNetworks: [NEW_NET.name, OLD_NET.name],
  proxySecrets: [],
};

test('start-first roll: the new task is on the new network, the old one is not: only the new network’s route is pending', () => {
  const s = snap([proxyTask('new', [OLD_NET.id, NEW_NET.id]), proxyTask('old', [OLD_NET.id])]);
  expect(pendingNetworks(model, s, PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
});

test('the old task told to shut down but still draining does not hold the route: it is named retired, and takes no new config', () => {
  const onBoth = proxyTask('new', [OLD_NET.id, NEW_NET.id]);
  const draining = snap([onBoth], [proxyTask('old', [OLD_NET.id])]);
  expect(pendingNetworks(model, draining, PROXY)).toEqual([]);
  expect(retiredProxyTasks(draining, PROXY)).toEqual(['old']);
  const published = withPendingNetworks(model, draining, PROXY);
  expect(published.pendingNetworks).toBeUndefined();
  expect(published.retiredProxyTasks).toEqual(['old']);
  // Once it has stopped, the field goes (and the model is the same object as without it).
  expect(withPendingNetworks(published, snap([onBoth]), PROXY).retiredProxyTasks).toBeUndefined();
  expect(withPendingNetworks(model, snap([onBoth]), PROXY)).toBe(model);
});

test('retired task IDs are sorted, and only the proxy service’s own', () => {
  const s = snap([proxyTask('new', [OLD_NET.id])], [proxyTask('zz', [OLD_NET.id]), proxyTask('aa', [OLD_NET.id])]);
  expect(retiredProxyTasks(s, PROXY)).toEqual(['aa', 'zz']);
  expect(retiredProxyTasks(s, 'other-proxy')).toEqual([]);
});

test('several tasks: pending while any one of them lacks the network, not once all are on it', () => {
  const on = (id: string) => proxyTask(id, [OLD_NET.id, NEW_NET.id]);
  expect(pendingNetworks(model, snap([on('a'), on('bb'), proxyTask('ccc', [OLD_NET.id])]), PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
  expect(pendingNetworks(model, snap([on('a'), on('bb'), on('ccc')]), PROXY)).toEqual([]);
});

test('a proxy task on a node that is down does not hold a route (its last reported state may stay running for hours)', () => {
  const s = snap([proxyTask('new', [OLD_NET.id, NEW_NET.id]), { ...proxyTask('lost', [OLD_NET.id]), nodeId: 'n2' }]);
  const node = (id: string, ready: boolean) => ({ id, hostname: id, addr: '', role: 'worker' as const, ready });
  expect(pendingNetworks(model, { ...s, nodes: [node('n1', true), node('n2', true)] }, PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
  expect(pendingNetworks(model, { ...s, nodes: [node('n1', true), node('n2', false)] }, PROXY)).toEqual([]);
});

test('nothing is pending with no serving proxy task (stop-first roll, or no proxy yet), nor for another extension’s proxy', () => {
  expect(pendingNetworks(model, snap([]), PROXY)).toEqual([]);
  expect(pendingNetworks(model, snap(undefined), PROXY)).toEqual([]);
  expect(pendingNetworks(model, snap([proxyTask('old', [OLD_NET.id])]), 'other-proxy')).toEqual([]);
});

test('a virtual IP is on its network; a host-published backend (node address) needs none', () => {
  const vipApp = service('fresh', [], { endpointMode: 'vip', vips: [{ networkId: NEW_NET.id, addr: '10.0.2.2' }] });
  const m: ClusterModel = {
    ...model,
    virtualHosts: [{ host: 'fresh.test', locations: [{ path: '/', upstream: upstream('fresh', [{ addr: '10.0.2.2', service: 'fresh' }]) }] }] as ClusterModel['virtualHosts'],
    passthrough: [{ host: 'kept.test', upstream: upstream('kept-tls', [{ addr: '192.168.1.10', service: 'kept' }]) }] as ClusterModel['passthrough'],
  };
  const old = [proxyTask('old', [OLD_NET.id])];
  expect(pendingNetworks(m, snap(old, [], [kept, vipApp]), PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
  // A canary pair: each service is judged on its own servers.
  const canary: ClusterModel = {
    ...model,
    virtualHosts: [],
    defaultBackend: upstream('def', [
      { addr: '10.0.1.5', service: 'kept' },
      { addr: '10.0.2.7', service: 'fresh' },
    ]),
  };
  expect(pendingNetworks(canary, snap(old), PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
});

test('a service with no running task yet waits when none of its networks the proxy joins is on every task', () => {
  const empty = (svc: string): Upstream => ({ ...upstream(svc, []), services: [svc] });
  const starting = service('fresh', [], { networkIds: [NEW_NET.id] });
  const m: ClusterModel = { ...model, virtualHosts: [{ host: 'fresh.test', locations: [{ path: '/', upstream: empty('fresh') }] }] as ClusterModel['virtualHosts'] };
  const rolling = snap([proxyTask('new', [OLD_NET.id, NEW_NET.id]), proxyTask('old', [OLD_NET.id])], [], [kept, starting]);
  expect(pendingNetworks(m, rolling, PROXY)).toEqual([{ service: 'fresh', network: 'new-net' }]);
  expect(pendingNetworks(m, snap([proxyTask('new', [OLD_NET.id, NEW_NET.id])], [], [kept, starting]), PROXY)).toEqual([]);
  // Also on a network every task is on: the proxy can reach it there.
  const both = service('fresh', [], { networkIds: [NEW_NET.id, OLD_NET.id] });
  expect(pendingNetworks(m, snap([proxyTask('old', [OLD_NET.id])], [], [kept, both]), PROXY)).toEqual([]);
  // On no network the proxy joins (published on the nodes' ports): nothing to wait for.
  const elsewhere = service('fresh', [], { networkIds: ['net-other'] });
  expect(pendingNetworks(m, snap([proxyTask('old', [OLD_NET.id])], [], [kept, elsewhere]), PROXY)).toEqual([]);
});

test('withPendingNetworks sets the field only when something is pending, and clears a stale one', () => {
  const rolling = snap([proxyTask('new', [OLD_NET.id, NEW_NET.id]), proxyTask('old', [OLD_NET.id])]);
  const done = snap([proxyTask('new', [OLD_NET.id, NEW_NET.id])]);
  expect(withPendingNetworks(model, rolling, PROXY).pendingNetworks).toEqual([{ service: 'fresh', network: 'new-net' }]);
  expect(withPendingNetworks(model, done, PROXY)).toBe(model);
  expect('pendingNetworks' in withPendingNetworks({ ...model, pendingNetworks: [{ service: 'fresh', network: 'new-net' }] }, done, PROXY)).toBe(false);
});

test('stopping tasks are those told to shut down whose container still runs', () => {
  const raw = (id: string, desired: string, state: string) => ({
    ID: id,
    ServiceID: 'p',
    NodeID: 'n1',
    Slot: 1,
    DesiredState: desired,
    Status: { State: state },
    NetworksAttachments: [{ Network: { ID: OLD_NET.id }, Addresses: ['10.0.1.9/24'] }],
  });
  const by = stoppingTasksByService([raw('draining', 'shutdown', 'running'), raw('gone', 'shutdown', 'shutdown'), raw('live', 'running', 'running')]);
  expect(by.get('p')?.map((t) => [t.id, t.addresses])).toEqual([['draining', [{ networkId: OLD_NET.id, addr: '10.0.1.9' }]]]);
});

test('a pending service stays enabled in the status, with a warning on com.docker.lb.network naming the network', () => {
  const store = new ExclusionStore();
  store.set('default', [{ service: 'fresh', code: 'WARN_NETWORK_PENDING', reason: 'waiting for every running proxy task to be attached to network "new-net"' }]);
  const [st] = store.apply([{ id: '1', name: 'fresh', cluster: '', status: 'enabled', hosts: ['fresh.test'], servers: 1, errors: [], warnings: [] }], () => '');
  expect(st).toMatchObject({ status: 'enabled', servers: 1, errors: [] });
  expect(st!.warnings).toEqual([{ code: 'WARN_NETWORK_PENDING', severity: 'warning', key: 'com.docker.lb.network', message: expect.stringContaining('network "new-net"') }]);
});
