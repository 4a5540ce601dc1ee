// Hitless benchmark: wrk drives one routed service through the proxy (127.0.0.1:8080) for a fixed time
// while N routine changes happen to OTHER services on the same, already-joined network (create, scale,
// relabel, remove: each a new model, a new config, a graceful reload; never a proxy roll). Reports
// non-2xx and socket errors seen by wrk, whether a WebSocket opened before the changes still echoes,
// the proxy's reloads (agent metric), how old nginx workers drain, and proxy memory across reloads.
//
//   node packages/e2e/bench/hitless.mjs [CHANGES=200] [DURATION_S=120]
// SBX_PERF_HTTPS=1: wrk over HTTPS (PublishedSSLPort, TLS ended by the routing task's TLS front) to a
// target serving `localhost` (wrk sends the URL's host as SNI) with a self-signed certificate secret.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { docker, HTTP_PORT, removeService, sleep } from './lib.mjs';
import {
  PERF_NET,
  demoSpec,
  ensureAnchor,
  ensureWrk,
  load,
  machine,
  proxyContainer,
  proxyMetrics,
  proxyShutdownTimeout,
  removeServicesByPrefix,
  routeStable,
  runWrk,
  startSampler,
  waitUntil,
} from './perf-lib.mjs';

const CHANGES = Number(process.argv[2] ?? 200);
const DURATION_S = Number(process.argv[3] ?? 120);
const HTTPS = process.env.SBX_PERF_HTTPS === '1';
const HTTPS_PORT = Number(process.env.SIGNALBOX_HTTPS_PORT ?? 8443);
const TARGET = HTTPS ? 'sbx-perf-hitless-tls-target' : 'sbx-perf-hitless-target';
const TARGET_HOST = HTTPS ? 'localhost' : 'hitless.perf.test';
const CERT_SECRET = 'sbx-perf-hitless-cert';
const KEY_SECRET = 'sbx-perf-hitless-key';
const CHURN = 'sbx-perf-hitless-churn-';
const MAX_LIVE = 4;
const SLICE_S = Number(process.env.SBX_PERF_SLICE_S ?? 10);
// SBX_PERF_CONNECTION_CLOSE=1: a new connection per request, to tell listener handoff from keepalive races.
const CLOSE = process.env.SBX_PERF_CONNECTION_CLOSE === '1';

const non2xxOf = (r) =>
  Object.entries(r.statuses)
    .filter(([k]) => k < 200 || k > 299)
    .reduce((n, [, v]) => n + v, 0);
const sockErrOf = (r) =>
  Object.entries(r.errors)
    .filter(([k]) => k !== 'status')
    .reduce((n, [, v]) => n + v, 0);

function safeMetrics(id) {
  try {
    return proxyMetrics(id);
  } catch {
    return undefined;
  }
}

const L = (host, extra = {}) => ({ 'com.docker.lb.hosts': host, 'com.docker.lb.port': '80', 'com.docker.lb.network': PERF_NET, ...extra });

/** A WebSocket through the proxy that sends one message a second and checks each echo. */
function openWebSocket() {
  const st = { opened: false, sent: 0, echoed: 0, closedAt: undefined, closeCode: undefined, errors: [] };
  const ws = new WebSocket(`ws://127.0.0.1:${HTTP_PORT}/ws`, { headers: { host: TARGET_HOST }, handshakeTimeout: 5000 });
  let timer;
  const ready = new Promise((resolve) => {
    ws.on('open', () => {
      st.opened = true;
      resolve(true);
      timer = setInterval(() => {
        if (ws.readyState === WebSocket.OPEN) ws.send(`m${st.sent++}`);
      }, 1000);
    });
    ws.on('error', (e) => {
      st.errors.push(e.message);
      resolve(false);
    });
  });
  ws.on('message', () => st.echoed++);
  ws.on('close', (code) => {
    st.closedAt = Date.now();
    st.closeCode = code;
    clearInterval(timer);
  });
  return {
    st,
    ready,
    /** Sends one more message and waits up to 3 s for its echo. */
    async probe() {
      if (ws.readyState !== WebSocket.OPEN) return false;
      const before = st.echoed;
      ws.send('final');
      st.sent++;
      return Boolean(await waitUntil(async () => st.echoed > before, 3000, 20));
    },
    close() {
      clearInterval(timer);
      ws.terminate();
    },
  };
}

