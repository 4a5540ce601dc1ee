// What core's routes send is exactly what its stores hold: the response schemas (protocol's) type and
// check the bodies, and must not drop a field on the way (fastify's serializer drops what a schema does
// not name). A realistic swarm, through the real builder.
import { buildClusterModels, parseConfig, readExtensionPayload } from '@signalbox/model';
import type { ServiceSnapshot, SwarmSnapshot } from '@signalbox/model';
import { createLogger } from '@signalbox/protocol';
import { buildApp } from '../src/api.js';
import { ExclusionStore } from '../src/exclusions.js';
import { createMetrics } from '../src/metrics.js';
import { ModelStore } from '../src/model-store.js';

const NET = { id: 'n1', name: 'front', driver: 'overlay', scope: 'swarm', attachable: false, ingress: false, labels: {} };
const lb = (o: Record<string, string>): Record<string, string> => Object.fromEntries(Object.entries(o).map(([k, v]) => [`com.docker.lb.${k}`, v]));
const svc = (name: string, labels: Record<string, string>, ips: string[] = ['10.0.1.5']): ServiceSnapshot => ({
  id: `id-${name}`,
  name,
  labels: { ...labels, 'com.docker.lb.network': 'front' },
  createdAt: '2026-01-01T00:00:00Z',
  networkIds: ['n1'],
  endpointMode: 'dnsrr',
  vips: [],
  ports: [],
  tasks: ips.map((addr, i) => ({ id: `t-${name}-${i}`, nodeId: 'node1', slot: i + 1, addresses: [{ networkId: 'n1', addr }] })),
});
const SNAP: SwarmSnapshot = {
  services: [
    svc('web', lb({ hosts: 'app.example.com', port: '8080', sticky_session_cookie: 'sid' }), ['10.0.1.5', '10.0.1.6']),
    svc('api', lb({ hosts: 'app.example.com', port: '9000', context_root: '/api', context_root_rewrite: 'true' })),
    svc('tls', lb({ hosts: 'secure.example.com', port: '8443', ssl_passthrough: 'true' })),
    svc('fallback', lb({ default_backend: 'true', port: '8080' })),
    svc('redir', lb({ hosts: 'old.example.com', port: '80', redirects: 'old.example.com,new.example.com' })),
    svc('bad', lb({ hosts: 'bad.example.com', port: '0' })),
  ],
  networks: [NET],
  secrets: [],
  nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
};
const TOKEN = 'test-token-0123456789abcdef0123456789abcdef';

test('the model payload and the statuses reach clients field for field', async () => {
  const cfg = parseConfig('[Extensions.default]\n');
  if (!cfg.ok) throw new Error('default config must parse');
  const model = buildClusterModels(SNAP, [{ name: 'default', serviceCluster: '', networks: [] }]).get('default')!;
  // The swarm above exercises virtual hosts, locations, passthrough, the default backend, redirects and a rejection.
  expect(model.virtualHosts.length).toBeGreaterThan(0);
  expect(model.passthrough.length).toBeGreaterThan(0);
  expect(model.defaultBackend).toBeDefined();
  expect(model.services.some((s) => s.status === 'disabled' && s.errors.length > 0)).toBe(true);
  const store = new ModelStore();
  store.set('default', cfg.config.Extensions.default!, model);
  const app = buildApp({ store, exclusions: new ExclusionStore(), statuses: () => model.services, registry: createMetrics(false).registry, log: createLogger('test', 'silent'), apiToken: TOKEN });
  const headers = { authorization: `Bearer ${TOKEN}` };
  const payload = await app.inject({ url: '/v1/extensions/default/model', headers });
  expect(payload.statusCode).toBe(200);
  expect(payload.json()).toEqual(JSON.parse(JSON.stringify(store.get('default'))));
  // What core sends passes the extension's check of the whole model.
  expect(readExtensionPayload(payload.json())).toEqual(payload.json());
  const status = await app.inject({ url: '/v1/status', headers });
  expect(status.json()).toEqual(JSON.parse(JSON.stringify({ services: model.services })));
  await app.close();
});
