// Client-path benchmark: the data path as users get it. wrk runs in a network namespace of its own,
// joined to this host by a veth pair, and reaches the node on its veth address, so every request goes
// through iptables DNAT to the host-mode published ports (no docker-proxy, no loopback):
//   direct          the demo task itself, published in host mode on NODE:39600
//   Signalbox       the deployed proxy on NODE:8080 (PublishMode host), the stack's own config.toml
//                   (access log on), in front of that same task over the overlay
//   HAProxy, Caddy  Debian's, on NODE:39482/39483 on this host, in front of the same task (its
//                   docker_gwbridge address), one CPU each like the proxy's WorkerProcesses = 1
// Then the access-log options, each deployed through config.toml (the stack is redeployed, the proxy
// reloads), Signalbox measured again: AccessLogBuffer "0" (a write per line, the old default), a
// file inside the proxy container, a file on a named volume (ProxyMounts), syslog to the proxy agent's
// relay, and off; then single hop (ProxyEdge = false: no edge in front of the routing proxy). Each
// round right after a direct measurement (printed beside it). The stack is left on deploy/config.toml.
//
//   node packages/e2e/bench/clientpath.mjs [DURATION_S=8] [CONNECTIONS=32] [ROUNDS=2]
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { docker, removeService, sleep } from './lib.mjs';
import { PERF_NET, demoSpec, ensureAnchor, ensureWrk, load, machine, proxyContainer, routeStable, runWrk, waitUntil } from './perf-lib.mjs';
import { gwbridgeAddr, startCaddy, startHaproxy, stopAll } from './peers.mjs';

const DURATION_S = Number(process.argv[2] ?? 8);
const CONNECTIONS = Number(process.argv[3] ?? 32);
const ROUNDS = Number(process.argv[4] ?? 2);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const NS = 'sbxperf-client';
const HOST_IF = 'sbxp-host';
const NS_IF = 'sbxp-cli';
const NODE = '10.213.7.1';
const CLIENT = '10.213.7.2';
const PORTS = { task: 39600, haproxy: 39482, caddy: 39483, proxy: Number(process.env.SIGNALBOX_HTTP_PORT ?? 8080) };
const SERVICE = 'sbx-perf-clientpath';
const CORE_SERVICE = `${process.env.SIGNALBOX_STACK ?? 'signalbox'}_core`;
const HOST = 'clientpath.perf.test';
/** Named volume of the "file on a volume" access-log option (ProxyMounts); removed at the end. */
const LOG_VOLUME = 'sbx-perf-access-log';

const sh = (cmd, args) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

function netnsUp() {
  netnsDown();
  sh('ip', ['netns', 'add', NS]);
  sh('ip', ['link', 'add', HOST_IF, 'type', 'veth', 'peer', 'name', NS_IF]);
  sh('ip', ['link', 'set', NS_IF, 'netns', NS]);
  sh('ip', ['addr', 'add', `${NODE}/30`, 'dev', HOST_IF]);
  sh('ip', ['link', 'set', HOST_IF, 'up']);
  for (const a of [
    ['addr', 'add', `${CLIENT}/30`, 'dev', NS_IF],
    ['link', 'set', NS_IF, 'up'],
    ['link', 'set', 'lo', 'up'],
    ['route', 'add', 'default', 'via', NODE],
  ])
    sh('ip', ['netns', 'exec', NS, 'ip', ...a]);
}

function netnsDown() {
  spawnSync('ip', ['link', 'del', HOST_IF], { stdio: 'ignore' });
  spawnSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
}

/** HTTP status from inside the client namespace (curl), 0 on failure. */
function nsStatus(port, host) {
  const r = spawnSync('ip', ['netns', 'exec', NS, 'curl', '-s', '-o', '/dev/null', '-m', '2', '-w', '%{http_code}', '-H', `Host: ${host}`, `http://${NODE}:${port}/`], { encoding: 'utf8' });
  return Number(r.stdout) || 0;
}

/**
 * The stack redeployed with deploy/config.toml plus `extra` lines in [Extensions.default.Config] and
 * `extKeys` lines in [Extensions.default] (the last table of that file, so they are appended to it).
 */
