// Draining-generations benchmark: nginx memory under frequent reloads while long-lived connections are
// open, without and with the proxy agent's cap (ProxyMaxDrainingGenerations). Real nginx on loopback
// high ports, run by the agent's compiled Supervisor (@signalbox/proxy-agent's entry) as in the proxy
// container, with a synthetic N-service config (as scale.sh) plus one service whose backend holds
// every request open (a WebSocket stand-in). Before each reload one more request is held, so each
// retired generation keeps draining (worker_shutdown_timeout 1h, the default).
//
//   node packages/e2e/bench/draining.mjs [SERVICES] [RELOADS] [CAPS]   e.g. 5000 8 0,2
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { buildClusterModels, defaultExtensionConfig } from '@signalbox/model';
import { renderNginxConf } from '@signalbox/extension';
import { Supervisor } from '@signalbox/proxy-agent';
import { service, snapshot } from './synthetic.mjs';

const N = Number(process.argv[2] ?? 5000);
const RELOADS = Number(process.argv[3] ?? 8);
const CAPS = (process.argv[4] ?? '0,2').split(',').map(Number);
const HTTP_PORT = 39580;
const HTTPS_PORT = 39543;
const HOLD_PORT = 39590;
const HOLD_HOST = 'hold.drain.test';
/** Logger the Supervisor is given: quiet (pino is not a dependency of the bench package). */
const quiet = { info() {}, warn() {}, error() {}, debug() {}, trace() {}, fatal() {}, child: () => quiet };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

function pssKb(pid) {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** PSS of the master and all its workers, and how many are shutting down. */
function nginxMemory(master) {
  let kb = pssKb(master);
  let draining = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) !== master) continue;
      kb += pssKb(Number(d));
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes('shutting down')) draining++;
    } catch {
      /* gone */
    }
  }
  return { mib: kb / 1024, draining };
}

function get(pathName, host) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: HTTP_PORT, path: pathName, headers: { host }, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('aborted', () => resolve('cut'));
      res.on('error', () => resolve('cut'));
    });
    req.on('error', () => resolve('cut'));
    req.end();
  });
}

async function until(fn, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(20);
  }
  return false;
}

async function run(cap, text, prefix) {
  const conf = path.join(prefix, 'nginx.conf');
  writeFileSync(conf, text);
  const held = [];
  const hold = http.createServer((_req, res) => {
    res.writeHead(200);
    res.write('held\n');
    held.push(res);
  });
  await new Promise((r) => hold.listen(HOLD_PORT, '127.0.0.1', r));
  // drainingGraceMs 0: every generation counts at once (the reloads here come seconds apart; with the
  // agent's 30 s grace the cap would only act on generations still draining 30 s after their reload).
  const sup = new Supervisor({ nginxBin: 'nginx', configPath: conf, logger: quiet, maxDrainingGenerations: cap, drainingGraceMs: 0, confirmTimeoutMs: 120_000 });
  const rows = [];
  const requests = [];
  try {
    sup.start();
    if (!(await until(async () => sup.isRunning() && (await get('/signalbox-health', 'x')) === 200, 120_000))) throw new Error('nginx did not start');
    rows.push({ reload: 0, ...nginxMemory(sup.pid) });
    for (let i = 1; i <= RELOADS; i++) {
      const before = held.length;
      requests.push(get('/', HOLD_HOST));
      if (!(await until(() => held.length > before, 10_000))) throw new Error('held request did not arrive');
      const t0 = performance.now();
      const r = await sup.reload();
      if (!r.ok) throw new Error(`reload failed: ${r.reason}`);
      const ms = performance.now() - t0;
      await sleep(300);
      rows.push({ reload: i, ms, ...nginxMemory(sup.pid) });
    }
    for (const res of held) res.end('released\n');
    const outcomes = await Promise.all(requests);
    return { cap, rows, cut: outcomes.filter((o) => o === 'cut').length, completed: outcomes.filter((o) => o === 200).length };
  } finally {
    for (const res of held) res.destroy();
    await sup.stop('SIGQUIT');
    hold.closeAllConnections();
    await new Promise((r) => hold.close(r));
  }
}

async function main() {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-drain-'));
  try {
    const secretsDir = path.join(prefix, 'secrets');
    const tempDir = path.join(prefix, 'temp');
    mkdirSync(secretsDir);
    mkdirSync(tempDir);
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=sbx-perf-drain', '-keyout', path.join(prefix, 'k.pem'), '-out', path.join(prefix, 'c.pem')],
      { stdio: 'ignore' },
    );
    const pem = Buffer.concat([readFileSync(path.join(prefix, 'c.pem')), readFileSync(path.join(prefix, 'k.pem'))]);
    const snap = snapshot(N);
    const holdSvc = {
      ...service(999_999, 1),
      name: 'sbx-perf-drain-hold',
      labels: { 'com.docker.lb.hosts': HOLD_HOST, 'com.docker.lb.port': '80' },
      networkIds: [],
      ports: [{ target: 80, published: HOLD_PORT, protocol: 'tcp', mode: 'host' }],
    };
    const model = buildClusterModels({ ...snap, services: [...snap.services, holdSvc], nodes: snap.nodes.map((n) => ({ ...n, addr: '127.0.0.1' })) }, [
      { name: 'default', serviceCluster: '', networks: [] },
    ]).get('default');
    for (const s of model.proxySecrets) writeFileSync(path.join(secretsDir, s), pem);
    const ext = defaultExtensionConfig('default');
    ext.TargetPort = HTTP_PORT;
    ext.TargetSSLPort = HTTPS_PORT;
    ext.Config = { ...ext.Config, PidPath: path.join(prefix, 'nginx.pid'), AccessLogPath: '', ErrorLogPath: path.join(prefix, 'error.log') };
    if (process.getuid?.() !== 0) ext.Config.User = '';
    else execFileSync('chown', ['33:33', tempDir]);
    const text = renderNginxConf(model, ext, { secretsDir, tempDir, proxyId: 'drain-bench' }).replace(/^(\s+listen )(\d+)([ ;])/gm, '$1127.0.0.1:$2$3');
    if (!text.includes('worker_shutdown_timeout 1h')) throw new Error('expected the default worker_shutdown_timeout 1h');
    console.log(
      `draining benchmark: ${N} services (${(text.length / 1048576).toFixed(1)} MiB config), ${RELOADS} reloads, one request held open before each; ${os.cpus().length} CPUs, load ${load()}`,
    );
    const results = [];
    for (const cap of CAPS) {
      process.stderr.write(`cap ${cap} ... (load ${load()})\n`);
      results.push(await run(cap, text, prefix));
    }
    const head = ['reload', ...results.map((r) => `cap ${r.cap || 'none'}: draining / nginx PSS`)];
    console.log(head.map((h, i) => (i === 0 ? h.padEnd(8) : h.padStart(34))).join(''));
    for (let i = 0; i <= RELOADS; i++) {
      console.log([String(i).padEnd(8), ...results.map((r) => `${r.rows[i].draining} / ${r.rows[i].mib.toFixed(0)} MiB`.padStart(34))].join(''));
    }
    for (const r of results) {
      const max = Math.max(...r.rows.map((x) => x.mib));
      console.log(
        `cap ${r.cap || 'none'}: peak nginx PSS ${max.toFixed(0)} MiB; held requests completed ${r.completed}, cut ${r.cut}; reload ${Math.round(r.rows.slice(1).reduce((s, x) => s + x.ms, 0) / RELOADS)} ms on average`,
      );
    }
    console.log(`load at the end: ${load()}`);
  } finally {
    rmSync(prefix, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
