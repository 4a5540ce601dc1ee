// A bad label never takes the proxy down, on the real swarm: while a good service answers a continuous
// request loop, services with bad labels of many kinds are deployed. Every request to the good service
// must succeed, the proxy must be neither restarted nor respecified, the bad services must show up in
// `signalbox status --json` as disabled with reasons naming the label, core's rejection counter must grow,
// and fixing each one's labels must route it. Each test creates what it needs (either runs alone with -t);
// afterAll removes the services and the network, and fails if it cannot.
import { jest } from '@jest/globals';
import type { DiagnosticCode } from '@signalbox/model';
import {
  PROXY_SERVICE,
  docker,
  cliStatus,
  coreMetricSum,
  createDemoService,
  ensureNetwork,
  get,
  inspectService,
  removeNetwork,
  removeService,
  runningTaskIds,
  servedNginxConf,
  serviceSettled,
  serviceSpec,
  sleep,
  underLoad,
  updateService,
  waitFor,
  outcome,
} from './helpers/swarm.js';
import type { CliStatus } from './helpers/swarm.js';

jest.setTimeout(300_000);

const NET = 'sbx-bad-net';
const GOOD = 'sbx-bad-good';
const GOOD_HOST = 'good.bad.test';
const P = 'com.docker.lb.';
const REJECTIONS = 'signalbox_service_rejections_total';

interface BadCase {
  name: string;
  what: string;
  labels: Record<string, string>;
  /** Expected code and the label its reason names. */
  code: DiagnosticCode;
  key: string;
  /** Labels that make it valid (applied over the bad ones; null removes) and where it is then served. */
  fix: Record<string, string | null>;
  fixedHost: string;
  fixedPath?: string;
}

const base = (host: string) => ({ [`${P}hosts`]: host, [`${P}port`]: '80', [`${P}network`]: NET });

const BAD: BadCase[] = [
  {
    name: 'sbx-bad-typo',
    what: 'typo com.docker.lb.host',
    labels: { [`${P}host`]: 'typo.bad.test', [`${P}port`]: '80', [`${P}network`]: NET },
    code: 'ERR_LABEL_UNKNOWN',
    key: `${P}host`,
    fix: { [`${P}host`]: null, [`${P}hosts`]: 'typo.bad.test' },
    fixedHost: 'typo.bad.test',
  },
  {
    name: 'sbx-bad-dots',
    what: 'hosts api..example.com',
    labels: base('api..bad.test'),
    code: 'ERR_LABEL_HOST_INVALID',
    key: `${P}hosts`,
    fix: { [`${P}hosts`]: 'api.bad.test' },
    fixedHost: 'api.bad.test',
  },
  {
    name: 'sbx-bad-port0',
    what: 'port 0',
    labels: { ...base('port0.bad.test'), [`${P}port`]: '0' },
    code: 'ERR_LABEL_PORT_INVALID',
    key: `${P}port`,
    fix: { [`${P}port`]: '80' },
    fixedHost: 'port0.bad.test',
  },
  {
    name: 'sbx-bad-ctxroot',
    what: 'context_root with ;',
    labels: { ...base('ctx.bad.test'), [`${P}context_root`]: '/api;include /etc/passwd' },
    code: 'ERR_LABEL_PATH_INVALID',
    key: `${P}context_root`,
    fix: { [`${P}context_root`]: '/api' },
    fixedHost: 'ctx.bad.test',
    fixedPath: '/api/x',
  },
  {
    name: 'sbx-bad-sticky',
    what: 'sticky cookie with {',
    labels: { ...base('sticky.bad.test'), [`${P}sticky_session_cookie`]: 'sess{' },
    code: 'ERR_LABEL_COOKIE_INVALID',
    key: `${P}sticky_session_cookie`,
    fix: { [`${P}sticky_session_cookie`]: 'sess' },
    fixedHost: 'sticky.bad.test',
  },
  {
    name: 'sbx-bad-inject',
    what: 'hosts with an include injection',
    labels: base('inject.bad.test;include /etc/passwd'),
    code: 'ERR_LABEL_HOST_INVALID',
    key: `${P}hosts`,
    fix: { [`${P}hosts`]: 'inject.bad.test' },
    fixedHost: 'inject.bad.test',
  },
  {
    name: 'sbx-bad-nonet',
    what: 'network that does not exist',
    labels: { ...base('nonet.bad.test'), [`${P}network`]: 'sbx-bad-no-such-net' },
    code: 'ERR_NETWORK_NOT_FOUND',
    key: `${P}network`,
    fix: { [`${P}network`]: NET },
    fixedHost: 'nonet.bad.test',
  },
  {
    name: 'sbx-bad-nosecret',
    what: 'ssl_cert secret that does not exist',
    labels: { ...base('nosecret.bad.test'), [`${P}ssl_cert`]: 'sbx-bad-no-such-cert', [`${P}ssl_key`]: 'sbx-bad-no-such-key' },
    code: 'ERR_SECRET_NOT_FOUND',
    key: `${P}ssl_cert`,
    fix: { [`${P}ssl_cert`]: null, [`${P}ssl_key`]: null },
    fixedHost: 'nosecret.bad.test',
  },
  {
    name: 'sbx-bad-fail-timeout',
    what: 'fail_timeout in ms (nginx refuses it)',
    labels: { ...base('ft.bad.test'), [`${P}fail_timeout`]: '500ms' },
    code: 'ERR_LABEL_FAIL_TIMEOUT_INVALID',
    key: `${P}fail_timeout`,
    fix: { [`${P}fail_timeout`]: '1s' },
    fixedHost: 'ft.bad.test',
  },
  {
    name: 'sbx-bad-hijack',
    what: 'redirect taking over the good host',
    labels: { ...base('hijack.bad.test'), [`${P}redirects`]: `http://${GOOD_HOST},https://evil.bad.test` },
    code: 'ERR_CONFLICT_REDIRECT',
    key: `${P}redirects`,
    fix: { [`${P}redirects`]: 'http://old-hijack.bad.test,http://hijack.bad.test' },
    fixedHost: 'hijack.bad.test',
  },
  {
    // Created last: the later service loses the conflict, the good one keeps its route.
    name: 'sbx-bad-dup',
    what: 'duplicate of the good host with other options',
    labels: { ...base(GOOD_HOST), [`${P}sticky_session_cookie`]: 'grab' },
    code: 'ERR_CONFLICT_ROUTE',
    key: `${P}hosts`,
    fix: { [`${P}hosts`]: 'dup.bad.test', [`${P}sticky_session_cookie`]: null },
    fixedHost: 'dup.bad.test',
  },
];

