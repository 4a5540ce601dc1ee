// Helpers for e2e tests against the real swarm and the deployed Signalbox stack.
import http from 'node:http';
import Docker from 'dockerode';
import type { DiagnosticCode } from '@signalbox/model';

/** The engine named by DOCKER_HOST (unix:// only), else /var/run/docker.sock. */
export function engineAt(dockerHost = process.env.DOCKER_HOST ?? ''): Docker {
  if (dockerHost === '') return new Docker({ socketPath: '/var/run/docker.sock' });
  if (dockerHost.startsWith('unix://')) return new Docker({ socketPath: dockerHost.slice('unix://'.length) });
  throw new Error(`DOCKER_HOST=${dockerHost}: the e2e helpers only speak to unix:// sockets`);
}

export const docker = engineAt();
/** Where the proxy's published port answers (a node's address on a multi-node swarm). */
export const PROXY_ADDR = process.env.SIGNALBOX_PROXY_ADDR ?? '127.0.0.1';
export const HTTP_PORT = Number(process.env.SIGNALBOX_HTTP_PORT ?? 8080);
export const PROXY_SERVICE = process.env.SIGNALBOX_PROXY_SERVICE ?? 'signalbox-proxy';
export const CORE_SERVICE = `${process.env.SIGNALBOX_STACK ?? 'signalbox'}_core`;
export const DEMO_IMAGE = process.env.SIGNALBOX_DEMO_IMAGE ?? 'signalbox-demo:local';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Raw = any;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(intervalMs);
  }
}

export interface HttpResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** The demo app's service name, from the header it answers with. */
export const nameOf = (r: { headers: Record<string, unknown> }): string | undefined => r.headers['x-demo-name'] as string | undefined;

/**
 * Waits until `host` (and path) is answered 200 by service `name` three times in a row: right after a
 * reload, a new connection can still be accepted by an old nginx worker (with the previous config)
 * until that worker has handled its QUIT, so one good answer does not yet mean the route is stable.
 */
export async function routedTo(host: string, name: string, path = '/', timeoutMs = 60_000): Promise<HttpResult> {
  return waitFor(
    `${host}${path} routed to ${name}`,
    async () => {
      let last: HttpResult | undefined;
      for (let i = 0; i < 3; i++) {
        if (i > 0) await sleep(50);
        last = await get(host, path);
        if (last.status !== 200 || nameOf(last) !== name) return undefined;
      }
      return last;
    },
    timeoutMs,
    150,
  );
}

