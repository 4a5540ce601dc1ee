// Data-path benchmark: requests/s and latency (wrk, keepalive, fixed duration and connections) for one
// demo backend reached directly and through three proxies on this machine, all in one run:
//   direct                 127.0.0.1:39500 (the demo app as a local process)
//   nginx (Signalbox)      127.0.0.1:39481, config rendered by the extension's renderer from a model
//                          the real builder made (what the proxy runs; access log off like the others)
//   HAProxy                127.0.0.1:39482 (Debian's haproxy, keepalive + connection reuse to the backend)
//   Caddy                  127.0.0.1:39483 (Debian's caddy, reverse_proxy with keepalive)
//   edge → nginx           127.0.0.1:39486: the edge's generated config (proxy-agent edge mode: HTTP at
//                          L7, a new upstream connection per request, worker_processes auto as deployed)
//                          in front of the same rendered config with ProxyEdge (realip from the edge's
//                          client address header) on 39485: the cost of the edge hop against the
//                          single-hop row above
//   edge, keepalive pool   127.0.0.1:39487 (SBX_PERF_EDGE_POOL=1): the same edge config rewritten to a
//                          static upstream with `keepalive 32`, which is NOT what ships (it cannot
//                          follow DNS in nginx < 1.27.3 and fails a POST sent on a connection a reload
//                          closed): what the per-request connection costs
// Each proxy gets one CPU's worth of workers (nginx worker_processes 1, haproxy nbthread 1,
// GOMAXPROCS=1 for Caddy), matching the default WorkerProcesses = 1.
// Then, if the stack is running, the real Signalbox proxy (127.0.0.1:8080, and its container's bridge
// address) in front of a demo task on the sbx-perf-net overlay, versus that task directly.
//
//   node packages/e2e/bench/datapath.mjs [DURATION_S=10] [CONNECTIONS=32] [ROUNDS=2]
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, HTTP_PORT, removeService, sleep } from './lib.mjs';
import { PERF_NET, demoSpec, ensureAnchor, ensureWrk, load, machine, proxyContainer, routeStable, runWrk, waitUntil } from './perf-lib.mjs';
import { gwbridgeAddr, start, startCaddy, startHaproxy, stopAll } from './peers.mjs';

const DURATION_S = Number(process.argv[2] ?? 10);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const ROUNDS = Number(process.argv[4] ?? 2);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const PORTS = { backend: 39500, nginx: 39481, nginxSsl: 39444, haproxy: 39482, caddy: 39483, routing: 39485, routingSsl: 39445, edge: 39486, edgePool: 39487 };
const HOST = 'datapath.local';
const SWARM_SERVICE = 'sbx-perf-datapath';
const SWARM_HOST = 'datapath.perf.test';

