// Upstream blocks: the model's upstreams, de-duplicated, validated and sorted, with their servers,
// balancing (ip_hash, sticky cookie maps) and shared memory zones.
import type { NginxTuning, Upstream, UpstreamServer } from '@signalbox/model';
import { RenderError, comment, nginxTime, quote, regexEscape, serverAddress, upstreamName } from './quote.js';
import { cmp, sortedBy, uniqueSorted } from './ordering.js';
import type { MapView, UpstreamServerView, UpstreamView } from './view-types.js';

export const LOOPBACK = '127.0.0.1';
const KEEPALIVE_CONNECTIONS = 32;
const DEFAULT_MAX_FAILS = 1;
const DEFAULT_FAIL_TIMEOUT = '10s';
const MIN_ZONE_KB = 32;
/**
 * One zone per block that every upstream shares (nginx: "several groups may share the same zone"):
 * nginx looks zones up by a linear scan, so one zone per upstream makes `nginx -t` and every reload
 * quadratic in the number of upstreams (~10 s of the 18 s `nginx -t` of 13 000 upstreams).
 * UpstreamZoneSize stays the room per upstream: the zone is that times the number of upstreams.
 */
export const UPSTREAM_ZONES = { http: 'signalbox_upstreams', stream: 'signalbox_stream_upstreams' } as const;

/** Internal names; model upstream names must not collide with them. */
export const INTERNAL_UPSTREAMS = {
  terminate: 'signalbox_https_terminate',
  hop: 'signalbox_passthrough_hop',
  reject: 'signalbox_passthrough_reject',
} as const;

/** Room per upstream in the shared zone, in KiB (UpstreamZoneSize, default 64, at least 32). */
export function upstreamZoneKb(t: NginxTuning): number {
  return Math.max(MIN_ZONE_KB, t.UpstreamZoneSize > 0 ? Math.floor(t.UpstreamZoneSize) : 64);
}

/** The zone directive's argument: sized on the block's first upstream, the name alone on the others. */
export function sharedZone(name: string, index: number, count: number, kbEach: number): string {
  return index === 0 ? `${name} ${kbEach * count}k` : name;
}