/** A request to the proxy's published port with a Host header (no DNS needed). */
export function get(host: string, path = '/', headers: Record<string, string> = {}, port = HTTP_PORT): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: PROXY_ADDR, port, path, method: 'GET', headers: { host, ...headers }, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * A result as an assertion compares it: the status alone when it is 2xx; otherwise the status with who
 * answered (the proxy id header, absent from an app's answer) and the first line of what it said, so a
 * failure names its source: `expect(outcome(await get(host))).toBe('200')`.
 */
export function outcome(r: HttpResult): string {
  if (r.status >= 200 && r.status < 300) return String(r.status);
  return `${r.status} (x-proxy-id: ${proxyIdOf(r) || 'none'}; said: ${firstLineOf(r, 160)})`;
}

/** The routing proxy (or edge) that answered: its x-proxy-id header, '' when absent (an app's own answer, HideInfoHeaders). */
export function proxyIdOf(r: HttpResult): string {
  return String(r.headers['x-proxy-id'] ?? '');
}

/** The first line of an answer's body, cut to `max` characters. */
function firstLineOf(r: HttpResult, max: number): string {
  return r.body.split('\n')[0]!.slice(0, max);
}

/** A failed request of `requestsUntil`: its status (or error code), and when it was sent (ms after the loop began). */
export interface LoopFailure {
  outcome: string;
  atMs: number;
  /** Who answered and what it said (a non-200): the proxy id header and the body's first line. */
  answeredBy?: string;
  said?: string;
}

/**
 * Requests `host` one after another (new connection each, 20 ms apart, never retried) until `done()`
 * holds (checked every 250 ms beside the loop) and at least `min` were sent. Returns how many answered
 * 200 and every other outcome; `onAnswer` sees each answer (e.g. to note who answered). Throws if
 * `done()` never held in time.
 */
export async function requestsUntil(host: string, done: () => Promise<boolean>, min: number, timeoutMs = 120_000, onAnswer?: (r: HttpResult) => void): Promise<{ ok: number; failed: LoopFailure[] }> {
  const start = Date.now();
  const deadline = start + timeoutMs;
  let reached = false;
  let stop = false;
  const watch = (async () => {
    while (!stop && !reached && Date.now() < deadline) {
      reached = await done().catch(() => false);
      if (!reached) await sleep(250);
    }
  })();
  const out = { ok: 0, failed: [] as LoopFailure[] };
  try {
    while ((out.ok + out.failed.length < min || !reached) && Date.now() < deadline) {
      const atMs = Date.now() - start;
      try {
        const r = await get(host);
        onAnswer?.(r);
        if (r.status === 200) out.ok++;
        else out.failed.push({ outcome: String(r.status), atMs, answeredBy: proxyIdOf(r), said: firstLineOf(r, 120) });
      } catch (e) {
        out.failed.push({ outcome: (e as NodeJS.ErrnoException).code ?? (e as Error).message, atMs });
      }
      await sleep(20);
    }
  } finally {
    stop = true;
    await watch;
  }
  if (!reached) throw new Error(`requests to ${host}: the end condition did not hold within ${timeoutMs} ms (${out.ok} ok, ${out.failed.length} failed)`);
  return out;
}

/** The demo app's task hostname (= container id prefix) that answered. */
export function taskOf(r: HttpResult): string | undefined {
  const h = r.headers['x-demo-task'];
  return typeof h === 'string' ? h : undefined;
}

export async function distinctTasks(host: string, n: number, path = '/'): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) {
    const r = await get(host, path);
    const t = taskOf(r);
    if (r.status === 200 && t) seen.add(t);
  }
  return seen;
}

export async function ensureNetwork(name: string): Promise<string> {
  const list = (await docker.listNetworks({ filters: { name: [name] } })) as Raw[];
  const found = list.find((n) => n.Name === name);
  if (found) return found.Id as string;
  const net = (await docker.createNetwork({ Name: name, Driver: 'overlay', Attachable: true, Labels: { 'com.signalbox.test': 'e2e' } })) as Raw;
  return net.id as string;
}

export interface DemoServiceOptions {
  name: string;
  labels?: Record<string, string>;
  replicas?: number;
  networks?: string[];
  env?: string[];
  ports?: { target: number; published: number; mode: 'host' | 'ingress' }[];
  secrets?: { name: string; id: string }[];
}

export async function createDemoService(o: DemoServiceOptions): Promise<string> {
  await removeService(o.name);
  const svc = (await docker.createService({
    Name: o.name,
    Labels: { 'com.signalbox.test': 'e2e', ...(o.labels ?? {}) },
    TaskTemplate: {
      ContainerSpec: {
        Image: DEMO_IMAGE,
        Env: [`NAME=${o.name}`, ...(o.env ?? [])],
        StopGracePeriod: 1_000_000_000,
        ...(o.secrets ? { Secrets: o.secrets.map((s) => ({ SecretID: s.id, SecretName: s.name, File: { Name: s.name, UID: '0', GID: '0', Mode: 0o444 } })) } : {}),
      },
      Networks: (o.networks ?? []).map((Target) => ({ Target })),
      RestartPolicy: { Condition: 'any', Delay: 500_000_000 },
    },
    Mode: { Replicated: { Replicas: o.replicas ?? 1 } },
    EndpointSpec: o.ports ? { Mode: 'dnsrr', Ports: o.ports.map((p) => ({ Protocol: 'tcp', TargetPort: p.target, PublishedPort: p.published, PublishMode: p.mode })) } : { Mode: 'dnsrr' },
  } as Raw)) as Raw;
  return svc.id as string;
}