function status(port, host, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function up(name, port, host, child) {
  const ok = await waitUntil(async () => (await status(port, host)) === 200, 20_000, 100);
  if (!ok) throw new Error(`${name} did not answer 200 on ${port}: ${child?.errText?.() ?? ''}`);
}

/** `edge`: render with ProxyEdge on the routing ports (realip from the edge), else single hop. */
async function signalboxNginx(parent, edge = false) {
  const dir = path.join(parent, edge ? 'routing' : 'single');
  mkdirSync(dir);
  const { buildClusterModels, defaultExtensionConfig } = await import('@signalbox/model');
  const { renderNginxConf } = await import('@signalbox/extension');
  // A service publishing the backend port in host mode on a node at 127.0.0.1: the builder's
  // host-port reach gives exactly one upstream server, 127.0.0.1:39500.
  const snap = {
    services: [
      {
        id: 'dp',
        name: 'datapath',
        labels: { 'com.docker.lb.hosts': HOST, 'com.docker.lb.port': '80' },
        createdAt: '2024-01-01T00:00:00Z',
        networkIds: [],
        endpointMode: 'dnsrr',
        vips: [],
        ports: [{ target: 80, published: PORTS.backend, protocol: 'tcp', mode: 'host' }],
        tasks: [{ id: 't', nodeId: 'n', slot: 1, addresses: [] }],
      },
    ],
    networks: [],
    secrets: [],
    nodes: [{ id: 'n', hostname: 'n', addr: '127.0.0.1', role: 'manager', ready: true }],
  };
  const model = buildClusterModels(snap, [{ name: 'default', serviceCluster: '', networks: [] }]).get('default');
  if (model.virtualHosts.length !== 1) throw new Error(`unexpected model: ${JSON.stringify(model.services)}`);
  const ext = defaultExtensionConfig('default');
  ext.TargetPort = edge ? PORTS.routing : PORTS.nginx;
  ext.TargetSSLPort = edge ? PORTS.routingSsl : PORTS.nginxSsl;
  ext.ProxyEdge = edge;
  ext.Config = { ...ext.Config, PidPath: path.join(dir, 'nginx.pid'), ErrorLogPath: path.join(dir, 'nginx-error.log'), AccessLogPath: '' };
  if (process.getuid?.() !== 0) ext.Config.User = '';
  mkdirSync(path.join(dir, 'temp'));
  const conf = renderNginxConf(model, ext, {
    secretsDir: path.join(dir, 'secrets'),
    tempDir: path.join(dir, 'temp'),
    proxyId: 'datapath',
    ...(edge ? { edgeTrustedFrom: ['127.0.0.0/8'] } : {}),
  }).replace(/^(\s+listen )(\d+)([ ;])/gm, '$1127.0.0.1:$2$3');
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const args = ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'nginx-error.log'), '-g', 'daemon off;'];
  const t = spawnSync('nginx', ['-t', '-q', ...args.slice(0, 6)], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t: ${t.stderr}`);
  return start('nginx', args);
}

/** The edge as the proxy agent generates it, forwarding to the routing nginx on loopback; `pool`: see the header. */
async function edgeNginx(parent, pool = false) {
  const { edgeConfig } = await import('@signalbox/proxy-agent');
  const dir = path.join(parent, pool ? 'edge-pool' : 'edge');
  mkdirSync(dir);
  const streamModule = '/usr/lib/nginx/modules/ngx_stream_module.so';
  const conf = edgeConfig({
    upstream: '127.0.0.1',
    httpPort: pool ? PORTS.edgePool : PORTS.edge,
    upstreamHttpPort: PORTS.routing,
    pidPath: path.join(dir, 'nginx.pid'),
    resolver: '127.0.0.1',
    tempDir: dir,
    ...(existsSync(streamModule) ? { streamModulePath: streamModule } : {}),
  })
    .replace(/^(\s+listen )(\d+);/gm, '$1127.0.0.1:$2;')
    .replace(/(\n\s+map \$http_upgrade \$signalbox_upstream_connection \{\n\s+default upgrade;\n\s+"" )close;/, (m, head) =>
      pool ? `\n    upstream signalbox_pool { server 127.0.0.1:${PORTS.routing}; keepalive 32; }${head}"";` : m,
    )
    .replace('proxy_pass http://$signalbox_routing_proxy;', (m) => (pool ? 'proxy_pass http://signalbox_pool;' : m));
  if (pool && !conf.includes('keepalive 32')) throw new Error('edge pool variant: the edge config no longer has the expected shape');
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const args = ['-p', `${dir}/`, '-c', file, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'];
  const t = spawnSync('nginx', ['-t', '-q', ...args.slice(0, 6)], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`nginx -t (edge): ${t.stderr}`);
  return start('nginx', args);
}

/**
 * The real proxy path: a demo service on the perf overlay network, routed by labels. The proxy reaches
 * its task on the overlay; this host reaches the same task on its docker_gwbridge address (the swarm
 * node address here is 127.0.0.1, so a host-published backend is not reachable from the proxy).
 */
async function swarmBackend() {
  try {
    await docker.swarmInspect();
  } catch {
    return undefined;
  }
  await ensureAnchor();
  await removeService(SWARM_SERVICE);
  await docker.createService(demoSpec(SWARM_SERVICE, { 'com.docker.lb.hosts': SWARM_HOST, 'com.docker.lb.port': '80', 'com.docker.lb.network': PERF_NET }));
  if (!(await routeStable(SWARM_HOST, 10, 120_000))) throw new Error(`${SWARM_HOST} never answered through the proxy`);
  const task = await waitUntil(async () => (await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${SWARM_SERVICE}`] } }))[0], 30_000);
  const proxy = await proxyContainer();
  const taskAddr = task && (await gwbridgeAddr(docker, task.Id));
  const proxyAddr = proxy && (await gwbridgeAddr(docker, proxy.id));
  if (!taskAddr) throw new Error('no docker_gwbridge address for the demo task');
  return { taskAddr, proxyAddr };
}

