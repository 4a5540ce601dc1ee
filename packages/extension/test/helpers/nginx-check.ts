// Runs real `nginx -t` on a rendered nginx.conf in a throw-away prefix.
//
// The config is rendered for the proxy container (secrets under e.g. /run/secrets, pid under
// /var/run). The check copies it with:
//   - every "<secretsDir>/<name>" path mapped to <tmp>/secrets/<name>, each holding a self-signed
//     certificate and its key (one PEM serves as ssl_certificate and ssl_certificate_key; files named
//     by ssl_dhparam get RFC 7919 ffdhe2048 parameters instead),
//   - the pid file moved into the temp dir (`nginx -t` creates it),
//   - `load_module .../ngx_stream_module.so` adapted to the nginx under test: dropped when the stream
//     module is built in, pointed at its --modules-path (and added if missing) when it is dynamic.
// nginx missing is an error, never a skip.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TLS_FRONT_DIR } from '@signalbox/protocol';
import { selfSigned } from '@signalbox/test-support';
import { execa } from 'execa';

export interface NginxCheckOptions {
  /** The secretsDir the config was rendered with. */
  secretsDir: string;
}

export interface NginxCheckResult {
  ok: boolean;
  /** nginx's stderr/stdout. */
  output: string;
  /** The config as tested (after path mapping). */
  config: string;
}

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx', '/usr/bin/nginx'];

let nginxBinary: Promise<NginxInfo> | undefined;
export interface TestMaterial {
  cert: string;
  key: string;
  /** cert + key in one PEM. */
  pem: string;
  dhparam: string;
}

let testPem: Promise<TestMaterial> | undefined;

export interface NginxInfo {
  bin: string;
  /** null: stream built in; string: directory holding ngx_stream_module.so. */
  streamModulesDir: string | null;
  streamAvailable: boolean;
}

async function findNginx(): Promise<NginxInfo> {
  const fromEnv = process.env['NGINX_BIN'];
  const bin = fromEnv ?? CANDIDATES.find((c) => existsSync(c));
  if (bin === undefined || !existsSync(bin)) {
    throw new Error(
      `nginx not found (looked at ${fromEnv ? `NGINX_BIN=${fromEnv}` : CANDIDATES.join(', ')}). ` +
        'The integration tests need real nginx >= 1.19.4 with the stream module: apt-get install nginx, or set NGINX_BIN.',
    );
  }
  const v = await execa(bin, ['-V'], { reject: false, all: true });
  const info = v.all ?? '';
  if (v.exitCode !== 0) throw new Error(`${bin} -V failed: ${info}`);
  const dynamic = info.includes('--with-stream=dynamic');
  const builtIn = !dynamic && /--with-stream(\s|$)/.test(info);
  const modulesPath = /--modules-path=(\S+)/.exec(info)?.[1] ?? path.join(/--prefix=(\S+)/.exec(info)?.[1] ?? '/etc/nginx', 'modules');
  return {
    bin,
    streamModulesDir: builtIn ? null : modulesPath,
    streamAvailable: builtIn || existsSync(path.join(modulesPath, 'ngx_stream_module.so')),
  };
}

export function nginxInfo(): Promise<NginxInfo> {
  nginxBinary ??= findNginx();
  return nginxBinary;
}

/** One self-signed cert+key and one set of DH parameters per test run. */
export function testMaterial(): Promise<TestMaterial> {
  testPem ??= (async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'signalbox-cert-'));
    try {
      const { cert, key } = selfSigned({ commonName: 'test', days: 1, keyType: 'rsa' });
      const dh = path.join(dir, 'dh.pem');
      await execa('openssl', ['genpkey', '-genparam', '-algorithm', 'DH', '-pkeyopt', 'group:ffdhe2048', '-out', dh]);
      return { cert, key, pem: cert + key, dhparam: await readFile(dh, 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return testPem;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export async function nginxCheck(conf: string, opts: NginxCheckOptions): Promise<NginxCheckResult> {
  const info = await nginxInfo();
  const material = await testMaterial();
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'signalbox-nginx-t-'));
  try {
    const secrets = path.join(tmp, 'secrets');
    await mkdir(secrets);
    const prefix = opts.secretsDir.replace(/\/+$/, '');

    // Secret files referenced by the config.
    const secretRef = new RegExp(`"${escapeRegExp(prefix)}/([^"/]+)"`, 'g');
    const dhparamFiles = new Set([...conf.matchAll(new RegExp(`ssl_dhparam "${escapeRegExp(prefix)}/([^"/]+)"`, 'g'))].map((m) => m[1]!));
    const names = new Set([...conf.matchAll(secretRef)].map((m) => m[1]!));
    for (const name of names) {
      await writeFile(path.join(secrets, name), dhparamFiles.has(name) ? material.dhparam : material.pem, { mode: 0o600 });
    }

    let text = conf.replace(secretRef, (_all, name: string) => `"${secrets}/${name}"`);
    // nginx -t binds unix sockets (the TLS front's, behind the edge): their directory must exist.
    await mkdir(path.join(tmp, 'sockets'));
    text = text.replaceAll(`unix:${TLS_FRONT_DIR}/`, `unix:${tmp}/sockets/`);
    const pid = `pid "${path.join(tmp, 'nginx.pid')}";`;
    text = /^pid .*;$/m.test(text) ? text.replace(/^pid .*;$/m, pid) : `${text}\n${pid}\n`;
    const streamModule = /^load_module (?:"[^"]*|\S*)ngx_stream_module\.so"?;$/m;
    const loadStream = info.streamModulesDir === null ? '# load_module removed: stream is built into this nginx' : `load_module "${path.join(info.streamModulesDir, 'ngx_stream_module.so')}";`;
    if (streamModule.test(text)) {
      text = text.replace(streamModule, () => loadStream);
    } else if (/^stream \{$/m.test(text) && info.streamModulesDir !== null) {
      // Rendered for an nginx with stream built in (no streamModulePath); this one loads it.
      text = `${loadStream}\n${text}`;
    }

    const confPath = path.join(tmp, 'nginx.conf');
    await writeFile(confPath, text);
    // stdout/stderr go to files: the config may log to /dev/stdout or /dev/stderr, which nginx opens
    // (and cannot when they are sockets, as under some test runners).
    const outFile = path.join(tmp, 'nginx.out');
    const out = await open(outFile, 'a');
    let exitCode: number | null;
    try {
      // Real file descriptors (not pipes) so nginx can open /dev/stdout and /dev/stderr.
      exitCode = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(info.bin, ['-t', '-q', '-p', `${tmp}/`, '-c', confPath, '-e', path.join(tmp, 'error.log')], {
          stdio: ['ignore', out.fd, out.fd],
        });
        child.on('error', reject);
        child.on('exit', (code) => resolve(code));
      });
    } finally {
      await out.close();
    }
    const output = await readFile(outFile, 'utf8');
    return { ok: exitCode === 0, output, config: text };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
