// The skeleton end to end: a labelled service is routed by Host header through core → extension → proxy,
// follows scaling and removal, survives a core restart, and routine changes never restart proxy tasks.
// Each test creates what it needs (any one runs alone with -t); afterAll removes every service and the
// network, and fails if it cannot.
import { jest } from '@jest/globals';
import {
  CORE_SERVICE,
  PROXY_SERVICE,
  createDemoService,
  distinctTasks,
  ensureNetwork,
  get,
  inspectService,
  latestPublishedConfig,
  removeNetwork,
  removeService,
  runningTaskCount,
  runningTaskIds,
  scaleService,
  serviceSettled,
  serviceSpec,
  sleep,
  underLoad,
  updateService,
  waitFor,
  outcome,
} from './helpers/swarm.js';

const NET = 'sbx-e2e-routing';
const WEB = 'sbx-e2e-web';
const ANCHOR = 'sbx-e2e-anchor';
const hostsOf = (s: string) => `${s}.e2e.test`;

jest.setTimeout(180_000);

let proxyTasksBefore: string[] = [];
let proxySpecBefore = '';

async function routed(host: string, path = '/'): Promise<boolean> {
  const r = await get(host, path);
  return r.status === 200;
}

/** WEB with two tasks, routed on web.e2e.test and www.e2e.test: created unless an earlier test left it so. */
async function ensureWeb(): Promise<void> {
  const labels = { 'com.docker.lb.hosts': `web.e2e.test,www.e2e.test`, 'com.docker.lb.port': '80', 'com.docker.lb.network': NET };
  if (await inspectService(WEB)) {
    await updateService(WEB, (spec) => {
      spec.Labels = { ...spec.Labels, ...labels };
      spec.Mode = { Replicated: { Replicas: 2 } };
    });
  } else {
    await createDemoService({ name: WEB, networks: [NET], replicas: 2, labels });
  }
  await waitFor('web routed', () => routed('web.e2e.test'), 60_000);
  await waitFor('both tasks in the upstream', async () => (await distinctTasks('web.e2e.test', 10)).size === 2, 60_000, 200);
}

beforeAll(async () => {
  await ensureNetwork(NET);
  // The first service on a new network makes the proxy join it (the one change that may roll the proxy).
  await createDemoService({ name: ANCHOR, networks: [NET], labels: { 'com.docker.lb.hosts': hostsOf(ANCHOR), 'com.docker.lb.port': '80' } });
  await waitFor('anchor routed', () => routed(hostsOf(ANCHOR)), 90_000, 200);
  // Let any roll finish before recording the proxy's identity.
  await waitFor('proxy service settled', () => serviceSettled(PROXY_SERVICE), 90_000, 500);
  proxyTasksBefore = await runningTaskIds(PROXY_SERVICE);
  proxySpecBefore = await serviceSpec(PROXY_SERVICE);
});

afterAll(async () => {
  for (const s of [WEB, ANCHOR, 'sbx-e2e-plain', 'sbx-e2e-after-restart']) await removeService(s);
  // The proxy lets go of the network once its services are gone; then it can be removed.
  await waitFor(`network ${NET} removed`, () => removeNetwork(NET), 120_000, 500);
});

test('routes two hosts of one service, round-robin over its tasks', async () => {
  await ensureWeb();
  expect(outcome(await get('www.e2e.test'))).toBe('200');
  await waitFor('both tasks in the upstream', async () => (await distinctTasks('web.e2e.test', 10)).size === 2, 20_000);
  const seen = await distinctTasks('www.e2e.test', 10);
  expect(seen.size).toBe(2);
  // Proxied requests carry the forwarding headers.
  const body = JSON.parse((await get('web.e2e.test', '/hello')).body) as { path: string; headers: Record<string, string> };
  expect(body.path).toBe('/hello');
  expect(body.headers['x-forwarded-host']).toBe('web.e2e.test');
});

test('scale up spreads over 4 tasks, scale down shrinks', async () => {
  await ensureWeb();
  await scaleService(WEB, 4);
  await waitFor('4 tasks serving', async () => (await distinctTasks('web.e2e.test', 16)).size === 4, 30_000, 200);
  await scaleService(WEB, 1);
  await waitFor(
    '1 task serving',
    async () => {
      const s = await distinctTasks('web.e2e.test', 8);
      return s.size === 1;
    },
    30_000,
    200,
  );
});

test('a service without com.docker.lb labels causes no config change and no proxy update', async () => {
  const proxySpec = await serviceSpec(PROXY_SERVICE);
  const before = await latestPublishedConfig();
  await createDemoService({ name: 'sbx-e2e-plain', networks: [NET], replicas: 1 });
  await waitFor('plain task running', async () => (await runningTaskCount('sbx-e2e-plain')) === 1, 30_000);
  await sleep(4000); // more than one PollInterval (3 s)
  const after = await latestPublishedConfig();
  expect(after?.name).toBe(before?.name);
  expect(after?.count).toBe(before?.count);
  expect(await serviceSpec(PROXY_SERVICE)).toBe(proxySpec);
});

test('removing the labels, then the service, makes the host answer 503 from the default server', async () => {
  await ensureWeb();
  await updateService(WEB, (spec) => {
    delete spec.Labels['com.docker.lb.hosts'];
  });
  await waitFor('unlabelled → 503', async () => (await get('web.e2e.test')).status === 503, 20_000);
  await updateService(WEB, (spec) => {
    spec.Labels['com.docker.lb.hosts'] = 'web.e2e.test,www.e2e.test';
  });
  await waitFor('relabelled → 200', () => routed('web.e2e.test'), 30_000);
  await removeService(WEB);
  await waitFor('removed → 503', async () => (await get('web.e2e.test')).status === 503, 20_000);
});

test('core restart: routes keep being served and the model is rebuilt from the swarm', async () => {
  const coreTasks = await runningTaskIds(CORE_SERVICE);
  const { ok, failed } = await underLoad(hostsOf(ANCHOR), async () => {
    await updateService(CORE_SERVICE, (spec) => {
      spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
    });
    await waitFor(
      'new core task running',
      async () => {
        const now = await runningTaskIds(CORE_SERVICE);
        return now.length === 1 && now[0] !== coreTasks[0];
      },
      60_000,
      250,
    );
  });
  expect(failed).toEqual([]);
  expect(ok).toBeGreaterThan(10);
  // A service created after the restart is routed: the new core rebuilt its state and serves it.
  await removeService('sbx-e2e-after-restart');
  await createDemoService({ name: 'sbx-e2e-after-restart', networks: [NET], labels: { 'com.docker.lb.hosts': 'after.e2e.test', 'com.docker.lb.port': '80' } });
  await waitFor('routed after core restart', () => routed('after.e2e.test'), 30_000);
  expect(await routed(hostsOf(ANCHOR))).toBe(true);
});

test('proxy tasks were never restarted by any of the routine changes above', async () => {
  expect(await runningTaskIds(PROXY_SERVICE)).toEqual(proxyTasksBefore);
  expect(await serviceSpec(PROXY_SERVICE)).toBe(proxySpecBefore);
});
