// Certificates are checked where they can really be read. Docker secrets cannot be read through the API,
// only inside a task that mounts them: the proxy tasks check the pairs of each config before they install
// it and refuse it naming the bad pairs (Pipeline.proxyRefusal excludes those hosts' services). The
// extension reads only the ACME pairs it issued, and checks those here. A bad pair costs only the
// services of its hosts; the rest is published (one tenant's bad secret must not freeze every proxy).
import type { ClusterModel, VirtualHost } from '@signalbox/model';
import { pairProblem, type CertificateProblem, type PairReader } from '@signalbox/protocol';

/** Adds the services of `vh` to `out` with `reason`, keeping the first reason a service got. */
function blame(out: Map<string, string>, vh: VirtualHost, reason: string): void {
  for (const l of vh.locations) for (const s of l.upstream.services) if (!out.has(s)) out.set(s, reason);
}

/** Services whose TLS hosts have a pair checked here (`checkedHere` of its certificate) that cannot be served, each with the first reason. */
export function certificateCulprits(model: ClusterModel, read: PairReader, checkedHere: (certSecret: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, string | undefined>();
  for (const vh of model.virtualHosts) {
    if (!vh.tls || !checkedHere(vh.tls.certSecret)) continue;
    const key = `${vh.host}\n${vh.tls.certSecret}\n${vh.tls.keySecret}`;
    if (!seen.has(key)) seen.set(key, pairProblem(vh.host, vh.tls.certSecret, vh.tls.keySecret, read, 'in the extension'));
    const problem = seen.get(key);
    if (problem !== undefined) blame(out, vh, problem);
  }
  return out;
}

/** Services naming a secret of Signalbox's own (`reserved`) as certificate or key: core never mounts those into proxies. */
export function reservedSecretCulprits(model: ClusterModel, reserved: (secret: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const vh of model.virtualHosts) {
    if (!vh.tls) continue;
    const secret = [vh.tls.certSecret, vh.tls.keySecret].find(reserved);
    if (secret === undefined) continue;
    blame(out, vh, `secret ${secret} is Signalbox's own (an API token or the ACME store key) and is never mounted into proxies; label your own certificate and key secrets`);
  }
  return out;
}

/** The services of the hosts served with the pairs a proxy task reported, each with its reason. */
export function servicesOfPairs(model: ClusterModel, problems: readonly CertificateProblem[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of problems) {
    for (const vh of model.virtualHosts) {
      if (!vh.tls || vh.tls.certSecret !== p.certSecret || vh.tls.keySecret !== p.keySecret) continue;
      // The default server's pair (no host) is every host's that uses it.
      if (p.host === undefined || vh.host === p.host) blame(out, vh, p.reason);
    }
  }
  return out;
}
