// Tenant isolation (issue 9) from labels to nginx.conf: swarm snapshots of the reviewed attacks go
// through core's builder, and the resulting models are golden cases (golden/cases/tenant-*.json, with
// their nginx.conf beside them, checked byte for byte by render.test.ts and with real `nginx -t` by
// render.int.test.ts). Here: the builder still produces exactly those models, and what the config
// does for the victim's hosts. UPDATE_GOLDEN=1 rewrites the case models.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClusterModel, ServiceSnapshot, SwarmSnapshot } from '@signalbox/model';
import { buildClusterModels } from '@signalbox/model';
import { renderNginxConf } from '../src/render/index.js';
import { CASES_DIR, loadCase } from './golden/load-cases.js';

const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const P = 'com.docker.lb.';
const NET = {
  id: 'n1',
  name: 'appnet',
  driver: 'overlay',
  scope: 'swarm',
  attachable: true,
  ingress: false,
  labels: {},
};

function snapshot(defs: [name: string, stack: string, labels: Record<string, string>][]): SwarmSnapshot {
  const services: ServiceSnapshot[] = defs.map(([name, stack, labels], i) => ({
    id: `id-${name}`,
    name,
    labels: { [`${P}port`]: '8080', [`${P}network`]: 'appnet', ...labels, 'com.docker.stack.namespace': stack },
    createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString(),
    networkIds: ['n1'],
    endpointMode: 'dnsrr',
    vips: [],
    ports: [],
    tasks: [{ id: `t-${name}`, nodeId: 'node1', slot: 1, addresses: [{ networkId: 'n1', addr: `10.0.9.${i + 1}` }] }],
  }));
  return {
    services,
    networks: [NET],
    secrets: ['shop.crt', 'shop.key', 'wild.crt', 'wild.key'].map((name, i) => ({ id: `s${i}`, name })),
    nodes: [{ id: 'node1', hostname: 'n1', addr: '192.0.2.10', role: 'manager', ready: true }],
  };
}

const TLS = { [`${P}ssl_cert`]: 'shop.crt', [`${P}ssl_key`]: 'shop.key' };

/** Victim stack "shop" first, then every attack of stack "evil" (cases 1, 2, 3, 4 and 9). */
const SCENARIOS: Record<string, { description: string; snap: SwarmSnapshot; losers: Record<string, string> }> = {
  'tenant-takeover': {
    description:
      'Issue 9 cases 1, 2 and 4 built by core: stack evil tries a path, a canary, a websocket endpoint, a redirect and the certificate of stack shop; every attempt is rejected and shop.example.com is rendered exactly as without them.',
    snap: snapshot([
      ['shop-web', 'shop', { [`${P}hosts`]: 'shop.example.com', [`${P}ssl_only`]: 'true', ...TLS }],
      ['evil-account', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}context_root`]: '/account' }],
      ['evil-canary', 'evil', { [`${P}hosts`]: 'shop.example.com' }],
      ['evil-ws', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}websocket_endpoints`]: '/api' }],
      [
        'evil-redirect',
        'evil',
        {
          [`${P}hosts`]: 'attacker.example.net',
          [`${P}redirects`]: 'http://shop.example.com/login,https://evil.example.net/phish',
        },
      ],
      ['evil-cert', 'evil', { [`${P}hosts`]: 'login.shop.example.com', ...TLS }],
      ['shop-pay', 'shop', { [`${P}hosts`]: 'shop.example.com', [`${P}context_root`]: '/pay', [`${P}ssl_only`]: 'true', ...TLS }],
    ]),
    losers: {
      'evil-account': 'ERR_HOST_OWNED',
      'evil-canary': 'ERR_HOST_OWNED',
      'evil-ws': 'ERR_HOST_OWNED',
      'evil-redirect': 'ERR_HOST_OWNED',
      'evil-cert': 'ERR_SECRET_OWNED',
    },
  },
  'tenant-wildcard-default': {
    description:
      'Issue 9 cases 3 and 9 built by core: stack evil passes *.com through and is the default backend; shop.example.com (terminated) is kept out of the passthrough wildcard, and the passed-through and rejected hosts of stack shop are held (503, handshake rejected) instead of reaching evil.',
    snap: snapshot([
      ['shop-web', 'shop', { [`${P}hosts`]: 'shop.example.com', ...TLS }],
      ['shop-pt', 'shop', { [`${P}hosts`]: 'tls.shop.example.com', [`${P}ssl_passthrough`]: 'true', [`${P}port`]: '8443' }],
      ['shop-broken', 'shop', { [`${P}hosts`]: 'new.shop.example.com', [`${P}network`]: 'missing' }],
      ['evil-wild', 'evil', { [`${P}hosts`]: '*.com', [`${P}ssl_passthrough`]: 'true', [`${P}port`]: '8443' }],
      ['evil-default', 'evil', { [`${P}default_backend`]: 'true' }],
      ['evil-pt', 'evil', { [`${P}hosts`]: 'shop.example.com', [`${P}ssl_passthrough`]: 'true', [`${P}port`]: '8443' }],
    ]),
    losers: { 'shop-broken': 'ERR_NETWORK_NOT_FOUND', 'evil-pt': 'ERR_HOST_OWNED' },
  },
};

