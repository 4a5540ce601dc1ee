import { jest } from '@jest/globals';
import type { ClusterModel, Logger, Upstream } from '@signalbox/model';
import { contentVersion } from '@signalbox/model';
import { TaskChurnDamper } from '../src/task-churn-damper.js';

const log = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger;
const up = (name: string, servers: [string, string][]): Upstream => ({
  name,
  servers: servers.map(([service, addr]) => ({ service, addr, port: 80 })),
  balance: 'round_robin',
  tls: { enabled: false, verify: false },
  services: [...new Set(servers.map(([s]) => s))].length ? [...new Set(servers.map(([s]) => s))] : [name],
});
const model = (crash: string[], web: string[]): ClusterModel => ({
  cluster: '',
  virtualHosts: [
    { host: 'crash.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: { ...up('u_crash', crash.map((a) => ['crash', a])), services: ['crash'] } }] },
    { host: 'web.test', sslOnly: false, locations: [{ path: '/', rewrite: false, websocketEndpoints: [], upstream: { ...up('u_web', web.map((a) => ['web', a])), services: ['web'] } }] },
  ],
  passthrough: [],
  redirects: [],
  services: [],
  proxyNetworks: [],
  proxySecrets: [],
});

test('a crash-looping service publishes a few changes a minute; another service still publishes each change at once', () => {
  const d = new TaskChurnDamper(log, { threshold: 4, windowMs: 60_000, holdMs: 20_000 });
  const versions: string[] = [];
  let webVersion = 0;
  const webServers = () => Array.from({ length: 1 + (webVersion % 3) }, (_, i) => `10.0.1.${i + 1}`);
  // Two minutes: the crashing task comes up and dies every 1.5 s (a new address each start); web scales every 10 s.
  for (let t = 0, n = 0; t <= 120_000; t += 750, n++) {
    if (t % 10_000 === 0) webVersion++;
    const crash = n % 2 === 0 ? [`10.0.9.${(n / 2) % 250}`] : [];
    const out = d.apply('default', model(crash, webServers()), t);
    // Web's servers are never held.
    expect(out.virtualHosts[1]!.locations[0]!.upstream.servers.map((s) => s.addr)).toEqual(webServers());
    versions.push(contentVersion(out.virtualHosts[0]!.locations[0]!.upstream.servers));
  }
  const crashChanges = versions.filter((v, i) => i > 0 && v !== versions[i - 1]).length;
  // Undamped this would be 160 changes (one per start and one per exit).
  expect(crashChanges).toBeLessThanOrEqual(3 + 3 * 2 + 1); // the first few, then at most 3 a minute
  expect(d.held()).toEqual(['crash']);
  expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ service: 'crash' }), expect.stringContaining('crash loop'));
});

test('a stable service is never held: scaling publishes every step at once', () => {
  const d = new TaskChurnDamper(log, { threshold: 4, windowMs: 60_000, holdMs: 20_000 });
  for (let n = 1; n <= 3; n++) {
    const addrs = Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}`);
    expect(d.apply('default', model([], addrs), n * 30_000).virtualHosts[1]!.locations[0]!.upstream.servers.map((s) => s.addr)).toEqual(addrs);
  }
  expect(d.held()).toEqual([]);
});
