// The tasks that replace old proxy tasks in a roll are named in the model, so the extension can serve
// them the routes held for the old ones while they start.
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';
import { proxyTasksPastPending, withProxyTasksPastPending } from '../src/tasks-past-pending.js';

const PROXY = 'signalbox-proxy';
const task = (id: string, networkIds: string[], secrets: string[] = []): TaskSnapshot => ({
  id,
  nodeId: 'n1',
  slot: 1,
  addresses: networkIds.map((networkId, i) => ({ networkId, addr: `10.0.${i}.9` })),
  secrets,
});

function proxy(running: TaskSnapshot[], starting: TaskSnapshot[] = [], stopping: TaskSnapshot[] = []): ServiceSnapshot {
  return {
    id: 'p',
    name: PROXY,
    labels: {},
    createdAt: '',
    networkIds: [],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: running,
    ...(starting.length > 0 ? { startingTaskSnapshots: starting } : {}),
    ...(stopping.length > 0 ? { stoppingTasks: stopping } : {}),
  };
}

const snap = (...services: ServiceSnapshot[]): SwarmSnapshot => ({
  services,
  networks: [
    { id: 'id-a', name: 'app_a', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} },
    { id: 'id-b', name: 'app_b', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} },
  ],
  secrets: [],
  nodes: [],
});
const base: ClusterModel = { cluster: '', virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] };

test('names the running and starting tasks on every pending network (by name or id), sorted; not the old ones', () => {
  const model = {
    ...base,
    pendingNetworks: [
      { service: 'a', network: 'app_a' },
      { service: 'b', network: 'id-b' },
    ],
  };
  const s = snap(proxy([task('old', ['id-a']), task('run2', ['id-a', 'id-b'])], [task('start1', ['id-b', 'id-a']), task('half', ['id-b'])], [task('stopping', ['id-a', 'id-b'])]));
  expect(proxyTasksPastPending(model, s, PROXY)).toEqual(['run2', 'start1']);
  expect(withProxyTasksPastPending(model, s, PROXY).proxyTasksPastPending).toEqual(['run2', 'start1']);
});

test('pending secrets: only tasks that mount every one of them', () => {
  const model = { ...base, pendingSecrets: ['c.crt', 'c.key'] };
  const s = snap(proxy([task('old', [], ['x'])], [task('new', [], ['c.crt', 'c.key', 'x']), task('one', [], ['c.crt'])]));
  expect(proxyTasksPastPending(model, s, PROXY)).toEqual(['new']);
  // Both kinds at once: the network and the secrets.
  const both = { ...model, pendingNetworks: [{ service: 'a', network: 'app_a' }] };
  const s2 = snap(proxy([], [task('net-only', ['id-a']), task('all', ['id-a'], ['c.crt', 'c.key'])]));
  expect(proxyTasksPastPending(both, s2, PROXY)).toEqual(['all']);
});

test('absent when nothing is pending or no task qualifies (the model stays the same object)', () => {
  const s = snap(proxy([task('t1', ['id-a'])]));
  expect(withProxyTasksPastPending(base, s, PROXY)).toBe(base);
  const pending = { ...base, pendingNetworks: [{ service: 'b', network: 'app_b' }] };
  expect(withProxyTasksPastPending(pending, s, PROXY)).toBe(pending);
  expect(withProxyTasksPastPending(pending, snap(), PROXY)).toBe(pending);
  const stale = { ...base, proxyTasksPastPending: ['gone'] };
  expect(withProxyTasksPastPending(stale, s, PROXY)).not.toHaveProperty('proxyTasksPastPending');
});

describe('proxyRelayPeers (behind the edge: where the old tasks relay the TLS connections of the hosts they hold)', () => {
  const edgeSnap = (p: ServiceSnapshot): SwarmSnapshot => {
    const s = snap(p);
    return { ...s, networks: [...s.networks, { id: 'id-edge', name: 'signalbox-proxy-edge', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} }] };
  };
  const pending = { ...base, pendingNetworks: [{ service: 'a', network: 'app_a' }] };
  // Addresses: task() gives the i-th network 10.0.i.9; make them distinct per task.
  const on = (id: string, nets: string[], last: number): TaskSnapshot => ({ ...task(id, nets), addresses: nets.map((networkId, i) => ({ networkId, addr: `10.0.${i}.${last}` })) });

  test('the edge-network addresses of the tasks past the roll, starting ones included (the old tasks relay before the edge lists the new one), not of the old', () => {
    const s = edgeSnap(
      proxy([on('old', ['id-edge'], 2), on('new1', ['id-edge', 'id-a'], 3), on('new2', ['id-a', 'id-edge'], 4)], [on('starting', ['id-edge', 'id-a'], 5), on('half', ['id-edge'], 6)]),
    );
    const m = withProxyTasksPastPending(pending, s, PROXY, 'signalbox-proxy-edge');
    expect(m.proxyTasksPastPending).toEqual(['new1', 'new2', 'starting']);
    expect(m.proxyRelayPeers).toEqual(['10.0.0.3', '10.0.0.5', '10.0.1.4']);
  });

  test('none without an edge network (single hop, or not asked), or once nothing is pending', () => {
    const s = edgeSnap(proxy([on('old', ['id-edge'], 2), on('new1', ['id-edge', 'id-a'], 3)]));
    expect(withProxyTasksPastPending(pending, s, PROXY)).not.toHaveProperty('proxyRelayPeers');
    const stale = { ...base, proxyRelayPeers: ['10.0.0.3'] };
    expect(withProxyTasksPastPending(stale, s, PROXY, 'signalbox-proxy-edge')).not.toHaveProperty('proxyRelayPeers');
  });
});
