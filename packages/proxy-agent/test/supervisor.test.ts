// Supervisor restart policy with stand-in "nginx" binaries (no real nginx needed).
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor } from '../src/supervisor.js';
import { makeTempDir, silentLogger } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
beforeEach(async () => ({ dir, cleanup } = await makeTempDir()));
afterEach(() => cleanup());

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Supervisor', () => {
  it('restarts a crashing nginx with growing delays, never in a tight loop', async () => {
    const starts = join(dir, 'starts');
    const bin = script('nginx', `date +%s%3N >> ${starts}\necho "nginx: [emerg] boom" >&2\nexit 1`);
    let prepared = 0;
    const sup = new Supervisor({
      nginxBin: bin,
      configPath: join(dir, 'nginx.conf'),
      logger: silentLogger,
      prepare: async () => void prepared++,
      restart: { initialMs: 100, maxMs: 400, stableMs: 10_000 },
      stderr: () => undefined,
    });
    sup.start();
    const startsSoFar = (): number[] => {
      try {
        return readFileSync(starts, 'utf8').trim().split('\n').map(Number);
      } catch {
        return [];
      }
    };
    const end = Date.now() + 15_000;
    while (startsSoFar().length < 4 && Date.now() < end) await sleep(20);
    await sup.stop('SIGQUIT');
    const times = startsSoFar();
    expect(times.length).toBeGreaterThanOrEqual(4);
    // At least ~100, ~200, ~400 ms apart (a lower bound the supervisor enforces; load only widens it):
    // never a tight loop.
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.filter((g) => g < 70)).toEqual([]);
    expect(sup.restarts).toBeGreaterThanOrEqual(times.length - 1);
    // The last good config is put back before each start (a stop can fall between the two).
    expect(prepared).toBeGreaterThanOrEqual(times.length);
    expect(prepared).toBeLessThanOrEqual(times.length + 1);
    expect(sup.recentStderr().at(-1)).toBe('nginx: [emerg] boom');
    expect(sup.isRunning()).toBe(false);
  }, 30_000);

  it('survives a missing nginx binary and stops cleanly while waiting to restart', async () => {
    const sup = new Supervisor({
      nginxBin: join(dir, 'no-such-nginx'),
      configPath: join(dir, 'nginx.conf'),
      logger: silentLogger,
      restart: { initialMs: 50, maxMs: 100, stableMs: 10_000 },
    });
    sup.start();
    const end = Date.now() + 10_000;
    while (sup.restarts < 1 && Date.now() < end) await sleep(20);
    expect(sup.restarts).toBeGreaterThanOrEqual(1);
    expect(await sup.stop('SIGTERM')).toEqual({ code: null, signal: null });
  }, 30_000);

  it('forwards the stop signal and reports how nginx exited', async () => {
    // Stand-in that runs until signalled, with a "worker" child so it counts as ready.
    const bin = script('nginx', `trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    const sup = new Supervisor({ nginxBin: bin, configPath: join(dir, 'nginx.conf'), logger: silentLogger });
    sup.start();
    const end = Date.now() + 10_000;
    while (!sup.isRunning() && Date.now() < end) await sleep(20);
    expect(sup.isRunning()).toBe(true);
    const pid = sup.pid!;
    const exit = await sup.stop('SIGQUIT');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(sup.restarts).toBe(0);
    try {
      process.kill(-pid, 'SIGKILL'); // the stand-in's sleep child
    } catch {
      // already gone
    }
  }, 30_000);

  it('treats a reload before start as "start nginx with the new file"', async () => {
    const bin = script('nginx', `trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    const sup = new Supervisor({ nginxBin: bin, configPath: join(dir, 'nginx.conf'), logger: silentLogger });
    expect(await sup.reload()).toEqual({ ok: true, deferred: true });
    const end = Date.now() + 10_000;
    while (!sup.isRunning() && Date.now() < end) await sleep(20);
    // The deferred reload must have started nginx: a reload that only answers "deferred" fails here.
    expect(sup.isRunning()).toBe(true);
    const pid = sup.pid;
    expect(pid).toBeDefined();
    await sup.stop('SIGQUIT');
    try {
      process.kill(-pid!, 'SIGKILL'); // the stand-in's sleep child
    } catch {
      // already gone with its group
    }
  }, 30_000);
});
