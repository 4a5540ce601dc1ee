// `nginx -t` on a candidate built from user input is running code on user input: it runs as an
// unprivileged user (no access to the Docker socket or TLS keys), without network where the kernel
// lets us drop it, with a time limit, in a throw-away prefix with dummy certificates.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

export type ValidationResult = { ok: true } | { ok: false; error: string };

export interface ConfigValidator {
  /** `render(secretsDir, pidPath)` renders the candidate with paths inside the sandbox. */
  validate(render: (sandbox: SandboxPaths) => string, secrets: readonly string[]): Promise<ValidationResult>;
}

export interface SandboxPaths {
  prefix: string;
  secretsDir: string;
  pidPath: string;
  tempDir: string;
}

export interface NginxValidatorOptions {
  nginxBin?: string;
  timeoutMs?: number;
  /** Run as this uid/gid when we are root (default nobody/nogroup 65534). */
  uid?: number;
  gid?: number;
}

const DUMMY_CERT_CN = 'signalbox-validation';

function canUnshareNet(): boolean {
  try {
    execFileSync('unshare', ['-n', 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'true'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export class NginxValidator implements ConfigValidator {
  private readonly bin: string;
  private readonly timeoutMs: number;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly uid: number;
  private readonly gid: number;
  private readonly unshare: boolean;
  private readonly certDir: string;

  constructor(o: NginxValidatorOptions = {}) {
    this.bin = o.nginxBin ?? 'nginx';
    this.timeoutMs = o.timeoutMs ?? 15_000;
    this.uid = o.uid ?? 65534;
    this.gid = o.gid ?? 65534;
    this.unshare = this.asRoot && canUnshareNet();
    // One dummy key pair stands in for every secret: validation checks syntax, not the real keys.
    this.certDir = mkdtempSync(join(tmpdir(), 'signalbox-dummy-cert-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', `/CN=${DUMMY_CERT_CN}`,
      '-keyout', join(this.certDir, 'key.pem'), '-out', join(this.certDir, 'cert.pem')], { stdio: 'ignore' });
  }

  get networkIsolated(): boolean {
    return this.unshare;
  }

  async validate(render: (sandbox: SandboxPaths) => string, secrets: readonly string[]): Promise<ValidationResult> {
    const prefix = mkdtempSync(join(tmpdir(), 'signalbox-validate-'));
    try {
      const secretsDir = join(prefix, 'secrets');
      mkdirSync(secretsDir);
      for (const s of secrets) {
        // Cert and key are both PEM in one file, so the same file works as either.
        writeFileSync(join(secretsDir, s), await this.dummyPem());
      }
      const tempDir = join(prefix, 'temp');
      mkdirSync(tempDir);
      const sandbox: SandboxPaths = { prefix, secretsDir, pidPath: join(prefix, 'nginx.pid'), tempDir };
      const conf = join(prefix, 'nginx.conf');
      writeFileSync(conf, render(sandbox));
      if (this.asRoot) {
        chmodSync(prefix, 0o755);
        for (const p of [prefix, secretsDir, tempDir, conf]) chownSync(p, this.uid, this.gid);
        for (const s of secrets) chownSync(join(secretsDir, s), this.uid, this.gid);
      }
      const args = ['-t', '-q', '-p', `${prefix}/`, '-c', conf, '-e', join(prefix, 'error.log')];
      // Drop privileges after dropping the network: unshare needs root, nginx must not keep it. nginx -t
      // binds its listen ports, so the throw-away namespace lets unprivileged users bind low ports (the
      // extension service gets the same sysctl from core for the case where unshare is not allowed).
      const inNamespace = 'ip link set lo up 2>/dev/null; echo 0 > /proc/sys/net/ipv4/ip_unprivileged_port_start; exec "$@"';
      const privDrop = ['setpriv', `--reuid=${this.uid}`, `--regid=${this.gid}`, '--clear-groups', '--', this.bin, ...args];
      const [cmd, ...argv] = this.unshare ? ['unshare', '-n', 'sh', '-c', inNamespace, 'sh', ...privDrop] : [this.bin, ...args];
      const res = await execa(cmd!, argv, {
        reject: false,
        timeout: this.timeoutMs,
        all: true,
        ...(this.asRoot && !this.unshare ? { uid: this.uid, gid: this.gid } : {}),
      });
      if (res.timedOut) return { ok: false, error: `nginx -t did not finish within ${this.timeoutMs} ms` };
      if (res.exitCode === 0) return { ok: true };
      return { ok: false, error: cleanNginxError(String(res.all ?? ''), prefix) };
    } finally {
      rmSync(prefix, { recursive: true, force: true });
    }
  }

  private pem: Buffer | undefined;
  private async dummyPem(): Promise<Buffer> {
    if (!this.pem) {
      const { readFileSync } = await import('node:fs');
      this.pem = Buffer.concat([readFileSync(join(this.certDir, 'cert.pem')), readFileSync(join(this.certDir, 'key.pem'))]);
    }
    return this.pem;
  }
}

/** nginx's message without the sandbox paths and the boilerplate line. */
export function cleanNginxError(out: string, prefix: string): string {
  return out
    .split('\n')
    .map((l) => l.replaceAll(prefix, '').replace(/^nginx: /, '').trim())
    .filter((l) => l && !/test failed$/.test(l) && !/\[warn\]/.test(l))
    .join('; ')
    .slice(0, 1000);
}
