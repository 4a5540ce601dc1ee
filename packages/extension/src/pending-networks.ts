// Routes whose backends are on a network that a running proxy task is not attached to yet (core's
// model.pendingNetworks) wait: published now, that task (the old one of a start-first roll, or one
// draining) would take the route and fail its requests, so the route would answer and then fail. They
// are published once core sees every running proxy task on the network.
import type { ClusterModel } from '@signalbox/model';
import { routedServices } from './exclusion.js';

/** Services (still routed in `model`) that wait, each with the network it waits for. */
export function servicesWaitingForNetworks(model: ClusterModel): Map<string, string> {
  const pending = model.pendingNetworks ?? [];
  if (pending.length === 0) return new Map();
  const routed = new Set(routedServices(model));
  return new Map(pending.filter((p) => routed.has(p.service)).map((p) => [p.service, p.network]));
}

export const networkPendingReason = (network: string): string =>
  `waiting for every running proxy task to be attached to network "${network}" (swarm is replacing them with tasks on it); its routes are published as soon as no running proxy task lacks it`;
