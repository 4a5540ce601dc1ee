// The http block's `server` blocks: the default servers, one or two per virtual host, plain-HTTP
// servers for hosts that are only redirected or passed through with ssl_only, and the held hosts.
import type { ClusterModel, ExtensionConfig, PassthroughHost, Upstream, VirtualHost } from '@signalbox/model';
import { comment, hostName, nginxVar, port, quote } from './quote.js';
import { cmp } from './ordering.js';
import type { Listeners } from './listeners.js';
import { acmeChallengeLocation, healthLocation, locationTable, plainContext, proxyLocation, routeLocations, UNKNOWN_HOST_BEHIND_EDGE, unknownHost, unroutedPath, upstreamRef } from './locations.js';
import type { LocationContext } from './locations.js';
import { addRedirectLocations, wholeHostReturn } from './redirects.js';
import type { HostRedirects } from './redirects.js';
import { certificateFiles, defaultBackendCertificate } from './tls.js';
import { shieldedFromPassthroughWildcards } from './stream.js';
import { withTlsFront } from './tls-front.js';
import type { LocationView, MapView, ReturnView, ServerView } from './view-types.js';

/** Interlock answered ssl_only with a 302 (not a 301 that browsers cache for good). */
const SSL_ONLY_STATUS = 302;

/** What every server of a host needs. */
export interface HostServerInput {
  redirects: ReadonlyMap<string, HostRedirects>;
  listeners: Listeners;
  ctx: LocationContext;
  secretsDir: string;
  /** Where ACME files are (RenderOptions.acmeDir). */
  acmeDir?: string;
  /** Hosts whose plain server forwards HTTP-01 challenges to the extension (model.acmeHosts). */
  acmeHosts?: ReadonlySet<string>;
  /** Quoted `https://$host[:port]$request_uri` that ssl_only redirects to. */
  toHttps: string;
  /** TrustedProxies is set: an ssl_only host is served when the balancer says the client used https. */
  behindTrustedProxies: boolean;
  /** The proxy is a routing proxy behind the edge (ProxyEdge): unknown hosts are left to the edge. */
  behindEdge: boolean;
}

export interface ServerInput extends Omit<HostServerInput, 'toHttps'> {
  /** Sorted by host, one per host. */
  vhosts: readonly VirtualHost[];
  /** Sorted by host, one per host. */
  passthrough: readonly PassthroughHost[];
  defaultBackend: Upstream | undefined;
  heldHosts: ClusterModel['heldHosts'];
  ext: Pick<ExtensionConfig, 'SSLRedirectPort' | 'PublishedSSLPort'>;
  /** Behind the edge: TLS ends in the task's TLS front, which gets the certificates (tls-front.ts). */
  tlsFront?: boolean;
}

export interface HttpServers {
  /** Default servers first, then the virtual hosts (sorted), then redirect-only and held hosts; identical blocks merged. */
  servers: ServerView[];
  /** Every server_name, for the hash sizes. */
  serverNames: string[];
  /** Hosts served or held here (a passthrough wildcard must not take them). */
  hostsServedHere: string[];
  /** With the TLS front: its certificate map (TLS_CERTIFICATE_MAP). */
  tlsCertificates: MapView | null;
}

/** ssl_only sends clients to SSLRedirectPort (e.g. 443 on a load balancer in front), else PublishedSSLPort. */
export function httpsRedirectTarget(ext: Pick<ExtensionConfig, 'SSLRedirectPort' | 'PublishedSSLPort'>): string {
  const redirectPort = (ext.SSLRedirectPort ?? 0) > 0 ? port(ext.SSLRedirectPort, 'SSLRedirectPort') : ext.PublishedSSLPort;
  const httpsPortSuffix = redirectPort > 0 && redirectPort !== 443 ? `:${port(redirectPort, 'PublishedSSLPort')}` : '';
  return quote('https://', nginxVar('host'), `${httpsPortSuffix}`, nginxVar('request_uri'));
}

