// Installs candidate configs one at a time: temp file beside configPath → nginx -t → atomic
// rename → reload → confirm. Anything that fails leaves the last good config on disk and in
// nginx, and is recorded (never thrown): a bad config must not take the proxy down.
import { createHash, randomBytes } from 'node:crypto';
import { open, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Logger } from 'pino';
import { trimReason, type TestResult } from './nginx.js';
import type { ReloadResult } from './supervisor.js';
import type { CandidateSource, CertificateProblem } from '@signalbox/protocol';

export type { TestResult } from './nginx.js';
export type { ReloadResult } from './supervisor.js';

/** The nginx operations the installer needs; unit tests substitute a fake. */
export interface NginxRunner {
  /** `nginx -t` on the given file, with a time limit. */
  test(configPath: string): Promise<TestResult>;
  /** Make the running nginx load configPath and confirm it did. */
  reload(): Promise<ReloadResult>;
}

/** Where a candidate came from (shown in the agent's /v1/status). */
export type { CandidateSource } from '@signalbox/protocol';

export interface Candidate {
  bytes: Buffer;
  /** Docker config name ('' when unknown). */
  configName: string;
  source: CandidateSource;
  /** Computed from bytes when absent. */
  sha256?: string;
  /** Task IDs the extension says must not install it (replaced tasks); see the agent's taskId. */
  notForTasks?: readonly string[];
}

export interface InstalledConfig {
  sha256: string;
  configName: string;
  source: CandidateSource;
  installedAt: Date;
}

export interface FailureRecord {
  sha256: string;
  configName: string;
  source: CandidateSource;
  reason: string;
  at: Date;
}

export interface InstallOutcome {
  status: 'installed' | 'unchanged' | 'failed' | 'superseded' | 'ignored' | 'restored';
  sha256?: string;
  reason?: string;
  /** Known-bad bytes seen again: not re-validated, not counted again. */
  repeated?: boolean;
  /** Refused before nginx -t: these certificate pairs cannot be served (checkCandidate). */
  certificates?: CertificateProblem[];
}

/** Why a candidate is refused before nginx -t, or undefined to go on. */
export type CandidateCheck = (c: Candidate) => Promise<{ reason: string; certificates: CertificateProblem[] } | undefined>;

export interface InstallerOptions {
  configPath: string;
  runner: NginxRunner;
  logger: Logger;
  now?: () => Date;
  /** Called after every successful install (e.g. to persist it on the node's volume). */
  onInstalled?: (bytes: Buffer, installed: InstalledConfig) => Promise<void>;
  /**
   * Run on configs from the extension before nginx -t, except while the task starts: a config it
   * installed before (persisted) is restored as it was, never refused for a certificate expired since.
   */
  checkCandidate?: CandidateCheck;
}

export interface InitializeOptions {
  bootstrapPath: string;
  bootstrapConfigName: string;
  builtin: { bytes: Buffer; configName: string };
  /** Install `builtin` and nothing else (the edge's generated config): no adoption, no bootstrap. */
  builtinOnly?: boolean;
  /**
   * What this node last installed (persisted on a volume). preferred: it is at least as new as the
   * bootstrap (the node already ran the bootstrap's bytes), so it goes first; otherwise it is the
   * fallback after the bootstrap.
   */
  persisted?: { bytes: Buffer; configName: string; source: CandidateSource; preferred: boolean };
  /**
   * The config the extension serves this task now, fetched while it starts: it goes before all of the
   * above (it is the newest there is), through the same certificate check as any config from the
   * extension. Refused, the rest are tried as without it.
   */
  fresh?: Candidate;
}

interface Job {
  lane: string;
  run: () => Promise<InstallOutcome>;
  resolve: (o: InstallOutcome) => void;
}

interface Meta {
  sha256: string;
  configName: string;
  source: CandidateSource;
  installedAt: string;
}

const KNOWN_BAD_MAX = 32;
const SOURCES: ReadonlySet<string> = new Set<CandidateSource>(['extension', 'file', 'bootstrap', 'builtin']);

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

// ---- steps: each usable and testable on its own -------------------------------------------

