import type { HostServerInput, ServerInput } from '../../src/render/servers.js';
import { defaultServers, httpServers, httpsRedirectTarget, mergeSameServers, virtualHostServers } from '../../src/render/servers.js';
import type { ServerView } from '../../src/render/view-types.js';
import { ctx, location, plainListeners, upstream, vhost } from './fixtures.js';

const hostInput: HostServerInput = {
  redirects: new Map(),
  listeners: plainListeners,
  ctx,
  secretsDir: '/run/secrets',
  toHttps: '"https://$host$request_uri"',
  behindTrustedProxies: false,
  behindEdge: false,
};

function input(more: Partial<ServerInput> = {}): ServerInput {
  return {
    ...hostInput,
    vhosts: [],
    passthrough: [],
    defaultBackend: undefined,
    heldHosts: undefined,
    ext: { SSLRedirectPort: 0, PublishedSSLPort: 443 },
    ...more,
  };
}

const summary = (s: ServerView): string => `${s.serverName ?? '(default)'} ${s.listen.map((l) => l.address).join(',')}: ${s.comment}`;

describe('defaultServers', () => {
  it('answers unknown hosts 503 over HTTP and rejects their TLS handshake', () => {
    const [http, https] = defaultServers(input());
    expect(http!.locations.map((l) => [l.path, l.kind === 'return' ? l.status : 'proxy'])).toEqual([
      ['"/"', 503],
      ['"/signalbox-health"', 200],
    ]);
    expect(https).toMatchObject({ rejectHandshake: true, tls: null, locations: [], listen: [{ address: '443', defaultServer: true }] });
  });

  it('serves the default backend over HTTPS with the certificate of a TLS host of its service', () => {
    const db = upstream('db', undefined, { services: ['fallback'] });
    const tlsHost = vhost('fallback.test', [location('/', upstream('fb', undefined, { services: ['fallback'] }))], { tls: { certSecret: 'fb.crt', keySecret: 'fb.key' } });
    const [http, https] = defaultServers(input({ defaultBackend: db, vhosts: [tlsHost] }));
    expect(http!.locations.find((l) => l.path === '"/"')).toMatchObject({ kind: 'proxy', proxyPass: '"http://db"' });
    expect(https).toMatchObject({
      comment: 'default server (https): default backend, with the certificate of fallback.test',
      tls: { certificate: '"/run/secrets/fb.crt"', certificateKey: '"/run/secrets/fb.key"' },
      rejectHandshake: false,
    });
  });
});

describe('virtualHostServers', () => {
  const app = (more = {}) => vhost('app.test', [location('/', upstream('up'))], more);

  it('gives a TLS host a plain and an https server with its certificate', () => {
    const servers = virtualHostServers(hostInput, app({ tls: { certSecret: 'c', keySecret: 'k' } }));
    expect(servers.map(summary)).toEqual(['"app.test" 80: app.test (http)', '"app.test" 443: app.test (https)']);
    expect(servers[1]!.tls).toEqual({ certificate: '"/run/secrets/c"', certificateKey: '"/run/secrets/k"' });
  });

  it('redirects plain HTTP of an ssl_only host to https', () => {
    const [plain] = virtualHostServers(hostInput, app({ sslOnly: true }));
    expect(plain!.locations).toEqual([{ kind: 'return', modifier: '', path: '"/"', status: 302, body: '"https://$host$request_uri"', contentType: null, accessLog: true }]);
  });

  it('routes an ssl_only host behind trusted proxies and redirects unless they forwarded https', () => {
    const [plain] = virtualHostServers({ ...hostInput, behindTrustedProxies: true }, app({ sslOnly: true }));
    expect(plain!.redirectUnlessForwardedHttps).toEqual({ status: 302, body: '"https://$host$request_uri"' });
    expect(plain!.locations.map((l) => l.kind)).toEqual(['proxy']);
  });

  it('behind the edge closes plain HTTP it cannot serve (no running task, unrouted path) so the edge asks another proxy; HTTPS keeps its 503s', () => {
    const host = vhost('app.test', [location('/app', upstream('none', [])), location('/ws', upstream('up'), { websocketEndpoints: ['/ws/live'] })], {
      tls: { certSecret: 'c', keySecret: 'k' },
    });
    const statuses = (s: ServerView) => s.locations.map((l) => [l.path, l.kind === 'return' ? l.status : 'proxy']);
    const [plain, secure] = virtualHostServers({ ...hostInput, behindEdge: true }, host);
    expect(statuses(plain!)).toEqual([
      ['"/"', 444],
      ['"/app"', 444],
      ['"/app/"', 444],
      ['"/ws"', 'proxy'],
      ['"/ws/"', 'proxy'],
      ['"/ws/live"', 'proxy'],
    ]);
    expect(statuses(secure!)).toEqual([
      ['"/"', 503],
      ['"/app"', 503],
      ['"/app/"', 503],
      ['"/ws"', 'proxy'],
      ['"/ws/"', 'proxy'],
      ['"/ws/live"', 'proxy'],
    ]);
    // Single hop answers them itself.
    const [single] = virtualHostServers(hostInput, host);
    expect(
      statuses(single!)
        .filter(([, status]) => status !== 'proxy')
        .map(([, status]) => status),
    ).toEqual([503, 503, 503]);
  });

  it('returns a whole-host redirect instead of any location', () => {
    const redirects = new Map([['app.test', { whole: '"https://new.test$request_uri"', paths: [] }]]);
    const [plain] = virtualHostServers({ ...hostInput, redirects }, app());
    expect(plain).toMatchObject({ returnAll: { status: 302, body: '"https://new.test$request_uri"' }, locations: [] });
  });
});