/** Sorted by address, port and service; one entry per address:port (the first service wins). */
function sortServers(servers: readonly UpstreamServer[]): UpstreamServer[] {
  const seen = new Set<string>();
  const out: UpstreamServer[] = [];
  for (const s of sortedBy(
    servers,
    (s) => s.addr,
    (s) => s.port,
    (s) => s.service,
  )) {
    const key = `${s.addr}:${s.port}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(s);
  }
  return out;
}

/** Canonical form used to check that two references to one upstream name agree. */
function canonicalUpstream(u: Upstream): string {
  return JSON.stringify({
    name: u.name,
    servers: sortServers(u.servers).map((s) => [s.addr, s.port, s.service]),
    balance: u.balance,
    cookie: u.balance === 'cookie' ? (u.cookie ?? '') : '',
    maxFails: u.maxFails ?? null,
    failTimeout: u.failTimeout ?? null,
    tls: [u.tls.enabled, u.tls.verify],
    services: uniqueSorted(u.services),
  });
}

const RESERVED_UPSTREAMS: ReadonlySet<string> = new Set(Object.values(INTERNAL_UPSTREAMS));

/** The upstreams of one block by name: a name is valid, not reserved, and never means two different upstreams. */
export class UpstreamSet {
  private readonly byName = new Map<string, Upstream>();

  add(u: Upstream): void {
    upstreamName(u.name);
    if (RESERVED_UPSTREAMS.has(u.name)) {
      throw new RenderError(`upstream name ${JSON.stringify(u.name)} is reserved`);
    }
    const existing = this.byName.get(u.name);
    if (existing === undefined) {
      this.byName.set(u.name, u);
    } else if (existing !== u && canonicalUpstream(existing) !== canonicalUpstream(u)) {
      // Compared only on a repeated name (rare): the canonical form costs a sort and a JSON per upstream.
      throw new RenderError(`internal error: two different upstreams share the name ${JSON.stringify(u.name)}`);
    }
  }

  sorted(): Upstream[] {
    return [...this.byName.keys()].sort(cmp).map((k) => this.byName.get(k)!);
  }
}

/** The `server` lines of an upstream; an upstream without servers holds one `down` placeholder. */
export function serverViews(u: Upstream): UpstreamServerView[] {
  const servers = sortServers(u.servers);
  if (servers.length === 0) {
    return [{ address: `${LOOPBACK}:1`, maxFails: null, failTimeout: null, down: true, comment: 'no servers: answers 503' }];
  }
  const maxFails = u.maxFails ?? DEFAULT_MAX_FAILS;
  if (!Number.isInteger(maxFails) || maxFails < 0) throw new RenderError(`invalid max_fails: ${maxFails}`);
  const failTimeout = nginxTime(u.failTimeout ?? DEFAULT_FAIL_TIMEOUT, 'fail_timeout');
  return servers.map((s) => ({
    address: serverAddress(s.addr, s.port),
    maxFails,
    failTimeout,
    down: false,
    comment: s.service === '' ? null : comment(s.service),
  }));
}

/**
 * Groups upstreams that would render identically apart from their name (same servers, balancing,
 * health and TLS settings), e.g. the per-host upstreams of one multi-host service. Each group is
 * rendered once, under its first name; returns name → that name for the others. nginx finds an
 * upstream by a linear scan of all of them for every `upstream` and `proxy_pass`, so their number
 * weighs quadratically on `nginx -t` and every reload. Requests reach the same servers either way.
 */
export function sharedUpstreams(sorted: readonly Upstream[]): { kept: Upstream[]; alias: Map<string, string> } {
  const byContent = new Map<string, Upstream>();
  const services = new Map<Upstream, string[]>();
  const alias = new Map<string, string>();
  const kept: Upstream[] = [];
  for (const u of sorted) {
    const key = JSON.stringify([
      sortServers(u.servers).map((s) => [s.addr, s.port, s.service]),
      u.balance,
      u.balance === 'cookie' ? (u.cookie ?? '') : '',
      u.maxFails ?? null,
      u.failTimeout ?? null,
      u.tls.enabled,
      u.tls.verify,
    ]);
    const first = byContent.get(key);
    if (first === undefined) {
      byContent.set(key, u);
      kept.push(u);
    } else {
      alias.set(u.name, first.name);
      let list = services.get(first);
      if (list === undefined) services.set(first, (list = [...first.services]));
      list.push(...u.services);
    }
  }
  return { kept: kept.map((u) => (services.has(u) ? { ...u, services: services.get(u)! } : u)), alias };
}

export interface HttpUpstreams {
  /** Sorted by name; identical upstreams rendered once (see sharedUpstreams). */
  upstreams: UpstreamView[];
  /** One map per sticky cookie name, in the order the cookies were first used. */
  stickyMaps: MapView[];
  /** Upstream name → the name of the identical upstream rendered in its place. */
  alias: Map<string, string>;
}

/** The http block's upstreams (those of the routes and the default backend) with their sticky-cookie maps. */
export function httpUpstreams(upstreams: Iterable<Upstream>, zoneKb: number): HttpUpstreams {
  const set = new UpstreamSet();
  for (const u of upstreams) set.add(u);
  const stickyMaps: MapView[] = [];
  const views: UpstreamView[] = [];
  // One map per cookie name: upstreams sticky on the same cookie share its variable.
  const stickyVariables = new Map<string, string>();
  const shared = sharedUpstreams(set.sorted());
  const sorted = shared.kept;
  for (const [index, u] of sorted.entries()) {
    const empty = u.servers.length === 0;
    let balance: string | null = null;
    if (!empty && u.balance === 'ip_hash') {
      balance = 'ip_hash';
    } else if (!empty && u.balance === 'cookie') {
      const cookie = u.cookie ?? '';
      if (cookie === '') throw new RenderError(`upstream ${u.name}: cookie balance without a cookie name`);
      let variable = stickyVariables.get(cookie);
      if (variable === undefined) {
        variable = `$signalbox_sticky_${stickyVariables.size}`;
        stickyVariables.set(cookie, variable);
        stickyMaps.push(stickyCookieMap(cookie, variable));
      }
      balance = `hash ${variable} consistent`;
    }
    views.push({
      name: u.name,
      zone: sharedZone(UPSTREAM_ZONES.http, index, sorted.length, zoneKb),
      balance,
      servers: serverViews(u),
      keepalive: empty ? null : KEEPALIVE_CONNECTIONS,
      empty,
      services: comment(uniqueSorted(u.services).join(', ')),
    });
  }
  return { upstreams: views, stickyMaps, alias: shared.alias };
}

/** The cookie's value as the hash key; requests without the cookie are spread by request id instead of all hashing to one server. */
function stickyCookieMap(cookie: string, variable: string): MapView {
  if (/^[A-Za-z0-9_]+$/.test(cookie)) {
    return {
      source: `$cookie_${cookie}`,
      variable,
      hostnames: false,
      entries: [{ key: '""', value: '$request_id' }],
      default: `$cookie_${cookie}`,
    };
  }
  return {
    source: '$http_cookie',
    variable,
    hostnames: false,
    entries: [{ key: quote(`~(^|;\\s*)${regexEscape(cookie)}=([^;]+)`), value: '$2' }],
    default: '$request_id',
  };
}

/** The stream block's upstreams (TLS passthrough): no cookies at L4, so both sticky modes pin the client address. */
export function streamUpstreams(upstreams: Iterable<Upstream>, zoneKb: number): UpstreamView[] {
  const set = new UpstreamSet();
  for (const u of upstreams) set.add(u);
  const sorted = set.sorted();
  return sorted.map((u, index) => {
    const empty = u.servers.length === 0;
    return {
      name: u.name,
      // Shared memory zones are global: the stream zone has a name of its own.
      zone: sharedZone(UPSTREAM_ZONES.stream, index, sorted.length, zoneKb),
      // The client address is carried by the PROXY header.
      balance: !empty && u.balance !== 'round_robin' ? 'hash $proxy_protocol_addr consistent' : null,
      servers: serverViews(u),
      keepalive: null,
      empty,
      services: comment(uniqueSorted(u.services).join(', ')),
    };
  });
}

/** An upstream of Signalbox's own (the passthrough hops): one server, no zone. */
export function internalUpstream(name: string, address: string, down: boolean, why: string): UpstreamView {
  return {
    name,
    zone: null,
    balance: null,
    servers: [{ address, maxFails: null, failTimeout: null, down, comment: why }],
    keepalive: null,
    empty: false,
    services: '',
  };
}
