// The http block's own settings from config.toml: timeouts and sizes, forwarded headers (trusted only
// from TrustedProxies), response headers, log formats and the access log; and the block's assembly.
import { isIP } from 'node:net';
import type { ExtensionConfig, NginxTuning } from '@signalbox/model';
import { EDGE_CLIENT_ADDRESS_HEADER, PROXY_ID_HEADER, REQUEST_ID_HEADER, SERVER_INFO_HEADER } from '@signalbox/protocol';
import { RenderError, nginxBuffers, nginxSize, nginxTime, nginxTimes, nginxVar, positiveInt, quote, serverAddress } from './quote.js';
import { emptyOrNull, verbatim } from './config-values.js';
import { hashMaxSize, serverNamesHashBucketSize } from './hash-sizes.js';
import { uniqueSorted } from './ordering.js';
import { sslCiphers, sslDhparam, sslProtocols } from './tls.js';
import type { HeaderView, HttpView, MapView, RenderOptions, ServerView, UpstreamView } from './view-types.js';

const WEBSOCKET_TIMEOUT = '3600s';
/**
 * Behind the edge: a busy keep-alive connection older than this gets `Connection: close` on its next
 * response, so a stopping proxy (which waits a little longer, see the proxy agent's drain) loses no
 * request; the client reconnects through the edge to another task.
 */
export const EDGE_KEEPALIVE_TIME = '5s';
/**
 * Retry on another task as Interlock did: on connection errors, timeouts and 502/503/504. nginx never
 * retries a non-idempotent request (POST, LOCK, PATCH) once it was sent, so only idempotent ones are.
 */
const PROXY_NEXT_UPSTREAM = 'error timeout http_502 http_503 http_504';
const FORWARDED_FOR = '$signalbox_forwarded_for';
const FORWARDED_PROTO = '$signalbox_forwarded_proto';
const FORWARDED_HOST = '$signalbox_forwarded_host';
const TRUSTED_PROXY = '$signalbox_trusted_proxy';
/** The request's scheme as the client used it, behind the TLS front. */
const FRONT_SCHEME = '$signalbox_scheme';

/**
 * X-Forwarded-* as a trusted load balancer set them, else the proxy's own view. $signalbox_trusted_proxy
 * is 1 for the TrustedProxies addresses (geo block in http.njk).
 */
export function forwardedHeaderMaps(tlsFront = false): MapView[] {
  const keep = (header: string, variable: string, own: string): MapView => ({
    source: quote(nginxVar(TRUSTED_PROXY.slice(1)), ':', nginxVar(`http_${header}`)),
    variable,
    hostnames: false,
    // The greedy .+ takes the whole header, so no end anchor (a '$' cannot be quoted) is needed.
    entries: [{ key: quote('~^1:(?<signalbox_fwd>.+)'), value: '$signalbox_fwd' }],
    default: own,
  });
  // Behind the TLS front the HTTPS servers get plain HTTP on a unix socket ($scheme is http there):
  // what arrives on a unix socket came over TLS (the plain HTTP servers listen on a port).
  const frontScheme: MapView[] = tlsFront ? [{ source: '$server_addr', variable: FRONT_SCHEME, hostnames: false, entries: [{ key: quote('~^unix:'), value: 'https' }], default: '$scheme' }] : [];
  return [
    ...frontScheme,
    { source: TRUSTED_PROXY, variable: FORWARDED_FOR, hostnames: false, entries: [{ key: '1', value: '$proxy_add_x_forwarded_for' }], default: '$remote_addr' },
    keep('x_forwarded_host', FORWARDED_HOST, '$http_host'),
    keep('x_forwarded_proto', FORWARDED_PROTO, tlsFront ? FRONT_SCHEME : '$scheme'),
  ];
}