let proxyTasksBefore: string[] = [];
let proxySpecBefore = '';

/** Answered 200 by the demo app of service `name` (another cluster member's default backend may answer unknown hosts). */
async function routed(host: string, path = '/', name?: string): Promise<boolean> {
  try {
    const r = await get(host, path);
    return r.status === 200 && (name === undefined || r.headers['x-demo-name'] === name);
  } catch {
    return false;
  }
}

/** What changed in the proxy's spec since beforeAll, by network/secret name (to tell our changes from others'). */
async function proxyChange(): Promise<string> {
  const now = await serviceSpec(PROXY_SERVICE);
  if (now === proxySpecBefore) return 'unchanged';
  const nets = new Map(((await docker.listNetworks()) as { Id: string; Name: string }[]).map((n) => [n.Id, n.Name]));
  type Spec = { TaskTemplate?: { Networks?: { Target: string }[]; ContainerSpec?: { Secrets?: { SecretName: string }[] } } };
  const names = (spec: Spec) => ({
    networks: (spec.TaskTemplate?.Networks ?? []).map((n) => nets.get(n.Target) ?? [...nets].find(([id]) => id.startsWith(n.Target))?.[1] ?? n.Target).sort(),
    secrets: (spec.TaskTemplate?.ContainerSpec?.Secrets ?? []).map((x) => x.SecretName).sort(),
  });
  return `was ${JSON.stringify(names(JSON.parse(proxySpecBefore) as Spec))}, now ${JSON.stringify(names(JSON.parse(now) as Spec))}`;
}

/** Failed requests, summarised (a proxy restart gives hundreds of identical ECONNREFUSED). */
function summary(failed: { status: number; error?: string }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failed) out[f.error ?? `HTTP ${f.status}`] = (out[f.error ?? `HTTP ${f.status}`] ?? 0) + 1;
  return out;
}

async function expectProxyUntouched(): Promise<void> {
  expect({ proxyTasks: await runningTaskIds(PROXY_SERVICE), spec: await proxyChange() }).toEqual({ proxyTasks: proxyTasksBefore, spec: 'unchanged' });
}

function rejectedAsExpected(report: CliStatus, c: BadCase): boolean {
  const s = report.services.filter((x) => x.name === c.name);
  return s.length > 0 && s.every((x) => x.status === 'disabled' && x.errors.some((e) => e.code === c.code && e.key === c.key && e.message.length > 0));
}

beforeAll(async () => {
  await ensureNetwork(NET);
  await createDemoService({ name: GOOD, networks: [NET], replicas: 2, labels: base(GOOD_HOST) });
  // The first service on a new network makes the proxy join it (the one change that may roll the proxy).
  await waitFor('good service routed', () => routed(GOOD_HOST, '/', GOOD), 120_000, 250);
  await waitFor('proxy service settled', () => serviceSettled(PROXY_SERVICE), 120_000, 500);
  await waitFor('good service routed after the proxy settled', () => routed(GOOD_HOST), 60_000, 250);
  await sleep(3000);
  proxyTasksBefore = await runningTaskIds(PROXY_SERVICE);
  proxySpecBefore = await serviceSpec(PROXY_SERVICE);
});

afterAll(async () => {
  for (const c of BAD) await removeService(c.name);
  await removeService(GOOD);
  // The proxy lets go of the network once its services are gone; then it can be removed.
  await waitFor(`network ${NET} removed`, () => removeNetwork(NET), 120_000, 500);
});

