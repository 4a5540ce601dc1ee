// The `location` blocks of a server: routes (context roots, rewrites, websocket endpoints), the
// health check and the 503 answers for paths and hosts nothing is routed to.
import type { Location, Upstream } from '@signalbox/model';
import { LB_HEALTH_PATH, UNKNOWN_HOST_MESSAGE } from '@signalbox/protocol';
import { nginxVar, quote, requestPath } from './quote.js';
import { canonicalJson, sortedBy, uniqueSorted } from './ordering.js';
import type { LocationView } from './view-types.js';

/** nginx's "close the connection, answer nothing", which the edge retries on another routing proxy. */
export const UNKNOWN_HOST_BEHIND_EDGE = 444;
const UNKNOWN_HOST_BODY = `"${UNKNOWN_HOST_MESSAGE}\\n"`;

export interface LocationTable {
  add(loc: LocationView): void;
  sorted(): LocationView[];
}

/** First claim on a (modifier, path) wins: callers add redirects, then websockets, then routes. */
export function locationTable(): LocationTable {
  const byKey = new Map<string, LocationView>();
  return {
    add(loc) {
      const key = `${loc.modifier} ${loc.path}`;
      if (!byKey.has(key)) byKey.set(key, loc);
    },
    sorted() {
      return sortedBy(
        [...byKey.values()],
        (l) => l.path,
        (l) => (l.modifier === '=' ? 0 : 1),
      );
    },
  };
}

export interface UpstreamRef {
  name: string;
  empty: boolean;
  tls: Upstream['tls'];
}

export function upstreamRef(u: Upstream): UpstreamRef {
  return { name: u.name, empty: u.servers.length === 0, tls: u.tls };
}

export interface LocationContext {
  /** Quoted CA bundle for upstreams that verify TLS. */
  trustedCertificate: string;
  /** Upstream name → the name of the identical upstream rendered in its place (see sharedUpstreams). */
  upstreamAlias: ReadonlyMap<string, string>;
  /**
   * Behind the edge, on the plain HTTP port: an upstream with no servers and a path nothing is routed to
   * close without an answer (444), like an unknown host, so the edge asks another routing proxy (one that
   * has already loaded the service's running task or the new path). Over TLS the edge forwards bytes and
   * cannot ask another, so the HTTPS servers keep their 503s.
   */
  closeUnserved: boolean;
}

