// A cap on draining nginx generations. Each reload leaves the previous workers running until their
// last connection ends (or worker_shutdown_timeout passes, 1 h by default so WebSockets survive);
// every generation holds a full copy of its config's memory (~236 MiB at 10 000 services). With
// frequent reloads and long-lived connections those generations pile up; past the cap the oldest
// are told to stop now (SIGTERM: nginx's fast shutdown closes their connections).
// Only generations retired at least `graceMs` ago count towards the cap: a burst of routine reloads
// (a deploy, a crash loop) retires many generations within seconds, and those that hold only keep-alive
// connections end on their own within seconds; counting them would stop the generation that holds a
// long-lived WebSocket for nothing. So the memory bound is (max + reloads within graceMs) generations.
import type { Logger } from 'pino';
import type { ProcInfo } from './nginx.js';

/**
 * Default grace: generations holding only keep-alive connections have ended well before (old workers
 * close idle keep-alive connections at once and busy ones after their response).
 */
export const DRAINING_GRACE_MS = 30_000;

export interface DrainLimitOptions {
  /** A generation retired less than this long ago does not count towards the cap. 0 = all count. */
  graceMs?: number;
  now?: () => number;
  kill?: (pid: number, signal: NodeJS.Signals) => void;
}

export class DrainLimit {
  /** Worker pids of each generation retired by a reload, with when, oldest first. */
  private generations: { pids: number[]; at: number }[] = [];
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly kill: (pid: number, signal: NodeJS.Signals) => void;

  /** max = most draining generations kept (past their grace); 0 = no cap. */
  constructor(
    private readonly max: number,
    private readonly log: Logger,
    opts: DrainLimitOptions = {},
  ) {
    this.graceMs = opts.graceMs ?? 0;
    this.now = opts.now ?? Date.now;
    this.kill = opts.kill ?? ((pid, signal) => process.kill(pid, signal));
  }

  /**
   * After a confirmed reload: `retired` are the workers that served before it, `children` the master's
   * children now. Returns the pids told to stop.
   */
  afterReload(retired: readonly number[], children: readonly ProcInfo[]): number[] {
    const alive = new Set(children.filter((c) => c.cmdline.includes('shutting down')).map((c) => c.pid));
    const now = this.now();
    if (retired.length > 0) this.generations.push({ pids: [...retired], at: now });
    this.generations = this.generations.map((g) => ({ ...g, pids: g.pids.filter((pid) => alive.has(pid)) })).filter((g) => g.pids.length > 0);
    const stopped: number[] = [];
    // Oldest first, so the counted ones are a prefix of the list.
    const counted = () => this.generations.filter((g) => now - g.at >= this.graceMs).length;
    while (this.max > 0 && counted() > this.max) {
      const oldest = this.generations.shift()!;
      for (const pid of oldest.pids) {
        try {
          this.kill(pid, 'SIGTERM');
          stopped.push(pid);
        } catch {
          // Gone meanwhile.
        }
      }
    }
    if (stopped.length > 0) {
      this.log.warn({ pids: stopped, maxDrainingGenerations: this.max, graceMs: this.graceMs }, 'too many nginx generations draining: stopped the oldest, closing its connections');
    }
    return stopped;
  }

  /** Draining generations currently tracked. */
  get draining(): number {
    return this.generations.length;
  }
}