export function httpServers(input: ServerInput): HttpServers {
  const { vhosts, passthrough, redirects } = input;
  const servers: ServerView[] = defaultServers(input);
  const host: HostServerInput = { ...input, toHttps: httpsRedirectTarget(input.ext) };
  for (const vh of vhosts) servers.push(...virtualHostServers(host, vh));

  // ssl_only on a passed-through host: plain HTTP is redirected to https like a terminated host's
  // (redirect labels for the host still come first).
  const vhostNames = new Set(vhosts.map((v) => v.host));
  const httpsOnlyPassthrough = passthrough.filter((p) => p.sslOnly === true && !vhostNames.has(p.host)).map((p) => p.host);
  for (const name of httpsOnlyPassthrough) servers.push(passthroughRedirectServer(host, name));

  // Redirect sources that are not virtual hosts get a plain HTTP server of their own.
  for (const name of [...redirects.keys()].sort(cmp)) {
    if (vhostNames.has(name) || httpsOnlyPassthrough.includes(name)) continue;
    servers.push(redirectOnlyServer(host, name));
  }

  // Hosts whose service is not routed here (rejected, excluded, passed through): the proxy answers them
  // itself, so another owner's default backend or wildcard never receives their requests.
  const heldNames = heldServerNames(input.heldHosts, vhostNames, redirects, httpsOnlyPassthrough);
  const held = input.behindEdge ? heldCaughtElsewhere(heldNames, input, [...vhostNames, ...redirects.keys(), ...httpsOnlyPassthrough]) : heldNames;
  for (const name of held) servers.push(...heldServers(input.listeners, name, input.behindEdge));

  const front = input.tlsFront ? withTlsFront(servers) : null;
  return {
    servers: mergeSameServers(front ? front.servers : servers),
    tlsCertificates: front ? front.certificates : null,
    serverNames: [...vhostNames, ...redirects.keys(), ...httpsOnlyPassthrough.filter((h) => !redirects.has(h)), ...held],
    hostsServedHere: [...vhostNames, ...held, ...redirects.keys()],
  };
}

/** The servers for unknown hosts: the default backend (HTTPS only when it has a certificate to offer), else 503 and a rejected handshake. */
export function defaultServers(input: Pick<ServerInput, 'defaultBackend' | 'vhosts' | 'listeners' | 'ctx' | 'secretsDir' | 'acmeDir' | 'behindEdge'>): ServerView[] {
  const { defaultBackend: db, listeners } = input;
  const locations = (ctx: LocationContext): LocationView[] => {
    const table = locationTable();
    table.add(healthLocation());
    table.add(db ? proxyLocation(ctx, '', '/', upstreamRef(db), '', false) : unknownHost(input.behindEdge));
    return table.sorted();
  };
  const servers: ServerView[] = [
    {
      comment: db ? 'default server (http): default backend' : 'default server (http): unknown hosts',
      listen: [{ ...listeners.plain, defaultServer: true }],
      serverName: null,
      tls: null,
      rejectHandshake: false,
      realIpFrom: listeners.plainRealIpFrom,
      realIpHeader: listeners.plainRealIpHeader,
      returnAll: null,
      locations: locations(plainContext(input.ctx, input.behindEdge)),
    },
  ];
  // HTTPS for unknown hosts goes to the default backend too when it has a certificate to offer: that of
  // a host the default-backend service itself serves over TLS (its ssl_cert/ssl_key labels).
  const cert = db ? defaultBackendCertificate(db, input.vhosts) : undefined;
  if (db && cert) {
    servers.push({
      comment: `default server (https): default backend, with the certificate of ${comment(cert.host)}`,
      listen: [{ ...listeners.ssl, defaultServer: true }],
      serverName: null,
      tls: certificateFiles(input.secretsDir, cert.tls, input.acmeDir),
      rejectHandshake: false,
      realIpFrom: listeners.realIpFrom,
      ...(listeners.realIpHeader ? { realIpHeader: listeners.realIpHeader } : {}),
      returnAll: null,
      locations: locations(input.ctx),
    });
  } else {
    servers.push({
      comment: 'default server (https): unknown hosts, TLS handshake rejected',
      listen: [{ ...listeners.ssl, defaultServer: true }],
      serverName: null,
      tls: null,
      rejectHandshake: true,
      realIpFrom: listeners.realIpFrom,
      ...(listeners.realIpHeader ? { realIpHeader: listeners.realIpHeader } : {}),
      returnAll: null,
      locations: [],
    });
  }
  return servers;
}

