// Supervisor restart policy with stand-in "nginx" binaries (no real nginx needed).
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
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

/** The delays the supervisor chose before each restart, read from its log (no wall-clock measurement). */
function restartDelays(): { logger: Logger; delays: () => number[] } {
  const records: { msg?: string; restartInMs?: number }[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void records.push(JSON.parse(line) as { msg?: string; restartInMs?: number }) });
  return { logger, delays: () => records.filter((r) => r.msg === 'nginx exited unexpectedly; restarting').map((r) => r.restartInMs!) };
}

/** Gone, or a zombie nobody has reaped yet (it holds no socket any more). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  return / Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\)/, ''));
}

async function untilCrashes(sup: Supervisor, n: number): Promise<void> {
  const end = Date.now() + 20_000;
  while (sup.restarts < n && Date.now() < end) await sleep(20);
  await sup.stop('SIGQUIT');
  expect(sup.restarts).toBeGreaterThanOrEqual(n);
}

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

  it('doubles the delay after each crash in a row, up to the cap', async () => {
    const { logger, delays } = restartDelays();
    const sup = new Supervisor({
      nginxBin: script('nginx', 'exit 1'),
      configPath: join(dir, 'nginx.conf'),
      logger,
      restart: { initialMs: 50, maxMs: 200, stableMs: 60_000 },
      stderr: () => undefined,
    });
    sup.start();
    await untilCrashes(sup, 4);
    // initial·2^attempt with ±20 % jitter, capped at maxMs: 40–60, 80–120, 160–200, 160–200.
    const [d0, d1, d2, d3] = delays();
    expect(d0).toBeGreaterThanOrEqual(40);
    expect(d0).toBeLessThanOrEqual(60);
    expect(d1).toBeGreaterThanOrEqual(80);
    expect(d1).toBeLessThanOrEqual(120);
    expect(d2).toBeGreaterThanOrEqual(160);
    expect(d2).toBeLessThanOrEqual(200);
    expect(d3).toBeGreaterThanOrEqual(160);
    expect(d3).toBeLessThanOrEqual(200);
  }, 30_000);

  it('starts the backoff over after a run that lasted stableMs', async () => {
    const { logger, delays } = restartDelays();
    // Each run lasts 300 ms, longer than stableMs: every crash is a first crash.
    const sup = new Supervisor({
      nginxBin: script('nginx', 'sleep 0.3\nexit 1'),
      configPath: join(dir, 'nginx.conf'),
      logger,
      restart: { initialMs: 50, maxMs: 10_000, stableMs: 100 },
      stderr: () => undefined,
    });
    sup.start();
    await untilCrashes(sup, 3);
    expect(delays().length).toBeGreaterThanOrEqual(3);
    for (const d of delays()) expect(d).toBeLessThanOrEqual(60);
  }, 30_000);

  it('asks the workers of a killed master to quit, so they free the ports for the next master', async () => {
    const workerPidFile = join(dir, 'worker.pid');
    // Stand-in master with a "worker" in its process group that would outlive it and, like an nginx
    // worker, quits on SIGQUIT (a node process: sh's background jobs ignore SIGQUIT). The worker writes
    // its pid once its handler is in place.
    const workerJs = join(dir, 'worker.cjs');
    writeFileSync(workerJs, `process.on('SIGQUIT', () => process.exit(0));\nrequire('fs').writeFileSync(${JSON.stringify(workerPidFile)}, String(process.pid));\nsetTimeout(() => {}, 30_000);\n`);
    const bin = script('nginx', `"${process.execPath}" ${workerJs} &\nwait`);
    const sup = new Supervisor({
      nginxBin: bin,
      configPath: join(dir, 'nginx.conf'),
      logger: silentLogger,
      restart: { initialMs: 20_000, maxMs: 20_000, stableMs: 60_000 },
      stderr: () => undefined,
    });
    const workerPid = () => (existsSync(workerPidFile) ? Number(readFileSync(workerPidFile, 'utf8')) : 0);
    sup.start();
    let end = Date.now() + 10_000;
    while (!(sup.isRunning() && workerPid() > 0) && Date.now() < end) await sleep(20);
    expect(sup.isRunning()).toBe(true);
    const master = sup.pid!;
    const worker = workerPid();
    expect(worker).toBeGreaterThan(0);
    try {
      process.kill(master, 'SIGKILL');
      end = Date.now() + 10_000;
      while (!isGone(worker) && Date.now() < end) await sleep(20);
      expect(sup.restarts).toBe(1);
      expect(isGone(worker)).toBe(true);
    } finally {
      await sup.stop('SIGQUIT');
      try {
        process.kill(-master, 'SIGKILL');
      } catch {
        // the group is gone
      }
    }
  }, 30_000);

  it('start() on a running nginx starts no second master', async () => {
    const bin = script('nginx', `trap 'exit 0' QUIT\nsleep 30 &\nwait`);
    const sup = new Supervisor({ nginxBin: bin, configPath: join(dir, 'nginx.conf'), logger: silentLogger });
    sup.start();
    const end = Date.now() + 10_000;
    while (!sup.isRunning() && Date.now() < end) await sleep(20);
    expect(sup.isRunning()).toBe(true);
    const master = sup.pid!;
    sup.start();
    // A second spawn would happen within the microtasks start() queues (spawn itself is synchronous).
    await new Promise((r) => setImmediate(r));
    const after = sup.pid;
    await sup.stop('SIGQUIT');
    for (const pid of new Set([master, after])) {
      try {
        if (pid !== undefined) process.kill(-pid, 'SIGKILL'); // the stand-ins' sleep children
      } catch {
        // already gone with its group
      }
    }
    expect(after).toBe(master);
  }, 30_000);

  it('keeps only the last 50 stderr lines, each cut to 1000 characters', async () => {
    // 120 numbered lines, then one of 3000 characters, written in one go; then the stand-in exits.
    const bin = script('nginx', `i=1\nwhile [ $i -le 120 ]; do echo "line $i" >&2; i=$((i+1)); done\nprintf '%03000d\\n' 0 >&2\nexit 1`);
    const sup = new Supervisor({
      nginxBin: bin,
      configPath: join(dir, 'nginx.conf'),
      logger: silentLogger,
      restart: { initialMs: 20_000, maxMs: 20_000, stableMs: 60_000 },
      stderr: () => undefined,
    });
    sup.start();
    // Until the long line is in (the exit can be reported before the last stderr chunk is read).
    const end = Date.now() + 10_000;
    while (!sup.recentStderr().at(-1)?.startsWith('000') && Date.now() < end) await sleep(20);
    await sup.stop('SIGQUIT');
    const lines = sup.recentStderr();
    expect(lines).toHaveLength(50);
    expect(lines[0]).toBe('line 72');
    expect(lines[48]).toBe('line 120');
    expect(lines[49]).toBe('0'.repeat(1000));
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
