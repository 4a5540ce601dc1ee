// Least exposure on the real swarm (issue 10): what a tenant container can reach. A tenant service on
// an app network the proxy joins must reach the proxy's HTTP listener but not its agent API; the
// control network must refuse `docker run` containers; a tenant service that names the control network
// anyway (Docker cannot stop a service from doing so) must get 401 from core's and the extension's
// APIs for everything but /v1/health, and cannot forge exclusions; `signalbox status` still works. The
// proxy token opens only a proxy's own calls; a redeploy rotates the API token without replacing a proxy.
import { jest } from '@jest/globals';
import {
  CORE_SERVICE,
  EXTENSION_SERVICE,
  PROXY_SERVICE,
  DEMO_IMAGE,
  cliStatus,
  createDemoService,
  ensureNetwork,
  execInService,
  fetchInService,
  get,
  removeService,
  run,
  runningTaskCount,
  statusOf,
  taskAddresses,
  waitFor,
  removeNetwork,
  outcome,
  DEPLOYED_CONFIG,
  deployStackConfig,
  runningTaskIds,
  serviceAttachments,
  underLoad,
  updateService,
  tokenSecret,
} from './helpers/swarm.js';

jest.setTimeout(240_000);

const NET = 'sbx-sec-app';
const APP = 'sbx-sec-app-svc';
const HOST = 'sec.e2e.test';
const APP_PROBE = 'sbx-sec-probe-app';
const CONTROL_PROBE = 'sbx-sec-probe-control';
const CONTROL = 'signalbox-control';

interface ProbeRequest {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

/**
 * Runs the requests from inside a container of `service`; each answers its status or "error:<code>".
 * node:http, not fetch: fetch drops a Host header, and the proxy routes by Host.
 */
async function probe(service: string, requests: ProbeRequest[]): Promise<string[]> {
  const script =
    "const http=require('http');" +
    'Promise.all(JSON.parse(process.argv[1]).map((r)=>new Promise((done)=>{const u=new URL(r.url);' +
    'const q=http.request({host:u.hostname,port:u.port||80,path:u.pathname+u.search,method:r.method||"GET",headers:r.headers||{},timeout:5000},' +
    '(res)=>{res.resume();res.on("end",()=>done(String(res.statusCode)));});' +
    'q.on("timeout",()=>q.destroy(Object.assign(new Error("timeout"),{code:"TIMEOUT"})));' +
    'q.on("error",(e)=>done("error:"+(e.code||e.message)));if(r.body)q.write(r.body);q.end();})))' +
    '.then((x)=>process.stdout.write(JSON.stringify(x)))';
  const r = await execInService(service, ['node', '-e', script, JSON.stringify(requests)]);
  if (r.exitCode !== 0) throw new Error(`probe in ${service} failed: ${r.stderr.slice(-300)}`);
  return JSON.parse(r.stdout) as string[];
}

beforeAll(async () => {
  await ensureNetwork(NET);
  await createDemoService({ name: APP, networks: [NET], labels: { 'com.docker.lb.hosts': HOST, 'com.docker.lb.port': '80', 'com.docker.lb.network': NET } });
  await createDemoService({ name: APP_PROBE, networks: [NET] });
  await createDemoService({ name: CONTROL_PROBE, networks: [CONTROL] });
  // The proxy rolls to join the new network (host mode: stop-first); allow for a slow, loaded engine.
  await waitFor(`${HOST} routed`, async () => (await get(HOST)).status === 200, 150_000, 250);
  await waitFor('probes running', async () => (await runningTaskCount(APP_PROBE)) === 1 && (await runningTaskCount(CONTROL_PROBE)) === 1, 60_000, 250);
});

afterAll(async () => {
  for (const s of [APP, APP_PROBE, CONTROL_PROBE]) await removeService(s);
  // Its network too, once the proxy has let go of it: left behind, the proxy's detach (a roll) would land
  // in the next file (routing.e2e saw its proxy replaced with the e2e config's 10 s detach delay).
  await waitFor(`network ${NET} removed`, () => removeNetwork(NET), 150_000, 1000);
});

test('from an app network the proxy serves HTTP as it does single hop, and its agent API (status, metrics) is not reachable', async () => {
  const [proxyIp] = await waitFor('proxy address on the app network', async () => {
    const a = await taskAddresses(PROXY_SERVICE, NET);
    return a.length > 0 ? a : undefined;
  });
  const res = await probe(APP_PROBE, [
    { url: `http://${proxyIp}:80/`, headers: { host: HOST } },
    { url: `http://${proxyIp}:8082/v1/status` },
    { url: `http://${proxyIp}:8082/metrics` },
    { url: `http://${PROXY_SERVICE}:8082/v1/status` },
  ]);
  // Behind the edge (ProxyEdge, the default) too the HTTP port serves a plain request: the edge forwards
  // HTTP (L7) and the proxy believes its client address header only from the edge network, which the
  // interlock suite checks with a forged one.
  expect(res[0]).toBe('200');
  for (const r of res.slice(1)) expect(r).toMatch(/^error:/);
  // Inside the proxy container the agent still answers (health checks, operators with docker exec).
  expect((await fetchInService(PROXY_SERVICE, 8082, '/v1/status')).status).toBe(200);
});

test('the control network is not attachable: docker run --network signalbox-control is refused', async () => {
  const net = await run('docker', ['network', 'inspect', '-f', '{{.Attachable}}', CONTROL]);
  expect(net.stdout.trim()).toBe('false');
  const r = await run('docker', ['run', '--rm', '--network', CONTROL, DEMO_IMAGE, 'true'], 60_000);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/attach|not.*allowed|manually attachable/i);
});

