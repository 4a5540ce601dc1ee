// The edge's keep-alive pool follows the routing proxy tasks without a reload: this resolves their name
// (tasks.<proxy>, healthy tasks only) through Docker's DNS and puts the list into the edge nginx's shared
// dict (EDGE_PEERS_PATH on loopback). It resolves every 250 ms (a query to the task's own DNS server), so a
// new routing task gets requests that soon after turning healthy: a route on a new network or certificate
// answers only then. It sends the list when it changes and again every few seconds, so a
// restarted nginx (empty dict) has it back within that time; meanwhile the edge uses a connection per
// request, as without the pool.
import { Resolver } from 'node:dns/promises';
import type { Logger } from 'pino';
import { EDGE_PEERS_PATH } from './edge.js';

export interface EdgePeersOptions {
  /** tasks.<proxy service> */
  name: string;
  /** Port of the routing proxies' HTTP listener. */
  port: number;
  /** DNS server (address[:port]), Docker's embedded one in a task. */
  resolver: string;
  /** Loopback port of the edge nginx's peers endpoint. */
  peersPort: number;
  log: Logger;
  /** How often the name is resolved (default 250 ms). */
  intervalMs?: number;
  /** Sent again unchanged after this long (a restarted nginx starts with an empty dict). */
  refreshMs?: number;
}

/** "ip:port" of every address, sorted, so the same tasks always give the same text. */
export function peersText(addresses: readonly string[], port: number): string {
  return [...new Set(addresses)]
    .filter((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a))
    .sort()
    .map((a) => `${a}:${port}`)
    .join(',');
}

export class EdgePeers {
  private timer: NodeJS.Timeout | undefined;
  private sent: string | undefined;
  private sentAt = 0;
  private readonly resolver = new Resolver({ timeout: 1000, tries: 1 });

  constructor(private readonly o: EdgePeersOptions) {
    this.resolver.setServers([o.resolver]);
  }

  start(): void {
    const tick = async () => {
      await this.once().catch((e: Error) => this.o.log.warn({ err: e.message }, 'cannot update the routing proxy tasks of the pool'));
      if (this.timer !== undefined) this.timer = setTimeout(() => void tick(), this.o.intervalMs ?? 250);
    };
    this.timer = setTimeout(() => void tick(), 0);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** One round: resolve, and send when changed or due. Resolves to the text in force. */
  async once(): Promise<string | undefined> {
    let addresses: string[];
    try {
      addresses = await this.resolver.resolve4(this.o.name);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // No task (yet): an empty list, so the edge uses a connection per request and its own 503s.
      if (code !== 'ENOTFOUND' && code !== 'ENODATA') throw e;
      addresses = [];
    }
    const text = peersText(addresses, this.o.port);
    if (text === this.sent && Date.now() - this.sentAt < (this.o.refreshMs ?? 5000)) return text;
    const res = await fetch(`http://127.0.0.1:${this.o.peersPort}${EDGE_PEERS_PATH}`, { method: 'PUT', body: text, signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`the edge nginx answered ${res.status} to the task list`);
    if (text !== this.sent) this.o.log.info({ peers: text }, 'routing proxy tasks of the keep-alive pool');
    this.sent = text;
    this.sentAt = Date.now();
    return text;
  }
}
