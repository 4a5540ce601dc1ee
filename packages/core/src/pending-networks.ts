// A proxy joins a network only with new proxy tasks (swarm cannot attach a running container to one).
// During that roll the old tasks still serve: start-first behind the edge the old task is in DNS until
// the new one is healthy. A config with a route whose backends are on a network such a task is not on
// would send that route's requests to addresses the task cannot reach (502, or a hang until the upstream
// timeout): the route answers from the new task and fails from the old one. So the model says which
// services' backends are on a network some running proxy task is not attached to, and the extension
// holds their routes back (pending) until every running proxy task is on it. Read from the tasks' own
// network attachments, so a restarted core decides the same.
//
// A task swarm has told to shut down does not count, although its container still drains for seconds
// (swarm's 2 s DNS grace, then its TLS clients): waiting for it to exit delayed a new network's routes by
// that long. Swarm takes it out of DNS when it is told to stop, so the edge stops sending it requests;
// the model names it in retiredProxyTasks, and the extension tells its agent not to install any config
// published from then on (which could name a route it cannot reach). It drains on the config it has.
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot, TaskSnapshot, Upstream } from '@signalbox/model';
import { withPendingField } from './pending-field.js';
import { retiredTasks } from './retired-extension-tasks.js';

export interface PendingNetwork {
  service: string;
  /** The network's name (its id if the snapshot has no such network). */
  network: string;
}

function upstreamsOf(model: ClusterModel): Upstream[] {
  return [...model.virtualHosts.flatMap((vh) => vh.locations.map((l) => l.upstream)), ...model.passthrough.map((p) => p.upstream), ...(model.defaultBackend ? [model.defaultBackend] : [])];
}

/** The network (id) a backend address of `svc` is on: a task's address or a virtual IP; undefined for a host-published port. */
function networkOfAddress(svc: ServiceSnapshot, addr: string): string | undefined {
  for (const t of svc.tasks) for (const a of t.addresses) if (a.addr === addr) return a.networkId;
  return svc.vips.find((v) => v.addr === addr)?.networkId;
}

/**
 * The proxy tasks that take new configs: running ones that swarm wants running. A task on a node that
 * is down is left out: it serves nobody, and its last reported state (running) may stay for hours.
 */
export function servingProxyTasks(snap: SwarmSnapshot, proxyService: string): TaskSnapshot[] {
  const proxy = snap.services.find((s) => s.name === proxyService);
  const down = new Set(snap.nodes.filter((n) => !n.ready).map((n) => n.id));
  return (proxy?.tasks ?? []).filter((t) => !down.has(t.nodeId));
}

/** IDs of the proxy tasks told to shut down whose containers still run, sorted: they take no new config. */
export function retiredProxyTasks(snap: SwarmSnapshot, proxyService: string): string[] {
  return retiredTasks(snap, proxyService);
}

/**
 * Services of the model with a backend address on a network that some serving proxy task (of service
 * `proxyService`) is not attached to, each with that network; sorted by service. A service with no
 * backend address yet waits when none of its networks that the proxy joins is on every serving task. With no serving proxy
 * task nothing is pending: the tasks that start are attached to every network the spec names. A backend
 * reached on a host-published port needs no network and is never pending.
 */
export function pendingNetworks(model: ClusterModel, snap: SwarmSnapshot, proxyService: string): PendingNetwork[] {
  const tasks = servingProxyTasks(snap, proxyService);
  if (tasks.length === 0) return [];
  const onEveryTask = (networkId: string) => tasks.every((t) => t.addresses.some((a) => a.networkId === networkId));
  const services = new Map(snap.services.map((s) => [s.name, s]));
  const networkName = new Map(snap.networks.map((n) => [n.id, n.name]));
  const networkId = new Map(snap.networks.map((n) => [n.name, n.id]));
  const proxyNetworkIds = new Set(model.proxyNetworks.map((name) => networkId.get(name) ?? name));
  const out = new Map<string, string>();
  for (const upstream of upstreamsOf(model)) {
    for (const server of upstream.servers) {
      const svc = services.get(server.service);
      if (svc === undefined || out.has(server.service)) continue;
      const network = networkOfAddress(svc, server.addr);
      if (network !== undefined && !onEveryTask(network)) out.set(server.service, networkName.get(network) ?? network);
    }
    // A service with no running task yet (a stack just deployed) has no address to go by: it waits when
    // none of its networks that the proxy joins is on every task. Published, its route (no servers) would
    // reload the old tasks for a host they answer like an unknown one.
    for (const name of upstream.services) {
      const svc = services.get(name);
      if (svc === undefined || out.has(name) || upstream.servers.some((x) => x.service === name)) continue;
      const joined = svc.networkIds.filter((id) => proxyNetworkIds.has(id));
      if (joined.length > 0 && !joined.some(onEveryTask)) out.set(name, networkName.get(joined[0]!) ?? joined[0]!);
    }
  }
  return [...out].sort(([a], [b]) => a.localeCompare(b)).map(([service, network]) => ({ service, network }));
}

/** The model with `pendingNetworks` and `retiredProxyTasks` set (each absent when none), as the extension receives it. */
export function withPendingNetworks(model: ClusterModel, snap: SwarmSnapshot, proxyService: string): ClusterModel {
  const pending = withPendingField(model, 'pendingNetworks', pendingNetworks(model, snap, proxyService));
  return withPendingField(pending, 'retiredProxyTasks', retiredProxyTasks(snap, proxyService));
}
