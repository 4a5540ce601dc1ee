import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoffDelay, parseEtag } from '@signalbox/protocol';
import { Fetcher } from '../src/fetcher.js';
import { sha256Hex, type Candidate } from '../src/installer.js';
import { silentLogger } from './helpers.js';

interface Seen {
  url: string;
  ifNoneMatch: string | undefined;
  at: number;
}

/** A stand-in extension: each request goes to `handler`, and is recorded. */
class FakeExtension {
  seen: Seen[] = [];
  handler: (req: IncomingMessage, res: ServerResponse, n: number) => void = (_q, res) => {
    res.statusCode = 304;
    res.end();
  };
  private server: Server = createServer((req, res) => {
    this.seen.push({ url: req.url ?? '', ifNoneMatch: req.headers['if-none-match'], at: Date.now() });
    this.handler(req, res, this.seen.length);
  });

  async listen(port = 0): Promise<number> {
    await new Promise<void>((r) => this.server.listen(port, '127.0.0.1', () => r()));
    return (this.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

function serveConfig(res: ServerResponse, text: string, configName: string, etag = sha256Hex(Buffer.from(text))): void {
  res.writeHead(200, { 'content-type': 'text/plain', etag: `"${etag}"`, 'x-signalbox-config': configName });
  res.end(text);
}

async function until(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const CONF_1 = 'events {}\n# one\n';
const CONF_2 = 'events {}\n# two\n';
const SHA_0 = '0'.repeat(64);

let ext: FakeExtension;
let fetcher: Fetcher | undefined;
let submitted: Candidate[];

function startFetcher(port: number, over: Partial<ConstructorParameters<typeof Fetcher>[0]> = {}): Fetcher {
  fetcher = new Fetcher({
    baseUrl: `http://127.0.0.1:${port}`,
    waitSeconds: 30,
    initialEtag: () => SHA_0,
    submit: (c) => submitted.push(c),
    logger: silentLogger,
    backoff: { initialMs: 20, maxMs: 80 },
    minIdlePollMs: 0,
    random: () => 0.5,
    ...over,
  });
  fetcher.start();
  return fetcher;
}

beforeEach(() => {
  ext = new FakeExtension();
  submitted = [];
});
afterEach(async () => {
  await fetcher?.stop();
  fetcher = undefined;
  await ext.close().catch(() => undefined);
});

describe('backoffDelay', () => {
  it('doubles from the initial delay and caps, with ±20 % jitter', () => {
    const p = { initialMs: 200, maxMs: 5000 };
    expect([0, 1, 2, 3, 4, 5, 6, 20].map((n) => backoffDelay(n, p, () => 0.5))).toEqual([200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
    expect(backoffDelay(0, p, () => 0)).toBe(160);
    expect(backoffDelay(0, p, () => 1)).toBe(240);
    expect(backoffDelay(10, p, () => 1)).toBe(5000);
  });
});

describe('parseEtag', () => {
  it.each([
    ['"abc"', 'abc'],
    ['W/"abc"', 'abc'],
    ['abc', 'abc'],
    [null, undefined],
  ])('%s → %s', (h, want) => expect(parseEtag(h)).toBe(want));
});

describe('Fetcher', () => {
  it("names its task in ?task= when it knows it (the extension serves a roll's new tasks their own config)", async () => {
    startFetcher(await ext.listen(), { taskId: 'abc123' });
    await until(() => ext.seen.length >= 1);
    expect(ext.seen[0]?.url).toBe('/v1/nginx.conf?task=abc123&wait=30');
  });

  it('long-polls with ?wait and the installed ETag, and hands over a 200 as a candidate', async () => {
    ext.handler = (_q, res, n) => (n === 1 ? serveConfig(res, CONF_1, 'signalbox-nginx-1') : ((res.statusCode = 304), res.end()));
    startFetcher(await ext.listen());
    await until(() => ext.seen.length >= 2);
    expect(ext.seen[0]).toMatchObject({ url: '/v1/nginx.conf?wait=30', ifNoneMatch: `"${SHA_0}"` });
    expect(submitted).toHaveLength(1);
    expect(submitted[0]).toMatchObject({ configName: 'signalbox-nginx-1', source: 'extension', sha256: sha256Hex(Buffer.from(CONF_1)) });
    expect(submitted[0]!.bytes.toString()).toBe(CONF_1);
    // Next poll asks for anything newer than what it was just given.
    expect(ext.seen[1]!.ifNoneMatch).toBe(`"${sha256Hex(Buffer.from(CONF_1))}"`);
  });

  it('hands over the task IDs the config is not for (x-signalbox-not-for-tasks), and none without the header', async () => {
    ext.handler = (_q, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'content-type': 'text/plain', etag: `"${sha256Hex(Buffer.from(CONF_1))}"`, 'x-signalbox-config': 'c1', 'x-signalbox-not-for-tasks': 'abc1, def2' });
        res.end(CONF_1);
      } else if (n === 2) serveConfig(res, CONF_2, 'c2');
      else {
        res.statusCode = 304;
        res.end();
      }
    };
    startFetcher(await ext.listen());
    await until(() => submitted.length >= 2);
    expect(submitted[0]!.notForTasks).toEqual(['abc1', 'def2']);
    expect(submitted[1]!.notForTasks).toBeUndefined();
  });

  it('polls again at once after a 304', async () => {
    startFetcher(await ext.listen());
    await until(() => ext.seen.length >= 5);
    expect(submitted).toEqual([]);
    expect(fetcher!.state.consecutiveErrors).toBe(0);
    expect(ext.seen.every((s) => s.ifNoneMatch === `"${SHA_0}"`)).toBe(true);
  });

  it('spaces polls when a server answers 304 without holding (ignores ?wait)', async () => {
    // With a spacing of a minute, a second poll within the next 300 ms means no spacing at all (unspaced,
    // it polls again at once: dozens of times). Load can only make fewer polls, so it cannot fail this.
    startFetcher(await ext.listen(), { minIdlePollMs: 60_000 });
    await until(() => ext.seen.length >= 1, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(ext.seen).toHaveLength(1);
  });

  it('does not hand over the same ETag twice when the server ignores If-None-Match', async () => {
    ext.handler = (_q, res) => serveConfig(res, CONF_1, 'signalbox-nginx-1');
    startFetcher(await ext.listen(), { minIdlePollMs: 20 });
    await until(() => ext.seen.length >= 4);
    expect(submitted).toHaveLength(1);
  });

  it("remembers a rejected config's ETag: the extension can hold the poll instead of resending it", async () => {
    const bad = 'bogus_directive;\n';
    ext.handler = (req, res) => {
      const etag = sha256Hex(Buffer.from(bad));
      if (req.headers['if-none-match'] === `"${etag}"`) {
        res.statusCode = 304;
        res.end();
      } else serveConfig(res, bad, 'signalbox-nginx-bad');
    };
    startFetcher(await ext.listen());
    await until(() => ext.seen.length >= 4);
    expect(submitted).toHaveLength(1);
    expect(fetcher!.state.etag).toBe(sha256Hex(Buffer.from(bad)));
  });

  it('backs off exponentially on errors, then recovers and resets', async () => {
    ext.handler = (_q, res, n) => {
      if (n <= 4) {
        res.statusCode = 503;
        res.end('not ready');
      } else if (n === 5) serveConfig(res, CONF_2, 'signalbox-nginx-2');
      else {
        res.statusCode = 304;
        res.end();
      }
    };
    startFetcher(await ext.listen());
    await until(() => submitted.length === 1);
    const gaps = ext.seen.slice(1, 5).map((s, i) => s.at - ext.seen[i]!.at);
    // At least 20, 40, 80, 80 ms (random fixed at 0.5 → no jitter): lower bounds the fetcher enforces by
    // sleeping, so load cannot break them. The cap's value is checked exactly by the backoffDelay test.
    expect(gaps[0]).toBeGreaterThanOrEqual(15);
    expect(gaps[1]).toBeGreaterThanOrEqual(35);
    expect(gaps[2]).toBeGreaterThanOrEqual(75);
    expect(gaps[3]).toBeGreaterThanOrEqual(75);
    await until(() => ext.seen.length >= 7);
    expect(fetcher!.state.consecutiveErrors).toBe(0);
    expect(fetcher!.state.lastError).toBeUndefined();
  });

  it('keeps retrying while the extension refuses connections, and picks up once it is back', async () => {
    // Find a free port, then leave it closed.
    const probe = new FakeExtension();
    const port = await probe.listen();
    await probe.close();
    startFetcher(port);
    await until(() => (fetcher!.state.consecutiveErrors ?? 0) >= 3);
    expect(fetcher!.state.lastError).toBeDefined();
    expect(submitted).toEqual([]);

    ext.handler = (_q, res, n) => (n === 1 ? serveConfig(res, CONF_1, 'signalbox-nginx-1') : ((res.statusCode = 304), res.end()));
    await ext.listen(port);
    await until(() => submitted.length === 1);
    expect(fetcher!.state.consecutiveErrors).toBe(0);
  });

  it('stops promptly in the middle of a held long-poll', async () => {
    ext.handler = () => undefined; // never answers, like a long-poll with nothing new
    startFetcher(await ext.listen());
    await until(() => ext.seen.length === 1);
    // The poll is never answered: a stop that waited for it would never finish. Generous ceiling.
    let ceiling: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([fetcher!.stop().then(() => 'stopped'), new Promise((r) => (ceiling = setTimeout(() => r('still waiting for the held poll'), 10_000)))]);
    clearTimeout(ceiling);
    expect(outcome).toBe('stopped');
  }, 15_000);

  it('falls back to the body hash when the response has no ETag', async () => {
    ext.handler = (_q, res, n) => {
      if (n === 1) {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(CONF_2);
      } else {
        res.statusCode = 304;
        res.end();
      }
    };
    startFetcher(await ext.listen());
    await until(() => ext.seen.length >= 2);
    expect(submitted[0]).toMatchObject({ sha256: sha256Hex(Buffer.from(CONF_2)), configName: '' });
    expect(ext.seen[1]!.ifNoneMatch).toBe(`"${sha256Hex(Buffer.from(CONF_2))}"`);
  });

  describe('fetchOnce (a task that starts asks for its config once, without waiting)', () => {
    const once = (port: number, timeoutMs = 2000) =>
      new Fetcher({ baseUrl: `http://127.0.0.1:${port}`, waitSeconds: 30, taskId: 'abc123', initialEtag: () => undefined, submit: () => undefined, logger: silentLogger }).fetchOnce(timeoutMs);

    it('asks without If-None-Match or ?wait and returns the config with its name and not-for tasks', async () => {
      ext.handler = (_q, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-signalbox-config': 'signalbox-nginx-9', 'x-signalbox-not-for-tasks': 'old1' });
        res.end(CONF_1);
      };
      const c = await once(await ext.listen());
      expect(ext.seen).toEqual([expect.objectContaining({ url: '/v1/nginx.conf?task=abc123', ifNoneMatch: undefined })]);
      expect(c).toMatchObject({ configName: 'signalbox-nginx-9', source: 'extension', sha256: sha256Hex(Buffer.from(CONF_1)), notForTasks: ['old1'] });
      expect(c!.bytes.toString()).toBe(CONF_1);
    });

    it('returns nothing when the extension has no config yet (503), refuses the connection, or does not answer in time', async () => {
      ext.handler = (_q, res) => {
        res.statusCode = 503;
        res.end('{"code":"ERR_NO_CONFIG_YET"}');
      };
      const port = await ext.listen();
      expect(await once(port)).toBeUndefined();
      ext.handler = () => undefined; // never answers
      const started = Date.now();
      expect(await once(port, 300)).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(2000);
      await ext.close();
      expect(await once(port)).toBeUndefined();
      ext = new FakeExtension(); // afterEach closes it
    });
  });
});
