// Long-polls the extension for nginx.conf with protocol's longPoll. The ETag we send is the last one we
// were handed (installed or rejected), so the extension holds the request until it has something new
// and a rejected config is not fetched and re-validated in a loop.
import type { Logger } from 'pino';
import { HEADER_CONFIG_NAME, HEADER_NOT_FOR_TASKS, PATHS, QUERY_TASK, longPoll, type BackoffPolicy } from '@signalbox/protocol';
import { sha256Hex, type Candidate } from './installer.js';

export interface FetcherOptions {
  /** Extension base URL, e.g. http://signalbox-extension:8081 */
  baseUrl: string;
  waitSeconds: number;
  /**
   * This task's swarm ID ('' = unknown), sent as ?task=: a task that replaces old ones in a roll is served
   * the routes held for those before it turns healthy.
   */
  taskId?: string;
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

  /** The long-poll URL: this task's config. */
  private url(): URL {
    const url = new URL(PATHS.nginxConf, `${this.opts.baseUrl}/`);
    if (this.opts.taskId) url.searchParams.set(QUERY_TASK, this.opts.taskId);
    return url;
  }

  /**
   * The config the extension serves this task now, asked once without waiting (no If-None-Match), for a
   * task that starts: booting straight into it saves an `nginx -t` and a reload of an older config.
   * undefined when the extension does not answer 200 within `timeoutMs` (down, no config yet).
   */
  async fetchOnce(timeoutMs: number): Promise<Candidate | undefined> {
    try {
      const res = await this.fetchFn(this.url(), {
        headers: { ...this.opts.headers, accept: 'text/plain' },
        signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(timeoutMs)]),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        this.log.info({ status: res.status }, 'the extension has no config for this task yet; starting with the saved one');
        return undefined;
      }
      return await readCandidate(res);
    } catch (err) {
      this.log.info({ err: (err as Error).message }, 'the extension did not answer at start; starting with the saved config');
      return undefined;
    }
  }

  start(): void {
    if (this.loop) return;
    this.state.etag = this.opts.initialEtag();
    this.loop = longPoll<Candidate>({
      url: this.url(),
      waitSeconds: this.opts.waitSeconds,
      signal: this.abort.signal,
      headers: { ...this.opts.headers, accept: 'text/plain' },
      ...(this.state.etag !== undefined ? { initialVersion: this.state.etag } : {}),
      backoff: this.policy,
      ...(this.opts.random ? { random: this.opts.random } : {}),
      fetch: this.fetchFn,
      minIdlePollMs: this.opts.minIdlePollMs ?? 1000,
      // The server holds us up to `wait` seconds; give it slack before calling it dead.
      timeoutSlackMs: 15_000,
      read: readCandidate,
      versionOf: (c, etag) => {
        if (etag !== undefined && etag !== c.sha256) this.log.warn({ etag, sha256: c.sha256 }, 'extension ETag is not the sha256 of the body');
        return etag ?? c.sha256;
      },
      onValue: (c, etag) => {
        this.state.etag = etag;
        this.log.debug({ sha256: c.sha256, configName: c.configName }, 'received config from extension');
        this.opts.submit(c);
      },
      onAnswer: () => {
        this.state.consecutiveErrors = 0;
        this.state.lastError = undefined;
        this.state.lastContactAt = new Date();
      },
      onError: (err, attempt, retryInMs) => {
        this.state.consecutiveErrors = attempt;
        // One line per outage, not per retry.
        if (attempt === 1 || err.message !== this.state.lastError) {
          this.log.warn({ err: err.message, retryInMs }, 'extension unreachable; keeping the current config');
        }
        this.state.lastError = err.message;
      },
    });
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
  }
}

/** An answer of GET nginx.conf as a candidate from the extension. */
async function readCandidate(res: Response): Promise<Candidate> {
  const bytes = Buffer.from(await res.arrayBuffer());
  const notFor = res.headers.get(HEADER_NOT_FOR_TASKS);
  return {
    bytes,
    sha256: sha256Hex(bytes),
    configName: res.headers.get(HEADER_CONFIG_NAME) ?? '',
    source: 'extension',
    ...(notFor
      ? {
          notForTasks: notFor
            .split(',')
            .map((t) => t.trim())
            .filter((t) => t !== ''),
        }
      : {}),
  };
}
