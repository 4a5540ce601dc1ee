// Long-poll a versioned HTTP resource (ETag + ?wait=) forever, with capped backoff on errors.
// Used by the extension to follow core's model.
import { backoffDelay, sleep } from '@signalbox/model';

export interface LongPollOptions<T> {
  url: string;
  waitSeconds: number;
  parse: (res: Response) => Promise<T>;
  onValue: (value: T, etag: string) => Promise<void> | void;
  onError?: (err: Error, attempt: number) => void;
  /** The server answered again after errors (e.g. core restarted): state it lost can be sent again. */
  onRecovered?: () => Promise<void> | void;
  signal?: AbortSignal;
  /** Sent with every request (the API credential). */
  headers?: Record<string, string>;
  /**
   * Cap of the retry delay. Short on purpose: while the server is away each retry is one cheap failed
   * connect, and a server that restarts is noticed within this long of answering again.
   */
  maxBackoffMs?: number;
}

/** Default cap of the retry delay: a restarted core is seen within half a second of answering. */
export const DEFAULT_MAX_BACKOFF_MS = 500;

export async function longPoll<T>(o: LongPollOptions<T>): Promise<void> {
  let etag: string | undefined;
  let attempt = 0;
  const max = o.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  while (!o.signal?.aborted) {
    try {
      // After errors, ask without waiting: the first answer tells us at once that the server is back.
      const url = `${o.url}${o.url.includes('?') ? '&' : '?'}wait=${etag && attempt === 0 ? o.waitSeconds : 0}`;
      const res = await fetch(url, {
        headers: { ...o.headers, ...(etag ? { 'if-none-match': etag } : {}) },
        signal: AbortSignal.any([AbortSignal.timeout((o.waitSeconds + 10) * 1000), ...(o.signal ? [o.signal] : [])]),
      });
      if (res.ok || res.status === 304) {
        const recovered = attempt > 0;
        attempt = 0;
        if (recovered) await o.onRecovered?.();
      }
      if (res.status === 304) continue;
      if (!res.ok) throw new Error(`${o.url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const value = await o.parse(res);
      const next = res.headers.get('etag') ?? undefined;
      await o.onValue(value, next ?? '');
      etag = next;
    } catch (e) {
      if (o.signal?.aborted) return;
      attempt++;
      o.onError?.(e as Error, attempt);
      await sleep(backoffDelay(attempt - 1, { initialMs: Math.min(200, max), maxMs: max }), o.signal);
    }
  }
}
