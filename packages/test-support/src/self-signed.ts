// Self-signed certificates for tests, made by openssl: one way for every package's tests instead of a
// copy of the openssl call in each.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SelfSignedOptions {
  /** Subject CN; defaults to the first of `dnsNames`. */
  commonName?: string;
  /** subjectAltName DNS entries. */
  dnsNames?: readonly string[];
  /** subjectAltName IP entries. */
  ipAddresses?: readonly string[];
  /** Validity from now, in days. */
  days: number;
  /** `ec`: P-256, quick to make (the default). `rsa`: 2048 bits. */
  keyType?: 'ec' | 'rsa';
}

export interface PemPair {
  cert: string;
  key: string;
}

export interface PemFiles {
  certFile: string;
  keyFile: string;
}

/** Writes a self-signed certificate and its unencrypted key (PEM) to the two files named. */
export function writeSelfSigned(files: PemFiles, o: SelfSignedOptions): PemFiles {
  const commonName = o.commonName ?? o.dnsNames?.[0];
  if (!commonName) throw new Error('writeSelfSigned: give a commonName or at least one DNS name');
  const altNames = [...(o.dnsNames ?? []).map((n) => `DNS:${n}`), ...(o.ipAddresses ?? []).map((a) => `IP:${a}`)];
  const newKey = (o.keyType ?? 'ec') === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      ...newKey,
      '-nodes',
      '-days',
      String(o.days),
      '-subj',
      `/CN=${commonName}`,
      ...(altNames.length > 0 ? ['-addext', `subjectAltName=${altNames.join(',')}`] : []),
      '-keyout',
      files.keyFile,
      '-out',
      files.certFile,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  return files;
}

/** A self-signed certificate and its key as PEM text (made in a temporary directory, removed after). */
export function selfSigned(o: SelfSignedOptions): PemPair {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-self-signed-'));
  try {
    const { certFile, keyFile } = writeSelfSigned({ certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') }, o);
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
