// The client side of a long-poll: follow a versioned resource (ETag + If-None-Match + ?wait=) until
// stopped, with capped backoff on errors. The extension follows core's model with it, the proxy agent
// the extension's nginx.conf.
import { backoffDelay, sleep, type BackoffPolicy } from './backoff.js';
import { parseEtag } from './long-poll-route.js';

export interface LongPollOptions<T> {
  /** The resource's URL, without ?wait=. */
  url: string | URL;
  /** How long the server may hold a request that has nothing new. */
  waitSeconds: number;
  /** The body of a 200, parsed and validated; throwing counts as an error (retried with backoff). */
  read: (res: Response) => Promise<T>;
  /** The version of a value, sent back as If-None-Match: by default the response's ETag. */
  versionOf?: (value: T, etag: string | undefined) => string | undefined;
  /** A value of a new version; the version is remembered once this resolves (throwing retries it). */
  onValue: (value: T, version: string | undefined) => Promise<void> | void;
  /** A failed request; the next is made after `retryInMs`. */
  onError?: (err: Error, attempt: number, retryInMs: number) => void;
  /** The server answered again after errors (e.g. it restarted): state it lost can be sent again. */
  onRecovered?: () => Promise<void> | void;
  /** Every answer (200 or 304). */
  onAnswer?: () => void;
  /** Version to start from (what the caller already has). */
  initialVersion?: string;
  /** Sent with every request (the API credential). */
  headers?: Record<string, string>;
  /** Retry delays. Short by default: while the server is away each retry is one cheap failed connect. */
  backoff?: BackoffPolicy;
  random?: () => number;
  fetch?: typeof globalThis.fetch;
  /** Floor between polls that brought nothing new, against servers that ignore ?wait. */
  minIdlePollMs?: number;
  /** How much longer than waitSeconds to give the server before calling a request dead. */
  timeoutSlackMs?: number;
  signal?: AbortSignal;
}

/** Default retry delays: a restarted server is seen within half a second of answering. */
export const DEFAULT_LONG_POLL_BACKOFF: BackoffPolicy = { initialMs: 200, maxMs: 500 };

/** Resolves when `signal` aborts; until then polls. */
export async function longPoll<T>(o: LongPollOptions<T>): Promise<void> {
  const doFetch = o.fetch ?? globalThis.fetch;
  const policy = o.backoff ?? DEFAULT_LONG_POLL_BACKOFF;
  const minIdle = o.minIdlePollMs ?? 0;
  let version = o.initialVersion;
  let attempt = 0;
  while (!o.signal?.aborted) {
    const startedAt = Date.now();
    let news = false;
    try {
      // After errors, ask without waiting: the first answer tells at once that the server is back.
      const url = new URL(o.url);
      url.searchParams.set('wait', String(version !== undefined && attempt === 0 ? o.waitSeconds : 0));
      const timeout = AbortSignal.timeout(o.waitSeconds * 1000 + (o.timeoutSlackMs ?? 10_000));
      const res = await doFetch(url, {
        headers: { ...o.headers, ...(version !== undefined ? { 'if-none-match': `"${version}"` } : {}) },
        signal: o.signal ? AbortSignal.any([o.signal, timeout]) : timeout,
      });
      if (res.status !== 200 && res.status !== 304) {
        throw new Error(`GET ${url.pathname} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      }
      const recovered = attempt > 0;
      attempt = 0;
      o.onAnswer?.();
      if (recovered) await o.onRecovered?.();
      if (res.status === 304) {
        await res.body?.cancel();
      } else {
        const value = await o.read(res);
        const next = (o.versionOf ?? ((_v, etag) => etag))(value, parseEtag(res.headers.get('etag')));
        // A server that ignores If-None-Match sends what we have again: not news.
        if (next === undefined || next !== version) {
          await o.onValue(value, next);
          version = next;
          news = true;
        }
      }
    } catch (e) {
      if (o.signal?.aborted) return;
      const delay = backoffDelay(attempt++, policy, o.random);
      o.onError?.(e as Error, attempt, delay);
      await sleep(delay, o.signal);
      continue;
    }
    const elapsed = Date.now() - startedAt;
    if (!news && elapsed < minIdle) await sleep(minIdle - elapsed, o.signal);
  }
}
