// Edge reload benchmark, on loopback without a swarm: wrk keep-alive through each layout while the nginx
// that routes reloads in a loop (SIGHUP, then wait for its new workers, every RELOAD_MS), and the errors
// wrk sees, by kind. Five rows:
//   single hop, HTTP     wrk → nginx (rendered, ProxyEdge = false), which reloads
//   edge, HTTP           wrk → edge (L7, proxy-agent's config) → routing nginx (ProxyEdge), which reloads
//   single hop, HTTPS    as above, TLS terminated by the reloading nginx
//   edge, HTTPS          wrk → edge (L4, PROXY protocol) → routing nginx, TLS terminated there (the
//                        layout until 2 Dec, rendered with tlsFrontDir: null)
//   edge + TLS front     wrk → edge (L4) → routing nginx's stream block → the task's TLS front (the proxy
//                        agent's TlsFront, which never reloads) → routing nginx over a unix socket
// Every process on this machine's CPUs; the backend is the demo app as a local process.
//
//   node packages/e2e/bench/edge-reload.mjs [DURATION_S=30] [CONNECTIONS=8] [RELOAD_MS=300]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './lib.mjs';
import { ensureWrk, load, machine, runWrk, waitUntil } from './perf-lib.mjs';
import { start, stopAll } from './peers.mjs';

const DURATION_S = Number(process.argv[2] ?? 30);
const CONNECTIONS = Number(process.argv[3] ?? 8);
const RELOAD_MS = Number(process.argv[4] ?? 300);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PORTS = {
  backend: 39600,
  single: 39681,
  singleSsl: 39643,
  routing: 39685,
  routingSsl: 39645,
  edge: 39686,
  edgeSsl: 39646,
  front: 39687,
  frontSsl: 39647,
  frontEdge: 39688,
  frontEdgeSsl: 39648,
  frontControl: 39689,
};
// wrk sends the URL's host as SNI, so the TLS host is one that resolves to 127.0.0.1.
const HOST = 'localhost';
const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';

function status(port) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host: HOST }, agent: false, timeout: 1000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

function nginx(dir, conf) {
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const args = ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'];
  const t = spawnSync('nginx', ['-t', '-q', ...args.slice(0, 6)], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t (${dir}): ${t.stderr}`);
  return start('nginx', args);
}

const quiet = {
  info() {},
  warn() {},
  error() {},
  debug() {},
  child() {
    return quiet;
  },
};

/**
 * The Signalbox config for HOST (HTTP, and HTTPS with a self-signed certificate), single hop or ProxyEdge;
 * with `front`, as deployed since 2 Dec: TLS ends in a TLS front started as the agent does.
 */
async function routingNginx(parent, edge, front = false) {
  const dir = path.join(parent, front ? 'front' : edge ? 'routing' : 'single');
  const secrets = path.join(dir, 'secrets');
  mkdirSync(secrets, { recursive: true });
  mkdirSync(path.join(dir, 'temp'));
  const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${HOST}`, '-keyout', path.join(secrets, 'key'), '-out', path.join(secrets, 'cert')], {
    encoding: 'utf8',
  });
  if (made.status !== 0) throw new Error(`openssl: ${made.stderr}`);
  const { defaultExtensionConfig } = await import(path.join(ROOT, 'packages/model/dist/index.js'));
  const { renderNginxConf } = await import(path.join(ROOT, 'packages/extension/dist/render/index.js'));
  const upstream = { name: 'u_bench', servers: [{ addr: '127.0.0.1', port: PORTS.backend, service: 'bench' }], balance: 'round_robin', tls: { enabled: false, verify: false }, services: ['bench'] };
  const model = {
    cluster: '',
    virtualHosts: [{ host: HOST, sslOnly: false, tls: { certSecret: 'cert', keySecret: 'key' }, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream }] }],
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: ['cert', 'key'],
  };
  const ext = defaultExtensionConfig('default');
  ext.TargetPort = front ? PORTS.front : edge ? PORTS.routing : PORTS.single;
  ext.TargetSSLPort = front ? PORTS.frontSsl : edge ? PORTS.routingSsl : PORTS.singleSsl;
  ext.ProxyEdge = edge;
  ext.Config = { ...ext.Config, PidPath: path.join(dir, 'nginx.pid'), ErrorLogPath: path.join(dir, 'error.log'), AccessLogPath: '' };
  if (process.getuid?.() !== 0) ext.Config.User = '';
  const conf = renderNginxConf(model, ext, {
    secretsDir: secrets,
    tempDir: path.join(dir, 'temp'),
    proxyId: edge ? 'routing' : 'single',
    ...(edge ? { edgeTrustedFrom: ['127.0.0.0/8'] } : {}),
    tlsFrontDir: front ? path.join(dir, 'tls-front') : null,
    ...(existsSync(STREAM_MODULE) ? { streamModulePath: STREAM_MODULE } : {}),
  }).replace(/^(\s+listen )(\d+)([ ;])/gm, '$1127.0.0.1:$2$3');
  if (front) {
    const { TlsFront } = await import(path.join(ROOT, 'packages/proxy-agent/dist/index.js'));
    const tlsFront = new TlsFront({
      dir: path.join(dir, 'tls-front'),
      controlPort: PORTS.frontControl,
      nginxBin: 'nginx',
      ndkModulePath: '/usr/lib/nginx/modules/ndk_http_module.so',
      luaModulePath: '/usr/lib/nginx/modules/ngx_http_lua_module.so',
      testTimeoutMs: 10_000,
      logger: quiet,
    });
    fronts.push(tlsFront);
    await tlsFront.apply(conf);
    if (!(await tlsFront.ready(10_000))) throw new Error('the TLS front did not take its certificates');
  }
  return nginx(dir, conf);
}