function built(name: string): ClusterModel {
  return buildClusterModels(SCENARIOS[name]!.snap, [{ name: 'default', serviceCluster: '', networks: [] }]).get('default')!;
}

describe.each(Object.keys(SCENARIOS))('%s', (name) => {
  const model = built(name);
  const casePath = path.join(CASES_DIR, `${name}.json`);
  if (UPDATE) writeFileSync(casePath, `${JSON.stringify({ description: SCENARIOS[name]!.description, model }, null, 2)}\n`);

  it('rejects each attacker with the code that names the owner; the victim keeps every service', () => {
    const { losers } = SCENARIOS[name]!;
    for (const s of model.services) {
      if (s.name in losers) {
        expect([s.name, s.status, s.errors[0]?.code]).toEqual([s.name, 'disabled', losers[s.name]]);
        if (losers[s.name]!.endsWith('_OWNED')) expect(s.errors[0]!.message).toContain('stack "shop"');
      } else {
        expect([s.name, s.status]).toEqual([s.name, 'enabled']);
      }
    }
  });

  it('is the model of its golden case', () => {
    expect(existsSync(casePath)).toBe(true);
    expect(JSON.parse(readFileSync(casePath, 'utf8')).model).toEqual(JSON.parse(JSON.stringify(model)));
  });
});

describe('what the rendered config does', () => {
  it('case 1/2/4: shop.example.com has only its own locations, no redirect, no foreign certificate use', () => {
    const c = loadCase('tenant-takeover');
    const conf = renderNginxConf(c.model, c.ext, c.options);
    expect(conf).not.toMatch(/account|evil\.example\.net|login\.shop\.example\.com/);
    expect(conf).not.toMatch(/location = "?\/api/);
    const vh = c.model.virtualHosts.find((v) => v.host === 'shop.example.com')!;
    expect(vh.locations.map((l) => [l.path, l.upstream.services])).toEqual([
      ['/', ['shop-web']],
      ['/pay', ['shop-pay']],
    ]);
    expect(c.model.redirects).toEqual([]);
  });

  it('case 3/9: the SNI map sends shop.example.com to the local TLS servers, and held hosts answer 503', () => {
    const c = loadCase('tenant-wildcard-default');
    const conf = renderNginxConf(c.model, c.ext, c.options);
    const tlsRoute = conf.slice(conf.indexOf('map $ssl_preread_server_name $signalbox_tls_route'));
    const mapBody = tlsRoute.slice(0, tlsRoute.indexOf('}'));
    expect(mapBody).toMatch(/"?\*\.com"?\s+signalbox_passthrough_hop;/);
    expect(mapBody).toMatch(/"?shop\.example\.com"?\s+signalbox_https_terminate;/);
    expect(c.model.heldHosts).toEqual(['new.shop.example.com', 'tls.shop.example.com']);
    // Held hosts share one block per listener (identical blocks are merged), so look them up by server_name.
    const blocks = conf
      .split(/\n\s*server \{/)
      .slice(1)
      .map((b) => b.slice(0, b.indexOf('\n    }')));
    const named = (host: string) => blocks.filter((b) => new RegExp(`server_name [^;]*"${host.replace(/\./g, '\\.')}"`).test(b));
    for (const host of c.model.heldHosts!) {
      const mine = named(host);
      expect(mine.some((b) => b.includes('return 503'))).toBe(true);
      expect(mine.some((b) => b.includes('ssl_reject_handshake on;'))).toBe(true);
    }
  });
});