/** Updates a service's spec in place (`engine`: the default engine unless given). */
export async function updateService(name: string, mutate: (spec: Raw) => void, engine: Docker = docker): Promise<void> {
  const s = engine.getService(name);
  const info = (await s.inspect()) as Raw;
  const spec = info.Spec;
  mutate(spec);
  await s.update({ _query: { version: info.Version.Index }, ...spec } as Raw);
}

export async function scaleService(name: string, replicas: number): Promise<void> {
  await updateService(name, (spec) => {
    spec.Mode = { Replicated: { Replicas: replicas } };
  });
}

export async function removeService(name: string): Promise<void> {
  try {
    await docker.getService(name).remove();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode !== 404) throw e;
  }
}

export async function runningTaskIds(service: string): Promise<string[]> {
  const tasks = (await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } })) as Raw[];
  return tasks
    .filter((t) => t.Status?.State === 'running')
    .map((t) => String(t.ID))
    .sort();
}

export async function runningTaskCount(service: string): Promise<number> {
  return (await runningTaskIds(service)).length;
}

/** Newest published config object of an extension: name + sha label. */
export async function latestPublishedConfig(extension = 'default'): Promise<{ name: string; sha: string; count: number } | undefined> {
  const list = (await docker.listConfigs({ filters: { label: [`com.signalbox.extension=${extension}`] } })) as Raw[];
  if (list.length === 0) return undefined;
  list.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt)));
  const c = list[0];
  return { name: String(c.Spec.Name), sha: String(c.Spec.Labels?.['com.signalbox.sha256'] ?? ''), count: list.length };
}

/** The service's spec as JSON (its Version changes on status updates too, so compare specs). */
export async function serviceSpec(name: string): Promise<string> {
  const info = (await docker.getService(name).inspect()) as Raw;
  return JSON.stringify(info.Spec);
}

/** No rolling update in progress and exactly `replicas` tasks running. */
export async function serviceSettled(name: string, replicas = 1): Promise<boolean> {
  const info = (await docker.getService(name).inspect()) as Raw;
  const state = info.UpdateStatus?.State as string | undefined;
  if (state === 'updating' || state === 'rollback_started') return false;
  return (await runningTaskCount(name)) === replicas;
}

/** Runs `fn` while hammering `host` in a loop; returns counts of good and failed requests. */
export async function underLoad<T>(host: string, fn: () => Promise<T>, intervalMs = 20, port = HTTP_PORT): Promise<{ result: T; ok: number; failed: { status: number; error?: string }[] }> {
  let stop = false;
  let ok = 0;
  const failed: { status: number; error?: string }[] = [];
  const loop = (async () => {
    while (!stop) {
      try {
        const r = await get(host, '/', {}, port);
        if (r.status === 200) ok++;
        else failed.push({ status: r.status });
      } catch (e) {
        failed.push({ status: 0, error: (e as Error).message });
      }
      await sleep(intervalMs);
    }
  })();
  let result: T;
  try {
    result = await fn();
  } finally {
    stop = true;
    await loop;
  }
  return { result, ok, failed };
}

// ---- Added for labels.e2e.test.ts: exec into stack containers, core status, served nginx.conf.

