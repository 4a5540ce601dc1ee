// Reads the swarm into a plain SwarmSnapshot. This folder is the only place that sees dockerode types.
import type Docker from 'dockerode';
import type { NetworkSnapshot, NodeSnapshot, PortSnapshot, ServiceSnapshot, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';

/* eslint-disable @typescript-eslint/no-explicit-any -- the Engine API payloads are loosely typed in @types/dockerode */
type Raw = any;

function stripPrefix(addr: string): string {
  const i = addr.indexOf('/');
  return i === -1 ? addr : addr.slice(0, i);
}

export function normaliseNetwork(n: Raw): NetworkSnapshot {
  return {
    id: String(n.Id),
    name: String(n.Name),
    driver: String(n.Driver ?? ''),
    scope: String(n.Scope ?? ''),
    attachable: Boolean(n.Attachable),
    ingress: Boolean(n.Ingress),
    labels: { ...(n.Labels ?? {}) },
  };
}

export function normaliseNode(n: Raw): NodeSnapshot {
  return {
    id: String(n.ID),
    hostname: String(n.Description?.Hostname ?? ''),
    addr: String(n.Status?.Addr ?? ''),
    role: n.Spec?.Role === 'manager' ? 'manager' : 'worker',
    ready: n.Status?.State === 'ready',
  };
}

export function normaliseTask(t: Raw): TaskSnapshot {
  return {
    id: String(t.ID),
    nodeId: String(t.NodeID ?? ''),
    slot: Number(t.Slot ?? 0),
    addresses: (t.NetworksAttachments ?? []).flatMap((na: Raw) => (na.Addresses ?? []).map((a: string) => ({ networkId: String(na.Network?.ID ?? ''), addr: stripPrefix(a) }))),
    secrets: (t.Spec?.ContainerSpec?.Secrets ?? []).map((x: Raw) => String(x.SecretName ?? '')).filter((n: string) => n !== ''),
  };
}

export function normaliseService(s: Raw, tasks: TaskSnapshot[], networkIdByName: Map<string, string>): ServiceSnapshot {
  const spec = s.Spec ?? {};
  const nets: Raw[] = spec.TaskTemplate?.Networks ?? spec.Networks ?? [];
  const ports: PortSnapshot[] = (s.Endpoint?.Ports ?? spec.EndpointSpec?.Ports ?? []).map((p: Raw) => ({
    target: Number(p.TargetPort),
    published: Number(p.PublishedPort ?? 0),
    protocol: (p.Protocol ?? 'tcp') as PortSnapshot['protocol'],
    mode: p.PublishMode === 'host' ? 'host' : 'ingress',
  }));
  return {
    id: String(s.ID),
    name: String(spec.Name ?? ''),
    labels: { ...(spec.Labels ?? {}) },
    ...(s.PreviousSpec?.Labels ? { previousLabels: { ...s.PreviousSpec.Labels } } : {}),
    createdAt: String(s.CreatedAt ?? ''),
    // The engine stores IDs, but accept names too (older engines / hand-written specs).
    networkIds: nets.map((n) => String(n.Target)).map((t) => networkIdByName.get(t) ?? t),
    endpointMode: spec.EndpointSpec?.Mode === 'dnsrr' ? 'dnsrr' : 'vip',
    vips: (s.Endpoint?.VirtualIPs ?? []).map((v: Raw) => ({ networkId: String(v.NetworkID), addr: stripPrefix(String(v.Addr ?? '')) })),
    ports,
    tasks,
  };
}

/** Per service, the tasks `keep` accepts. */
function tasksByServiceWhere(rawTasks: Raw[], keep: (t: Raw) => boolean): Map<string, TaskSnapshot[]> {
  const by = new Map<string, TaskSnapshot[]>();
  for (const t of rawTasks) {
    if (!keep(t)) continue;
    const list = by.get(String(t.ServiceID)) ?? [];
    list.push(normaliseTask(t));
    by.set(String(t.ServiceID), list);
  }
  return by;
}

/** Per service, the tasks whose container runs and whose desired state `wanted` accepts. */
const runningTasksWhere = (rawTasks: Raw[], wanted: (desiredState: unknown) => boolean): Map<string, TaskSnapshot[]> =>
  tasksByServiceWhere(rawTasks, (t) => t.Status?.State === 'running' && wanted(t.DesiredState));

/** Tasks that are actually running (desired running is not enough: starting tasks have no traffic yet). */
export const runningTasksByService = (rawTasks: Raw[]): Map<string, TaskSnapshot[]> => runningTasksWhere(rawTasks, (d) => d === 'running');

/**
 * Per service, tasks told to shut down (desired state not running) whose container still runs: a replaced
 * proxy task that is draining still answers the requests that reach it.
 */
export const stoppingTasksByService = (rawTasks: Raw[]): Map<string, TaskSnapshot[]> => runningTasksWhere(rawTasks, (d) => d !== 'running');

/** Task states before `running`: the task is on its way up (image pull, container start). */
const STARTING_STATES: ReadonlySet<string> = new Set(['new', 'pending', 'assigned', 'accepted', 'ready', 'preparing', 'starting']);

/** A task meant to run that has not started yet. */
const isStarting = (t: Raw): boolean => t.DesiredState === 'running' && STARTING_STATES.has(String(t.Status?.State ?? ''));

/** Per service, how many tasks meant to run are still starting. */
export function startingTasksByService(rawTasks: Raw[]): Map<string, number> {
  const by = new Map<string, number>();
  for (const t of rawTasks) {
    if (!isStarting(t)) continue;
    by.set(String(t.ServiceID), (by.get(String(t.ServiceID)) ?? 0) + 1);
  }
  return by;
}

export interface SnapshotOptions {
  /** Services (names) whose stopping and starting tasks are read too (`stoppingTasks`, `startingTaskSnapshots`): core's proxies and extensions. */
  stoppingTasksOf?: readonly string[];
}

export async function readSnapshot(docker: Docker, opts: SnapshotOptions = {}): Promise<SwarmSnapshot> {
  const [rawServices, rawTasks, rawNetworks, rawSecrets, rawNodes] = await Promise.all([
    docker.listServices() as Promise<Raw[]>,
    docker.listTasks({ filters: { 'desired-state': ['running'] } }) as Promise<Raw[]>,
    docker.listNetworks() as Promise<Raw[]>,
    docker.listSecrets() as Promise<Raw[]>,
    docker.listNodes() as Promise<Raw[]>,
  ]);
  const networks = rawNetworks.map(normaliseNetwork);
  const idByName = new Map(networks.map((n) => [n.name, n.id]));
  const tasks = runningTasksByService(rawTasks);
  const starting = startingTasksByService(rawTasks);
  // Only the named services that exist: the engine refuses a task filter on an unknown service.
  const watched = rawServices.filter((s) => opts.stoppingTasksOf?.includes(String(s.Spec?.Name ?? '')) === true).map((s) => String(s.ID));
  const stopping =
    watched.length === 0 ? new Map<string, TaskSnapshot[]>() : stoppingTasksByService((await docker.listTasks({ filters: { service: watched, 'desired-state': ['shutdown'] } })) as Raw[]);
  const watchedIds = new Set(watched);
  const startingDetails = tasksByServiceWhere(rawTasks, (t) => isStarting(t) && watchedIds.has(String(t.ServiceID)));
  return {
    services: rawServices.map((s) => {
      const running = tasks.get(String(s.ID)) ?? [];
      // Right after `docker service create` the orchestrator has not even made the task yet: the
      // replicas not running count as starting too.
      const replicas = Number(s.Spec?.Mode?.Replicated?.Replicas ?? 0);
      const startingTasks = Math.max(starting.get(String(s.ID)) ?? 0, replicas - running.length);
      const stoppingTasks = stopping.get(String(s.ID));
      const startingTaskSnapshots = startingDetails.get(String(s.ID));
      return { ...normaliseService(s, running, idByName), startingTasks, ...(stoppingTasks ? { stoppingTasks } : {}), ...(startingTaskSnapshots ? { startingTaskSnapshots } : {}) };
    }),
    networks,
    secrets: rawSecrets.map((s: Raw) => ({ id: String(s.ID), name: String(s.Spec?.Name ?? ''), labels: { ...(s.Spec?.Labels ?? {}) } })),
    nodes: rawNodes.map(normaliseNode),
  };
}
