// Helpers for e2e tests against the real swarm and the deployed Signalbox stack.
import http from 'node:http';
import Docker from 'dockerode';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });
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

/** A request to the proxy's published port with a Host header (no DNS needed). */
export function get(host: string, path = '/', headers: Record<string, string> = {}, port = HTTP_PORT): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, ...headers }, agent: false, timeout: 5000 }, (res) => {
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

export async function updateService(name: string, mutate: (spec: Raw) => void): Promise<void> {
  const s = docker.getService(name);
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
  return tasks.filter((t) => t.Status?.State === 'running').map((t) => String(t.ID)).sort();
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
export async function underLoad<T>(host: string, fn: () => Promise<T>, intervalMs = 20): Promise<{ result: T; ok: number; failed: { status: number; error?: string }[] }> {
  let stop = false;
  let ok = 0;
  const failed: { status: number; error?: string }[] = [];
  const loop = (async () => {
    while (!stop) {
      try {
        const r = await get(host);
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
