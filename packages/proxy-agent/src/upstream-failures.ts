// Passive upstream health as nginx sees it: nginx logs every failed attempt to reach a server
// ("connect() failed …", "upstream timed out …", "upstream prematurely closed …") with
// `upstream: "http://ADDR:PORT/…"`. Open-source nginx has no API for its peers' state, so the agent
// reads these lines from nginx's stderr (ErrorLogPath = /dev/stderr, the default) and counts them per
// server. A server with failures in the last window is one nginx is skipping or about to skip (max_fails).

import type { UpstreamFailure } from '@signalbox/protocol';

export type { UpstreamFailure } from '@signalbox/protocol';

const LINE = /\[(?:error|warn|crit)\] \d+#\d+: (?:\*\d+ )?(.*?), client: .*?upstream: "[a-z]+:\/\/([^/"]+)/;

export class UpstreamFailures {
  private readonly byServer = new Map<string, { times: number[]; total: number; lastError: string }>();
  private partial = '';

  constructor(
    private readonly windowMs = 60_000,
    private readonly maxServers = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Feed raw stderr; lines may arrive split across chunks. */
  feed(chunk: Buffer | string): void {
    const text = this.partial + chunk.toString();
    const lines = text.split('\n');
    this.partial = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const m = LINE.exec(line);
    if (!m) return;
    const [, error, server] = m as unknown as [string, string, string];
    // "no live upstreams" names the upstream block, not a server: nothing to attribute.
    if (!/^[\d.]+:\d+$|^\[[0-9a-f:]+\]:\d+$/i.test(server)) return;
    const at = this.now();
    let e = this.byServer.get(server);
    if (!e) {
      if (this.byServer.size >= this.maxServers) this.byServer.delete(this.byServer.keys().next().value!);
      e = { times: [], total: 0, lastError: '' };
      this.byServer.set(server, e);
    }
    e.times.push(at);
    if (e.times.length > 1000) e.times.splice(0, e.times.length - 1000);
    e.total++;
    e.lastError = error.slice(0, 300);
  }

  /** Servers with failures, most recent first. */
  list(): UpstreamFailure[] {
    const since = this.now() - this.windowMs;
    return [...this.byServer.entries()]
      .map(([server, e]) => ({
        server,
        recent: e.times.filter((t) => t >= since).length,
        total: e.total,
        lastAt: new Date(e.times.at(-1)!).toISOString(),
        lastError: e.lastError,
      }))
      .sort((a, b) => b.lastAt.localeCompare(a.lastAt) || a.server.localeCompare(b.server));
  }
}
