import { jest } from '@jest/globals';
import type { ClusterModel, SwarmSnapshot } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { AGENT_HEALTH_WAIT_SECONDS } from '@signalbox/protocol';
import { parseConfig } from '@signalbox/model';
import type { EnsureResult, ServiceSpec } from '../src/docker/services.js';
import { SPEC_VERSION_LABEL, ServiceManager, describeChanges, diffPaths, project } from '../src/docker/services.js';
import { createMetrics } from '../src/metrics.js';
import { BOOTSTRAP_FIELD, BOOTSTRAP_PATH, EDGE_DRAIN_MS, desiredEdgeSpec, desiredExtensionSpec, desiredProxySpec } from '../src/desired-specs.js';
import { ManagedServices } from '../src/managed-services.js';
import { NetworkLinger } from '../src/proxy-networks.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
const ctx = { coreUrl: 'http://signalbox-core:8080', controlNetwork: 'signalbox-control', owner: 'signalbox', dockerSocket: '/var/run/docker.sock', logLevel: 'info' };
const snap: SwarmSnapshot = {
  services: [],
  networks: [
    { id: 'ctl', name: 'signalbox-control', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
    { id: 'zz', name: 'appnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
    { id: 'aa', name: 'backnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} },
  ],
  secrets: [{ id: 'sec1', name: 'web.crt' }],
  nodes: [],
};
const model: ClusterModel = { cluster: '', virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: ['appnet', 'backnet', 'gone'], proxySecrets: ['web.crt'] };

function ext(toml: string) {
  const r = parseConfig(`[Extensions.default]\n${toml}`);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config.Extensions.default!;
}

/** A fake ServiceManager for ManagedServices: nothing exists and every call succeeds; a test overrides what it looks at. */
function fakeServices<T extends object>(overrides: T) {
  return {
    ensure: jest.fn(async (_spec: ServiceSpec): Promise<EnsureResult> => ({ action: 'unchanged', changed: [] })),
    find: jest.fn(async (_name: string): Promise<unknown> => undefined),
    listConfigs: jest.fn(async (): Promise<unknown[]> => []),
    listByLabel: jest.fn(async (): Promise<unknown[]> => []),
    remove: jest.fn(async () => true),
    removeConfig: jest.fn(async () => undefined),
    ensureNetwork: jest.fn(async () => ({ id: 'edge1', subnet: '10.9.8.0/24', created: false })),
    listNetworksByLabel: jest.fn(async (): Promise<unknown[]> => []),
    removeNetwork: jest.fn(async (_id: string) => undefined),
    ...overrides,
  };
}

/** A logger whose levels are mocks (pass one in to look at it). */
function fakeLog(levels: Partial<Record<'warn' | 'info' | 'debug' | 'error', jest.Mock>> = {}): Logger {
  const log = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn(), ...levels, child: () => log };
  return log as unknown as Logger;
}

test('single hop, host publish mode: host ports, dnsrr, stop-first rolls with rollback', () => {
  const spec: any = desiredProxySpec('default', ext('ProxyEdge = false\nPublishMode = "host"\nPublishedPort = 8080\nPublishedSSLPort = 8443'), model, ctx, snap);
  expect(spec.EndpointSpec).toEqual({
    Mode: 'dnsrr',
    Ports: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'host' },
      { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: 'host' },
    ],
  });
  expect(spec.UpdateConfig).toMatchObject({ Order: 'stop-first', FailureAction: 'rollback', Parallelism: 1 });
});

test('single hop, ingress publish mode: VIP endpoint, start-first', () => {
  const spec: any = desiredProxySpec('default', ext('ProxyEdge = false\nPublishMode = "ingress"'), model, ctx, snap);
  expect(spec.EndpointSpec.Mode).toBe('vip');
  expect(spec.EndpointSpec.Ports.map((p: any) => p.PublishMode)).toEqual(['ingress', 'ingress']);
  expect(spec.UpdateConfig.Order).toBe('start-first');
});

const edgeNet = { id: 'edge1', subnet: '10.9.8.0/24' };

test('routing proxies roll all at once on a one-node swarm behind the edge, one at a time otherwise', () => {
  const node = (id: string) => ({ id, hostname: id, addr: '10.0.0.1', role: 'manager' as const, ready: !id.endsWith('-down') });
  const parallelism = (toml: string, nodes: string[]) => (desiredProxySpec('default', ext(toml), model, ctx, { ...snap, nodes: nodes.map(node) }, undefined, edgeNet) as any).UpdateConfig.Parallelism;
  expect(parallelism('ProxyReplicas = 2', ['n1'])).toBe(0);
  // More nodes: a batch of all would follow the scheduler to the emptiest node together.
  expect(parallelism('ProxyReplicas = 2', ['n1', 'n2'])).toBe(1);
  // A node that is down still counts: the count must not change during a roll or a node loss.
  expect(parallelism('ProxyReplicas = 2', ['n1', 'n2-down'])).toBe(1);
  // Single hop: the proxy holds the ports, one at a time as before.
  expect(parallelism('ProxyEdge = false\nProxyReplicas = 2', ['n1'])).toBe(1);
});