async function measure(name, port, host, addr = '127.0.0.1') {
  const r = await runWrk({ url: `http://${addr}:${port}/`, host, threads: 1, connections: CONNECTIONS, durationS: DURATION_S, timeoutS: 5, countStatuses: false });
  const bad = Object.entries(r.errors).reduce((n, [, v]) => n + v, 0);
  process.stderr.write(`  ${name}: ${r.rps.toFixed(0)} req/s, p99 ${r.latencyMs.p99} ms${bad ? `, errors ${JSON.stringify(r.errors)}` : ''} (load ${load()})\n`);
  return r;
}

/**
 * A swarm row, repeated (up to 5 times) when the proxy task was replaced meanwhile: other people's
 * network changes roll it, which is not what this measures.
 */
async function measureSwarm(t, durationS) {
  for (let attempt = 1; ; attempt++) {
    const before = await proxyContainer();
    const addr = t.proxyBridge ? before && (await gwbridgeAddr(docker, before.id)) : (t.addr ?? '127.0.0.1');
    if (before && addr && (await routeStable(SWARM_HOST, 3, 60_000))) {
      const r = durationS
        ? await runWrk({ url: `http://${addr}:${t.port}/`, host: t.host, threads: 1, connections: CONNECTIONS, durationS, countStatuses: false }).catch(() => undefined)
        : await measure(t.name, t.port, t.host, addr).catch(() => undefined);
      const after = await proxyContainer();
      if (r && after?.id === before.id) return r;
    }
    if (attempt >= 5) throw new Error(`${t.name}: the proxy kept rolling during the measurement`);
    process.stderr.write(`  ${t.name}: the proxy rolled during the measurement, again\n`);
    await sleep(5000);
  }
}

function table(title, rows) {
  const base = rows[0];
  console.log(title);
  console.log(`${'path'.padEnd(40)}${'req/s'.padStart(9)}${'vs direct'.padStart(11)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'p99 vs direct'.padStart(15)}${'errors'.padStart(8)}`);
  for (const r of rows) {
    console.log(
      `${r.name.padEnd(40)}${r.rps.toFixed(0).padStart(9)}${`${((100 * r.rps) / base.rps).toFixed(0)}%`.padStart(11)}${r.p50.toFixed(2).padStart(9)}${r.p99.toFixed(2).padStart(9)}${`${(r.p99 / base.p99).toFixed(2)}x`.padStart(15)}${String(r.errors).padStart(8)}`,
    );
  }
}

function combine(name, runs) {
  const mean = (f) => runs.reduce((n, r) => n + f(r), 0) / runs.length;
  return {
    name,
    rps: mean((r) => r.rps),
    p50: mean((r) => r.latencyMs.p50),
    p99: mean((r) => r.latencyMs.p99),
    errors: runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
    each: runs.map((r) => Math.round(r.rps)),
  };
}

