// Remove services from a model, and find (by bisection) the services whose routes make nginx -t fail,
// so one bad service costs only itself and the rest is still published.
import type { ClusterModel, Upstream } from '@signalbox/model';

function prune(up: Upstream, drop: ReadonlySet<string>): Upstream | undefined {
  if (up.services.every((s) => drop.has(s))) return undefined;
  return { ...up, servers: up.servers.filter((s) => !drop.has(s.service)), services: up.services.filter((s) => !drop.has(s)) };
}

export function withoutServices(model: ClusterModel, drop: ReadonlySet<string>): ClusterModel {
  if (drop.size === 0) return model;
  const virtualHosts = model.virtualHosts
    .map((vh) => ({
      ...vh,
      locations: vh.locations.flatMap((l) => {
        const upstream = prune(l.upstream, drop);
        return upstream ? [{ ...l, upstream }] : [];
      }),
    }))
    .filter((vh) => vh.locations.length > 0);
  const passthrough = model.passthrough.flatMap((p) => {
    const upstream = prune(p.upstream, drop);
    return upstream ? [{ ...p, upstream }] : [];
  });
  const out: ClusterModel = { ...model, virtualHosts, passthrough };
  // An excluded service's hosts stay its owner's: the proxy holds them (503) rather than letting the
  // default backend or another owner's wildcard answer them.
  const kept = new Set([...virtualHosts.map((v) => v.host), ...passthrough.map((p) => p.host)]);
  const dropped = [...model.virtualHosts.map((v) => v.host), ...model.passthrough.map((p) => p.host)].filter((h) => !kept.has(h));
  if (dropped.length > 0) out.heldHosts = [...new Set([...(model.heldHosts ?? []), ...dropped])].sort();
  const def = model.defaultBackend ? prune(model.defaultBackend, drop) : undefined;
  if (def) out.defaultBackend = def;
  else delete out.defaultBackend;
  return out;
}

export function routedServices(model: ClusterModel): string[] {
  const names = new Set<string>();
  for (const vh of model.virtualHosts) for (const l of vh.locations) for (const s of l.upstream.services) names.add(s);
  for (const p of model.passthrough) for (const s of p.upstream.services) names.add(s);
  for (const s of model.defaultBackend?.services ?? []) names.add(s);
  return [...names].sort();
}

/** nginx -t was stopped by the time limit (NginxValidator's message). */
export const isTimeout = (error: string): boolean => /^nginx -t did not finish within \d+ ms/.test(error);

/**
 * Adaptive group testing: grow a set of services known to validate together; a group that fails is split,
 * and a single failing service is a culprit (returned with nginx's error). About k·log2(n) validations for k culprits among n.
 *
 * A time-out is charged only to a service that times out on its own: a config that is slow because of
 * everything together must not be blamed on whichever service the bisection happened to add last (by
 * name order). Such a service stays included, so the caller's final check fails and nothing new is
 * published rather than an innocent service being excluded.
 */
export async function findCulprits(all: readonly string[], check: (included: ReadonlySet<string>) => Promise<string | undefined>): Promise<Map<string, string>> {
  const included = new Set<string>();
  const culprits = new Map<string, string>();
  const add = async (group: readonly string[]): Promise<void> => {
    if (group.length === 0) return;
    const trial = new Set([...included, ...group]);
    const error = await check(trial);
    if (error === undefined) {
      for (const s of group) included.add(s);
      return;
    }
    if (group.length === 1) {
      const service = group[0]!;
      if (isTimeout(error) && included.size > 0) {
        const alone = await check(new Set([service]));
        if (alone === undefined || !isTimeout(alone)) {
          if (alone !== undefined) culprits.set(service, alone);
          else included.add(service);
          return;
        }
      }
      culprits.set(service, error);
      return;
    }
    const mid = Math.ceil(group.length / 2);
    await add(group.slice(0, mid));
    await add(group.slice(mid));
  };
  await add(all);
  return culprits;
}
