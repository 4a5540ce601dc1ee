// Graceful stop of a routing proxy behind the edge. Swarm takes the task out of DNS about 2 s before
// the stop signal, so no new connection arrives; what is left are open client connections (TLS, which
// the edge forwards at L4: see drainPorts). nginx's
// SIGQUIT closes idle keep-alive connections at once, which a client that is just sending a request
// sees as an error. So the agent first waits, while client connections remain, for nginx's
// keepalive_time to end them: past it, every response says `Connection: close`, a clean end for any
// HTTP/1.1 client, which reconnects through the edge to another task.
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { sleep } from '@signalbox/protocol';

const ESTABLISHED = '01';

/**
 * The ports whose client connections a stop waits for: the TLS port only. Its connections are the
 * clients' own (the edge forwards TLS at L4), and a request sent on one that nginx closes is the client's
 * error. The HTTP port's connections are the edge's: each carries one request (closed after it; nginx's
 * graceful stop lets a request in flight finish) or is an idle one of its keep-alive pool, whose close
 * the edge retries on another task. Waiting for those (the pool keeps them for 20 s) only held the task,
 * and with it every route pending on its network, for the whole drain time.
 */
export function drainPorts(httpsPort: number | undefined): ReadonlySet<number> {
  return new Set(httpsPort === undefined ? [] : [httpsPort]);
}

/** Established TCP connections whose local port is one of `ports`, from /proc/net/tcp and tcp6 text. */
export function countEstablished(procNetTcp: readonly string[], ports: ReadonlySet<number>): number {
  let n = 0;
  for (const text of procNetTcp) {
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4 || f[3] !== ESTABLISHED) continue;
      const local = f[1] ?? '';
      const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
      if (ports.has(port)) n++;
    }
  }
  return n;
}

export async function clientConnections(ports: ReadonlySet<number>): Promise<number> {
  const texts = await Promise.all(['/proc/net/tcp', '/proc/net/tcp6'].map((p) => readFile(p, 'utf8').catch(() => '')));
  return countEstablished(texts, ports);
}

/** Waits until no client connection is left on `ports` or `maxMs` has passed; returns what is left. */
export async function drainConnections(ports: ReadonlySet<number>, maxMs: number, log: Logger, pollMs = 250): Promise<number> {
  const until = Date.now() + maxMs;
  let left = await clientConnections(ports);
  if (left > 0) log.info({ connections: left, maxMs }, 'draining: waiting for client connections to end before nginx stops');
  while (left > 0 && Date.now() < until) {
    await sleep(Math.min(pollMs, until - Date.now()));
    left = await clientConnections(ports);
  }
  if (left === 0) log.info({ connectionsLeft: 0 }, 'drain over; stopping nginx');
  // Passthrough sessions and WebSockets: nothing can end them cleanly but the app or the client.
  else
    log.warn(
      { connectionsLeft: left },
      'drain over; stopping nginx gracefully: the connections left (TLS passthrough sessions, WebSockets) run until they end or the stop grace period does, which cuts them (routing proxies behind the edge: ProxySessionGracePeriod, while another routing task serves)',
    );
  return left;
}
