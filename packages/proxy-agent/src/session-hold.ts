// How long a stopping routing task keeps the sessions nginx cannot end cleanly (TLS passthrough, WebSockets).
// Behind the edge its stop grace period is ProxySessionGracePeriod (minutes), since a start-first roll never
// waits for the old task. Swarm does wait in other cases: a node drained, a rollback, a restart each start
// the replacement only once the old task has stopped. So past `afterMs` (ProxyStopGracePeriod − 2 s) the
// task holds on only while another routing task serves (tasks.<proxy> lists one); otherwise it ends the
// sessions, as swarm's kill would have done at ProxyStopGracePeriod, and lets the replacement start.
import type { Logger } from 'pino';
import { sleep } from '@signalbox/protocol';

export interface SessionHoldOptions {
  /** From the stop signal: until then the sessions are kept whatever happens. */
  afterMs: number;
  /** Whether another routing task is listed (healthy, serving) in DNS. */
  othersServe: () => Promise<boolean>;
  /** Settles when nginx has exited (its last session ended). */
  exited: Promise<unknown>;
  /** Ends what is left (nginx's fast stop). */
  end: () => void;
  /** Client connections still open, for the log. */
  connectionsLeft: () => Promise<number>;
  log: Logger;
  pollMs?: number;
}

/** Resolves true when it ended the sessions, false when nginx exited first. */
export async function holdSessions(o: SessionHoldOptions): Promise<boolean> {
  let exited = false;
  void o.exited.then(
    () => (exited = true),
    () => (exited = true),
  );
  const until = Date.now() + o.afterMs;
  const pollMs = o.pollMs ?? 1000;
  let logged = false;
  while (!exited) {
    const now = Date.now();
    if (now < until) {
      await Promise.race([sleep(Math.min(pollMs, until - now)), o.exited.catch(() => undefined)]);
      continue;
    }
    if (!(await o.othersServe())) {
      if (exited) break;
      o.log.warn({ connectionsLeft: await o.connectionsLeft() }, "no other routing task serves: ending the sessions left so that swarm can start this task's replacement");
      o.end();
      return true;
    }
    if (!logged) {
      logged = true;
      o.log.info({ connectionsLeft: await o.connectionsLeft() }, 'another routing task serves: keeping the sessions left until they end (ProxySessionGracePeriod)');
    }
    await Promise.race([sleep(pollMs), o.exited.catch(() => undefined)]);
  }
  return false;
}
