// One service's labels, decoded and checked against the swarm (limits, service cluster, secrets,
// network) before it takes part in conflict resolution; and the order services are considered in.
import type { ClusterTarget, Reach } from './builder-types.js';
import { L, err } from './cluster-diagnostics.js';
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';
import { decodeLabels } from './labels.js';
import { resolveReach } from './service-reach.js';
import type { NetworkSnapshot, ServiceSnapshot, SwarmSnapshot } from './snapshot.js';

/** Per-service limits, so one service's labels cannot make the config slow to check or to load for everyone. */
export const MAX_HOSTS_PER_SERVICE = 100;
/** Total length of a service's com.docker.lb.* label values. */
export const MAX_LABELS_TOTAL_LENGTH = 8_192;

export function serviceOrder(a: ServiceSnapshot, b: ServiceSnapshot): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export interface EvalContext {
  snap: SwarmSnapshot;
  networksById: Map<string, NetworkSnapshot>;
  secretNames: Set<string>;
  knownClusters: Set<string>;
  targets: readonly ClusterTarget[];
}

type Evaluation =
  | { kind: 'ignored' }
  | { kind: 'rejected'; cluster: string; hosts: string[]; errors: Diagnostic[]; warnings: Diagnostic[] }
  | { kind: 'ok'; cluster: string; spec: RouteSpec; reach: Reach; warnings: Diagnostic[] };

/** One service's labels, decoded and checked against the swarm (networks, secrets, clusters). */
export function evaluate(svc: ServiceSnapshot, labels: Record<string, string>, ctx: EvalContext): Evaluation {
  const decoded = decodeLabels(labels);
  if (decoded.status === 'ignored') return { kind: 'ignored' };
  if (decoded.status === 'rejected') return { kind: 'rejected', cluster: decoded.serviceCluster, hosts: [], errors: decoded.errors, warnings: decoded.warnings };
  const spec = decoded.spec;
  const cluster = spec.serviceCluster;
  const errors: Diagnostic[] = [];
  const tooLong = labelsTooLong(labels);
  if (tooLong) return { kind: 'rejected', cluster, hosts: [], errors: [tooLong], warnings: decoded.warnings };
  if (spec.hosts.length > MAX_HOSTS_PER_SERVICE) {
    errors.push(
      err(
        'ERR_LIMIT_HOSTS',
        L('hosts'),
        `names ${spec.hosts.length} hosts; a service may route at most ${MAX_HOSTS_PER_SERVICE} (split it, or use a wildcard such as *.example.com)`,
        spec.hosts.slice(0, 3).join(','),
      ),
    );
    return { kind: 'rejected', cluster, hosts: [], errors, warnings: decoded.warnings };
  }
  if (!ctx.knownClusters.has(cluster)) {
    errors.push(
      err(
        'ERR_SERVICE_CLUSTER_UNKNOWN',
        L('service_cluster'),
        `names no configured service cluster (configured: ${[...ctx.knownClusters]
          .map((c) => (c === '' ? '(default)' : c))
          .sort()
          .join(', ')})`,
        cluster,
      ),
    );
  }
  for (const [key, name] of [
    ['ssl_cert', spec.sslCert],
    ['ssl_key', spec.sslKey],
  ] as const) {
    if (name !== undefined && !ctx.secretNames.has(name)) {
      errors.push(err('ERR_SECRET_NOT_FOUND', L(key), 'names a Docker secret that does not exist; create it with `docker secret create`', name));
    }
  }
  const reach = resolveReach(svc, spec, ctx.snap, ctx.networksById);
  if ('code' in reach) {
    errors.push(reach);
    return { kind: 'rejected', cluster, hosts: spec.hosts, errors, warnings: decoded.warnings };
  }
  const target = ctx.targets.find((t) => t.serviceCluster === cluster);
  if (reach.kind === 'network' && target && target.networks.length > 0 && !target.networks.includes(reach.network.name)) {
    errors.push(
      err('ERR_NETWORK_NOT_ALLOWED', L('network'), `is not in this cluster's fixed Networks list (${[...target.networks].sort().join(', ')}); the proxy only joins those`, reach.network.name),
    );
  }
  if (spec.backendMode === 'vip' && (reach.kind !== 'network' || svc.endpointMode !== 'vip')) {
    errors.push(err('ERR_BACKEND_MODE_VIP', L('backend_mode'), 'is vip but the service has no virtual IP on that network (endpoint mode dnsrr or host-published); use task', 'vip'));
  }
  if (errors.length > 0) return { kind: 'rejected', cluster, hosts: spec.hosts, errors, warnings: decoded.warnings };
  return { kind: 'ok', cluster, spec, reach, warnings: decoded.warnings };
}

/** The per-service cap on label text (each value is capped by the decoder; this caps them together). */
function labelsTooLong(labels: Record<string, string>): Diagnostic | undefined {
  let total = 0;
  for (const [k, v] of Object.entries(labels)) if (k.startsWith('com.docker.lb.')) total += k.length + v.length;
  if (total <= MAX_LABELS_TOTAL_LENGTH) return undefined;
  return err('ERR_LIMIT_LABELS', 'com.docker.lb.*', `labels of this service are ${total} characters long together; the limit is ${MAX_LABELS_TOTAL_LENGTH} per service`);
}
