// Which hosts get ACME certificates and the coded reason for each one that does not.
import type { AcmeConfig, ServiceSnapshot, SwarmSnapshot } from '../src/index.js';
import { acmeHostAllowed, acmeServiceIds, buildClusterModels, defaultExtensionConfig, withAcmePlan } from '../src/index.js';

const NET = { id: 'n1', name: 'appnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };
const TARGETS = [{ name: 'default', serviceCluster: '', networks: [] }];
const ACME: AcmeConfig = { ...defaultExtensionConfig('default').Acme, DirectoryURL: 'https://ca.test/dir' };

function svc(name: string, labels: Record<string, string>, createdAt = '2026-01-01T00:00:00Z'): ServiceSnapshot {
  return {
    id: `id-${name}`,
    name,
    labels,
    createdAt,
    networkIds: ['n1'],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: `t-${name}`, nodeId: 'node1', slot: 1, addresses: [{ networkId: 'n1', addr: '10.0.1.5' }] }],
  };
}

function snap(...services: ServiceSnapshot[]): SwarmSnapshot {
  return {
    services,
    networks: [NET],
    secrets: [
      { id: 's1', name: 'web.crt' },
      { id: 's2', name: 'web.key' },
    ],
    nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
  };
}

const route = (hosts: string, extra: Record<string, string> = {}) => ({ 'com.docker.lb.hosts': hosts, 'com.docker.lb.port': '80', ...extra });

function plan(s: SwarmSnapshot, acme: AcmeConfig = ACME) {
  const m = withAcmePlan(buildClusterModels(s, TARGETS).get('default')!, acmeServiceIds(s), acme);
  const refusals = Object.fromEntries(m.services.map((x) => [x.name, x.warnings.filter((w) => w.code.startsWith('WARN_ACME_')).map((w) => `${w.code} ${w.value ?? ''}`)]));
  return { model: m, hosts: m.acmeHosts, refusals };
}

test('an acme service gets its routed hosts ordered, sorted, and stays enabled with no warning', () => {
  const r = plan(snap(svc('web', route('b.example.test,a.example.test', { 'com.docker.lb.acme': 'true' }))));
  expect(r.hosts).toEqual(['a.example.test', 'b.example.test']);
  expect(r.refusals).toEqual({ web: [] });
  expect(r.model.services[0]!.status).toBe('enabled');
});

test("without acme=true nothing changes: no acmeHosts field, the model is the builder's object", () => {
  const s = snap(svc('web', route('a.example.test')));
  const built = buildClusterModels(s, TARGETS).get('default')!;
  expect(withAcmePlan(built, acmeServiceIds(s), ACME)).toBe(built);
  expect('acmeHosts' in built).toBe(false);
});

test('an explicit certificate of another service on the host wins: WARN_ACME_HOST_HAS_CERT, host not ordered', () => {
  const r = plan(
    snap(
      svc('tls', route('a.example.test', { 'com.docker.lb.ssl_cert': 'web.crt', 'com.docker.lb.ssl_key': 'web.key' })),
      svc('acme', route('a.example.test,b.example.test', { 'com.docker.lb.acme': 'true', 'com.docker.lb.context_root': '/api' }), '2026-01-02T00:00:00Z'),
    ),
  );
  expect(r.hosts).toEqual(['b.example.test']);
  expect(r.refusals).toEqual({ acme: ['WARN_ACME_HOST_HAS_CERT a.example.test'], tls: [] });
  expect(r.model.virtualHosts.find((v) => v.host === 'a.example.test')!.tls).toEqual({ certSecret: 'web.crt', keySecret: 'web.key' });
});

test('the same service with ssl_cert and acme keeps the explicit certificate', () => {
  const r = plan(snap(svc('web', route('a.example.test', { 'com.docker.lb.acme': '1', 'com.docker.lb.ssl_cert': 'web.crt', 'com.docker.lb.ssl_key': 'web.key' }))));
  expect(r.hosts).toBeUndefined();
  expect(r.refusals).toEqual({ web: ['WARN_ACME_HOST_HAS_CERT a.example.test'] });
});

