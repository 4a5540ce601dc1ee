// The agent against real nginx: real files in a temp dir, nginx on 127.0.0.1 high ports.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { startAgent, type Agent } from '../src/agent.js';
import { loadOptions } from '../src/options.js';
import { isAlive, listChildren, readCmdline } from '../src/nginx.js';
import { makeTempDir, silentLogger, smallNginxConfig } from './helpers.js';

// Per-test time limit (the `jest` object is not a global under ESM).
const T = 60_000;

const NGINX = '/usr/sbin/nginx';
const HTTP_PORT = 18741;
const SLOW_PORT = 18742;
const MAIN_HTTP_PORT = 18743;
const MAIN_AGENT_PORT = 18744;
const REPO = fileURLToPath(new URL('../../..', import.meta.url));

/** Every nginx pid we saw, so afterAll can kill leftovers even when a test failed midway. */
const seenPids = new Set<number>();

async function remember(pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  seenPids.add(pid);
  for (const k of (await listChildren(pid)) ?? []) seenPids.add(k.pid);
}

async function killLeftovers(): Promise<void> {
  for (const pid of seenPids) {
    if ((await readCmdline(pid))?.startsWith('nginx')) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }
}

function config(dir: string, port: number, body: string, extra = ''): string {
  return smallNginxConfig(
    dir,
    `    server {
        listen 127.0.0.1:${port};
        location / { default_type text/plain; return 200 "${body}\\n"; }
        location = /signalbox-health { return 200; }
${extra}
    }
`,
  );
}

