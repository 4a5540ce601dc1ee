// Which hosts of a cluster get ACME certificates, and why the others do not. Pure: (model, the services'
// decoded acme labels, [Extensions.NAME.Acme]) → hosts to order plus one coded warning per refused host,
// added to the service that asked. Refusals never disable a service: it stays routed over plain HTTP
// (or with the explicit certificate that covers the host).
import type { AcmeConfig } from './config-types.js';
import type { Diagnostic } from './diagnostics.js';
import { decodeLabels } from './labels.js';
import type { ClusterModel } from './routing-model.js';
import type { SwarmSnapshot } from './snapshot.js';

export const ACME_CODE_DOCS = {
  WARN_ACME_NOT_CONFIGURED: 'com.docker.lb.acme=true, but the extension serving the service has no [Extensions.NAME.Acme] DirectoryURL: no certificate is ordered.',
  WARN_ACME_HOST_NOT_ALLOWED: 'The host matches none of the AllowedHosts patterns of [Extensions.NAME.Acme]: no certificate is ordered for it.',
  WARN_ACME_HOST_HAS_CERT: 'The host already has an explicit certificate (com.docker.lb.ssl_cert of this or another service); the explicit certificate wins and no ACME certificate is ordered.',
  WARN_ACME_WILDCARD: 'A wildcard host cannot be validated over HTTP-01; no certificate is ordered for it.',
  WARN_ACME_PASSTHROUGH: 'The host is passed through (ssl_passthrough): the proxy never terminates its TLS, so it gets no certificate.',
  WARN_ACME_HOST_NOT_ROUTED: 'The service does not route the host here (another service holds it, or it is held or excluded): no certificate is ordered for it.',
  WARN_ACME_ORDER_FAILED: "The extension's order for the host failed (CA error, rate limit, challenge unreachable); retried with backoff. Reported by the extension, added by core.",
} as const;

export type AcmeCode = keyof typeof ACME_CODE_DOCS;

const KEY = 'com.docker.lb.acme';

/** Whether a host pattern of AllowedHosts covers `host`: exact, or *.example.com for names under example.com. */
export function acmeHostAllowed(host: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true;
  return patterns.some((p) => (p.startsWith('*.') ? host.endsWith(p.slice(1)) && host.length > p.length - 1 : host === p));
}

/** Services of a snapshot labelled com.docker.lb.acme=true, by id (their previous labels when the current ones are rejected). */
export function acmeServiceIds(snap: SwarmSnapshot): Set<string> {
  const ids = new Set<string>();
  for (const svc of snap.services) {
    let r = decodeLabels(svc.labels);
    if (r.status === 'rejected' && svc.previousLabels !== undefined) r = decodeLabels(svc.previousLabels);
    if (r.status === 'ok' && r.spec.acme === true) ids.add(svc.id);
  }
  return ids;
}

function warn(code: AcmeCode, host: string, message: string): Diagnostic {
  return { code, severity: 'warning', key: KEY, value: host, message };
}

/**
 * The model with `acmeHosts` set (sorted, absent when empty) and a WARN_ACME_* warning on each asking
 * service for every host it is refused. Deterministic, so the model version stays a function of swarm state.
 */
export function withAcmePlan(model: ClusterModel, acmeIds: ReadonlySet<string>, acme: AcmeConfig): ClusterModel {
  const asking = model.services.filter((s) => s.status === 'enabled' && acmeIds.has(s.id));
  if (asking.length === 0) return model;
  const hosts = new Set<string>();
  const byHost = new Map(model.virtualHosts.map((v) => [v.host, v]));
  const passthrough = new Map(model.passthrough.map((p) => [p.host, p]));
  const services = model.services.map((s) => {
    if (!asking.includes(s)) return s;
    const refusals: Diagnostic[] = [];
    if (acme.DirectoryURL === '') {
      refusals.push(warn('WARN_ACME_NOT_CONFIGURED', s.hosts.join(','), 'is true, but this cluster has no ACME CA: set DirectoryURL in [Extensions.NAME.Acme] of config.toml'));
      return { ...s, warnings: [...s.warnings, ...refusals] };
    }
    for (const host of s.hosts) {
      const vh = byHost.get(host);
      const pt = passthrough.get(host);
      if (host.startsWith('*.')) {
        refusals.push(warn('WARN_ACME_WILDCARD', host, 'cannot get an ACME certificate: HTTP-01 validates single names only; list the names, or give an ssl_cert'));
      } else if (pt !== undefined && pt.upstream.services.includes(s.name)) {
        refusals.push(warn('WARN_ACME_PASSTHROUGH', host, 'is passed through to the service, which terminates TLS itself; no certificate is ordered'));
      } else if (vh === undefined || !vh.locations.some((l) => l.upstream.services.includes(s.name))) {
        refusals.push(warn('WARN_ACME_HOST_NOT_ROUTED', host, 'is not routed by this service here, so no certificate is ordered for it'));
      } else if (vh.tls !== undefined) {
        refusals.push(warn('WARN_ACME_HOST_HAS_CERT', host, `already has the explicit certificate ${vh.tls.certSecret}, which is kept; no ACME certificate is ordered`));
      } else if (!acmeHostAllowed(host, acme.AllowedHosts)) {
        refusals.push(warn('WARN_ACME_HOST_NOT_ALLOWED', host, `matches none of AllowedHosts (${acme.AllowedHosts.join(', ')}) in [Extensions.NAME.Acme]; ask the operator to add it`));
      } else {
        hosts.add(host);
      }
    }
    return refusals.length === 0 ? s : { ...s, warnings: [...s.warnings, ...refusals] };
  });
  const out: ClusterModel = { ...model, services };
  if (hosts.size > 0) out.acmeHosts = [...hosts].sort();
  return out;
}