test("a tenant service on the control network gets 401 from core's and the extension's APIs, and cannot forge exclusions", async () => {
  const core = 'http://signalbox-core:8080';
  const ext = `http://${EXTENSION_SERVICE}:8081`;
  const forged = JSON.stringify({ modelVersion: 'x', excluded: [{ service: APP, reason: 'spoofed by a tenant' }] });
  const res = await probe(CONTROL_PROBE, [
    { url: `${core}/v1/health` },
    { url: `${core}/v1/status` },
    { url: `${core}/v1/extensions/default/model` },
    { url: `${core}/metrics` },
    { url: `${core}/v1/extensions/default/exclusions`, method: 'PUT', headers: { 'content-type': 'application/json' }, body: forged },
    { url: `${core}/v1/status`, headers: { authorization: 'Bearer guessed-guessed-guessed-guessed-guessed' } },
    { url: `${ext}/v1/health` },
    { url: `${ext}/v1/nginx.conf` },
    { url: `${ext}/v1/status` },
    { url: `${ext}/metrics` },
  ]);
  expect(res).toEqual(['200', '401', '401', '401', '401', '401', '200', '401', '401', '401']);
  // The forged exclusion was not recorded, and the service keeps answering.
  expect((await statusOf(APP)).map((s) => s.status)).toEqual(['enabled']);
  expect(outcome(await get(HOST))).toBe('200');
  // Without the token even inside core's container: 401; with core's own token: 200.
  expect((await fetchInService(CORE_SERVICE, 8080, '/v1/status', false)).status).toBe(401);
  expect((await fetchInService(CORE_SERVICE, 8080, '/v1/status')).status).toBe(200);
  expect((await fetchInService(EXTENSION_SERVICE, 8081, '/v1/nginx.conf')).status).toBe(200);
});

test('signalbox status uses the token (inside core) and shows the routed service', async () => {
  const s = await cliStatus();
  expect(s.routes.some((r) => r.host === HOST)).toBe(true);
});

