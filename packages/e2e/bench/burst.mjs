// Burst benchmark: `docker stack deploy` of a generated stack of N labelled services on the external
// network sbx-perf-net (which the proxy joined beforehand, so nothing rolls it); counts the proxy's
// reloads during the burst (target ≤ 5 for 50 services) and the time until the last route answers;
// then `docker stack rm` and the same for the routes going away.
//
//   node packages/e2e/bench/burst.mjs [SERVICES=50]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_IMAGE, docker, firstAnswers, sleep } from './lib.mjs';
import { ANCHOR_HOST, PERF_NET, ensureAnchor, execFileP, load, machine, metricSum, proxyContainer, proxyMetrics, routeStable, serviceMetricsText, waitUntil } from './perf-lib.mjs';

const N = Number(process.argv[2] ?? 50);
const STACK = 'sbx-perf-burst';
const EXTENSION_SERVICE = process.env.SIGNALBOX_EXTENSION_SERVICE ?? 'signalbox-extension';
const host = (i) => `s${i}.burst.perf.test`;

function stackYaml(n) {
  const lines = ['version: "3.8"', 'services:'];
  for (let i = 0; i < n; i++) {
    lines.push(
      `  s${i}:`,
      `    image: ${DEMO_IMAGE}`,
      `    environment: { NAME: s${i} }`,
      '    stop_grace_period: 1s',
      '    networks: [perf]',
      '    deploy:',
      '      replicas: 1',
      '      endpoint_mode: dnsrr',
      '      labels:',
      `        com.docker.lb.hosts: ${host(i)}`,
      '        com.docker.lb.port: "80"',
      `        com.docker.lb.network: ${PERF_NET}`,
    );
  }
  lines.push('networks:', '  perf:', '    external: true', `    name: ${PERF_NET}`, '');
  return lines.join('\n');
}

async function extensionConfigs() {
  const t = await serviceMetricsText(EXTENSION_SERVICE, 8081);
  return { published: metricSum(t, 'signalbox_extension_configs_total', /published/), all: metricSum(t, 'signalbox_extension_configs_total') };
}

/** Polls every host until `want(status)` holds for each; returns per-host first times (ms since t0). */
/** For each host, when (ms after t0) a probe first got an answer `want` accepts (lib.mjs firstAnswers). */
async function pollHosts(t0, want, timeoutMs) {
  const hosts = Array.from({ length: N }, (_, i) => host(i));
  return (await firstAnswers(hosts, want, timeoutMs)).map((x) => (x === undefined ? undefined : x - t0));
}

/** Waits until the proxy's reload counter has not moved for `quietMs`; returns the final counter. */
async function settledReloads(id, quietMs = 6000, maxMs = 60_000) {
  let last = reloadsOf(id);
  let since = Date.now();
  const end = Date.now() + maxMs;
  while (Date.now() < end && Date.now() - since < quietMs) {
    await sleep(1000);
    const now = reloadsOf(id);
    if (now !== last) {
      last = now;
      since = Date.now();
    }
  }
  return last;
}

async function lastTaskRunning() {
  const tasks = await docker.listTasks({ filters: { label: [`com.docker.stack.namespace=${STACK}`], 'desired-state': ['running'] } });
  const running = tasks.filter((t) => t.Status?.State === 'running');
  return { running: running.length, lastAt: Math.max(...running.map((t) => Date.parse(t.Status.Timestamp))) };
}

class ProxyRolled extends Error {}

/** Reload counter of the proxy container we started with; throws ProxyRolled if it is gone. */
function reloadsOf(id) {
  try {
    return proxyMetrics(id).reloads;
  } catch (e) {
    throw new ProxyRolled(`proxy container ${id.slice(0, 12)} is gone: ${String(e.stderr ?? e.message).trim()}`);
  }
}

async function main() {
  const attempts = Number(process.env.SBX_PERF_ATTEMPTS ?? 3);
  for (let a = 1; ; a++) {
    try {
      return await attempt();
    } catch (e) {
      await execFileP('docker', ['stack', 'rm', STACK]).catch(() => undefined);
      if (!(e instanceof ProxyRolled) || a >= attempts) throw e;
      console.error(`burst: attempt ${a} spoiled (${e.message}); the proxy rolled because of a change elsewhere in the swarm, retrying`);
      await sleep(10_000);
    }
  }
}

async function attempt() {
  console.error(`burst: preparing (load ${load()})`);
  await ensureAnchor();
  await execFileP('docker', ['stack', 'rm', STACK]).catch(() => undefined);
  await waitUntil(async () => (await docker.listServices({ filters: { label: [`com.docker.stack.namespace=${STACK}`] } })).length === 0, 60_000, 500);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-burst-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'stack.yml');
  writeFileSync(file, stackYaml(N));
  await routeStable(ANCHOR_HOST, 5, 60_000);
  await sleep(3000);

  const proxy = await proxyContainer();
  const r0 = await settledReloads(proxy.id, 3000);
  const e0 = await extensionConfigs();
  const loadStart = load();

  // ---- deploy
  const t0 = Date.now();
  const polling = pollHosts(t0, (s) => s === 200, 300_000); // from the start: routes appear while the CLI still creates services
  await execFileP('docker', ['stack', 'deploy', '--detach=true', '-c', file, STACK], { timeout: 300_000 }).catch(async (e) => {
    // Older CLIs have no --detach flag for stacks.
    if (!/unknown flag/.test(String(e.stderr))) throw e;
    await execFileP('docker', ['stack', 'deploy', '-c', file, STACK], { timeout: 300_000 });
  });
  const deployedMs = Date.now() - t0;
  const up = await polling;
  const allUpMs = Math.max(...up.map((x) => x ?? Infinity));
  const tasks = await lastTaskRunning();
  const r1 = await settledReloads(proxy.id);
  const e1 = await extensionConfigs();
  const proxyMid = await proxyContainer();

  // ---- remove
  const t1 = Date.now();
  await execFileP('docker', ['stack', 'rm', STACK], { timeout: 120_000 });
  const down = await pollHosts(t1, (s) => s !== 200, 120_000);
  const allDownMs = Math.max(...down.map((x) => x ?? Infinity));
  const r2 = await settledReloads(proxy.id);
  const proxyEnd = await proxyContainer();
  rmSync(dir, { recursive: true, force: true });

  const rolled = proxyMid?.id !== proxy.id || proxyEnd?.id !== proxy.id;
  if (rolled) throw new ProxyRolled('the proxy container changed during the run');
  const s = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(2)} s` : 'never');
  const sorted = up.filter((x) => x !== undefined).sort((a, b) => a - b);
  console.log(`burst benchmark — ${machine()}; load at start ${loadStart}, at end ${load()}`);
  console.log(`deploy: docker stack deploy of ${N} labelled services (1 task each) on external network ${PERF_NET}; the CLI returned after ${s(deployedMs)}`);
  console.log(
    `routes: first answered ${s(sorted[0])}, median ${s(sorted[Math.floor(sorted.length / 2)])}, last ${s(allUpMs)} after the deploy started (${sorted.length}/${N} answered); last task running at ${s(tasks.lastAt - t0)} → last route ${s(allUpMs - (tasks.lastAt - t0))} later`,
  );
  console.log(`proxy reloads during the burst: ${r1 - r0} (target ≤ 5); extension configs published ${e1.published - e0.published} of ${e1.all - e0.all} model versions processed`);
  console.log(`remove: docker stack rm → every route gone after ${s(allDownMs)}; proxy reloads ${r2 - r1}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