async function main() {
  ensureWrk();
  for (const bin of ['haproxy', 'caddy', 'nginx']) {
    if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed (scripts/bench/datapath.sh installs it)`);
  }
  const demo = path.join(ROOT, 'packages/demo-app/dist/main.js');
  if (!existsSync(demo)) throw new Error(`${demo} is missing: build the workspace first`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-datapath-'));
  const loadStart = load();
  try {
    const backend = start(process.execPath, [demo], { env: { ...process.env, PORT: String(PORTS.backend), HOST: '127.0.0.1', NAME: 'datapath' } });
    await up('backend', PORTS.backend, HOST, backend);
    const targets = [
      { name: 'direct (demo app)', port: PORTS.backend, host: HOST },
      { name: 'nginx, Signalbox config', port: PORTS.nginx, host: HOST, child: await signalboxNginx(dir) },
      { name: 'HAProxy 2.6', port: PORTS.haproxy, host: HOST, child: startHaproxy(dir, `127.0.0.1:${PORTS.haproxy}`, `127.0.0.1:${PORTS.backend}`) },
      { name: 'Caddy 2.6', port: PORTS.caddy, host: HOST, child: startCaddy(dir, HOST, PORTS.caddy, '127.0.0.1', `127.0.0.1:${PORTS.backend}`) },
      ...(process.env.SBX_PERF_EDGE === '0' ? [] : [{ name: 'edge (L7) → nginx, ProxyEdge config', port: PORTS.edge, host: HOST, child: (await signalboxNginx(dir, true), await edgeNginx(dir)) }]),
      ...(process.env.SBX_PERF_EDGE !== '0' && process.env.SBX_PERF_EDGE_POOL === '1'
        ? [{ name: 'edge with a keepalive pool (not shipped)', port: PORTS.edgePool, host: HOST, child: await edgeNginx(dir, true) }]
        : []),
    ];
    for (const t of targets) await up(t.name, t.port, t.host, t.child);
    const swarm = process.env.SBX_PERF_SWARM === '0' ? undefined : await swarmBackend().catch((e) => (process.stderr.write(`swarm part skipped: ${e.message}\n`), undefined));
    const swarmTargets = swarm
      ? [
          { name: 'direct to the task', port: 80, host: SWARM_HOST, addr: swarm.taskAddr },
          { name: 'Signalbox proxy, 127.0.0.1:8080', port: HTTP_PORT, host: SWARM_HOST },
          ...(swarm.proxyAddr ? [{ name: 'Signalbox proxy, bridge :80', port: 80, host: SWARM_HOST, proxyBridge: true }] : []),
        ]
      : [];
    // Warm-up, then rounds in alternating order so drift in background load spreads evenly.
    for (const t of targets) await runWrk({ url: `http://${t.addr ?? '127.0.0.1'}:${t.port}/`, host: t.host, threads: 1, connections: CONNECTIONS, durationS: 2, countStatuses: false });
    for (const t of swarmTargets) await measureSwarm(t, 2);
    const runs = new Map();
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? [...targets, ...swarmTargets] : [...targets, ...swarmTargets].reverse();
      process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
      for (const t of order) {
        const r = swarmTargets.includes(t) ? await measureSwarm(t) : await measure(t.name, t.port, t.host, t.addr);
        runs.set(t.name, [...(runs.get(t.name) ?? []), r]);
      }
    }
    console.log(`datapath benchmark — ${machine()}; load at start ${loadStart}, at end ${load()}`);
    console.log(`wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s, keepalive, GET / (demo app JSON echo, ~0.5-0.9 kB); mean of ${ROUNDS} rounds; proxies and backend on the same 2 CPUs as wrk`);
    table(
      '',
      targets.map((t) => combine(t.name, runs.get(t.name))),
    );
    if (swarmTargets.length) {
      table(
        `\nreal swarm proxy and a demo task on the overlay (direct = the task's docker_gwbridge address ${swarm.taskAddr}; :8080 goes through docker's userland proxy for published ports on 127.0.0.1, 'bridge :80' is the proxy container's own docker_gwbridge address; the proxy logs each request to stdout):`,
        swarmTargets.map((t) => combine(t.name, runs.get(t.name))),
      );
    } else {
      console.log('\nreal swarm proxy: skipped (no swarm, SBX_PERF_SWARM=0, or the route never answered)');
    }
  } finally {
    await stopAll();
    if (process.env.SBX_PERF_KEEP !== '1') await removeService(SWARM_SERVICE).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
