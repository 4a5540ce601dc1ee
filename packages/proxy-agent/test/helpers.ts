// Shared test helpers: a silent logger, temp dirs, and a fake nginx runner that records what
// the installer did and what was on disk at each step.
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import type { NginxRunner, ReloadResult, TestResult } from '../src/installer.js';

export const silentLogger: Logger = pino({ level: 'silent' });

export async function makeTempDir(prefix = 'sb-agent-'): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export function readOrNull(path: string): string | null {
  return existsSync(path) ? readFileSync(path, 'utf8') : null;
}

export type RunnerEvent = { op: 'test'; path: string; bytes: string; configAtTest: string | null } | { op: 'reload'; configAtReload: string | null };

/** Deferred promise, to hold a fake step open while a test queues more work. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

export class FakeRunner implements NginxRunner {
  events: RunnerEvent[] = [];
  /** Default verdict: anything containing "bogus" fails like nginx would. */
  verdict: (bytes: string) => TestResult = (bytes) =>
    bytes.includes('bogus')
      ? { ok: false, output: '  nginx: [emerg] unknown directive "bogus_directive" in /x.conf:1\nnginx: configuration file /x.conf test failed\n' }
      : { ok: true, output: 'syntax is ok' };
  reloadResult: ReloadResult = { ok: true };
  /** Awaited inside test(), so a test can keep an install in flight. */
  holdTest: Promise<void> | undefined;

  constructor(private readonly configPath: string) {}

  get tests(): string[] {
    return this.events.flatMap((e) => (e.op === 'test' ? [e.bytes] : []));
  }

  async test(path: string): Promise<TestResult> {
    const bytes = readFileSync(path, 'utf8');
    this.events.push({ op: 'test', path, bytes, configAtTest: readOrNull(this.configPath) });
    if (this.holdTest) await this.holdTest;
    return this.verdict(bytes);
  }

  async reload(): Promise<ReloadResult> {
    this.events.push({ op: 'reload', configAtReload: readOrNull(this.configPath) });
    return this.reloadResult;
  }
}

/** A small config for tests on real nginx: one worker, its pid in `dir`, errors to stderr; `http` is the http block's body after `access_log off;`. */
export function smallNginxConfig(dir: string, http: string): string {
  return `worker_processes 1;
pid ${dir}/nginx.pid;
error_log stderr warn;
events { worker_connections 64; }
http {
    access_log off;
${http}}
`;
}