/** Deploys the bad services that are not there yet; resolves with the status report once all are rejected. */
async function deployBad(): Promise<CliStatus> {
  for (const c of BAD) {
    if (await inspectService(c.name)) continue;
    await createDemoService({ name: c.name, networks: [NET], labels: c.labels });
    await sleep(200);
  }
  return waitFor(
    'every bad service reported disabled with its reason',
    async () => {
      const rep = await cliStatus();
      return BAD.every((c) => rejectedAsExpected(rep, c)) ? rep : undefined;
    },
    120_000,
    1000,
  );
}

test('bad labels of every kind are rejected with reasons while the good service answers every request', async () => {
  const rejectionsBefore = await coreMetricSum(REJECTIONS);
  const started = Date.now();
  const {
    ok,
    failed,
    result: report,
  } = await underLoad(GOOD_HOST, async () => {
    const r = await deployBad();
    // Keep the load on for more than a poll interval after the last rejection.
    await sleep(5000);
    return r;
  });
  const seconds = (Date.now() - started) / 1000;
  console.log(`bad labels: ${BAD.length} bad services deployed and reported in ${seconds.toFixed(1)} s; ${ok} requests to ${GOOD_HOST}, ${failed.length} failed`);
  expect({ failed: summary(failed), proxy: failed.length > 0 ? await proxyChange() : 'not checked' }).toEqual({ failed: {}, proxy: 'not checked' });
  expect(ok).toBeGreaterThan(10); // the request loop ran

  for (const c of BAD) {
    const entries = report.services.filter((s) => s.name === c.name);
    expect({ name: c.name, what: c.what, status: entries.map((s) => s.status) }).toEqual({ name: c.name, what: c.what, status: entries.map(() => 'disabled') });
    const reason = entries[0]!.errors.find((e) => e.code === c.code)!;
    expect(reason.key).toBe(c.key);
    expect(reason.message.length).toBeGreaterThan(10);
  }
  // None of them is routed, not even under the name its fix will give it.
  for (const c of BAD) {
    expect({ name: c.name, host: c.fixedHost, routed: await routed(c.fixedHost, c.fixedPath ?? '/', c.name) }).toEqual({ name: c.name, host: c.fixedHost, routed: false });
  }
  // The good service and its route are untouched.
  const good = report.services.find((s) => s.name === GOOD)!;
  expect(good.status).toBe('enabled');
  expect(report.routes.filter((r) => r.host === GOOD_HOST).map((r) => r.services)).toEqual([[GOOD]]);
  // Nothing of the bad values reached the served config.
  const conf = await servedNginxConf();
  for (const needle of ['typo.bad.test', 'api..bad.test', 'port0.bad.test', 'passwd', 'sess{', 'nonet.bad.test', 'nosecret.bad.test', 'evil.bad.test', 'grab', '500ms']) {
    expect({ needle, found: conf.includes(needle) }).toEqual({ needle, found: false });
  }
  // Core counted the rejections (a core restarted meanwhile would have counted them afresh).
  const rejectionsAfter = await coreMetricSum(REJECTIONS);
  expect(rejectionsAfter >= rejectionsBefore ? rejectionsAfter - rejectionsBefore : rejectionsAfter).toBeGreaterThanOrEqual(BAD.length);

  await expectProxyUntouched();
});

test('fixing the labels routes each bad service, still without a failed request', async () => {
  await deployBad();
  const times: Record<string, number> = {};
  const { failed, ok } = await underLoad(GOOD_HOST, async () => {
    await Promise.all(
      BAD.map(async (c) => {
        const t0 = Date.now();
        await updateService(c.name, (spec) => {
          for (const [k, v] of Object.entries(c.fix)) {
            if (v === null) delete spec.Labels[k];
            else spec.Labels[k] = v;
          }
        });
        await waitFor(`${c.name} routed after its fix`, () => routed(c.fixedHost, c.fixedPath ?? '/', c.name), 120_000, 100);
        times[c.name] = Date.now() - t0;
      }),
    );
  });
  console.log(
    `bad labels fixed: ${Object.entries(times)
      .map(([n, ms]) => `${n.replace('sbx-bad-', '')} ${(ms / 1000).toFixed(1)}s`)
      .join(', ')}; ${ok} requests, ${failed.length} failed`,
  );
  expect({ failed: summary(failed), proxy: failed.length > 0 ? await proxyChange() : 'not checked' }).toEqual({ failed: {}, proxy: 'not checked' });

  const report = await cliStatus();
  for (const c of BAD) {
    expect({ name: c.name, status: report.services.filter((s) => s.name === c.name).map((s) => s.status) }).toEqual({ name: c.name, status: ['enabled'] });
  }
  // The dup no longer fights over the good host; the good host is still the good service's alone.
  expect(report.routes.filter((r) => r.host === GOOD_HOST).map((r) => r.services)).toEqual([[GOOD]]);
  expect(outcome(await get(GOOD_HOST))).toBe('200');
  expect((await get('old-hijack.bad.test')).status).toBe(302);

  await expectProxyUntouched();
});