/** Same directory as the target so the rename is atomic and nginx resolves relative includes alike. */
export async function writeTemp(targetPath: string, bytes: Buffer): Promise<string> {
  const tmp = join(dirname(targetPath), `.${basename(targetPath)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } catch (err) {
    await fh.close();
    await rm(tmp, { force: true });
    throw err;
  }
  await fh.close();
  return tmp;
}

export async function validate(runner: NginxRunner, path: string): Promise<TestResult> {
  try {
    return await runner.test(path);
  } catch (err) {
    return { ok: false, transient: true, output: `nginx -t could not run: ${(err as Error).message}` };
  }
}

/** Atomic replace: nginx (and anyone reading configPath) sees the old bytes or the new, never half. */
export async function commit(tmpPath: string, targetPath: string): Promise<void> {
  await rename(tmpPath, targetPath);
}

export async function writeAtomic(targetPath: string, bytes: Buffer): Promise<void> {
  const tmp = await writeTemp(targetPath, bytes);
  try {
    await commit(tmp, targetPath);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** The bootstrap config object holds large configs gzipped (the extension's publisher, 1 MB swarm limit). */
export function decodeBootstrap(bytes: Buffer): Buffer {
  return bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes;
}

export async function readBootstrap(path: string): Promise<Buffer | undefined> {
  const bytes = await readIfExists(path);
  return bytes && decodeBootstrap(bytes);
}

async function readIfExists(path: string): Promise<Buffer | undefined> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Where we note what we installed, so a restarted agent knows configPath is its own. */
export function metaPath(configPath: string): string {
  return join(dirname(configPath), `.${basename(configPath)}.signalbox.json`);
}

// ---- the installer ---------------------------------------------------------------------------

export class Installer {
  private readonly configPath: string;
  private readonly runner: NginxRunner;
  private readonly log: Logger;
  private readonly now: () => Date;

  private queue: Job[] = [];
  private draining = false;
  private idleWaiters: (() => void)[] = [];
  /** Bytes nginx runs now (the last known good); what gets written back after a bad file. */
  private goodBytes: Buffer | undefined;
  private knownBad = new Map<string, string>();

  installed: InstalledConfig | undefined;
  lastFailure: FailureRecord | undefined;
  reloads = 0;
  failures = 0;
  lastReloadAt: Date | undefined;

  constructor(opts: InstallerOptions) {
    this.configPath = opts.configPath;
    this.runner = opts.runner;
    this.log = opts.logger;
    this.now = opts.now ?? (() => new Date());
    this.onInstalled = opts.onInstalled;
    this.checkCandidate = opts.checkCandidate;
  }
  private readonly onInstalled: InstallerOptions['onInstalled'];
  private readonly checkCandidate: CandidateCheck | undefined;

  /** True while initialize() runs (see fail()). */
  private starting = false;

  /** Queue a candidate. A newer one from the same source replaces one still waiting. */
  submit(candidate: Candidate): Promise<InstallOutcome> {
    return this.enqueue(candidate.source, () => this.install(candidate));
  }

  /** configPath changed on disk: adopt it if valid, else put the last good bytes back. */
  checkFile(): Promise<InstallOutcome> {
    return this.enqueue('file', () => this.adoptFile());
  }

  /**
   * The bootstrap file changed. It only replaces the built-in fallback or an earlier
   * bootstrap: anything from the extension or configPath is newer.
   */
  checkBootstrap(path: string, configName: string): Promise<InstallOutcome> {
    return this.enqueue('bootstrap', async () => {
      if (this.installed && this.installed.source !== 'builtin' && this.installed.source !== 'bootstrap') {
        return { status: 'ignored', reason: `a ${this.installed.source} config is installed` };
      }
      const bytes = await readBootstrap(path);
      if (!bytes) return { status: 'ignored', reason: 'bootstrap file is missing' };
      return this.install({ bytes, configName, source: 'bootstrap' });
    });
  }

  /** Before nginx (re)starts: configPath must hold the last good bytes. */
  ensureOnDisk(): Promise<InstallOutcome> {
    return this.enqueue('repair', () => this.restoreIfChanged('before starting nginx'));
  }

  /** Choose what nginx starts with; see docs/proxy-agent.md "Start-up". */
  initialize(opts: InitializeOptions): Promise<InstallOutcome> {
    return this.enqueue('init', async () => {
      this.starting = true;
      try {
        return await this.doInitialize(opts);
      } finally {
        this.starting = false;
      }
    });
  }

  /** Resolves once nothing is queued or running. */
  idle(): Promise<void> {
    if (!this.draining && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private enqueue(lane: string, run: () => Promise<InstallOutcome>): Promise<InstallOutcome> {
    return new Promise((resolve) => {
      const kept: Job[] = [];
      for (const job of this.queue) {
        if (job.lane === lane) job.resolve({ status: 'superseded' });
        else kept.push(job);
      }
      kept.push({ lane, run, resolve });
      this.queue = kept;
      void this.drain();
    });
  }

  private async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    for (let job = this.queue.shift(); job; job = this.queue.shift()) {
      let outcome: InstallOutcome;
      try {
        outcome = await job.run();
      } catch (err) {
        // Steps report their own failures; this is a bug or an I/O error outside them.
        this.log.error({ err }, 'install job failed');
        outcome = { status: 'failed', reason: (err as Error).message };
      }
      job.resolve(outcome);
    }
    this.draining = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /**
   * `checkWhileStarting`: run checkCandidate even during initialize() (the extension's config fetched at
   * start); otherwise a config restored then, installed by this node before, is not checked again.
   */
  private async install(c: Candidate, checkWhileStarting = false): Promise<InstallOutcome> {
    const sha = c.sha256 ?? sha256Hex(c.bytes);
    if (this.installed?.sha256 === sha) {
      this.log.debug({ sha256: sha, source: c.source }, 'candidate identical to installed config');
      return { status: 'unchanged', sha256: sha };
    }
    const bad = this.knownBad.get(sha);
    if (bad !== undefined) {
      this.log.debug({ sha256: sha, source: c.source }, 'candidate already failed validation');
      return { status: 'failed', sha256: sha, reason: bad, repeated: true };
    }

    if (this.checkCandidate && c.source === 'extension' && (checkWhileStarting || !this.starting)) {
      const refused = await this.checkCandidate(c);
      if (refused) return { ...this.fail(c, sha, refused.reason, false), certificates: refused.certificates };
    }

    let tmp: string;
    try {
      tmp = await writeTemp(this.configPath, c.bytes);
    } catch (err) {
      return this.fail(c, sha, `could not write beside ${this.configPath}: ${(err as Error).message}`, true);
    }
    const test = await validate(this.runner, tmp);
    if (!test.ok) {
      await rm(tmp, { force: true });
      return this.fail(c, sha, test.output || 'nginx -t failed without output', test.transient === true);
    }
    try {
      await commit(tmp, this.configPath);
    } catch (err) {
      await rm(tmp, { force: true });
      // EBUSY here usually means configPath is a bind mount (a Docker config mounted on it).
      return this.fail(c, sha, `could not replace ${this.configPath}: ${(err as Error).message}`, true);
    }

    let reload: ReloadResult;
    try {
      reload = await this.runner.reload();
    } catch (err) {
      reload = { ok: false, reason: (err as Error).message };
    }
    if (!reload.ok) {
      // nginx kept the previous config; make the file say so too.
      await this.restoreIfChanged('after a failed reload');
      return this.fail(c, sha, reload.reason, true);
    }

    const at = this.now();
    this.goodBytes = c.bytes;
    this.installed = { sha256: sha, configName: c.configName, source: c.source, installedAt: at };
    if (!reload.deferred) {
      this.reloads++;
      this.lastReloadAt = at;
    }
    await this.writeMeta();
    await this.onInstalled?.(c.bytes, this.installed);
    this.log.info({ sha256: sha, source: c.source, configName: c.configName, reloaded: !reload.deferred }, 'config installed');
    return { status: 'installed', sha256: sha };
  }

  private fail(c: Candidate, sha: string, rawReason: string, transient: boolean): InstallOutcome {
    const reason = trimReason(rawReason);
    this.failures++;
    this.lastFailure = { sha256: sha, configName: c.configName, source: c.source, reason, at: this.now() };
    // Remember only verdicts about the bytes; a timeout may pass next time. So may a config tried while
    // the container starts: its ACME certificates (tmpfs) cannot be fetched while the extension is away,
    // and the same bytes arriving from the extension later must be tested again, not skipped for good.
    if (!transient && !this.starting) {
      this.knownBad.set(sha, reason);
      if (this.knownBad.size > KNOWN_BAD_MAX) this.knownBad.delete(this.knownBad.keys().next().value!);
    }
    this.log.warn({ sha256: sha, source: c.source, configName: c.configName, reason }, 'config rejected; still serving the last good config');
    return { status: 'failed', sha256: sha, reason };
  }

  private async adoptFile(): Promise<InstallOutcome> {
    const bytes = await readIfExists(this.configPath);
    if (!bytes) {
      if (this.installed) this.log.warn('config file was removed from configPath');
      return this.restoreIfChanged('after it was removed');
    }
    const sha = sha256Hex(bytes);
    // Our own writes land here too; the hash tells them apart.
    if (sha === this.installed?.sha256) return { status: 'unchanged', sha256: sha };
    const outcome = await this.install({ bytes, sha256: sha, configName: '', source: 'file' });
    if (outcome.status === 'failed') await this.restoreIfChanged('after an invalid file was placed there');
    return outcome;
  }

  private async restoreIfChanged(why: string): Promise<InstallOutcome> {
    const good = this.goodBytes;
    if (!good || !this.installed) return { status: 'unchanged' };
    const current = await readIfExists(this.configPath);
    if (current && current.equals(good)) return { status: 'unchanged', sha256: this.installed.sha256 };
    try {
      await writeAtomic(this.configPath, good);
    } catch (err) {
      this.log.error({ err }, 'could not restore the last good config');
      return { status: 'failed', reason: (err as Error).message };
    }
    // Info, not warn: the failure that caused this was already logged once.
    this.log.info({ sha256: this.installed.sha256, why }, 'restored the last good config');
    return { status: 'restored', sha256: this.installed.sha256 };
  }

  private async doInitialize(opts: InitializeOptions): Promise<InstallOutcome> {
    if (opts.builtinOnly) return this.install({ ...opts.builtin, source: 'builtin' });
    const ok = (o: InstallOutcome | undefined): o is InstallOutcome => o?.status === 'installed' || o?.status === 'unchanged';
    if (opts.fresh) {
      // Checked like any config from the extension. A refusal is not remembered as known bad while
      // starting, so the long-poll brings it again once the task runs, and it is refused and reported then.
      const out = await this.install(opts.fresh, true);
      if (ok(out)) return out;
    }
    const current = await readIfExists(this.configPath);
    const currentSha = current && sha256Hex(current);
    const meta = await this.readMeta();
    // A restarted agent (same container) keeps what it last installed.
    if (current && currentSha && meta?.sha256 === currentSha) {
      const adopted = await this.adoptInPlace(current, currentSha, meta.source, meta.configName);
      if (adopted) return adopted;
    }
    // A fresh container: the newer of what this node last ran and the bootstrap goes first, and either
    // beats whatever the image shipped at configPath.
    const persisted = opts.persisted;
    const fromVolume = async () => (persisted ? this.install({ bytes: persisted.bytes, configName: persisted.configName, source: persisted.source }) : undefined);
    if (persisted?.preferred) {
      const out = await fromVolume();
      if (ok(out)) return out;
    }
    const boot = await readBootstrap(opts.bootstrapPath).catch(() => undefined);
    if (boot) {
      const out = await this.install({ bytes: boot, configName: opts.bootstrapConfigName, source: 'bootstrap' });
      if (out.status === 'installed' || out.status === 'unchanged') return out;
    }
    if (persisted && !persisted.preferred) {
      const out = await fromVolume();
      if (ok(out)) return out;
    }
    if (current && currentSha && meta?.sha256 !== currentSha) {
      const adopted = await this.adoptInPlace(current, currentSha, 'file', '');
      if (adopted) return adopted;
    }
    const out = await this.install({ ...opts.builtin, source: 'builtin' });
    if (out.status !== 'installed' && out.status !== 'unchanged') {
      this.log.error({ reason: out.reason }, 'no valid config to start nginx with; waiting for one');
    }
    return out;
  }

  private async adoptInPlace(bytes: Buffer, sha: string, source: CandidateSource, configName: string): Promise<InstallOutcome | undefined> {
    const test = await validate(this.runner, this.configPath);
    if (!test.ok) {
      this.fail({ bytes, configName, source }, sha, test.output, test.transient === true);
      return undefined;
    }
    this.goodBytes = bytes;
    this.installed = { sha256: sha, configName, source, installedAt: this.now() };
    this.log.info({ sha256: sha, source, configName }, 'using the config already at configPath');
    return { status: 'installed', sha256: sha };
  }

  private async readMeta(): Promise<Meta | undefined> {
    try {
      const raw = JSON.parse(await readFile(metaPath(this.configPath), 'utf8')) as Partial<Meta>;
      if (typeof raw.sha256 !== 'string' || typeof raw.configName !== 'string' || !SOURCES.has(raw.source as string)) {
        return undefined;
      }
      return raw as Meta;
    } catch {
      return undefined;
    }
  }

  private async writeMeta(): Promise<void> {
    const i = this.installed;
    if (!i) return;
    const meta: Meta = { ...i, installedAt: i.installedAt.toISOString() };
    try {
      await writeAtomic(metaPath(this.configPath), Buffer.from(`${JSON.stringify(meta)}\n`));
    } catch (err) {
      this.log.warn({ err }, 'could not record install metadata');
    }
  }
}
