// A self-signed P-256 certificate made by openssl, for tests that need a TLS pair on disk.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface SelfSignedFiles {
  certFile: string;
  keyFile: string;
}

/** Writes `cert.pem` and `key.pem` for `subject` (CN) with `subjectAltName` into `dir`. */
export function writeSelfSigned(dir: string, subject: string, subjectAltName: string, days: number): SelfSignedFiles {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      String(days),
      '-subj',
      `/CN=${subject}`,
      '-addext',
      `subjectAltName=${subjectAltName}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { certFile, keyFile };
}
