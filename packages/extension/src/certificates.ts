// Certificates are checked where they can really be read: Docker secrets cannot be read through the
// API, only inside a task that mounts them. Core mounts the secrets of the routes an extension serves
// into the extension too, so before a config is published every certificate/key pair a proxy would
// load is parsed, matched and checked against the hosts it serves. A bad pair costs only the services
// of its hosts: they are excluded like a service whose routes fail nginx -t, and the rest is published
// (one tenant's bad secret used to make every proxy refuse the whole config).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClusterModel } from '@signalbox/model';

/** Reads a mounted secret; undefined when it is not there (not mounted, or not readable). */
export type SecretReader = (name: string) => Buffer | undefined;

export function secretsDirReader(dir: string): SecretReader {
  return (name) => {
    try {
      return readFileSync(join(dir, name));
    } catch {
      return undefined;
    }
  };
}

/** DNS names a certificate is for: its subjectAltName DNS entries, else its CN. */
function certificateNames(cert: X509Certificate): string[] {
  const san = cert.subjectAltName;
  if (san) {
    return san
      .split(/,\s*/)
      .filter((e) => e.startsWith('DNS:'))
      .map((e) => e.slice(4).toLowerCase());
  }
  const cn = /(?:^|\n)CN=([^\n]+)/.exec(cert.subject)?.[1];
  return cn ? [cn.toLowerCase()] : [];
}

/** A certificate name covers a host: equal, or a one-label wildcard over an exact host. */
export function covers(name: string, host: string): boolean {
  if (name === host) return true;
  if (!name.startsWith('*.') || host.startsWith('*.')) return false;
  const dot = host.indexOf('.');
  return dot > 0 && host.slice(dot + 1) === name.slice(2);
}

/** Why this certificate/key pair cannot serve `host`, or undefined if it can. */
export function pairProblem(host: string, certSecret: string, keySecret: string, read: SecretReader): string | undefined {
  const certPem = read(certSecret);
  if (certPem === undefined) return `certificate secret ${certSecret} is not mounted in the extension yet, so it cannot be checked; retried with the next model`;
  const keyPem = read(keySecret);
  if (keyPem === undefined) return `key secret ${keySecret} is not mounted in the extension yet, so it cannot be checked; retried with the next model`;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return `secret ${certSecret} (ssl_cert) is not a PEM certificate`;
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return `secret ${keySecret} (ssl_key) is not a PEM private key (or it is encrypted)`;
  }
  if (!cert.checkPrivateKey(key)) return `key ${keySecret} does not belong to certificate ${certSecret}`;
  const names = certificateNames(cert);
  if (!names.some((n) => covers(n, host))) return `certificate ${certSecret} is not for host ${host} (it is for ${names.join(', ') || 'no DNS name'})`;
  const now = Date.now();
  if (Date.parse(cert.validTo) < now) return `certificate ${certSecret} expired on ${cert.validTo}`;
  return undefined;
}

/**
 * Services whose certificate or key secret is not mounted in this task, each with the first such
 * secret; `reserved` names are left out (never mounted, so certificateCulprits reports them). Core mounts
 * every secret of the model into the extension, so one missing here is on its way: the extension rolls
 * start-first to mount it, and until the old task is retired it can still be handed the model. That is
 * a wait (WARN_SECRET_PENDING), not the app team's error.
 */
export function servicesWaitingForMounts(model: ClusterModel, read: SecretReader, reserved: (secret: string) => boolean): Map<string, string> {
  const out = new Map<string, string>();
  for (const vh of model.virtualHosts) {
    if (!vh.tls) continue;
    const secret = [vh.tls.certSecret, vh.tls.keySecret].find((s) => !reserved(s) && read(s) === undefined);
    if (secret === undefined) continue;
    for (const l of vh.locations) for (const s of l.upstream.services) if (!out.has(s)) out.set(s, secret);
  }
  return out;
}

/** Services whose TLS hosts have a pair that cannot be served, each with the first reason found. */
export function certificateCulprits(model: ClusterModel, read: SecretReader): Map<string, string> {
  const out = new Map<string, string>();
  const seen = new Map<string, string | undefined>();
  for (const vh of model.virtualHosts) {
    if (!vh.tls) continue;
    const key = `${vh.host}\n${vh.tls.certSecret}\n${vh.tls.keySecret}`;
    if (!seen.has(key)) seen.set(key, pairProblem(vh.host, vh.tls.certSecret, vh.tls.keySecret, read));
    const problem = seen.get(key);
    if (problem === undefined) continue;
    for (const l of vh.locations) for (const s of l.upstream.services) if (!out.has(s)) out.set(s, problem);
  }
  return out;
}
