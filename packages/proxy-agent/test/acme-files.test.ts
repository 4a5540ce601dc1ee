// Which ACME files a config names: only content-addressed acme-<16 hex>.crt/.key under the ACME directory.
import { referencedAcmeFiles } from '../src/acme-files.js';

test('finds the ACME files under the directory and nothing else', () => {
  const conf = [
    'ssl_certificate "/dev/shm/signalbox-acme/acme-0123456789abcdef.crt";',
    'ssl_certificate_key "/dev/shm/signalbox-acme/acme-0123456789abcdef.key";',
    'ssl_certificate "/dev/shm/signalbox-acme/acme-0123456789abcdef.crt";', // twice: listed once
    'ssl_certificate "/run/secrets/acme-fedcba9876543210.crt";', // a secret path, not ours
    'ssl_certificate "/dev/shm/signalbox-acme/../etc/shadow";', // never a path outside the names
    'ssl_certificate "/dev/shm/signalbox-acme/acme-XYZ.crt";',
  ].join('\n');
  expect(referencedAcmeFiles(conf, '/dev/shm/signalbox-acme')).toEqual(['acme-0123456789abcdef.crt', 'acme-0123456789abcdef.key']);
  expect(referencedAcmeFiles(conf, '/dev/shm/signalbox-acme/')).toEqual(['acme-0123456789abcdef.crt', 'acme-0123456789abcdef.key']);
  expect(referencedAcmeFiles('events {}\n', '/dev/shm/signalbox-acme')).toEqual([]);
});
