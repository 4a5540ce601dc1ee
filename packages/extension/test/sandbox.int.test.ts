// The nginx -t sandbox with real nginx (issue 10): a probe through it sees only loopback, no Docker
// socket, no /run/secrets, an unprivileged uid and the memory limit; nginx -t cannot resolve names (no
// network), cannot outgrow the memory limit, and is stopped at the time limit.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NginxValidator, type SandboxPaths } from '../src/nginx-validator.js';

const asRoot = process.getuid?.() === 0;

const conf = (p: SandboxPaths, http: string) =>
  `pid ${p.pidPath};\nerror_log ${p.prefix}/error.log;\nevents {}\nhttp {\n  client_body_temp_path ${p.tempDir};\n  proxy_temp_path ${p.tempDir};\n` +
  `  fastcgi_temp_path ${p.tempDir};\n  uwsgi_temp_path ${p.tempDir};\n  scgi_temp_path ${p.tempDir};\n  access_log off;\n${http}\n}\n`;

test('the sandbox state comes from a probe through it: all isolated when we are root', async () => {
  const v = new NginxValidator({ memoryLimitBytes: 512 * 1024 * 1024 });
  const s = await v.sandboxState();
  if (!asRoot) {
    expect(s.problems.join(' ')).toMatch(/not running as root/);
    return;
  }
  expect(s).toMatchObject({ networkIsolated: true, dockerSocketHidden: true, secretsHidden: true, uid: 65534, capabilities: '0000000000000400', memoryLimitBytes: 512 * 1024 * 1024, problems: [] });
});

(asRoot ? test : test.skip)('a planted /run/secrets file is not readable from inside', async () => {
  const dir = '/run/secrets';
  const planted = `${dir}/signalbox-sandbox-test-${process.pid}`;
  const made = !existsSync(dir);
  mkdirSync(dir, { recursive: true });
  writeFileSync(planted, 'secret', { mode: 0o444 });
  try {
    const s = await new NginxValidator().sandboxState();
    expect(s.secretsHidden).toBe(true);
  } finally {
    rmSync(planted, { force: true });
    if (made) rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx -t in the sandbox has no network: a host name in an upstream cannot be resolved', async () => {
  const v = new NginxValidator();
  const r = await v.validate((p) => conf(p, '  upstream u { server localhost:80; server signalbox-core:8080; }\n  server { listen 18099; location / { proxy_pass http://u; } }'), []);
  expect(r.ok).toBe(false);
  if (!r.ok) expect(r.error).toMatch(/host not found in upstream "signalbox-core:8080"/);
});

test('nginx -t binds the listen ports 80 and 443 (CAP_NET_BIND_SERVICE only, no sysctl needed)', async () => {
  const r = await new NginxValidator().validate((p) => conf(p, '  server { listen 80; listen 443; }'), []);
  expect(r).toEqual({ ok: true });
});

test('nginx -t cannot outgrow the memory limit', async () => {
  const v = new NginxValidator({ memoryLimitBytes: 256 * 1024 * 1024 });
  const big = await v.validate((p) => conf(p, `  proxy_cache_path ${p.tempDir}/c keys_zone=big:1024m;\n  server { listen 18099; }`), []);
  expect(big.ok).toBe(false);
  const small = await v.validate((p) => conf(p, `  proxy_cache_path ${p.tempDir}/c keys_zone=small:10m;\n  server { listen 18099; }`), []);
  expect(small).toEqual({ ok: true });
});

test('nginx -t that does not finish is stopped at the time limit', async () => {
  // A stand-in for a hanging nginx -t (e.g. a resolver that never answers): a script that sleeps.
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-hang-'));
  const bin = join(dir, 'nginx');
  writeFileSync(bin, '#!/bin/sh\nsleep 30\n', { mode: 0o755 });
  chmodSync(dir, 0o755);
  try {
    const started = Date.now();
    const r = await new NginxValidator({ timeoutMs: 500, nginxBin: bin }).validate((p) => conf(p, ''), []);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(r).toEqual({ ok: false, error: 'nginx -t did not finish within 500 ms' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
