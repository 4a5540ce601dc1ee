// Convergence benchmark: how long after a task is running does traffic reach it through the proxy?
// 1) new labelled service: first task running → first 200 for its host
// 2) scale up: new task running → first response served by that task
// 3) task killed: task gone → no longer in the proxy's answers (within PollInterval + 1 s target)
// Times are measured from the engine's own task timestamps (Status.Timestamp), not from when we noticed.
// Reloads per change: the proxy agent's signalbox_proxy_reloads_total before each change and
// RELOAD_SETTLE_MS after it converged (a second reload for the same change would land by then).
import { createService, docker, ensureNetwork, firstAnswers, get, printRow, removeService, runningTasks, scale, sleep, stats } from './lib.mjs';
import { load, proxyContainer, proxyMetrics } from './perf-lib.mjs';

const RELOAD_SETTLE_MS = Number(process.env.RELOAD_SETTLE_MS ?? 1500);

/** The proxy's reload counter, with its container (a replaced proxy starts again from 0). */
async function reloadCount() {
  const c = await proxyContainer();
  if (!c) return undefined;
  try {
    return { id: c.id, n: proxyMetrics(c.id).reloads };
  } catch {
    return undefined;
  }
}

/** Reloads since `before`, once RELOAD_SETTLE_MS have passed; undefined if the proxy was replaced meanwhile. */
async function reloadsSince(before) {
  await sleep(RELOAD_SETTLE_MS);
  const after = await reloadCount();
  if (!before || !after || after.id !== before.id || Number.isNaN(after.n - before.n)) return undefined;
  return after.n - before.n;
}

function printReloads(label, xs) {
  const counts = new Map();
  for (const x of xs) counts.set(x, (counts.get(x) ?? 0) + 1);
  const dist = [...counts.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([k, v]) => `${v}× ${k}`)
    .join(', ');
  console.log(`${label.padEnd(44)} n=${String(xs.length).padStart(3)}  ${dist || '-'}`);
}

const trials = Number(process.argv[2] ?? 20);
const NET = 'sbx-bench';
const deadline = (ms) => Date.now() + ms;

async function waitUntil(fn, timeoutMs, stepMs = 10) {
  const end = deadline(timeoutMs);
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(stepMs);
  }
  return undefined;
}

async function main() {
  await ensureNetwork(NET);
  // Warm-up: the proxy joins the bench network once (that roll is not what is measured).
  await createService('sbx-bench-warm', { 'com.docker.lb.hosts': 'warm.bench.test', 'com.docker.lb.port': '80' }, NET);
  if (!(await waitUntil(async () => (await get('warm.bench.test')).status === 200, 120_000, 200))) throw new Error('warm-up route never answered');

  const create = [];
  const scaleUp = [];
  const kill = [];
  const reloads = { create: [], scale: [], kill: [], remove: [] };
  for (let i = 0; i < trials; i++) {
    const name = `sbx-bench-${i}`;
    const host = `b${i}.bench.test`;
    let before = await reloadCount();
    await createService(name, { 'com.docker.lb.hosts': host, 'com.docker.lb.port': '80' }, NET);
    const first = await waitUntil(async () => (await runningTasks(name))[0], 60_000);
    const [okAt] = await firstAnswers([host], (status) => status === 200, 30_000, 20);
    if (first && okAt) create.push(okAt - Date.parse(first.Status.Timestamp));
    let n = await reloadsSince(before);
    if (n !== undefined) reloads.create.push(n);

    before = await reloadCount();
    await scale(name, 2);
    const second = await waitUntil(async () => (await runningTasks(name)).find((t) => t.ID !== first?.ID), 60_000);
    if (second) {
      const cid = second.Status.ContainerStatus?.ContainerID?.slice(0, 12);
      const seenAt = await waitUntil(async () => ((await get(host)).task === cid ? Date.now() : undefined), 30_000, 5);
      if (seenAt) scaleUp.push(seenAt - Date.parse(second.Status.Timestamp));
      n = await reloadsSince(before);
      if (n !== undefined) reloads.scale.push(n);

      // Kill the second task's container: swarm replaces it, but the dead task must leave the upstreams.
      const killedCid = second.Status.ContainerStatus?.ContainerID;
      before = await reloadCount();
      const killedAt = Date.now();
      await docker
        .getContainer(killedCid)
        .kill()
        .catch(() => undefined);
      const goneAt = await waitUntil(
        async () => {
          // Short timeouts: a request sent to the dead address hangs (no ARP answer on the overlay).
          for (let k = 0; k < 6; k++) {
            const r = await get(host, '/', 250);
            if (r.status !== 200 || r.task === cid) return undefined;
          }
          return Date.now();
        },
        30_000,
        20,
      );
      if (goneAt) kill.push(goneAt - killedAt);
      // Swarm starts a replacement task: the kill and the replacement are counted together.
      n = await reloadsSince(before);
      if (n !== undefined) reloads.kill.push(n);
    }
    before = await reloadCount();
    await removeService(name);
    n = await reloadsSince(before);
    if (n !== undefined) reloads.remove.push(n);
    process.stderr.write(`trial ${i + 1}/${trials} done\n`);
  }
  await removeService('sbx-bench-warm');
  console.log(`convergence over ${trials} trials (PollInterval 3 s; load ${load()})`);
  printRow('create: task running → first 200', stats(create));
  printRow('scale up: new task running → its first response', stats(scaleUp));
  printRow('kill: task killed → out of the answers', stats(kill));
  console.log(`proxy reloads per change (counted ${RELOAD_SETTLE_MS} ms after it converged; trials where the proxy was replaced left out)`);
  printReloads('reloads: service create (1 task)', reloads.create);
  printReloads('reloads: scale 1 → 2', reloads.scale);
  printReloads('reloads: task killed (+ its replacement)', reloads.kill);
  printReloads('reloads: service removed', reloads.remove);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
