// Pure builder: swarm snapshot → one routing model per extension (service cluster).
// Deterministic: services are considered in (createdAt, name, id) order, so the service that
// loses a conflict is the same one after every restart, and output is sorted throughout.
// This module assembles each cluster's model; its steps are service-evaluation.ts (labels checked
// against the swarm), service-reach.ts, ownership.ts, conflicts.ts and cluster-upstreams.ts.
import { createHash } from 'node:crypto';
import type { Candidate, ClusterTarget } from './builder-types.js';
import { L } from './cluster-diagnostics.js';
import { makeUpstream, upstreamName } from './cluster-upstreams.js';
import { resolveConflicts } from './conflicts.js';
import type { Diagnostic } from './diagnostics.js';
import { ownerOf, ownerRules } from './ownership.js';
import type { OwnerClaim } from './ownership.js';
import type { ClusterModel, Location, PassthroughHost, RedirectRule, ServiceStatus, VirtualHost } from './routing-model.js';
import { serversFor } from './service-reach.js';
import { evaluate, serviceOrder } from './service-evaluation.js';
import type { EvalContext } from './service-evaluation.js';
import type { SwarmSnapshot } from './snapshot.js';

function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

function emptyModel(cluster: string): ClusterModel {
  return { cluster, virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] };
}

/** Build one model per target. Services whose service_cluster matches no target are reported by every target. */
export function buildClusterModels(snap: SwarmSnapshot, targets: readonly ClusterTarget[]): Map<string, ClusterModel> {
  const ctx: EvalContext = {
    snap,
    networksById: new Map(snap.networks.map((n) => [n.id, n])),
    secretNames: new Set(snap.secrets.map((s) => s.name)),
    knownClusters: new Set(targets.map((t) => t.serviceCluster)),
    targets,
  };
  const perCluster = new Map<string, { cands: Candidate[]; statuses: ServiceStatus[]; rejectedHosts: HostOf[] }>();
  const orphans: ServiceStatus[] = [];
  for (const t of targets) perCluster.set(t.serviceCluster, { cands: [], statuses: [], rejectedHosts: [] });
  const secretLabels = new Map(snap.secrets.map((s) => [s.name, s.labels ?? {}]));

  const services = [...snap.services].sort(serviceOrder);
  for (const svc of services) {
    const current = evaluate(svc, svc.labels, ctx);
    if (current.kind === 'ignored') continue;
    let chosen = current;
    let labelErrors: Diagnostic[] = [];
    // Nothing that was working is lost: if an update broke the labels, keep routing the previous labels
    // (Docker keeps them as PreviousSpec) and report the new problems.
    // Taking away hosts (or default_backend) withdraws the route on purpose: no fallback then.
    const stillRouted = L('hosts') in svc.labels || L('default_backend') in svc.labels;
    if (current.kind === 'rejected' && svc.previousLabels && stillRouted) {
      const previous = evaluate(svc, svc.previousLabels, ctx);
      if (previous.kind === 'ok') {
        chosen = previous;
        labelErrors = current.errors;
      }
    }
    const bucket = perCluster.get(chosen.cluster);
    if (chosen.kind === 'rejected') {
      const st: ServiceStatus = { id: svc.id, name: svc.name, cluster: chosen.cluster, servers: 0, status: 'disabled', hosts: chosen.hosts, errors: chosen.errors, warnings: chosen.warnings };
      (bucket ? bucket.statuses : orphans).push(st);
      for (const host of chosen.hosts) bucket?.rejectedHosts.push({ host, owner: ownerOf(svc.labels) });
      continue;
    }
    const warnings =
      labelErrors.length === 0
        ? chosen.warnings
        : [
            ...chosen.warnings,
            {
              code: 'WARN_SERVING_PREVIOUS_LABELS' as const,
              severity: 'warning' as const,
              key: 'com.docker.lb.*',
              message: 'the current labels are rejected (see errors); the previous labels of this service are still routed until they are fixed',
            },
          ];
    bucket!.cands.push({ svc, spec: chosen.spec, reach: chosen.reach, servers: serversFor(svc, chosen.spec, chosen.reach, snap), errors: labelErrors, warnings });
  }

  const out = new Map<string, ClusterModel>();
  for (const t of targets) {
    const bucket = perCluster.get(t.serviceCluster)!;
    out.set(t.name, assemble(t, bucket.cands, [...bucket.statuses, ...orphans], bucket.rejectedHosts, secretLabels));
  }
  return out;
}

interface HostOf {
  host: string;
  owner: string;
}

