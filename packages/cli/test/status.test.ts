import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClusterModels, contentVersion } from '@signalbox/model';
import type { ServiceSnapshot, ServiceStatus, SwarmSnapshot } from '@signalbox/model';
import type { DockerAccess, StatusReport } from '../src/index.js';
import { run } from './helpers.js';

// A realistic core: models and statuses come from the real builder.
const NET = { id: 'n1', name: 'demo_front', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} };

function svc(name: string, labels: Record<string, string>, ips: string[] = ['10.0.1.5'], createdAt = '2026-01-01T00:00:00Z'): ServiceSnapshot {
  return {
    id: `id-${name}`,
    name,
    labels,
    createdAt,
    networkIds: ['n1'],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: ips.map((addr, i) => ({ id: `t-${name}-${i}`, nodeId: 'node1', slot: i + 1, addresses: [{ networkId: 'n1', addr }] })),
  };
}

const lb = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [`com.docker.lb.${k}`, v]));

const SNAP: SwarmSnapshot = {
  services: [
    svc('demo_web', lb({ hosts: 'app.example.com', port: '8080' }), ['10.0.1.5', '10.0.1.6']),
    svc('demo_api', lb({ hosts: 'app.example.com', port: '9000', context_root: '/api' }), ['10.0.1.7']),
    svc('demo_tls', lb({ hosts: 'secure.example.com', port: '8443', ssl_passthrough: 'true' }), []),
    svc('demo_fallback', lb({ default_backend: 'true', port: '8080' })),
    svc('demo_bad', lb({ hosts: 'bad.example.com', port: '0' })),
    svc('demo_shop_a', lb({ hosts: 'shop.example.com', port: '80', sticky_session_cookie: 'a' }), ['10.0.1.8'], '2026-01-01T00:00:00Z'),
    svc('demo_shop_b', lb({ hosts: 'shop.example.com', port: '80', sticky_session_cookie: 'b' }), ['10.0.1.9'], '2026-01-02T00:00:00Z'),
    svc('demo_dup', lb({ hosts: 'dup.example.com,DUP.example.com', port: '80' })),
    svc('intra_wiki', lb({ hosts: 'wiki.corp', port: '80', service_cluster: 'internal' })),
  ],
  networks: [NET],
  secrets: [],
  nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
};

const TARGETS = [
  { name: 'default', serviceCluster: '', networks: [] },
  { name: 'internal', serviceCluster: 'internal', networks: [] },
];

function coreApi(): Map<string, { status: number; body: unknown }> {
  const models = buildClusterModels(SNAP, TARGETS);
  const byId = new Map<string, ServiceStatus>();
  for (const m of models.values()) for (const s of m.services) if (!byId.has(`${s.id}/${s.cluster}`)) byId.set(`${s.id}/${s.cluster}`, s);
  const routes = new Map<string, { status: number; body: unknown }>();
  routes.set('/v1/status', { status: 200, body: { services: [...byId.values()] } });
  routes.set('/v1/extensions', { status: 200, body: { extensions: [...models.keys()] } });
  for (const [name, model] of models) routes.set(`/v1/extensions/${name}/model`, { status: 200, body: { version: contentVersion(model), extension: name, model } });
  return routes;
}

