// A value with a version and long-poll waiters: core's per-extension model and the extension's served
// config are both offered with ETag + ?wait= on top of this.

/** `"abc"` or `W/"abc"` → `abc`; a bare value is taken as is. */
export function parseEtag(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(?:W\/)?"([^"]*)"$/.exec(header.trim());
  return m ? m[1] : header.trim() || undefined;
}

export class VersionedValue<T> {
  private current: T | undefined;
  private waiters = new Set<(v: T) => void>();

  constructor(private readonly versionOf: (v: T) => string) {}

  get(): T | undefined {
    return this.current;
  }

  /** Returns true (and wakes waiters) when the version changed. */
  set(v: T): boolean {
    if (this.current !== undefined && this.versionOf(this.current) === this.versionOf(v)) return false;
    this.current = v;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w(v);
    return true;
  }

  /** Resolves with the value once its version differs from `version`, or undefined after timeoutMs. */
  waitForChange(version: string, timeoutMs: number): Promise<T | undefined> {
    if (this.current !== undefined && this.versionOf(this.current) !== version) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const waiter = (v: T) => {
        clearTimeout(timer);
        resolve(v);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}
