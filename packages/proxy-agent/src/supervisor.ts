// Runs nginx in the foreground as our child so we see it exit: stop signals are forwarded,
// unexpected exits are restarted with backoff, reloads are SIGHUP to the master we spawned
// (no pid file involved) and confirmed by watching for a new generation of workers.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { backoffDelay, sleep, type BackoffPolicy } from '@signalbox/protocol';
import { DRAINING_GRACE_MS, DrainLimit } from './drain-limit.js';
import { FOREGROUND_ARGS, isAlive, isDraining, listChildren, trimReason } from './nginx.js';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type ReloadResult = { ok: true; deferred?: boolean } | { ok: false; reason: string };

export interface SupervisorOptions {
  nginxBin: string;
  configPath: string;
  logger: Logger;
  /** Runs before every (re)start: puts the last good config back in place. */
  prepare?: () => Promise<void>;
  restart?: BackoffPolicy & { stableMs: number };
  /** How long a reload may take to show new workers. */
  confirmTimeoutMs?: number;
  /** Where nginx's stderr goes (default: our stderr, i.e. the container log). */
  stderr?: (chunk: Buffer) => void;
  /** Most worker generations left draining after reloads; older ones are stopped (0 = no cap). */
  maxDrainingGenerations?: number;
  /** Generations retired less than this long ago do not count towards maxDrainingGenerations (default 30 s). */
  drainingGraceMs?: number;
}

type State = 'idle' | 'starting' | 'running' | 'backoff' | 'stopping' | 'stopped';

const TAIL_LINES = 50;
const POLL_MS = 50;

export class Supervisor {
  private state: State = 'idle';
  private child: ChildProcess | undefined;
  private ready = false;
  private readonly drainLimit: DrainLimit;
  private startedAt = 0;
  private attempt = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private tail: { seq: number; line: string }[] = [];
  private seq = 0;
  private partial = '';
  private resolveStopped!: (info: ExitInfo) => void;
  /** Resolves once nginx has exited after stop(). */
  readonly stopped: Promise<ExitInfo>;
  /** Unexpected exits so far. */
  restarts = 0;

  private readonly log: Logger;
  private readonly policy: BackoffPolicy & { stableMs: number };
  private readonly confirmTimeoutMs: number;
  private readonly sink: (chunk: Buffer) => void;

  constructor(private readonly opts: SupervisorOptions) {
    this.log = opts.logger;
    this.drainLimit = new DrainLimit(opts.maxDrainingGenerations ?? 0, opts.logger, { graceMs: opts.drainingGraceMs ?? DRAINING_GRACE_MS });
    this.policy = opts.restart ?? { initialMs: 500, maxMs: 30_000, stableMs: 30_000 };
    // A reload of a 10 000-service config takes ~7 s before new workers run.
    this.confirmTimeoutMs = opts.confirmTimeoutMs ?? 30_000;
    this.sink = opts.stderr ?? ((c) => process.stderr.write(c));
    this.stopped = new Promise((r) => (this.resolveStopped = r));
  }

  /** Idempotent; nginx reads whatever is at configPath. */
  start(): void {
    if (this.state !== 'idle') return;
    this.state = 'starting';
    void this.spawnNginx();
  }

  get pid(): number | undefined {
    return this.state === 'running' || this.state === 'stopping' ? this.child?.pid : undefined;
  }

  /** The master is up and has started workers. */
  isRunning(): boolean {
    const pid = this.child?.pid;
    return this.state === 'running' && this.ready && pid !== undefined && isAlive(pid);
  }

  /** Recent nginx stderr lines, for failure reasons. */
  recentStderr(since = 0): string[] {
    return this.tail.filter((t) => t.seq > since).map((t) => t.line);
  }