function deployWith(dir, name, extra, extKeys = []) {
  const base = readFileSync(path.join(ROOT, 'deploy/config.toml'), 'utf8');
  const tables = base.match(/^\[[^\]]+\]/gm) ?? [];
  if (extKeys.length && tables[tables.length - 1] !== '[Extensions.default]') throw new Error('deploy/config.toml no longer ends with [Extensions.default]');
  const file = path.join(dir, `config-${name}.toml`);
  let text = extKeys.length ? `${base.trimEnd()}\n${extKeys.join('\n')}\n` : base;
  if (extra.length) text = `${text.trimEnd()}\n\n[Extensions.default.Config]\n${extra.join('\n')}\n`;
  writeFileSync(file, text);
  execFileSync('bash', ['-c', `source "${ROOT}/scripts/lib/stack.sh" && deploy_stack "$1"`, 'bash', file], { stdio: ['ignore', 'ignore', 'inherit'] });
}

/** The access_log line of the config the proxy runs. */
function proxyAccessLog(id) {
  try {
    return execFileSync('docker', ['exec', id, 'sh', '-c', 'grep -h "^    access_log" /etc/nginx/nginx.conf | head -1'], { encoding: 'utf8', timeout: 20_000 }).trim();
  } catch {
    return '';
  }
}

/** How often the config the proxy runs names the edge's client address header: 0 once it runs single hop. */
function edgeHeaderLines(id) {
  try {
    const n = execFileSync('docker', ['exec', id, 'sh', '-c', 'grep -ci x-signalbox-client-address /etc/nginx/nginx.conf || true'], { encoding: 'utf8', timeout: 20_000 }).trim();
    return `edge header lines: ${n}`;
  } catch {
    return '';
  }
}

async function measure(name, port, host) {
  const r = await runWrk({ netns: NS, url: `http://${NODE}:${port}/`, host, threads: 1, connections: CONNECTIONS, durationS: DURATION_S, timeoutS: 5, countStatuses: false });
  const bad = Object.values(r.errors).reduce((n, v) => n + v, 0);
  process.stderr.write(`  ${name}: ${r.rps.toFixed(0)} req/s, p99 ${r.latencyMs.p99} ms${bad ? `, errors ${JSON.stringify(r.errors)}` : ''} (load ${load()})\n`);
  return r;
}

/** A Signalbox measurement, repeated if the proxy task was replaced meanwhile (someone else's network change). */
async function measureProxy(name) {
  for (let attempt = 1; attempt <= 4; attempt++) {
    const before = await proxyContainer();
    if (before && (await waitUntil(async () => nsStatus(PORTS.proxy, HOST) === 200, 60_000, 200))) {
      const r = await measure(name, PORTS.proxy, HOST).catch(() => undefined);
      const after = await proxyContainer();
      if (r && after?.id === before.id) return r;
    }
    process.stderr.write(`  ${name}: the proxy rolled during the measurement, again\n`);
    await sleep(3000);
  }
  throw new Error(`${name}: the proxy kept rolling`);
}

function combine(name, runs, note = '') {
  const mean = (f) => runs.reduce((n, r) => n + f(r), 0) / runs.length;
  return {
    name,
    note,
    rps: mean((r) => r.rps),
    p50: mean((r) => r.latencyMs.p50),
    p99: mean((r) => r.latencyMs.p99),
    errors: runs.reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0),
  };
}

/** One line per row; "vs direct" against the row's own direct measurement when it has one (access-log options). */
function table(rows, base) {
  console.log(
    `${'path'.padEnd(46)}${'req/s'.padStart(9)}${'vs direct'.padStart(11)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'p99 vs direct'.padStart(15)}${'errors'.padStart(8)}${'direct beside it'.padStart(26)}`,
  );
  for (const r of rows) {
    const d = r.direct ?? base;
    const beside = r.direct ? `${r.direct.rps.toFixed(0)} req/s, p99 ${r.direct.p99.toFixed(2)}` : '';
    console.log(
      `${r.name.padEnd(46)}${r.rps.toFixed(0).padStart(9)}${`${((100 * r.rps) / d.rps).toFixed(0)}%`.padStart(11)}${r.p50.toFixed(2).padStart(9)}${r.p99.toFixed(2).padStart(9)}${`${(r.p99 / d.p99).toFixed(2)}x`.padStart(15)}${String(r.errors).padStart(8)}${beside.padStart(26)}`,
    );
  }
}