test('only core and the extension have the Docker socket, both placed on managers; the proxy mounts only its state volume', async () => {
  const inspect = async (name: string) => JSON.parse((await run('docker', ['service', 'inspect', name])).stdout)[0].Spec.TaskTemplate;
  const [core, ext, proxy] = await Promise.all([inspect(CORE_SERVICE), inspect(EXTENSION_SERVICE), inspect(PROXY_SERVICE)]);
  const sock = (t: { ContainerSpec: { Mounts?: { Source: string }[] } }) => (t.ContainerSpec.Mounts ?? []).some((m) => m.Source.endsWith('docker.sock'));
  expect([sock(core), sock(ext), sock(proxy)]).toEqual([true, true, false]);
  // A named volume of its node, where it keeps the configs it installed (restart from the newest).
  expect(proxy.ContainerSpec.Mounts ?? []).toEqual([{ Type: 'volume', Source: `${PROXY_SERVICE}-state`, Target: '/var/lib/signalbox' }]);
  for (const t of [core, ext]) expect(t.Placement.Constraints.map((c: string) => c.replace(/\s+/g, ''))).toContain('node.role==manager');
  // The tokens are mounted where the components read them: the proxy holds the proxy token only.
  const targets = (t: { ContainerSpec: { Secrets?: { File: { Name: string } }[] } }) => (t.ContainerSpec.Secrets ?? []).map((x) => x.File.Name);
  expect(targets(ext)).toEqual(expect.arrayContaining(['signalbox-api-token', 'signalbox-proxy-token']));
  expect(targets(proxy)).toContain('signalbox-proxy-token');
  expect(targets(proxy)).not.toContain('signalbox-api-token');
});

/** The token in the manager's file deploy_stack writes (scripts/lib/stack.sh). */
async function hostToken(kind: 'API' | 'PROXY'): Promise<string> {
  const r = await run('bash', ['-c', `source scripts/lib/stack.sh && cat "$${kind}_TOKEN_HOST_FILE"`]);
  if (r.code !== 0 || r.stdout.trim().length < 32) throw new Error(`cannot read the ${kind} token file: ${r.stderr.slice(-300)}`);
  return r.stdout.trim();
}

test("the proxy token (all a proxy holds) opens the proxy's own calls on the extension and nothing of core's or the extension's status", async () => {
  const proxyToken = await hostToken('PROXY');
  const bearer = { authorization: `Bearer ${proxyToken}` };
  const ext = `http://${EXTENSION_SERVICE}:8081`;
  const res = await probe(CONTROL_PROBE, [
    { url: `${ext}/v1/nginx.conf`, headers: bearer },
    { url: `${ext}/v1/status`, headers: bearer },
    { url: `${ext}/metrics`, headers: bearer },
    { url: 'http://signalbox-core:8080/v1/status', headers: bearer },
    { url: 'http://signalbox-core:8080/v1/extensions/default/model', headers: bearer },
  ]);
  expect(res).toEqual(['200', '403', '403', '401', '401']);
});

