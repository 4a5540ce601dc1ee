// The backend gate with real TCP: a port that drops SYNs (iptables on loopback, as an overlay path whose
// peer entries have not arrived drops them) is silence; a listening or a closed port is an answer. And a
// whole agent on real nginx stays unhealthy, saying which upstream it waits for, until the path works.
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { startAgent, type Agent } from '../src/agent.js';
import { tcpProbe, type Probe } from '../src/backend-reach.js';
import { loadOptions } from '../src/options.js';
import { makeTempDir, silentLogger, smallNginxConfig } from './helpers.js';

const T = 60_000;
const NGINX = '/usr/sbin/nginx';
const HTTP_PORT = 18761;
const COMMENT = `signalbox-test-backend-reach-${process.pid}`;

let listening: Server;
let listeningPort: number;
let closedPort: number;
let droppedPort: number;
const rules: string[][] = [];

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Drops new connections to `port` on loopback until `undrop`. */
async function drop(port: number): Promise<void> {
  const rule = ['INPUT', '-i', 'lo', '-p', 'tcp', '--dport', String(port), '--syn', '-m', 'comment', '--comment', COMMENT, '-j', 'DROP'];
  await execa('iptables', ['-w', '-I', ...rule]);
  rules.push(rule);
}

async function undrop(): Promise<void> {
  for (const rule of rules.splice(0)) await execa('iptables', ['-w', '-D', ...rule]);
}

beforeAll(async () => {
  listening = createServer((c) => c.destroy());
  await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
  listeningPort = (listening.address() as AddressInfo).port;
  closedPort = await freePort();
  droppedPort = await freePort();
});

afterAll(async () => {
  await undrop();
  await new Promise((r) => listening.close(r));
});

test('tcpProbe: accepted and refused connects are answers, dropped SYNs are silence', async () => {
  expect(await tcpProbe({ host: '127.0.0.1', port: listeningPort }, 1000)).toBe('answered');
  expect(await tcpProbe({ host: '127.0.0.1', port: closedPort }, 1000)).toBe('answered');
  await drop(droppedPort);
  const started = Date.now();
  expect(await tcpProbe({ host: '127.0.0.1', port: droppedPort }, 300)).toBe('silent');
  expect(Date.now() - started).toBeGreaterThanOrEqual(290);
  await undrop();
  expect(await tcpProbe({ host: '127.0.0.1', port: droppedPort }, 1000)).toBe('answered');
});

describe('an agent on real nginx', () => {
  let agent: Agent | undefined;
  let cleanup: () => Promise<void>;

  afterEach(async () => {
    await agent?.stop('SIGTERM');
    agent = undefined;
    await undrop();
    await cleanup();
  });

  /** A routing config with two upstreams on "app network" addresses (10.99.0.x; loopback ones are the task's own hops and not probed). */
  function routingConfig(dir: string): string {
    return smallNginxConfig(
      dir,
      `    upstream u_up { server 10.99.0.1:${listeningPort} max_fails=1 fail_timeout=10s; }
    upstream u_late { server 10.99.0.2:${droppedPort} max_fails=1 fail_timeout=10s; }
    server {
        listen 127.0.0.1:${HTTP_PORT};
        location / { proxy_pass http://u_up; }
    }
`,
    );
  }

  async function start(waitMs: number): Promise<Agent> {
    const t = await makeTempDir('sb-reach-');
    cleanup = t.cleanup;
    const bootstrap = join(t.dir, 'bootstrap.conf');
    writeFileSync(bootstrap, routingConfig(t.dir));
    const options = loadOptions({
      SIGNALBOX_CONFIG_PATH: join(t.dir, 'nginx.conf'),
      SIGNALBOX_BOOTSTRAP_CONFIG: bootstrap,
      SIGNALBOX_NGINX_BIN: NGINX,
      SIGNALBOX_NGINX_PID_PATH: join(t.dir, 'builtin.pid'),
      SIGNALBOX_HTTP_PORT: String(HTTP_PORT),
      SIGNALBOX_TLS_FRONT_DIR: join(t.dir, 'tls-front'),
      SIGNALBOX_BACKEND_WAIT_MS: String(waitMs),
    });
    // The app network's addresses are loopback here: the probe connects to 127.0.0.1 on the same port.
    const probe: Probe = (e, timeoutMs) => tcpProbe({ host: '127.0.0.1', port: e.port }, timeoutMs);
    return startAgent(options, silentLogger, { listen: false, defaultMetrics: false, backendReach: { probe, connectTimeoutMs: 300, intervalMs: 100 } });
  }

  const health = async (a: Agent) => {
    const r = await a.app.inject({ url: '/v1/health' });
    return { status: r.statusCode, body: r.json() as { ok: boolean; reason?: string } };
  };

  test(
    'stays unhealthy, naming the silent upstream, until its path answers; then healthy',
    async () => {
      await drop(droppedPort);
      agent = await start(60_000);
      const a = agent;
      const deadline = Date.now() + 5000;
      while (!a.supervisor.isRunning() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      await new Promise((r) => setTimeout(r, 1000));
      const waiting = await health(a);
      expect(waiting.status).toBe(503);
      expect(waiting.body.reason).toBe(`waiting for upstreams to answer a connect: 1 not yet, e.g. u_late (10.99.0.2:${droppedPort})`);
      await undrop();
      const end = Date.now() + 5000;
      let h = await health(a);
      while (h.status !== 200 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 100));
        h = await health(a);
      }
      expect(h).toEqual({ status: 200, body: { ok: true } });
    },
    T,
  );

  test(
    'the wait is capped (SIGNALBOX_BACKEND_WAIT_MS): a path that never answers does not keep the task out for good',
    async () => {
      await drop(droppedPort);
      const started = Date.now();
      agent = await start(1500);
      const a = agent;
      let h = await health(a);
      while (h.status !== 200 && Date.now() - started < 10_000) {
        await new Promise((r) => setTimeout(r, 100));
        h = await health(a);
      }
      expect(h.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    },
    T,
  );
});
