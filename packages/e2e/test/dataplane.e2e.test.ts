// What a client of another app sees while the proxy has to change (issue 15): a new app on a new
// network, a flap on one network. The edge holds the published port; the routing proxy is replaced
// start-first behind it. Counts failures (new connections and reused keep-alive connections), not timings.
import http from 'node:http';
import { jest } from '@jest/globals';
import {
  HTTP_PORT,
  PROXY_SERVICE,
  createDemoService,
  docker,
  ensureNetwork,
  get,
  removeNetwork,
  removeService,
  runningTaskIds,
  serviceAttachments,
  serviceSettled,
  sleep,
  statusOn,
  waitFor,
} from './helpers/swarm.js';

jest.setTimeout(300_000);

const P = 'sbx-dp-';
const NET_KEEP = `${P}keep-net`;
const NET_NEW = `${P}new-net`;
const NET_FLAP = `${P}flap-net`;
const KEEP = `${P}keep`;
const host = (name: string) => `${name}.dp.test`;
const labels = (name: string, network: string) => ({ 'com.docker.lb.hosts': host(name), 'com.docker.lb.port': '80', 'com.docker.lb.network': network });
const answers = (name: string, status = 200, timeoutMs = 90_000) =>
  waitFor(`${host(name)} → ${status}`, async () => (await statusOn(HTTP_PORT, host(name))) === status, timeoutMs, 100);
const settled = () => waitFor('proxy settled', () => serviceSettled(PROXY_SERVICE), 120_000, 500);

interface LoadResult {
  ok: number;
  /** One entry per failed request: HTTP status or error code. */
  failed: string[];
}

/**
 * Two clients on the routed host while `fn` runs: one new connection per request, and one HTTP/1.1
 * keep-alive connection reused for every request (reconnecting only when the server says close).
 * Neither retries: every error counts.
 */
async function underTwoLoads<T>(hostName: string, fn: () => Promise<T>): Promise<{ result: T; fresh: LoadResult; keepAlive: LoadResult }> {
  let stop = false;
  const fresh: LoadResult = { ok: 0, failed: [] };
  const keepAlive: LoadResult = { ok: 0, failed: [] };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const once = (a: http.Agent | false) =>
    new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: HTTP_PORT, path: '/', headers: { host: hostName }, agent: a, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', reject);
      req.end();
    });
  const loop = async (a: http.Agent | false, into: LoadResult) => {
    while (!stop) {
      try {
        const st = await once(a);
        if (st === 200) into.ok++;
        else into.failed.push(String(st));
      } catch (e) {
        into.failed.push((e as NodeJS.ErrnoException).code ?? (e as Error).message);
      }
      await sleep(20);
    }
  };
  const loops = [loop(false, fresh), loop(agent, keepAlive)];
  try {
    const result = await fn();
    return { result, fresh, keepAlive };
  } finally {
    stop = true;
    await Promise.all(loops);
    agent.destroy();
  }
}

beforeAll(async () => {
  await ensureNetwork(NET_KEEP);
  await createDemoService({ name: KEEP, networks: [NET_KEEP], labels: labels(KEEP, NET_KEEP) });
  await answers(KEEP, 200, 120_000);
  await settled();
}, 240_000);

afterAll(async () => {
  const mine = ((await docker.listServices({ filters: { name: [P] } })) as { Spec: { Name: string } }[]).map((s) => s.Spec.Name).filter((n) => n.startsWith(P));
  for (const name of mine) await removeService(name);
  for (const n of [NET_KEEP, NET_NEW, NET_FLAP]) await waitFor(`network ${n} removed`, () => removeNetwork(n), 150_000, 1000).catch((e: Error) => console.warn(e.message));
}, 300_000);

test('a new app on a new network, then removed: the proxy is replaced behind the edge and another app loses 0 requests', async () => {
  const app = `${P}new`;
  const before = await runningTaskIds(PROXY_SERVICE);
  const { result, fresh, keepAlive } = await underTwoLoads(host(KEEP), async () => {
    await ensureNetwork(NET_NEW);
    const t0 = Date.now();
    await createDemoService({ name: app, networks: [NET_NEW], labels: labels(app, NET_NEW) });
    await answers(app);
    const routedMs = Date.now() - t0;
    await settled();
    const joined = await runningTaskIds(PROXY_SERVICE);
    await removeService(app);
    await answers(app, 503, 30_000);
    // After ProxyNetworkDetachDelay (60 s by default).
    await waitFor('proxy left the new network', async () => !(await serviceAttachments(PROXY_SERVICE)).networks.includes(NET_NEW), 150_000, 250);
    await settled();
    await sleep(2000);
    return { routedMs, joined };
  });
  console.log(
    `new network: routed after ${result.routedMs} ms; ${KEEP}: ${fresh.ok} new-connection requests ok, failed ${JSON.stringify(fresh.failed)}; ` +
      `${keepAlive.ok} keep-alive requests ok, failed ${JSON.stringify(keepAlive.failed)}`,
  );
  // The proxy really was replaced (joining a network needs new tasks) ...
  expect(result.joined).not.toEqual(before);
  // ... and nobody noticed.
  expect(fresh.failed).toEqual([]);
  expect(keepAlive.failed).toEqual([]);
  expect(fresh.ok).toBeGreaterThan(50);
  expect(keepAlive.ok).toBeGreaterThan(50);
});

test('a flap: the last service on a network removed and another created on it at once: the proxy is not replaced, another app loses 0 requests', async () => {
  await ensureNetwork(NET_FLAP);
  const first = `${P}flap-a`;
  const second = `${P}flap-b`;
  await createDemoService({ name: first, networks: [NET_FLAP], labels: labels(first, NET_FLAP) });
  await answers(first);
  await settled();
  const before = await runningTaskIds(PROXY_SERVICE);
  const { fresh, keepAlive } = await underTwoLoads(host(KEEP), async () => {
    await removeService(first);
    await sleep(300);
    await createDemoService({ name: second, networks: [NET_FLAP], labels: labels(second, NET_FLAP) });
    await answers(second);
    await sleep(5000);
    await settled();
  });
  console.log(`flap: ${KEEP}: ${fresh.ok} ok / failed ${JSON.stringify(fresh.failed)}; keep-alive ${keepAlive.ok} ok / failed ${JSON.stringify(keepAlive.failed)}`);
  expect(fresh.failed).toEqual([]);
  expect(keepAlive.failed).toEqual([]);
  // ProxyNetworkDetachDelay (60 s) kept the proxy on the network through the gap: no replacement at all.
  expect(await runningTaskIds(PROXY_SERVICE)).toEqual(before);
  expect(await statusOn(HTTP_PORT, host(second))).toBe(200);
  await removeService(second);
});