describe('httpServers', () => {
  it('adds servers for redirect-only and held hosts and lists every server name', () => {
    const out = httpServers(
      input({
        vhosts: [vhost('app.test', [location('/', upstream('up'))])],
        redirects: new Map([['old.test', { whole: null, paths: [{ path: '/x', target: '"https://app.test$request_uri"' }] }]]),
        heldHosts: ['held.test', 'app.test'],
      }),
    );
    expect(out.servers.map(summary)).toEqual([
      '(default) 80: default server (http): unknown hosts',
      '(default) 443: default server (https): unknown hosts, TLS handshake rejected',
      '"app.test" 80: app.test (http)',
      '"old.test" 80: old.test (http): redirects only',
      '"held.test" 80: held.test (http): held, its service is not routed here',
      '"held.test" 443: held.test (https): held, TLS handshake rejected',
    ]);
    expect(out.servers[3]!.locations.map((l) => [l.modifier, l.path, l.kind === 'return' ? l.status : 0])).toEqual([
      ['', '"/"', 404],
      ['=', '"/x"', 302],
      ['', '"/x/"', 302],
    ]);
    expect(out.serverNames).toEqual(['app.test', 'old.test', 'held.test']);
  });

  it('redirects plain HTTP of an ssl_only passed-through host', () => {
    const out = httpServers(input({ passthrough: [{ host: 'pt.test', upstream: upstream('pt'), sslOnly: true }] }));
    expect(out.servers.map(summary)).toContain('"pt.test" 80: pt.test (http): passed through on the TLS port, redirects to https');
    expect(out.serverNames).toEqual(['pt.test']);
  });

  it('merges hosts whose servers are the same into one block', () => {
    const up = upstream('up');
    const out = httpServers(input({ vhosts: ['a.test', 'b.test', 'c.test'].map((h) => vhost(h, [location('/', up)])) }));
    expect(out.servers.map(summary).slice(2)).toEqual(['"a.test" "b.test" "c.test" 80: a.test (http), and 2 more names']);
  });
});

describe('mergeSameServers', () => {
  it('leaves default servers and different servers apart', () => {
    const s = (name: string | null, status: number): ServerView => ({
      comment: String(name),
      listen: [],
      serverName: name,
      tls: null,
      rejectHandshake: false,
      realIpFrom: [],
      returnAll: { status, body: '""' },
      locations: [],
    });
    expect(mergeSameServers([s(null, 1), s(null, 1), s('"a"', 1), s('"b"', 2), s('"c"', 1)]).map((x) => x.serverName)).toEqual([null, null, '"a" "c"', '"b"']);
  });
});

describe('httpsRedirectTarget', () => {
  it('adds the port unless it is 443, preferring SSLRedirectPort', () => {
    expect(httpsRedirectTarget({ SSLRedirectPort: 0, PublishedSSLPort: 443 })).toBe('"https://$host$request_uri"');
    expect(httpsRedirectTarget({ SSLRedirectPort: 0, PublishedSSLPort: 8443 })).toBe('"https://$host:8443$request_uri"');
    expect(httpsRedirectTarget({ SSLRedirectPort: 443, PublishedSSLPort: 8443 })).toBe('"https://$host$request_uri"');
    expect(() => httpsRedirectTarget({ SSLRedirectPort: 70000, PublishedSSLPort: 443 })).toThrow('SSLRedirectPort');
  });
});