  private async spawnNginx(): Promise<void> {
    try {
      await this.opts.prepare?.();
    } catch (err) {
      this.log.warn({ err }, 'could not restore the last good config before starting nginx');
    }
    if (this.state !== 'starting') return; // stop() arrived meanwhile
    const args = [...FOREGROUND_ARGS, '-c', this.opts.configPath];
    // Own process group (pgid = master pid): if the master dies, its orphaned workers can
    // still be reached through the group, and only they.
    const child = spawn(this.opts.nginxBin, args, { stdio: ['ignore', 'inherit', 'pipe'], detached: true });
    this.child = child;
    this.ready = false;
    this.startedAt = Date.now();
    this.state = 'running';
    child.stderr?.on('data', (chunk: Buffer) => {
      this.sink(chunk);
      this.record(chunk);
    });
    let exited = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (exited) return;
      exited = true;
      this.onExit(child, { code, signal });
    };
    // A spawn failure (binary missing) emits 'error' and maybe no 'exit'.
    child.once('error', (err) => {
      this.log.error({ err }, 'could not run nginx');
      onExit(null, null);
    });
    child.once('exit', onExit);
    this.log.info({ pid: child.pid }, 'nginx started');
    void this.watchReady(child);
  }

  private record(chunk: Buffer): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > 4096) this.partial = this.partial.slice(-4096);
    for (const line of lines) {
      if (line.trim() === '') continue;
      this.tail.push({ seq: ++this.seq, line: line.slice(0, 1000) });
    }
    if (this.tail.length > TAIL_LINES) this.tail.splice(0, this.tail.length - TAIL_LINES);
  }

  // SIGHUP before nginx installed its handlers would kill it, so reloads wait for workers.
  private async watchReady(child: ChildProcess): Promise<void> {
    const pid = child.pid;
    if (pid === undefined) return;
    const since = Date.now();
    while (this.child === child && !this.ready) {
      const kids = await listChildren(pid);
      if (this.child !== child) return;
      if (kids === undefined) {
        // No /proc: best effort, assume nginx is up after a short while.
        if (Date.now() - since > 300) this.ready = true;
      } else if (kids.length > 0) {
        this.ready = true;
      }
      if (!this.ready) await sleep(POLL_MS);
    }
  }

  private onExit(child: ChildProcess, info: ExitInfo): void {
    if (this.child !== child) return;
    this.child = undefined;
    this.ready = false;
    this.partial = '';
    if (this.state === 'stopping' || this.state === 'stopped') {
      this.state = 'stopped';
      this.log.info(info, 'nginx exited');
      this.resolveStopped(info);
      return;
    }
    if (child.pid !== undefined) this.quitOrphans(child.pid);
    if (Date.now() - this.startedAt > this.policy.stableMs) this.attempt = 0;
    const delay = backoffDelay(this.attempt++, this.policy);
    this.restarts++;
    this.log.error({ ...info, restartInMs: delay, restarts: this.restarts }, 'nginx exited unexpectedly; restarting');
    this.state = 'backoff';
    this.restartTimer = setTimeout(() => {
      if (this.state !== 'backoff') return;
      this.state = 'starting';
      void this.spawnNginx();
    }, delay);
  }

  // Workers outlive a SIGKILLed master and keep the listen sockets, so the new master could
  // not bind. A graceful quit to the dead master's group frees the ports while their
  // in-flight requests finish. The kernel does not reuse a pid that still names a group.
  private quitOrphans(pgid: number): void {
    try {
      process.kill(-pgid, 'SIGQUIT');
      this.log.warn({ pgid }, 'asked orphaned nginx workers to quit');
    } catch {
      // ESRCH: the workers went with the master.
    }
  }

  /**
   * Graceful reload of the running master. When nginx is not running (not started yet, or
   * waiting to restart) the new config is simply what the next start reads.
   */
  async reload(): Promise<ReloadResult> {
    if (this.state === 'idle') {
      this.start();
      return { ok: true, deferred: true };
    }
    const child = this.child;
    if (this.state !== 'running' || child?.pid === undefined) return { ok: true, deferred: true };
    const pid = child.pid;
    const readyBy = Date.now() + this.confirmTimeoutMs;
    while (!this.ready && this.child === child && Date.now() < readyBy) await sleep(POLL_MS);
    if (this.child !== child) return { ok: true, deferred: true };

    const before = await listChildren(pid);
    const retired = (before ?? []).filter((p) => !isDraining(p)).map((p) => p.pid);
    const beforePids = new Set(before?.map((p) => p.pid));
    const mark = this.seq;
    try {
      process.kill(pid, 'SIGHUP');
    } catch (err) {
      return { ok: false, reason: `could not signal nginx: ${(err as Error).message}` };
    }
    const sentAt = Date.now();
    const deadline = sentAt + this.confirmTimeoutMs;
    let sawFresh = false;
    while (Date.now() < deadline) {
      await sleep(POLL_MS);
      if (this.child !== child) {
        return { ok: false, reason: trimReason(['nginx exited during reload', ...this.recentStderr(mark)].join('\n')) };
      }
      // nginx logs why it refused the new config and keeps the old one.
      const emerg = this.recentStderr(mark).filter((l) => l.includes('[emerg]'));
      if (emerg.length > 0) return { ok: false, reason: trimReason(emerg.join('\n')) };
      if (before === undefined) {
        if (Date.now() - sentAt >= 300 && isAlive(pid)) return { ok: true };
        continue;
      }
      const now = await listChildren(pid);
      // Done when a new worker runs and every old one has closed its listeners (its title
      // says "shutting down"): from then on new connections get the new config.
      const fresh = now?.some((p) => !beforePids.has(p.pid) && !isDraining(p)) ?? false;
      const oldListening = now?.some((p) => beforePids.has(p.pid) && !isDraining(p));
      if (fresh && !oldListening) {
        this.drainLimit.afterReload(retired, now ?? []);
        return { ok: true };
      }
      sawFresh ||= fresh;
    }
    if (sawFresh) {
      // New workers run the new config; old ones are just slow to take the quit signal.
      this.log.warn({ pid }, 'old nginx workers still listening after the reload');
      this.drainLimit.afterReload(retired, (await listChildren(pid)) ?? []);
      return { ok: true };
    }
    const reason = `nginx started no new workers within ${this.confirmTimeoutMs} ms of the reload; it keeps the previous config`;
    return { ok: false, reason: trimReason([reason, ...this.recentStderr(mark)].join('\n')) };
  }

  /** Forwards a stop signal; resolves when nginx has exited. Repeat calls re-send the signal. */
  stop(signal: NodeJS.Signals): Promise<ExitInfo> {
    clearTimeout(this.restartTimer);
    if (this.state === 'stopped') return this.stopped;
    const child = this.child;
    if (child && (this.state === 'running' || this.state === 'stopping')) {
      this.state = 'stopping';
      this.log.info({ signal, pid: child.pid }, 'forwarding stop signal to nginx');
      try {
        child.kill(signal);
      } catch {
        // Exit handler resolves.
      }
    } else {
      this.state = 'stopped';
      this.resolveStopped({ code: null, signal: null });
    }
    return this.stopped;
  }
}