/** The next routine change; returns a short description. */
async function change(i, live) {
  const k = i % 4;
  if (live.length < 2 || (k === 0 && live.length < MAX_LIVE)) {
    const name = `${CHURN}${i}`;
    await docker.createService(demoSpec(name, L(`c${i}.perf.test`)));
    live.push({ name, replicas: 1 });
    return 'create';
  }
  if (k === 1 || k === 0) {
    const s = live[i % live.length];
    const svc = docker.getService(s.name);
    const info = await svc.inspect();
    s.replicas = s.replicas === 1 ? 2 : 1;
    await svc.update({ _query: { version: info.Version.Index }, ...info.Spec, Mode: { Replicated: { Replicas: s.replicas } } });
    return 'scale';
  }
  if (k === 2) {
    const s = live[(i >> 2) % live.length];
    const svc = docker.getService(s.name);
    const info = await svc.inspect();
    await svc.update({ _query: { version: info.Version.Index }, ...info.Spec, Labels: L(`c${i}.perf.test,www.c${i}.perf.test`) });
    return 'relabel';
  }
  const s = live.shift();
  await removeService(s.name);
  return 'remove';
}

/** The target's certificate and key as secrets (self-signed for localhost), made once. */
async function ensureCertificateSecrets() {
  const have = new Set((await docker.listSecrets()).map((x) => x.Spec.Name));
  if (have.has(CERT_SECRET) && have.has(KEY_SECRET)) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-hitless-'));
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '30', '-subj', '/CN=localhost', '-keyout', path.join(dir, 'key'), '-out', path.join(dir, 'cert')],
      { stdio: 'ignore' },
    );
    for (const [name, file] of [
      [CERT_SECRET, 'cert'],
      [KEY_SECRET, 'key'],
    ]) {
      if (!have.has(name)) await docker.createSecret({ Name: name, Data: readFileSync(path.join(dir, file)).toString('base64') });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  ensureWrk();
  console.error(`hitless: preparing (load ${load()})`);
  await ensureAnchor();
  await removeServicesByPrefix(CHURN);
  const targetExists = await docker
    .getService(TARGET)
    .inspect()
    .catch(() => undefined);
  if (HTTPS) await ensureCertificateSecrets();
  const tls = HTTPS ? { 'com.docker.lb.ssl_cert': CERT_SECRET, 'com.docker.lb.ssl_key': KEY_SECRET } : {};
  if (!targetExists) await docker.createService(demoSpec(TARGET, L(TARGET_HOST, { 'com.docker.lb.websocket_endpoints': '/ws', ...tls }), 2));
  if (!(await routeStable(TARGET_HOST, 10, 120_000))) throw new Error(`${TARGET_HOST} never answered`);
  await sleep(3000); // let the target's own reload drain before measuring

  const proxy = await proxyContainer();
  const shutdownLine = proxyShutdownTimeout(proxy.id);
  const sampler = startSampler(proxy.id, 100, (DURATION_S + 180) * 1000);
  const ws = openWebSocket();
  if (!(await ws.ready)) throw new Error(`websocket did not open: ${ws.st.errors.join('; ')}`);
  const wsContainer = proxy.id;
  const loadStart = load();

  // Changes run in the background at a routine pace, timestamped.
  const live = [];
  const changes = []; // { at, kind } or { at, error }
  let stopChanges = false;
  const started = Date.now();
  const changeDeadline = started + (DURATION_S - 15) * 1000; // leave time for the last reloads to land
  const changer = (async () => {
    await sleep(2000);
    for (let i = 0; i < CHANGES && !stopChanges && Date.now() < changeDeadline; i++) {
      try {
        changes.push({ at: Date.now(), kind: await change(i, live) });
      } catch (e) {
        changes.push({ at: Date.now(), error: e.message });
      }
      await sleep(300); // one change every ~300 ms on top of the API call itself
    }
    for (const s of live.splice(0)) await removeService(s.name).catch(() => undefined);
  })();

  // wrk in slices, so a slice during which the proxy rolled (other people's network changes do that)
  // can be told apart and left out instead of spoiling the whole run.
  const slices = [];
  // One more WebSocket per slice, all kept open: each lands on the worker generation of its moment, and
  // every generation holding one keeps draining (up to worker_shutdown_timeout) after later reloads.
  const extraWs = [];
  while (Date.now() - started < DURATION_S * 1000) {
    if (extraWs.length < 20) extraWs.push(openWebSocket());
    const left = Math.ceil((DURATION_S * 1000 - (Date.now() - started)) / 1000);
    const durationS = Math.min(SLICE_S, left);
    if (durationS < 2) break;
    const before = await proxyContainer();
    if (!before || !(await routeStable(TARGET_HOST, 3, 60_000))) {
      await sleep(500);
      continue;
    }
    sampler.rollEnded();
    const m0 = safeMetrics(before.id);
    const t0 = Date.now();
    const url = HTTPS ? `https://localhost:${HTTPS_PORT}/` : `http://127.0.0.1:${HTTP_PORT}/`;
    const r = await runWrk({ url, host: TARGET_HOST, threads: 1, connections: 8, durationS, timeoutS: 5, close: CLOSE });
    const t1 = Date.now();
    const after = await proxyContainer();
    const m1 = after && after.id === before.id ? safeMetrics(after.id) : undefined;
    const rolled = !after || after.id !== before.id || sampler.rolls.some((x) => x.at >= t0 - 500 && x.at <= t1);
    slices.push({ t0, t1, r, rolled, reloads: m0 && m1 ? m1.reloads - m0.reloads : undefined, failures: m0 && m1 ? m1.reloadFailures - m0.reloadFailures : undefined });
    process.stderr.write(`slice ${slices.length}: ${r.requests} req, non-2xx ${non2xxOf(r)}, socket errors ${sockErrOf(r)}${rolled ? ', PROXY ROLLED' : ''}\n`);
  }
  stopChanges = true;
  await changer;
  await sleep(1000);
  const wsAlive = await ws.probe();
  const lastSample = sampler.samples[sampler.samples.length - 1];
  const extraAlive = (await Promise.all(extraWs.map((w) => w.probe()))).filter(Boolean).length;
  ws.close();
  for (const w of extraWs) w.close();
  await sleep(1500);
  const drain = sampler.stop();
  const afterClose = sampler.samples[sampler.samples.length - 1];

  const valid = slices.filter((x) => !x.rolled);
  const sum = (xs, f) => xs.reduce((n, x) => n + (f(x) ?? 0), 0);
  const inValid = (at) => valid.some((x) => at >= x.t0 && at <= x.t1);
  const done = changes.filter((c) => c.kind);
  const kinds = {};
  for (const c of done) kinds[c.kind] = (kinds[c.kind] ?? 0) + 1;
  const statuses = {};
  for (const x of valid) for (const [k, v] of Object.entries(x.r.statuses)) statuses[k] = (statuses[k] ?? 0) + v;
  const errors = {};
  for (const x of valid) for (const [k, v] of Object.entries(x.r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const requests = sum(valid, (x) => x.r.requests);
  const secs = sum(valid, (x) => x.r.durationS);
  const p99 = Math.max(0, ...valid.map((x) => x.r.latencyMs.p99));
  const maxLat = Math.max(0, ...valid.map((x) => x.r.latencyMs.max));
  const p = (x) => x.toFixed(1);
  const wsRolled = drain.rolls.some((x) => x.from === wsContainer && (ws.st.closedAt === undefined || x.at <= ws.st.closedAt));

  console.log(`hitless benchmark — ${machine()}; load at start ${loadStart}, at end ${load()}`);
  console.log(
    `wrk: 1 thread, 8 ${CLOSE ? 'connections, Connection: close (a new connection per request)' : 'keepalive connections'}, ${slices.length} slices of ≤${SLICE_S} s (${p(sum(slices, (x) => x.r.durationS))} s) to ${HTTPS ? `https://localhost:${HTTPS_PORT}/` : `http://127.0.0.1:${HTTP_PORT}/`} (Host ${TARGET_HOST}, 2 demo tasks)`,
  );
  console.log(
    `changes: ${done.length} of ${CHANGES} (${Object.entries(kinds)
      .map(([k, v]) => `${v} ${k}`)
      .join(', ')}; ${changes.length - done.length} API errors) on network ${PERF_NET}; ${changes.filter((c) => c.kind && inValid(c.at)).length} of them inside the slices counted below`,
  );
  console.log(`slices left out because the proxy rolled (a change elsewhere in the swarm): ${slices.length - valid.length} of ${slices.length}`);
  console.log(`requests (counted slices): ${requests} in ${p(secs)} s = ${(requests / Math.max(secs, 1e-9)).toFixed(0)} req/s; latency p99 ≤ ${p99} ms (worst slice), max ${maxLat} ms`);
  console.log(
    `statuses: ${JSON.stringify(statuses)}; non-2xx ${Object.entries(statuses)
      .filter(([k]) => k < 200 || k > 299)
      .reduce((n, [, v]) => n + v, 0)}; socket errors ${Object.entries(errors)
      .filter(([k]) => k !== 'status')
      .reduce((n, [, v]) => n + v, 0)} ${JSON.stringify(errors)}  (target 0)`,
  );
  console.log(
    `proxy reloads in counted slices: ${sum(valid, (x) => x.reloads)} (agent metric signalbox_proxy_reloads_total), reload failures ${sum(valid, (x) => x.failures)}; new nginx worker generations seen over the whole run ${drain.newWorkerGenerations}`,
  );
  const d = [...drain.drainDoneMs].sort((a, b) => a - b);
  const q = (f) => (d.length ? `${(d[Math.min(d.length - 1, Math.ceil(f * d.length) - 1)] / 1000).toFixed(2)} s` : '-');
  console.log(
    `old workers: ${drain.drainingSeen} seen 'worker process is shutting down'; gone after median ${q(0.5)}, p95 ${q(0.95)}, max ${q(1)} (sampled every ${drain.everyMs} ms); at most ${drain.maxDraining} at once; ${drain.stillDraining} still draining at the end; config: ${shutdownLine || 'no worker_shutdown_timeout'}`,
  );
  console.log(
    `proxy memory: nginx processes RSS ${p(drain.nginxMb.first)} MiB at start, max ${p(drain.nginxMb.max)}, end ${p(drain.nginxMb.last)}; container cgroup rss ${drain.cgroupMb.first === undefined ? '-' : `${p(drain.cgroupMb.first)} → max ${p(drain.cgroupMb.max)} → ${p(drain.cgroupMb.last)} MiB`}`,
  );
  const firstChangeAt = changes[0]?.at ?? started;
  const wsLine = wsAlive
    ? `still echoes after the changes (${ws.st.echoed}/${ws.st.sent} echoed)`
    : `closed ${ws.st.closedAt ? `${p((ws.st.closedAt - firstChangeAt) / 1000)} s after the first change (code ${ws.st.closeCode})` : '(no close seen)'}; ${ws.st.echoed}/${ws.st.sent} echoed${wsRolled ? '; its proxy task was replaced (a roll) before that' : ''}`;
  console.log(`websocket opened before the changes: ${wsLine}`);
  const mib = (x) => (x ? `${p(x.nginxRssKb / 1024)} MiB` : '-');
  console.log(
    `websockets opened one per slice during the changes: ${extraAlive}/${extraWs.length} still echo at the end; old workers still draining then: ${lastSample?.draining.length ?? '-'} (nginx RSS ${mib(lastSample)}); 1.5 s after closing every websocket: ${afterClose?.draining.length ?? '-'} (nginx RSS ${mib(afterClose)})`,
  );
  if (process.env.SBX_PERF_KEEP !== '1') await removeService(TARGET);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