/** A fresh connection per request: a reused keep-alive connection could reach a draining old worker. */
function get(port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolvePromise({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const serving = (port: number, body: string) => async () => {
  const r = await get(port).catch(() => undefined);
  return r?.status === 200 && r.body === `${body}\n`;
};

describe('proxy agent with real nginx', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let agent: Agent | undefined;
  let configPath: string;
  let slow: Server;
  let ext: Server;
  let extConfig: string | undefined;
  /** The task IDs the stand-in extension names as not to install its config (x-signalbox-not-for-tasks). */
  let extNotFor: string | undefined;
  const nginxStderr: string[] = [];

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sb-agent-int-'));
    configPath = join(dir, 'nginx.conf');
    // A backend that answers slowly, to see a graceful stop finish in-flight requests.
    slow = createServer((req, res) => setTimeout(() => res.end('slow done'), req.url?.includes('long') ? 4000 : 1000));
    await new Promise<void>((r) => slow.listen(SLOW_PORT, '127.0.0.1', () => r()));
    // A stand-in extension: holds long-polls briefly, serves extConfig once set.
    ext = createServer((req, res) => {
      const etag = extConfig === undefined ? undefined : `"${sha(extConfig)}"`;
      if (!etag || req.headers['if-none-match'] === etag) {
        setTimeout(() => {
          res.statusCode = 304;
          res.end();
        }, 200);
        return;
      }
      res.writeHead(200, { etag, 'x-signalbox-config': 'signalbox-nginx-four', ...(extNotFor ? { 'x-signalbox-not-for-tasks': extNotFor } : {}) });
      res.end(extConfig);
    });
    await new Promise<void>((r) => ext.listen(0, '127.0.0.1', () => r()));
  }, T);

  afterAll(async () => {
    await agent?.stop('SIGTERM').catch(() => undefined);
    await killLeftovers();
    slow.closeAllConnections();
    ext.closeAllConnections();
    await new Promise((r) => slow.close(r));
    await new Promise((r) => ext.close(r));
    await cleanup();
  }, T);

  afterEach(async () => {
    await remember(agent?.supervisor.pid);
  });

  /** Options of an agent named `taskId` that long-polls the stand-in extension, with the bootstrap "one" written. */
  function withBootstrapOne(taskId: string) {
    const bootstrap = join(dir, 'bootstrap', 'bootstrap.conf');
    mkdirSync(join(dir, 'bootstrap'), { recursive: true });
    writeFileSync(bootstrap, config(dir, HTTP_PORT, 'one'));
    return loadOptions({
      SIGNALBOX_CONFIG_PATH: configPath,
      SIGNALBOX_BOOTSTRAP_CONFIG: bootstrap,
      SIGNALBOX_BOOTSTRAP_CONFIG_NAME: 'signalbox-nginx-one',
      SIGNALBOX_NGINX_BIN: NGINX,
      SIGNALBOX_NGINX_PID_PATH: join(dir, 'builtin.pid'),
      SIGNALBOX_HTTP_PORT: String(HTTP_PORT),
      SIGNALBOX_EXTENSION_URL: `http://127.0.0.1:${(ext.address() as AddressInfo).port}`,
      SIGNALBOX_POLL_WAIT: '1',
      SIGNALBOX_TASK_ID: taskId,
    });
  }

  it(
    'starts nginx from the bootstrap config and reports healthy',
    async () => {
      const options = withBootstrapOne('selftask1');
      agent = await startAgent(options, silentLogger, {
        listen: false,
        defaultMetrics: false,
        restart: { initialMs: 200, maxMs: 2000, stableMs: 30_000 },
        watcherStabilityMs: 100,
        nginxStderr: (c) => nginxStderr.push(c.toString()),
      });
      await until(serving(HTTP_PORT, 'one'), 15_000, 'nginx serving "one"');
      await until(() => agent!.supervisor.isRunning(), 5000, 'supervisor ready');
      const health = await agent.app.inject({ url: '/v1/health' });
      expect(health.statusCode).toBe(200);
      const status = (await agent.app.inject({ url: '/v1/status' })).json();
      expect(status.installed).toMatchObject({ source: 'bootstrap', configName: 'signalbox-nginx-one', sha256: sha(config(dir, HTTP_PORT, 'one')) });
      expect(status.nginxPid).toBe(agent.supervisor.pid);
      expect(readFileSync(configPath, 'utf8')).toBe(config(dir, HTTP_PORT, 'one'));
    },
    T,
  );

  it(
    'installs a new good config with a graceful reload: same master pid, new response',
    async () => {
      const a = agent!;
      const pid = a.supervisor.pid;
      const out = await a.installer.submit({ bytes: Buffer.from(config(dir, HTTP_PORT, 'two')), configName: 'signalbox-nginx-two', source: 'extension' });
      expect(out.status).toBe('installed');
      await until(serving(HTTP_PORT, 'two'), 5000, 'nginx serving "two"');
      expect(a.supervisor.pid).toBe(pid);
      expect(a.installer.reloads).toBe(1);
      const metrics = (await a.app.inject({ url: '/metrics' })).body;
      expect(metrics).toContain('signalbox_proxy_reloads_total 1');
      expect(metrics).toContain(`config="signalbox-nginx-two"`);
    },
    T,
  );

  it(
    "rejects a bad config: keeps serving the previous one, stays healthy, records nginx's reason",
    async () => {
      const a = agent!;
      const pid = a.supervisor.pid;
      const bad = config(dir, HTTP_PORT, 'bad').replace('access_log off;', 'access_log off;\n    bogus_directive;');
      const out = await a.installer.submit({ bytes: Buffer.from(bad), configName: 'signalbox-nginx-bad', source: 'extension' });
      expect(out.status).toBe('failed');
      expect(await serving(HTTP_PORT, 'two')()).toBe(true);
      expect(readFileSync(configPath, 'utf8')).toBe(config(dir, HTTP_PORT, 'two'));
      expect(a.supervisor.pid).toBe(pid);
      expect((await a.app.inject({ url: '/v1/health' })).statusCode).toBe(200);
      const status = (await a.app.inject({ url: '/v1/status' })).json();
      expect(status.lastFailure).toMatchObject({ sha256: sha(bad), configName: 'signalbox-nginx-bad' });
      expect(status.lastFailure.reason).toContain('unknown directive "bogus_directive"');
      expect((await a.app.inject({ url: '/metrics' })).body).toContain('signalbox_proxy_reload_failures_total 1');
    },
    T,
  );

  it(
    'puts the last good config back when an invalid file is written straight to configPath',
    async () => {
      const a = agent!;
      const good = config(dir, HTTP_PORT, 'two');
      writeFileSync(configPath, 'events {}\nbogus_directive;\n');
      await until(() => a.installer.lastFailure?.source === 'file', 10_000, 'file failure recorded');
      await until(() => readFileSync(configPath, 'utf8') === good, 10_000, 'config restored');
      expect(await serving(HTTP_PORT, 'two')()).toBe(true);
      expect((await a.app.inject({ url: '/v1/health' })).statusCode).toBe(200);
    },
    T,
  );

  it(
    'adopts a valid file written straight to configPath',
    async () => {
      const a = agent!;
      const pid = a.supervisor.pid;
      writeFileSync(configPath, config(dir, HTTP_PORT, 'three'));
      await until(serving(HTTP_PORT, 'three'), 10_000, 'nginx serving "three"');
      // nginx may answer from new workers a moment before the reload is confirmed.
      await until(() => a.installer.installed?.source === 'file', 5000, 'file config installed');
      expect(a.supervisor.pid).toBe(pid);
    },
    T,
  );

  it(
    'installs what the extension serves on its long-poll',
    async () => {
      const a = agent!;
      // Not for other (replaced) tasks: this one installs it.
      extNotFor = 'othertask1,othertask2';
      extConfig = config(dir, HTTP_PORT, 'four');
      await until(serving(HTTP_PORT, 'four'), 10_000, 'nginx serving "four"');
      await until(() => a.installer.installed?.source === 'extension', 5000, 'extension config installed');
      expect(a.installer.installed).toMatchObject({ source: 'extension', configName: 'signalbox-nginx-four', sha256: sha(extConfig) });
      expect(a.fetcher!.state.etag).toBe(sha(extConfig));
    },
    T,
  );

  it(
    'does not install a config the extension serves as not for this task (being replaced), and keeps serving its own',
    async () => {
      const a = agent!;
      const reloads = a.installer.reloads;
      extNotFor = 'othertask1,selftask1';
      extConfig = config(dir, HTTP_PORT, 'not-for-me');
      // Fetched (the long-poll moves on to its version, so it is not fetched again in a loop) …
      await until(() => a.fetcher!.state.etag === sha(extConfig!), 10_000, 'the config fetched');
      await new Promise((r) => setTimeout(r, 500));
      // … but not installed.
      expect(a.installer.installed).toMatchObject({ source: 'extension', sha256: sha(config(dir, HTTP_PORT, 'four')) });
      expect(a.installer.reloads).toBe(reloads);
      expect(await serving(HTTP_PORT, 'four')()).toBe(true);
      expect(a.installer.lastFailure?.sha256).not.toBe(sha(extConfig));
    },
    T,
  );

  it(
    'records a reload that nginx refuses at run time (port taken) and keeps the file in step',
    async () => {
      const a = agent!;
      const pid = a.supervisor.pid;
      const current = readFileSync(configPath, 'utf8');
      // Passes nginx -t (which does not bind), fails on reload: the slow backend holds the port.
      const busy = config(dir, HTTP_PORT, 'busy').replace(/}\n$/, `    server { listen 127.0.0.1:${SLOW_PORT}; }\n}\n`);
      const out = await a.installer.submit({ bytes: Buffer.from(busy), configName: 'busy', source: 'extension' });
      expect(out.status).toBe('failed');
      expect(out.reason).toContain('bind()');
      expect(readFileSync(configPath, 'utf8')).toBe(current);
      expect(await serving(HTTP_PORT, 'four')()).toBe(true);
      expect(a.supervisor.pid).toBe(pid);
      expect((await a.app.inject({ url: '/v1/health' })).statusCode).toBe(200);
    },
    T,
  );

  it(
    'restarts nginx with backoff after kill -9 of the master, and serves again',
    async () => {
      const a = agent!;
      const oldPid = a.supervisor.pid!;
      await remember(oldPid);
      const t0 = Date.now();
      process.kill(oldPid, 'SIGKILL');
      const newPid = await until(
        () => {
          const p = a.supervisor.pid;
          return p !== undefined && p !== oldPid && a.supervisor.isRunning() ? p : undefined;
        },
        20_000,
        'a new nginx master',
      );
      expect(Date.now() - t0).toBeGreaterThanOrEqual(150); // backoff, not an instant respawn
      await remember(newPid);
      await until(serving(HTTP_PORT, 'four'), 10_000, 'nginx serving "four" again');
      expect(a.supervisor.restarts).toBe(1);
      expect((await a.app.inject({ url: '/v1/health' })).statusCode).toBe(200);
    },
    T,
  );

  it(
    'counts the old worker that drains an in-flight request after a reload, until it is done',
    async () => {
      const a = agent!;
      const proxied = (body: string) => Buffer.from(config(dir, HTTP_PORT, body, `        location /slow { proxy_pass http://127.0.0.1:${SLOW_PORT}; }`));
      expect((await a.installer.submit({ bytes: proxied('drain-a'), configName: 'drain-a', source: 'extension' })).status).toBe('installed');
      await until(serving(HTTP_PORT, 'drain-a'), 5000, 'nginx serving "drain-a"');
      expect(a.snapshot().drainingWorkers).toBe(0);
      const inflight = get(HTTP_PORT, '/slow/long');
      await new Promise((r) => setTimeout(r, 300));
      expect((await a.installer.submit({ bytes: proxied('drain-b'), configName: 'drain-b', source: 'extension' })).status).toBe('installed');
      await until(() => a.snapshot().drainingWorkers === 1, 3000, 'one old worker draining');
      expect(await inflight).toEqual({ status: 200, body: 'slow done' });
      await until(() => a.snapshot().drainingWorkers === 0, 5000, 'the old worker gone');
    },
    T,
  );

  it(
    'reports the upstream servers nginx fails to reach, from its own error lines',
    async () => {
      const a = agent!;
      // 127.0.0.1:9 (discard): nothing listens there, so every request gets connection refused.
      const conf = config(dir, HTTP_PORT, 'refused', `        location /down { proxy_pass http://127.0.0.1:9; }`).replace('error_log stderr warn;', 'error_log stderr error;');
      expect((await a.installer.submit({ bytes: Buffer.from(conf), configName: 'refused', source: 'extension' })).status).toBe('installed');
      await until(serving(HTTP_PORT, 'refused'), 5000, 'nginx serving "refused"');
      expect((await get(HTTP_PORT, '/down')).status).toBe(502);
      expect((await get(HTTP_PORT, '/down')).status).toBe(502);
      const failures = await until(
        () => {
          const f = a.snapshot().upstreamFailures?.find((x) => x.server === '127.0.0.1:9');
          return f && f.recent >= 2 ? f : undefined;
        },
        5000,
        'two failures of 127.0.0.1:9',
      );
      expect(failures.lastError).toMatch(/^connect\(\) failed \(111: Connection refused\) while connecting to upstream$/);
    },
    T,
  );

  it(
    'on SIGQUIT lets in-flight requests finish, then nginx exits',
    async () => {
      const a = agent!;
      const proxied = config(dir, HTTP_PORT, 'five', `        location /slow { proxy_pass http://127.0.0.1:${SLOW_PORT}; }`);
      expect((await a.installer.submit({ bytes: Buffer.from(proxied), configName: 'five', source: 'extension' })).status).toBe('installed');
      await until(serving(HTTP_PORT, 'five'), 5000, 'nginx serving "five"');
      const pid = a.supervisor.pid!;
      await remember(pid);

      const inflight = get(HTTP_PORT, '/slow');
      await new Promise((r) => setTimeout(r, 300));
      const exit = await a.stop('SIGQUIT');
      expect(exit).toEqual({ code: 0, signal: null });
      expect(await inflight).toEqual({ status: 200, body: 'slow done' });
      expect(isAlive(pid)).toBe(false);
      await expect(get(HTTP_PORT)).rejects.toThrow();
      agent = undefined;
    },
    T,
  );

  it(
    "a task that starts boots straight into the extension's config: nginx starts with it and never reloads (booted from the bootstrap it would reload once)",
    async () => {
      extConfig = config(dir, HTTP_PORT, 'six');
      extNotFor = undefined;
      const options = withBootstrapOne('selftask2');
      const a = await startAgent(options, silentLogger, { listen: false, defaultMetrics: false, restart: { initialMs: 200, maxMs: 2000, stableMs: 30_000 }, watcherStabilityMs: 100 });
      agent = a;
      await until(serving(HTTP_PORT, 'six'), 15_000, 'nginx serving "six"');
      await until(() => a.supervisor.isRunning(), 5000, 'supervisor ready');
      // Two long-polls later (1 s each) the config is still the one it booted with, never reloaded.
      await new Promise((r) => setTimeout(r, 2500));
      const status = (await a.app.inject({ url: '/v1/status' })).json();
      expect(status.installed).toMatchObject({ source: 'extension', configName: 'signalbox-nginx-four', sha256: sha(extConfig) });
      expect(status.reloads).toBe(0);
      expect(status.reloadFailures).toBe(0);
      expect((await get(HTTP_PORT)).body).toBe('six\n');
    },
    T,
  );
});

