// The payload core serves an extension is checked by the extension (readExtensionPayload) against the
// wire schema all the way down: what the builder produces passes, and a payload whose nested parts
// (servers, upstreams, routes, TLS) are malformed is refused with a message naming the field.
import { WireError } from '@signalbox/protocol';
import type { SwarmSnapshot } from '../src/index.js';
import { buildClusterModels, contentVersion, defaultConfig, readExtensionPayload } from '../src/index.js';

const NET = { id: 'n1', name: 'appnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };

function service(name: string, labels: Record<string, string>, addr: string): SwarmSnapshot['services'][number] {
  return {
    id: `id-${name}`,
    name,
    labels,
    createdAt: '2026-01-01T00:00:00Z',
    networkIds: ['n1'],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: `t-${name}`, nodeId: 'node1', slot: 1, addresses: [{ networkId: 'n1', addr }] }],
  };
}

/** A payload as core serves it (through JSON), with a route, TLS, a passthrough host, a redirect and a default backend. */
function servedPayload(): Record<string, unknown> {
  const snap: SwarmSnapshot = {
    services: [
      service(
        'web',
        {
          'com.docker.lb.hosts': 'web.test',
          'com.docker.lb.port': '80',
          'com.docker.lb.ssl_cert': 'web.crt',
          'com.docker.lb.ssl_key': 'web.key',
          'com.docker.lb.context_root': '/app',
          'com.docker.lb.sticky_session_cookie': 'sid',
        },
        '10.0.1.5',
      ),
      service('tls', { 'com.docker.lb.hosts': 'pass.test', 'com.docker.lb.port': '443', 'com.docker.lb.ssl_passthrough': 'true' }, '10.0.1.6'),
      service('old', { 'com.docker.lb.hosts': 'old.test', 'com.docker.lb.port': '80', 'com.docker.lb.redirects': 'http://old.test,http://web.test' }, '10.0.1.7'),
      service('fallback', { 'com.docker.lb.default_backend': 'true', 'com.docker.lb.port': '80' }, '10.0.1.8'),
      service('broken', { 'com.docker.lb.hosts': 'bad..test', 'com.docker.lb.port': '80' }, '10.0.1.9'),
    ],
    networks: [NET],
    secrets: [
      { id: 's1', name: 'web.crt' },
      { id: 's2', name: 'web.key' },
    ],
    nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
  };
  const model = buildClusterModels(snap, [{ name: 'default', serviceCluster: '', networks: [] }]).get('default')!;
  const extension = defaultConfig().Extensions.default!;
  return JSON.parse(JSON.stringify({ version: contentVersion({ extension, model }), extension, model })) as Record<string, unknown>;
}

/** The served payload with the model field at `path` (dot-separated) set to `value`, or removed when undefined. */
function malformed(path: string, value: unknown): unknown {
  const body = servedPayload();
  const keys = path.split('.');
  let parent = body.model as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) parent = parent[k] as Record<string, unknown>;
  if (value === undefined) delete parent[keys[keys.length - 1]!];
  else parent[keys[keys.length - 1]!] = value;
  return body;
}

test('what the builder produces passes, every part of the model present', () => {
  const body = servedPayload();
  const payload = readExtensionPayload(body);
  expect(payload.model.virtualHosts.map((v) => v.host)).toEqual(['old.test', 'web.test']);
  expect(payload.model.virtualHosts[1]!.tls).toEqual({ certSecret: 'web.crt', keySecret: 'web.key' });
  expect(payload.model.passthrough.map((p) => p.host)).toEqual(['pass.test']);
  expect(payload.model.redirects).toHaveLength(1);
  expect(payload.model.defaultBackend?.servers).toEqual([{ addr: '10.0.1.8', port: 80, service: 'fallback' }]);
  expect(payload.model.services.find((s) => s.name === 'broken')?.status).toBe('disabled');
  expect(payload).toEqual(body);
});

test.each([
  ['a server port as a string', 'virtualHosts.1.locations.0.upstream.servers.0.port', '80', '/model/virtualHosts/1/locations/0/upstream/servers/0/port must be integer'],
  ['a server without an address', 'passthrough.0.upstream.servers.0.addr', undefined, "/model/passthrough/0/upstream/servers/0 must have required property 'addr'"],
  ['an unknown balance', 'virtualHosts.0.locations.0.upstream.balance', 'random', '/model/virtualHosts/0/locations/0/upstream/balance must be equal to one of the allowed values'],
  ['a certificate without its key', 'virtualHosts.1.tls.keySecret', undefined, "/model/virtualHosts/1/tls must have required property 'keySecret'"],
  ['a route path without its slash', 'virtualHosts.1.locations.0.path', 'app', '/model/virtualHosts/1/locations/0/path must match pattern "^/"'],
  ['an upstream name nginx cannot take', 'defaultBackend.name', 'u x;', '/model/defaultBackend/name must match pattern'],
  ['a field the schema does not declare', 'redirects.0.code', 301, '/model/redirects/0 must NOT have additional properties'],
  ['a diagnostic without a code', 'services.0.errors.0.code', undefined, "/model/services/0/errors/0 must have required property 'code'"],
])('a payload with %s is refused, naming the field', (_, path, value, message) => {
  const body = malformed(path, value);
  expect(() => readExtensionPayload(body)).toThrow(WireError);
  expect(() => readExtensionPayload(body)).toThrow(`core's model payload does not match its schema: ${message}`);
});
