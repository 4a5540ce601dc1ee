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