function fakeFetch(base: string, seen: string[] = []): typeof fetch {
  const api = coreApi();
  return (async (input: string | URL | Request) => {
    const url = String(input);
    seen.push(url);
    if (!url.startsWith(base)) throw new TypeError('fetch failed');
    const r = api.get(url.slice(base.length));
    if (!r) return new Response(JSON.stringify({ message: 'not found' }), { status: 404 });
    return new Response(JSON.stringify(r.body), { status: r.status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

describe('signalbox status with --core / SIGNALBOX_CORE_URL', () => {
  test('human output: routes table, rejected services with reasons, warnings', async () => {
    const seen: string[] = [];
    const r = await run(['status', '--core', 'http://core.test:8080/'], { fetch: fakeFetch('http://core.test:8080', seen) });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(seen).toContain('http://core.test:8080/v1/status');
    expect(seen).toContain('http://core.test:8080/v1/extensions/internal/model');
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^EXTENSION +HOST +PATH +SERVICE\(S\) +SERVERS$/);
    const row = (...cells: string[]): RegExp => new RegExp(`^${cells.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join(' +')}$`, 'm');
    expect(r.stdout).toMatch(row('default', 'app.example.com', '/', 'demo_web', '2'));
    expect(r.stdout).toMatch(row('default', 'app.example.com', '/api', 'demo_api', '1'));
    expect(r.stdout).toMatch(row('default', 'secure.example.com', '(passthrough)', 'demo_tls', '0 (503)'));
    expect(r.stdout).toMatch(row('default', '(default backend)', '/', 'demo_fallback', '1'));
    expect(r.stdout).toMatch(row('default', 'shop.example.com', '/', 'demo_shop_a', '1'));
    expect(r.stdout).toMatch(row('internal', 'wiki.corp', '/', 'intra_wiki', '1'));
    const rejected = r.stdout.slice(r.stdout.indexOf('Rejected services'));
    expect(rejected).toContain('  demo_bad (default cluster): com.docker.lb.port: "0" ');
    expect(rejected).toMatch(/ {2}demo_shop_b \(default cluster\): com\.docker\.lb\.hosts: "shop\.example\.com" .*demo_shop_a/);
    expect(rejected).not.toContain('demo_web');
    expect(r.stdout).toMatch(/Warnings\n {2}demo_dup \(default cluster\): com\.docker\.lb\.hosts: /);
    expect(lines.filter(Boolean).at(-1)).toBe('7 routes; 9 labelled services: 7 enabled, 2 rejected');
  });

  test('--json prints {routes, services}', async () => {
    const r = await run(['status', '--json'], { env: { SIGNALBOX_CORE_URL: 'http://core.test:8080' }, fetch: fakeFetch('http://core.test:8080') });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as StatusReport;
    expect(Object.keys(report).sort()).toEqual(['routes', 'services']);
    expect(report.routes).toContainEqual({
      extension: 'default',
      cluster: '',
      kind: 'http',
      host: 'app.example.com',
      path: '/',
      tls: false,
      services: ['demo_web'],
      servers: 2,
    });
    const bad = report.services.find((s) => s.name === 'demo_bad')!;
    expect(bad.status).toBe('disabled');
    expect(bad.errors[0]).toEqual(expect.objectContaining({ code: 'ERR_LABEL_PORT_INVALID', key: 'com.docker.lb.port', value: '0' }));
    expect(report.services.map((s) => s.name)).toEqual([...report.services.map((s) => s.name)].sort());
  });

  test('--fail-on-rejected exits 1 when a service is rejected', async () => {
    const r = await run(['status', '--fail-on-rejected', '--core', 'http://core.test:8080'], { fetch: fakeFetch('http://core.test:8080') });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Rejected services');
  });

  test('an empty cluster', async () => {
    const empty = (async (input: string | URL | Request) => {
      const path = new URL(String(input)).pathname;
      const body =
        path === '/v1/status'
          ? { services: [] }
          : path === '/v1/extensions'
            ? { extensions: ['default'] }
            : { version: 'x', extension: 'default', model: buildClusterModels({ services: [], networks: [], secrets: [], nodes: [] }, TARGETS.slice(0, 1)).get('default') };
      return new Response(JSON.stringify(body));
    }) as typeof fetch;
    const r = await run(['status', '--core', 'http://c:1'], { fetch: empty });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('No routes.\n\nRejected services\n  none\n\n0 routes; 0 labelled services: 0 enabled, 0 rejected\n');
  });

  test('core unreachable or answering nonsense: exit 2 with the reason', async () => {
    const down = await run(['status', '--core', 'http://elsewhere:8080'], { fetch: fakeFetch('http://core.test:8080') });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('cannot reach core at http://elsewhere:8080');
    const html = (async () => new Response('<html>', { status: 200 })) as unknown as typeof fetch;
    const bad = await run(['status', '--core', 'http://c:1'], { fetch: html });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('not JSON');
    const err500 = (async () => new Response('boom', { status: 500 })) as unknown as typeof fetch;
    expect((await run(['status', '--core', 'http://c:1'], { fetch: err500 })).stderr).toContain('HTTP 500');
  });

  test('a bad --core URL is a usage error', async () => {
    expect((await run(['status', '--core', 'not a url'])).code).toBe(2);
    expect((await run(['status', '--core', 'ftp://x'])).code).toBe(2);
  });
});

describe('signalbox status through the Docker socket', () => {
  test('no core container on this node: exit 2, says where to run it', async () => {
    const asked: string[] = [];
    const docker: DockerAccess = {
      endpoint: 'unix:///var/run/docker.sock',
      findServiceContainer: async (name) => {
        asked.push(name);
        return undefined;
      },
      exec: async () => {
        throw new Error('not expected');
      },
    };
    const r = await run(['status'], { docker, env: { SIGNALBOX_STACK: 'lb' } });
    expect(r.code).toBe(2);
    expect(asked).toEqual(['lb_core']);
    expect(r.stderr).toContain('no running container of service lb_core on this node');
    expect(r.stderr).toContain('manager');
    expect(r.stderr).toContain('--core');
  });

  test('Docker not reachable: exit 2', async () => {
    const docker: DockerAccess = {
      endpoint: 'unix:///nope',
      findServiceContainer: async () => {
        const { DockerError } = await import('../src/index.js');
        throw new DockerError('cannot reach Docker at unix:///nope: ENOENT');
      },
      exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    };
    const r = await run(['status'], { docker });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot reach Docker at unix:///nope: ENOENT');
  });

  test('runs the requests inside core’s container with node -e (script exercised for real)', async () => {
    const api = coreApi();
    const server = createServer((req, res) => {
      const r = api.get(req.url ?? '');
      res.writeHead(r ? r.status : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify(r ? r.body : { message: 'nope' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const dir = mkdtempSync(join(tmpdir(), 'sbx-cli-'));
    const configPath = join(dir, 'config.toml');
    writeFileSync(configPath, `ListenAddr = ":${port}"\n\n[Extensions.default]\n`);
    const execs: string[][] = [];
    const docker: DockerAccess = {
      endpoint: 'unix:///var/run/docker.sock',
      findServiceContainer: async (name) => (name === 'signalbox_core' ? 'c0ffee0123456789' : undefined),
      exec: (id, cmd) => {
        expect(id).toBe('c0ffee0123456789');
        execs.push([...cmd]);
        expect(cmd[0]).toBe('node');
        return new Promise((resolve) => {
          execFile(process.execPath, cmd.slice(1), { env: { SIGNALBOX_CONFIG: configPath } }, (error, stdout, stderr) => {
            resolve({ exitCode: error ? Number(error.code ?? 1) : 0, stdout, stderr });
          });
        });
      },
    };
    try {
      const r = await run(['status', '--json'], { docker });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout) as StatusReport;
      expect(report.routes.length).toBe(7);
      expect(report.services.length).toBe(9);
      // One exec for status + extensions, one for all the models.
      expect(execs.map((c) => c.slice(3))).toEqual([
        ['/v1/status', '/v1/extensions'],
        ['/v1/extensions/default/model', '/v1/extensions/internal/model'],
      ]);
    } finally {
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a failing query inside the container is reported', async () => {
    const docker: DockerAccess = {
      endpoint: 'unix:///var/run/docker.sock',
      findServiceContainer: async () => 'abc',
      exec: async () => ({ exitCode: 3, stdout: '', stderr: 'http://127.0.0.1:8080: connect ECONNREFUSED 127.0.0.1:8080' }),
    };
    const r = await run(['status'], { docker });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('ECONNREFUSED');
  });
});
