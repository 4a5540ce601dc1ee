// Shared bits for benchmark scripts (plain ESM so they run without a build step).
import http from 'node:http';
import Docker from 'dockerode';

export const docker = new Docker({ socketPath: '/var/run/docker.sock' });
export const HTTP_PORT = Number(process.env.SIGNALBOX_HTTP_PORT ?? 8080);
export const DEMO_IMAGE = process.env.SIGNALBOX_DEMO_IMAGE ?? 'signalbox-demo:local';
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function get(host, path = '/', timeoutMs = 3000) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: HTTP_PORT, path, headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, task: res.headers['x-demo-task'] }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: 0 }));
    req.end();
  });
}

/**
 * For each of `hosts`, when (epoch ms) a probe first got an answer `want` accepts; undefined if none did
 * within `timeoutMs`. A round of probes starts every `everyMs` without waiting for the ones in flight:
 * the edge holds a request for a host no routing task serves up to 0.8 s before its 503 (it asks the
 * tasks again, edge.ts AGAIN_PAUSES), so one probe at a time would see a change up to that late. A 200
 * is stamped when it arrives; any other answer when its probe was sent (its first try already failed then).
 */
export async function firstAnswers(hosts, want, timeoutMs, everyMs = 100) {
  const at = new Array(hosts.length).fill(undefined);
  const end = Date.now() + timeoutMs;
  const inFlight = new Set();
  while (at.some((x) => x === undefined) && Date.now() < end) {
    hosts.forEach((h, i) => {
      if (at[i] !== undefined) return;
      const sentAt = Date.now();
      const probe = get(h, '/', 2000).then((r) => {
        if (at[i] === undefined && want(r.status)) at[i] = r.status === 200 ? Date.now() : sentAt;
      });
      inFlight.add(probe);
      void probe.finally(() => inFlight.delete(probe));
    });
    await sleep(everyMs);
  }
  await Promise.all(inFlight);
  return at;
}

export async function ensureNetwork(name) {
  const found = (await docker.listNetworks({ filters: { name: [name] } })).find((n) => n.Name === name);
  if (found) return found.Id;
  return (await docker.createNetwork({ Name: name, Driver: 'overlay', Attachable: true })).id;
}

export async function createService(name, labels, network, replicas = 1) {
  await removeService(name);
  return docker.createService({
    Name: name,
    Labels: labels,
    TaskTemplate: {
      ContainerSpec: { Image: DEMO_IMAGE, Env: [`NAME=${name}`], StopGracePeriod: 1e9 },
      Networks: [{ Target: network }],
    },
    Mode: { Replicated: { Replicas: replicas } },
    EndpointSpec: { Mode: 'dnsrr' },
  });
}

export async function removeService(name) {
  try {
    await docker.getService(name).remove();
  } catch (e) {
    if (e.statusCode !== 404) throw e;
  }
}

export async function runningTasks(service) {
  const ts = await docker.listTasks({ filters: { service: [service], 'desired-state': ['running'] } });
  return ts.filter((t) => t.Status?.State === 'running');
}

export async function scale(name, replicas) {
  const s = docker.getService(name);
  const info = await s.inspect();
  await s.update({ _query: { version: info.Version.Index }, ...info.Spec, Mode: { Replicated: { Replicas: replicas } } });
}

export function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.ceil(p * s.length) - 1)];
  return { n: s.length, min: s[0], median: q(0.5), p95: q(0.95), max: s[s.length - 1] };
}

export const fmt = (ms) => (ms === undefined ? '-' : `${(ms / 1000).toFixed(3)} s`);

export function printRow(label, st) {
  console.log(`${label.padEnd(44)} n=${String(st.n).padStart(3)}  min ${fmt(st.min)}  median ${fmt(st.median)}  p95 ${fmt(st.p95)}  max ${fmt(st.max)}`);
}
