// Scale benchmark: synthetic swarms of N labelled services (3 tasks each on average, mixed features)
// through the compiled builder and renderer (packages/*/dist), then real nginx: `nginx -t` through the
// extension's NginxValidator, and a real nginx started on loopback high ports with that config to time
// `nginx -s reload` until the new workers answer. Each size runs in its own process so memory figures
// do not mix. No Docker, no network beyond 127.0.0.1.
//
//   node packages/e2e/bench/scale.mjs [SIZES]   e.g. 1000,5000,10000 (default)
//   env SCALE_RELOAD=0 skips the real nginx start/reload.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { service, snapshot, tasksOf } from './synthetic.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '../../..');
const MODEL = path.join(ROOT, 'packages/model/dist/index.js');
const RENDER = path.join(ROOT, 'packages/extension/dist/render/index.js');
const VALIDATOR = path.join(ROOT, 'packages/extension/dist/nginx-validator.js');
const HTTP_PORT = Number(process.env.SCALE_HTTP_PORT ?? 39480);
const HTTPS_PORT = Number(process.env.SCALE_HTTPS_PORT ?? 39443);
const TARGETS = [{ name: 'default', serviceCluster: '', networks: [] }];
const PROBE_HOST = 'reload-probe-old.scale.test';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes) => bytes / 1048576;

/** Wall and CPU milliseconds of fn (sync or async). */
async function timed(fn) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const value = await fn();
  const c = process.cpuUsage(c0);
  return { value, wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 };
}

function get(port, host, pathName = '/', timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathName, headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

async function waitFor(fn, timeoutMs, stepMs = 5) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await fn()) return true;
    await sleep(stepMs);
  }
  return false;
}

/** PSS (kB) of the nginx processes under `masterPid`, and how many workers are shutting down. */
function nginxProcs(masterPid) {
  const out = { masterKb: 0, workersKb: 0, workers: 0, shuttingDown: 0 };
  for (const pid of readdirPids()) {
    let status;
    let cmd;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    } catch {
      continue;
    }
    const ppid = Number(/PPid:\s+(\d+)/.exec(status)?.[1]);
    // PSS: pages shared between master and workers (copy-on-write after fork) counted once in all.
    let rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    try {
      rss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? rss);
    } catch {
      /* no smaps_rollup: RSS */
    }
    if (pid === masterPid) out.masterKb = rss;
    else if (ppid === masterPid && cmd.startsWith('nginx: worker process')) {
      out.workersKb += rss;
      out.workers++;
      if (cmd.includes('shutting down')) out.shuttingDown++;
    }
  }
  return out;
}