async function main() {
  ensureWrk();
  for (const bin of ['haproxy', 'caddy', 'curl']) if (spawnSync('sh', ['-c', `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is not installed`);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-clientpath-'));
  const loadStart = load();
  try {
    netnsUp();
    await ensureAnchor();
    await removeService(SERVICE);
    const spec = demoSpec(SERVICE, { 'com.docker.lb.hosts': HOST, 'com.docker.lb.port': '80', 'com.docker.lb.network': PERF_NET });
    spec.EndpointSpec = { Mode: 'dnsrr', Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: PORTS.task, PublishMode: 'host' }] };
    await docker.createService(spec);
    if (!(await routeStable(HOST, 5, 120_000))) throw new Error(`${HOST} never answered through the proxy`);
    const task = await waitUntil(async () => (await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${SERVICE}`] } }))[0], 30_000);
    const taskAddr = task && (await gwbridgeAddr(docker, task.Id));
    if (!taskAddr) throw new Error('no docker_gwbridge address for the task');
    const targets = [
      { name: 'direct to the task (DNAT, host mode)', port: PORTS.task, host: HOST },
      { name: 'Signalbox proxy as deployed (DNAT, host mode)', port: PORTS.proxy, host: HOST, proxy: true },
      { name: 'HAProxy 2.6 (this host, 1 thread)', port: PORTS.haproxy, host: HOST, child: startHaproxy(dir, `${NODE}:${PORTS.haproxy}`, `${taskAddr}:80`) },
      { name: 'Caddy 2.6 (this host, GOMAXPROCS=1)', port: PORTS.caddy, host: HOST, child: startCaddy(dir, HOST, PORTS.caddy, NODE, `${taskAddr}:80`) },
    ];
    for (const t of targets) {
      if (!(await waitUntil(async () => nsStatus(t.port, t.host) === 200, 60_000, 200))) throw new Error(`${t.name} does not answer 200 from the client namespace: ${t.child?.errText?.() ?? ''}`);
    }
    const proxy = await proxyContainer();
    const deployedLog = proxyAccessLog(proxy.id);
    for (const t of targets) await runWrk({ netns: NS, url: `http://${NODE}:${t.port}/`, host: t.host, threads: 1, connections: CONNECTIONS, durationS: 2, countStatuses: false });
    const runs = new Map();
    for (let round = 0; round < ROUNDS; round++) {
      process.stderr.write(`round ${round + 1}/${ROUNDS}\n`);
      for (const t of round % 2 === 0 ? targets : [...targets].reverse()) {
        runs.set(t.name, [...(runs.get(t.name) ?? []), t.proxy ? await measureProxy(t.name) : await measure(t.name, t.port, t.host)]);
      }
    }
    // Access-log options: the stack redeployed with each, the proxy measured once it runs that access_log.
    // SBX_PERF_LOG_VARIANTS: 0 = none, or words that pick options by name (e.g. "syslog,volume").
    const pick = (process.env.SBX_PERF_LOG_VARIANTS ?? '')
      .split(',')
      .map((w) => w.trim())
      .filter((w) => w && w !== '0');
    const variants =
      process.env.SBX_PERF_LOG_VARIANTS === '0'
        ? []
        : [
            // The default (stdout, buffer=64k flush=1s) is the "as deployed" row above.
            { name: 'access log: a write per line (buffer 0)', extra: ['AccessLogBuffer = "0"'], expect: /main;$/ },
            { name: 'access log: file in the container', extra: ['AccessLogPath = "/tmp/signalbox-access.log"'], expect: /signalbox-access\.log/ },
            {
              name: 'access log: file on a volume',
              extra: [`AccessLogPath = "/var/log/signalbox/access.log"`],
              extKeys: [`ProxyMounts = ["${LOG_VOLUME}:/var/log/signalbox"]`],
              expect: /\/var\/log\/signalbox\/access\.log/,
            },
            { name: 'access log: syslog to the agent', extra: ['AccessLogPath = "syslog:server=127.0.0.1:5140,nohostname"'], expect: /syslog:server=127\.0\.0\.1:5140/ },
            { name: 'access log: off', extra: ['AccessLogPath = ""'], expect: /access_log off/ },
            // The same proxy without the edge hop in front of it (the routing proxy publishes the ports):
            // what the edge costs, measured beside the layout as deployed.
            { name: 'single hop (ProxyEdge = false)', extra: [], extKeys: ['ProxyEdge = false'], probe: edgeHeaderLines, expect: /^edge header lines: 0$/ },
          ].filter((v) => !pick.length || pick.some((w) => v.name.includes(w)));
    const logRows = [];
    try {
      for (const v of variants) {
        let line = '';
        let ok = false;
        // core rolls onto the new config.toml (stop-first, 10 s monitor, rollback on failure); a deploy
        // made while the previous roll is still monitored can be rolled back: wait, and deploy again.
        for (let attempt = 1; attempt <= 2 && !ok; attempt++) {
          await waitUntil(async () => ['completed', 'rollback_completed', undefined].includes((await docker.getService(CORE_SERVICE).inspect()).UpdateStatus?.State), 90_000, 1000);
          process.stderr.write(`${v.name}: redeploying the stack (attempt ${attempt})\n`);
          deployWith(dir, v.name.replace(/\W+/g, '-'), v.extra, v.extKeys);
          ok = await waitUntil(
            async () => {
              const c = await proxyContainer();
              line = c ? (v.probe ?? proxyAccessLog)(c.id) : '';
              return v.expect.test(line);
            },
            90_000,
            1000,
          );
          if (!ok) process.stderr.write(`  not applied (core update ${(await docker.getService(CORE_SERVICE).inspect()).UpdateStatus?.State}; access_log: ${line})\n`);
        }
        if (!ok) {
          logRows.push({ name: `${v.name}: NOT APPLIED`, note: line, rps: NaN, p50: NaN, p99: NaN, errors: 0 });
          continue;
        }
        // Side by side: each round measures the task directly right before the proxy, so each option is
        // compared with a direct figure taken under the same load, not only with the first phase's.
        const rs = [];
        const ds = [];
        for (let round = 0; round < ROUNDS; round++) {
          ds.push(await measure(`direct (beside ${v.name})`, PORTS.task, HOST));
          rs.push(await measureProxy(v.name));
        }
        logRows.push({ ...combine(v.name, rs, line), direct: combine('direct', ds) });
      }
    } finally {
      if (variants.length) {
        process.stderr.write('back to deploy/config.toml\n');
        await waitUntil(async () => ['completed', 'rollback_completed', undefined].includes((await docker.getService(CORE_SERVICE).inspect()).UpdateStatus?.State), 90_000, 1000);
        deployWith(dir, 'default', []);
      }
    }
    const rows = targets.map((t) => combine(t.name, runs.get(t.name)));
    console.log(`client-path benchmark — ${machine()}; load at start ${loadStart}, at end ${load()}`);
    console.log(
      `wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s in netns ${NS} (${CLIENT}) → node ${NODE} over a veth pair (iptables DNAT to host-mode ports); keepalive; GET / of the demo app; mean of ${ROUNDS} rounds`,
    );
    console.log(`deployed proxy config: ${deployedLog}`);
    table([...rows, ...logRows], rows[0]);
    const direct = rows[0];
    const sb = rows[1];
    console.log(
      `goal (Signalbox as deployed ≥ 0.8× direct req/s, p99 ≤ 1.5× direct): ${(sb.rps / direct.rps).toFixed(2)}× req/s, ${(sb.p99 / direct.p99).toFixed(2)}× p99 → ${sb.rps >= 0.8 * direct.rps && sb.p99 <= 1.5 * direct.p99 ? 'MET' : 'MISSED'}`,
    );
    for (const r of logRows) console.log(`  ${r.name}: ${r.note}`);
  } finally {
    await stopAll();
    await removeService(SERVICE).catch(() => undefined);
    // The volume is free once the proxy tasks that mounted it are gone (swarm keeps a few exited ones).
    if (
      !(await waitUntil(
        async () => spawnSync('docker', ['volume', 'rm', LOG_VOLUME], { stdio: 'ignore' }).status === 0 || spawnSync('docker', ['volume', 'inspect', LOG_VOLUME], { stdio: 'ignore' }).status !== 0,
        30_000,
        2000,
      ))
    ) {
      process.stderr.write(`volume ${LOG_VOLUME} still in use (exited proxy tasks keep it): remove it later with docker volume rm ${LOG_VOLUME}\n`);
    }
    netnsDown();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
