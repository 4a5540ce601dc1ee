// The long-poll client (the extension's poll of core): after errors (core restarting) it asks without waiting, retries
// at most every 500 ms, and tells the caller once core answers again (to re-report exclusions).
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { jest } from '@jest/globals';
import { longPoll } from '../src/long-poll-client.js';

jest.setTimeout(30_000);

test('core down then back: short retries, wait=0 until it answers, onRecovered once, the token on every request', async () => {
  const seen: { wait: string | null; auth: string | undefined; at: number }[] = [];
  let down = true;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.push({ wait: url.searchParams.get('wait'), auth: req.headers.authorization, at: Date.now() });
    if (seen.length === 1) return res.writeHead(200, { etag: '"v1"', 'content-type': 'application/json' }).end('{"v":1}');
    if (down) return res.writeHead(503).end('restarting');
    if (url.searchParams.get('wait') !== '0') return setTimeout(() => res.writeHead(304).end(), 50);
    res.writeHead(304).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const abort = new AbortController();
  const values: unknown[] = [];
  let recovered = 0;
  const loop = longPoll({
    url: `http://127.0.0.1:${port}/v1/extensions/default/model`,
    waitSeconds: 30,
    signal: abort.signal,
    headers: { authorization: 'Bearer t' },
    read: (r) => r.json(),
    onValue: (v) => void values.push(v),
    onRecovered: () => void recovered++,
  });
  try {
    await new Promise((r) => setTimeout(r, 2500));
    const errors = seen.slice(1);
    expect(errors.length).toBeGreaterThanOrEqual(5); // 200, 400, 500, 500… ms apart: at least 5 in 2.5 s
    for (let i = 2; i < errors.length; i++) expect(errors[i]!.at - errors[i - 1]!.at).toBeLessThan(700);
    // The first request after the value long-polls (wait=30); every retry after an error asks with wait=0.
    expect(errors[0]!.wait).toBe('30');
    expect(errors.slice(1).every((s) => s.wait === '0')).toBe(true);
    expect(recovered).toBe(0);
    down = false;
    await new Promise((r) => setTimeout(r, 1000));
    expect(recovered).toBe(1);
    expect(values).toEqual([{ v: 1 }]);
    expect(seen.every((s) => s.auth === 'Bearer t')).toBe(true);
    // Back to long-polling with wait=30 once it answered.
    expect(seen.at(-1)!.wait).toBe('30');
  } finally {
    abort.abort();
    server.closeAllConnections();
    server.close();
    await loop;
  }
});
