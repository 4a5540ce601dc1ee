// `nginx -t` on a candidate built from user input is running code on user input. It runs in a sandbox:
// its own network namespace (no network but loopback), its own mount namespace with an empty tmpfs over
// /run (no Docker socket, no /run/secrets: not even the API token), as an unprivileged user with only
// CAP_NET_BIND_SERVICE (its listen ports) and no_new_privs, under an address-space limit and a time limit, in a throw-away prefix
// whose only keys are dummy ones. The namespaces need CAP_SYS_ADMIN, which core grants the extension
// service (it already holds the Docker socket); where they are refused, the state says so.
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, linkSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import type { SandboxState } from '@signalbox/protocol';
import { UPSTREAM_ZONES } from './render/index.js';

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
  /** For unix socket listeners (the TLS front's): nginx -t binds them, so their directory must exist. */
  socketDir: string;
}

export interface NginxValidatorOptions {
  nginxBin?: string;
  timeoutMs?: number;
  /** Address-space limit of nginx -t, bytes (default SIGNALBOX_SANDBOX_MEMORY_MB or 2048 MiB). */
  memoryLimitBytes?: number;
  /** Run as this uid/gid when we are root (default nobody/nogroup 65534). */
  uid?: number;
  gid?: number;
}

const DUMMY_CERT_CN = 'signalbox-validation';
const DEFAULT_MEMORY_MB = 2048;

/** Inside the new namespaces: hide /run (Docker socket, secrets), loopback up, then run. */
const IN_NAMESPACE = 'mount -t tmpfs -o size=64k,mode=755,nosuid,nodev,noexec signalbox-sandbox /run || exit 97; ip link set lo up 2>/dev/null; exec "$@"';
const NET_ONLY = 'ip link set lo up 2>/dev/null; exec "$@"';

/** Prints what the sandboxed process can see; run through the same wrapper as nginx -t. */
const PROBE =
  'echo "uid=$(id -u)"; echo "ifaces=$(tail -n +3 /proc/self/net/dev | cut -d: -f1 | tr -d " " | tr "\n" ",")"; ' +
  'if [ -e /var/run/docker.sock ] || [ -e /run/docker.sock ]; then echo docker=visible; else echo docker=hidden; fi; ' +
  'if cat /run/secrets/* >/dev/null 2>&1; then echo secrets=readable; else echo secrets=hidden; fi; ' +
  'echo "as=$(grep "Max address space" /proc/self/limits | tr -s " " | cut -d" " -f4)"; ' +
  'echo "caps=$(grep CapEff /proc/self/status | cut -f2)"';

type Isolation = 'net+mount' | 'net' | 'none';

