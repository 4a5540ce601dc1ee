// ClusterModel + ExtensionConfig → ViewModel: plain, sorted data of already-quoted strings.
// Templates only lay this out; every decision (and every escape) happens here.
import { isIP } from 'node:net';
import type {
  ClusterModel,
  ExtensionConfig,
  Location,
  NginxTuning,
  PassthroughHost,
  RedirectRule,
  Upstream,
  UpstreamServer,
  VirtualHost,
} from '@signalbox/model';
import {
  RenderError,
  comment,
  hostName,
  mapKey,
  nginxBuffers,
  nginxSize,
  nginxTime,
  nginxTimes,
  nginxVar,
  port,
  positiveInt,
  quote,
  regexEscape,
  requestPath,
  serverAddress,
  upstreamName,
} from './quote.js';

// ---------------------------------------------------------------------------------------------
// Options

export interface RenderOptions {
  /** Value of the x-proxy-id response header; default: nginx's $hostname, the proxy task's container (as Interlock). */
  proxyId?: string;
  /** Where the proxy has its TLS secrets mounted, e.g. '/run/secrets'. */
  secretsDir: string;
  /** If set, `load_module <path>;` is emitted when a stream block is needed (Debian builds it dynamically). */
  streamModulePath?: string;
  /** Directory holding nginx.conf.njk and partials/; default: the repo's templates/ (or $SIGNALBOX_TEMPLATES_DIR). */
  templatesDir?: string;
  /** Contents of a custom template (ExtensionConfig.Template), rendered with the same view model. */
  customTemplate?: string;
  /** CA bundle used when an upstream requires TLS verification. Default '/etc/ssl/certs/ca-certificates.crt'. */
  upstreamTrustedCertificate?: string;
  /**
   * ssl_dhparam file used when the config's SSLDefaultDHParamPath is empty (e.g. parameters the proxy
   * generated); neither set = no ssl_dhparam, so only ECDHE key exchange.
   */
  dhparamPath?: string;
  /**
   * Loopback port the terminating HTTPS servers listen on when TLS passthrough is active (the public
   * TargetSSLPort then belongs to the stream block). Default 10443, or the next port not used by
   * TargetPort/TargetSSLPort.
   */
  internalTlsPort?: number;
  /** Loopback port of the stream hop that forwards passthrough connections. Default: next free after internalTlsPort. */
  internalPassthroughPort?: number;
  /**
   * Directory for nginx's temp files (client bodies, proxy buffers). Unset = nginx's compiled-in paths.
   * The validation sandbox sets it, because the unprivileged `nginx -t` cannot create the system ones.
   */
  tempDir?: string;
  /**
   * With ProxyEdge: the edge network's subnet(s), the only source whose PROXY protocol header gives the
   * client address (realip). Empty = the header is parsed but the edge's address stays $remote_addr.
   */
  edgeTrustedFrom?: string[];
}

export const DEFAULT_TRUSTED_CERTIFICATE = '/etc/ssl/certs/ca-certificates.crt';
export const HEALTH_PATH = '/signalbox-health';
const DEFAULT_INTERNAL_TLS_PORT = 10443;
const WEBSOCKET_TIMEOUT = '3600s';
/**
 * Behind the edge: a busy keep-alive connection older than this gets `Connection: close` on its next
 * response, so a stopping proxy (which waits a little longer, see the proxy agent's drain) loses no
 * request; the client reconnects through the edge to another task.
 */
export const EDGE_KEEPALIVE_TIME = '5s';
/** Interlock answered ssl_only with a 302 (not a 301 that browsers cache for good). */
const SSL_ONLY_STATUS = 302;
/**
 * Retry on another task as Interlock did: on connection errors, timeouts and 502/503/504. nginx never
 * retries a non-idempotent request (POST, LOCK, PATCH) once it was sent, so only idempotent ones are.
 */
const PROXY_NEXT_UPSTREAM = 'error timeout http_502 http_503 http_504';
const FORWARDED_FOR = '$signalbox_forwarded_for';
const FORWARDED_PROTO = '$signalbox_forwarded_proto';
const FORWARDED_HOST = '$signalbox_forwarded_host';
const TRUSTED_PROXY = '$signalbox_trusted_proxy';

/**
 * X-Forwarded-* as a trusted load balancer set them, else the proxy's own view. $signalbox_trusted_proxy
 * is 1 for the TrustedProxies addresses (geo block in http.njk).
 */
function forwardedHeaderMaps(): MapView[] {
  const keep = (header: string, variable: string, own: string): MapView => ({
    source: quote(nginxVar(TRUSTED_PROXY.slice(1)), ':', nginxVar(`http_${header}`)),
    variable,
    hostnames: false,
    // The greedy .+ takes the whole header, so no end anchor (a '$' cannot be quoted) is needed.
    entries: [{ key: quote('~^1:(?<signalbox_fwd>.+)'), value: '$signalbox_fwd' }],
    default: own,
  });
  return [
    { source: TRUSTED_PROXY, variable: FORWARDED_FOR, hostnames: false, entries: [{ key: '1', value: '$proxy_add_x_forwarded_for' }], default: '$remote_addr' },
    keep('x_forwarded_host', FORWARDED_HOST, '$http_host'),
    keep('x_forwarded_proto', FORWARDED_PROTO, '$scheme'),
  ];
}

/** The first (by host) TLS virtual host routed to a service of the default backend, if any. */
function defaultBackendCertificate(db: Upstream, vhosts: readonly VirtualHost[]): { host: string; tls: NonNullable<VirtualHost['tls']> } | undefined {
  const services = new Set(db.services);
  for (const vh of vhosts) {
    if (vh.tls && vh.locations.some((l) => l.upstream.services.some((name) => services.has(name)))) return { host: vh.host, tls: vh.tls };
  }
  return undefined;
}

/** TrustedProxies as geo keys: each a valid IPv4/IPv6 address or CIDR, quoted. */
function trustedProxies(list: readonly string[]): string[] {
  return uniqueSorted(list.map((a) => a.trim())).map((entry) => {
    const [addr = '', prefix, extra] = entry.split('/');
    const family = isIP(addr);
    const maxPrefix = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= maxPrefix))) {
      throw new RenderError(`TrustedProxies entry ${JSON.stringify(entry)} is not an IP address or CIDR`);
    }
    return quote(entry);
  });
}
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