function assemble(
  target: ClusterTarget,
  cands: Candidate[],
  disabled: ServiceStatus[],
  rejectedHosts: readonly HostOf[],
  secretLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): ClusterModel {
  const model = emptyModel(target.serviceCluster);
  const { lost, hostOwner } = resolveConflicts(cands, ownerRules(target), secretLabels);
  const winners = cands.filter((c) => !lost.has(c));
  const statuses: ServiceStatus[] = [...disabled];
  for (const c of cands) {
    const problems = lost.get(c);
    statuses.push({
      id: c.svc.id,
      name: c.svc.name,
      cluster: target.serviceCluster,
      status: problems ? 'disabled' : 'enabled',
      hosts: c.spec.hosts,
      servers: problems ? 0 : c.servers.length,
      errors: [...c.errors, ...(problems ?? [])],
      warnings: c.warnings,
    });
  }
  model.services = statuses.sort(byString((s) => `${s.name}\n${s.id}`));

  // Group winners by host → path.
  const hosts = new Map<string, Map<string, Candidate[]>>();
  const passthrough = new Map<string, Candidate>();
  const redirects: RedirectRule[] = [];
  const networks = new Set<string>();
  const secrets = new Set<string>();
  for (const c of winners) {
    if (c.reach.kind === 'network') networks.add(c.reach.network.name);
    if (c.spec.sslCert !== undefined) secrets.add(c.spec.sslCert);
    if (c.spec.sslKey !== undefined) secrets.add(c.spec.sslKey);
    for (const r of c.spec.redirects) redirects.push({ sourceHost: r.sourceHost, source: r.source, target: r.target });
    if (c.spec.defaultBackend && model.defaultBackend === undefined) {
      model.defaultBackend = makeUpstream('u_default_backend', [c]);
    }
    for (const host of c.spec.hosts) {
      if (c.spec.sslPassthrough) {
        passthrough.set(host, c);
        continue;
      }
      const paths = hosts.get(host) ?? new Map<string, Candidate[]>();
      const path = c.spec.contextRoot ?? '/';
      paths.set(path, [...(paths.get(path) ?? []), c]);
      hosts.set(host, paths);
    }
  }

  for (const host of [...hosts.keys()].sort()) {
    const paths = hosts.get(host)!;
    const members = [...paths.values()].flat();
    const withCert = members.find((m) => m.spec.sslCert !== undefined && m.spec.sslKey !== undefined);
    const locations: Location[] = [...paths.keys()].sort().map((path) => {
      const group = paths.get(path)!;
      const ws = new Set(group.flatMap((g) => g.spec.websocketEndpoints));
      return {
        path,
        rewrite: group[0]!.spec.contextRootRewrite,
        websocketEndpoints: [...ws].sort(),
        upstream: makeUpstream(upstreamName(host, path), group),
      };
    });
    const vh: VirtualHost = { host, sslOnly: members.some((m) => m.spec.sslOnly), locations };
    if (withCert) vh.tls = { certSecret: withCert.spec.sslCert!, keySecret: withCert.spec.sslKey! };
    model.virtualHosts.push(vh);
  }
  model.passthrough = [...passthrough.keys()].sort().map((host): PassthroughHost => {
    const c = passthrough.get(host)!;
    const p: PassthroughHost = { host, upstream: makeUpstream(upstreamName(`tls.${host}`, '/'), [c]) };
    if (c.spec.sslOnly) p.sslOnly = true;
    return p;
  });
  model.redirects = dedupeRedirects(redirects);
  const held = heldHosts(model, cands, lost, hostOwner, rejectedHosts);
  if (held.length > 0) model.heldHosts = held;
  model.proxyNetworks = target.networks.length > 0 ? [...target.networks].sort() : [...networks].sort();
  model.proxySecrets = [...secrets].sort();
  return model;
}

/**
 * Hosts someone claims but that are not routed over plain HTTP here (their service is rejected, or the
 * host is passed through without ssl_only), and that would otherwise fall to another owner: the default
 * backend of another owner, or another owner's wildcard. The renderer answers them itself (503, TLS
 * handshake rejected), so no other owner ever receives their requests.
 */
function heldHosts(model: ClusterModel, cands: Candidate[], lost: ReadonlyMap<Candidate, Diagnostic[]>, hostOwner: ReadonlyMap<string, OwnerClaim>, rejected: readonly HostOf[]): string[] {
  const served = new Set<string>(model.virtualHosts.map((v) => v.host));
  for (const p of model.passthrough) if (p.sslOnly) served.add(p.host);
  for (const r of model.redirects) served.add(r.sourceHost);
  const defaultOwner = model.defaultBackend ? ownerOf(cands.find((c) => !lost.has(c) && c.spec.defaultBackend)?.svc.labels) : undefined;
  const wildcardOwner = new Map<string, string>();
  for (const v of model.virtualHosts) if (v.host.startsWith('*.')) wildcardOwner.set(v.host, hostOwner.get(v.host)?.owner ?? '');
  const owners = new Map<string, string>();
  const consider = (host: string, owner: string) => {
    if (!served.has(host) && !owners.has(host)) owners.set(host, hostOwner.get(host)?.owner ?? owner);
  };
  for (const p of model.passthrough) consider(p.host, hostOwner.get(p.host)?.owner ?? '');
  for (const c of cands) if (lost.has(c)) for (const h of c.spec.hosts) consider(h, ownerOf(c.svc.labels));
  for (const r of rejected) consider(r.host, r.owner);
  const foreignWildcard = (host: string, owner: string): boolean => {
    if (wildcardOwner.size === 0) return false;
    const labels = host.split('.');
    for (let i = 1; i < labels.length; i++) {
      const o = wildcardOwner.get(`*.${labels.slice(i).join('.')}`);
      if (o !== undefined && o !== owner) return true;
    }
    return false;
  };
  return [...owners]
    .filter(([host, owner]) => (defaultOwner !== undefined && defaultOwner !== owner) || foreignWildcard(host, owner))
    .map(([host]) => host)
    .sort();
}

function dedupeRedirects(rs: RedirectRule[]): RedirectRule[] {
  const seen = new Map<string, RedirectRule>();
  for (const r of rs) if (!seen.has(r.source)) seen.set(r.source, r);
  return [...seen.values()].sort(byString((r) => `${r.sourceHost}\n${r.source}`));
}

/** Stable content hash of a model (or anything JSON): the version served as ETag. */
export function contentVersion(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}