/** TrustedProxies as geo keys: each a valid IPv4/IPv6 address or CIDR, quoted. */
export function trustedProxies(list: readonly string[]): string[] {
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

const DEFAULT_MAIN_LOG_FORMAT = '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"';
const DEFAULT_TRACE_LOG_FORMAT =
  '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" ' +
  '"$http_x_forwarded_for" request_id=$request_id upstream=$upstream_addr upstream_response_time=$upstream_response_time ' +
  'request_time=$request_time';

/**
 * Log formats are operator config (config.toml) holding nginx variables, so they cannot go through
 * quote(): they are written in single quotes (the config contract forbids quotes in them; escape anyway).
 */
export function logFormat(value: string, fallback: string, what: string): string {
  const v = value.trim() === '' ? fallback : value.trim();
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(v)) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  return `'${v.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/** 'buffer=SIZE flush=TIME' for access_log, or null when AccessLogBuffer is 0 (a write per line). */
export function accessLogBuffer(t: NginxTuning): string | null {
  const size = nginxSize(t.AccessLogBuffer ?? '0', 'AccessLogBuffer');
  if (/^0+[kKmMgG]?$/.test(size)) return null;
  return `buffer=${size} flush=${nginxTime(t.AccessLogFlush ?? '1s', 'AccessLogFlush')}`;
}

/** The response headers added to every answer; HideInfoHeaders leaves out those that describe the proxy. */
export function responseHeaders(t: NginxTuning, proxyId: string | undefined): HeaderView[] {
  const headers: HeaderView[] = [{ name: REQUEST_ID_HEADER, value: '$request_id' }];
  if (!t.HideInfoHeaders) {
    headers.push(
      { name: PROXY_ID_HEADER, value: proxyId === undefined ? '$hostname' : quote(proxyId) },
      { name: SERVER_INFO_HEADER, value: quote('signalbox') },
      { name: 'x-upstream-addr', value: '$upstream_addr' },
      // $upstream_response_time is only known once the response is complete, so in a header nginx
      // (≥ 1.19) writes '-'; the time until the upstream's response header arrived is what exists then.
      { name: 'x-upstream-response-time', value: '$upstream_header_time' },
    );
  }
  return headers;
}

/**
 * The Host the client sent (with its port), as Interlock passed it; X-Forwarded-* from forwardedHeaderMaps.
 * Behind the edge, the edge's client address header is consumed here (realip) and never reaches an app.
 */
export function proxyHeaders(edge = false): HeaderView[] {
  const headers: HeaderView[] = [
    { name: 'Host', value: '$http_host' },
    { name: 'X-Real-IP', value: '$remote_addr' },
    { name: 'X-Forwarded-For', value: FORWARDED_FOR },
    { name: 'X-Forwarded-Proto', value: FORWARDED_PROTO },
    { name: 'X-Forwarded-Host', value: FORWARDED_HOST },
    { name: 'X-Request-ID', value: '$request_id' },
  ];
  if (edge) headers.push({ name: EDGE_CLIENT_ADDRESS_HEADER, value: '""' });
  return headers;
}

export interface HttpBlockParts {
  maps: MapView[];
  /** resolver arguments (ACME challenges reach the extension by its service name); absent = none. */
  resolver?: string;
  upstreams: UpstreamView[];
  servers: ServerView[];
  /** Every server_name, for the hash sizes. */
  serverNames: readonly string[];
  /** ProxyEdge: the routing proxy sits behind the edge. */
  edge?: boolean;
  /** Host names keying the TLS front's certificate map (behind the edge), for the map hash sizes. */
  mapKeys?: readonly string[];
}

/** The http block: config.toml's settings around the maps, upstreams and servers built elsewhere. */
export function httpView(t: NginxTuning, opts: RenderOptions, parts: HttpBlockParts): HttpView {
  const bucket = serverNamesHashBucketSize(t.ServerNamesHashBucketSize, parts.serverNames);
  const headers = responseHeaders(t, opts.proxyId);
  const accessLogPath = emptyOrNull(t.AccessLogPath);
  return {
    tempPaths: opts.tempDir === undefined ? null : ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => ({ kind, path: quote(`${opts.tempDir}/${kind}`) })),
    serverNamesHashBucketSize: bucket,
    serverNamesHashMaxSize: hashMaxSize(parts.serverNames.length),
    // The TLS front's certificate map is keyed by host names, as long and as many as the server names.
    mapHashBucketSize: parts.mapKeys ? serverNamesHashBucketSize(0, parts.mapKeys) : null,
    mapHashMaxSize: parts.mapKeys ? hashMaxSize(parts.mapKeys.length) : null,
    keepaliveTimeout: nginxTimes(t.KeepaliveTimeout, 'KeepaliveTimeout'),
    keepaliveTime: parts.edge ? EDGE_KEEPALIVE_TIME : null,
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
    proxyHeaders: proxyHeaders(parts.edge ?? false),
    trustedProxies: trustedProxies(t.TrustedProxies ?? []),
    proxyNextUpstream: PROXY_NEXT_UPSTREAM,
    logFormats: [
      { name: 'main', format: logFormat(t.MainLogFormat, DEFAULT_MAIN_LOG_FORMAT, 'MainLogFormat') },
      { name: 'trace', format: logFormat(t.TraceLogFormat, DEFAULT_TRACE_LOG_FORMAT, 'TraceLogFormat') },
    ],
    // nginx refuses buffer= for syslog targets (each line is one datagram).
    accessLog: accessLogPath === null ? null : { path: quote(accessLogPath.trim()), format: 'main', buffer: accessLogPath.trim().startsWith('syslog:') ? null : accessLogBuffer(t) },
    sslProtocols: sslProtocols(t.SSLProtocols),
    sslCiphers: sslCiphers(t.SSLCiphers),
    sslDhparam: sslDhparam(t, opts),
    responseHeaders: headers,
    maps: parts.maps,
    ...(parts.resolver !== undefined ? { resolver: parts.resolver } : {}),
    upstreams: parts.upstreams,
    servers: parts.servers,
    options: verbatim(t.HTTPOptions),
  };
}

/** Docker's embedded DNS, which resolves the extension's service name on the control network. */
export const DOCKER_DNS_RESOLVER = '127.0.0.11 valid=10s ipv6=off';

/** The extension's URL as a variable, so nginx resolves it per request (nginx -t needs no DNS). */
export function acmeChallengeMap(ext: Pick<ExtensionConfig, 'ServiceName'>, opts: RenderOptions): MapView {
  const target = `http://${serverAddress(ext.ServiceName, opts.acmeChallengePort ?? 8081)}`;
  return { source: '$host', variable: '$signalbox_acme_challenge', hostnames: false, entries: [], default: quote(target) };
}
