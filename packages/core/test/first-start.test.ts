import type { ServiceSnapshot, SwarmSnapshot } from '@signalbox/model';
import { parseConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { FirstStartGate } from '../src/first-start.js';
import { createMetrics } from '../src/metrics.js';
import { ModelStore } from '../src/model-store.js';
import { StatusTracker } from '../src/status-tracker.js';
import { Synchronizer } from '../src/synchronizer.js';

const NET = { id: 'net-1', name: 'apps', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };

function svc(id: string, running: number, starting: number, networkIds = [NET.id]): ServiceSnapshot {
  return {
    id,
    name: id,
    labels: { 'com.docker.lb.hosts': `${id}.example.com`, 'com.docker.lb.port': '80', 'com.docker.lb.network': NET.name },
    createdAt: '2024-01-01T00:00:00Z',
    networkIds,
    endpointMode: 'vip',
    vips: [],
    ports: [],
    tasks: Array.from({ length: running }, (_, i) => ({ id: `${id}-t${i}`, nodeId: 'n1', slot: i + 1, addresses: [{ networkId: NET.id, addr: `10.0.0.${i + 2}` }] })),
    startingTasks: starting,
  };
}

const snap = (...services: ServiceSnapshot[]): SwarmSnapshot => ({ services, networks: [NET], secrets: [], nodes: [] });
const names = (s: SwarmSnapshot) => s.services.map((x) => x.id);

describe('FirstStartGate', () => {
  test('holds a new service while its tasks start, lets it through when one runs, never holds it again', () => {
    const gate = new FirstStartGate(10_000);
    expect(names(gate.filter(snap(svc('a', 0, 1)), undefined, 0).snapshot)).toEqual([]);
    expect(gate.filter(snap(svc('a', 0, 1)), undefined, 500).held).toEqual(['a']);
    expect(names(gate.filter(snap(svc('a', 1, 0)), undefined, 900).snapshot)).toEqual(['a']);
    // Later without running tasks (an update restarting it): stays routed (503), as before.
    expect(names(gate.filter(snap(svc('a', 0, 1)), undefined, 2000).snapshot)).toEqual(['a']);
  });

  test('lets through a service scaled to 0, one that waited holdMs, and one mayHold refuses', () => {
    const gate = new FirstStartGate(1000);
    expect(names(gate.filter(snap(svc('zero', 0, 0)), undefined, 0).snapshot)).toEqual(['zero']);
    expect(names(gate.filter(snap(svc('slow', 0, 1)), undefined, 0).snapshot)).toEqual([]);
    expect(names(gate.filter(snap(svc('slow', 0, 1)), undefined, 999).snapshot)).toEqual([]);
    expect(names(gate.filter(snap(svc('slow', 0, 1)), undefined, 1000).snapshot)).toEqual(['slow']);
    expect(names(gate.filter(snap(svc('newnet', 0, 1)), () => false, 0).snapshot)).toEqual(['newnet']);
  });

  test('forgets removed services: one re-created under the same id is new again', () => {
    const gate = new FirstStartGate(1000);
    gate.filter(snap(svc('a', 1, 0)), undefined, 0);
    gate.filter(snap(), undefined, 10);
    expect(names(gate.filter(snap(svc('a', 0, 1)), undefined, 20).snapshot)).toEqual([]);
  });
});

describe('Synchronizer: one created service, one model change', () => {
  test('a service created on a joined network changes the model once, when its first task runs', async () => {
    const cfg = parseConfig('[Extensions.default]\n');
    if (!cfg.ok) throw new Error('default config must parse');
    let current = snap(svc('old', 1, 0));
    const store = new ModelStore();
    const sync = new Synchronizer({
      config: cfg.config,
      pollIntervalMs: 60_000,
      readSnapshot: async () => current,
      store,
      tracker: new StatusTracker(createLogger('test', 'silent')),
      metrics: createMetrics(false),
      log: createLogger('test', 'silent'),
      quietMs: 1,
      maxWaitMs: 5,
    });
    const versions: string[] = [];
    const run = async () => {
      sync.trigger('test');
      await new Promise((r) => setTimeout(r, 40));
      versions.push(store.get('default')!.version);
    };
    await run(); // the proxy is on `apps` now
    current = snap(svc('old', 1, 0), svc('new', 0, 1)); // created, task starting
    await run();
    await run();
    current = snap(svc('old', 1, 0), svc('new', 1, 0)); // its task runs
    await run();
    sync.stop();
    expect(new Set(versions).size).toBe(2);
    expect(versions[1]).toBe(versions[0]);
    expect(versions[2]).toBe(versions[0]);
    expect(versions[3]).not.toBe(versions[0]);
    expect(store.get('default')!.model.virtualHosts.map((v) => v.host)).toEqual(['new.example.com', 'old.example.com']);
  });
});