export const EXTENSION_SERVICE = process.env.SIGNALBOX_EXTENSION_SERVICE ?? 'signalbox-extension';

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` in a running container of swarm service `service` (no shell, no TTY). */
export async function execInService(service: string, cmd: string[], engine: Docker = docker): Promise<ExecResult> {
  const containers = await runningContainers(service, engine);
  if (containers.length === 0) throw new Error(`no running container of service ${service}`);
  return execInContainer(containers[0]!.id, cmd, engine);
}

/** Running containers of swarm service `service` on this engine, each with its task id. */
export async function runningContainers(service: string, engine: Docker = docker): Promise<{ id: string; task: string }[]> {
  const list = (await engine.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`], status: ['running'] } })) as Raw[];
  return list.map((c) => ({ id: String(c.Id), task: String(c.Labels?.['com.docker.swarm.task.id'] ?? '') }));
}

/** Runs `cmd` in container `id` (no shell, no TTY). */
export async function execInContainer(id: string, cmd: string[], engine: Docker = docker): Promise<ExecResult> {
  const container = engine.getContainer(id);
  const exec = await container.exec({ Cmd: cmd, AttachStdout: true, AttachStderr: true });
  const stream = (await exec.start({ hijack: true, stdin: false })) as NodeJS.ReadableStream;
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const { PassThrough } = await import('node:stream');
  const o = new PassThrough();
  const e = new PassThrough();
  o.on('data', (c: Buffer) => out.push(c));
  e.on('data', (c: Buffer) => err.push(c));
  engine.modem.demuxStream(stream, o, e);
  await new Promise<void>((resolve, reject) => {
    stream.on('end', () => resolve());
    stream.on('close', () => resolve());
    stream.on('error', reject);
  });
  const info = (await exec.inspect()) as Raw;
  return { exitCode: Number(info.ExitCode ?? -1), stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
}

/**
 * GET http://127.0.0.1:<port><path> from inside a container of `service` (its image has node ≥ 20),
 * with the API token the container holds (/run/secrets/signalbox-api-token) unless `auth` is false.
 */
export async function fetchInService(service: string, port: number, path: string, auth = true): Promise<{ status: number; body: string }> {
  const script =
    `let h={};try{if(process.argv[2]==='1')h={authorization:'Bearer '+require('fs').readFileSync('/run/secrets/signalbox-api-token','utf8').trim()}}catch(e){}` +
    `fetch('http://127.0.0.1:${port}'+process.argv[1],{headers:h,signal:AbortSignal.timeout(10000)})` +
    `.then(async r=>process.stdout.write(JSON.stringify({status:r.status,body:await r.text()})),e=>{process.stderr.write(String(e&&e.cause?e.cause.message:e));process.exit(3)})`;
  const r = await execInService(service, ['node', '-e', script, path, auth ? '1' : '0']);
  if (r.exitCode !== 0) throw new Error(`fetch ${path} in ${service} failed (${r.exitCode}): ${r.stderr.trim().slice(-300)}`);
  return JSON.parse(r.stdout) as { status: number; body: string };
}

export interface CoreServiceStatus {
  id: string;
  name: string;
  cluster: string;
  status: 'enabled' | 'disabled';
  hosts: string[];
  servers: number;
  errors: { code: DiagnosticCode; key: string; message: string; value?: string }[];
  warnings: { code: DiagnosticCode; key: string; message: string; value?: string }[];
}

/** Core's GET /v1/status (asked inside core's container: core publishes no port). */
export async function coreStatus(port = 8080): Promise<CoreServiceStatus[]> {
  const r = await fetchInService(CORE_SERVICE, port, '/v1/status');
  if (r.status !== 200) throw new Error(`core /v1/status answered ${r.status}`);
  return (JSON.parse(r.body) as { services: CoreServiceStatus[] }).services;
}

/** Every status entry core reports for the service named `name` (one per cluster that reports it). */
export async function statusOf(name: string): Promise<CoreServiceStatus[]> {
  return (await coreStatus()).filter((s) => s.name === name);
}

/** The nginx.conf the extension currently serves to proxy agents. */
export async function servedNginxConf(): Promise<string> {
  const r = await fetchInService(EXTENSION_SERVICE, 8081, '/v1/nginx.conf');
  if (r.status !== 200) throw new Error(`extension /v1/nginx.conf answered ${r.status}`);
  return r.body;
}

/**
 * Removes a network; true when it is gone (false while something is still attached, or while swarm still
 * lists it: removal of an overlay finishes after the call returns, and a file run next must not find it).
 */
export async function removeNetwork(name: string): Promise<boolean> {
  try {
    await docker.getNetwork(name).remove();
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code === 403 || code === 409 || code === 400 || code === 500) return false; // in use
    if (code !== 404) throw e;
  }
  const listed = (await docker.listNetworks({ filters: { name: [name] } })) as { Name: string }[];
  return !listed.some((n) => n.Name === name);
}

