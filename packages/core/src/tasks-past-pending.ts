// The routes held for a roll (pendingNetworks, pendingSecrets) wait for the old proxy tasks, which cannot
// serve them. The tasks that replace them can: they are created with every network and secret of the
// spec. Named in the model, they get a config with those routes published while they start, so they load
// it before their health check passes and swarm lists them in DNS, instead of reloading under traffic
// once the old tasks are told to shut down.
import type { ClusterModel, SwarmSnapshot, TaskSnapshot } from '@signalbox/model';
import { withPendingField } from './pending-field.js';

/**
 * IDs (sorted) of the proxy tasks of `proxyService`, running or starting, that are attached to every
 * network of `model.pendingNetworks` and mount every secret of `model.pendingSecrets`; none when nothing
 * is pending. A task told to shut down is in neither list of the snapshot, so it never qualifies.
 */
export function proxyTasksPastPending(model: ClusterModel, snap: SwarmSnapshot, proxyService: string): string[] {
  const networks = model.pendingNetworks ?? [];
  const secrets = model.pendingSecrets ?? [];
  if (networks.length === 0 && secrets.length === 0) return [];
  const proxy = snap.services.find((s) => s.name === proxyService);
  if (proxy === undefined) return [];
  const idByName = new Map(snap.networks.map((n) => [n.name, n.id]));
  // pendingNetworks names a network by its name, or by its id when the snapshot had no such network.
  const networkIds = [...new Set(networks.map((p) => idByName.get(p.network) ?? p.network))];
  const qualifies = (t: TaskSnapshot) => networkIds.every((id) => t.addresses.some((a) => a.networkId === id)) && secrets.every((name) => (t.secrets ?? []).includes(name));
  return [...proxy.tasks, ...(proxy.startingTaskSnapshots ?? [])]
    .filter(qualifies)
    .map((t) => t.id)
    .sort();
}

/**
 * Addresses (sorted) on `edgeNetwork` of the tasks of proxyTasksPastPending, starting ones included: the
 * old tasks, which hold the pending routes, relay to them the TLS connections for those hosts
 * (docs/architecture.md, "Relay"). Named while the new task starts, so the old ones have reloaded with the
 * relay before it turns healthy and the edge sends it the route's first clients; until it serves, a
 * relayed connection fails as the held host's handshake would have. None without an edge network.
 */
export function proxyRelayPeers(pastPending: readonly string[], snap: SwarmSnapshot, proxyService: string, edgeNetwork: string | undefined): string[] {
  if (pastPending.length === 0 || edgeNetwork === undefined) return [];
  const proxy = snap.services.find((s) => s.name === proxyService);
  const networkId = snap.networks.find((n) => n.name === edgeNetwork)?.id;
  if (proxy === undefined || networkId === undefined) return [];
  const ids = new Set(pastPending);
  return [...proxy.tasks, ...(proxy.startingTaskSnapshots ?? [])]
    .filter((t) => ids.has(t.id))
    .flatMap((t) => t.addresses.filter((a) => a.networkId === networkId).map((a) => a.addr))
    .sort();
}

/**
 * The model with `proxyTasksPastPending` set (absent when none) and, behind the edge (`edgeNetwork`),
 * `proxyRelayPeers`; after pendingNetworks and pendingSecrets.
 */
export function withProxyTasksPastPending(model: ClusterModel, snap: SwarmSnapshot, proxyService: string, edgeNetwork?: string): ClusterModel {
  const past = proxyTasksPastPending(model, snap, proxyService);
  return withPendingField(withPendingField(model, 'proxyTasksPastPending', past), 'proxyRelayPeers', proxyRelayPeers(past, snap, proxyService, edgeNetwork));
}
