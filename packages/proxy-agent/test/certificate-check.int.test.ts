// The routing task checks the certificate pairs a config names on the secrets it mounts (here: real PEM
// files made with openssl), before nginx -t: the rules (@signalbox/protocol's pairProblem), which lines
// of a config name a pair, and the installer refusing a config from the extension for them.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { covers, pairProblem } from '@signalbox/protocol';
import { writeSelfSigned } from '@signalbox/test-support';
import { CertificateCheck, describeProblems, serverPairs } from '../src/certificate-check.js';
import { Installer, type Candidate } from '../src/installer.js';
import { FakeRunner, makeTempDir, silentLogger } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'sbx-agent-certs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function pair(base: string, names: string[]): void {
  writeSelfSigned({ certFile: join(dir, `${base}.crt`), keyFile: join(dir, `${base}.key`) }, { dnsNames: names, days: 30 });
}
pair('shop', ['shop.example.com']);
pair('wild', ['*.shop.example.com']);
pair('other', ['other.example.com']);
writeFileSync(join(dir, 'db-password'), 'hunter2\n');
const files = (name: string) => {
  try {
    return readFileSync(join(dir, name));
  } catch {
    return undefined;
  }
};

test('covers: exact names, and one-label wildcards over exact hosts only', () => {
  expect(covers('shop.example.com', 'shop.example.com')).toBe(true);
  expect(covers('*.shop.example.com', 'login.shop.example.com')).toBe(true);
  expect(covers('*.shop.example.com', 'a.b.shop.example.com')).toBe(false);
  expect(covers('*.shop.example.com', '*.shop.example.com')).toBe(true);
  expect(covers('*.example.com', '*.shop.example.com')).toBe(false);
});

test('pairProblem: parse, match, host coverage, expiry, readable', () => {
  const where = 'in this proxy task';
  expect(pairProblem('shop.example.com', 'shop.crt', 'shop.key', files, where)).toBeUndefined();
  expect(pairProblem('login.shop.example.com', 'wild.crt', 'wild.key', files, where)).toBeUndefined();
  expect(pairProblem(null, 'shop.crt', 'shop.key', files, where)).toBeUndefined();
  expect(pairProblem('x.example.com', 'db-password', 'db-password', files, where)).toBe('secret db-password (ssl_cert) is not a PEM certificate');
  expect(pairProblem('shop.example.com', 'shop.crt', 'db-password', files, where)).toBe('secret db-password (ssl_key) is not a PEM private key (or it is encrypted)');
  expect(pairProblem('shop.example.com', 'shop.crt', 'other.key', files, where)).toBe('key other.key does not belong to certificate shop.crt');
  expect(pairProblem('evil.example.net', 'shop.crt', 'shop.key', files, where)).toBe('certificate shop.crt is not for host evil.example.net (it is for shop.example.com)');
  expect(pairProblem('shop.example.com', 'shop.crt', 'shop.key', files, where, Date.now() + 40 * 86_400_000)).toMatch(/^certificate shop\.crt expired on /);
  expect(pairProblem('shop.example.com', 'missing.crt', 'shop.key', files, where)).toBe('certificate secret missing.crt is not mounted in this proxy task');
});

const config = (d: string) => `events {}
http {
    # default (https)
    server {
        listen 127.0.0.1:10443 ssl default_server;
        ssl_certificate "${d}/shop.crt";
        ssl_certificate_key "${d}/shop.key";
    }
    # shop.example.com (https)
    server {
        listen 127.0.0.1:10443 ssl;
        server_name "shop.example.com";
        ssl_certificate "${d}/shop.crt";
        ssl_certificate_key "${d}/shop.key";
    }
    # evil.example.net (https)
    server {
        listen 127.0.0.1:10443 ssl;
        server_name "evil.example.net";
        ssl_certificate "${d}/other.crt";
        ssl_certificate_key "${d}/other.key";
        location "/" { return 200; }
    }
    server {
        listen 127.0.0.1:10443 ssl;
        server_name "new.example.com";
        ssl_certificate "${d}/not-mounted-yet.crt";
        ssl_certificate_key "${d}/not-mounted-yet.key";
    }
    server {
        listen 127.0.0.1:10443 ssl;
        server_name "acme.example.com";
        ssl_certificate "/run/signalbox/acme/acme.example.com.crt";
        ssl_certificate_key "/run/signalbox/acme/acme.example.com.key";
    }
    server {
        listen 80;
        server_name "plain.example.com";
    }
}
`;

test("serverPairs: each server block's pair with its first server_name (none for the default server)", () => {
  expect(serverPairs(config('/run/secrets'))).toEqual([
    { host: undefined, certificate: '/run/secrets/shop.crt', key: '/run/secrets/shop.key' },
    { host: 'shop.example.com', certificate: '/run/secrets/shop.crt', key: '/run/secrets/shop.key' },
    { host: 'evil.example.net', certificate: '/run/secrets/other.crt', key: '/run/secrets/other.key' },
    { host: 'new.example.com', certificate: '/run/secrets/not-mounted-yet.crt', key: '/run/secrets/not-mounted-yet.key' },
    { host: 'acme.example.com', certificate: '/run/signalbox/acme/acme.example.com.crt', key: '/run/signalbox/acme/acme.example.com.key' },
  ]);
});