test('a redeploy rotates the API token: core and the extension roll onto it, the old one gets 401, no proxy task is replaced, no request fails', async () => {
  const oldToken = await hostToken('API');
  const proxyToken = await hostToken('PROXY');
  const proxyTasks = (await runningTaskIds(PROXY_SERVICE)).sort();
  const {
    result: secret,
    ok,
    failed,
  } = await underLoad(HOST, async () => {
    await deployStackConfig(DEPLOYED_CONFIG);
    const name = await tokenSecret('api');
    await waitFor(
      `core and ${EXTENSION_SERVICE} running on ${name}`,
      async () => (await run('bash', ['-c', `source scripts/lib/stack.sh && rolled_to ${CORE_SERVICE} ${name} && rolled_to ${EXTENSION_SERVICE} ${name}`])).code === 0,
      180_000,
      1000,
    );
    // Swarm reports the extension running once its health check passes; it answers then.
    expect(await probe(CONTROL_PROBE, [{ url: `http://${EXTENSION_SERVICE}:8081/v1/health` }])).toEqual(['200']);
    return name;
  });
  const newToken = await hostToken('API');
  expect(newToken).not.toBe(oldToken);
  expect(await hostToken('PROXY')).toBe(proxyToken);
  expect((await serviceAttachments(PROXY_SERVICE)).secrets.filter((n) => n.startsWith('signalbox-api-token'))).toEqual([]);
  expect((await serviceAttachments(EXTENSION_SERVICE)).secrets).toContain(secret);
  // The routing proxies were not replaced, and the app answered throughout (through the edge and them).
  expect((await runningTaskIds(PROXY_SERVICE)).sort()).toEqual(proxyTasks);
  expect(failed).toEqual([]);
  expect(ok).toBeGreaterThan(20);
  const core = 'http://signalbox-core:8080/v1/status';
  const ext = `http://${EXTENSION_SERVICE}:8081/v1/status`;
  const auth = (t: string) => ({ authorization: `Bearer ${t}` });
  expect(
    await probe(CONTROL_PROBE, [
      { url: core, headers: auth(oldToken) },
      { url: ext, headers: auth(oldToken) },
      { url: core, headers: auth(newToken) },
      { url: ext, headers: auth(newToken) },
    ]),
  ).toEqual(['401', '401', '200', '200']);
  // The proxies fetch from the new extension with their unchanged token: a new host reaches them.
  const second = `rotated.${HOST}`;
  await updateService(APP, (spec) => {
    spec.Labels['com.docker.lb.hosts'] = `${HOST},${second}`;
  });
  await waitFor(`${second} routed after the rotation`, async () => (await get(second)).status === 200, 60_000, 250);
  process.stdout.write(`security: API token rotated by a redeploy (${secret}); ${ok} requests, 0 failed; proxy tasks kept: ${proxyTasks.join(',')}\n`);
});

test('the deployed extension runs nginx -t in the sandbox it describes, and says so in status and metrics', async () => {
  const status = await fetchInService(EXTENSION_SERVICE, 8081, '/v1/status');
  expect(status.status).toBe(200);
  expect(JSON.parse(status.body).sandbox).toMatchObject({ networkIsolated: true, dockerSocketHidden: true, secretsHidden: true, uid: 65534, capabilities: '0000000000000400', problems: [] });
  // A config was validated and published in the deployed container (nginx -t binds 80/443 there).
  expect(JSON.parse(status.body).serving).toMatch(/^signalbox-/);
  expect(JSON.parse(status.body).sandbox.memoryLimitBytes).toBeGreaterThan(0);
  const metrics = (await fetchInService(EXTENSION_SERVICE, 8081, '/metrics')).body;
  for (const aspect of ['network', 'docker_socket', 'secrets', 'unprivileged', 'memory_limit']) {
    expect(metrics).toContain(`signalbox_extension_sandbox_isolated{aspect="${aspect}"} 1`);
  }
  // In the extension container itself signalbox-core resolves (control network); nginx -t in the
  // sandbox, run by the deployed code, cannot resolve it: it has no network.
  const script =
    "import('/app/packages/extension/dist/nginx-validator.js').then(async(m)=>{const v=new m.NginxValidator();" +
    'const r=await v.validate((p)=>`pid ${p.pidPath};\\nevents {}\\nhttp { access_log off; client_body_temp_path ${p.tempDir}; proxy_temp_path ${p.tempDir}; fastcgi_temp_path ${p.tempDir}; uwsgi_temp_path ${p.tempDir}; scgi_temp_path ${p.tempDir};' +
    ' upstream u { server signalbox-core:8080; } server { listen 18099; location / { proxy_pass http://u; } } }\\n`,[]);' +
    "const dns=await import('node:dns/promises').then((d)=>d.lookup('signalbox-core')).then(()=>'resolves',()=>'fails');" +
    'process.stdout.write(JSON.stringify({r,dns}));})';
  const r = await execInService(EXTENSION_SERVICE, ['node', '-e', script]);
  expect(r.exitCode).toBe(0);
  const out = JSON.parse(r.stdout) as { r: { ok: boolean; error?: string }; dns: string };
  expect(out.dns).toBe('resolves');
  expect(out.r.ok).toBe(false);
  expect(out.r.error).toMatch(/host not found in upstream "signalbox-core:8080"/);
});
