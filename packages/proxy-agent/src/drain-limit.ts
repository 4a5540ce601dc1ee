// A cap on draining nginx generations. Each reload leaves the previous workers running until their
// last connection ends (or worker_shutdown_timeout passes, 1 h by default so WebSockets survive);
// every generation holds a full copy of its config's memory (~236 MiB at 10 000 services). With
// frequent reloads and long-lived connections those generations pile up; past the cap the oldest
// are told to stop now (SIGTERM: nginx's fast shutdown closes their connections).
import type { Logger } from 'pino';
import type { ProcInfo } from './nginx.js';

export class DrainLimit {
  /** Worker pids of each generation retired by a reload, oldest first. */
  private generations: number[][] = [];

  /** max = most draining generations kept; 0 = no cap. */
  constructor(
    private readonly max: number,
    private readonly log: Logger,
    private readonly kill: (pid: number, signal: NodeJS.Signals) => void = (pid, signal) => process.kill(pid, signal),
  ) {}

  /**
   * After a confirmed reload: `retired` are the workers that served before it, `children` the master's
   * children now. Returns the pids told to stop.
   */
  afterReload(retired: readonly number[], children: readonly ProcInfo[]): number[] {
    const alive = new Set(children.filter((c) => c.cmdline.includes('shutting down')).map((c) => c.pid));
    if (retired.length > 0) this.generations.push([...retired]);
    this.generations = this.generations.map((g) => g.filter((pid) => alive.has(pid))).filter((g) => g.length > 0);
    const stopped: number[] = [];
    while (this.max > 0 && this.generations.length > this.max) {
      const oldest = this.generations.shift()!;
      for (const pid of oldest) {
        try {
          this.kill(pid, 'SIGTERM');
          stopped.push(pid);
        } catch {
          // Gone meanwhile.
        }
      }
    }
    if (stopped.length > 0) {
      this.log.warn({ pids: stopped, maxDrainingGenerations: this.max }, 'too many nginx generations draining: stopped the oldest, closing its connections');
    }
    return stopped;
  }

  /** Draining generations currently tracked. */
  get draining(): number {
    return this.generations.length;
  }
}
