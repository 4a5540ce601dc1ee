// Networks a routing proxy stops needing: it keeps joining them for a while (NetworkLinger), and the
// stack networks it held while `docker stack rm` tried to remove them are removed afterwards
// (LeftBehindStackNetworks).
import type { SwarmSnapshot } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { LABEL_OWNER, LABEL_ROLE } from '@signalbox/protocol';
import type { ServiceManager } from './docker/services.js';

/** Set by `docker stack deploy` on a stack's services and networks. */
export const LABEL_STACK = 'com.docker.stack.namespace';
/** How long core keeps trying to remove a stack network its proxy let go of (the old proxy task may hold it a while). */
const LEFT_BEHIND_RETRY_MS = 120_000;

/**
 * Networks a proxy keeps joining for `delayMs` after the last routed service on them went away: a service
 * removed and re-created on its network (a redeploy, a convergence loop) then replaces the proxy not at all,
 * instead of twice. A network of a stack with no service left (`docker stack rm`) is let go at once, so the
 * stack's own removal of it can succeed; a network that no longer exists is dropped.
 */
export class NetworkLinger {
  private readonly lastWanted = new Map<string, number>();

  constructor(
    private readonly delayMs: number,
    private readonly never: readonly string[],
    joinedAtStart: readonly string[],
    now: number,
  ) {
    for (const n of joinedAtStart) if (!never.includes(n)) this.lastWanted.set(n, now);
  }

  /** The networks to join: `wanted`, plus those still within their delay (sorted, no duplicates). */
  keep(wanted: readonly string[], snap: SwarmSnapshot, now: number): string[] {
    for (const n of wanted) this.lastWanted.set(n, now);
    const out = new Set(wanted);
    for (const [n, at] of this.lastWanted) {
      if (out.has(n)) continue;
      const net = snap.networks.find((x) => x.name === n);
      const stack = net?.labels[LABEL_STACK];
      const stackGone = stack !== undefined && !snap.services.some((sv) => sv.labels[LABEL_STACK] === stack);
      if (!net || stackGone || this.never.includes(n) || now - at >= this.delayMs) this.lastWanted.delete(n);
      else out.add(n);
    }
    return [...out].sort();
  }
}

/** Removes the stack networks our proxies let go of once their stack is gone (see sweep). */
export class LeftBehindStackNetworks {
  /** Network ids named by our proxies' specs at the last sweep. */
  private proxyNetworkIds: Set<string> | undefined;
  /** Stack networks a proxy of ours let go of: network id → when, and when removal was last tried. */
  private readonly leftBehind = new Map<string, { since: number; tried: number }>();

  constructor(
    private readonly services: ServiceManager,
    private readonly log: Logger,
    /** Identifies this core's proxies (ManagedContext.owner). */
    private readonly owner: string,
  ) {}

  /**
   * `docker stack rm` removes a stack's services, then at once its networks; the proxy still joins the
   * network at that moment (it detaches a moment later, once core sees the services gone), so the
   * engine refuses ("in use by service") and the network is left behind for good. Core finishes that
   * removal, for networks that (1) a proxy of ours let go of, (2) carry a stack namespace label,
   * (3) belong to a stack with no services left, and (4) no service names. Networks created with
   * `docker network create` (no stack label) and external networks of a stack are never removed.
   */
  async sweep(snap: SwarmSnapshot, now: number): Promise<void> {
    const ours = (sv: SwarmSnapshot['services'][number]) => sv.labels[LABEL_ROLE] === 'proxy' && sv.labels[LABEL_OWNER] === this.owner;
    const current = new Set(snap.services.filter(ours).flatMap((sv) => sv.networkIds));
    for (const id of this.proxyNetworkIds ?? []) if (!current.has(id) && !this.leftBehind.has(id)) this.leftBehind.set(id, { since: now, tried: 0 });
    this.proxyNetworkIds = current;
    for (const [id, state] of this.leftBehind) {
      const net = snap.networks.find((n) => n.id === id);
      const stack = net?.labels[LABEL_STACK];
      const stackAlive = stack !== undefined && snap.services.some((sv) => sv.labels[LABEL_STACK] === stack);
      if (!net || stack === undefined || stackAlive || current.has(id) || snap.services.some((sv) => sv.networkIds.includes(id))) {
        this.leftBehind.delete(id);
        continue;
      }
      if (now - state.tried < 1000) continue; // reconciles come in bursts; one attempt a second is plenty
      state.tried = now;
      try {
        await this.services.removeNetwork(id);
        this.leftBehind.delete(id);
        this.log.info({ network: net.name, stack }, 'removed the network of a removed stack that docker stack rm left behind (the proxy still used it then)');
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) this.leftBehind.delete(id);
        else if (now - state.since > LEFT_BEHIND_RETRY_MS) {
          this.leftBehind.delete(id);
          this.log.warn({ network: net.name, stack, err: (e as Error).message }, 'gave up removing a left-behind stack network');
        } else this.log.debug({ network: net.name, err: (e as Error).message }, 'left-behind stack network still in use; will retry');
      }
    }
  }
}