/** user + system CPU ms a process has used so far (/proc/PID/stat, clock ticks of 10 ms). */
function procCpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Runs a command to completion; returns the user + system CPU ms it (and its children) used. */
function childCpuMs(cmd, args) {
  const res = spawnSync('bash', ['-c', '"$@" >/dev/null 2>&1; rc=$?; times; exit $rc', 'bash', cmd, ...args], { encoding: 'utf8', timeout: 300_000 });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${res.status})`);
  // `times`: two lines "XmY.YYYs XmY.YYYs" (shell, then children).
  const line = res.stdout.trim().split('\n').pop();
  const secs = [...line.matchAll(/(\d+)m([\d.]+)s/g)].map((m) => Number(m[1]) * 60 + Number(m[2]));
  return (secs[0] + secs[1]) * 1000;
}

function readdirPids() {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number);
}

/** One size, in this process: prints one JSON line. */
async function one(n) {
  const { buildClusterModels, defaultExtensionConfig } = await import(MODEL);
  const { renderNginxConf, environmentFor, defaultTemplatesDir, fragmentCacheFor } = await import(RENDER);
  const { NginxValidator } = await import(VALIDATOR);
  const cache = fragmentCacheFor(environmentFor(defaultTemplatesDir()));
  const r = { n, tasks: 0 };
  global.gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  r.rssStartMb = mb(process.memoryUsage().rss);

  const snap = snapshot(n);
  r.tasks = snap.services.reduce((s, x) => s + x.tasks.length, 0);
  const ext = defaultExtensionConfig('default');
  ext.TargetPort = HTTP_PORT;
  ext.TargetSSLPort = HTTPS_PORT;
  const opts = { secretsDir: '/run/secrets', proxyId: 'scale-bench' };

  const build = await timed(() => buildClusterModels(snap, TARGETS).get('default'));
  const model = build.value;
  r.build = { wall: build.wall, cpu: build.cpu };
  r.vhosts = model.virtualHosts.length;
  r.upstreams = new Set(model.virtualHosts.flatMap((v) => v.locations.map((l) => l.upstream.name))).size;
  r.disabled = model.services.filter((s) => s.status !== 'enabled').length;
  global.gc?.();
  r.heapModelMb = mb(process.memoryUsage().heapUsed - heap0);
  r.rssAfterBuildMb = mb(process.memoryUsage().rss);

  const cold = await timed(() => renderNginxConf(model, ext, opts));
  r.renderCold = { wall: cold.wall, cpu: cold.cpu };
  const text = cold.value;
  r.configBytes = Buffer.byteLength(text);
  r.configLines = text.split('\n').length - 1;
  // What nginx parses: upstreams and server blocks as rendered (identical ones are shared).
  r.renderedUpstreams = (text.match(/^    upstream /gm) ?? []).length;
  r.renderedServers = (text.match(/^    server \{/gm) ?? []).length;
  cache.clear();
  const full = await timed(() => renderNginxConf(model, ext, opts));
  r.renderFull = { wall: full.wall, cpu: full.cpu };
  if (full.value !== text) throw new Error('two full renders differ');

  // One-service change: service 5 scales from its task count to one more; and one service is added
  // (its redirect source is the reload probe below). Rebuild + re-render with the warm cache.
  const snap2 = { ...snap, services: [...snap.services] };
  snap2.services[5] = service(5, tasksOf(5) + 1);
  const build2 = await timed(() => buildClusterModels(snap2, TARGETS).get('default'));
  r.rebuildOneChange = { wall: build2.wall, cpu: build2.cpu };
  const missesBefore = cache.misses;
  const again = await timed(() => renderNginxConf(build2.value, ext, opts));
  r.renderOneChange = { wall: again.wall, cpu: again.cpu, blocksRendered: cache.misses - missesBefore };
  cache.clear();
  if (renderNginxConf(build2.value, ext, opts) !== again.value) throw new Error('warm one-change render differs from a cold one');
  global.gc?.();
  r.rssAfterRenderMb = mb(process.memoryUsage().rss);

  // nginx -t as the extension runs it (unprivileged, throw-away prefix, dummy certificates).
  const validator = new NginxValidator({ timeoutMs: 120_000 });
  let sandboxRender = 0;
  const check = await timed(() =>
    validator.validate((s) => {
      const t0 = performance.now();
      const out = renderNginxConf(
        model,
        { ...ext, Config: { ...ext.Config, PidPath: s.pidPath, AccessLogPath: `${s.prefix}/access.log`, ErrorLogPath: `${s.prefix}/error.log` } },
        { ...opts, secretsDir: s.secretsDir, tempDir: s.tempDir },
      );
      sandboxRender = performance.now() - t0;
      return out;
    }, model.proxySecrets),
  );
  if (!check.value.ok) throw new Error(`nginx -t failed: ${check.value.error}`);
  r.nginxT = { wall: check.wall - sandboxRender, sandboxRender };

  if (process.env.SCALE_RELOAD !== '0') r.reload = await realNginx(snap, ext, opts, renderNginxConf, buildClusterModels, snap2);
  r.maxRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(JSON.stringify(r));
}

/**
 * A service whose one server is a local HTTP server that holds every request until released: a request
 * held across a reload keeps the old worker draining, as a WebSocket or long download would, so the
 * memory of a draining generation can be measured.
 */
const HOLD_PORT = Number(process.env.SCALE_HOLD_PORT ?? 39490);
const HOLD_HOST = 'hold.scale.test';
function withHold(snap) {
  const hold = {
    ...service(999_999, 1),
    name: 'sbx-perf-scale-hold',
    labels: { 'com.docker.lb.hosts': HOLD_HOST, 'com.docker.lb.port': '80' },
    networkIds: [],
    ports: [{ target: 80, published: HOLD_PORT, protocol: 'tcp', mode: 'host' }],
  };
  return { ...snap, services: [...snap.services, hold], nodes: snap.nodes.map((n) => ({ ...n, addr: '127.0.0.1' })) };
}

/** Start nginx with the N-service config on loopback ports, then time a reload to the one-change config. */
async function realNginx(snap, ext, opts, renderNginxConf, buildClusterModels, snap2) {
  const prefix = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-scale-nginx-'));
  const out = {};
  let masterPid;
  const held = [];
  const holdServer = http.createServer((_req, res) => held.push(res));
  await new Promise((resolve) => holdServer.listen(HOLD_PORT, '127.0.0.1', resolve));
  const model = buildClusterModels(withHold(snap), TARGETS).get('default');
  try {
    const secretsDir = path.join(prefix, 'secrets');
    const tempDir = path.join(prefix, 'temp');
    mkdirSync(secretsDir);
    mkdirSync(tempDir);
    if (process.getuid?.() === 0) chownSync(tempDir, 33, 33); // www-data workers buffer there
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '30', '-subj', '/CN=sbx-perf-scale', '-keyout', path.join(prefix, 'key.pem'), '-out', path.join(prefix, 'cert.pem')],
      { stdio: 'ignore' },
    );
    const pem = Buffer.concat([readFileSync(path.join(prefix, 'cert.pem')), readFileSync(path.join(prefix, 'key.pem'))]);
    for (const s of model.proxySecrets) writeFileSync(path.join(secretsDir, s), pem);
    const conf = path.join(prefix, 'nginx.conf');
    const localExt = { ...ext, Config: { ...ext.Config, PidPath: path.join(prefix, 'nginx.pid'), AccessLogPath: '', ErrorLogPath: path.join(prefix, 'error.log') } };
    if (process.getuid?.() !== 0) localExt.Config.User = '';
    const localOpts = { ...opts, secretsDir, tempDir };
    // Listen on loopback only: the rendered `listen PORT` means every address.
    const loopback = (text) => text.replace(/^(\s+listen )(\d+)([ ;])/gm, '$1127.0.0.1:$2$3');
    writeFileSync(conf, loopback(renderNginxConf(model, localExt, localOpts)));
    const nginxArgs = ['-p', `${prefix}/`, '-c', conf, '-e', path.join(prefix, 'error.log')];
    // CPU time of a plain `nginx -t` of the same config (bash's `times` reports its children's): the
    // wall times above and below grow with whatever else runs on this shared machine, this does not.
    out.nginxTCpuMs = childCpuMs('nginx', ['-t', '-q', ...nginxArgs]);

    let t0 = performance.now();
    const start = spawnSync('nginx', nginxArgs, { encoding: 'utf8', timeout: 120_000 });
    if (start.status !== 0) throw new Error(`nginx did not start: ${start.stderr}`);
    if (!(await waitFor(async () => (await get(HTTP_PORT, 'x', '/signalbox-health')) === 200, 60_000))) throw new Error('nginx never answered');
    out.startMs = performance.now() - t0;
    masterPid = Number(readFileSync(path.join(prefix, 'nginx.pid'), 'utf8'));
    out.memBefore = nginxProcs(masterPid);
    if ((await get(HTTP_PORT, PROBE_HOST)) === 302) throw new Error('probe host answers before the reload');

    // The changed config: the one-change snapshot plus one new service whose redirect source is the probe.
    const extra = service(snap2.services.length, 2);
    extra.labels = {
      'com.docker.lb.hosts': 'new.scale.test',
      'com.docker.lb.port': '8080',
      'com.docker.lb.network': extra.labels['com.docker.lb.network'],
      'com.docker.lb.redirects': `http://${PROBE_HOST},http://new.scale.test`,
    };
    const changed = buildClusterModels(withHold({ ...snap2, services: [...snap2.services, extra] }), TARGETS).get('default');
    if (!changed.redirects.some((x) => x.sourceHost === PROBE_HOST)) throw new Error(`probe service not routed: ${JSON.stringify(changed.services.find((x) => x.name === extra.name))}`);
    writeFileSync(conf, loopback(renderNginxConf(changed, localExt, localOpts)));

    // SIGHUP to the master, as the proxy agent reloads (`nginx -s reload` would first parse the whole
    // config once more in the signalling process just to find the pid file).
    // One request held by the backend across the reload (like a WebSocket): its worker keeps draining.
    const heldReq = get(HTTP_PORT, HOLD_HOST, '/', 300_000);
    if (!(await waitFor(async () => held.length > 0, 10_000))) throw new Error('the held request never reached the hold server');
    t0 = performance.now();
    const masterCpu0 = procCpuMs(masterPid);
    process.kill(masterPid, 'SIGHUP');
    if (!(await waitFor(async () => (await get(HTTP_PORT, PROBE_HOST)) === 302, 120_000))) throw new Error('new workers never answered');
    out.reloadMs = performance.now() - t0;
    // The master parses the new config and forks the workers; their start-up is not counted.
    out.reloadMasterCpuMs = procCpuMs(masterPid) - masterCpu0;
    // Idle old workers leave at once; the one holding the request drains.
    await waitFor(
      async () => {
        const p = nginxProcs(masterPid);
        return p.workers - p.shuttingDown <= Math.max(1, ext.Config.WorkerProcesses) && p.shuttingDown <= 1;
      },
      30_000,
      20,
    );
    await sleep(500);
    out.memDraining = nginxProcs(masterPid);
    for (const res of held) res.end('released\n');
    const heldStatus = await heldReq;
    if (heldStatus !== 200) throw new Error(`the held request ended with ${heldStatus}`);
    await waitFor(async () => nginxProcs(masterPid).shuttingDown === 0, 30_000, 20);
    out.oldWorkersGoneMs = performance.now() - t0;
    out.memAfter = nginxProcs(masterPid);
  } finally {
    if (masterPid) {
      try {
        process.kill(masterPid, 'SIGQUIT');
      } catch {
        /* already gone */
      }
      await waitFor(async () => !existsSync(`/proc/${masterPid}`), 10_000, 50);
    }
    for (const res of held) res.destroy();
    holdServer.close();
    rmSync(prefix, { recursive: true, force: true });
  }
  return out;
}