/** A virtual host's plain HTTP server, and its HTTPS server when TLS is terminated here. */
export function virtualHostServers(input: HostServerInput, vh: VirtualHost): ServerView[] {
  const { ctx, listeners, toHttps } = input;
  const hostRedirects = input.redirects.get(vh.host);
  const whole = wholeHostReturn(hostRedirects);

  // Plain HTTP.
  const plainCtx = plainContext(ctx, input.behindEdge);
  const plain = locationTable();
  let redirectUnlessForwardedHttps: ReturnView | undefined;
  if (!whole) {
    addRedirectLocations(plain, hostRedirects);
    if (input.acmeHosts?.has(vh.host)) plain.add(acmeChallengeLocation());
    if (vh.sslOnly && !input.behindTrustedProxies) {
      plain.add({ kind: 'return', modifier: '', path: quote('/'), status: SSL_ONLY_STATUS, body: toHttps, contentType: null, accessLog: true });
    } else {
      if (vh.sslOnly) redirectUnlessForwardedHttps = { status: SSL_ONLY_STATUS, body: toHttps };
      routeLocations(plainCtx, plain, vh.locations);
      plain.add(unroutedPath(plainCtx));
    }
  }
  const servers: ServerView[] = [
    {
      comment: `${comment(vh.host)} (http)${vh.sslOnly ? ': redirects to https' : ''}`,
      listen: [listeners.plain],
      serverName: quote(vh.host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: listeners.plainRealIpFrom,
      realIpHeader: listeners.plainRealIpHeader,
      returnAll: whole,
      ...(redirectUnlessForwardedHttps ? { redirectUnlessForwardedHttps } : {}),
      locations: whole ? [] : plain.sorted(),
    },
  ];

  // HTTPS (terminated here).
  if (vh.tls) {
    const secure = locationTable();
    if (!whole) {
      addRedirectLocations(secure, hostRedirects);
      routeLocations(ctx, secure, vh.locations);
      secure.add(unroutedPath(ctx));
    }
    servers.push({
      comment: `${comment(vh.host)} (https)`,
      listen: [listeners.ssl],
      serverName: quote(vh.host),
      tls: certificateFiles(input.secretsDir, vh.tls, input.acmeDir),
      rejectHandshake: false,
      realIpFrom: listeners.realIpFrom,
      ...(listeners.realIpHeader ? { realIpHeader: listeners.realIpHeader } : {}),
      returnAll: whole,
      locations: whole ? [] : secure.sorted(),
    });
  }
  return servers;
}

function passthroughRedirectServer(input: HostServerInput, host: string): ServerView {
  const r = input.redirects.get(host);
  const table = locationTable();
  if (!r?.whole) {
    addRedirectLocations(table, r);
    table.add({ kind: 'return', modifier: '', path: quote('/'), status: SSL_ONLY_STATUS, body: input.toHttps, contentType: null, accessLog: true });
  }
  return {
    comment: `${comment(host)} (http): passed through on the TLS port, redirects to https`,
    listen: [input.listeners.plain],
    serverName: quote(host),
    tls: null,
    rejectHandshake: false,
    realIpFrom: input.listeners.plainRealIpFrom,
    realIpHeader: input.listeners.plainRealIpHeader,
    returnAll: wholeHostReturn(r),
    locations: r?.whole ? [] : table.sorted(),
  };
}

function redirectOnlyServer(input: HostServerInput, host: string): ServerView {
  const r = input.redirects.get(host)!;
  const table = locationTable();
  if (!r.whole) {
    addRedirectLocations(table, r);
    table.add({ kind: 'return', modifier: '', path: quote('/'), status: 404, body: null, contentType: null, accessLog: true });
  }
  return {
    comment: `${comment(host)} (http): redirects only`,
    listen: [input.listeners.plain],
    serverName: quote(host),
    tls: null,
    rejectHandshake: false,
    realIpFrom: input.listeners.plainRealIpFrom,
    realIpHeader: input.listeners.plainRealIpHeader,
    returnAll: wholeHostReturn(r),
    locations: r.whole ? [] : table.sorted(),
  };
}

/**
 * A held host answers 503 over HTTP and rejects the TLS handshake. Behind the edge it closes without an
 * answer instead, like an unknown host: another routing proxy may already route it (see unknownHost).
 */
function heldServers(listeners: Listeners, host: string, behindEdge: boolean): ServerView[] {
  return [
    {
      comment: `${comment(host)} (http): held, its service is not routed here`,
      listen: [listeners.plain],
      serverName: quote(host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: listeners.plainRealIpFrom,
      realIpHeader: listeners.plainRealIpHeader,
      returnAll: behindEdge ? { status: UNKNOWN_HOST_BEHIND_EDGE, body: null } : { status: 503, body: '"signalbox: the service of this host is not routed\\n"' },
      locations: [],
    },
    {
      comment: `${comment(host)} (https): held, TLS handshake rejected`,
      listen: [listeners.ssl],
      serverName: quote(host),
      tls: null,
      rejectHandshake: true,
      realIpFrom: listeners.realIpFrom,
      ...(listeners.realIpHeader ? { realIpHeader: listeners.realIpHeader } : {}),
      returnAll: null,
      locations: [],
    },
  ];
}

/**
 * The held hosts that keep servers of their own behind the edge. There a held host's servers answer
 * like the default servers (close unanswered, reject the handshake), so they are rendered only where
 * something else would take the host: the default backend, a wildcard name served here, or a
 * passthrough wildcard. Elsewhere they would change the config, and reload the proxies, for nothing: a
 * route that waits for its network or certificate is one of those.
 */
function heldCaughtElsewhere(hosts: readonly string[], input: Pick<ServerInput, 'defaultBackend' | 'passthrough'>, names: readonly string[]): string[] {
  if (input.defaultBackend || hosts.length === 0) return [...hosts];
  // Any pattern nginx accepts other than *.suffix (.example.com, www.example.*, ~regex): assume it may match.
  if (names.some((n) => n.startsWith('.') || n.endsWith('.*') || n.startsWith('~'))) return [...hosts];
  const suffixes = names.filter((n) => n.startsWith('*.')).map((n) => n.slice(1));
  const shielded = new Set(shieldedFromPassthroughWildcards(input.passthrough, hosts));
  return hosts.filter((h) => shielded.has(h) || suffixes.some((x) => h.endsWith(x)));
}

/** model.heldHosts that have no server of their own yet, valid and sorted. */
function heldServerNames(heldHosts: readonly string[] | undefined, vhostNames: ReadonlySet<string>, redirects: ReadonlyMap<string, unknown>, httpsOnly: readonly string[]): string[] {
  const own = new Set(httpsOnly);
  const out = new Set<string>();
  for (const h of heldHosts ?? []) {
    hostName(h);
    if (!vhostNames.has(h) && !redirects.has(h) && !own.has(h)) out.add(h);
  }
  return [...out].sort(cmp);
}

/**
 * Merges servers that differ only in their names (the hosts of one multi-host service, same listen,
 * certificate and locations) into one block with all the names, at the first one's place: nginx picks
 * the same block for each name, and every block costs memory and load time for each module.
 */
export function mergeSameServers(servers: readonly ServerView[]): ServerView[] {
  const out: ServerView[] = [];
  const byContent = new Map<string, { server: ServerView; names: string[]; comment: string }>();
  for (const s of servers) {
    if (s.serverName === null) {
      out.push(s);
      continue;
    }
    const key = JSON.stringify([s.listen, s.tls, s.rejectHandshake, s.realIpFrom, s.realIpHeader ?? null, s.returnAll, s.redirectUnlessForwardedHttps ?? null, s.locations]);
    const first = byContent.get(key);
    if (first === undefined) {
      const server = { ...s };
      byContent.set(key, { server, names: [s.serverName], comment: s.comment });
      out.push(server);
    } else {
      first.names.push(s.serverName);
    }
  }
  for (const { server, names, comment } of byContent.values()) {
    if (names.length === 1) continue;
    server.serverName = names.join(' ');
    // The comment stays one short line (nginx refuses a token over 4 KiB, comments included).
    server.comment = `${comment}, and ${names.length - 1} more name${names.length > 2 ? 's' : ''}`;
  }
  return out;
}