describe('the built agent as a process (PID-1 style)', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    ({ dir, cleanup } = await makeTempDir('sb-agent-main-'));
    // dist/main.js is what the image runs; build it (and @signalbox/model) first.
    await execa('pnpm', ['exec', 'tsc', '-b', 'packages/proxy-agent/tsconfig.json'], { cwd: REPO });
  }, 180_000);

  afterAll(async () => {
    if (child?.exitCode === null) child.kill('SIGKILL');
    await killLeftovers();
    await cleanup();
  }, T);

  it(
    'starts the built-in config when there is nothing else, and exits 0 after nginx on SIGQUIT',
    async () => {
      const configPath = join(dir, 'nginx.conf');
      child = spawn(process.execPath, [join(REPO, 'packages/proxy-agent/dist/main.js')], {
        env: {
          PATH: process.env.PATH,
          SIGNALBOX_CONFIG_PATH: configPath,
          SIGNALBOX_BOOTSTRAP_CONFIG: join(dir, 'missing', 'bootstrap.conf'),
          SIGNALBOX_NGINX_BIN: NGINX,
          SIGNALBOX_NGINX_PID_PATH: join(dir, 'nginx.pid'),
          SIGNALBOX_HTTP_PORT: String(MAIN_HTTP_PORT),
          SIGNALBOX_AGENT_HOST: '127.0.0.1',
          SIGNALBOX_AGENT_PORT: String(MAIN_AGENT_PORT),
          SIGNALBOX_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child!.once('exit', (code, signal) => r({ code, signal })));

      const health = await until(
        async () => {
          const r = await get(MAIN_AGENT_PORT, '/v1/health').catch(() => undefined);
          return r?.status === 200 ? r : undefined;
        },
        20_000,
        `agent health (output so far: ${output})`,
      );
      expect(JSON.parse(health.body)).toEqual({ ok: true });
      const status = JSON.parse((await get(MAIN_AGENT_PORT, '/v1/status')).body);
      expect(status.installed).toMatchObject({ source: 'builtin', configName: 'signalbox-builtin' });
      await remember(status.nginxPid);

      // The built-in config: 503 everywhere except its own health location.
      expect((await get(MAIN_HTTP_PORT, '/')).status).toBe(503);
      expect(await get(MAIN_HTTP_PORT, '/signalbox-health')).toEqual({ status: 200, body: 'ok\n' });
      expect(existsSync(configPath)).toBe(true);

      child.kill('SIGQUIT');
      expect(await exited).toEqual({ code: 0, signal: null });
      expect(isAlive(status.nginxPid)).toBe(false);
    },
    T,
  );
});

function sha(text: string): string {
  // Local copy: keeps the test independent of the code under test for the expected value.
  return createHash('sha256').update(text).digest('hex');
}
