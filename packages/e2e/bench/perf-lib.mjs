// Helpers shared by the hitless, burst and datapath benchmarks: the proxy container seen from the host
// (cgroup + /proc, no docker exec per sample), its agent's metrics, wrk, and the sbx-perf network that
// the proxy joins once so the measured changes never roll it.
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEMO_IMAGE, docker, ensureNetwork, get, removeService, sleep } from './lib.mjs';

export const PROXY_SERVICE = process.env.SIGNALBOX_PROXY_SERVICE ?? 'signalbox-proxy';
export const PERF_NET = process.env.SBX_PERF_NET ?? 'sbx-perf-net';
export const ANCHOR = 'sbx-perf-anchor';
export const ANCHOR_HOST = 'anchor.perf.test';

export const load = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The running proxy task's container: id and host pids of its processes. */
export async function proxyContainer() {
  const list = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${PROXY_SERVICE}`], status: ['running'] } });
  if (list.length === 0) return undefined;
  const newest = list.sort((a, b) => b.Created - a.Created)[0];
  return { id: newest.Id, name: newest.Names[0] };
}

function cgroupFile(id, file) {
  for (const base of [`/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`]) {
    try {
      return readFileSync(`${base}/${file}`, 'utf8');
    } catch {
      /* next layout */
    }
  }
  return undefined;
}

/**
 * One sample of the proxy container: nginx workers (serving / shutting down, by pid), summed RSS of
 * its nginx processes and of the whole container (cgroup rss, v1 or v2).
 */
export function sampleProxy(id) {
  const procs = (cgroupFile(id, 'cgroup.procs') ?? '').split('\n').filter(Boolean).map(Number);
  const s = { t: Date.now(), workers: [], draining: [], nginxRssKb: 0, agentRssKb: 0, cgroupRssMb: undefined };
  for (const pid of procs) {
    let cmd;
    let status;
    try {
      cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue;
    }
    const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    if (cmd.startsWith('nginx:')) {
      s.nginxRssKb += rss;
      if (cmd.includes('worker process is shutting down')) s.draining.push(pid);
      else if (cmd.includes('worker process')) s.workers.push(pid);
    } else if (cmd.includes('proxy-agent')) s.agentRssKb += rss;
  }
  const stat = cgroupFile(id, 'memory.stat');
  const v1 = stat && /^total_rss (\d+)/m.exec(stat);
  const v2 = stat && /^anon (\d+)/m.exec(stat);
  if (v1 || v2) s.cgroupRssMb = Number((v1 ?? v2)[1]) / 1048576;
  return s;
}

/**
 * Samples every `everyMs` until stop() (bounded by maxMs). Follows the proxy across rolls: when its
 * container is gone, the gap is recorded in `rolls` and sampling continues on the new container.
 */
export function startSampler(id, everyMs = 250, maxMs = 600_000) {
  const samples = [];
  const rolls = [];
  const started = Date.now();
  const cur = { id };
  let looking = false;
  const timer = setInterval(() => {
    if (Date.now() - started > maxMs) return clearInterval(timer);
    const s = sampleProxy(cur.id);
    if (s.workers.length + s.draining.length > 0 || s.nginxRssKb > 0) {
      samples.push(s);
      return;
    }
    const open = rolls[rolls.length - 1];
    if (!open || open.endAt !== undefined) rolls.push({ at: Date.now(), from: cur.id });
    if (looking) return;
    looking = true;
    proxyContainer()
      .then((c) => {
        if (c && c.id !== cur.id) {
          cur.id = c.id;
          const r = rolls[rolls.length - 1];
          if (r) r.to = c.id;
        }
      })
      .catch(() => undefined)
      .finally(() => (looking = false));
  }, everyMs);
  return {
    samples,
    rolls,
    current: cur,
    /** Marks the end of the open roll (call once the route answers again). */
    rollEnded(at = Date.now()) {
      const r = rolls[rolls.length - 1];
      if (r && r.endAt === undefined) r.endAt = at;
    },
    stop() {
      clearInterval(timer);
      return { ...summariseSamples(samples, everyMs), rolls };
    },
  };
}

export function summariseSamples(samples, everyMs) {
  const seenWorkers = new Set();
  const drainStart = new Map();
  const drainEnd = new Map();
  let generations = 0;
  let maxDraining = 0;
  let maxNginxMb = 0;
  let maxCgroupMb = 0;
  for (const s of samples) {
    let fresh = false;
    for (const p of s.workers) {
      if (!seenWorkers.has(p)) {
        if (seenWorkers.size > 0) fresh = true;
        seenWorkers.add(p);
      }
    }
    if (fresh) generations++;
    for (const p of s.draining) if (!drainStart.has(p)) drainStart.set(p, s.t);
    for (const [p] of drainStart) if (!drainEnd.has(p) && !s.draining.includes(p) && !s.workers.includes(p)) drainEnd.set(p, s.t);
    maxDraining = Math.max(maxDraining, s.draining.length);
    maxNginxMb = Math.max(maxNginxMb, s.nginxRssKb / 1024);
    if (s.cgroupRssMb !== undefined) maxCgroupMb = Math.max(maxCgroupMb, s.cgroupRssMb);
  }
  const drainMs = [...drainEnd].map(([p, end]) => end - drainStart.get(p));
  const first = samples[0];
  const last = samples[samples.length - 1];
  return {
    samples: samples.length,
    everyMs,
    newWorkerGenerations: generations,
    drainingSeen: drainStart.size,
    drainDoneMs: drainMs,
    stillDraining: drainStart.size - drainEnd.size,
    maxDraining,
    nginxMb: { first: first ? first.nginxRssKb / 1024 : 0, max: maxNginxMb, last: last ? last.nginxRssKb / 1024 : 0 },
    cgroupMb: { first: first?.cgroupRssMb, max: maxCgroupMb, last: last?.cgroupRssMb },
  };
}

/** Prometheus text of the proxy agent, read inside the container (its port is not published). */
export function proxyMetrics(id) {
  const js = "fetch('http://127.0.0.1:8082/metrics').then(r=>r.text()).then(t=>process.stdout.write(t)).catch(e=>{console.error(e.message);process.exit(1)})";
  const text = execFileSync('docker', ['exec', id, 'node', '-e', js], { encoding: 'utf8', timeout: 20_000 });
  const num = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { reloads: num('signalbox_proxy_reloads_total'), reloadFailures: num('signalbox_proxy_reload_failures_total'), nginxRestarts: num('signalbox_proxy_nginx_restarts_total') };
}

/** Prometheus text of any service's (first running) container on `port`, read inside it with node. */
export async function serviceMetricsText(service, port) {
  const list = await docker.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`], status: ['running'] } });
  if (list.length === 0) return '';
  const js = `fetch('http://127.0.0.1:${port}/metrics').then(r=>r.text()).then(t=>process.stdout.write(t)).catch(()=>process.exit(1))`;
  try {
    return execFileSync('docker', ['exec', list[0].Id, 'node', '-e', js], { encoding: 'utf8', timeout: 20_000 });
  } catch {
    return '';
  }
}