function sharedZone(name: string, index: number, count: number, kbEach: number): string {
  return index === 0 ? `${name} ${kbEach * count}k` : name;
}
const LOOPBACK = '127.0.0.1';

/** Internal names; model upstream names must not collide with them. */
export const INTERNAL_UPSTREAMS = {
  terminate: 'signalbox_https_terminate',
  hop: 'signalbox_passthrough_hop',
  reject: 'signalbox_passthrough_reject',
} as const;

// ---------------------------------------------------------------------------------------------
// View model types. Every string is ready to be emitted as is: user-derived text is quoted.

export interface ViewModel {
  /** Comment-safe cluster label for the header ('(default)' for ''). */
  cluster: string;
  main: MainView;
  events: { workerConnections: number };
  http: HttpView;
  /** Present only when there are TLS passthrough hosts. */
  stream: StreamView | null;
}

export interface MainView {
  /** Quoted module paths for `load_module`. */
  loadModules: string[];
  user: string | null;
  /** 'auto' or a number. */
  workerProcesses: string;
  workerRlimitNofile: number | null;
  pid: string | null;
  errorLog: string | null;
  workerShutdownTimeout: string | null;
  /** GlobalOptions, verbatim. */
  options: string[];
}

export interface LogFormatView {
  name: string;
  /** Verbatim format argument(s), already quoted. */
  format: string;
}

export interface HeaderView {
  name: string;
  value: string;
}

export interface MapEntryView {
  key: string;
  value: string;
}

export interface MapView {
  /** e.g. '$http_cookie' */
  source: string;
  /** e.g. '$signalbox_sticky_0' */
  variable: string;
  hostnames: boolean;
  /** Sorted by key; never contains the default. */
  entries: MapEntryView[];
  default: string;
}

export interface UpstreamServerView {
  /** 'addr:port' ('[v6]:port'). */
  address: string;
  maxFails: number | null;
  failTimeout: string | null;
  down: boolean;
  /** Comment-safe owner, e.g. the service name. */
  comment: string | null;
}

export interface UpstreamView {
  name: string;
  /**
   * Shared memory zone: 'name size' on the first upstream of a block (http or stream), bare 'name'
   * on the others, which share it; null for internal upstreams.
   */
  zone: string | null;
  /** 'ip_hash' or 'hash $var consistent'; null for round robin. */
  balance: string | null;
  /** Sorted by address. Never empty: an upstream without servers holds one `down` placeholder. */
  servers: UpstreamServerView[];
  keepalive: number | null;
  /** True when the model had no servers (locations using it return 503). */
  empty: boolean;
  /** Comment-safe list of the services feeding it. */
  services: string;
}

export interface ListenView {
  /** '80', '127.0.0.1:10443' */
  address: string;
  ssl: boolean;
  proxyProtocol: boolean;
  defaultServer: boolean;
}

export interface ProxyLocationView {
  kind: 'proxy';
  /** '=' for exact match, '' for prefix. */
  modifier: '=' | '';
  /** Quoted path. */
  path: string;
  /** Quoted URL, e.g. "http://app_example_com" or "http://app_example_com/" (strips the matched prefix). */
  proxyPass: string;
  websocket: boolean;
  /** Upstream speaks TLS. */
  upstreamTls: { verify: boolean; trustedCertificate: string | null } | null;
}

export interface ReturnLocationView {
  kind: 'return';
  modifier: '=' | '';
  path: string;
  status: number;
  /** Quoted URL (3xx) or body text; null for a bare status. */
  body: string | null;
  contentType: string | null;
  accessLog: boolean;
}

export type LocationView = ProxyLocationView | ReturnLocationView;

export interface ReturnView {
  status: number;
  body: string;
}

export interface ServerView {
  /** Comment-safe description, e.g. 'app.example.com (https)'. */
  comment: string;
  listen: ListenView[];
  /** Quoted server name; null for the default servers. */
  serverName: string | null;
  tls: { certificate: string; certificateKey: string } | null;
  rejectHandshake: boolean;
  /** Addresses trusted to send the PROXY protocol header (real_ip_header proxy_protocol). */
  realIpFrom: string[];
  /** Server-level return (whole-host redirect); when set, locations is empty. */
  returnAll: ReturnView | null;
  /**
   * ssl_only behind TrustedProxies: the redirect to https, answered unless a trusted load balancer says the
   * client already used https (X-Forwarded-Proto), so a balancer that terminates TLS in front never loops.
   */
  redirectUnlessForwardedHttps?: ReturnView;
  /** Sorted by path, exact matches before prefixes of the same path. */
  locations: LocationView[];
}

export interface HttpView {
  /** Quoted temp path per kind (client_body, proxy, fastcgi, uwsgi, scgi), or null for nginx's defaults. */
  tempPaths: { kind: string; path: string }[] | null;
  serverNamesHashBucketSize: number;
  serverNamesHashMaxSize: number;
  keepaliveTimeout: string;
  /** keepalive_time (edge mode only), else null. */
  keepaliveTime: string | null;
  clientMaxBodySize: string;
  clientBodyBufferSize: string;
  clientHeaderBufferSize: string;
  largeClientHeaderBuffers: string;
  clientBodyTimeout: string;
  underscoresInHeaders: boolean;
  proxyConnectTimeout: string;
  proxySendTimeout: string;
  proxyReadTimeout: string;
  websocketTimeout: string;
  /** proxy_set_header lines: set at http level and repeated in websocket locations (which add Upgrade). */
  proxyHeaders: HeaderView[];
  /**
   * `geo $remote_addr $signalbox_trusted_proxy` entries (quoted addresses/CIDRs) from TrustedProxies:
   * clients whose X-Forwarded-* headers are kept. Empty = nobody (the headers are always the proxy's view).
   */
  trustedProxies: string[];
  /** proxy_next_upstream: the conditions on which a request is retried on another task. */
  proxyNextUpstream: string;
  logFormats: LogFormatView[];
  /** buffer: 'buffer=4k flush=1s' or null (each line written at once). */
  accessLog: { path: string; format: string; buffer: string | null } | null;
  sslProtocols: string | null;
  sslCiphers: string | null;
  /** Quoted ssl_dhparam file, or null (no DHE ciphers). */
  sslDhparam: string | null;
  /** add_header ... always; at http level so every server inherits them. */
  responseHeaders: HeaderView[];
  /** Sticky-cookie maps, then the forwarded-header maps (see trustedProxies). */
  maps: MapView[];
  /** Sorted by name. */
  upstreams: UpstreamView[];
  /** Default servers first, then one or two per virtual host (sorted by host), then redirect-only hosts. */
  servers: ServerView[];
  /** HTTPOptions, verbatim. */
  options: string[];
}

