// Tenant isolation (issue 9): a host belongs to the owner (stack) of the first service that claims it;
// no other owner can add to it, and one tenant's labels cannot stop or slow the build for the others.
import type { ClusterTarget, ServiceSnapshot, SwarmSnapshot } from '../src/index.js';
import { buildClusterModels, MAX_HOSTS_PER_SERVICE, upstreamName } from '../src/index.js';

const NET = {
  id: 'n1',
  name: 'appnet',
  driver: 'overlay',
  scope: 'swarm',
  attachable: true,
  ingress: false,
  labels: {},
};
const TARGET: ClusterTarget = { name: 'default', serviceCluster: '', networks: [] };
const P = 'com.docker.lb.';
const STACK = 'com.docker.stack.namespace';

let clock = 0;
/** A service of `stack` (undefined = outside any stack), created after every service made before it. */
function svc(name: string, stack: string | undefined, labels: Record<string, string>): ServiceSnapshot {
  clock += 1;
  return {
    id: `id-${name}`,
    name,
    labels: { [`${P}port`]: '80', ...labels, ...(stack === undefined ? {} : { [STACK]: stack }) },
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, clock)).toISOString(),
    networkIds: ['n1'],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: `t-${name}`, nodeId: 'node1', slot: 1, addresses: [{ networkId: 'n1', addr: `10.0.1.${clock}` }] }],
  };
}

const SECRETS = ['shop.crt', 'shop.key', 'evil.crt', 'evil.key', 'wild.crt', 'wild.key'];
function snap(services: ServiceSnapshot[], secretLabels: Record<string, Record<string, string>> = {}): SwarmSnapshot {
  return {
    services,
    networks: [NET],
    secrets: SECRETS.map((name, i) => ({ id: `s${i}`, name, labels: secretLabels[name] ?? {} })),
    nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
  };
}
const build = (s: SwarmSnapshot, target: ClusterTarget = TARGET) => buildClusterModels(s, [target]).get('default')!;
const status = (m: ReturnType<typeof build>, name: string) => m.services.find((s) => s.name === name)!;
const codes = (m: ReturnType<typeof build>, name: string) => status(m, name).errors.map((e) => e.code);

const victim = () =>
  svc('shop-web', 'shop', {
    [`${P}hosts`]: 'shop.example.com',
    [`${P}ssl_cert`]: 'shop.crt',
    [`${P}ssl_key`]: 'shop.key',
  });