/** Sum of a metric's samples (all label sets) in Prometheus text, optionally only those matching `labelRe`. */
export function metricSum(text, name, labelRe) {
  let n = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, 'gm'))) {
    if (labelRe && !labelRe.test(m[1] ?? '')) continue;
    n += Number(m[2]);
  }
  return n;
}

/** The worker_shutdown_timeout line of the config the proxy runs ('' when absent). */
export function proxyShutdownTimeout(id) {
  try {
    return execFileSync('docker', ['exec', id, 'sh', '-c', 'grep -h "worker_shutdown_timeout" /etc/nginx/nginx.conf || true'], { encoding: 'utf8', timeout: 20_000 }).trim();
  } catch {
    return '';
  }
}

export async function waitUntil(fn, timeoutMs, stepMs = 100) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v) return v;
    await sleep(stepMs);
  }
  return undefined;
}

/** `n` answers in a row with status 200 for host. */
export async function routeStable(host, n = 5, timeoutMs = 120_000) {
  let ok = 0;
  return waitUntil(
    async () => {
      ok = (await get(host, '/', 2000)).status === 200 ? ok + 1 : 0;
      return ok >= n;
    },
    timeoutMs,
    100,
  );
}

export function demoSpec(name, labels, replicas = 1, network = PERF_NET) {
  return {
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: { Image: DEMO_IMAGE, Env: [`NAME=${name}`], StopGracePeriod: 1e9 },
      Networks: [{ Target: network }],
      RestartPolicy: { Condition: 'any', Delay: 1e9 },
    },
    Mode: { Replicated: { Replicas: replicas } },
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

/**
 * The perf network and one long-lived routed service on it, so the proxy has joined it before any
 * measurement (joining a network rolls the proxy; nothing measured afterwards does).
 */
export async function ensureAnchor() {
  await ensureNetwork(PERF_NET);
  const exists = await docker
    .getService(ANCHOR)
    .inspect()
    .catch(() => undefined);
  if (!exists) {
    await docker.createService(demoSpec(ANCHOR, { 'com.docker.lb.hosts': ANCHOR_HOST, 'com.docker.lb.port': '80', 'com.docker.lb.network': PERF_NET }));
  }
  if (!(await routeStable(ANCHOR_HOST, 10, 180_000))) throw new Error(`${ANCHOR_HOST} never answered through the proxy`);
  // The proxy task that answers must be the one that stays: wait for its rollout to settle.
  await waitUntil(
    async () => {
      const s = await docker.getService(PROXY_SERVICE).inspect();
      const st = s.UpdateStatus?.State;
      return st === undefined || st === 'completed' || st === 'rollback_completed';
    },
    120_000,
    500,
  );
  await routeStable(ANCHOR_HOST, 10, 60_000);
}

export async function removeAnchor() {
  await removeService(ANCHOR);
}

export async function removeServicesByPrefix(prefix) {
  const list = await docker.listServices({ filters: { name: [prefix] } });
  for (const s of list) if (s.Spec.Name.startsWith(prefix)) await removeService(s.Spec.Name);
}

const WRK_LUA = `
counts = {}
local threads = {}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body) counts[status] = (counts[status] or 0) + 1 end
function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local c = t:get("counts")
    for k, v in pairs(c) do total[k] = (total[k] or 0) + v end
  end
  for k, v in pairs(total) do io.write(string.format("SBX status %d %d\\n", k, v)) end
  local e = summary.errors
  io.write(string.format("SBX errors connect=%d read=%d write=%d timeout=%d status=%d\\n", e.connect, e.read, e.write, e.timeout, e.status))
  io.write(string.format("SBX summary requests=%d duration_us=%d bytes=%d\\n", summary.requests, summary.duration, summary.bytes))
  io.write(string.format("SBX latency p50=%d p90=%d p99=%d max=%d mean=%.0f\\n", latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

let luaPath;
function wrkLua(countStatuses) {
  if (!luaPath) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'sbx-perf-wrk-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    luaPath = { counting: path.join(dir, 'count.lua'), plain: path.join(dir, 'plain.lua') };
    writeFileSync(luaPath.counting, WRK_LUA);
    // Same report without the per-response hook (which costs wrk some throughput).
    writeFileSync(luaPath.plain, WRK_LUA.replace(/function response[^\n]*\n/, ''));
  }
  return countStatuses ? luaPath.counting : luaPath.plain;
}

/**
 * Runs wrk (bounded by its own -d and a hard timeout) and parses its SBX lines.
 * opts: url, host, threads, connections, durationS, timeoutS, countStatuses, close (no keepalive), netns.
 */
export function runWrk(o) {
  const args = ['-t', String(o.threads ?? 1), '-c', String(o.connections ?? 8), '-d', `${o.durationS}s`, '--timeout', `${o.timeoutS ?? 5}s`, '-s', wrkLua(o.countStatuses ?? true)];
  if (o.host) args.push('-H', `Host: ${o.host}`);
  if (o.close) args.push('-H', 'Connection: close');
  args.push(o.url);
  return new Promise((resolve, reject) => {
    // o.netns: run wrk inside that network namespace (the client-path benchmark's veth client).
    const child = o.netns ? spawn('ip', ['netns', 'exec', o.netns, 'wrk', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }) : spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const hard = setTimeout(() => child.kill('SIGKILL'), (o.durationS + 30) * 1000);
    child.on('error', reject);
    child.on('close', () => {
      clearTimeout(hard);
      const r = { raw: out, statuses: {}, errors: {}, requests: 0, durationS: 0, latencyMs: {} };
      for (const m of out.matchAll(/^SBX status (\d+) (\d+)$/gm)) r.statuses[m[1]] = Number(m[2]);
      const e = /^SBX errors (.*)$/m.exec(out);
      if (e) for (const kv of e[1].split(' ')) r.errors[kv.split('=')[0]] = Number(kv.split('=')[1]);
      const s = /^SBX summary requests=(\d+) duration_us=(\d+)/m.exec(out);
      if (s) {
        r.requests = Number(s[1]);
        r.durationS = Number(s[2]) / 1e6;
      }
      const l = /^SBX latency p50=(\d+) p90=(\d+) p99=(\d+) max=(\d+) mean=(\S+)$/m.exec(out);
      if (l) r.latencyMs = { p50: l[1] / 1000, p90: l[2] / 1000, p99: l[3] / 1000, max: l[4] / 1000, mean: l[5] / 1000 };
      r.rps = r.durationS > 0 ? r.requests / r.durationS : 0;
      if (!s) return reject(new Error(`wrk gave no summary:\n${out}`));
      resolve(r);
    });
  });
}

export function ensureWrk() {
  try {
    execFileSync('wrk', ['-v'], { stdio: 'ignore' });
  } catch (e) {
    if (e.code === 'ENOENT') throw new Error('wrk is not installed: apt-get install -y wrk (scripts/bench/*.sh do it)');
  }
}

export const execFileP = (cmd, args, opts = {}) =>
  new Promise((resolve, reject) => execFile(cmd, args, { encoding: 'utf8', ...opts }, (err, stdout, stderr) => (err ? reject(Object.assign(err, { stdout, stderr })) : resolve({ stdout, stderr }))));

export function machine() {
  const mem = os.totalmem() / 1073741824;
  const v = spawnSync('nginx', ['-v'], { encoding: 'utf8' });
  const nginx = `${v.stdout ?? ''}${v.stderr ?? ''}`.trim();
  return `${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), ${mem.toFixed(1)} GiB RAM, kernel ${os.release()}, node ${process.version}, ${nginx.replace('nginx version: ', '')}`;
}
