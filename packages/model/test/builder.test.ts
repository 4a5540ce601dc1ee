import type { ServiceSnapshot, SwarmSnapshot } from '../src/index.js';
import { buildClusterModels, contentVersion, upstreamName } from '../src/index.js';

const NET = { id: 'n1', name: 'appnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };
const NET2 = { id: 'n2', name: 'backnet', driver: 'overlay', scope: 'swarm', attachable: true, ingress: false, labels: {} };
const INGRESS = { id: 'ing', name: 'ingress', driver: 'overlay', scope: 'swarm', attachable: false, ingress: true, labels: {} };
const TARGETS = [{ name: 'default', serviceCluster: '', networks: [] }];

function svc(name: string, labels: Record<string, string>, o: Partial<ServiceSnapshot> & { ips?: string[] } = {}): ServiceSnapshot {
  const ips = o.ips ?? ['10.0.1.5'];
  return {
    id: `id-${name}`,
    name,
    labels,
    createdAt: o.createdAt ?? '2026-01-01T00:00:00Z',
    networkIds: o.networkIds ?? ['n1'],
    endpointMode: o.endpointMode ?? 'dnsrr',
    vips: o.vips ?? [],
    ports: o.ports ?? [],
    tasks: o.tasks ?? ips.map((addr, i) => ({ id: `t-${name}-${i}`, nodeId: 'node1', slot: i + 1, addresses: [{ networkId: 'n1', addr }] })),
  };
}

function snap(...services: ServiceSnapshot[]): SwarmSnapshot {
  return {
    services,
    networks: [NET, NET2, INGRESS],
    secrets: [
      { id: 's1', name: 'web.crt' },
      { id: 's2', name: 'web.key' },
    ],
    nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
  };
}

const route = (hosts: string, extra: Record<string, string> = {}) => ({ 'com.docker.lb.hosts': hosts, 'com.docker.lb.port': '80', ...extra });
const model = (s: SwarmSnapshot) => buildClusterModels(s, TARGETS).get('default')!;

test('routes the running tasks of a labelled service, upstream servers sorted numerically', () => {
  const m = model(snap(svc('web', route('web.example.test,www.example.test'), { ips: ['10.0.1.10', '10.0.1.9'] })));
  expect(m.virtualHosts.map((v) => v.host)).toEqual(['web.example.test', 'www.example.test']);
  const up = m.virtualHosts[0]!.locations[0]!.upstream;
  expect(up.servers.map((s) => s.addr)).toEqual(['10.0.1.9', '10.0.1.10']);
  expect(up.name).toBe(upstreamName('web.example.test', '/'));
  expect(m.proxyNetworks).toEqual(['appnet']);
  expect(m.services).toEqual([expect.objectContaining({ name: 'web', status: 'enabled', servers: 2 })]);
});

test('services without com.docker.lb labels are not in the model at all', () => {
  const withPlain = model(snap(svc('web', route('a.test')), svc('plain', { 'com.example.other': 'x' })));
  const without = model(snap(svc('web', route('a.test'))));
  expect(contentVersion(withPlain)).toBe(contentVersion(without));
});

test('same swarm state in any order gives a byte-identical model', () => {
  const a = svc('a', route('a.test'), { ips: ['10.0.1.3', '10.0.1.2'] });
  const b = svc('b', route('b.test'), { createdAt: '2026-01-02T00:00:00Z' });
  expect(JSON.stringify(model(snap(a, b)))).toBe(JSON.stringify(model(snap(b, a))));
});

test('a rejected service keeps its reasons and does not affect a valid one', () => {
  const m = model(snap(svc('good', route('good.test')), svc('bad', route('api..example.com'))));
  expect(m.virtualHosts.map((v) => v.host)).toEqual(['good.test']);
  const bad = m.services.find((s) => s.name === 'bad')!;
  expect(bad.status).toBe('disabled');
  expect(bad.errors[0]).toMatchObject({ code: 'ERR_LABEL_HOST_INVALID', key: 'com.docker.lb.hosts', value: 'api..example.com' });
});

test('network: required when on several networks, must be attached, must exist', () => {
  const multi = svc('multi', route('m.test'), { networkIds: ['n1', 'n2'] });
  expect(model(snap(multi)).services[0]!.errors[0]!.code).toBe('ERR_NETWORK_AMBIGUOUS');
  const named = svc('named', route('m.test', { 'com.docker.lb.network': 'backnet' }), { networkIds: ['n1'] });
  expect(model(snap(named)).services[0]!.errors[0]!.code).toBe('ERR_NETWORK_NOT_ATTACHED');
  const missing = svc('missing', route('m.test', { 'com.docker.lb.network': 'nope' }));
  expect(model(snap(missing)).services[0]!.errors[0]!.code).toBe('ERR_NETWORK_NOT_FOUND');
  // The ingress network never counts as "a network the service is on".
  const withIngress = svc('wi', route('wi.test'), { networkIds: ['n1', 'ing'] });
  expect(model(snap(withIngress)).services[0]!.status).toBe('enabled');
});

test("network: a stack's network is found by its key in the stack file, as in Interlock's examples", () => {
  // NET2 is named backnet; a service of stack "back" calls it "net" in its stack file.
  const stacked = svc('stacked', route('s.test', { 'com.docker.lb.network': 'net', 'com.docker.stack.namespace': 'back' }), { networkIds: ['n1', 'n2'] });
  const s = snap(stacked);
  s.networks = s.networks.map((n) => (n.id === 'n2' ? { ...n, name: 'back_net' } : n));
  expect(model(s).services[0]!.status).toBe('enabled');
  // Another stack's network of that key is not taken.
  const other = svc('other', route('o.test', { 'com.docker.lb.network': 'net', 'com.docker.stack.namespace': 'front' }), { networkIds: ['n1', 'n2'] });
  const o = snap(other);
  o.networks = o.networks.map((n) => (n.id === 'n2' ? { ...n, name: 'back_net' } : n));
  expect(model(o).services[0]!.errors[0]!.code).toBe('ERR_NETWORK_NOT_FOUND');
});

test('a host-published app without networks is reached at node address + published port', () => {
  const s = svc('hp', route('hp.test', { 'com.docker.lb.port': '8080' }), { networkIds: [], ports: [{ target: 8080, published: 30080, protocol: 'tcp', mode: 'host' }] });
  const m = model(snap(s));
  expect(m.virtualHosts[0]!.locations[0]!.upstream.servers).toEqual([{ addr: '192.0.2.10', port: 30080, service: 'hp' }]);
  expect(m.proxyNetworks).toEqual([]);
});

test('canary pair: same host and path, same options → one upstream with both services', () => {
  const v1 = svc('app-v1', route('app.test'), { ips: ['10.0.1.2', '10.0.1.3', '10.0.1.4', '10.0.1.5'] });
  const v2 = svc('app-v2', route('app.test'), { ips: ['10.0.1.6'], createdAt: '2026-01-02T00:00:00Z' });
  const up = model(snap(v1, v2)).virtualHosts[0]!.locations[0]!.upstream;
  expect(up.services).toEqual(['app-v1', 'app-v2']);
  expect(up.servers).toHaveLength(5);
});

test('conflict: the later-created service loses, the same one whatever the input order', () => {
  const first = svc('first', route('c.test', { 'com.docker.lb.sticky_session_cookie': 'SID' }), { createdAt: '2026-01-01T00:00:00Z' });
  const second = svc('second', route('c.test'), { createdAt: '2026-01-03T00:00:00Z' });
  for (const m of [model(snap(first, second)), model(snap(second, first))]) {
    expect(m.virtualHosts[0]!.locations[0]!.upstream.services).toEqual(['first']);
    const loser = m.services.find((s) => s.name === 'second')!;
    expect(loser.status).toBe('disabled');
    expect(loser.errors[0]!.code).toBe('ERR_CONFLICT_ROUTE');
    expect(loser.errors[0]!.message).toContain('first');
  }
});

test('conflicts: two default backends, passthrough vs terminated host', () => {
  const d1 = svc('d1', { 'com.docker.lb.default_backend': 'true', 'com.docker.lb.port': '80' });
  const d2 = svc('d2', { 'com.docker.lb.default_backend': 'true', 'com.docker.lb.port': '80' }, { createdAt: '2026-02-01T00:00:00Z' });
  const m = model(snap(d1, d2));
  expect(m.defaultBackend?.services).toEqual(['d1']);
  expect(m.services.find((s) => s.name === 'd2')!.errors[0]!.code).toBe('ERR_CONFLICT_DEFAULT_BACKEND');

  const term = svc('term', route('t.test', { 'com.docker.lb.ssl_cert': 'web.crt', 'com.docker.lb.ssl_key': 'web.key' }));
  const pass = svc('pass', route('t.test', { 'com.docker.lb.ssl_passthrough': 'true', 'com.docker.lb.port': '443' }), { createdAt: '2026-02-01T00:00:00Z' });
  const m2 = model(snap(term, pass));
  expect(m2.passthrough).toEqual([]);
  expect(m2.services.find((s) => s.name === 'pass')!.errors[0]!.code).toBe('ERR_CONFLICT_PASSTHROUGH');
  expect(m2.proxySecrets).toEqual(['web.crt', 'web.key']);
});

test('secrets must exist in the swarm', () => {
  const s = svc('tls', route('tls.test', { 'com.docker.lb.ssl_cert': 'nope.crt', 'com.docker.lb.ssl_key': 'web.key' }));
  const st = model(snap(s)).services[0]!;
  expect(st.status).toBe('disabled');
  expect(st.errors.map((e) => [e.code, e.key])).toEqual([['ERR_SECRET_NOT_FOUND', 'com.docker.lb.ssl_cert']]);
});

test('service clusters: each extension only sees its own services; unknown cluster is reported', () => {
  const targets = [
    { name: 'default', serviceCluster: '', networks: [] },
    { name: 'east', serviceCluster: 'east', networks: [] },
  ];
  const models = buildClusterModels(
    snap(svc('a', route('a.test')), svc('b', route('b.test', { 'com.docker.lb.service_cluster': 'east' })), svc('c', route('c.test', { 'com.docker.lb.service_cluster': 'west' }))),
    targets,
  );
  expect(models.get('default')!.virtualHosts.map((v) => v.host)).toEqual(['a.test']);
  expect(models.get('east')!.virtualHosts.map((v) => v.host)).toEqual(['b.test']);
  const c = models.get('default')!.services.find((s) => s.name === 'c')!;
  expect(c.errors[0]!.code).toBe('ERR_SERVICE_CLUSTER_UNKNOWN');
});

test('fixed Networks list: services on other networks are rejected, proxy joins exactly the list', () => {
  const m = buildClusterModels(snap(svc('a', route('a.test'))), [{ name: 'default', serviceCluster: '', networks: ['backnet'] }]).get('default')!;
  expect(m.services[0]!.errors[0]!.code).toBe('ERR_NETWORK_NOT_ALLOWED');
  expect(m.proxyNetworks).toEqual(['backnet']);
});

test('vip backend mode uses the service VIP on the routing network', () => {
  const s = svc('v', route('v.test', { 'com.docker.lb.backend_mode': 'vip' }), { endpointMode: 'vip', vips: [{ networkId: 'n1', addr: '10.0.1.100' }] });
  expect(model(snap(s)).virtualHosts[0]!.locations[0]!.upstream.servers).toEqual([{ addr: '10.0.1.100', port: 80, service: 'v' }]);
  const dnsrr = svc('d', route('d.test', { 'com.docker.lb.backend_mode': 'vip' }));
  expect(model(snap(dnsrr)).services[0]!.errors[0]!.code).toBe('ERR_BACKEND_MODE_VIP');
});

test('context roots of one host become sorted locations with their own upstreams', () => {
  const api = svc('api', route('h.test', { 'com.docker.lb.context_root': '/api', 'com.docker.lb.context_root_rewrite': 'true' }));
  const web = svc('web', route('h.test'), { createdAt: '2026-01-02T00:00:00Z' });
  const vh = model(snap(web, api)).virtualHosts[0]!;
  expect(vh.locations.map((l) => [l.path, l.rewrite, l.upstream.services])).toEqual([
    ['/', false, ['web']],
    ['/api', true, ['api']],
  ]);
});

test('an update that breaks the labels keeps routing the previous labels and reports the new errors', () => {
  const broken = svc('web', route('web..test'));
  broken.previousLabels = route('web.test');
  const m = model(snap(broken));
  expect(m.virtualHosts.map((v) => v.host)).toEqual(['web.test']);
  const st = m.services[0]!;
  expect(st.status).toBe('enabled');
  expect(st.errors[0]).toMatchObject({ code: 'ERR_LABEL_HOST_INVALID', value: 'web..test' });
  expect(st.warnings.map((w) => w.code)).toContain('WARN_SERVING_PREVIOUS_LABELS');
  // Removing the labels is deliberate: no fallback.
  const unlabelled = svc('web', {});
  unlabelled.previousLabels = route('web.test');
  expect(model(snap(unlabelled)).virtualHosts).toEqual([]);
  // Removing the hosts label alone withdraws the route too (the rest of the labels are then incomplete).
  const hostless = svc('web', { 'com.docker.lb.port': '80' });
  hostless.previousLabels = route('web.test');
  const hm = model(snap(hostless));
  expect(hm.virtualHosts).toEqual([]);
  expect(hm.services[0]!.status).toBe('disabled');
  // A new service (no previous spec) with bad labels is simply rejected.
  expect(model(snap(svc('new', route('new..test')))).services[0]!.status).toBe('disabled');
});

test('redirects cannot take over hosts or paths another service routes (the later service loses)', () => {
  const site = svc('site', route('site.test,old.site.test', { 'com.docker.lb.context_root': '/api', 'com.docker.lb.redirects': 'http://old.site.test,https://site.test' }));
  const later = (name: string, redirects: string) => svc(name, route(`${name}.test`, { 'com.docker.lb.redirects': redirects }), { createdAt: '2026-02-01T00:00:00Z' });
  const whole = later('whole', 'http://site.test,https://evil.test');
  const path = later('path', 'http://site.test/api,https://evil.test');
  const other = later('other', 'http://site.test/docs,https://docs.test');
  const retarget = later('retarget', 'http://old.site.test,https://evil.test');
  const m = model(snap(site, whole, path, other, retarget));
  const st = (n: string) => m.services.find((s) => s.name === n)!;
  expect(st('site').status).toBe('enabled');
  for (const n of ['whole', 'path', 'retarget']) {
    expect(st(n).status).toBe('disabled');
    expect(st(n).errors.map((e) => e.code)).toContain('ERR_CONFLICT_REDIRECT');
  }
  // A path nobody routes is free: like a context root of its own.
  expect(st('other').status).toBe('enabled');
  expect(m.redirects.map((r) => `${r.source} ${r.target}`)).toEqual(['http://old.site.test https://site.test', 'http://site.test/docs https://docs.test']);

  // The other way round: a route on a host another service already redirects is never reached.
  const redir = svc('redir', route('r.test', { 'com.docker.lb.redirects': 'http://gone.test,https://r.test' }));
  const gone = svc('gone', route('gone.test'), { createdAt: '2026-02-01T00:00:00Z' });
  const m2 = model(snap(redir, gone));
  expect(m2.services.find((s) => s.name === 'gone')!.errors.map((e) => e.code)).toEqual(['ERR_CONFLICT_REDIRECT']);

  // Canary pairs that carry the same redirect stay together.
  const a = svc('a', route('c.test', { 'com.docker.lb.redirects': 'http://c.test/old,https://c.test/new' }));
  const b = svc('b', route('c.test', { 'com.docker.lb.redirects': 'http://c.test/old,https://c.test/new' }), { createdAt: '2026-02-01T00:00:00Z' });
  expect(model(snap(a, b)).services.map((s) => s.status)).toEqual(['enabled', 'enabled']);
});

test('ssl_only cannot be switched on for a host another service already serves over plain HTTP', () => {
  const tls = { 'com.docker.lb.ssl_cert': 'web.crt', 'com.docker.lb.ssl_key': 'web.key', 'com.docker.lb.ssl_only': 'true' };
  const plain = svc('plain', route('h.test'));
  const strict = svc('strict', route('h.test', { ...tls, 'com.docker.lb.context_root': '/admin' }), { createdAt: '2026-02-01T00:00:00Z' });
  const m = model(snap(plain, strict));
  expect(m.services.find((s) => s.name === 'strict')!.errors.map((e) => e.code)).toEqual(['ERR_CONFLICT_SSL_ONLY']);
  expect(m.virtualHosts[0]!.sslOnly).toBe(false);
  // Joining a host that is already ssl_only is the joining service's choice.
  const m2 = model(snap(svc('strict', route('h.test', tls)), svc('joiner', route('h.test', { 'com.docker.lb.context_root': '/x' }), { createdAt: '2026-02-01T00:00:00Z' })));
  expect(m2.services.map((s) => s.status)).toEqual(['enabled', 'enabled']);
});

test('ssl_only on a passed-through host is carried into the model (plain HTTP must redirect to https)', () => {
  const pt = (name: string, host: string, extra: Record<string, string> = {}) =>
    svc(name, route(host, { 'com.docker.lb.ssl_passthrough': 'true', 'com.docker.lb.port': '443', ...extra }), { ips: [name === 'a' ? '10.0.1.20' : '10.0.1.21'] });
  const m = model(snap(pt('a', 'a.test', { 'com.docker.lb.ssl_only': 'true' }), pt('b', 'b.test')));
  expect(m.passthrough.map((p) => [p.host, p.sslOnly])).toEqual([
    ['a.test', true],
    ['b.test', undefined],
  ]);
  expect(m.virtualHosts).toEqual([]);
});

test('the https redirect of a passed-through ssl_only host is its own: no other service can redirect that host', () => {
  const pt = svc('pt', route('pt.test', { 'com.docker.lb.port': '443', 'com.docker.lb.ssl_passthrough': 'true', 'com.docker.lb.ssl_only': 'true' }));
  const grab = svc('grab', route('grab.test', { 'com.docker.lb.redirects': 'http://pt.test,https://evil.test' }), { createdAt: '2026-02-01T00:00:00Z' });
  const m = model(snap(pt, grab));
  expect(m.services.find((s) => s.name === 'grab')!.errors.map((e) => e.code)).toEqual(['ERR_CONFLICT_REDIRECT']);
  expect(m.redirects).toEqual([]);
});
