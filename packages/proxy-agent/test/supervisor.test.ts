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
    await sleep(1300);
    await sup.stop('SIGQUIT');
    const times = readFileSync(starts, 'utf8').trim().split('\n').map(Number);
    // 0, ~100, ~200, ~400, ~400 ms apart: about 5 starts in 1.3 s, not hundreds.
    expect(times.length).toBeGreaterThanOrEqual(3);
    expect(times.length).toBeLessThanOrEqual(7);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    expect(gaps.every((g) => g >= 70)).toBe(true);
    expect(sup.restarts).toBeGreaterThanOrEqual(times.length - 1);
    expect(prepared).toBe(times.length); // the last good config is put back before each start
    expect(sup.recentStderr().at(-1)).toBe('nginx: [emerg] boom');
    expect(sup.isRunning()).toBe(false);
  });

  it('survives a missing nginx binary and stops cleanly while waiting to restart', async () => {
    const sup = new Supervisor({
      nginxBin: join(dir, 'no-such-nginx'),
      configPath: join(dir, 'nginx.conf'),
      logger: silentLogger,
      restart: { initialMs: 50, maxMs: 100, stableMs: 10_000 },
    });
    sup.start();
    await sleep(300);
    expect(sup.restarts).toBeGreaterThanOrEqual(1);
    expect(await sup.stop('SIGTERM')).toEqual({ code: null, signal: null });
  });

  it('forwards the stop signal and reports how nginx exited', async () => {
    // Stand-in that runs until signalled, with a "worker" child so it counts as ready.
    const bin = script('nginx', `trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    const sup = new Supervisor({ nginxBin: bin, configPath: join(dir, 'nginx.conf'), logger: silentLogger });
    sup.start();
    const end = Date.now() + 3000;
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
  });

  it('treats a reload before start as "start nginx with the new file"', async () => {
    const bin = script('nginx', `trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    const sup = new Supervisor({ nginxBin: bin, configPath: join(dir, 'nginx.conf'), logger: silentLogger });
    expect(await sup.reload()).toEqual({ ok: true, deferred: true });
    const end = Date.now() + 3000;
    while (!sup.isRunning() && Date.now() < end) await sleep(20);
    const pid = sup.pid!;
    await sup.stop('SIGQUIT');
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
});