function works(argv: string[]): boolean {
  try {
    execFileSync(argv[0]!, argv.slice(1), { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

function detectIsolation(asRoot: boolean): Isolation {
  if (!asRoot) return 'none';
  const drop = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', 'true'];
  if (works(['unshare', '-n', '-m', '--propagation', 'private', 'sh', '-c', IN_NAMESPACE, 'sh', ...drop])) return 'net+mount';
  if (works(['unshare', '-n', 'sh', '-c', NET_ONLY, 'sh', ...drop])) return 'net';
  return 'none';
}

let sharedCertDir: string | undefined;
/**
 * One dummy key pair stands in for every secret (validation checks syntax, not the real keys). It is made
 * once per process and removed when the process exits: one per validator left a directory behind each time.
 */
function dummyCertDir(): string {
  if (sharedCertDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-dummy-cert-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '3650', '-subj', `/CN=${DUMMY_CERT_CN}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], {
      stdio: 'ignore',
    });
    sharedCertDir = dir;
  }
  return sharedCertDir;
}

export class NginxValidator implements ConfigValidator {
  private readonly bin: string;
  private readonly timeoutMs: number;
  private readonly memoryLimitBytes: number | undefined;
  private readonly asRoot = process.getuid?.() === 0;
  private readonly uid: number;
  private readonly gid: number;
  private readonly isolation: Isolation;
  private readonly certDir: string;
  private state: SandboxState | undefined;

  constructor(o: NginxValidatorOptions = {}) {
    this.bin = o.nginxBin ?? 'nginx';
    this.timeoutMs = o.timeoutMs ?? 15_000;
    const mb = Number(process.env.SIGNALBOX_SANDBOX_MEMORY_MB ?? DEFAULT_MEMORY_MB);
    const limit = o.memoryLimitBytes ?? (Number.isInteger(mb) && mb > 0 ? mb * 1024 * 1024 : DEFAULT_MEMORY_MB * 1024 * 1024);
    this.memoryLimitBytes = works(['prlimit', '--version']) ? limit : undefined;
    this.uid = o.uid ?? 65534;
    this.gid = o.gid ?? 65534;
    this.isolation = detectIsolation(this.asRoot);
    this.certDir = dummyCertDir();
  }

  get networkIsolated(): boolean {
    return this.isolation !== 'none';
  }

  /** argv running `argv` in the sandbox (namespaces, privilege drop, memory limit raised by `extraBytes`). */
  private wrap(argv: readonly string[], extraBytes = 0): string[] {
    const limited = this.memoryLimitBytes ? ['prlimit', `--as=${this.memoryLimitBytes + extraBytes}`, '--', ...argv] : [...argv];
    if (!this.asRoot) return limited;
    // nginx -t binds the listen ports (80, 443): it keeps exactly one capability, to bind low ports, and
    // only inside its empty network namespace. (Lowering ip_unprivileged_port_start is no option: in a
    // container /proc/sys is read-only.)
    const bind = '-all,+net_bind_service';
    const drop = [
      'setpriv',
      `--reuid=${this.uid}`,
      `--regid=${this.gid}`,
      '--clear-groups',
      '--no-new-privs',
      `--inh-caps=${bind}`,
      `--ambient-caps=${bind}`,
      `--bounding-set=${bind}`,
      '--',
      ...limited,
    ];
    if (this.isolation === 'net+mount') return ['unshare', '-n', '-m', '--propagation', 'private', 'sh', '-c', IN_NAMESPACE, 'sh', ...drop];
    if (this.isolation === 'net') return ['unshare', '-n', 'sh', '-c', NET_ONLY, 'sh', ...drop];
    return drop;
  }

  /**
   * Looks at the sandbox from inside: runs a probe through the same wrapper as nginx -t and reports
   * what it could see. Cached; the extension shows it in /v1/status and /metrics.
   */
  async sandboxState(): Promise<SandboxState> {
    if (this.state) return this.state;
    const problems: string[] = [];
    if (!this.asRoot) problems.push('not running as root: cannot create namespaces or drop to an unprivileged user');
    else if (this.isolation === 'none') problems.push('unshare refused (the container needs CAP_SYS_ADMIN): nginx -t shares the network and mounts');
    else if (this.isolation === 'net') problems.push('mount namespace refused: /run is not hidden from nginx -t');
    if (!this.memoryLimitBytes) problems.push('prlimit is missing: no memory limit');
    const res = await execa(this.wrap(['sh', '-c', PROBE])[0]!, this.wrap(['sh', '-c', PROBE]).slice(1), { reject: false, timeout: 10_000, all: true });
    const kv = new Map(
      String(res.all ?? '')
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const),
    );
    if (res.exitCode !== 0) problems.push(`sandbox probe failed (exit ${res.exitCode}): ${String(res.all ?? '').slice(0, 200)}`);
    const ifaces = (kv.get('ifaces') ?? '').split(',').filter(Boolean);
    const as = Number(kv.get('as'));
    this.state = {
      networkIsolated: res.exitCode === 0 && ifaces.length > 0 && ifaces.every((i) => i === 'lo'),
      dockerSocketHidden: kv.get('docker') === 'hidden',
      secretsHidden: kv.get('secrets') === 'hidden',
      uid: kv.has('uid') ? Number(kv.get('uid')) : null,
      capabilities: kv.get('caps') ?? null,
      memoryLimitBytes: Number.isFinite(as) && as > 0 ? as : null,
      timeoutMs: this.timeoutMs,
      problems,
    };
    return this.state;
  }

  async validate(render: (sandbox: SandboxPaths) => string, secrets: readonly string[]): Promise<ValidationResult> {
    const prefix = mkdtempSync(join(tmpdir(), 'signalbox-validate-'));
    try {
      const secretsDir = join(prefix, 'secrets');
      mkdirSync(secretsDir);
      // Cert and key are both PEM in one file, so the same file works as either. Hard links to that one
      // file: creating thousands of files cost ~1 ms each on a busy disk (4 000 secrets: ~4 s of every
      // validation), a link ~30 µs. nginx only reads them: the file stays root's, mode 0644.
      const dummy = await this.dummyPemFile();
      for (const s of secrets) {
        try {
          linkSync(dummy, join(secretsDir, s));
        } catch {
          writeFileSync(join(secretsDir, s), await this.dummyPem());
        }
      }
      const tempDir = join(prefix, 'temp');
      mkdirSync(tempDir);
      const socketDir = join(prefix, 'sockets');
      mkdirSync(socketDir);
      const sandbox: SandboxPaths = { prefix, secretsDir, pidPath: join(prefix, 'nginx.pid'), tempDir, socketDir };
      const conf = join(prefix, 'nginx.conf');
      const text = render(sandbox);
      writeFileSync(conf, text);
      if (this.asRoot) {
        chmodSync(prefix, 0o755);
        for (const p of [prefix, secretsDir, tempDir, socketDir, conf]) chownSync(p, this.uid, this.gid);
      }
      const args = ['-t', '-q', '-p', `${prefix}/`, '-c', conf, '-e', join(prefix, 'error.log')];
      const [cmd, ...argv] = this.wrap([this.bin, ...args], upstreamZoneBytes(text));
      // Its own process group, killed as a whole at the time limit: nothing it started outlives it.
      const sub = execa(cmd!, argv, { reject: false, all: true, detached: true });
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        try {
          if (sub.pid) process.kill(-sub.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }, this.timeoutMs);
      const res = await sub.finally(() => clearTimeout(timer));
      if (timedOut) return { ok: false, error: `nginx -t did not finish within ${this.timeoutMs} ms` };
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

  /** The dummy cert + key as one file (written once, readable by the sandbox user), linked in as every secret. */
  private async dummyPemFile(): Promise<string> {
    const file = join(this.certDir, 'dummy.pem');
    if (!existsSync(file)) {
      writeFileSync(file, await this.dummyPem());
      chmodSync(file, 0o644);
    }
    return file;
  }
}

/**
 * Bytes of Signalbox's own upstream zones in a rendered config. nginx -t maps shared memory zones in
 * full (UpstreamZoneSize × upstreams: 1.25 GiB at 20 000 services) though it touches little of them,
 * so the address-space limit is for everything else and these are added to it. Only the zones the
 * renderer names count; a zone from a raw option line gets no extra room.
 */
export function upstreamZoneBytes(conf: string): number {
  const unit: Record<string, number> = { '': 1, k: 1024, m: 1024 * 1024 };
  let total = 0;
  const names = Object.values(UPSTREAM_ZONES).join('|');
  for (const m of conf.matchAll(new RegExp(`^\\s*zone (?:${names}) (\\d+)([kKmM]?);`, 'gm'))) {
    total += Number(m[1]) * unit[m[2]!.toLowerCase()]!;
  }
  return total;
}

/** nginx's message without the sandbox paths and the boilerplate line. */
export function cleanNginxError(out: string, prefix: string): string {
  return out
    .split('\n')
    .map((l) =>
      l
        .replaceAll(prefix, '')
        .replace(/^nginx: /, '')
        .trim(),
    )
    .filter((l) => l && !/test failed$/.test(l) && !/\[warn\]/.test(l))
    .join('; ')
    .slice(0, 1000);
}