describe('case 1: another owner cannot add to a host', () => {
  test('a path (context_root) on the victim host is rejected with ERR_HOST_OWNED naming the owner', () => {
    const m = build(snap([victim(), svc('evil-account', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}context_root`]: '/account' })]));
    expect(status(m, 'shop-web').status).toBe('enabled');
    expect(status(m, 'evil-account')).toMatchObject({ status: 'disabled', servers: 0 });
    const e = status(m, 'evil-account').errors[0]!;
    expect(e).toMatchObject({ code: 'ERR_HOST_OWNED', key: `${P}hosts`, value: 'shop.example.com' });
    expect(e.message).toContain('stack "shop"');
    expect(e.message).toContain('shop-web');
    expect(m.virtualHosts.map((v) => [v.host, v.locations.map((l) => [l.path, l.upstream.services])])).toEqual([['shop.example.com', [['/', ['shop-web']]]]]);
  });

  test('joining the victim upstream as a canary is rejected; the same stack still forms a canary pair', () => {
    const m = build(
      snap([
        victim(),
        svc('evil-canary', 'evil', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}ssl_cert`]: 'shop.crt',
          [`${P}ssl_key`]: 'shop.key',
        }),
        svc('shop-v2', 'shop', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}ssl_cert`]: 'shop.crt',
          [`${P}ssl_key`]: 'shop.key',
        }),
      ]),
    );
    expect(codes(m, 'evil-canary')).toEqual(['ERR_HOST_OWNED', 'ERR_SECRET_OWNED', 'ERR_SECRET_OWNED']);
    expect(m.virtualHosts[0]!.locations[0]!.upstream.services).toEqual(['shop-v2', 'shop-web']);
  });

  test('services outside any stack form one owner: Interlock two-service canary keeps working', () => {
    const m = build(snap([svc('app-v1', undefined, { [`${P}hosts`]: 'app.example.com' }), svc('app-v2', undefined, { [`${P}hosts`]: 'app.example.com' })]));
    expect(m.virtualHosts[0]!.locations[0]!.upstream.services).toEqual(['app-v1', 'app-v2']);
    const stackless = build(snap([svc('app-v1', undefined, { [`${P}hosts`]: 'app.example.com' }), svc('intruder', 'evil', { [`${P}hosts`]: 'app.example.com' })]));
    expect(status(stackless, 'intruder').errors[0]!.message).toContain('the services outside any stack');
  });

  test('websocket_endpoints on the victim host are rejected; websocket claims are recorded within an owner', () => {
    const m = build(snap([victim(), svc('evil-ws', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}websocket_endpoints`]: '/api' })]));
    expect(codes(m, 'evil-ws')).toEqual(['ERR_HOST_OWNED']);
    expect(m.virtualHosts[0]!.locations.flatMap((l) => l.websocketEndpoints)).toEqual([]);
    // Same owner: an endpoint that is another service's path would take its requests.
    const api = svc('shop-api', 'shop', {
      [`${P}hosts`]: 'shop.example.com',
      [`${P}context_root`]: '/api',
      [`${P}ssl_cert`]: 'shop.crt',
      [`${P}ssl_key`]: 'shop.key',
    });
    const m2 = build(
      snap([
        victim(),
        api,
        svc('shop-ws', 'shop', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}websocket_endpoints`]: '/api',
          [`${P}ssl_cert`]: 'shop.crt',
          [`${P}ssl_key`]: 'shop.key',
        }),
      ]),
    );
    expect(codes(m2, 'shop-ws')).toEqual(['ERR_CONFLICT_WEBSOCKET']);
    expect(status(m2, 'shop-ws').errors[0]!.message).toContain('shop-api');
  });

  test('the victim adding its own ssl_only path service later wins; the attacker is the one rejected', () => {
    const m = build(
      snap([
        victim(),
        svc('evil-path', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}context_root`]: '/pay' }),
        svc('shop-pay', 'shop', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}context_root`]: '/pay',
          [`${P}ssl_cert`]: 'shop.crt',
          [`${P}ssl_key`]: 'shop.key',
        }),
      ]),
    );
    expect(status(m, 'shop-pay').status).toBe('enabled');
    expect(codes(m, 'evil-path')).toEqual(['ERR_HOST_OWNED']);
    expect(m.virtualHosts[0]!.locations.map((l) => [l.path, l.upstream.services])).toEqual([
      ['/', ['shop-web']],
      ['/pay', ['shop-pay']],
    ]);
  });

  test('the operator can share a host between owners (HostOwners), and reserve one', () => {
    const shared: ClusterTarget = { ...TARGET, hostOwners: { 'shop.example.com': 'shop, partner' } };
    const m = build(
      snap([
        victim(),
        svc('partner-docs', 'partner', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}context_root`]: '/docs',
          [`${P}ssl_cert`]: 'shop.crt',
          [`${P}ssl_key`]: 'shop.key',
        }),
      ]),
      { ...shared, secretOwners: { 'shop.crt': 'shop,partner', 'shop.key': 'shop,partner' } },
    );
    expect(status(m, 'partner-docs').status).toBe('enabled');
    // A reservation applies even to the first claimant; the most specific rule wins.
    const reserved: ClusterTarget = { ...TARGET, hostOwners: { '*.example.com': 'shop', '*.dev.example.com': '-' } };
    const m2 = build(snap([svc('evil-first', 'evil', { [`${P}hosts`]: 'login.example.com' }), svc('dev', undefined, { [`${P}hosts`]: 'a.dev.example.com' }), victim()]), reserved);
    expect(status(m2, 'evil-first').errors[0]).toMatchObject({ code: 'ERR_HOST_RESERVED', value: 'login.example.com' });
    expect(status(m2, 'dev').status).toBe('enabled');
    expect(status(m2, 'shop-web').status).toBe('enabled');
  });
});

