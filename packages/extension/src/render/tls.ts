// TLS settings: certificate files from secrets, the default backend's certificate, and the
// http-level ssl_protocols / ssl_ciphers / ssl_dhparam.
import type { NginxTuning, Upstream, VirtualHost } from '@signalbox/model';
import { RenderError, quote } from './quote.js';
import { emptyOrNull } from './config-values.js';
import type { RenderOptions } from './view-types.js';

export const DEFAULT_TRUSTED_CERTIFICATE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Names of ACME files in a model's TlsCert: issued by the extension, kept by the agents under acmeDir.
 * '.' can start neither a Docker secret name nor a label value, so no tenant can name one.
 */
export const ACME_FILE_PREFIX = '.acme-';
export const DEFAULT_ACME_DIR = '/dev/shm/signalbox-acme';

/** Quoted path of a mounted secret (or of an ACME file, under acmeDir); the name must be a plain file name. */
export function secretPath(secretsDir: string, secret: string, acmeDir?: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(secret) || secret === '.' || secret === '..') {
    throw new RenderError(`invalid secret name: ${JSON.stringify(secret)}`);
  }
  if (secret.startsWith(ACME_FILE_PREFIX)) return quote(`${(acmeDir ?? DEFAULT_ACME_DIR).replace(/\/+$/, '')}/${secret.slice(1)}`);
  return quote(`${secretsDir.replace(/\/+$/, '')}/${secret}`);
}

/** ssl_certificate and ssl_certificate_key of a virtual host's secrets (or ACME files). */
export function certificateFiles(secretsDir: string, tls: NonNullable<VirtualHost['tls']>, acmeDir?: string): { certificate: string; certificateKey: string } {
  return { certificate: secretPath(secretsDir, tls.certSecret, acmeDir), certificateKey: secretPath(secretsDir, tls.keySecret, acmeDir) };
}

/** The first (by host) TLS virtual host routed to a service of the default backend, if any. */
export function defaultBackendCertificate(db: Upstream, vhosts: readonly VirtualHost[]): { host: string; tls: NonNullable<VirtualHost['tls']> } | undefined {
  const services = new Set(db.services);
  for (const vh of vhosts) {
    if (vh.tls && vh.locations.some((l) => l.upstream.services.some((name) => services.has(name)))) return { host: vh.host, tls: vh.tls };
  }
  return undefined;
}

export function sslProtocols(value: string): string | null {
  const v = value.trim();
  if (v === '') return null;
  const parts = v.split(/\s+/);
  for (const p of parts) {
    if (!/^[A-Za-z0-9.]+$/.test(p)) throw new RenderError(`invalid SSLProtocols: ${JSON.stringify(value)}`);
  }
  return parts.join(' ');
}

export function sslCiphers(value: string): string | null {
  return emptyOrNull(value) === null ? null : quote(value.trim());
}

/** Quoted ssl_dhparam: SSLDefaultDHParamPath, else the options' file; neither = only ECDHE key exchange. */
export function sslDhparam(t: NginxTuning, opts: RenderOptions): string | null {
  const dhparam = emptyOrNull(t.SSLDefaultDHParamPath)?.trim() ?? opts.dhparamPath ?? null;
  return dhparam === null ? null : quote(dhparam);
}
