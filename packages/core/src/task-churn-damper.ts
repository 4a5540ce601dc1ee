// A crash-looping service (tasks that exit at once and are restarted) changes its upstream servers on
// every start and every exit, and each change is a new config and a proxy reload. The sign of it: tasks
// that leave the upstream soon after they joined it (scaling, rolling updates and task moves remove
// tasks that ran for a while, so they are never held). Once `threshold` short-lived tasks of a service
// left within `windowMs`, its server changes are published at most once per `holdMs`; meanwhile the
// proxies keep its last published servers (nginx's max_fails skips a dead one). Other services' changes
// are not held: they publish at once, with the held servers.
import type { ClusterModel, Upstream, UpstreamServer } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';

export interface DamperOptions {
  threshold: number;
  windowMs: number;
  holdMs: number;
  /** A task that leaves the upstream within this time of joining it counts as a crash. */
  shortLivedMs: number;
}

/** 4 exits of short-lived tasks a minute: a scale-down (one or a few exits) never reaches it, a crash loop at once. */
export const DEFAULT_DAMPER: DamperOptions = { threshold: 4, windowMs: 60_000, holdMs: 20_000, shortLivedMs: 30_000 };

interface Published {
  key: string;
  servers: UpstreamServer[];
  at: number;
}

const serverKey = (servers: readonly UpstreamServer[]): string =>
  servers
    .map((s) => `${s.addr}:${s.port}`)
    .sort()
    .join(',');

function upstreamsOf(model: ClusterModel): Upstream[] {
  const out = new Set<Upstream>();
  for (const vh of model.virtualHosts) for (const l of vh.locations) out.add(l.upstream);
  for (const p of model.passthrough) out.add(p.upstream);
  if (model.defaultBackend) out.add(model.defaultBackend);
  return [...out];
}

export class TaskChurnDamper {
  /** Per service: when its servers changed (any upstream), newest last. */
  private readonly changes = new Map<string, number[]>();
  /** Per extension, upstream and service: the servers seen last, and the servers last published. */
  private readonly seen = new Map<string, string>();
  /** Per extension, upstream and service: when each server address was first seen. */
  private readonly since = new Map<string, Map<string, number>>();
  private readonly published = new Map<string, Published>();
  private readonly flagged = new Set<string>();

  constructor(
    private readonly log: Logger,
    private readonly opts: DamperOptions = DEFAULT_DAMPER,
  ) {}

  /** Services whose changes are held now. */
  held(): string[] {
    return [...this.flagged].sort();
  }

  /** A copy of `model` where each unstable service's servers are the ones published last (within holdMs). */
  apply(extension: string, model: ClusterModel, now: number): ClusterModel {
    const live = new Set<string>();
    // Upstream index → the servers to publish instead; the model is copied only when there are any.
    const replace = new Map<number, UpstreamServer[]>();
    // Held services → the server count last published: their status must not change either, or the
    // model (and its version) would still change on every start and exit.
    const heldCounts = new Map<string, number>();
    upstreamsOf(model).forEach((u, index) => {
      const byService = new Map<string, UpstreamServer[]>();
      for (const svc of u.services) byService.set(svc, []);
      for (const s of u.servers) byService.set(s.service, [...(byService.get(s.service) ?? []), s]);
      let replaced = false;
      const servers: UpstreamServer[] = [];
      for (const [svc, current] of byService) {
        const id = `${extension}\u0000${u.name}\u0000${svc}`;
        live.add(id);
        const key = serverKey(current);
        if (this.seen.get(id) !== key) this.noteExits(id, svc, current, now);
        this.seen.set(id, key);
        const last = this.published.get(id);
        if (last && last.key !== key && this.unstable(svc, now) && now - last.at < this.opts.holdMs) {
          servers.push(...last.servers);
          heldCounts.set(svc, last.servers.length);
          replaced = true;
          continue;
        }
        if (!last || last.key !== key) this.published.set(id, { key, servers: current, at: now });
        servers.push(...current);
      }
      if (replaced) replace.set(index, servers);
    });
    for (const id of [...this.seen.keys()]) {
      if (id.startsWith(`${extension}\u0000`) && !live.has(id)) {
        this.seen.delete(id);
        this.published.delete(id);
        this.since.delete(id);
      }
    }
    if (replace.size === 0) return model;
    const out = structuredClone(model);
    upstreamsOf(out).forEach((u, index) => {
      const servers = replace.get(index);
      if (servers) u.servers = servers;
    });
    for (const st of out.services) {
      const held = heldCounts.get(st.name);
      if (held !== undefined && st.status === 'enabled') st.servers = held;
    }
    return out;
  }

  /** Records when servers joined, and counts those that left soon after joining. */
  private noteExits(id: string, service: string, current: readonly UpstreamServer[], now: number): void {
    const joined = this.since.get(id) ?? new Map<string, number>();
    const addrs = new Set(current.map((s) => `${s.addr}:${s.port}`));
    let exited = false;
    for (const [addr, at] of joined) {
      if (addrs.has(addr)) continue;
      joined.delete(addr);
      if (now - at < this.opts.shortLivedMs) exited = true;
    }
    // One count per read of the swarm, however many tasks left at once (a scale-down is one event).
    if (exited) {
      const list = (this.changes.get(service) ?? []).filter((t) => now - t < this.opts.windowMs && t !== now);
      list.push(now);
      this.changes.set(service, list);
    }
    for (const a of addrs) if (!joined.has(a)) joined.set(a, now);
    this.since.set(id, joined);
  }

  private unstable(service: string, now: number): boolean {
    const recent = (this.changes.get(service) ?? []).filter((t) => now - t < this.opts.windowMs).length;
    const unstable = recent >= this.opts.threshold;
    if (unstable && !this.flagged.has(service)) {
      this.flagged.add(service);
      this.log.warn(
        { service, changes: recent, windowMs: this.opts.windowMs, holdMs: this.opts.holdMs },
        'tasks of this service keep starting and stopping (crash loop?); its task changes reach the proxies at most every holdMs',
      );
    } else if (!unstable && this.flagged.delete(service)) {
      this.log.info({ service }, 'tasks of this service are stable again; their changes reach the proxies at once');
    }
    return unstable;
  }
}