export function normalizeContextRoot(path: string): string {
  requestPath(path, 'location path');
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

/** A proxy_pass to the upstream, or a 503 (444 when closeUnserved) when it has no servers. */
export function proxyLocation(ctx: LocationContext, modifier: '=' | '', path: string, up: UpstreamRef, uri: string, websocket: boolean): LocationView {
  const quotedPath = quote(path);
  if (up.empty) {
    return { kind: 'return', modifier, path: quotedPath, status: ctx.closeUnserved ? UNKNOWN_HOST_BEHIND_EDGE : 503, body: null, contentType: null, accessLog: true };
  }
  const scheme = up.tls.enabled ? 'https' : 'http';
  return {
    kind: 'proxy',
    modifier,
    path: quotedPath,
    proxyPass: quote(`${scheme}://${ctx.upstreamAlias.get(up.name) ?? up.name}${uri}`),
    websocket,
    upstreamTls: up.tls.enabled ? { verify: up.tls.verify, trustedCertificate: up.tls.verify ? ctx.trustedCertificate : null } : null,
  };
}

export function routeLocations(ctx: LocationContext, table: LocationTable, locations: readonly Location[]): void {
  const sorted = sortedBy(
    locations,
    (l) => normalizeContextRoot(l.path),
    (l) => l.path,
    canonicalJson,
  );
  // Websocket endpoints first. Each is a prefix, as in Interlock (/ws upgrades /ws/room and /ws?x=1);
  // an endpoint equal to the context root stays exact, so it does not take over the root's other paths
  // and still beats the `= /root` redirect of a rewritten context root.
  for (const loc of sorted) {
    const root = normalizeContextRoot(loc.path);
    const up = upstreamRef(loc.upstream);
    for (const ws of uniqueSorted(loc.websocketEndpoints)) {
      requestPath(ws, 'websocket endpoint');
      const exact = ws === root || ws === '/';
      let uri = '';
      if (loc.rewrite && root !== '/') {
        if (ws === root) uri = '/';
        else if (ws.startsWith(`${root}/`)) uri = ws.slice(root.length);
      }
      table.add(proxyLocation(ctx, exact ? '=' : '', ws, up, uri, true));
    }
  }
  for (const loc of sorted) {
    const root = normalizeContextRoot(loc.path);
    const up = upstreamRef(loc.upstream);
    if (root === '/') {
      table.add(proxyLocation(ctx, '', '/', up, '', false));
      continue;
    }
    // `location /app/` + `proxy_pass http://up/;` replaces the matched '/app/' with '/'.
    table.add(proxyLocation(ctx, '', `${root}/`, up, loc.rewrite ? '/' : '', false));
    if (loc.rewrite) {
      table.add({
        kind: 'return',
        modifier: '=',
        path: quote(root),
        status: 301,
        body: quote(`${root}/`, nginxVar('is_args'), nginxVar('args')),
        contentType: null,
        accessLog: true,
      });
    } else {
      table.add(proxyLocation(ctx, '=', root, up, '', false));
    }
  }
}

/**
 * `location /` answering 503 for a host whose services all have context roots: added after the
 * routes (first claim wins), so it only fills the gap. Without it nginx would serve its own static
 * root there (the welcome page for /, 404 elsewhere).
 */
/** HTTP-01 (RFC 8555 §8.3): the path the CA fetches on port 80 of an ACME host. */
export const ACME_CHALLENGE_PATH = '/.well-known/acme-challenge/';

/** HTTP-01 answers come from the extension (every replica forwards them, so the CA may reach any). */
export function acmeChallengeLocation(): LocationView {
  return { kind: 'proxy', modifier: '', path: quote(ACME_CHALLENGE_PATH), proxyPass: '$signalbox_acme_challenge', websocket: false, upstreamTls: null };
}

/** The context for a plain HTTP server: behind the edge, what it cannot serve closes (see closeUnserved). */
export function plainContext(ctx: LocationContext, behindEdge: boolean): LocationContext {
  return behindEdge ? { ...ctx, closeUnserved: true } : ctx;
}

/** `location /` that closes without an answer (444), so the edge asks another routing proxy. */
function closeRoot(): LocationView {
  return { kind: 'return', modifier: '', path: quote('/'), status: UNKNOWN_HOST_BEHIND_EDGE, body: null, contentType: null, accessLog: true };
}

export function unroutedPath(ctx: Pick<LocationContext, 'closeUnserved'>): LocationView {
  if (ctx.closeUnserved) return closeRoot();
  return {
    kind: 'return',
    modifier: '',
    path: quote('/'),
    status: 503,
    body: '"signalbox: no service is routed for this path\\n"',
    contentType: 'text/plain',
    accessLog: true,
  };
}

/** The health check every default server answers (not logged). */
export function healthLocation(): LocationView {
  return {
    kind: 'return',
    modifier: '=',
    path: quote(LB_HEALTH_PATH),
    status: 200,
    body: '"ok\\n"',
    contentType: 'text/plain',
    accessLog: false,
  };
}

/**
 * `location /` of the default server when there is no default backend. Behind the edge the proxy closes
 * the connection without an answer (444): the edge then asks another routing proxy, so a host that one
 * proxy has not loaded yet (the moment between two proxies' reloads) is served by one that has; the
 * edge answers 503 itself when none of them routes the host.
 */
export function unknownHost(behindEdge: boolean): LocationView {
  if (behindEdge) return closeRoot();
  return {
    kind: 'return',
    modifier: '',
    path: quote('/'),
    status: 503,
    body: UNKNOWN_HOST_BODY,
    contentType: 'text/plain',
    accessLog: true,
  };
}
