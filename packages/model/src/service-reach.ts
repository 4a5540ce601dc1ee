// Where the proxy reaches a routed service (the overlay network it names or the only one it is on,
// else its host-published port), and the servers (task addresses, VIP or node addresses) found there.
import type { Reach } from './builder-types.js';
import { L, err } from './cluster-diagnostics.js';
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';
import type { UpstreamServer } from './routing-model.js';
import type { NetworkSnapshot, ServiceSnapshot, SwarmSnapshot } from './snapshot.js';

/**
 * The network a stack file calls `key`: docker stack deploy names it <stack>_<key>. Interlock's stack
 * examples name it by its key (com.docker.lb.network: demo-network), so an attached network of the
 * service's own stack is found by the key too.
 */
function stackNetwork(svc: ServiceSnapshot, key: string, attached: readonly NetworkSnapshot[]): NetworkSnapshot | undefined {
  const stack = svc.labels['com.docker.stack.namespace'];
  return stack === undefined ? undefined : attached.find((n) => n.name === `${stack}_${key}`);
}

export function resolveReach(svc: ServiceSnapshot, spec: RouteSpec, snap: SwarmSnapshot, byId: Map<string, NetworkSnapshot>): Reach | Diagnostic {
  const attached = svc.networkIds.map((id) => byId.get(id)).filter((n): n is NetworkSnapshot => n !== undefined && !n.ingress);
  if (spec.network !== undefined) {
    const named = snap.networks.find((n) => n.name === spec.network) ?? stackNetwork(svc, spec.network, attached);
    if (named === undefined) {
      return err(
        'ERR_NETWORK_NOT_FOUND',
        L('network'),
        'names a network that does not exist in the swarm, nor one of its own stack by that key; create it or fix the name (stacks prefix network names with the stack name)',
        spec.network,
      );
    }
    if (!attached.some((n) => n.id === named.id)) {
      const names = attached.map((n) => n.name).sort();
      return err(
        'ERR_NETWORK_NOT_ATTACHED',
        L('network'),
        `is not a network this service is attached to (attached: ${names.length ? names.join(', ') : 'none'}); add the network to the service`,
        spec.network,
      );
    }
    if (named.scope !== 'swarm' || named.driver !== 'overlay') {
      return err('ERR_NETWORK_NOT_OVERLAY', L('network'), `is a ${named.scope}-scoped ${named.driver} network; the proxy can only join swarm-scoped overlay networks`, spec.network);
    }
    return { kind: 'network', network: named };
  }
  const hostPublished = svc.ports.find((p) => p.mode === 'host' && p.target === spec.port && p.protocol === 'tcp');
  const overlays = attached.filter((n) => n.driver === 'overlay' && n.scope === 'swarm');
  if (overlays.length === 1 && overlays[0] !== undefined) return { kind: 'network', network: overlays[0] };
  if (overlays.length === 0 && hostPublished !== undefined) return { kind: 'host-port', published: hostPublished.published };
  if (overlays.length === 0) {
    return err('ERR_NETWORK_NONE', L('network'), `is not set and the service is on no overlay network; attach it to one (and name it in ${L('network')}) or publish port ${spec.port} in host mode`);
  }
  return err(
    'ERR_NETWORK_AMBIGUOUS',
    L('network'),
    `is required because the service is on several networks (${overlays
      .map((n) => n.name)
      .sort()
      .join(', ')}); name the one the proxy should use`,
  );
}

export function serversFor(svc: ServiceSnapshot, spec: RouteSpec, reach: Reach, snap: SwarmSnapshot): UpstreamServer[] {
  if (reach.kind === 'host-port') {
    const nodes = new Map(snap.nodes.map((n) => [n.id, n]));
    const addrs = new Set<string>();
    for (const t of svc.tasks) {
      const node = nodes.get(t.nodeId);
      if (node?.ready && node.addr) addrs.add(node.addr);
    }
    return [...addrs].map((addr) => ({ addr, port: reach.published, service: svc.name }));
  }
  if (spec.backendMode === 'vip') {
    const vip = svc.vips.find((v) => v.networkId === reach.network.id);
    return vip ? [{ addr: vip.addr, port: spec.port, service: svc.name }] : [];
  }
  const out: UpstreamServer[] = [];
  for (const t of svc.tasks) {
    const a = t.addresses.find((x) => x.networkId === reach.network.id);
    if (a) out.push({ addr: a.addr, port: spec.port, service: svc.name });
  }
  return out;
}