/** Names of the networks (and secrets) in a service's current spec. */
export async function serviceAttachments(name: string): Promise<{ networks: string[]; secrets: string[] }> {
  const info = (await docker.getService(name).inspect()) as Raw;
  const ids = ((info.Spec.TaskTemplate?.Networks ?? []) as Raw[]).map((n) => String(n.Target));
  const nets = (await docker.listNetworks()) as Raw[];
  const byId = new Map(nets.map((n) => [String(n.Id), String(n.Name)]));
  const networks = ids.map((id) => byId.get(id) ?? nets.find((n) => String(n.Id).startsWith(id) || n.Name === id)?.Name ?? id).sort();
  const secrets = ((info.Spec.TaskTemplate?.ContainerSpec?.Secrets ?? []) as Raw[]).map((s) => String(s.SecretName)).sort();
  return { networks, secrets };
}

/** Running tasks' addresses on network `network` (IPv4, without prefix length). */
export async function taskAddresses(service: string, network: string): Promise<string[]> {
  const tasks = (await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } })) as Raw[];
  const out: string[] = [];
  for (const t of tasks) {
    if (t.Status?.State !== 'running') continue;
    for (const a of (t.NetworksAttachments ?? []) as Raw[]) {
      if (a.Network?.Spec?.Name !== network) continue;
      for (const addr of (a.Addresses ?? []) as string[]) out.push(addr.split('/')[0]!);
    }
  }
  return out.sort();
}