describe('case 2: redirect sources must be hosts of the service owner', () => {
  const hijack = () =>
    svc('evil-redirect', 'evil', {
      [`${P}hosts`]: 'attacker.example.net',
      [`${P}redirects`]: 'http://shop.example.com/login,https://evil.example.net/phish',
    });
  test('a redirect from the victim host is rejected; no redirect reaches the model', () => {
    const m = build(snap([victim(), hijack()]));
    expect(status(m, 'evil-redirect').errors[0]).toMatchObject({
      code: 'ERR_HOST_OWNED',
      key: `${P}redirects`,
      value: 'shop.example.com',
    });
    expect(m.redirects).toEqual([]);
  });
  test('created first, the hijacker owns the redirect source host: the first claimant rule, and no path added to it by another owner', () => {
    const m = build(snap([hijack(), victim()]));
    expect(codes(m, 'shop-web')).toEqual(['ERR_HOST_OWNED']);
    expect(status(m, 'shop-web').errors[0]!.message).toContain('stack "evil"');
    // The operator reserves the host for its owner: then the hijack fails in either order.
    const reserved: ClusterTarget = { ...TARGET, hostOwners: { 'shop.example.com': 'shop' } };
    const r = build(snap([hijack(), victim()]), reserved);
    expect(codes(r, 'evil-redirect')).toEqual(['ERR_HOST_RESERVED']);
    expect(status(r, 'shop-web').status).toBe('enabled');
    expect(r.redirects).toEqual([]);
  });
  test("Interlock's redirect from an unclaimed old host still works", () => {
    const m = build(
      snap([
        svc('app', undefined, {
          [`${P}hosts`]: 'app.example.com',
          [`${P}redirects`]: 'http://old.example.com,https://app.example.com',
        }),
      ]),
    );
    expect(m.redirects).toEqual([{ sourceHost: 'old.example.com', source: 'http://old.example.com', target: 'https://app.example.com' }]);
  });
});

