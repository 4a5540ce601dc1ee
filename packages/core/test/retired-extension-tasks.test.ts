// The old task of the extension's start-first roll is named in the model once swarm has told it to shut
// down, so it stops serving and its proxies reconnect to the new task.
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';
import { retiredTasks, withRetiredExtensionTasks } from '../src/retired-extension-tasks.js';

const EXTENSION = 'signalbox-extension';
const task = (id: string): TaskSnapshot => ({ id, nodeId: 'n1', slot: 1, addresses: [] });

function service(name: string, running: TaskSnapshot[], stopping: TaskSnapshot[] = []): ServiceSnapshot {
  return { id: name, name, labels: {}, createdAt: '', networkIds: [], endpointMode: 'dnsrr', vips: [], ports: [], tasks: running, ...(stopping.length > 0 ? { stoppingTasks: stopping } : {}) };
}

const snap = (...services: ServiceSnapshot[]): SwarmSnapshot => ({ services, networks: [], secrets: [], nodes: [] });
const model: ClusterModel = { cluster: '', virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] };

test("names the extension's stopping tasks, sorted; not the running one, nor another service's", () => {
  const s = snap(service(EXTENSION, [task('new1')], [task('old2'), task('old1')]), service('signalbox-proxy', [task('p2')], [task('p1')]));
  expect(retiredTasks(s, EXTENSION)).toEqual(['old1', 'old2']);
  expect(withRetiredExtensionTasks(model, s, EXTENSION).retiredExtensionTasks).toEqual(['old1', 'old2']);
});

test('absent from the model when none is stopping, or no such service (the model version does not change)', () => {
  expect(withRetiredExtensionTasks(model, snap(service(EXTENSION, [task('t1')])), EXTENSION)).toBe(model);
  expect(withRetiredExtensionTasks(model, snap(), EXTENSION)).toBe(model);
  const withOld = { ...model, retiredExtensionTasks: ['gone'] };
  expect(withRetiredExtensionTasks(withOld, snap(service(EXTENSION, [task('t1')])), EXTENSION)).not.toHaveProperty('retiredExtensionTasks');
});
