import { jest } from '@jest/globals';
import type { ClusterModel, Upstream } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { contentVersion } from '@signalbox/model';
import { TaskChurnDamper } from '../src/task-churn-damper.js';

const log = { warn: jest.fn(), info: jest.fn(), debug: jest.fn(), error: jest.fn() } as unknown as Logger;
const up = (name: string, servers: [string, string][]): Upstream => {
  const services = [...new Set(servers.map(([s]) => s))];
  return {
    name,
    servers: servers.map(([service, addr]) => ({ service, addr, port: 80 })),
    balance: 'round_robin',
    tls: { enabled: false, verify: false },
    services: services.length ? services : [name],
  };
};
/** `<service>.test` served at / by the upstream u_<service> with these task addresses. */
const vhost = (service: string, addrs: string[]): ClusterModel['virtualHosts'][number] => ({
  host: `${service}.test`,
  sslOnly: false,
  locations: [
    {
      path: '/',
      rewrite: false,
      websocketEndpoints: [],
      upstream: {
        ...up(
          `u_${service}`,
          addrs.map((a) => [service, a]),
        ),
        services: [service],
      },
    },
  ],
});
const model = (crash: string[], web: string[]): ClusterModel => ({
  cluster: '',
  virtualHosts: [vhost('crash', crash), vhost('web', web)],
  passthrough: [],
  redirects: [],
  // The status counts each service's servers: it changes with them.
  services: [
    { id: 'c', name: 'crash', cluster: '', status: 'enabled', hosts: ['crash.test'], servers: crash.length, errors: [], warnings: [] },
    { id: 'w', name: 'web', cluster: '', status: 'enabled', hosts: ['web.test'], servers: web.length, errors: [], warnings: [] },
  ],
  proxyNetworks: [],
  proxySecrets: [],
});

test('a crash-looping service publishes a few changes a minute; another service still publishes each change at once', () => {
  const d = new TaskChurnDamper(log, { threshold: 4, windowMs: 60_000, holdMs: 20_000, shortLivedMs: 30_000 });
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
    expect(out.services[1]!.servers).toBe(webServers().length);
    // Everything the crashing service contributes to the model (its servers and its status).
    versions.push(contentVersion([out.virtualHosts[0]!.locations[0]!.upstream.servers, out.services[0]]));
  }
  const crashChanges = versions.filter((v, i) => i > 0 && v !== versions[i - 1]).length;
  // Undamped this would be 160 changes (one per start and one per exit).
  // Until 4 short-lived tasks have exited (8 changes, the first 6 s), then at most one per 20 s: 6 in 2 minutes.
  expect(crashChanges).toBeLessThanOrEqual(2 * 4 + 6);
  expect(d.held()).toEqual(['crash']);
  expect(log.warn).toHaveBeenCalledWith(expect.objectContaining({ service: 'crash' }), expect.stringContaining('crash loop'));
});

test('scaling and rolling updates are never held, however quick: every step is published at once', () => {
  const d = new TaskChurnDamper(log, { threshold: 4, windowMs: 60_000, holdMs: 20_000, shortLivedMs: 30_000 });
  const steps: string[][] = [['10.0.1.1']];
  // Scale 1 → 4 one task at a time, then at once back to 1 (the e2e routing test does this within seconds),
  // then 1 → 3 → 1 again: 9 changes in 9 s, the scale-downs removing tasks only seconds old.
  for (let n = 2; n <= 4; n++) steps.push(Array.from({ length: n }, (_, i) => `10.0.1.${i + 1}`));
  steps.push(['10.0.1.1'], ['10.0.1.1', '10.0.1.5'], ['10.0.1.1', '10.0.1.5', '10.0.1.6'], ['10.0.1.6'], ['10.0.1.6', '10.0.1.7'], ['10.0.1.7']);
  // Tasks that ran 40 s before this starts: none of them is short-lived.
  d.apply('default', model([], ['10.0.1.1']), 0);
  steps.forEach((addrs, i) => {
    const out = d.apply('default', model([], addrs), 40_000 + i * 1000);
    expect(out.virtualHosts[1]!.locations[0]!.upstream.servers.map((s) => s.addr)).toEqual(addrs);
  });
  expect(d.held()).toEqual([]);
});