const ms = (x) => (x === undefined ? '-' : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${Math.round(x)} ms`);
const pad = (s, w) => String(s).padStart(w);
const pss = (m) => (m ? `${((m.masterKb + m.workersKb) / 1024).toFixed(0)} MiB` : '-');

async function main() {
  if (process.argv[2] === '--one') return one(Number(process.argv[3]));
  const arg = process.argv.slice(2).find((a) => !a.startsWith('--'));
  const sizes = (arg ?? '100,1000,5000,10000,20000').split(',').map(Number);
  const results = [];
  for (const n of sizes) {
    process.stderr.write(
      `scale: ${n} services ... (load ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')})\n`,
    );
    const res = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--one', String(n)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 600_000 });
    if (res.status !== 0) throw new Error(`size ${n} failed (exit ${res.status})`);
    results.push(JSON.parse(res.stdout.trim().split('\n').pop()));
  }
  const cols = results.map((r) => r.n);
  const w = 19;
  const row = (label, f) => console.log(label.padEnd(46) + cols.map((_, i) => pad(f(results[i]), w)).join(''));
  console.log(
    `scale benchmark (node ${process.version}, ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}; wall time, CPU time in brackets)`,
  );
  row('services', (r) => r.n);
  row('tasks / virtual hosts / upstreams', (r) => `${r.tasks}/${r.vhosts}/${r.upstreams}`);
  row('rendered upstream / server blocks', (r) => `${r.renderedUpstreams ?? '-'}/${r.renderedServers ?? '-'}`);
  row('build models (core)', (r) => ms(r.build.wall));
  row('  cpu', (r) => `(${ms(r.build.cpu)})`);
  row('render, first in process (cold)', (r) => ms(r.renderCold.wall));
  row('render, full (fragment cache empty)', (r) => ms(r.renderFull.wall));
  row('  cpu', (r) => `(${ms(r.renderFull.cpu)})`);
  row('rebuild after a one-service change', (r) => ms(r.rebuildOneChange.wall));
  row('re-render after a one-service change', (r) => ms(r.renderOneChange.wall));
  row('  blocks rendered / cpu', (r) => `${r.renderOneChange.blocksRendered} (${ms(r.renderOneChange.cpu)})`);
  row('config size', (r) => `${mb(r.configBytes).toFixed(2)} MiB`);
  row('nginx -t (sandboxed, as the extension)', (r) => ms(r.nginxT.wall));
  row('nginx start until it answers', (r) => ms(r.reload?.startMs));
  row('reload (SIGHUP) until new workers answer', (r) => ms(r.reload?.reloadMs));
  row('  ... until the old worker (held request) left', (r) => ms(r.reload?.oldWorkersGoneMs));
  row('validate + reload', (r) => ms(r.nginxT.wall + (r.reload?.reloadMs ?? NaN)));
  row('nginx -t, CPU (user + system)', (r) => `(${ms(r.reload?.nginxTCpuMs)})`);
  row('reload, master CPU (parse + fork)', (r) => `(${ms(r.reload?.reloadMasterCpuMs)})`);
  row('validate + reload, CPU', (r) => `(${ms(validateReloadCpu(r))})`);
  row('nginx memory (PSS), master + worker', (r) => pss(r.reload?.memAfter));
  row('  ... while one old worker drains', (r) => pss(r.reload?.memDraining));
  row('builder heap: snapshot + model', (r) => `${r.heapModelMb.toFixed(0)} MiB`);
  row('process RSS after build / after render', (r) => `${r.rssAfterBuildMb.toFixed(0)}/${r.rssAfterRenderMb.toFixed(0)} MiB`);
  row('process peak RSS (build+render+check)', (r) => `${r.maxRssMb.toFixed(0)} MiB`);
  // Targets (issue 11): validate + reload under 5 s at 10 000 services and under 1 s at 1 000. Judged
  // on wall time; CPU time beside it, because on this shared 2-CPU machine wall time includes waiting.
  for (const [n, limit] of [
    [1000, 1000],
    [10000, 5000],
  ]) {
    const r = results.find((x) => x.n === n);
    if (!r?.reload) continue;
    const wall = r.nginxT.wall + r.reload.reloadMs;
    console.log(
      `target ${n} services: validate + reload < ${ms(limit)} ${wall < limit ? 'MET' : 'MISSED'} (${ms(wall)} wall, ${ms(validateReloadCpu(r))} CPU; render ${ms(r.renderFull.wall)}, PSS ${pss(r.reload.memAfter)})`,
    );
  }
  const plot = process.argv.find((a) => a.startsWith('--plot='))?.slice('--plot='.length);
  if (plot) writePlot(results, plot);
  if (process.argv.includes('--json')) console.log(JSON.stringify(results));
}

