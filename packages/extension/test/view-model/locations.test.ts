import { locationTable, normalizeContextRoot, proxyLocation, routeLocations, upstreamRef } from '../../src/render/locations.js';
import type { LocationView } from '../../src/render/view-types.js';
import { ctx, location, upstream } from './fixtures.js';

function routes(...locations: Parameters<typeof routeLocations>[2]): string[] {
  const table = locationTable();
  routeLocations(ctx, table, locations);
  return table.sorted().map(describeLocation);
}

function describeLocation(l: LocationView): string {
  const head = `${l.modifier === '=' ? '= ' : ''}${l.path}`;
  return l.kind === 'proxy' ? `${head} -> ${l.proxyPass}${l.websocket ? ' (ws)' : ''}` : `${head} return ${l.status}${l.body === null ? '' : ` ${l.body}`}`;
}

describe('locationTable', () => {
  it('keeps the first claim on a path and sorts exact matches before prefixes of one path', () => {
    const table = locationTable();
    table.add({ kind: 'return', modifier: '', path: '"/b"', status: 302, body: null, contentType: null, accessLog: true });
    table.add({ kind: 'return', modifier: '', path: '"/b"', status: 503, body: null, contentType: null, accessLog: true });
    table.add({ kind: 'return', modifier: '=', path: '"/b"', status: 200, body: null, contentType: null, accessLog: true });
    table.add({ kind: 'return', modifier: '', path: '"/a"', status: 404, body: null, contentType: null, accessLog: true });
    expect(table.sorted().map(describeLocation)).toEqual(['"/a" return 404', '= "/b" return 200', '"/b" return 302']);
  });
});

describe('routeLocations', () => {
  it('routes the root as one prefix location', () => {
    expect(routes(location('/', upstream('up')))).toEqual(['"/" -> "http://up"']);
  });

  it('routes a context root as its prefix and its exact path, keeping the path', () => {
    expect(routes(location('/app/', upstream('up')))).toEqual(['= "/app" -> "http://up"', '"/app/" -> "http://up"']);
  });

  it('strips a rewritten context root and redirects the bare root to the slash form', () => {
    expect(routes(location('/app', upstream('up'), { rewrite: true }))).toEqual(['= "/app" return 301 "/app/$is_args$args"', '"/app/" -> "http://up/"']);
  });

  it('makes websocket endpoints prefixes, exact when they equal the context root, and rewrites them too', () => {
    expect(routes(location('/app', upstream('up'), { rewrite: true, websocketEndpoints: ['/app/ws', '/app'] }))).toEqual([
      '= "/app" -> "http://up/" (ws)',
      '"/app/" -> "http://up/"',
      '"/app/ws" -> "http://up/ws" (ws)',
    ]);
  });

  it('answers 503 for an upstream without servers', () => {
    expect(routes(location('/', upstream('up', [])))).toEqual(['"/" return 503']);
  });

  it('rejects a path that is not a request path', () => {
    expect(() => routes(location('app', upstream('up')))).toThrow('location path');
  });
});

describe('proxyLocation', () => {
  it('proxies over https to a TLS upstream, with the CA bundle only when it verifies', () => {
    const tls = (verify: boolean): LocationView => proxyLocation(ctx, '', '/', upstreamRef(upstream('up', undefined, { tls: { enabled: true, verify } })), '', false);
    expect(tls(true)).toMatchObject({ kind: 'proxy', proxyPass: '"https://up"', upstreamTls: { verify: true, trustedCertificate: '"/ca.pem"' } });
    expect(tls(false)).toMatchObject({ upstreamTls: { verify: false, trustedCertificate: null } });
  });

  it('proxies to the upstream rendered in place of an identical one', () => {
    const aliased = { ...ctx, upstreamAlias: new Map([['b', 'a']]) };
    expect(proxyLocation(aliased, '=', '/x', upstreamRef(upstream('b')), '', false)).toMatchObject({ modifier: '=', path: '"/x"', proxyPass: '"http://a"' });
  });
});

describe('normalizeContextRoot', () => {
  it('drops trailing slashes and keeps the root', () => {
    expect(normalizeContextRoot('/app//')).toBe('/app');
    expect(normalizeContextRoot('/')).toBe('/');
  });
});
