// What a certificate/key pair must be for a host to be served with it: a PEM certificate, an
// unencrypted PEM key that belongs to it, names that cover the host, not expired. Checked where the pair
// can really be read: Docker secrets only inside the proxy tasks that mount them (each checks the pairs
// of a config before it installs it), ACME pairs in the extension that issued them.
import { X509Certificate, createPrivateKey } from 'node:crypto';

/** Reads a pair's file by its name (a secret's name, or an ACME file); undefined when it is not there. */
export type PairReader = (name: string) => Buffer | undefined;

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

/** What a pair is, read once: why it cannot be served at all, or the names and end of validity it has. */
export type PairInspection = { ok: false; problem: string } | { ok: true; names: string[]; validTo: number };

/**
 * Reads and parses a pair: a PEM certificate and an unencrypted PEM key that belongs to it. `where` says
 * where a file that cannot be read should have been (e.g. "in the extension").
 */
export function inspectPair(certName: string, keyName: string, read: PairReader, where: string): PairInspection {
  const certPem = read(certName);
  if (certPem === undefined) return { ok: false, problem: `certificate secret ${certName} is not mounted ${where}` };
  const keyPem = read(keyName);
  if (keyPem === undefined) return { ok: false, problem: `key secret ${keyName} is not mounted ${where}` };
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certPem);
  } catch {
    return { ok: false, problem: `secret ${certName} (ssl_cert) is not a PEM certificate` };
  }
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch {
    return { ok: false, problem: `secret ${keyName} (ssl_key) is not a PEM private key (or it is encrypted)` };
  }
  if (!cert.checkPrivateKey(key)) return { ok: false, problem: `key ${keyName} does not belong to certificate ${certName}` };
  return { ok: true, names: certificateNames(cert), validTo: Date.parse(cert.validTo) };
}

/** Why an inspected pair cannot serve `host` (null: the default server, any name) at `now`, or undefined. */
export function pairServes(certName: string, pair: PairInspection, host: string | null, now = Date.now()): string | undefined {
  if (!pair.ok) return pair.problem;
  if (host !== null && !pair.names.some((n) => covers(n, host))) return `certificate ${certName} is not for host ${host} (it is for ${pair.names.join(', ') || 'no DNS name'})`;
  if (pair.validTo < now) return `certificate ${certName} expired on ${new Date(pair.validTo).toUTCString()}`;
  return undefined;
}

/** Why this certificate/key pair cannot serve `host` (null: the default server, any name), or undefined if it can. */
export function pairProblem(host: string | null, certName: string, keyName: string, read: PairReader, where: string, now = Date.now()): string | undefined {
  return pairServes(certName, inspectPair(certName, keyName, read, where), host, now);
}
