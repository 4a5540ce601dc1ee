// The config currently offered to proxy agents, with long-poll waiters.
export interface ServedConfig {
  name: string;
  sha256: string;
  text: string;
}

export class ServedConfigState {
  private current: ServedConfig | undefined;
  private waiters = new Set<(c: ServedConfig) => void>();

  get(): ServedConfig | undefined {
    return this.current;
  }

  set(c: ServedConfig): boolean {
    if (this.current?.sha256 === c.sha256) return false;
    this.current = c;
    const ws = this.waiters;
    this.waiters = new Set();
    for (const w of ws) w(c);
    return true;
  }

  waitForChange(sha: string, timeoutMs: number): Promise<ServedConfig | undefined> {
    if (this.current && this.current.sha256 !== sha) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const w = (c: ServedConfig) => {
        clearTimeout(t);
        resolve(c);
      };
      const t = setTimeout(() => {
        this.waiters.delete(w);
        resolve(undefined);
      }, timeoutMs);
      this.waiters.add(w);
    });
  }
}