/** The nginx.conf a proxy task has installed (what its nginx runs, or is about to after the reload). */
export async function proxyNginxConf(path = '/etc/nginx/nginx.conf'): Promise<string> {
  const r = await execInService(PROXY_SERVICE, ['cat', path]);
  if (r.exitCode !== 0) throw new Error(`cat ${path} in ${PROXY_SERVICE} failed: ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * What a failed wait on the proxy needs explained, as one line: the proxy service's update state, its
 * tasks (desired/actual state, networks), and the status core reports for `services`.
 */
export async function proxyDiagnostics(services: readonly string[] = []): Promise<string> {
  const parts: string[] = [];
  try {
    const info = (await docker.getService(PROXY_SERVICE).inspect()) as Raw;
    parts.push(`update ${JSON.stringify(info.UpdateStatus ?? null)}`);
    const tasks = (await docker.listTasks({ filters: { service: [PROXY_SERVICE] } })) as Raw[];
    const recent = tasks.sort((a, b) => String(b.CreatedAt).localeCompare(String(a.CreatedAt))).slice(0, 6);
    parts.push(
      `tasks ${recent
        .map(
          (t) =>
            `${String(t.ID).slice(0, 10)} ${t.DesiredState}/${t.Status?.State}${t.Status?.Err ? ` (${t.Status.Err})` : ''} nets=[${((t.NetworksAttachments ?? []) as Raw[]).map((a) => a.Network?.Spec?.Name).join(',')}]`,
        )
        .join('; ')}`,
    );
  } catch (e) {
    parts.push(`proxy: ${(e as Error).message}`);
  }
  if (services.length > 0) {
    try {
      const st = await cliStatus();
      for (const name of services) parts.push(`${name}: ${JSON.stringify(st.services.find((s) => s.name === name) ?? 'not in core status')}`);
    } catch (e) {
      parts.push(`status: ${(e as Error).message}`);
    }
  }
  return parts.join(' | ');
}

/** Runs `fn`; if it throws, the error's message gets proxyDiagnostics(services) appended. */
export async function explainingFailure<T>(services: readonly string[], fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    err.message = `${err.message}\n  state at failure: ${await proxyDiagnostics(services)}`;
    throw err;
  }
}

// ---- Added for bad-labels.e2e.test.ts: the built CLI's status, core's metrics.

export interface CliStatus {
  routes: { extension: string; cluster: string; kind: string; host: string; path: string; services: string[]; servers: number }[];
  services: CoreServiceStatus[];
}

/** `signalbox status --json` with the built CLI (packages/cli/dist/main.js), which execs into core's container. */
export async function cliStatus(): Promise<CliStatus> {
  const { execFile } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const main = fileURLToPath(new URL('../../../cli/dist/main.js', import.meta.url));
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, [main, 'status', '--json'], { timeout: 30_000, maxBuffer: 64 * 1024 * 1024 }, (e, out, err) => {
      if (e) reject(new Error(`signalbox status --json failed: ${String(err).trim().slice(-300) || e.message}`));
      else resolve(out);
    });
  });
  return JSON.parse(stdout) as CliStatus;
}

/** Sum of every sample of Prometheus metric `name` in core's GET /metrics (asked inside core's container). */
export async function coreMetricSum(name: string, port = 8080): Promise<number> {
  const r = await fetchInService(CORE_SERVICE, port, '/metrics');
  if (r.status !== 200) throw new Error(`core /metrics answered ${r.status}`);
  let sum = 0;
  for (const line of r.body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{[^}]*\})?\s+(\S+)/.exec(line);
    if (m && m[1] === name) sum += Number(m[2]);
  }
  return sum;
}

// ---- Added for operations.e2e.test.ts: deploying the stack with a config.toml, core's logs and state.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
/**
 * The config.toml the stack runs on during the e2e suite: scripts/test.sh deploys deploy/config.toml with a
 * short ProxyNetworkDetachDelay (e2e_config in scripts/lib/stack.sh) and names it here; a file run on its
 * own after ./scripts/up.sh uses deploy/config.toml itself.
 */
export const DEPLOYED_CONFIG = process.env.SIGNALBOX_E2E_CONFIG || join(REPO_ROOT, 'deploy/config.toml');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (no shell); never throws on a non-zero exit. */
export function run(cmd: string, args: string[], timeoutMs = 120_000): Promise<RunResult> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
      done({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The Docker config object name deploy_stack gives a config.toml: signalbox-config-<sha256[:12]>. */
export function stackConfigName(file: string): string {
  return `signalbox-config-${createHash('sha256').update(readFileSync(file)).digest('hex').slice(0, 12)}`;
}

/**
 * deploy/config.toml with `fragments` (files holding more [Extensions.NAME] sections) appended, written
 * to a temporary file: [Extensions.default] stays exactly as deployed, so its proxy is not touched.
 */
export function composeConfig(fragments: string[]): string {
  const text = [DEPLOYED_CONFIG, ...fragments].map((f) => readFileSync(f, 'utf8').trimEnd() + '\n').join('\n');
  const file = join(tmpdir(), `sbx-ops-config-${createHash('sha256').update(text).digest('hex').slice(0, 12)}.toml`);
  writeFileSync(file, text);
  return file;
}

/** The name of the secret deploy_stack made from the api or proxy token file (scripts/lib/stack.sh token_secret). */
export async function tokenSecret(kind: 'api' | 'proxy'): Promise<string> {
  const r = await run('bash', ['-c', 'source scripts/lib/stack.sh && token_secret "$1"', 'token', kind]);
  if (r.code !== 0) throw new Error(`token_secret ${kind} failed: ${r.stderr.slice(-300)}`);
  return r.stdout.trim();
}

/** `deploy_stack FILE` from scripts/lib/stack.sh, as an operator would; returns the config object's name. */
export async function deployStackConfig(file: string): Promise<string> {
  const r = await run('bash', ['-c', 'source scripts/lib/stack.sh && deploy_stack "$1"', 'deploy', file]);
  if (r.code !== 0) throw new Error(`deploy_stack ${file} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return stackConfigName(file);
}

function coreConfigOf(spec: Raw): string | undefined {
  return (spec?.ContainerSpec?.Configs ?? spec?.TaskTemplate?.ContainerSpec?.Configs ?? []).find((c: Raw) => c.File?.Name === '/config.toml')?.ConfigName;
}

/** Core's service spec, update state and running tasks, with the config.toml object each uses. */
export async function coreState(): Promise<{ config?: string; update?: string; running: { id: string; config?: string }[] }> {
  const info = (await docker.getService(CORE_SERVICE).inspect()) as Raw;
  const tasks = (await docker.listTasks({ filters: { service: [CORE_SERVICE], 'desired-state': ['running'] } })) as Raw[];
  return {
    config: coreConfigOf(info.Spec),
    update: info.UpdateStatus?.State,
    running: tasks.filter((t) => t.Status?.State === 'running').map((t) => ({ id: String(t.ID), config: coreConfigOf(t.Spec) })),
  };
}

/** Waits until core's spec names `configName`, no update is in flight, and one task runs on it. */
export async function waitCoreOn(configName: string, timeoutMs = 120_000): Promise<string> {
  return waitFor(
    `core running on ${configName}`,
    async () => {
      const s = await coreState();
      if (s.config !== configName || s.update === 'updating' || s.update === 'rollback_started') return false;
      return s.running.length === 1 && s.running[0]!.config === configName ? s.running[0]!.id : false;
    },
    timeoutMs,
    500,
  );
}

/** Core's JSON log lines (every task, failed ones too) since `since`. */
export function coreLogs(since: Date): Promise<Record<string, unknown>[]> {
  return serviceLogs(CORE_SERVICE, since);
}

/** A Signalbox service's JSON log lines (every task, stopped ones too) since `since`. */
export async function serviceLogs(service: string, since: Date): Promise<Record<string, unknown>[]> {
  const r = await run('docker', ['service', 'logs', '--raw', '--since', since.toISOString(), service]);
  return `${r.stdout}\n${r.stderr}`
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
}

/**
 * The JSON log lines of one task's container on this node (`docker logs`): `docker service logs` on this
 * engine sometimes leaves out a task that is still running.
 */
export async function taskLogs(taskId: string): Promise<Record<string, unknown>[]> {
  const containers = (await docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.task.id=${taskId}`] } })) as Raw[];
  const lines: Record<string, unknown>[] = [];
  for (const c of containers) {
    const r = await run('docker', ['logs', String(c.Id)]);
    for (const l of `${r.stdout}\n${r.stderr}`.split('\n')) {
      if (!l.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // not a log record
      }
    }
  }
  return lines;
}

/** `docker service inspect NAME` (the CLI, as an operator checks it); undefined when there is no such service. */
export async function inspectService(name: string): Promise<Raw | undefined> {
  const r = await run('docker', ['service', 'inspect', name]);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as Raw[])[0];
}

/** Names of the Docker config objects an extension published (label com.signalbox.extension=NAME). */
export async function publishedConfigNames(extension: string): Promise<string[]> {
  const list = (await docker.listConfigs({ filters: { label: [`com.signalbox.extension=${extension}`] } })) as Raw[];
  return list.map((c) => String(c.Spec?.Name)).sort();
}

/** One GET through a proxy port; status 0 when the connection failed. */
export async function statusOn(port: number, host: string, path = '/'): Promise<number> {
  try {
    return (await get(host, path, {}, port)).status;
  } catch {
    return 0;
  }
}
