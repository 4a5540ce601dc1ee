// Long-poll a versioned HTTP resource (ETag + ?wait=) forever, with capped backoff on errors.
// Used by the extension to follow core's model.
import { backoffDelay, sleep } from '@signalbox/model';

export interface LongPollOptions<T> {
  url: string;
  waitSeconds: number;
  parse: (res: Response) => Promise<T>;
  onValue: (value: T, etag: string) => Promise<void> | void;
  onError?: (err: Error, attempt: number) => void;
  signal?: AbortSignal;
  maxBackoffMs?: number;
}

export async function longPoll<T>(o: LongPollOptions<T>): Promise<void> {
  let etag: string | undefined;
  let attempt = 0;
  const max = o.maxBackoffMs ?? 5000;
  while (!o.signal?.aborted) {
    try {
      const url = `${o.url}${o.url.includes('?') ? '&' : '?'}wait=${etag ? o.waitSeconds : 0}`;
      const res = await fetch(url, {
        headers: etag ? { 'if-none-match': etag } : {},
        signal: AbortSignal.any([AbortSignal.timeout((o.waitSeconds + 10) * 1000), ...(o.signal ? [o.signal] : [])]),
      });
      if (res.status === 304) {
        attempt = 0;
        continue;
      }
      if (!res.ok) throw new Error(`${o.url} answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
      const value = await o.parse(res);
      const next = res.headers.get('etag') ?? undefined;
      attempt = 0;
      await o.onValue(value, next ?? '');
      etag = next;
    } catch (e) {
      if (o.signal?.aborted) return;
      attempt++;
      o.onError?.(e as Error, attempt);
      await sleep(backoffDelay(attempt, { initialMs: 200, maxMs: max }), o.signal);
    }
  }
}