test.each(['host', 'ingress'])('edge, %s publish mode: the edge publishes the ports; the proxy publishes none, joins the edge network and rolls start-first', (mode) => {
  const e = ext(`PublishMode = "${mode}"\nPublishedPort = 8080\nPublishedSSLPort = 8443\nProxyReplicas = 2`);
  const proxy: any = desiredProxySpec('default', e, model, ctx, snap, undefined, edgeNet);
  expect(proxy.EndpointSpec).toEqual({ Mode: 'dnsrr' });
  expect(proxy.UpdateConfig).toMatchObject({ Order: 'start-first', FailureAction: 'rollback' });
  expect(proxy.TaskTemplate.Networks).toEqual([{ Target: 'ctl' }, { Target: 'edge1' }, { Target: 'aa' }, { Target: 'zz' }]);
  expect(proxy.TaskTemplate.ContainerSpec.Healthcheck.Test[0]).toBe('CMD');
  expect(proxy.TaskTemplate.ContainerSpec.Env).toContain(`SIGNALBOX_DRAIN_MS=${EDGE_DRAIN_MS}`);
  // Swarm expands the template per task: the agent knows its own task when the extension names it retired.
  expect(proxy.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_TASK_ID={{.Task.ID}}');
  // A roll waits for the new task's first passing check: every second, still ~20 s of failures to kill it.
  expect(proxy.TaskTemplate.ContainerSpec.Healthcheck).toMatchObject({ Interval: 1_000_000_000, Retries: 20 });
  // The drain must end before swarm's SIGKILL.
  expect(EDGE_DRAIN_MS).toBeLessThan(proxy.TaskTemplate.ContainerSpec.StopGracePeriod / 1e6);
  const short: any = desiredProxySpec('default', ext('ProxyStopGracePeriod = "5s"'), model, ctx, snap, undefined, edgeNet);
  expect(short.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_DRAIN_MS=3000');
  const edge: any = desiredEdgeSpec('default', e, ctx, edgeNet);
  expect(edge.Name).toBe('signalbox-proxy-edge');
  expect(edge.Labels).toMatchObject({ 'com.signalbox.role': 'edge', 'com.signalbox.owner': 'signalbox', 'com.signalbox.extension': 'default' });
  expect(edge.TaskTemplate.Networks).toEqual([{ Target: 'edge1' }]);
  expect(edge.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_EDGE_UPSTREAM=tasks.signalbox-proxy');
  // The lame duck ends 2 s before swarm's SIGKILL (default grace 10 s), never past a minute.
  expect(edge.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_LAME_DUCK_MS=8000');
  expect((desiredEdgeSpec('default', ext('ProxyStopGracePeriod = "5s"'), ctx, edgeNet) as any).TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_LAME_DUCK_MS=3000');
  expect((desiredEdgeSpec('default', ext('ProxyStopGracePeriod = "1s"'), ctx, edgeNet) as any).TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_LAME_DUCK_MS=0');
  expect((desiredEdgeSpec('default', ext('ProxyStopGracePeriod = "5m"'), ctx, edgeNet) as any).TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_LAME_DUCK_MS=60000');
  expect(edge.TaskTemplate.ContainerSpec.Secrets).toBeUndefined();
  expect(edge.Mode).toEqual({ Replicated: { Replicas: 2 } });
  const p = mode === 'host' ? 'host' : 'ingress';
  expect(edge.EndpointSpec).toEqual({
    Mode: mode === 'host' ? 'dnsrr' : 'vip',
    Ports: [
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: p },
      { Protocol: 'tcp', TargetPort: 443, PublishedPort: 8443, PublishMode: p },
    ],
  });
  expect(edge.UpdateConfig.Order).toBe(mode === 'host' ? 'stop-first' : 'start-first');
  // The extension renders realip for the edge network's subnet.
  expect((desiredExtensionSpec('default', e, ctx, snap, edgeNet) as any).TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_EDGE_TRUSTED=10.9.8.0/24');
});

test('EdgeReplicas sets the edge task count apart from the routing proxies; left out, the edge keeps ProxyReplicas', () => {
  const replicas = (toml: string) => ({
    proxy: (desiredProxySpec('default', ext(toml), model, ctx, snap, undefined, edgeNet) as any).Mode,
    edge: (desiredEdgeSpec('default', ext(toml), ctx, edgeNet) as any).Mode,
  });
  expect(replicas('ProxyReplicas = 2\nEdgeReplicas = 1')).toEqual({ proxy: { Replicated: { Replicas: 2 } }, edge: { Replicated: { Replicas: 1 } } });
  expect(replicas('ProxyReplicas = 1\nEdgeReplicas = 3')).toEqual({ proxy: { Replicated: { Replicas: 1 } }, edge: { Replicated: { Replicas: 3 } } });
  expect(replicas('ProxyReplicas = 2')).toEqual({ proxy: { Replicated: { Replicas: 2 } }, edge: { Replicated: { Replicas: 2 } } });
  expect(replicas('ProxyReplicas = 2\nEdgeReplicas = 0')).toEqual(replicas('ProxyReplicas = 2'));
  // The key left out gives the very spec of before (no edge replaced on upgrade), whatever else is set.
  expect(desiredEdgeSpec('default', ext('ProxyReplicas = 3\nPublishMode = "host"'), ctx, edgeNet)).toEqual(
    desiredEdgeSpec('default', ext('ProxyReplicas = 3\nPublishMode = "host"\nEdgeReplicas = 0'), ctx, edgeNet),
  );
  // The routing proxy's spec does not depend on EdgeReplicas.
  expect(desiredProxySpec('default', ext('ProxyReplicas = 2\nEdgeReplicas = 1'), model, ctx, snap, undefined, edgeNet)).toEqual(
    desiredProxySpec('default', ext('ProxyReplicas = 2'), model, ctx, snap, undefined, edgeNet),
  );
});

test('the edge spec does not depend on the routing model (it never rolls for routes, networks or certificates)', () => {
  const e = ext('PublishMode = "host"');
  expect(desiredEdgeSpec('default', e, ctx, edgeNet)).toEqual(desiredEdgeSpec('default', e, ctx, edgeNet));
  expect(desiredEdgeSpec.length).toBe(4);
});

test('HideInfoHeaders reaches the edge (its own 503 for an unknown host) only when set, so an edge spec without it never changes', () => {
  const env = (toml: string): string[] => (desiredEdgeSpec('default', ext(toml), ctx, edgeNet) as any).TaskTemplate.ContainerSpec.Env;
  expect(env('').some((v) => v.startsWith('SIGNALBOX_EDGE_HIDE_INFO_HEADERS'))).toBe(false);
  expect(env('[Extensions.default.Config]\nHideInfoHeaders = true')).toContain('SIGNALBOX_EDGE_HIDE_INFO_HEADERS=1');
});

test('proxy joins the control network first, then only the networks its services need (by id, sorted); unknown names are skipped', () => {
  const spec: any = desiredProxySpec('default', ext(''), model, ctx, snap);
  expect(spec.TaskTemplate.Networks).toEqual([{ Target: 'ctl' }, { Target: 'aa' }, { Target: 'zz' }]);
  expect(spec.TaskTemplate.ContainerSpec.Secrets).toEqual([{ SecretID: 'sec1', SecretName: 'web.crt', File: { Name: 'web.crt', UID: '0', GID: '0', Mode: 0o400 } }]);
});

test('TOML placement, replicas, stop signal and grace period reach the proxy spec', () => {
  const spec: any = desiredProxySpec(
    'default',
    ext(
      'ProxyReplicas = 3\nProxyConstraints = ["node.labels.role==edge"]\nProxyPlacementPreferences = ["spread=node.labels.zone"]\nProxyStopSignal = "SIGTERM"\nProxyStopGracePeriod = "20s"\nProxyUpdateDelay = "2s"',
    ),
    model,
    ctx,
    snap,
  );
  expect(spec.Mode).toEqual({ Replicated: { Replicas: 3 } });
  expect(spec.TaskTemplate.Placement).toEqual({ Constraints: ['node.labels.role==edge'], Preferences: [{ Spread: { SpreadDescriptor: 'node.labels.zone' } }] });
  expect(spec.TaskTemplate.ContainerSpec.StopSignal).toBe('SIGTERM');
  // Behind the edge the routing proxies keep passthrough sessions and WebSockets for ProxySessionGracePeriod (5m).
  expect(spec.TaskTemplate.ContainerSpec.StopGracePeriod).toBe(300e9);
  expect(spec.UpdateConfig.Delay).toBe(2e9);
});

test('grace periods: routing proxies the longer of ProxySessionGracePeriod and ProxyStopGracePeriod; the edge and a single-hop proxy ProxyStopGracePeriod', () => {
  const grace = (toml: string): number => (desiredProxySpec('default', ext(toml), model, ctx, snap, undefined, edgeNet) as any).TaskTemplate.ContainerSpec.StopGracePeriod;
  expect(grace('ProxyStopGracePeriod = "20s"')).toBe(300e9);
  expect(grace('ProxyStopGracePeriod = "20s"\nProxySessionGracePeriod = "1h"')).toBe(3600e9);
  expect(grace('ProxyStopGracePeriod = "20s"\nProxySessionGracePeriod = "0s"')).toBe(20e9);
  expect(grace('ProxyStopGracePeriod = "10m"\nProxySessionGracePeriod = "1m"')).toBe(600e9);
  // Single hop in host mode is replaced stop-first: a long stop would hold the published port.
  expect(grace('ProxyEdge = false\nProxyStopGracePeriod = "20s"\nProxySessionGracePeriod = "1h"')).toBe(20e9);
  const edge: any = desiredEdgeSpec('default', ext('ProxyStopGracePeriod = "20s"\nProxySessionGracePeriod = "1h"'), ctx, edgeNet);
  expect(edge.TaskTemplate.ContainerSpec.StopGracePeriod).toBe(20e9);
  // The drain before nginx's graceful stop still follows ProxyStopGracePeriod, and so does the point past
  // which a stopping routing task keeps its sessions only while another one serves.
  const env = (desiredProxySpec('default', ext('ProxyStopGracePeriod = "5s"'), model, ctx, snap, undefined, edgeNet) as any).TaskTemplate.ContainerSpec.Env;
  expect(env).toContain('SIGNALBOX_DRAIN_MS=3000');
  expect(env).toContain('SIGNALBOX_SESSION_HOLD_AFTER_MS=3000');
  expect((desiredProxySpec('default', ext('ProxyEdge = false'), model, ctx, snap) as any).TaskTemplate.ContainerSpec.Env.some((e: string) => e.startsWith('SIGNALBOX_SESSION_HOLD_AFTER_MS'))).toBe(
    false,
  );
});

test('the bootstrap config is mounted when known', () => {
  const spec: any = desiredProxySpec('default', ext(''), model, ctx, snap, { id: 'c1', name: 'signalbox-default-abc' });
  expect(spec.TaskTemplate.ContainerSpec.Configs).toEqual([{ ConfigID: 'c1', ConfigName: 'signalbox-default-abc', File: { Name: BOOTSTRAP_PATH, UID: '0', GID: '0', Mode: 0o444 } }]);
});

test('extension: socket mount, dnsrr, manager constraint, core URL', () => {
  const spec: any = desiredExtensionSpec('default', ext(''), ctx, snap);
  expect(spec.EndpointSpec).toEqual({ Mode: 'dnsrr' });
  expect(spec.TaskTemplate.Placement.Constraints).toEqual(['node.role==manager']);
  expect(spec.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_CORE_URL=http://signalbox-core:8080');
  expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([{ Type: 'bind', Source: '/var/run/docker.sock', Target: '/var/run/docker.sock' }]);
});

test('extension: rolls start-first, one task, and knows its own task ID (a route on a new certificate waits for its roll)', () => {
  const spec: any = desiredExtensionSpec('default', ext(''), ctx, snap);
  expect(spec.UpdateConfig).toEqual({ Parallelism: 1, Order: 'start-first' });
  expect(spec.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_TASK_ID={{.Task.ID}}');
});

test("extension: config.toml's Template is passed by name, only when set", () => {
  const plain: any = desiredExtensionSpec('default', ext(''), ctx, snap);
  expect(plain.TaskTemplate.ContainerSpec.Env.some((e: string) => e.startsWith('SIGNALBOX_TEMPLATE_CONFIG='))).toBe(false);
  const custom: any = desiredExtensionSpec('default', { ...ext(''), Template: 'nginx-tmpl.v2' }, ctx, snap);
  expect(custom.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_TEMPLATE_CONFIG=nginx-tmpl.v2');
});

test("extension: never mounts the routes' certificate secrets (the proxy tasks that mount them check the pairs), so a new one does not roll it", () => {
  expect(model.proxySecrets).toEqual(['web.crt']);
  const spec: any = desiredExtensionSpec('default', ext(''), ctx, snap);
  expect(spec.TaskTemplate.ContainerSpec.Secrets).toEqual([]);
  const proxy: any = desiredProxySpec('default', ext(''), model, ctx, snap);
  expect(proxy.TaskTemplate.ContainerSpec.Secrets).toEqual([{ SecretID: 'sec1', SecretName: 'web.crt', File: { Name: 'web.crt', UID: '0', GID: '0', Mode: 0o400 } }]);
});

test('drift is judged only on fields core sets; engine defaults are not drift', () => {
  const desired = { Name: 'p', TaskTemplate: { ContainerSpec: { Image: 'img', Env: ['A=1'] } }, Mode: { Replicated: { Replicas: 2 } } };
  const current = { Name: 'p', TaskTemplate: { ContainerSpec: { Image: 'img', Env: ['A=1'], Isolation: 'default' }, ForceUpdate: 0 }, Mode: { Replicated: { Replicas: 2 } } };
  expect(diffPaths(project(current, desired), desired)).toEqual([]);
  const edited = { ...current, Mode: { Replicated: { Replicas: 5 } } };
  expect(diffPaths(project(edited, desired), desired)).toEqual(['Mode.Replicated.Replicas']);
});

// The engine decodes specs case-insensitively but returns them with its own (Go) field names, so a key
// spelled differently (e.g. HealthCheck for Healthcheck) is stored yet never compares equal: endless drift.
// Every key core sends must be one the engine returns (as in `docker service inspect`).
const ENGINE_KEYS = new Set(
  (
    'Name Labels TaskTemplate ContainerSpec Image Args Env Mounts Type Source Target Sysctls CapabilityAdd Configs ConfigID ConfigName File UID GID Mode ' +
    'Healthcheck Test Interval Timeout Retries StartPeriod StopSignal StopGracePeriod Secrets SecretID SecretName Placement Constraints ' +
    'Preferences Spread SpreadDescriptor Networks RestartPolicy Condition Delay Replicated Replicas UpdateConfig RollbackConfig Parallelism ' +
    'FailureAction Monitor Order EndpointSpec Ports Protocol TargetPort PublishedPort PublishMode'
  ).split(' '),
);
// Maps whose keys are data (label names, sysctl names), not field names.
const FREE_FORM = new Set(['Labels', 'Sysctls']);

function fieldNames(v: unknown, path = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => fieldNames(x, `${path}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v as Record<string, unknown>).flatMap(([k, x]) => [`${path}.${k}`, ...(FREE_FORM.has(k) ? [] : fieldNames(x, `${path}.${k}`))]);
}

test('desired specs use only the field names the engine returns (no endless drift from a misspelt key)', () => {
  const e = ext('ProxyLabels = { a = "b" }\nLabels = { c = "d" }');
  const specs = [
    desiredExtensionSpec('default', e, ctx, snap, edgeNet),
    desiredProxySpec('default', e, model, ctx, snap, { id: 'c1', name: 'cfg' }, edgeNet),
    desiredEdgeSpec('default', e, ctx, edgeNet),
    desiredProxySpec('default', ext('ProxyEdge = false'), model, ctx, snap),
  ];
  const unknown = specs.flatMap((s) => fieldNames(s)).filter((p) => !ENGINE_KEYS.has(p.slice(p.lastIndexOf('.') + 1)));
  expect(unknown).toEqual([]);
  expect((specs[1] as any).TaskTemplate.ContainerSpec.Healthcheck.Test[0]).toBe('CMD');
  // A route on a new certificate waits for the extension that mounts it: checked every second, and still
  // ~20 s of failures before swarm kills it.
  expect((specs[0] as any).TaskTemplate.ContainerSpec.Healthcheck).toMatchObject({ Interval: 1_000_000_000, Retries: 20 });
  // The edge is never replaced for routes: every 2 s, 10 retries.
  expect((specs[2] as any).TaskTemplate.ContainerSpec.Healthcheck).toMatchObject({ Interval: 2_000_000_000, Retries: 10 });
});

test('drift: elements added by hand or no longer wanted are differences (arrays keep their current length)', () => {
  const desired = {
    Name: 'p',
    TaskTemplate: { ContainerSpec: { Env: ['A=1'] }, Placement: { Constraints: ['node.platform.os==linux'] }, Networks: [{ Target: 'ctl' }] },
  };
  const current = {
    Name: 'p',
    TaskTemplate: {
      ContainerSpec: { Env: ['A=1', 'HAND=1'], Isolation: 'default' },
      Placement: { Constraints: ['node.platform.os==linux', 'node.labels.x==y'], Platforms: [{ OS: 'linux' }] },
      // A network the proxy joined for a service that is gone: must be detached, whatever the sort order.
      Networks: [{ Target: 'ctl' }, { Target: 'zz-gone', Aliases: [] }],
    },
  };
  expect(diffPaths(project(current, desired), desired)).toEqual(['TaskTemplate.ContainerSpec.Env', 'TaskTemplate.Placement.Constraints', 'TaskTemplate.Networks']);
  // Fewer than wanted is a difference too; an empty array equals a missing one (the engine omits empty lists).
  expect(diffPaths(project({ Name: 'p', Args: undefined, Networks: [] }, { Name: 'p', Args: [], Networks: [{ Target: 'a' }] }), { Name: 'p', Args: [], Networks: [{ Target: 'a' }] })).toEqual([
    'Networks',
  ]);
});

test('drift: labels are compared whole, so a label removed from config.toml or added by hand is a difference', () => {
  const desired = { Name: 'p', Labels: { 'com.signalbox.role': 'proxy' }, TaskTemplate: { ContainerSpec: { Labels: {} } } };
  const current = { Name: 'p', Labels: { 'com.signalbox.role': 'proxy', team: 'ops' }, TaskTemplate: { ContainerSpec: { Isolation: 'default' } } };
  expect(diffPaths(project(current, desired), desired)).toEqual(['Labels.team']);
  const same = { Name: 'p', Labels: { 'com.signalbox.role': 'proxy' }, TaskTemplate: { ContainerSpec: {} } };
  expect(diffPaths(project(same, desired), desired)).toEqual([]);
});

test('describeChanges shows each changed path before and after, for the log', () => {
  const desired = { Mode: { Replicated: { Replicas: 1 } }, TaskTemplate: { Placement: { Constraints: ['node.role==manager'] } } };
  const current = { Mode: { Replicated: { Replicas: 3 } }, TaskTemplate: { Placement: { Constraints: ['node.platform.os==linux'] } } };
  const changed = diffPaths(project(current, desired), desired);
  expect(describeChanges(project(current, desired), desired, changed)).toEqual({
    'Mode.Replicated.Replicas': { was: '3', now: '1' },
    'TaskTemplate.Placement.Constraints.0': { was: '"node.platform.os==linux"', now: '"node.role==manager"' },
  });
});

describe('ManagedServices.converge', () => {
  // A fake engine: `ensure` reports drift for a service while `drifted` holds it, like ServiceManager would.
  function setup(driftCheckMs = 3000) {
    const drifted = new Set<string>();
    const inUse = new Set<string>();
    const ensured: string[] = [];
    const services = fakeServices({
      ensure: jest.fn(async (spec: ServiceSpec): Promise<EnsureResult> => {
        ensured.push(spec.Name);
        if (!drifted.delete(spec.Name)) return { action: 'unchanged', changed: [] };
        // ServiceManager judges drift by the spec-version label core puts on every managed service.
        expect((spec.Labels as Record<string, string>)[SPEC_VERSION_LABEL]).toMatch(/^[0-9a-f]+$/);
        return { action: 'updated', changed: ['Mode.Replicated.Replicas'], values: { 'Mode.Replicated.Replicas': { was: '3', now: '1' } }, drift: true };
      }),
      removeNetwork: jest.fn(async (id: string) => {
        if (inUse.has(id)) throw Object.assign(new Error(`network ${id} is in use by task x`), { statusCode: 403 });
      }),
    });
    const warn = jest.fn();
    const log = fakeLog({ warn });
    const cfg = parseConfig('[Extensions.default]\nPublishMode = "host"\n');
    if (!cfg.ok) throw new Error('config');
    const metrics = createMetrics(false);
    const m = new ManagedServices(cfg.config.Extensions, ctx, services as unknown as ServiceManager, metrics, log, driftCheckMs);
    const models = new Map([['default', model]]);
    const drifts = async () => (await metrics.serviceUpdates.get()).values.find((v) => v.labels.action === 'drift' && v.labels.service === 'signalbox-proxy')?.value ?? 0;
    return { m, models, drifted, ensured, warn, services, inUse, drifts, log };
  }
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  test('an unchanged desired spec is still re-checked every driftCheckMs, and a hand-made change is put back and logged', async () => {
    const { m, models, drifted, ensured, drifts } = setup();
    await m.converge(models, snap);
    expect(ensured).toEqual(['signalbox-extension', 'signalbox-proxy', 'signalbox-proxy-edge']);
    drifted.add('signalbox-proxy');
    now += 1000;
    await m.converge(models, snap); // within the interval: not looked at
    expect(ensured).toHaveLength(3);
    now += 1750; // 2750 ms since the last check: a poll timer firing a little early still counts
    await m.converge(models, snap);
    expect(ensured).toHaveLength(6);
    expect(await drifts()).toBe(1);
  });

  test('services and configs of a removed [Extensions.NAME] section are removed; the ones config.toml still has never are', async () => {
    const { m, models, services } = setup();
    const owned = ['signalbox-extension', 'signalbox-proxy', 'signalbox-extension-old', 'signalbox-proxy-old'];
    services.listByLabel.mockImplementation((async () => owned.map((Name) => ({ Spec: { Name } }))) as any);
    services.listConfigs.mockImplementation((async (label: string) =>
      label.startsWith('com.signalbox.owner=')
        ? [
            { ID: 'c-default', Spec: { Name: 'signalbox-nginx-default-1', Labels: { 'com.signalbox.extension': 'default' } } },
            { ID: 'c-old', Spec: { Name: 'signalbox-nginx-old-1', Labels: { 'com.signalbox.extension': 'old' } } },
          ]
        : []) as any);
    await m.converge(models, snap);
    expect(services.remove.mock.calls.map((c) => (c as unknown[])[0]).sort()).toEqual(['signalbox-extension-old', 'signalbox-proxy-old']);
    expect(services.removeConfig.mock.calls.map((c) => (c as unknown[])[0])).toEqual(['c-old']);
  });

  test('an event naming a managed service makes the next converge check it at once', async () => {
    const { m, models, drifted, ensured, drifts } = setup(60_000);
    await m.converge(models, snap);
    drifted.add('signalbox-proxy');
    now += 100;
    m.recheck('signalbox-proxy');
    m.recheck('some-app'); // not ours: no effect
    await m.converge(models, snap);
    expect(ensured).toEqual(['signalbox-extension', 'signalbox-proxy', 'signalbox-proxy-edge', 'signalbox-proxy']);
    expect(await drifts()).toBe(1);
  });

  // The ensure calls so far by service name, the last one winning: [spec, fields ignored when comparing].
  const ensureCalls = (services: ReturnType<typeof setup>['services']) => new Map(services.ensure.mock.calls.map((c) => [(c[0] as ServiceSpec).Name, c as unknown as [any, string[]]]));

  test('the proxy gets the newest published config as its bootstrap, which alone never rolls it; the other services are compared whole', async () => {
    const { m, models, services } = setup();
    services.listConfigs.mockImplementation((async (label: string) =>
      label === 'com.signalbox.extension=default'
        ? [
            { ID: 'c2', Spec: { Name: 'signalbox-nginx-default-2' } },
            { ID: 'c1', Spec: { Name: 'signalbox-nginx-default-1' } },
          ]
        : []) as any);
    await m.converge(models, snap);
    const calls = ensureCalls(services);
    const [proxy, proxyIgnored] = calls.get('signalbox-proxy')!;
    expect(proxy.TaskTemplate.ContainerSpec.Configs).toEqual([{ ConfigID: 'c2', ConfigName: 'signalbox-nginx-default-2', File: { Name: BOOTSTRAP_PATH, UID: '0', GID: '0', Mode: 0o444 } }]);
    expect(proxyIgnored).toEqual([BOOTSTRAP_FIELD]);
    expect(calls.get('signalbox-extension')![1]).toEqual([]);
    expect(calls.get('signalbox-proxy-edge')![1]).toEqual([]);
    // The spec version is that of the spec without the bootstrap: a newer config is not a new desired spec.
    services.ensure.mockClear();
    services.listConfigs.mockImplementation((async () => []) as any);
    now += 3000;
    await m.converge(models, snap);
    const [bare] = ensureCalls(services).get('signalbox-proxy')!;
    expect(bare.TaskTemplate.ContainerSpec.Configs).toEqual([]);
    expect(bare.Labels[SPEC_VERSION_LABEL]).toBe(proxy.Labels[SPEC_VERSION_LABEL]);
  });

  test('the edge network is asked for once while the snapshot shows it, again when it was re-created; a failure is logged and retried, and leaves the services as they are', async () => {
    const { m, models, services, log } = setup(0);
    const edgeNetIn = (id: string): SwarmSnapshot => ({
      ...snap,
      networks: [...snap.networks, { id, name: 'signalbox-proxy-edge', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} }],
    });
    await m.converge(models, snap); // not there yet: created
    expect(services.ensureNetwork).toHaveBeenCalledTimes(1);
    await m.converge(models, edgeNetIn('edge1'));
    await m.converge(models, edgeNetIn('edge1'));
    expect(services.ensureNetwork).toHaveBeenCalledTimes(1);
    await m.converge(models, edgeNetIn('edge9')); // removed by hand and re-created: another id
    expect(services.ensureNetwork).toHaveBeenCalledTimes(2);
    services.ensureNetwork.mockRejectedValueOnce(new Error('engine busy'));
    services.ensure.mockClear();
    await m.converge(models, snap);
    expect(log.error).toHaveBeenCalledWith({ network: 'signalbox-proxy-edge', err: 'engine busy' }, expect.stringContaining('edge network'));
    // Nothing is rolled off the edge meanwhile: the extension's services are left as they are.
    expect(services.ensure).not.toHaveBeenCalled();
    await m.converge(models, snap);
    expect(services.ensureNetwork).toHaveBeenCalledTimes(4);
    expect(ensureCalls(services).get('signalbox-proxy')![0].TaskTemplate.Networks).toContainEqual({ Target: 'edge1' });
  });

  test("the proxy stays on a network for config.toml's ProxyNetworkDetachDelay after its last routed service went; after a core restart what it joins counts as wanted now", async () => {
    const { m, services } = setup(0);
    const nets = () =>
      ensureCalls(services)
        .get('signalbox-proxy')![0]
        .TaskTemplate.Networks.map((n: { Target: string }) => n.Target);
    await m.converge(new Map([['default', { ...model, proxyNetworks: ['appnet'] }]]), snap);
    expect(nets()).toEqual(['ctl', 'edge1', 'zz']);
    const none = new Map([['default', { ...model, proxyNetworks: [] }]]);
    now += 59_000; // within the default 60s
    await m.converge(none, snap);
    expect(nets()).toEqual(['ctl', 'edge1', 'zz']);
    now += 1_000;
    await m.converge(none, snap);
    expect(nets()).toEqual(['ctl', 'edge1']);
    // A new core finds the proxy on `backnet` (id aa) and keeps it there for the delay, not dropping it at once.
    const restarted = setup(0);
    const proxyOnBacknet = { id: 'p', name: 'signalbox-proxy', labels: {}, createdAt: '', networkIds: ['ctl', 'aa'], endpointMode: 'dnsrr' as const, vips: [], ports: [], tasks: [] };
    await restarted.m.converge(none, { ...snap, services: [proxyOnBacknet] });
    expect(ensureCalls(restarted.services).get('signalbox-proxy')![0].TaskTemplate.Networks).toEqual([{ Target: 'ctl' }, { Target: 'edge1' }, { Target: 'aa' }]);
  });

  test('removal touches only what a removed section left: edge networks and labelled configs; one that cannot be removed yet does not stop the others', async () => {
    const { m, models, services } = setup();
    services.listByLabel.mockImplementation((async () => [{ Spec: { Name: 'signalbox-proxy' } }, { Spec: {} }, { Spec: { Name: 'signalbox-proxy-old' } }]) as any);
    services.listNetworksByLabel.mockImplementation((async () => [
      { Id: 'n-ctl', Name: 'signalbox-control', Labels: { 'com.signalbox.owner': 'signalbox' } },
      { Id: 'n-edge', Name: 'signalbox-proxy-edge', Labels: { 'com.signalbox.role': 'edge-network' } },
      { Id: 'n-busy', Name: 'old-edge-busy', Labels: { 'com.signalbox.role': 'edge-network' } },
      { Id: 'n-old', Name: 'old-edge', Labels: { 'com.signalbox.role': 'edge-network' } },
    ]) as any);
    services.removeNetwork.mockImplementation(async (id: string) => {
      if (id === 'n-busy') throw new Error('network n-busy is in use');
    });
    services.listConfigs.mockImplementation((async (label: string) =>
      label === 'com.signalbox.owner=signalbox'
        ? [
            { ID: 'c-unlabelled', Spec: { Name: 'by-hand', Labels: {} } },
            { ID: 'c-busy', Spec: { Name: 'signalbox-nginx-old-2', Labels: { 'com.signalbox.extension': 'old' } } },
            { ID: 'c-old', Spec: { Name: 'signalbox-nginx-old-1', Labels: { 'com.signalbox.extension': 'old' } } },
          ]
        : []) as any);
    services.removeConfig.mockImplementation((async (id: string) => {
      if (id === 'c-busy') throw new Error('config c-busy is in use');
    }) as any);
    await m.converge(models, snap);
    expect(services.remove.mock.calls).toEqual([['signalbox-proxy-old']]);
    expect(services.removeNetwork.mock.calls).toEqual([['n-busy'], ['n-old']]);
    expect(services.removeConfig.mock.calls).toEqual([['c-busy'], ['c-old']]);
  });

  test('a refusal is logged again when the spec is refused anew after swarm accepted it in between', async () => {
    const { m, models, services, log } = setup(0);
    services.ensure.mockImplementation((async () => ({ action: 'refused', changed: ['Mode'], message: 'rollback completed' })) as any);
    await m.converge(models, snap);
    await m.converge(models, snap);
    expect(log.error).toHaveBeenCalledTimes(3); // once each for extension, proxy and edge
    services.ensure.mockImplementation((async () => ({ action: 'unchanged', changed: [] })) as any);
    await m.converge(models, snap);
    services.ensure.mockImplementation((async () => ({ action: 'refused', changed: ['Mode'], message: 'rollback completed' })) as any);
    await m.converge(models, snap);
    expect(log.error).toHaveBeenCalledTimes(6);
  });

  test('a changed desired spec is applied at once, without waiting for the drift interval', async () => {
    const { m, services } = setup(60_000);
    await m.converge(new Map([['default', { ...model, proxyNetworks: [] }]]), snap);
    services.ensure.mockClear();
    now += 100;
    await m.converge(new Map([['default', { ...model, proxyNetworks: ['appnet'] }]]), snap); // a routed service on a new network
    expect(services.ensure.mock.calls.map((c) => (c[0] as ServiceSpec).Name)).toEqual(['signalbox-proxy']); // the others' specs did not change
  });

  test('owned services, networks and configs are listed for removal at most once per driftCheckMs', async () => {
    const { m, models, services } = setup(3000);
    await m.converge(models, snap);
    expect(services.listByLabel).toHaveBeenCalledTimes(1);
    now += 2999;
    await m.converge(models, snap);
    expect(services.listByLabel).toHaveBeenCalledTimes(1);
    now += 1; // 3000 ms since the last look
    await m.converge(models, snap);
    expect(services.listByLabel).toHaveBeenCalledTimes(2);
    expect(services.listNetworksByLabel).toHaveBeenCalledTimes(2);
    // Only what this core owns is ever a candidate for removal.
    expect(services.listByLabel.mock.calls).toEqual([['com.signalbox.owner=signalbox'], ['com.signalbox.owner=signalbox']]);
    expect(services.listNetworksByLabel).toHaveBeenCalledWith('com.signalbox.owner=signalbox');
    expect(services.listConfigs).toHaveBeenCalledWith('com.signalbox.owner=signalbox');
  });
});

describe('networks docker stack rm leaves behind because the proxy still used them', () => {
  const svc = (name: string, labels: Record<string, string>, networkIds: string[]) => ({
    id: name,
    name,
    labels,
    createdAt: '',
    networkIds,
    endpointMode: 'dnsrr' as const,
    vips: [],
    ports: [],
    tasks: [],
  });
  const proxy = (nets: string[]) => svc('signalbox-proxy', { 'com.signalbox.role': 'proxy', 'com.signalbox.owner': 'signalbox' }, ['ctl', ...nets]);
  const net = (id: string, labels: Record<string, string> = {}) => ({ id, name: `${id}-name`, driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels });
  const stackNet = net('st', { 'com.docker.stack.namespace': 'app' });
  const plainNet = net('plain');
  const ctlNet = net('ctl', { 'com.docker.stack.namespace': 'signalbox' });
  const core = svc('signalbox_core', { 'com.docker.stack.namespace': 'signalbox' }, ['ctl']);
  const at = (services: SwarmSnapshot['services'], networks = [ctlNet, stackNet, plainNet]): SwarmSnapshot => ({ services, networks, secrets: [], nodes: [] });

  function harness() {
    const drifted = new Set<string>();
    const inUse = new Set<string>();
    const services = fakeServices({
      removeNetwork: jest.fn(async (id: string) => {
        if (inUse.has(id)) throw Object.assign(new Error(`network ${id} is in use by task x`), { statusCode: 403 });
      }),
    });
    const log = fakeLog();
    const cfg = parseConfig('[Extensions.default]\n');
    if (!cfg.ok) throw new Error('config');
    const m = new ManagedServices(cfg.config.Extensions, ctx, services as unknown as ServiceManager, createMetrics(false), log, 3000);
    return { m, services, inUse, drifted, log };
  }
  let now = 1_000_000;
  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());
  const models = new Map([['default', model]]);

  test('a stack network the proxy let go of, whose stack has no services left, is removed (retried while a task still holds it)', async () => {
    const { m, services, inUse, log } = harness();
    // The app stack runs; the proxy joins its network.
    await m.converge(models, at([core, proxy(['st']), svc('app_web', { 'com.docker.stack.namespace': 'app' }, ['st'])]));
    // docker stack rm: services gone, network left (proxy still on it); then the proxy is detached.
    await m.converge(models, at([core, proxy(['st'])]));
    expect(services.removeNetwork).not.toHaveBeenCalled();
    inUse.add('st'); // the old proxy task has not stopped yet
    now += 100;
    await m.converge(models, at([core, proxy([])]));
    expect(services.removeNetwork).toHaveBeenCalledTimes(1);
    now += 200;
    await m.converge(models, at([core, proxy([])]));
    expect(services.removeNetwork).toHaveBeenCalledTimes(1); // at most one attempt a second
    inUse.delete('st');
    now += 1000;
    await m.converge(models, at([core, proxy([])]));
    expect(services.removeNetwork).toHaveBeenCalledTimes(2);
    expect(log.info).toHaveBeenCalledWith({ network: 'st-name', stack: 'app' }, expect.stringContaining('docker stack rm left behind'));
    now += 1000;
    await m.converge(models, at([core, proxy([])], [ctlNet, plainNet]));
    expect(services.removeNetwork).toHaveBeenCalledTimes(2);
  });

  test('never removed: networks without a stack label, networks of a stack that still has services, networks another service uses', async () => {
    const { m, services } = harness();
    const other = svc('other', {}, ['st']);
    await m.converge(models, at([core, proxy(['st', 'plain']), svc('app_web', { 'com.docker.stack.namespace': 'app' }, ['st']), svc('mine', {}, ['plain'])]));
    // The routed services go, but the stack keeps another service (say a worker).
    await m.converge(models, at([core, proxy([]), svc('app_worker', { 'com.docker.stack.namespace': 'app' }, [])]));
    now += 2000;
    await m.converge(models, at([core, proxy([]), svc('app_worker', { 'com.docker.stack.namespace': 'app' }, [])]));
    expect(services.removeNetwork).not.toHaveBeenCalled();
    // A stack network some other service still names.
    await m.converge(models, at([core, proxy(['st'])]));
    await m.converge(models, at([core, proxy([]), other]));
    expect(services.removeNetwork).not.toHaveBeenCalled();
  });
});

describe('ServiceManager.ensure', () => {
  const bootstrap = (id: string) => [{ ConfigID: id, ConfigName: `cfg-${id}`, File: { Name: BOOTSTRAP_PATH, UID: '0', GID: '0', Mode: 0o444 } }];
  const specWith = (o: { replicas: number; env: string[]; config: string; delay: number }) => ({
    Name: 'signalbox-proxy',
    TaskTemplate: { ContainerSpec: { Image: 'p', Env: o.env, Configs: bootstrap(o.config) } },
    Mode: { Replicated: { Replicas: o.replicas } },
    UpdateConfig: { Delay: o.delay },
  });
  function engine(current: Record<string, unknown>) {
    const updates: any[] = [];
    const docker = {
      listServices: async () => [{ ID: 'svc1', Version: { Index: 7 }, Spec: current }],
      getService: () => ({ update: async (body: unknown) => void updates.push(body) }),
      createService: async () => ({}),
    };
    const log = { info: jest.fn(), warn: jest.fn(), debug: jest.fn() } as unknown as Logger;
    return { sm: new ServiceManager(docker as never, log), updates };
  }
  const IGNORE = ['TaskTemplate.ContainerSpec.Configs'];

  test('a newer bootstrap config alone is no reason to update', async () => {
    const { sm, updates } = engine(specWith({ replicas: 1, env: ['A=1'], config: 'old', delay: 1 }));
    expect((await sm.ensure(specWith({ replicas: 1, env: ['A=1'], config: 'new', delay: 1 }), IGNORE)).action).toBe('unchanged');
    expect(updates).toEqual([]);
  });

  test('an update that does not replace tasks (replicas, update delay) keeps the current bootstrap, so running tasks stay', async () => {
    const { sm, updates } = engine(specWith({ replicas: 1, env: ['A=1'], config: 'old', delay: 1 }));
    const res = await sm.ensure(specWith({ replicas: 2, env: ['A=1'], config: 'new', delay: 2 }), IGNORE);
    expect(res.changed).toEqual(['Mode.Replicated.Replicas', 'UpdateConfig.Delay']);
    expect(updates).toHaveLength(1);
    expect(updates[0].TaskTemplate.ContainerSpec.Configs).toEqual(bootstrap('old'));
    expect(updates[0].Mode.Replicated.Replicas).toBe(2);
    expect(updates[0]._query).toEqual({ version: 7 });
  });

  test('an update that replaces tasks anyway brings the newest bootstrap along', async () => {
    const { sm, updates } = engine(specWith({ replicas: 1, env: ['A=1'], config: 'old', delay: 1 }));
    await sm.ensure(specWith({ replicas: 1, env: ['A=2'], config: 'new', delay: 1 }), IGNORE);
    expect(updates[0].TaskTemplate.ContainerSpec.Configs).toEqual(bootstrap('new'));
  });
});

describe('drift is logged at warn level, also after a core restart', () => {
  const labelled = (image: string, version: string) => ({ Name: 'signalbox-proxy', Labels: { [SPEC_VERSION_LABEL]: version }, TaskTemplate: { ContainerSpec: { Image: image } } });
  function engine(current: Record<string, unknown>) {
    const docker = { listServices: async () => [{ ID: 's', Version: { Index: 1 }, Spec: current }], getService: () => ({ update: async () => undefined }) };
    const log = { info: jest.fn(), warn: jest.fn() };
    // A fresh ServiceManager: it has applied nothing yet, like a core that just restarted.
    return { sm: new ServiceManager(docker as never, log as unknown as Logger), log };
  }

  test('the service carries the version we want but differs: a hand-made change, reverted with a warn line', async () => {
    const { sm, log } = engine(labelled('edited-by-hand', 'v1'));
    expect(await sm.ensure(labelled('p', 'v1'))).toMatchObject({ action: 'updated', drift: true });
    expect(log.warn).toHaveBeenCalledWith(
      expect.objectContaining({ service: 'signalbox-proxy', changed: ['TaskTemplate.ContainerSpec.Image'] }),
      'reverted a hand-made change (drift) to match config.toml',
    );
    expect(log.info).not.toHaveBeenCalled();
  });

  test('a new desired spec (config.toml changed) is an info-level update, not drift', async () => {
    const { sm, log } = engine(labelled('p', 'v1'));
    expect(await sm.ensure(labelled('q', 'v2'))).toMatchObject({ action: 'updated', drift: false });
    expect(log.warn).not.toHaveBeenCalled();
    expect(log.info).toHaveBeenCalledWith(expect.anything(), 'updated managed service to match config.toml');
  });
});

describe('a spec swarm rolled back from is not re-applied (no fight with the rollback)', () => {
  const spec = (image: string) => ({ Name: 'signalbox-proxy', TaskTemplate: { ContainerSpec: { Image: image } }, Mode: { Replicated: { Replicas: 1 } } });
  // The engine as it behaves: after a rollback, Spec is the old one again, PreviousSpec is gone.
  function engine() {
    const updates: any[] = [];
    const svc: any = { ID: 's', Version: { Index: 3 }, Spec: spec('good'), UpdateStatus: { State: 'completed' } };
    const docker = {
      listServices: async () => [structuredClone(svc)],
      getService: () => ({ update: async (b: any) => void updates.push(b) }),
    };
    const rollBack = (state: string) => Object.assign(svc, { Spec: spec('good'), PreviousSpec: undefined, UpdateStatus: { State: state, Message: `${state}: task failed` } });
    return { sm: new ServiceManager(docker as never, { info: jest.fn() } as unknown as Logger), updates, rollBack };
  }

  test.each(['rollback_started', 'rollback_completed', 'rollback_paused'])('%s of the spec core sent: refused while that spec is wanted, nothing sent', async (state) => {
    const { sm, updates, rollBack } = engine();
    expect((await sm.ensure(spec('missing'))).action).toBe('updated');
    rollBack(state);
    const res = await sm.ensure(spec('missing'));
    expect(res).toMatchObject({ action: 'refused', changed: ['TaskTemplate.ContainerSpec.Image'], message: `${state}: task failed` });
    expect(updates).toHaveLength(1);
    // config.toml fixed: a different spec is applied at once.
    expect((await sm.ensure(spec('fixed'))).action).toBe('updated');
    expect(updates).toHaveLength(2);
  });

  test('the refusal outlives the rollback state: a later update by someone else (forced restart) does not make core retry that spec', async () => {
    const { sm, updates, rollBack } = engine();
    expect((await sm.ensure(spec('missing'))).action).toBe('updated');
    rollBack('rollback_completed');
    expect((await sm.ensure(spec('missing'))).action).toBe('refused');
    rollBack('completed'); // e.g. docker service update --force: a new update of the old spec
    expect((await sm.ensure(spec('missing'))).action).toBe('refused');
    expect(updates).toHaveLength(1);
    // A different spec is applied, and the memory goes with it.
    expect((await sm.ensure(spec('fixed'))).action).toBe('updated');
    rollBack('completed');
    expect((await sm.ensure(spec('missing'))).action).toBe('updated');
    expect(updates).toHaveLength(3);
  });

  test('without a rollback, the same difference is drift and is put back every time', async () => {
    const { sm, updates } = engine();
    await sm.ensure(spec('missing'));
    await sm.ensure(spec('missing')); // the fake engine never stores it: still differs, no rollback
    expect(updates).toHaveLength(2);
  });

  test('ManagedServices logs the refusal once per desired spec and does not call it drift', async () => {
    const services = fakeServices({
      ensure: jest.fn(async (): Promise<EnsureResult> => ({ action: 'refused', changed: ['TaskTemplate.ContainerSpec.Image'], message: 'rollback completed' })),
    });
    const log = fakeLog();
    const cfg = parseConfig('[Extensions.default]\n');
    if (!cfg.ok) throw new Error('config');
    const m = new ManagedServices(cfg.config.Extensions, ctx, services as unknown as ServiceManager, createMetrics(false), log, 0);
    for (let i = 0; i < 3; i++) await m.converge(new Map([['default', model]]), snap);
    expect(services.ensure).toHaveBeenCalledTimes(9); // still checked every time (extension + proxy + edge) ...
    expect(log.error).toHaveBeenCalledTimes(3); // ... but each service's refusal is logged once
    expect(log.warn).not.toHaveBeenCalled();
  });
});

describe('NetworkLinger: no flapping', () => {
  const net = (name: string, labels: Record<string, string> = {}) => ({ id: `id-${name}`, name, driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels });
  const svc = (name: string, labels: Record<string, string> = {}) => ({ id: name, name, labels, createdAt: '', networkIds: [], endpointMode: 'dnsrr' as const, vips: [], ports: [], tasks: [] });
  const at = (networks: ReturnType<typeof net>[], services: ReturnType<typeof svc>[] = []): SwarmSnapshot => ({ services, networks, secrets: [], nodes: [] });

  test('a network stays joined for the delay after its last routed service went, then is let go', () => {
    const l = new NetworkLinger(60_000, ['signalbox-control'], [], 0);
    const snap = at([net('a'), net('b')]);
    expect(l.keep(['a', 'b'], snap, 0)).toEqual(['a', 'b']);
    expect(l.keep(['a'], snap, 1_000)).toEqual(['a', 'b']);
    expect(l.keep(['a'], snap, 59_000)).toEqual(['a', 'b']);
    expect(l.keep(['a'], snap, 60_001)).toEqual(['a']);
    expect(l.keep(['a'], snap, 60_002)).toEqual(['a']);
  });

  test('a flap (last service removed, another created on the network within the delay) never changes the list', () => {
    const l = new NetworkLinger(60_000, [], [], 0);
    const snap = at([net('a')]);
    const seen = [l.keep(['a'], snap, 0), l.keep([], snap, 100), l.keep(['a'], snap, 400), l.keep([], snap, 30_000), l.keep(['a'], snap, 31_000)];
    expect(new Set(seen.map((x) => x.join()))).toEqual(new Set(['a']));
  });

  test('let go at once: a network of a stack with no service left (docker stack rm), a deleted network, the control network', () => {
    const l = new NetworkLinger(60_000, ['ctl'], ['ctl', 'st_default'], 0);
    const stackNet = net('st_default', { 'com.docker.stack.namespace': 'st' });
    expect(l.keep([], at([stackNet], [svc('st_worker', { 'com.docker.stack.namespace': 'st' })]), 10)).toEqual(['st_default']);
    expect(l.keep([], at([stackNet], []), 20)).toEqual([]);
    l.keep(['gone'], at([net('gone')]), 30);
    expect(l.keep([], at([]), 40)).toEqual([]);
  });

  test('after a core restart, the networks the proxy already joins get the full delay', () => {
    const l = new NetworkLinger(60_000, [], ['a'], 1_000);
    expect(l.keep([], at([net('a')]), 50_000)).toEqual(['a']);
    expect(l.keep([], at([net('a')]), 61_001)).toEqual([]);
  });

  test('0s detaches at once', () => {
    const l = new NetworkLinger(0, [], [], 0);
    expect(l.keep(['a'], at([net('a')]), 0)).toEqual(['a']);
    expect(l.keep([], at([net('a')]), 0)).toEqual([]);
  });
});

test('the proxy keeps what it installs on a named volume of its node', () => {
  const spec: any = desiredProxySpec('default', ext(''), model, ctx, snap);
  expect(spec.TaskTemplate.ContainerSpec.Mounts).toEqual([{ Type: 'volume', Source: 'signalbox-proxy-state', Target: '/var/lib/signalbox' }]);
  expect(spec.TaskTemplate.ContainerSpec.Env).toContain('SIGNALBOX_STATE_DIR=/var/lib/signalbox');
});

describe('the edge follows config.toml', () => {
  function harness(toml: string, existing: string[], networks: { Id: string; Name: string; Labels: Record<string, string> }[]) {
    const services = fakeServices({
      listByLabel: jest.fn(async () => existing.map((n) => ({ Spec: { Name: n } }))),
      ensureNetwork: jest.fn(async () => ({ id: 'edge1', subnet: '10.9.8.0/24', created: true })),
      listNetworksByLabel: jest.fn(async () => networks),
    });
    const log = fakeLog();
    const cfg = parseConfig(`[Extensions.default]\n${toml}`);
    if (!cfg.ok) throw new Error('config');
    return { m: new ManagedServices(cfg.config.Extensions, ctx, services as unknown as ServiceManager, createMetrics(false), log, 0), services };
  }
  const edgeNetRaw = { Id: 'edge1', Name: 'signalbox-proxy-edge', Labels: { 'com.signalbox.role': 'edge-network', 'com.signalbox.owner': 'signalbox' } };

  test('with ProxyEdge the edge network is created and the edge service is kept', async () => {
    const { m, services } = harness('', ['signalbox-extension', 'signalbox-proxy', 'signalbox-proxy-edge'], [edgeNetRaw]);
    await m.converge(new Map([['default', model]]), snap);
    expect(services.ensureNetwork).toHaveBeenCalledWith('signalbox-proxy-edge', expect.objectContaining({ 'com.signalbox.role': 'edge-network', 'com.signalbox.owner': 'signalbox' }));
    expect(services.ensure.mock.calls.map((c: any[]) => c[0].Name)).toEqual(['signalbox-extension', 'signalbox-proxy', 'signalbox-proxy-edge']);
    expect(services.remove).not.toHaveBeenCalled();
    expect(services.removeNetwork).not.toHaveBeenCalled();
  });

  test('switched to single hop: the edge service and its network are removed, no edge is created', async () => {
    const { m, services } = harness('ProxyEdge = false', ['signalbox-extension', 'signalbox-proxy', 'signalbox-proxy-edge'], [edgeNetRaw]);
    await m.converge(new Map([['default', model]]), snap);
    expect(services.ensureNetwork).not.toHaveBeenCalled();
    expect(services.ensure.mock.calls.map((c: any[]) => c[0].Name)).toEqual(['signalbox-extension', 'signalbox-proxy']);
    expect(services.remove).toHaveBeenCalledWith('signalbox-proxy-edge');
    expect(services.removeNetwork).toHaveBeenCalledWith('edge1');
  });
});

describe('a new ProxyImage reaches the edge only once the routing proxy runs it', () => {
  // The edge holds the ports and rolls stop-first in host mode: an image that cannot start would refuse
  // every connection until swarm rolled it back. The routing proxy rolls start-first and tries it first.
  function harness(current: Record<string, { image: string; state?: string }>) {
    const edgeImages: string[] = [];
    const services = fakeServices({
      ensure: jest.fn(async (spec: any): Promise<EnsureResult> => {
        if (spec.Name === 'signalbox-proxy-edge') edgeImages.push(spec.TaskTemplate.ContainerSpec.Image);
        return { action: 'unchanged', changed: [] };
      }),
      find: jest.fn(async (name: string): Promise<unknown> => {
        const c = current[name];
        return c && { Spec: { Name: name, TaskTemplate: { ContainerSpec: { Image: c.image } } }, ...(c.state ? { UpdateStatus: { State: c.state } } : {}) };
      }),
    });
    const info = jest.fn();
    const log = fakeLog({ info });
    const cfg = parseConfig('[Extensions.default]\nPublishMode = "host"\nProxyImage = "proxy:v2"\n');
    if (!cfg.ok) throw new Error('config');
    const m = new ManagedServices(cfg.config.Extensions, ctx, services as unknown as ServiceManager, createMetrics(false), log, 0);
    const holds = () => info.mock.calls.filter((c: any[]) => String(c[1]).startsWith('the edge keeps its image'));
    return { services, edgeImages, holds, converge: () => m.converge(new Map([['default', model]]), snap) };
  }

  test('held while the routing proxy is still updating to it (logged once), then applied when its update completed', async () => {
    const proxy = { image: 'proxy:v2', state: 'updating' };
    const { edgeImages, holds, converge } = harness({ 'signalbox-proxy-edge': { image: 'proxy:v1' }, 'signalbox-proxy': proxy });
    await converge();
    await converge();
    expect(edgeImages).toEqual(['proxy:v1', 'proxy:v1']);
    expect(holds()).toHaveLength(1);
    expect(holds()[0]![0]).toMatchObject({ service: 'signalbox-proxy-edge', image: 'proxy:v1', wanted: 'proxy:v2', proxyUpdate: 'updating' });
    proxy.state = 'completed';
    await converge();
    expect(edgeImages[2]).toBe('proxy:v2');
  });

  test.each([
    ['rollback_completed', 'proxy:v1'],
    // Swarm turns a finished rollback into "completed" a few seconds later: the image tells.
    ['completed', 'proxy:v1'],
    ['rollback_started', 'proxy:v2'],
    ['paused', 'proxy:v2'],
  ])('the routing proxy in update state %s with image %s: the edge keeps proxy:v1', async (state, image) => {
    const { edgeImages, converge } = harness({ 'signalbox-proxy-edge': { image: 'proxy:v1' }, 'signalbox-proxy': { image, state } });
    await converge();
    expect(edgeImages).toEqual(['proxy:v1']);
  });

  test('a new edge takes ProxyImage at once; one that already runs it is not looked up again', async () => {
    const fresh = harness({});
    await fresh.converge();
    expect(fresh.edgeImages).toEqual(['proxy:v2']);
    const { services, edgeImages, converge } = harness({ 'signalbox-proxy-edge': { image: 'proxy:v2' } });
    await converge();
    await converge();
    expect(edgeImages).toEqual(['proxy:v2', 'proxy:v2']);
    expect(services.find.mock.calls.map((c: any[]) => c[0])).toEqual(['signalbox-proxy-edge']);
  });
});

describe('least exposure', () => {
  const withToken = { ...ctx, apiTokenSecret: 'signalbox-api-token-abc123', proxyTokenSecret: 'signalbox-proxy-token-def456' };
  const snapWithToken: SwarmSnapshot = {
    ...snap,
    secrets: [...snap.secrets, { id: 'tok1', name: 'signalbox-api-token-abc123' }, { id: 'ptok1', name: 'signalbox-proxy-token-def456' }],
  };
  const spec = (s: unknown) => (s as any).TaskTemplate.ContainerSpec;
  const apiToken = { SecretID: 'tok1', SecretName: 'signalbox-api-token-abc123', File: { Name: 'signalbox-api-token', UID: '0', GID: '0', Mode: 0o400 } };
  const proxyToken = { SecretID: 'ptok1', SecretName: 'signalbox-proxy-token-def456', File: { Name: 'signalbox-proxy-token', UID: '0', GID: '0', Mode: 0o400 } };

  test('the extension gets both tokens, the proxies the proxy token only, read-only by root, at the paths they read', () => {
    const e = spec(desiredExtensionSpec('default', ext(''), withToken, snapWithToken));
    const p = spec(desiredProxySpec('default', ext(''), model, withToken, snapWithToken));
    expect(e.Secrets).toEqual([apiToken, proxyToken]);
    expect(e.Env).toEqual(expect.arrayContaining(['SIGNALBOX_API_TOKEN_FILE=/run/secrets/signalbox-api-token', 'SIGNALBOX_PROXY_TOKEN_FILE=/run/secrets/signalbox-proxy-token']));
    expect(p.Secrets).toEqual([proxyToken, { SecretID: 'sec1', SecretName: 'web.crt', File: { Name: 'web.crt', UID: '0', GID: '0', Mode: 0o400 } }]);
    expect(p.Env).toContain('SIGNALBOX_PROXY_TOKEN_FILE=/run/secrets/signalbox-proxy-token');
    expect(p.Env.join('\n')).not.toContain('API_TOKEN');
  });

  test('a new API token (every deploy) changes the extension spec and leaves the proxy spec as it was: no proxy rolls', () => {
    const rotated = { ...withToken, apiTokenSecret: 'signalbox-api-token-fff000' };
    const snapRotated: SwarmSnapshot = { ...snapWithToken, secrets: [...snapWithToken.secrets, { id: 'tok2', name: 'signalbox-api-token-fff000' }] };
    expect(desiredProxySpec('default', ext(''), model, rotated, snapRotated)).toEqual(desiredProxySpec('default', ext(''), model, withToken, snapWithToken));
    expect(spec(desiredExtensionSpec('default', ext(''), rotated, snapRotated)).Secrets.map((s: any) => s.SecretName)).toEqual(['signalbox-api-token-fff000', 'signalbox-proxy-token-def456']);
  });

  test('without a proxy token secret (a stack.yml from before it), the proxies carry the API token at the proxy token path', () => {
    const old = { ...ctx, apiTokenSecret: 'signalbox-api-token-abc123' };
    expect(spec(desiredProxySpec('default', ext(''), model, old, snapWithToken)).Secrets[0]).toEqual({ ...apiToken, File: { ...apiToken.File, Name: 'signalbox-proxy-token' } });
    expect(spec(desiredExtensionSpec('default', ext(''), old, snapWithToken)).Secrets).toEqual([apiToken]);
  });

  test('a label naming a token secret does not mount it a second time under its own name', () => {
    const p = spec(desiredProxySpec('default', ext(''), { ...model, proxySecrets: ['signalbox-api-token-abc123', 'signalbox-proxy-token-def456'] }, withToken, snapWithToken));
    expect(p.Secrets.map((s: any) => s.File.Name)).toEqual(['signalbox-proxy-token']);
  });

  test('the ACME store key secret is mounted into the extension only, when ACME is on; a label naming it mounts nothing', () => {
    const acme = ext('[Extensions.default.Acme]\nDirectoryURL = "https://ca.test/dir"\n');
    const withKey: SwarmSnapshot = { ...snapWithToken, secrets: [...snapWithToken.secrets, { id: 'key1', name: 'signalbox-acme-store-key' }] };
    const e = spec(desiredExtensionSpec('default', acme, withToken, withKey));
    expect(e.Secrets.map((s: any) => [s.SecretName, s.File.Name, s.File.Mode])).toEqual([
      ['signalbox-api-token-abc123', 'signalbox-api-token', 0o400],
      ['signalbox-proxy-token-def456', 'signalbox-proxy-token', 0o400],
      ['signalbox-acme-store-key', 'signalbox-acme-store-key', 0o400],
    ]);
    expect(e.Env).toEqual(expect.arrayContaining(['SIGNALBOX_ACME_STORE_KEY_SECRET=signalbox-acme-store-key', 'SIGNALBOX_ACME_STORE_KEY_FILE=/run/secrets/signalbox-acme-store-key']));
    const p = spec(desiredProxySpec('default', acme, { ...model, proxySecrets: ['signalbox-acme-store-key'] }, withToken, withKey));
    expect(p.Secrets.map((s: any) => s.SecretName)).toEqual(['signalbox-proxy-token-def456']);
    // ACME off: no key, no env; a secret of another name is mounted under the same target.
    expect(spec(desiredExtensionSpec('default', ext(''), withToken, withKey)).Secrets.map((s: any) => s.SecretName)).toEqual(['signalbox-api-token-abc123', 'signalbox-proxy-token-def456']);
    const other = ext('[Extensions.default.Acme]\nDirectoryURL = "https://ca.test/dir"\nStoreKeySecret = "ops-key"\n');
    const withOther: SwarmSnapshot = { ...snapWithToken, secrets: [...snapWithToken.secrets, { id: 'key2', name: 'ops-key' }] };
    expect(spec(desiredExtensionSpec('default', other, withToken, withOther)).Secrets[2]).toEqual({
      SecretID: 'key2',
      SecretName: 'ops-key',
      File: { Name: 'signalbox-acme-store-key', UID: '0', GID: '0', Mode: 0o400 },
    });
    // Not created yet: not mounted (the extension names the secret to create), the env still says which.
    const missing = spec(desiredExtensionSpec('default', acme, withToken, snapWithToken));
    expect(missing.Secrets.map((s: any) => s.SecretName)).toEqual(['signalbox-api-token-abc123', 'signalbox-proxy-token-def456']);
    expect(missing.Env).toContain('SIGNALBOX_ACME_STORE_KEY_SECRET=signalbox-acme-store-key');
  });

  test('ProxyMounts mounts named volumes into the proxy, next to its state volume, nothing else', () => {
    const p = spec(desiredProxySpec('default', ext('ProxyMounts = ["signalbox-logs:/var/log/signalbox"]'), model, withToken, snapWithToken));
    expect(p.Mounts).toEqual([
      { Type: 'volume', Source: 'signalbox-proxy-state', Target: '/var/lib/signalbox' },
      { Type: 'volume', Source: 'signalbox-logs', Target: '/var/log/signalbox' },
    ]);
  });

  test('proxies never get the Docker socket and their agent listens on loopback only', () => {
    const p = spec(desiredProxySpec('default', ext(''), model, withToken, snapWithToken));
    // Its only mount is the per-node state volume.
    expect(p.Mounts).toEqual([{ Type: 'volume', Source: 'signalbox-proxy-state', Target: '/var/lib/signalbox' }]);
    expect(p.Env).toContain('SIGNALBOX_AGENT_HOST=127.0.0.1');
  });
});

test('the extension (it has the Docker socket) is always placed on managers', () => {
  const placed = (toml: string) => (desiredExtensionSpec('default', ext(toml), ctx, snap) as any).TaskTemplate.Placement.Constraints;
  expect(placed('')).toEqual(['node.role==manager']);
  expect(placed('Constraints = ["node.labels.zone==a"]')).toEqual(['node.labels.zone==a', 'node.role==manager']);
  expect(placed('Constraints = ["node.role == manager"]')).toEqual(['node.role == manager']);
});

test('the drift log shows values of label keys with dots', () => {
  expect(describeChanges({ Labels: { 'com.signalbox.spec-version': 'a' } }, { Labels: { 'com.signalbox.spec-version': 'b' } }, ['Labels.com.signalbox.spec-version'])).toEqual({
    'Labels.com.signalbox.spec-version': { was: '"a"', now: '"b"' },
  });
});

test('the proxy health check command (bash /dev/tcp) passes on 200 and fails on 503 or a closed port', async () => {
  const { createServer } = await import('node:http');
  const { execFile } = await import('node:child_process');
  const spec: any = desiredProxySpec('default', ext(''), model, ctx, snap);
  const [cmd, ...args] = spec.TaskTemplate.ContainerSpec.Healthcheck.Test.slice(1) as string[];
  let status = 200;
  const server = createServer((_req, res) => {
    res.statusCode = status;
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const check = (p: number) =>
    new Promise<number>((resolve) =>
      execFile(
        cmd!,
        args.map((a) => a.replace('/8082', `/${p}`)),
        { timeout: 5000 },
        (err) => resolve(err ? Number((err as { code?: number }).code ?? 1) : 0),
      ),
    );
  try {
    expect(await check(port)).toBe(0);
    status = 503;
    expect(await check(port)).not.toBe(0);
  } finally {
    await new Promise((r) => server.close(r));
  }
  const t0 = Date.now();
  expect(await check(port)).not.toBe(0);
  // A refused connection is tried again for about a second before the check fails.
  expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  // An agent that starts listening within that second passes the same check.
  status = 200;
  const late = check(port);
  await new Promise((r) => setTimeout(r, 400));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  try {
    expect(await late).toBe(0);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test("the proxy agents' checks ask a starting agent to hold the answer until it serves (?wait=), below the check's timeout", () => {
  const routing: any = desiredProxySpec('default', ext(''), model, ctx, snap);
  const hc = routing.TaskTemplate.ContainerSpec.Healthcheck;
  expect(hc.Test[3]).toContain(`GET /v1/health?wait=${AGENT_HEALTH_WAIT_SECONDS} HTTP/1.0`);
  // About a second of connect retries, then the held answer: within the timeout.
  expect(1_000 + AGENT_HEALTH_WAIT_SECONDS * 1000).toBeLessThan(hc.Timeout / 1e6);
});
