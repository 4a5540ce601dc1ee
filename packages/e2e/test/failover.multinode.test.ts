// Manager failover on the multi-node swarm of scripts/multinode.sh. Needs 3 managers (raft keeps a
// quorum with one of them gone): `scripts/multinode.sh up 5`. With fewer the test is skipped and says so.
import { execFileSync } from 'node:child_process';
import { jest } from '@jest/globals';
import type Docker from 'dockerode';
import {
  MULTINODE,
  NetnsClient,
  SERVICES,
  createApp,
  ensureOverlay,
  figure,
  manager,
  managers,
  multinode,
  proxiesSettled,
  proxyOn,
  removeApp,
  removeOverlay,
  running,
  tasksOf,
  until,
  workers,
} from './helpers/multinode.js';

jest.setTimeout(400_000);

const NET = 'sbxmn-failover';
const nodes = execFileSync(MULTINODE, ['nodes'], { encoding: 'utf8' }).split('\n').filter(Boolean);
const full = managers(nodes).length >= 3;
let client: NetnsClient;
let mgr: Docker;

beforeAll(async () => {
  if (!full) return;
  mgr = (await manager(nodes)).docker;
  client = await NetnsClient.start();
  await ensureOverlay(mgr, NET);
  await createApp(mgr, {
    name: 'mn-fo',
    host: 'fo.mn.test',
    network: NET,
    replicas: 2,
    constraints: ['node.role==worker'],
  });
  for (const w of workers(nodes).slice(0, 2)) {
    await until(`fo.mn.test routed by the proxy on ${w}`, async () => (await client.get(proxyOn(w), 'fo.mn.test')).status === 200, 240_000, 500);
  }
  await proxiesSettled(mgr);
});

afterAll(async () => {
  if (!full) return;
  const m = (await manager(nodes)).docker;
  for (const s of ['mn-fo', 'mn-fo2']) await removeApp(m, s).catch(() => undefined);
  await removeOverlay(m, NET).catch((e) => console.warn(String(e)));
  client?.close();
});

(full ? test : test.skip)(
  `stopping the manager that runs core leaves the data plane serving, core starts on another manager and new services route again (needs 3 managers, have ${managers(nodes).length})`,
  async () => {
    const core = running(await tasksOf(mgr, SERVICES.core));
    expect(core).toHaveLength(1);
    const lost = core[0]!.node;
    const targets = workers(nodes).slice(0, 2).map(proxyOn);
    const stopLoad = await client.load(targets, 'fo.mn.test', 20, 5000);
    const stoppedAt = Date.now();
    await multinode('stop-node', lost);
    const engineGoneAt = Date.now();
    try {
      // A manager that still has a quorum takes the API; a service is created as soon as it answers.
      const { value: other, at: apiAt } = await until('another manager answers', async () => (await manager(nodes, [lost])).docker, 120_000, 200);
      await until(
        'mn-fo2 created',
        async () => {
          await createApp(other, {
            name: 'mn-fo2',
            host: 'fo2.mn.test',
            network: NET,
            constraints: ['node.role==worker'],
          });
          return true;
        },
        60_000,
        500,
      );
      const { value: moved, at: coreAt } = await until(
        'core running on another manager',
        async () => {
          const r = running(await tasksOf(other, SERVICES.core)).filter((t) => t.node !== lost);
          return r.length === 1 ? r[0]! : false;
        },
        180_000,
        200,
      );
      const { at: routedAt } = await until('fo2.mn.test routed', async () => (await client.get(targets[0]!, 'fo2.mn.test')).status === 200, 180_000, 200);
      const r = await stopLoad();
      figure('failover: manager stop → its engine gone (ms)', engineGoneAt - stoppedAt);
      figure('failover: manager stop → another manager answers the API (ms)', apiAt - stoppedAt);
      figure(`failover: manager stop → core running on ${moved.node} (ms)`, coreAt - stoppedAt);
      figure('failover: manager stop → a service created meanwhile is routed (ms)', routedAt - stoppedAt);
      figure('failover: requests through the proxies meanwhile', `${r.ok} ok, ${r.failed.length} failed`);
      expect(moved.node).not.toBe(lost);
      expect(managers(nodes)).toContain(moved.node);
      // The data plane kept serving the last good config throughout.
      expect(r.failed).toEqual([]);
      expect(r.ok).toBeGreaterThan(50);
      mgr = other;
    } finally {
      await multinode('start-node', lost);
    }
    await until(
      `${lost} ready again`,
      async () => {
        const list = (await mgr.listNodes()) as {
          Spec?: { Labels?: Record<string, string> };
          Status?: { State?: string };
        }[];
        return list.find((n) => n.Spec?.Labels?.['signalbox.node'] === lost)?.Status?.State === 'ready';
      },
      120_000,
      500,
    );
  },
);
