// Long-polls the extension for nginx.conf. The ETag we send is the last one we were handed
// (installed or rejected), so the extension holds the request until it has something new and a
// rejected config is not fetched and re-validated in a loop.
import type { Logger } from 'pino';
import { backoffDelay, parseEtag, sleep, type BackoffPolicy } from '@signalbox/model';
import { sha256Hex, type Candidate } from './installer.js';

export interface FetcherOptions {
  /** Extension base URL, e.g. http://signalbox-extension:8081 */
  baseUrl: string;
  waitSeconds: number;
  /** ETag to start from: the sha256 of what is installed. */
  initialEtag: () => string | undefined;
  /** Hand a candidate to the installer; not awaited, so a newer one can supersede it. */
  submit: (c: Candidate) => unknown;
  logger: Logger;
  backoff?: BackoffPolicy;
  /** Floor between polls that brought nothing new, against servers that ignore ?wait. */
  minIdlePollMs?: number;
  fetch?: typeof globalThis.fetch;
  random?: () => number;
  /** Extra request headers (the API credential). */
  headers?: Record<string, string>;
}

export interface FetcherState {
  /** ETag sent as If-None-Match. */
  etag: string | undefined;
  lastError: string | undefined;
  lastContactAt: Date | undefined;
  consecutiveErrors: number;
}

export class Fetcher {
  readonly state: FetcherState = { etag: undefined, lastError: undefined, lastContactAt: undefined, consecutiveErrors: 0 };
  private readonly abort = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly log: Logger;
  private readonly policy: BackoffPolicy;
  private readonly fetchFn: typeof globalThis.fetch;

  constructor(private readonly opts: FetcherOptions) {
    this.log = opts.logger;
    // A restarted extension is found within a second; a refused connect per second per proxy costs nothing.
    this.policy = opts.backoff ?? { initialMs: 200, maxMs: 1000 };
    this.fetchFn = opts.fetch ?? globalThis.fetch;
  }

  start(): void {
    if (this.loop) return;
    this.state.etag = this.opts.initialEtag();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    const url = new URL('/v1/nginx.conf', `${this.opts.baseUrl}/`);
    url.searchParams.set('wait', String(this.opts.waitSeconds));
    const minIdle = this.opts.minIdlePollMs ?? 1000;
    while (!signal.aborted) {
      const startedAt = Date.now();
      let news = false;
      try {
        news = await this.pollOnce(url, signal);
        this.state.consecutiveErrors = 0;
        this.state.lastError = undefined;
        this.state.lastContactAt = new Date();
      } catch (err) {
        if (signal.aborted) break;
        const delay = backoffDelay(this.state.consecutiveErrors++, this.policy, this.opts.random);
        const message = (err as Error).message;
        // One line per outage, not per retry.
        if (this.state.consecutiveErrors === 1 || message !== this.state.lastError) {
          this.log.warn({ err: message, retryInMs: delay }, 'extension unreachable; keeping the current config');
        }
        this.state.lastError = message;
        await sleep(delay, signal);
        continue;
      }
      const elapsed = Date.now() - startedAt;
      if (!news && elapsed < minIdle) await sleep(minIdle - elapsed, signal);
    }
  }

  /** One request; true when a new candidate was handed over. Throws on anything but 200/304. */
  private async pollOnce(url: URL, signal: AbortSignal): Promise<boolean> {
    const headers: Record<string, string> = { ...this.opts.headers, accept: 'text/plain' };
    if (this.state.etag) headers['if-none-match'] = `"${this.state.etag}"`;
    // The server holds us up to `wait` seconds; give it slack before calling it dead.
    const timeout = AbortSignal.timeout(this.opts.waitSeconds * 1000 + 15_000);
    const res = await this.fetchFn(url, { headers, signal: AbortSignal.any([signal, timeout]) });
    if (res.status === 304) {
      await res.body?.cancel();
      return false;
    }
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`GET ${url.pathname} answered ${res.status}`);
    }
    const bytes = Buffer.from(await res.arrayBuffer());
    const sha = sha256Hex(bytes);
    const etag = parseEtag(res.headers.get('etag')) ?? sha;
    const configName = res.headers.get('x-signalbox-config') ?? '';
    if (etag === this.state.etag) return false; // server ignored If-None-Match
    if (etag !== sha) {
      this.log.warn({ etag, sha256: sha }, 'extension ETag is not the sha256 of the body');
    }
    this.state.etag = etag;
    this.log.debug({ sha256: sha, configName }, 'received config from extension');
    this.opts.submit({ bytes, sha256: sha, configName, source: 'extension' });
    return true;
  }
}