/** TLS fronts started, stopped at the end. */
const fronts = [];

async function edgeNginx(parent, front = false) {
  const { edgeConfig } = await import(path.join(ROOT, 'packages/proxy-agent/dist/edge.js'));
  const dir = path.join(parent, front ? 'edge-front' : 'edge');
  mkdirSync(dir);
  const conf = edgeConfig({
    upstream: '127.0.0.1',
    httpPort: front ? PORTS.frontEdge : PORTS.edge,
    httpsPort: front ? PORTS.frontEdgeSsl : PORTS.edgeSsl,
    upstreamHttpPort: front ? PORTS.front : PORTS.routing,
    upstreamHttpsPort: front ? PORTS.frontSsl : PORTS.routingSsl,
    pidPath: path.join(dir, 'nginx.pid'),
    resolver: '127.0.0.1',
    tempDir: dir,
    ...(existsSync(STREAM_MODULE) ? { streamModulePath: STREAM_MODULE } : {}),
  }).replace(/^(\s+listen )(\d+);/gm, '$1127.0.0.1:$2;');
  return nginx(dir, conf);
}

function childPids(parent) {
  const out = new Set();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat = '';
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === parent) out.add(Number(entry));
  }
  return out;
}

/** Reloads `master` every RELOAD_MS until stopped; each reload counts once its new workers exist. */
function reloadLoop(master) {
  let stop = false;
  let reloads = 0;
  const done = (async () => {
    while (!stop) {
      const before = childPids(master.pid);
      master.kill('SIGHUP');
      const ok = await waitUntil(async () => [...childPids(master.pid)].some((p) => !before.has(p)), 20_000, 20);
      if (!ok) throw new Error('nginx did not start new workers within 20 s of SIGHUP');
      reloads++;
      await sleep(RELOAD_MS);
    }
  })();
  return { stop: async () => ((stop = true), await done, reloads) };
}

async function main() {
  ensureWrk();
  const demo = path.join(ROOT, 'packages/demo-app/dist/main.js');
  if (!existsSync(demo)) throw new Error(`${demo} is missing: build the workspace first`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-edge-reload-'));
  spawnSync('chmod', ['755', dir]);
  const loadStart = load();
  const rows = [];
  try {
    const backend = start(process.execPath, [demo], { env: { ...process.env, PORT: String(PORTS.backend), HOST: '127.0.0.1', NAME: 'edge-reload' } });
    if (!(await waitUntil(async () => (await status(PORTS.backend)) === 200, 20_000))) throw new Error(`backend: ${backend.errText()}`);
    const single = await routingNginx(dir, false);
    const routing = await routingNginx(dir, true);
    const routingWithFront = await routingNginx(dir, true, true);
    await edgeNginx(dir);
    await edgeNginx(dir, true);
    for (const port of [PORTS.single, PORTS.edge, PORTS.frontEdge]) if (!(await waitUntil(async () => (await status(port)) === 200, 20_000))) throw new Error(`no 200 on ${port}`);
    const targets = [
      { name: 'single hop, HTTP', url: `http://${HOST}:${PORTS.single}/`, reloads: single },
      { name: 'edge (L7), HTTP', url: `http://${HOST}:${PORTS.edge}/`, reloads: routing },
      { name: 'single hop, HTTPS', url: `https://${HOST}:${PORTS.singleSsl}/`, reloads: single },
      { name: 'edge (L4), HTTPS, TLS on the routing nginx (until 2 Dec)', url: `https://${HOST}:${PORTS.edgeSsl}/`, reloads: routing },
      { name: 'edge (L4), HTTPS, TLS front (since 2 Dec)', url: `https://${HOST}:${PORTS.frontEdgeSsl}/`, reloads: routingWithFront },
    ];
    for (const t of targets) {
      await runWrk({ url: t.url, host: HOST, connections: CONNECTIONS, durationS: 2 }); // warm-up, no reloads
      const loop = reloadLoop(t.reloads);
      const r = await runWrk({ url: t.url, host: HOST, connections: CONNECTIONS, durationS: DURATION_S });
      const reloads = await loop.stop();
      const non2xx = Object.entries(r.statuses)
        .filter(([k]) => Number(k) < 200 || Number(k) > 299)
        .reduce((n, [, v]) => n + v, 0);
      const errors =
        Object.entries(r.errors)
          .filter(([k, v]) => k !== 'status' && v > 0)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || '0';
      rows.push({ ...t, r, reloads, non2xx, errors });
      process.stderr.write(`${t.name}: ${r.requests} requests, ${reloads} reloads, errors ${errors}\n`);
    }
  } finally {
    await Promise.all(fronts.map((f) => f.stop('SIGTERM')));
    await stopAll();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`edge-reload benchmark — ${machine()}; load at start ${loadStart}, at end ${load()}`);
  console.log(`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s keep-alive; the routing nginx reloads (SIGHUP, new workers up) every ${RELOAD_MS} ms`);
  console.log('| layout | requests | req/s | p99 | reloads | non-2xx | socket errors |');
  console.log('|---|---|---|---|---|---|---|');
  for (const x of rows) {
    console.log(`| ${x.name} | ${x.r.requests} | ${Math.round(x.r.rps)} | ${x.r.latencyMs.p99?.toFixed(1)} ms | ${x.reloads} | ${x.non2xx} | ${x.errors} |`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
