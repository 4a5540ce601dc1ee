// The cap on draining nginx generations, with real nginx: every reload leaves the previous workers
// draining while a request they proxy is held open (as a WebSocket would be); past the cap the oldest
// generation is stopped and its held request cut, the newer ones keep theirs.
import { writeFileSync } from 'node:fs';
import { createServer, request, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { DrainLimit } from '../src/drain-limit.js';
import { listChildren, isDraining } from '../src/nginx.js';
import { Supervisor } from '../src/supervisor.js';
import { makeTempDir, silentLogger } from './helpers.js';

const T = 60_000;
const HTTP_PORT = 18761;
const HOLD_PORT = 18762;

function config(dir: string, generation: number): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr error;
worker_shutdown_timeout 1h;
events { worker_connections 64; }
http {
    access_log off;
    server {
        listen 127.0.0.1:${HTTP_PORT};
        location / { proxy_pass http://127.0.0.1:${HOLD_PORT}; }
        location = /generation { return 200 "${generation}\\n"; }
    }
}
`;
}

/** Resolves with the response status, or 'cut' when the connection closes without a full response. */
function held(path: string): Promise<number | 'cut'> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: HTTP_PORT, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve('cut'));
      res.on('aborted', () => resolve('cut'));
    });
    req.on('error', () => resolve('cut'));
    req.end();
  });
}

function generation(): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: HTTP_PORT, path: '/generation', agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('error', () => resolve(''));
    req.end();
  });
}

async function until(probe: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('DrainLimit', () => {
  it('stops the oldest generations past the cap and forgets workers that left', () => {
    const killed: number[] = [];
    const limit = new DrainLimit(2, silentLogger, { kill: (pid) => void killed.push(pid) });
    const draining = (...pids: number[]) => pids.map((pid) => ({ pid, cmdline: 'nginx: worker process is shutting down' }));
    expect(limit.afterReload([1], draining(1))).toEqual([]);
    expect(limit.afterReload([2], draining(1, 2))).toEqual([]);
    expect(limit.afterReload([3, 4], draining(1, 2, 3, 4))).toEqual([1]);
    expect(limit.draining).toBe(2);
    // Generation 2 left by itself: 5 fits without stopping anything.
    expect(limit.afterReload([5], draining(3, 4, 5))).toEqual([]);
    expect(killed).toEqual([1]);
    expect(new DrainLimit(0, silentLogger, { kill: (pid) => void killed.push(pid) }).afterReload([9], draining(9))).toEqual([]);
  });

  it('counts only generations past their grace: a burst of reloads keeps the oldest (a WebSocket) draining', () => {
    const killed: number[] = [];
    let now = 0;
    const limit = new DrainLimit(2, silentLogger, { graceMs: 30_000, now: () => now, kill: (pid) => void killed.push(pid) });
    const draining = (...pids: number[]) => pids.map((pid) => ({ pid, cmdline: 'nginx: worker process is shutting down' }));
    // Generation 1 holds a WebSocket; then 20 reloads within 10 s, each leaving a generation that still drains.
    expect(limit.afterReload([1], draining(1))).toEqual([]);
    const alive = [1];
    for (let g = 2; g <= 21; g++) {
      now += 500;
      alive.push(g);
      expect(limit.afterReload([g], draining(...alive))).toEqual([]);
    }
    expect(limit.draining).toBe(21);
    // The keep-alive generations end on their own; the WebSocket's stays and is never stopped.
    now += 60_000;
    expect(limit.afterReload([22], draining(1, 22))).toEqual([]);
    // Past the grace, more than 2 generations still draining: the oldest ones are stopped.
    now += 1_000;
    expect(limit.afterReload([23], draining(1, 22, 23))).toEqual([]);
    now += 30_000;
    expect(limit.afterReload([24], draining(1, 22, 23, 24))).toEqual([1]);
    expect(killed).toEqual([1]);
  });
});

/**
 * Starts nginx under a Supervisor (cap 2, the given grace), retires four generations each holding one
 * request, then runs `check` with the held requests and the responses still open; cleans up after.
 */
async function withFourRetiredGenerations(drainingGraceMs: number, check: (sup: Supervisor, requests: Promise<number | 'cut'>[], holding: ServerResponse[]) => Promise<void>): Promise<void> {
  const { dir, cleanup } = await makeTempDir('sb-drain-');
  const holding: ServerResponse[] = [];
  const hold = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('held\n');
    holding.push(res);
  });
  await new Promise<void>((r) => hold.listen(HOLD_PORT, '127.0.0.1', () => r()));
  const configPath = join(dir, 'nginx.conf');
  writeFileSync(configPath, config(dir, 0));
  const sup = new Supervisor({ nginxBin: '/usr/sbin/nginx', configPath, logger: pino({ level: 'silent' }), maxDrainingGenerations: 2, drainingGraceMs });
  try {
    sup.start();
    await until(async () => (await generation()) === '0');
    const requests: Promise<number | 'cut'>[] = [];
    for (let g = 1; g <= 4; g++) {
      // A request held by the current workers, then a reload retires them.
      const before = holding.length;
      requests.push(held(`/hold${g}`));
      await until(() => holding.length > before);
      writeFileSync(configPath, config(dir, g));
      expect((await sup.reload()).ok).toBe(true);
      await until(async () => (await generation()) === String(g));
    }
    await check(sup, requests, holding);
  } finally {
    for (const res of holding) res.destroy();
    await sup.stop('SIGTERM');
    hold.closeAllConnections();
    await new Promise((r) => hold.close(r));
    await cleanup();
  }
}

describe('Supervisor with maxDrainingGenerations (real nginx)', () => {
  it(
    "keeps at most the cap of generations draining; the oldest one's held connection is cut",
    () =>
      withFourRetiredGenerations(0, async (sup, requests, holding) => {
        // Four generations were retired holding a request; the cap keeps the last two.
        await until(async () => ((await listChildren(sup.pid!)) ?? []).filter(isDraining).length === 2);
        const [first, second] = await Promise.all([requests[0]!, requests[1]!]);
        expect(first).toBe('cut');
        expect(second).toBe('cut');
        for (const res of holding) res.end('released\n');
        expect(await requests[2]).toBe(200);
        expect(await requests[3]).toBe(200);
      }),
    T,
  );

  it(
    'a burst of reloads within the grace stops nothing: every held connection ends normally',
    () =>
      withFourRetiredGenerations(60_000, async (sup, requests, holding) => {
        // Four generations draining, twice the cap, none past its grace: all kept.
        expect(((await listChildren(sup.pid!)) ?? []).filter(isDraining)).toHaveLength(4);
        for (const res of holding) res.end('released\n');
        expect(await Promise.all(requests)).toEqual([200, 200, 200, 200]);
      }),
    T,
  );
});