test('CertificateCheck: only the bad pairs of the secrets dir; files not there are left to nginx -t; ACME pairs are not its', async () => {
  const check = new CertificateCheck({ secretsDir: dir });
  const problems = await check.problems(config(dir));
  expect(problems).toEqual([
    { host: 'evil.example.net', certSecret: 'other.crt', keySecret: 'other.key', reason: 'certificate other.crt is not for host evil.example.net (it is for other.example.com)' },
  ]);
  expect(describeProblems(problems)).toBe('certificate pairs this proxy task cannot serve: evil.example.net: certificate other.crt is not for host evil.example.net (it is for other.example.com)');
  // A month on, every pair has expired; the default server's too (it is checked without a host).
  const later = new CertificateCheck({ secretsDir: dir, now: () => Date.now() + 40 * 86_400_000 });
  expect((await later.problems(config(dir))).map((p) => [p.host, p.reason.replace(/ on .*/, '')])).toEqual([
    [undefined, 'certificate shop.crt expired'],
    ['shop.example.com', 'certificate shop.crt expired'],
    ['evil.example.net', 'certificate other.crt is not for host evil.example.net (it is for other.example.com)'],
  ]);
});

test('a pair is read once per task (secrets never change under a name); host and expiry are checked on every config', async () => {
  let now = Date.now();
  const check = new CertificateCheck({ secretsDir: dir, now: () => now });
  const one = (host: string) => `server {\n    server_name "${host}";\n    ssl_certificate "${dir}/shop.crt";\n    ssl_certificate_key "${dir}/shop.key";\n}\n`;
  expect(await check.problems(one('shop.example.com'))).toEqual([]);
  // The same pair for another host: no new read is needed to say it does not cover it.
  expect((await check.problems(one('evil.example.net'))).map((p) => p.reason)).toEqual(['certificate shop.crt is not for host evil.example.net (it is for shop.example.com)']);
  now += 40 * 86_400_000;
  expect((await check.problems(one('shop.example.com'))).map((p) => p.reason)).toEqual([expect.stringMatching(/^certificate shop\.crt expired on /)]);
});

describe('the installer', () => {
  const cand = (text: string): Candidate => ({ bytes: Buffer.from(text), configName: 'cfg', source: 'extension' });
  const GOOD = `events {}\nhttp {\n    server {\n        server_name "shop.example.com";\n        ssl_certificate "${dir}/shop.crt";\n        ssl_certificate_key "${dir}/shop.key";\n    }\n}\n`;
  const BAD = GOOD.replace(/shop\.key/, 'other.key');

  test('refuses a config from the extension naming a bad pair before nginx -t, and says which; a good one goes on to nginx -t', async () => {
    const { dir: tmp, cleanup } = await makeTempDir();
    try {
      const runner = new FakeRunner(join(tmp, 'nginx.conf'));
      const check = new CertificateCheck({ secretsDir: dir });
      const installer = new Installer({
        configPath: join(tmp, 'nginx.conf'),
        runner,
        logger: silentLogger,
        checkCandidate: async (c) => {
          const certificates = await check.problems(c.bytes.toString('utf8'));
          return certificates.length > 0 ? { reason: describeProblems(certificates), certificates } : undefined;
        },
      });
      const refused = await installer.submit(cand(BAD));
      expect(refused.status).toBe('failed');
      expect(refused.certificates).toEqual([{ host: 'shop.example.com', certSecret: 'shop.crt', keySecret: 'other.key', reason: 'key other.key does not belong to certificate shop.crt' }]);
      expect(installer.lastFailure?.reason).toContain('key other.key does not belong to certificate shop.crt');
      expect(runner.tests).toEqual([]);
      // The same bytes again: known bad, not reported twice.
      expect((await installer.submit(cand(BAD))).repeated).toBe(true);
      expect((await installer.submit(cand(GOOD))).status).toBe('installed');
      expect(runner.tests).toEqual([GOOD]);
    } finally {
      await cleanup();
    }
  });

  test('never refuses what it restores at start (a persisted config is served as it was installed)', async () => {
    const { dir: tmp, cleanup } = await makeTempDir();
    try {
      const runner = new FakeRunner(join(tmp, 'nginx.conf'));
      let asked = 0;
      const installer = new Installer({
        configPath: join(tmp, 'nginx.conf'),
        runner,
        logger: silentLogger,
        checkCandidate: async () => {
          asked++;
          return { reason: 'always', certificates: [] };
        },
      });
      const res = await installer.initialize({
        bootstrapPath: join(tmp, 'none.conf'),
        bootstrapConfigName: '',
        builtin: { bytes: Buffer.from('events {}\n'), configName: 'builtin' },
        persisted: { bytes: Buffer.from(BAD), configName: 'cfg', source: 'extension', preferred: true },
      });
      expect(res.status).toBe('installed');
      expect(installer.installed?.source).toBe('extension');
      expect(asked).toBe(0);
    } finally {
      await cleanup();
    }
  });
});