describe('case 3 and 9: wildcards, passthrough and the default backend never cover another owner host', () => {
  test('passthrough of the victim host by another owner is rejected', () => {
    const m = build(
      snap([
        victim(),
        svc('evil-pt', 'evil', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}ssl_passthrough`]: 'true',
          [`${P}port`]: '443',
        }),
      ]),
    );
    expect(codes(m, 'evil-pt')).toEqual(['ERR_HOST_OWNED']);
    expect(m.passthrough).toEqual([]);
  });
  test('a passthrough wildcard is routed, and the renderer keeps hosts served here out of it (see extension tenants test)', () => {
    const m = build(snap([victim(), svc('evil-wild', 'evil', { [`${P}hosts`]: '*.com', [`${P}ssl_passthrough`]: 'true', [`${P}port`]: '443' })]));
    expect(m.passthrough.map((p) => p.host)).toEqual(['*.com']);
    expect(m.virtualHosts.map((v) => v.host)).toEqual(['shop.example.com']);
  });
  test('hosts of rejected services and plain HTTP of passed-through hosts are held from another owner default backend', () => {
    const m = build(
      snap([
        svc('evil-default', 'evil', { [`${P}default_backend`]: 'true' }),
        svc('shop-pt', 'shop', {
          [`${P}hosts`]: 'tls.shop.example.com',
          [`${P}ssl_passthrough`]: 'true',
          [`${P}port`]: '443',
        }),
        svc('shop-broken', 'shop', { [`${P}hosts`]: 'new.shop.example.com', [`${P}network`]: 'missing' }),
        svc('evil-own', 'evil', { [`${P}hosts`]: 'evil-broken.example.net', [`${P}network`]: 'missing' }),
      ]),
    );
    expect(m.defaultBackend?.services).toEqual(['evil-default']);
    expect(m.heldHosts).toEqual(['new.shop.example.com', 'tls.shop.example.com']);
  });
  test('the default backend of the same owner still catches that owner hosts (Interlock behaviour)', () => {
    const m = build(
      snap([
        svc('catch-all', 'shop', { [`${P}default_backend`]: 'true' }),
        svc('shop-pt', 'shop', {
          [`${P}hosts`]: 'tls.shop.example.com',
          [`${P}ssl_passthrough`]: 'true',
          [`${P}port`]: '443',
        }),
      ]),
    );
    expect(m.heldHosts).toBeUndefined();
  });
  test('a rejected host under another owner HTTP wildcard is held', () => {
    const m = build(snap([svc('evil-wild', 'evil', { [`${P}hosts`]: '*.example.com' }), svc('shop-broken', 'shop', { [`${P}hosts`]: 'shop.example.com', [`${P}network`]: 'missing' })]));
    expect(m.heldHosts).toEqual(['shop.example.com']);
  });
});

describe('case 4: certificate secrets belong to an owner', () => {
  test("naming the victim's wildcard certificate for a new host is rejected", () => {
    const victimWild = svc('shop-wild', 'shop', {
      [`${P}hosts`]: '*.shop.example.com',
      [`${P}ssl_cert`]: 'wild.crt',
      [`${P}ssl_key`]: 'wild.key',
      [`${P}ssl_only`]: 'true',
    });
    const thief = svc('evil-login', 'evil', {
      [`${P}hosts`]: 'login.shop.example.com',
      [`${P}ssl_cert`]: 'wild.crt',
      [`${P}ssl_key`]: 'wild.key',
    });
    const m = build(snap([victimWild, thief]));
    expect(codes(m, 'evil-login')).toEqual(['ERR_SECRET_OWNED', 'ERR_SECRET_OWNED']);
    expect(status(m, 'evil-login').errors[0]!.message).toContain('stack "shop"');
    expect(m.virtualHosts.map((v) => v.host)).toEqual(['*.shop.example.com']);
    expect(m.proxySecrets).toEqual(['wild.crt', 'wild.key']);
  });
  test('a secret created by a stack belongs to it even before any service uses it', () => {
    const m = build(
      snap(
        [
          svc('evil-first', 'evil', {
            [`${P}hosts`]: 'evil.example.net',
            [`${P}ssl_cert`]: 'shop.crt',
            [`${P}ssl_key`]: 'shop.key',
          }),
        ],
        { 'shop.crt': { [STACK]: 'shop' } },
      ),
    );
    expect(codes(m, 'evil-first')).toEqual(['ERR_SECRET_OWNED']);
    expect(status(m, 'evil-first').errors[0]!.message).toContain('created by');
  });
  test('proxies mount only the secrets of routed services', () => {
    const m = build(
      snap([
        victim(),
        svc('evil-pt', 'evil', {
          [`${P}hosts`]: 'shop.example.com',
          [`${P}ssl_cert`]: 'evil.crt',
          [`${P}ssl_key`]: 'evil.key',
        }),
      ]),
    );
    expect(m.proxySecrets).toEqual(['shop.crt', 'shop.key']);
  });
});

describe('case 10: a tenant cannot make proxies roll with services that are not routed', () => {
  // What a proxy mounts and joins is all that can make swarm replace it: a rejected service adds neither.
  const EVIL_NET = { ...NET, id: 'n2', name: 'evil_default' };
  const onEvilNet = (s: ServiceSnapshot): ServiceSnapshot => ({
    ...s,
    networkIds: ['n2'],
    tasks: s.tasks.map((t) => ({ ...t, addresses: [{ networkId: 'n2', addr: '10.0.2.9' }] })),
  });
  const withEvilNet = (s: SwarmSnapshot): SwarmSnapshot => ({ ...s, networks: [NET, EVIL_NET] });

  test("a rejected service on a new network naming a new secret changes neither the proxies' networks nor their secrets", () => {
    const shop = victim(); // created first: it owns shop.example.com
    const before = build(withEvilNet(snap([shop])));
    const attacker = onEvilNet(
      svc('evil-path', 'evil', {
        [`${P}hosts`]: 'shop.example.com',
        [`${P}context_root`]: '/account',
        [`${P}ssl_cert`]: 'evil.crt',
        [`${P}ssl_key`]: 'evil.key',
      }),
    );
    const after = build(withEvilNet(snap([shop, attacker])));
    expect(codes(after, 'evil-path')).toContain('ERR_HOST_OWNED');
    expect(after.proxyNetworks).toEqual(before.proxyNetworks);
    expect(after.proxySecrets).toEqual(before.proxySecrets);
    expect(after.proxySecrets).toEqual(['shop.crt', 'shop.key']);
  });

  test("a routed service of a tenant adds only its own network and secrets (the roll that follows is the tenant's own)", () => {
    const shop = victim();
    const own = onEvilNet(
      svc('evil-own', 'evil', {
        [`${P}hosts`]: 'evil.example.net',
        [`${P}ssl_cert`]: 'evil.crt',
        [`${P}ssl_key`]: 'evil.key',
      }),
    );
    const m = build(withEvilNet(snap([shop, own])));
    expect(codes(m, 'evil-own')).toEqual([]);
    expect(m.proxyNetworks).toEqual(['appnet', 'evil_default']);
    expect(m.proxySecrets).toEqual(['evil.crt', 'evil.key', 'shop.crt', 'shop.key']);
  });
});

describe('cases 6 and 7: names and limits', () => {
  test('upstream names are distinct for the hosts that collided on an 8-hex-digit hash', () => {
    const a = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-md7.attacker.example';
    const b = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nu4.attacker.example';
    expect(upstreamName(a, '/')).not.toBe(upstreamName(b, '/'));
    const m = build(snap([svc('a', 'evil', { [`${P}hosts`]: a }), svc('b', 'evil', { [`${P}hosts`]: b })]));
    const names = m.virtualHosts.map((v) => v.locations[0]!.upstream.name);
    expect(new Set(names).size).toBe(2);
  });
  test('names are injective: host/path pairs that only differ in punctuation get different names', () => {
    const pairs: [string, string][] = [
      ['a.b', '/'],
      ['a-b', '/'],
      ['a', '/b'],
      ['a.b', '/c_d'],
      ['a.b', '/c.d'],
      ['a.b', '/C'],
      ['a.b', '/cX2E'],
      ['*.b', '/'],
    ];
    const names = pairs.map(([h, p]) => upstreamName(h, p).replace(/^u_[0-9a-f]{8,31}_/, ''));
    expect(new Set(names).size).toBe(pairs.length);
    for (const n of names) expect(n).toMatch(/^[a-zA-Z0-9_-]+$/);
  });
  test('too many hosts or too much label text: that service is rejected with a clear error, others are routed', () => {
    const many = Array.from({ length: MAX_HOSTS_PER_SERVICE + 1 }, (_, i) => `h${i}.evil.example`).join(',');
    const long = Array.from({ length: 15 }, (_, i) => `${'x'.repeat(60)}.${'y'.repeat(60)}.${'z'.repeat(60)}.e${i}.example`).join(',');
    const redirects = Array.from({ length: 3 }, (_, i) => `http://r${i}.example/${'p'.repeat(1000)},http://x.example`).join(';');
    const ws = Array.from({ length: 10 }, (_, i) => `/${'w'.repeat(300)}${i}`).join(',');
    const m = build(
      snap([
        svc('evil-many', 'evil', { [`${P}hosts`]: many }),
        svc('evil-long', 'evil', {
          [`${P}hosts`]: long,
          [`${P}redirects`]: redirects,
          [`${P}websocket_endpoints`]: ws,
        }),
        victim(),
      ]),
    );
    expect(codes(m, 'evil-many')).toEqual(['ERR_LIMIT_HOSTS']);
    expect(codes(m, 'evil-long')).toEqual(['ERR_LIMIT_LABELS']);
    expect(status(m, 'shop-web').status).toBe('enabled');
  });
});