function validateReloadCpu(r) {
  return r.reload ? r.reload.nginxTCpuMs + r.reload.reloadMasterCpuMs : undefined;
}

/** The figures as a data file beside `png` and a gnuplot plot of them (seconds and MiB against services). */
function writePlot(results, png) {
  const dat = png.replace(/\.png$/, '') + '.dat';
  const lines = ['# services render_s nginx_t_s reload_s nginx_t_cpu_s reload_cpu_s pss_mib pss_draining_mib'];
  for (const r of results) {
    const m = (x) => (x ? ((x.masterKb + x.workersKb) / 1024).toFixed(0) : 'NaN');
    const s = (x) => (x === undefined ? 'NaN' : (x / 1000).toFixed(3));
    lines.push(
      [r.n, s(r.renderFull.wall), s(r.nginxT.wall), s(r.reload?.reloadMs), s(r.reload?.nginxTCpuMs), s(r.reload?.reloadMasterCpuMs), m(r.reload?.memAfter), m(r.reload?.memDraining)].join(' '),
    );
  }
  writeFileSync(dat, `${lines.join('\n')}\n`);
  const script = [
    `set terminal pngcairo size 1000,460 font ",10"`,
    `set output ${JSON.stringify(png)}`,
    `set multiplot layout 1,2 title "Signalbox scale benchmark (scripts/bench/scale.sh)"`,
    `set key left top; set grid; set xlabel "services"; set format x "%.0s%c"`,
    `set ylabel "seconds"; set title "time"`,
    `plot ${JSON.stringify(dat)} using 1:2 with linespoints title "render (full)", '' using 1:3 with linespoints title "nginx -t (wall)", '' using 1:4 with linespoints title "reload (wall)", '' using 1:5 with linespoints dt 2 title "nginx -t (CPU)", '' using 1:6 with linespoints dt 2 title "reload, master (CPU)"`,
    `set ylabel "MiB"; set title "nginx memory (PSS)"`,
    `plot ${JSON.stringify(dat)} using 1:7 with linespoints title "master + worker", '' using 1:8 with linespoints title "... + one draining old worker"`,
    `unset multiplot`,
  ].join('\n');
  const res = spawnSync('gnuplot', [], { input: script, encoding: 'utf8' });
  if (res.error || res.status !== 0) console.error(`gnuplot failed (apt-get install gnuplot-nox): ${res.error?.message ?? res.stderr}`);
  else console.log(`plot: ${png} (data ${dat})`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
