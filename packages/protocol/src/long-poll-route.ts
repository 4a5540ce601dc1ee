// The server side of a long-poll: a value with a version and waiters, and the one route helper that
// answers `If-None-Match` + `?wait=SECONDS` for it. Core's per-extension model and the extension's served
// config are both offered this way; clients follow them with LongPollClient.
import { ERR_API_BAD_REQUEST, type ApiErrorBody } from './errors.js';

/** `"abc"` or `W/"abc"` → `abc`; a bare value is taken as is. */
export function parseEtag(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(?:W\/)?"([^"]*)"$/.exec(header.trim());
  return m ? m[1] : header.trim() || undefined;
}

export class VersionedValue<T> {
  private current: T | undefined;
  private waiters = new Set<(v: T) => void>();

  constructor(readonly versionOf: (v: T) => string) {}

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

/**
 * The ?wait= of a long-poll: whole seconds, 0..max. Undefined/empty = 0. Anything else (negative,
 * fractions, huge numbers, repeated parameters, non-digits) is a clear error instead of a guess.
 */
export function parseWaitSeconds(raw: unknown, max: number): { ok: true; seconds: number } | { ok: false; message: string } {
  if (raw === undefined || raw === '') return { ok: true, seconds: 0 };
  if (typeof raw !== 'string' || !/^\d{1,6}$/.test(raw)) {
    return { ok: false, message: `wait must be whole seconds from 0 to ${max} (got ${JSON.stringify(Array.isArray(raw) ? raw : String(raw).slice(0, 40))})` };
  }
  return { ok: true, seconds: Math.min(max, Number(raw)) };
}

/** The request parts a long-poll reads (fastify's request has them). */
export interface LongPollRequest {
  headers: { 'if-none-match'?: string | string[] | undefined };
  query: unknown;
}

/** The reply calls a long-poll makes (fastify's reply has them); keeps this package free of fastify. */
export interface LongPollReply {
  code(status: number): LongPollReply;
  header(name: string, value: string): LongPollReply;
  send(body?: unknown): unknown;
}

/**
 * Answers a long-poll on `value` (whose current value is `current`): a client that names the current
 * version in If-None-Match is held until the version changes or ?wait= seconds pass (then 304); a bad
 * ?wait= is a 400. Returns the value to send, with the ETag and no-store already set on the reply, or
 * undefined when the reply has been answered here (the handler then returns the reply).
 */
export async function answerLongPoll<T>(
  req: LongPollRequest,
  reply: LongPollReply,
  value: Pick<VersionedValue<T>, 'versionOf' | 'waitForChange'>,
  current: T,
  maxWaitSeconds: number,
): Promise<T | undefined> {
  const wait = parseWaitSeconds((req.query as { wait?: unknown } | undefined)?.wait, maxWaitSeconds);
  if (!wait.ok) {
    reply.code(400).send({ code: ERR_API_BAD_REQUEST, message: wait.message } satisfies ApiErrorBody);
    return undefined;
  }
  const ifNoneMatch = req.headers['if-none-match'];
  const known = parseEtag(Array.isArray(ifNoneMatch) ? ifNoneMatch[0] : ifNoneMatch);
  let answer = current;
  if (known !== undefined && known === value.versionOf(current)) {
    const changed = wait.seconds > 0 ? await value.waitForChange(known, wait.seconds * 1000) : undefined;
    if (changed === undefined) {
      reply.code(304).send();
      return undefined;
    }
    answer = changed;
  }
  reply.header('etag', `"${value.versionOf(answer)}"`).header('cache-control', 'no-store');
  return answer;
}
