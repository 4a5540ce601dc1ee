// The shared test certificate: what the tests that use it rely on (names, key type, lifetime, a key that
// belongs to the certificate, files where asked).
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned, writeSelfSigned } from '../src/index.js';

const DAY_MS = 86_400_000;

test('an EC P-256 pair by default, CN from the first DNS name, every name in subjectAltName', () => {
  const pair = selfSigned({ dnsNames: ['a.test', '*.b.test'], days: 2 });
  const cert = new X509Certificate(pair.cert);
  expect(cert.subject).toBe('CN=a.test');
  expect(cert.subjectAltName).toBe('DNS:a.test, DNS:*.b.test');
  expect(cert.issuer).toBe(cert.subject);
  expect(cert.publicKey.asymmetricKeyType).toBe('ec');
  expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
  expect(cert.checkPrivateKey(createPrivateKey(pair.key))).toBe(true);
  const lifetime = Date.parse(cert.validTo) - Date.parse(cert.validFrom);
  expect(Math.round(lifetime / DAY_MS)).toBe(2);
});

test('RSA 2048 on request; a CN without subjectAltName; DNS and IP names together', () => {
  const rsa = new X509Certificate(selfSigned({ commonName: 'test', days: 1, keyType: 'rsa' }).cert);
  expect(rsa.subject).toBe('CN=test');
  expect(rsa.subjectAltName).toBeUndefined();
  expect(rsa.publicKey.asymmetricKeyType).toBe('rsa');
  expect(rsa.publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
  const mixed = new X509Certificate(selfSigned({ commonName: 'listener', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'], days: 1 }).cert);
  expect(mixed.subject).toBe('CN=listener');
  expect(mixed.subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1');
});

test('writeSelfSigned writes the two files named; no name at all is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sbx-self-signed-test-'));
  try {
    const files = writeSelfSigned({ certFile: join(dir, 'shop.crt'), keyFile: join(dir, 'shop.key') }, { dnsNames: ['shop.test'], days: 30 });
    expect(files).toEqual({ certFile: join(dir, 'shop.crt'), keyFile: join(dir, 'shop.key') });
    const cert = new X509Certificate(readFileSync(files.certFile));
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(files.keyFile)))).toBe(true);
    expect(() => writeSelfSigned({ certFile: join(dir, 'x.crt'), keyFile: join(dir, 'x.key') }, { days: 1 })).toThrow(/commonName/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