test('AllowedHosts: exact names and *.suffix for names under it; others WARN_ACME_HOST_NOT_ALLOWED', () => {
  const r = plan(snap(svc('web', route('a.ok.test,x.y.ok.test,ok.test,exact.test,other.test', { 'com.docker.lb.acme': 'true' }))), {
    ...ACME,
    AllowedHosts: ['*.ok.test', 'exact.test'],
  });
  expect(r.hosts).toEqual(['a.ok.test', 'exact.test', 'x.y.ok.test']);
  expect(r.refusals.web).toEqual(['WARN_ACME_HOST_NOT_ALLOWED ok.test', 'WARN_ACME_HOST_NOT_ALLOWED other.test']);
  expect(acmeHostAllowed('ok.test', ['*.ok.test'])).toBe(false);
  expect(acmeHostAllowed('xok.test', ['*.ok.test'])).toBe(false);
  expect(acmeHostAllowed('anything.test', [])).toBe(true);
});

test('wildcards and passthrough hosts are refused with their own codes', () => {
  const r = plan(
    snap(
      svc('wild', route('*.example.test', { 'com.docker.lb.acme': 'true' })),
      svc('pass', route('p.example.test', { 'com.docker.lb.acme': 'true', 'com.docker.lb.ssl_passthrough': 'true', 'com.docker.lb.port': '443' })),
    ),
  );
  expect(r.hosts).toBeUndefined();
  expect(r.refusals).toEqual({ pass: ['WARN_ACME_PASSTHROUGH p.example.test'], wild: ['WARN_ACME_WILDCARD *.example.test'] });
});

test('a host the service does not route (another owner holds it) is refused as not routed', () => {
  const r = plan(
    snap(
      svc('owner', { ...route('a.example.test'), 'com.docker.stack.namespace': 'team-a' }),
      svc('other', { ...route('a.example.test', { 'com.docker.lb.acme': 'true' }), 'com.docker.stack.namespace': 'team-b' }, '2026-01-02T00:00:00Z'),
    ),
  );
  // The foreign service is rejected as a whole by the builder; a disabled service asks for nothing.
  expect(r.model.services.find((s) => s.name === 'other')!.status).toBe('disabled');
  expect(r.hosts).toBeUndefined();
  expect(r.refusals.other).toEqual([]);
});

test('a canary member that does not carry the location is refused the host; the one that does gets it', () => {
  // Two services of one owner: b routes /b only on the host, a routes /. Both ask; each is on its own location.
  const r = plan(
    snap(
      svc('a', route('c.example.test', { 'com.docker.lb.acme': 'true' })),
      svc('b', route('c.example.test,d.example.test', { 'com.docker.lb.acme': 'true', 'com.docker.lb.context_root': '/b' }), '2026-01-02T00:00:00Z'),
    ),
  );
  expect(r.hosts).toEqual(['c.example.test', 'd.example.test']);
  expect(r.refusals).toEqual({ a: [], b: [] });
});

test('no DirectoryURL: WARN_ACME_NOT_CONFIGURED once per service, nothing ordered', () => {
  const r = plan(snap(svc('web', route('a.example.test,b.example.test', { 'com.docker.lb.acme': 'true' }))), { ...ACME, DirectoryURL: '' });
  expect(r.hosts).toBeUndefined();
  expect(r.refusals).toEqual({ web: ['WARN_ACME_NOT_CONFIGURED a.example.test,b.example.test'] });
});

test("a broken label update keeps the previous labels' acme flag, as the builder keeps their routes", () => {
  const s = svc('web', route('a.example.test', { 'com.docker.lb.port': 'eighty' }));
  s.previousLabels = route('a.example.test', { 'com.docker.lb.acme': 'true' });
  expect([...acmeServiceIds(snap(s))]).toEqual(['id-web']);
});
