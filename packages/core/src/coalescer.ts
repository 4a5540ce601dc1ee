// Coalesces bursts of triggers into few runs: wait for a quiet period, but never longer than maxWait,
// and never run twice at once (a trigger during a run schedules exactly one more).

export interface CoalescerOptions {
  quietMs: number;
  maxWaitMs: number;
}

export class Coalescer {
  private timer: NodeJS.Timeout | undefined;
  private firstTriggerAt: number | undefined;
  private running = false;
  private again = false;
  private againOpts: CoalescerOptions | undefined;
  private stopped = false;

  constructor(
    private readonly run: () => Promise<void>,
    private readonly opts: CoalescerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /** `opts` overrides the timing for this trigger (e.g. longer waits during a deploy storm). */
  trigger(opts: CoalescerOptions = this.opts): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      this.againOpts = opts;
      return;
    }
    const t = this.now();
    this.firstTriggerAt ??= t;
    const deadline = this.firstTriggerAt + opts.maxWaitMs;
    const delay = Math.max(0, Math.min(opts.quietMs, deadline - t));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.fire(), delay);
  }

  private async fire(): Promise<void> {
    this.timer = undefined;
    this.firstTriggerAt = undefined;
    this.running = true;
    try {
      await this.run();
    } finally {
      this.running = false;
      if (this.again) {
        this.again = false;
        this.trigger(this.againOpts);
      }
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }
}
