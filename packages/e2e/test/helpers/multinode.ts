// Helpers for the multinode group: the namespaced swarm of scripts/multinode.sh, its engines, and a
// client in a network namespace of its own. Tests assert with traffic to the published port on the
// proxy nodes; the managed services' names live here and in swarm.ts only.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import net from 'node:net';
import readline from 'node:readline';
import Docker from 'dockerode';
import { CORE_SERVICE, EXTENSION_SERVICE, HTTP_PORT, PROXY_SERVICE, REPO_ROOT, execInContainer, run, runningContainers, sleep, updateService } from './swarm.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Raw = any;

export const SERVICES = { core: CORE_SERVICE, extension: EXTENSION_SERVICE, proxy: PROXY_SERVICE } as const;
export const MULTINODE = join(REPO_ROOT, 'scripts/multinode.sh');
export const MULTINODE_CONFIG = join(REPO_ROOT, 'deploy/multinode/config.toml');

/** PollInterval of deploy/multinode/config.toml, in ms. */
export const POLL_INTERVAL_MS = (() => {
  const m = /^\s*PollInterval\s*=\s*"(\d+)s"/m.exec(readFileSync(MULTINODE_CONFIG, 'utf8'));
  return m ? Number(m[1]) * 1000 : 3000;
})();

/** Runs scripts/multinode.sh; throws with its stderr when it fails. */
export async function multinode(...args: string[]): Promise<string> {
  const r = await run(MULTINODE, args, 300_000);
  if (r.code !== 0) throw new Error(`multinode.sh ${args.join(' ')} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return r.stdout.trim();
}

export async function nodeNames(): Promise<string[]> {
  return (await multinode('nodes')).split('\n').filter(Boolean);
}

export const managers = (nodes: string[]) => nodes.filter((n) => n.startsWith('m'));
export const workers = (nodes: string[]) => nodes.filter((n) => n.startsWith('w'));

/** The address scripts/multinode.sh gives a node (m1 → 10.213.0.11, w2 → 10.213.0.22, lb, client). */
export function addrOf(node: string): string {
  if (node === 'lb') return '10.213.0.5';
  if (node === 'client') return '10.213.0.100';
  const m = /^([mw])([1-9])$/.exec(node);
  if (!m) throw new Error(`unknown node ${node}`);
  return `10.213.0.${m[1] === 'm' ? 1 : 2}${m[2]}`;
}

const engines = new Map<string, Docker>();
/** The engine of one node (its own socket on the host). */
export function engine(node: string): Docker {
  let e = engines.get(node);
  if (!e) {
    e = new Docker({ socketPath: `/var/run/docker-sbxmn-${node}.sock`, timeout: 10_000 });
    engines.set(node, e);
  }
  return e;
}

/** A manager whose engine answers swarm API calls (the raft quorum has a leader). */
export async function manager(nodes: string[], except: string[] = []): Promise<{ name: string; docker: Docker }> {
  for (const name of managers(nodes)) {
    if (except.includes(name)) continue;
    try {
      await engine(name).listNodes();
      return { name, docker: engine(name) };
    } catch {
      /* down, or no quorum yet */
    }
  }
  throw new Error(
    `no manager answers (tried ${managers(nodes)
      .filter((m) => !except.includes(m))
      .join(', ')})`,
  );
}

/** Swarm node id → our short node name (label signalbox.node). */
export async function nodeIds(docker: Docker): Promise<Map<string, string>> {
  const list = (await docker.listNodes()) as Raw[];
  return new Map(list.map((n) => [String(n.ID), String(n.Spec?.Labels?.['signalbox.node'] ?? n.Description?.Hostname)]));
}

export interface TaskInfo {
  id: string;
  node: string;
  state: string;
  desired: string;
  /** First 12 hex digits of the container id: the demo app's X-Demo-Task. */
  container: string;
  containerId: string;
  addresses: Record<string, string[]>;
  /** When the task reached its current state (ms since epoch). */
  since: number;
  /** Swarm's error for a task that failed or was rejected. */
  error?: string;
}

export async function tasksOf(docker: Docker, service: string): Promise<TaskInfo[]> {
  const names = await nodeIds(docker);
  const list = (await docker.listTasks({ filters: { service: [service] } })) as Raw[];
  return list.map((t) => ({
    id: String(t.ID),
    node: names.get(String(t.NodeID)) ?? '',
    state: String(t.Status?.State),
    desired: String(t.DesiredState),
    container: String(t.Status?.ContainerStatus?.ContainerID ?? '').slice(0, 12),
    containerId: String(t.Status?.ContainerStatus?.ContainerID ?? ''),
    addresses: Object.fromEntries(((t.NetworksAttachments ?? []) as Raw[]).map((a) => [String(a.Network?.Spec?.Name), ((a.Addresses ?? []) as string[]).map((x) => x.split('/')[0]!)])),
    since: Date.parse(String(t.Status?.Timestamp)),
    ...(t.Status?.Err ? { error: String(t.Status.Err) } : {}),
  }));
}

export const running = (ts: TaskInfo[]) => ts.filter((t) => t.state === 'running' && t.desired === 'running');

export interface GetResult {
  status: number;
  task?: string;
  /** The proxy's X-Upstream-Addr: every server nginx tried, in order ("a:80, b:80"). */
  upstream?: string;
  error?: string;
  ms: number;
}
export interface LoadResult {
  ok: number;
  failed: { at: number; target: string; status: number; error?: string }[];
  tasks: Record<string, Record<string, number>>;
  first: number;
  last: number;
}
export interface Target {
  addr: string;
  port: number;
}

/** A long-lived HTTP client inside the namespace `sbxmn-client` (see netns-client.mjs). */
export class NetnsClient {
  private next = 1;
  private readonly waiting = new Map<number, (v: Raw) => void>();
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as Raw;
      this.waiting.get(msg.id)?.(msg);
      this.waiting.delete(msg.id);
    });
  }

  static async start(namespace = 'client'): Promise<NetnsClient> {
    const netns = await multinode('netns', namespace);
    const script = fileURLToPath(new URL('./netns-client.mjs', import.meta.url));
    const child = spawn('nsenter', [`--net=${netns}`, process.execPath, script], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => process.stderr.write(`netns-client: ${d}`));
    return new NetnsClient(child);
  }

  private call(msg: Record<string, unknown>): Promise<Raw> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, (v) => (v.error && !('status' in v) ? reject(new Error(v.error)) : resolve(v)));
      this.child.stdin.write(JSON.stringify({ ...msg, id }) + '\n');
    });
  }

  /** `tls`: HTTPS with SNI = host, any certificate accepted. */
  get(target: Target, host: string, path = '/', timeoutMs = 3000, tls = false): Promise<GetResult> {
    return this.call({ op: 'get', ...target, host, path, timeoutMs, tls }) as Promise<GetResult>;
  }

  /** Starts requests in a loop over `targets`; the returned function stops them and gives the counts. `tls`: as for get. */
  async load(targets: Target[], host: string, intervalMs = 20, timeoutMs = 5000, tls = false): Promise<() => Promise<LoadResult>> {
    const { id } = (await this.call({ op: 'load', targets, host, intervalMs, timeoutMs, tls })) as { id: number };
    return () => this.call({ op: 'stop', load: id }) as Promise<LoadResult>;
  }

  close(): void {
    this.child.stdin.end();
  }
}

/** The published HTTP port on a node. */
export const proxyOn = (node: string): Target => ({ addr: addrOf(node), port: HTTP_PORT });

/** Polls `fn` until it returns a value; the value and when (ms since epoch) it first did. */
export async function until<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, intervalMs = 100): Promise<{ value: T; at: number }> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return { value: v, at: Date.now() };
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(intervalMs);
  }
}

/** One server as HAProxy sees it: its state (UP, DOWN, "UP 1/2" while going down …) and its last check's result (L7OK, L7STS, L4CON …). */
export interface LbServer {
  status: string;
  check: string;
}

/** HAProxy's `show stat` on its admin socket (scripts/multinode.sh lb-socket): the servers of `backend`. */
export async function lbServers(socket: string, backend = 'signalbox_http'): Promise<Map<string, LbServer>> {
  const text = await new Promise<string>((resolve, reject) => {
    let out = '';
    const c = net.createConnection(socket, () => c.end('show stat\n'));
    c.setEncoding('utf8');
    c.on('data', (d: string) => (out += d));
    c.on('end', () => resolve(out));
    c.on('error', reject);
  });
  const [head = '', ...rows] = text.trim().split('\n');
  const cols = head.replace(/^# /, '').split(',');
  const at = (name: string) => cols.indexOf(name);
  const servers = new Map<string, LbServer>();
  for (const row of rows) {
    const f = row.split(',');
    if (f[at('pxname')] !== backend || ['FRONTEND', 'BACKEND'].includes(f[at('svname')] ?? '')) continue;
    servers.set(f[at('svname')]!, { status: f[at('status')] ?? '', check: f[at('check_status')] ?? '' });
  }
  return servers;
}

/** How a server left the load balancer: the result of the check that marked it DOWN. */
export interface LbDown {
  server: string;
  check: string;
  at: number;
}

/**
 * Samples HAProxy every 100 ms (its checks run every 500 ms) until stopped; each time a server goes from
 * UP (or going down) to DOWN, records the check that took it out.
 */
export async function watchLb(): Promise<{ stop: () => Promise<LbDown[]> }> {
  const socket = await multinode('lb-socket');
  const downs: LbDown[] = [];
  const last = new Map<string, string>();
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [server, s] of await lbServers(socket)) {
        const was = last.get(server);
        if (s.status.startsWith('DOWN') && was !== undefined && !was.startsWith('DOWN')) downs.push({ server, check: s.check, at: Date.now() });
        last.set(server, s.status);
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return downs;
    },
  };
}

/** One line of figures for the test log (and docs/operations.md). */
export function figure(name: string, value: string | number): void {
  process.stdout.write(`[multinode figure] ${name}: ${value}\n`);
}

export interface AppOptions {
  name: string;
  host: string;
  network: string;
  replicas?: number;
  constraints?: string[];
  /** Placement preferences, as label paths to spread over. */
  spread?: string[];
  restart?: 'any' | 'none';
  /** Docker secret names of the hosts' certificate and key (com.docker.lb.ssl_cert / ssl_key). */
  tls?: { certSecret: string; keySecret: string };
}

/** A demo app routed at `host` (labels only), on one overlay network, placed as asked. */
export async function createApp(docker: Docker, o: AppOptions): Promise<void> {
  await removeApp(docker, o.name);
  await docker.createService({
    Name: o.name,
    Labels: {
      'com.signalbox.test': 'multinode',
      'com.docker.lb.hosts': o.host,
      'com.docker.lb.port': '80',
      'com.docker.lb.network': o.network,
      ...(o.tls ? { 'com.docker.lb.ssl_cert': o.tls.certSecret, 'com.docker.lb.ssl_key': o.tls.keySecret } : {}),
    },
    TaskTemplate: {
      ContainerSpec: {
        Image: process.env.SIGNALBOX_DEMO_IMAGE ?? 'signalbox-demo:local',
        Env: [`NAME=${o.name}`],
        StopGracePeriod: 1_000_000_000,
      },
      Networks: [{ Target: o.network }],
      Placement: {
        Constraints: o.constraints ?? [],
        Preferences: (o.spread ?? []).map((d) => ({ Spread: { SpreadDescriptor: d } })),
      },
      RestartPolicy: { Condition: o.restart ?? 'any', Delay: 500_000_000 },
    },
    Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
    EndpointSpec: { Mode: 'dnsrr' },
  } as Raw);
}

export async function removeApp(docker: Docker, name: string): Promise<void> {
  try {
    await docker.getService(name).remove();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
}

export async function ensureOverlay(docker: Docker, name: string): Promise<void> {
  const list = (await docker.listNetworks({ filters: { name: [name] } })) as Raw[];
  if (list.some((n) => n.Name === name)) return;
  await docker.createNetwork({
    Name: name,
    Driver: 'overlay',
    Attachable: true,
    Labels: { 'com.signalbox.test': 'multinode' },
  });
}

/** Removes an overlay network once nothing uses it any more (the proxy lets go of it after its services). */
export async function removeOverlay(docker: Docker, name: string, timeoutMs = 60_000): Promise<void> {
  await until(
    `network ${name} removed`,
    async () => {
      try {
        await docker.getNetwork(name).remove();
        return true;
      } catch (e) {
        return (e as { statusCode?: number }).statusCode === 404;
      }
    },
    timeoutMs,
    1000,
  );
}

/**
 * The nginx.conf of every running routing proxy task, on every node of `nodes` whose engine answers (a
 * node that is cut off is skipped). Behind the edge, the edge on a worker forwards to routing proxy tasks
 * on any node, and start-first rolls do not keep one per worker: a test that asks "what does the proxy
 * serve" asks all of them.
 */
export async function routingProxyConfs(nodes: string[]): Promise<Map<string, string>> {
  const confs = new Map<string, string>();
  for (const node of nodes) {
    const containers = await runningContainers(PROXY_SERVICE, engine(node)).catch(() => []);
    for (const c of containers) {
      const r = await execInContainer(c.id, ['cat', '/etc/nginx/nginx.conf'], engine(node)).catch(() => undefined);
      if (r?.exitCode === 0) confs.set(`${node}/${c.id.slice(0, 12)}`, r.stdout);
    }
  }
  return confs;
}

/** Upstream server addresses (ip:port) in an nginx.conf. */
export function upstreamServers(conf: string): string[] {
  return [...conf.matchAll(/^\s*server\s+(\d+\.\d+\.\d+\.\d+:\d+)/gm)].map((m) => m[1]!).sort();
}

export async function scale(docker: Docker, name: string, replicas: number): Promise<void> {
  await updateService(
    name,
    (spec) => {
      spec.Mode = { Replicated: { Replicas: replicas } };
    },
    docker,
  );
}

/**
 * deploy/multinode/config.toml with keys of [Extensions.default] set to the given TOML values
 * (replaced where present, added otherwise), written to a temporary file; returns its path.
 */
export function multinodeConfigWith(keys: Record<string, string>): string {
  const lines = readFileSync(MULTINODE_CONFIG, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.trim() === '[Extensions.default]');
  for (const [k, v] of Object.entries(keys)) {
    const i = lines.findIndex((l, j) => j > start && new RegExp(`^\\s*${k}\\s*=`).test(l));
    if (i >= 0) lines[i] = `${k} = ${v}`;
    else lines.splice(start + 1, 0, `${k} = ${v}`);
  }
  const text = lines.join('\n');
  const file = join(tmpdir(), `sbxmn-config-${createHash('sha256').update(text).digest('hex').slice(0, 12)}.toml`);
  writeFileSync(file, text);
  return file;
}

/** Does node `n` (labels, role, hostname) satisfy swarm placement constraints `cs`? */
export function satisfies(n: { labels: Record<string, string>; role: string; hostname: string }, cs: string[]): boolean {
  return cs.every((c) => {
    const m = /^\s*([\w.-]+)\s*(==|!=)\s*(.+?)\s*$/.exec(c);
    if (!m) throw new Error(`constraint not understood: ${c}`);
    const [, attr, op, want] = m as unknown as [string, string, string, string];
    let have: string | undefined;
    if (attr.startsWith('node.labels.')) have = n.labels[attr.slice('node.labels.'.length)];
    else if (attr === 'node.role') have = n.role;
    else if (attr === 'node.hostname') have = n.hostname;
    else if (attr === 'node.platform.os') have = 'linux';
    else throw new Error(`constraint attribute not handled here: ${attr}`);
    return op === '==' ? have === want : have !== want;
  });
}

/**
 * Waits until the proxies have no rolling update in flight, every replica runs, and the same tasks
 * keep running for `stableMs` (a roll left by an earlier test, or a proxy task that a worker fails
 * late while it tears down a removed network, would otherwise be timed as routing).
 */
export async function proxiesSettled(docker: Docker, stableMs = 15_000, timeoutMs = 240_000): Promise<void> {
  let since = 0;
  let ids = '';
  await until(
    'the proxies settled',
    async () => {
      const info = (await docker.getService(PROXY_SERVICE).inspect()) as Raw;
      const state = info.UpdateStatus?.State as string | undefined;
      const want = Number(info.Spec?.Mode?.Replicated?.Replicas ?? 0);
      const live = running(await tasksOf(docker, PROXY_SERVICE));
      const now = live
        .map((t) => t.id)
        .sort()
        .join();
      if (state === 'updating' || state === 'rollback_started' || live.length !== want || now !== ids) {
        ids = now;
        since = Date.now();
        throw new Error(`update ${state ?? 'none'}, ${live.length} of ${want} running`);
      }
      return Date.now() - since >= stableMs;
    },
    timeoutMs,
    500,
  );
}

/**
 * Waits until the routing proxy tasks run one on each of `onNodes` (the setup the node-loss cases
 * are about), forcing a roll when swarm left them on fewer nodes, as docs/operations.md tells an
 * operator to. Spread is best effort in swarm: a replaced task is placed by counting the tasks being
 * replaced, and a task moved off a lost node stays where it went. Throws, naming the placement, when
 * `attempts` rolls did not spread them.
 */
export async function proxiesSpread(docker: Docker, onNodes: string[], attempts = 4): Promise<void> {
  const seen: string[] = [];
  for (let i = 0; ; i++) {
    await proxiesSettled(docker, 5_000);
    const tasks = await tasksOf(docker, PROXY_SERVICE);
    const where = running(tasks).map((t) => t.node);
    if (onNodes.every((n) => where.includes(n))) return;
    seen.push(where.sort().join(' '));
    if (i === attempts) {
      // Every placement, and how the last roll's other tasks ended (a new task that failed on the missing
      // node would show here), for the next time this happens.
      const ended = tasks
        .filter((t) => !(t.state === 'running' && t.desired === 'running'))
        .sort((a, b) => b.since - a.since)
        .slice(0, 8)
        .map((t) => `${t.node}:${t.state}${t.error ? ` (${t.error})` : ''}`);
      throw new Error(
        `routing proxies still on ${where.join(' ')} after ${attempts} forced rolls, want one on each of ${onNodes.join(' ')}; placements: ${seen.join('; ')}; other tasks: ${ended.join(', ') || 'none'}`,
      );
    }
    await updateService(
      PROXY_SERVICE,
      (spec) => {
        spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
      },
      docker,
    );
    await sleep(1_000);
  }
}