export interface StreamServerView {
  comment: string;
  listen: ListenView;
  /** Addresses trusted to send the PROXY protocol header (stream realip). */
  realIpFrom: string[];
  sslPreread: boolean;
  proxyProtocol: boolean;
  proxyPass: string;
  proxyConnectTimeout: string;
  proxyTimeout: string;
}

export interface StreamView {
  mapHashBucketSize: number;
  mapHashMaxSize: number;
  maps: MapView[];
  upstreams: UpstreamView[];
  servers: StreamServerView[];
  /** TCPOptions, verbatim. */
  options: string[];
  internalTlsPort: number;
  internalPassthroughPort: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Code-unit order: locale-independent and stable. */
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedBy<T>(items: readonly T[], ...keys: ((item: T) => string | number)[]): T[] {
  return [...items].sort((x, y) => {
    for (const key of keys) {
      const a = key(x);
      const b = key(y);
      const c = typeof a === 'number' && typeof b === 'number' ? a - b : cmp(String(a), String(b));
      if (c !== 0) return c;
    }
    return 0;
  });
}

/** JSON with sorted keys: a total, input-order-independent tie-breaker. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => cmp(a, b)))
      : v,
  );
}

function uniqueSorted(items: readonly string[]): string[] {
  return [...new Set(items)].sort(cmp);
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/**
 * Bucket size nginx needs to hash names up to `longest` chars: each element takes
 * sizeof(void*) + align(len + 2, sizeof(void*)) and a bucket ends with one more pointer
 * (ngx_hash_init), so longest + 2 alone is not enough. Power of two, at least 64.
 */
export function hashBucketSize(longest: number, perBucket = 1): number {
  const ptr = 8;
  const element = ptr + Math.ceil((longest + 2) / ptr) * ptr;
  return Math.max(64, nextPowerOfTwo(perBucket * element + ptr));
}

/**
 * Names per bucket the server-name hash is sized for. With room for one name per bucket, thousands of
 * names cannot be placed in max_size buckets without a collision, so nginx tries the last 1 000 sizes
 * one by one, warns "could not build optimal server_names_hash" and ignores the bucket size: ~1 s of
 * every config load at 10 000 services. Four per bucket fits on the first size tried.
 */
const SERVER_NAMES_PER_BUCKET = 4;
/** Below this many names the one-per-bucket size fits and is kept. */
const SERVER_NAMES_SMALL = 256;

/**
 * Groups upstreams that would render identically apart from their name (same servers, balancing,
 * health and TLS settings), e.g. the per-host upstreams of one multi-host service. Each group is
 * rendered once, under its first name; returns name → that name for the others. nginx finds an
 * upstream by a linear scan of all of them for every `upstream` and `proxy_pass`, so their number
 * weighs quadratically on `nginx -t` and every reload. Requests reach the same servers either way.
 */
function sharedUpstreams(sorted: readonly Upstream[]): { kept: Upstream[]; alias: Map<string, string> } {
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

/**
 * Merges servers that differ only in their names (the hosts of one multi-host service, same listen,
 * certificate and locations) into one block with all the names, at the first one's place: nginx picks
 * the same block for each name, and every block costs memory and load time for each module.
 */
function mergeSameServers(servers: readonly ServerView[]): ServerView[] {
  const out: ServerView[] = [];
  const byContent = new Map<string, { server: ServerView; names: string[]; comment: string }>();
  for (const s of servers) {
    if (s.serverName === null) {
      out.push(s);
      continue;
    }
    const key = JSON.stringify([s.listen, s.tls, s.rejectHandshake, s.realIpFrom, s.returnAll, s.redirectUnlessForwardedHttps ?? null, s.locations]);
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

function hashMaxSize(count: number): number {
  return Math.max(512, nextPowerOfTwo(count * 2));
}

function normalizeContextRoot(path: string): string {
  requestPath(path, 'location path');
  const trimmed = path.replace(/\/+$/, '');
  return trimmed === '' ? '/' : trimmed;
}

function secretPath(secretsDir: string, secret: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(secret) || secret === '.' || secret === '..') {
    throw new RenderError(`invalid secret name: ${JSON.stringify(secret)}`);
  }
  return quote(`${secretsDir.replace(/\/+$/, '')}/${secret}`);
}

const DEFAULT_MAIN_LOG_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
const DEFAULT_TRACE_LOG_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" ' +
  '"$http_x_forwarded_for" request_id=$request_id upstream=$upstream_addr upstream_response_time=$upstream_response_time ' +
  'request_time=$request_time';

/**
 * Log formats are operator config (config.toml) holding nginx variables, so they cannot go through
 * quote(): they are written in single quotes (the config contract forbids quotes in them; escape anyway).
 */
function logFormat(value: string, fallback: string, what: string): string {
  const v = value.trim() === '' ? fallback : value.trim();
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  return `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** 'user [group]', each quoted. */
function userDirective(value: string): string | null {
  const parts = value.trim().split(/\s+/).filter((p) => p !== '');
  if (parts.length === 0) return null;
  if (parts.length > 2) throw new RenderError(`invalid User: ${JSON.stringify(value)}`);
  return parts.map((p) => quote(p)).join(' ');
}

/** 'buffer=SIZE flush=TIME' for access_log, or null when AccessLogBuffer is 0 (a write per line). */
function accessLogBuffer(t: NginxTuning): string | null {
  const size = nginxSize(t.AccessLogBuffer ?? '0', 'AccessLogBuffer');
  if (/^0+[kKmMgG]?$/.test(size)) return null;
  return `buffer=${size} flush=${nginxTime(t.AccessLogFlush ?? '1s', 'AccessLogFlush')}`;
}

function verbatim(lines: readonly string[]): string[] {
  return lines.map((l) => l.trim()).filter((l) => l !== '');
}

function emptyOrNull(value: string): string | null {
  return value.trim() === '' ? null : value;
}

// ---------------------------------------------------------------------------------------------
// Upstreams

function sortServers(servers: readonly UpstreamServer[]): UpstreamServer[] {
  const seen = new Set<string>();
  const out: UpstreamServer[] = [];
  for (const s of sortedBy(servers, (s) => s.addr, (s) => s.port, (s) => s.service)) {
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

class UpstreamSet {
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

function serverViews(u: Upstream): UpstreamServerView[] {
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

// ---------------------------------------------------------------------------------------------
// Locations

interface LocationTable {
  add(loc: LocationView): void;
  sorted(): LocationView[];
}

/** First claim on a (modifier, path) wins: callers add redirects, then websockets, then routes. */
function locationTable(): LocationTable {
  const byKey = new Map<string, LocationView>();
  return {
    add(loc) {
      const key = `${loc.modifier} ${loc.path}`;
      if (!byKey.has(key)) byKey.set(key, loc);
    },
    sorted() {
      return sortedBy([...byKey.values()], (l) => l.path, (l) => (l.modifier === '=' ? 0 : 1));
    },
  };
}

interface UpstreamRef {
  name: string;
  empty: boolean;
  tls: Upstream['tls'];
}

interface Ctx {
  trustedCertificate: string;
  /** Upstream name → the name of the identical upstream rendered in its place (see sharedUpstreams). */
  upstreamAlias: Map<string, string>;
}

function proxyLocation(
  ctx: Ctx,
  modifier: '=' | '',
  path: string,
  up: UpstreamRef,
  uri: string,
  websocket: boolean,
): LocationView {
  const quotedPath = quote(path);
  if (up.empty) {
    return { kind: 'return', modifier, path: quotedPath, status: 503, body: null, contentType: null, accessLog: true };
  }
  const scheme = up.tls.enabled ? 'https' : 'http';
  return {
    kind: 'proxy',
    modifier,
    path: quotedPath,
    proxyPass: quote(`${scheme}://${ctx.upstreamAlias.get(up.name) ?? up.name}${uri}`),
    websocket,
    upstreamTls: up.tls.enabled
      ? { verify: up.tls.verify, trustedCertificate: up.tls.verify ? ctx.trustedCertificate : null }
      : null,
  };
}

function routeLocations(ctx: Ctx, table: LocationTable, locations: readonly Location[]): void {
  const sorted = sortedBy(locations, (l) => normalizeContextRoot(l.path), (l) => l.path, canonicalJson);
  // Websocket endpoints first. Each is a prefix, as in Interlock (/ws upgrades /ws/room and /ws?x=1);
  // an endpoint equal to the context root stays exact, so it does not take over the root's other paths
  // and still beats the `= /root` redirect of a rewritten context root.
  for (const loc of sorted) {
    const root = normalizeContextRoot(loc.path);
    const up: UpstreamRef = { name: loc.upstream.name, empty: loc.upstream.servers.length === 0, tls: loc.upstream.tls };
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
    const up: UpstreamRef = { name: loc.upstream.name, empty: loc.upstream.servers.length === 0, tls: loc.upstream.tls };
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
function unroutedPath(): LocationView {
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

// ---------------------------------------------------------------------------------------------
// Redirects

interface HostRedirects {
  /** Redirect of the whole host (source path '/' or empty). */
  whole: string | null;
  /** Source path (no trailing slash) → quoted target. */
  paths: { path: string; target: string }[];
}

function targetOf(rule: RedirectRule): string {
  let target: URL;
  try {
    target = new URL(rule.target);
  } catch {
    throw new RenderError(`invalid redirect target: ${JSON.stringify(rule.target)}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new RenderError(`invalid redirect target: ${JSON.stringify(rule.target)}`);
  }
  // $request_uri starts with '/': drop trailing slashes so the result has a single one.
  return quote(rule.target.replace(/\/+$/, ''), nginxVar('request_uri'));
}

function groupRedirects(rules: readonly RedirectRule[]): Map<string, HostRedirects> {
  const out = new Map<string, HostRedirects>();
  for (const rule of sortedBy(rules, (r) => r.sourceHost, (r) => r.source, (r) => r.target)) {
    const host = hostName(rule.sourceHost);
    let source: URL;
    try {
      source = new URL(rule.source);
    } catch {
      throw new RenderError(`invalid redirect source: ${JSON.stringify(rule.source)}`);
    }
    const path = source.pathname.replace(/\/+$/, '');
    const target = targetOf(rule);
    let entry = out.get(host);
    if (entry === undefined) {
      entry = { whole: null, paths: [] };
      out.set(host, entry);
    }
    if (path === '') {
      entry.whole ??= target;
    } else if (!entry.paths.some((p) => p.path === path)) {
      requestPath(path, 'redirect source path');
      entry.paths.push({ path, target });
    }
  }
  return out;
}

function addRedirectLocations(table: LocationTable, redirects: HostRedirects | undefined): void {
  for (const { path, target } of redirects?.paths ?? []) {
    for (const [modifier, p] of [['=', path], ['', `${path}/`]] as const) {
      table.add({ kind: 'return', modifier, path: quote(p), status: 302, body: target, contentType: null, accessLog: true });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Ports

function pickInternalPorts(ext: ExtensionConfig, opts: RenderOptions): { tls: number; hop: number } {
  const used = new Set([ext.TargetPort, ext.TargetSSLPort]);
  const pick = (wanted: number | undefined, start: number, what: string): number => {
    if (wanted !== undefined) {
      port(wanted, what);
      if (used.has(wanted)) throw new RenderError(`${what} ${wanted} collides with another listening port`);
      used.add(wanted);
      return wanted;
    }
    let p = start;
    while (used.has(p)) p++;
    used.add(p);
    return port(p, what);
  };
  const tls = pick(opts.internalTlsPort, DEFAULT_INTERNAL_TLS_PORT, 'internal TLS port');
  const hop = pick(opts.internalPassthroughPort, tls + 1, 'internal passthrough port');
  return { tls, hop };
}

// ---------------------------------------------------------------------------------------------
// Builder

function mainView(t: NginxTuning, loadModules: string[]): MainView {
  if (!Number.isInteger(t.WorkerProcesses) || t.WorkerProcesses < 0) {
    throw new RenderError(`invalid WorkerProcesses: ${t.WorkerProcesses}`);
  }
  if (!Number.isInteger(t.RLimitNoFile) || t.RLimitNoFile < 0) {
    throw new RenderError(`invalid RLimitNoFile: ${t.RLimitNoFile}`);
  }
  const shutdown = emptyOrNull(t.WorkerShutdownTimeout);
  return {
    loadModules,
    user: userDirective(t.User),
    workerProcesses: t.WorkerProcesses === 0 ? 'auto' : String(t.WorkerProcesses),
    workerRlimitNofile: t.RLimitNoFile === 0 ? null : t.RLimitNoFile,
    pid: emptyOrNull(t.PidPath) === null ? null : quote(t.PidPath.trim()),
    // nginx writes `stderr` to fd 2 directly; opening /dev/stderr fails when fd 2 is a socket (Node's pipes).
    errorLog: emptyOrNull(t.ErrorLogPath) === null ? null : t.ErrorLogPath.trim() === '/dev/stderr' ? 'stderr' : quote(t.ErrorLogPath.trim()),
    workerShutdownTimeout: shutdown === null ? null : nginxTime(shutdown, 'WorkerShutdownTimeout'),
    options: verbatim(t.GlobalOptions),
  };
}

function sslProtocols(value: string): string | null {
  const v = value.trim();
  if (v === '') return null;
  const parts = v.split(/\s+/);
  for (const p of parts) {
    if (!/^[A-Za-z0-9.]+$/.test(p)) throw new RenderError(`invalid SSLProtocols: ${JSON.stringify(value)}`);
  }
  return parts.join(' ');
}

export function buildViewModel(model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions): ViewModel {
  const t = ext.Config;
  const ctx: Ctx = {
    trustedCertificate: quote(opts.upstreamTrustedCertificate ?? DEFAULT_TRUSTED_CERTIFICATE),
    upstreamAlias: new Map(),
  };
  const httpPort = port(ext.TargetPort, 'TargetPort');
  const sslPort = port(ext.TargetSSLPort, 'TargetSSLPort');
  if (httpPort === sslPort) throw new RenderError(`TargetPort and TargetSSLPort are both ${httpPort}`);
  const zoneKb = Math.max(MIN_ZONE_KB, t.UpstreamZoneSize > 0 ? Math.floor(t.UpstreamZoneSize) : 64);

  // Defensive copies, sorted and de-duplicated by key (first wins).
  const vhosts: VirtualHost[] = [];
  for (const vh of sortedBy(model.virtualHosts, (v) => v.host, canonicalJson)) {
    hostName(vh.host);
    if (vhosts.length === 0 || vhosts[vhosts.length - 1]!.host !== vh.host) vhosts.push(vh);
  }
  const passthrough: PassthroughHost[] = [];
  for (const p of sortedBy(model.passthrough, (x) => x.host, canonicalJson)) {
    hostName(p.host);
    if (passthrough.length === 0 || passthrough[passthrough.length - 1]!.host !== p.host) passthrough.push(p);
  }
  const redirects = groupRedirects(model.redirects);

  // ---- upstreams (http)
  const httpUpstreams = new UpstreamSet();
  for (const vh of vhosts) for (const loc of vh.locations) httpUpstreams.add(loc.upstream);
  if (model.defaultBackend) httpUpstreams.add(model.defaultBackend);

  const maps: MapView[] = [];
  const upstreams: UpstreamView[] = [];
  // One map per cookie name: upstreams sticky on the same cookie share its variable.
  const stickyVariables = new Map<string, string>();
  const shared = sharedUpstreams(httpUpstreams.sorted());
  for (const [from, to] of shared.alias) ctx.upstreamAlias.set(from, to);
  const httpSorted = shared.kept;
  for (const [index, u] of httpSorted.entries()) {
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
        // Requests without the cookie are spread by request id instead of all hashing to one server.
        if (/^[A-Za-z0-9_]+$/.test(cookie)) {
          maps.push({
            source: `$cookie_${cookie}`,
            variable,
            hostnames: false,
            entries: [{ key: '""', value: '$request_id' }],
            default: `$cookie_${cookie}`,
          });
        } else {
          maps.push({
            source: '$http_cookie',
            variable,
            hostnames: false,
            entries: [{ key: quote(`~(^|;\\s*)${regexEscape(cookie)}=([^;]+)`), value: '$2' }],
            default: '$request_id',
          });
        }
      }
      balance = `hash ${variable} consistent`;
    }
    upstreams.push({
      name: u.name,
      zone: sharedZone(UPSTREAM_ZONES.http, index, httpSorted.length, zoneKb),
      balance,
      servers: serverViews(u),
      keepalive: empty ? null : KEEPALIVE_CONNECTIONS,
      empty,
      services: comment(uniqueSorted(u.services).join(', ')),
    });
  }

  maps.push(...forwardedHeaderMaps());

  // ---- listeners
  const usePassthrough = passthrough.length > 0;
  const internal = usePassthrough ? pickInternalPorts(ext, opts) : null;
  // Behind the edge, every public listener receives a PROXY protocol header with the client address.
  const edge = ext.ProxyEdge;
  const edgeTrusted = edge ? [...(opts.edgeTrustedFrom ?? [])] : [];
  const plainListen: ListenView = { address: String(httpPort), ssl: false, proxyProtocol: edge, defaultServer: false };
  const sslListen: ListenView = internal
    ? { address: `${LOOPBACK}:${internal.tls}`, ssl: true, proxyProtocol: true, defaultServer: false }
    : { address: String(sslPort), ssl: true, proxyProtocol: edge, defaultServer: false };
  const realIpFrom = internal ? [LOOPBACK] : edgeTrusted;
  const plainRealIpFrom = edgeTrusted;

  // ---- servers
  const servers: ServerView[] = [];
  const healthLocation: LocationView = {
    kind: 'return',
    modifier: '=',
    path: quote(HEALTH_PATH),
    status: 200,
    body: '"ok\\n"',
    contentType: 'text/plain',
    accessLog: false,
  };
  const defaultTable = locationTable();
  defaultTable.add(healthLocation);
  if (model.defaultBackend) {
    const db = model.defaultBackend;
    defaultTable.add(
      proxyLocation(ctx, '', '/', { name: db.name, empty: db.servers.length === 0, tls: db.tls }, '', false),
    );
  } else {
    defaultTable.add({
      kind: 'return',
      modifier: '',
      path: quote('/'),
      status: 503,
      body: '"signalbox: no service is routed for this host\\n"',
      contentType: 'text/plain',
      accessLog: true,
    });
  }
  servers.push({
    comment: model.defaultBackend ? 'default server (http): default backend' : 'default server (http): unknown hosts',
    listen: [{ ...plainListen, defaultServer: true }],
    serverName: null,
    tls: null,
    rejectHandshake: false,
    realIpFrom: plainRealIpFrom,
    returnAll: null,
    locations: defaultTable.sorted(),
  });
  // HTTPS for unknown hosts goes to the default backend too when it has a certificate to offer: that of
  // a host the default-backend service itself serves over TLS (its ssl_cert/ssl_key labels).
  const defaultCert = model.defaultBackend ? defaultBackendCertificate(model.defaultBackend, vhosts) : undefined;
  if (model.defaultBackend && defaultCert) {
    servers.push({
      comment: `default server (https): default backend, with the certificate of ${comment(defaultCert.host)}`,
      listen: [{ ...sslListen, defaultServer: true }],
      serverName: null,
      tls: { certificate: secretPath(opts.secretsDir, defaultCert.tls.certSecret), certificateKey: secretPath(opts.secretsDir, defaultCert.tls.keySecret) },
      rejectHandshake: false,
      realIpFrom,
      returnAll: null,
      locations: defaultTable.sorted(),
    });
  } else {
    servers.push({
      comment: 'default server (https): unknown hosts, TLS handshake rejected',
      listen: [{ ...sslListen, defaultServer: true }],
      serverName: null,
      tls: null,
      rejectHandshake: true,
      realIpFrom,
      returnAll: null,
      locations: [],
    });
  }

  // ssl_only sends clients to SSLRedirectPort (e.g. 443 on a load balancer in front), else PublishedSSLPort.
  const redirectPort = (ext.SSLRedirectPort ?? 0) > 0 ? port(ext.SSLRedirectPort, 'SSLRedirectPort') : ext.PublishedSSLPort;
  const httpsPortSuffix = redirectPort > 0 && redirectPort !== 443 ? `:${port(redirectPort, 'PublishedSSLPort')}` : '';
  const toHttps = quote('https://', nginxVar('host'), `${httpsPortSuffix}`, nginxVar('request_uri'));
  const behindTrustedProxies = (t.TrustedProxies ?? []).length > 0;

  for (const vh of vhosts) {
    const hostRedirects = redirects.get(vh.host);
    const whole: ReturnView | null = hostRedirects?.whole ? { status: 302, body: hostRedirects.whole } : null;

    // Plain HTTP.
    const plain = locationTable();
    let redirectUnlessForwardedHttps: ReturnView | undefined;
    if (!whole) {
      addRedirectLocations(plain, hostRedirects);
      if (vh.sslOnly && !behindTrustedProxies) {
        plain.add({ kind: 'return', modifier: '', path: quote('/'), status: SSL_ONLY_STATUS, body: toHttps, contentType: null, accessLog: true });
      } else {
        if (vh.sslOnly) redirectUnlessForwardedHttps = { status: SSL_ONLY_STATUS, body: toHttps };
        routeLocations(ctx, plain, vh.locations);
        plain.add(unroutedPath());
      }
    }
    servers.push({
      comment: `${comment(vh.host)} (http)${vh.sslOnly ? ': redirects to https' : ''}`,
      listen: [plainListen],
      serverName: quote(vh.host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: plainRealIpFrom,
      returnAll: whole,
      ...(redirectUnlessForwardedHttps ? { redirectUnlessForwardedHttps } : {}),
      locations: whole ? [] : plain.sorted(),
    });

    // HTTPS (terminated here).
    if (vh.tls) {
      const secure = locationTable();
      if (!whole) {
        addRedirectLocations(secure, hostRedirects);
        routeLocations(ctx, secure, vh.locations);
        secure.add(unroutedPath());
      }
      servers.push({
        comment: `${comment(vh.host)} (https)`,
        listen: [sslListen],
        serverName: quote(vh.host),
        tls: {
          certificate: secretPath(opts.secretsDir, vh.tls.certSecret),
          certificateKey: secretPath(opts.secretsDir, vh.tls.keySecret),
        },
        rejectHandshake: false,
        realIpFrom,
        returnAll: whole,
        locations: whole ? [] : secure.sorted(),
      });
    }
  }

  // ssl_only on a passed-through host: plain HTTP is redirected to https like a terminated host's
  // (redirect labels for the host still come first).
  const vhostNames = new Set(vhosts.map((v) => v.host));
  const httpsOnlyPassthrough = passthrough.filter((p) => p.sslOnly === true && !vhostNames.has(p.host)).map((p) => p.host);
  for (const host of httpsOnlyPassthrough) {
    const r = redirects.get(host);
    const table = locationTable();
    if (!r?.whole) {
      addRedirectLocations(table, r);
      table.add({ kind: 'return', modifier: '', path: quote('/'), status: SSL_ONLY_STATUS, body: toHttps, contentType: null, accessLog: true });
    }
    servers.push({
      comment: `${comment(host)} (http): passed through on the TLS port, redirects to https`,
      listen: [plainListen],
      serverName: quote(host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: plainRealIpFrom,
      returnAll: r?.whole ? { status: 302, body: r.whole } : null,
      locations: r?.whole ? [] : table.sorted(),
    });
  }

  // Redirect sources that are not virtual hosts get a plain HTTP server of their own.
  for (const host of [...redirects.keys()].sort(cmp)) {
    if (vhostNames.has(host) || httpsOnlyPassthrough.includes(host)) continue;
    const r = redirects.get(host)!;
    const table = locationTable();
    if (!r.whole) {
      addRedirectLocations(table, r);
      table.add({ kind: 'return', modifier: '', path: quote('/'), status: 404, body: null, contentType: null, accessLog: true });
    }
    servers.push({
      comment: `${comment(host)} (http): redirects only`,
      listen: [plainListen],
      serverName: quote(host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: plainRealIpFrom,
      returnAll: r.whole ? { status: 302, body: r.whole } : null,
      locations: r.whole ? [] : table.sorted(),
    });
  }

  // Hosts whose service is not routed here (rejected, excluded, passed through): the proxy answers them
  // itself, so another owner's default backend or wildcard never receives their requests.
  const held = heldServerNames(model, vhostNames, redirects, httpsOnlyPassthrough);
  for (const host of held) {
    servers.push({
      comment: `${comment(host)} (http): held, its service is not routed here`,
      listen: [plainListen],
      serverName: quote(host),
      tls: null,
      rejectHandshake: false,
      realIpFrom: [],
      returnAll: { status: 503, body: '"signalbox: the service of this host is not routed\\n"' },
      locations: [],
    });
    servers.push({
      comment: `${comment(host)} (https): held, TLS handshake rejected`,
      listen: [sslListen],
      serverName: quote(host),
      tls: null,
      rejectHandshake: true,
      realIpFrom,
      returnAll: null,
      locations: [],
    });
  }
  const mergedServers = mergeSameServers(servers);

  // ---- hash sizes
  const serverNames = [...vhostNames, ...redirects.keys(), ...httpsOnlyPassthrough.filter((h) => !redirects.has(h)), ...held];
  const longest = serverNames.reduce((m, n) => Math.max(m, n.length), 0);
  const bucket = t.ServerNamesHashBucketSize > 0 ? positiveInt(t.ServerNamesHashBucketSize, 'ServerNamesHashBucketSize') : hashBucketSize(longest, serverNames.length > SERVER_NAMES_SMALL ? SERVER_NAMES_PER_BUCKET : 1);

  // ---- response headers
  const responseHeaders: HeaderView[] = [{ name: 'x-request-id', value: '$request_id' }];
  if (!t.HideInfoHeaders) {
    responseHeaders.push(
      { name: 'x-proxy-id', value: opts.proxyId === undefined ? '$hostname' : quote(opts.proxyId) },
      { name: 'x-server-info', value: quote('signalbox') },
      { name: 'x-upstream-addr', value: '$upstream_addr' },
      // $upstream_response_time is only known once the response is complete, so in a header nginx
      // (≥ 1.19) writes '-'; the time until the upstream's response header arrived is what exists then.
      { name: 'x-upstream-response-time', value: '$upstream_header_time' },
    );
  }

  const accessLogPath = emptyOrNull(t.AccessLogPath);
  const dhparam = emptyOrNull(t.SSLDefaultDHParamPath)?.trim() ?? opts.dhparamPath ?? null;
  const http: HttpView = {
    tempPaths: opts.tempDir === undefined ? null : ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => ({ kind, path: quote(`${opts.tempDir}/${kind}`) })),
    serverNamesHashBucketSize: bucket,
    serverNamesHashMaxSize: hashMaxSize(serverNames.length),
    keepaliveTimeout: nginxTimes(t.KeepaliveTimeout, 'KeepaliveTimeout'),
    keepaliveTime: edge ? EDGE_KEEPALIVE_TIME : null,
    clientMaxBodySize: nginxSize(t.ClientMaxBodySize, 'ClientMaxBodySize'),
    clientBodyBufferSize: nginxSize(t.ClientBodyBufferSize, 'ClientBodyBufferSize'),
    clientHeaderBufferSize: nginxSize(t.ClientHeaderBufferSize, 'ClientHeaderBufferSize'),
    largeClientHeaderBuffers: nginxBuffers(t.LargeClientHeaderBuffers, 'LargeClientHeaderBuffers'),
    clientBodyTimeout: nginxTime(t.ClientBodyTimeout, 'ClientBodyTimeout'),
    underscoresInHeaders: t.UnderscoresInHeaders,
    proxyConnectTimeout: `${positiveInt(t.ConnectTimeout, 'ConnectTimeout')}s`,
    proxySendTimeout: `${positiveInt(t.SendTimeout, 'SendTimeout')}s`,
    proxyReadTimeout: `${positiveInt(t.ReadTimeout, 'ReadTimeout')}s`,
    websocketTimeout: WEBSOCKET_TIMEOUT,
    // The Host the client sent (with its port), as Interlock passed it; X-Forwarded-* from the maps below.
    proxyHeaders: [
      { name: 'Host', value: '$http_host' },
      { name: 'X-Real-IP', value: '$remote_addr' },
      { name: 'X-Forwarded-For', value: FORWARDED_FOR },
      { name: 'X-Forwarded-Proto', value: FORWARDED_PROTO },
      { name: 'X-Forwarded-Host', value: FORWARDED_HOST },
      { name: 'X-Request-ID', value: '$request_id' },
    ],
    trustedProxies: trustedProxies(t.TrustedProxies ?? []),
    proxyNextUpstream: PROXY_NEXT_UPSTREAM,
    logFormats: [
      { name: 'main', format: logFormat(t.MainLogFormat, DEFAULT_MAIN_LOG_FORMAT, 'MainLogFormat') },
      { name: 'trace', format: logFormat(t.TraceLogFormat, DEFAULT_TRACE_LOG_FORMAT, 'TraceLogFormat') },
    ],
    accessLog: accessLogPath === null ? null : { path: quote(accessLogPath.trim()), format: 'main', buffer: accessLogBuffer(t) },
    sslProtocols: sslProtocols(t.SSLProtocols),
    sslCiphers: emptyOrNull(t.SSLCiphers) === null ? null : quote(t.SSLCiphers.trim()),
    sslDhparam: dhparam === null ? null : quote(dhparam),
    responseHeaders,
    maps,
    upstreams,
    servers: mergedServers,
    options: verbatim(t.HTTPOptions),
  };

  // ---- stream (TLS passthrough)
  let stream: StreamView | null = null;
  if (internal) {
    const streamUpstreams = new UpstreamSet();
    for (const p of passthrough) streamUpstreams.add(p.upstream);
    const streamSorted = streamUpstreams.sorted();
    const views: UpstreamView[] = streamSorted.map((u, index) => {
      const empty = u.servers.length === 0;
      return {
        name: u.name,
        // Shared memory zones are global: the stream zone has a name of its own.
        zone: sharedZone(UPSTREAM_ZONES.stream, index, streamSorted.length, zoneKb),
        // No cookies at L4: both sticky modes pin the client address (carried by the PROXY header).
        balance: !empty && u.balance !== 'round_robin' ? 'hash $proxy_protocol_addr consistent' : null,
        servers: serverViews(u),
        keepalive: null,
        empty,
        services: comment(uniqueSorted(u.services).join(', ')),
      };
    });
    const internalUpstream = (name: string, address: string, down: boolean, why: string): UpstreamView => ({
      name,
      zone: null,
      balance: null,
      servers: [{ address, maxFails: null, failTimeout: null, down, comment: why }],
      keepalive: null,
      empty: false,
      services: '',
    });
    views.push(
      internalUpstream(INTERNAL_UPSTREAMS.terminate, `${LOOPBACK}:${internal.tls}`, false, 'https servers of the http block'),
      internalUpstream(INTERNAL_UPSTREAMS.hop, `${LOOPBACK}:${internal.hop}`, false, 'passthrough hop below'),
      internalUpstream(INTERNAL_UPSTREAMS.reject, `${LOOPBACK}:1`, true, 'never reached: closes the connection'),
    );
    const shielded = shieldedFromPassthroughWildcards(passthrough, [...vhostNames, ...held, ...redirects.keys()]);
    const ptLongest = [...passthrough.map((p) => p.host), ...shielded].reduce((m, h) => Math.max(m, h.length), 0);
    const connect = `${positiveInt(t.ConnectTimeout, 'ConnectTimeout')}s`;
    const idle = `${positiveInt(t.ReadTimeout, 'ReadTimeout')}s`;
    stream = {
      mapHashBucketSize: hashBucketSize(ptLongest),
      mapHashMaxSize: hashMaxSize(passthrough.length + shielded.length),
      maps: [
        {
          source: '$ssl_preread_server_name',
          variable: '$signalbox_tls_route',
          hostnames: true,
          entries: [
            ...passthrough.map((p) => ({ key: mapKey(p.host), value: INTERNAL_UPSTREAMS.hop })),
            // Exact names win over wildcards: hosts served here never reach another owner's passthrough wildcard.
            ...shielded.map((h) => ({ key: mapKey(h), value: INTERNAL_UPSTREAMS.terminate })),
          ],
          default: INTERNAL_UPSTREAMS.terminate,
        },
        {
          source: '$ssl_preread_server_name',
          variable: '$signalbox_passthrough',
          hostnames: true,
          entries: passthrough.map((p) => ({ key: mapKey(p.host), value: p.upstream.name })),
          default: INTERNAL_UPSTREAMS.reject,
        },
      ],
      upstreams: views,
      servers: [
        {
          comment: 'public TLS port: route by SNI, PROXY protocol carries the client address',
          listen: { address: String(sslPort), ssl: false, proxyProtocol: edge, defaultServer: false },
          realIpFrom: edgeTrusted,
          sslPreread: true,
          proxyProtocol: true,
          proxyPass: '$signalbox_tls_route',
          proxyConnectTimeout: connect,
          proxyTimeout: idle,
        },
        {
          comment: 'passthrough hop: strips the PROXY header, forwards the TLS stream untouched',
          listen: { address: `${LOOPBACK}:${internal.hop}`, ssl: false, proxyProtocol: true, defaultServer: false },
          realIpFrom: [],
          sslPreread: true,
          proxyProtocol: false,
          proxyPass: '$signalbox_passthrough',
          proxyConnectTimeout: connect,
          proxyTimeout: idle,
        },
      ],
      options: verbatim(t.TCPOptions),
      internalTlsPort: internal.tls,
      internalPassthroughPort: internal.hop,
    };
  }

  const loadModules = stream && opts.streamModulePath ? [quote(opts.streamModulePath)] : [];

  return {
    cluster: model.cluster === '' ? '(default)' : comment(model.cluster),
    main: mainView(t, loadModules),
    events: { workerConnections: positiveInt(t.MaxConnections, 'MaxConnections') },
    http,
    stream,
  };
}

/** model.heldHosts that have no server of their own yet, valid and sorted. */
function heldServerNames(model: ClusterModel, vhostNames: ReadonlySet<string>, redirects: ReadonlyMap<string, unknown>, httpsOnly: readonly string[]): string[] {
  const own = new Set(httpsOnly);
  const out = new Set<string>();
  for (const h of model.heldHosts ?? []) {
    hostName(h);
    if (!vhostNames.has(h) && !redirects.has(h) && !own.has(h)) out.add(h);
  }
  return [...out].sort(cmp);
}

/** Hosts served (or held) here that a passthrough wildcard would otherwise cover in the SNI map. */
function shieldedFromPassthroughWildcards(passthrough: readonly PassthroughHost[], hosts: readonly string[]): string[] {
  const wildcards = new Set(passthrough.filter((p) => p.host.startsWith('*.')).map((p) => p.host));
  if (wildcards.size === 0) return [];
  const passed = new Set(passthrough.map((p) => p.host));
  const out = new Set<string>();
  for (const h of hosts) {
    if (passed.has(h)) continue;
    const labels = h.split('.');
    for (let i = 1; i < labels.length; i++) {
      if (wildcards.has(`*.${labels.slice(i).join('.')}`)) {
        out.add(h);
        break;
      }
    }
  }
  return [...out].sort(cmp);
}
