// Listening ports: the public HTTP and HTTPS ports, and with TLS passthrough the loopback ports the
// terminating HTTPS servers and the passthrough hop move to (the public TLS port then belongs to the
// stream block).
import type { ExtensionConfig } from '@signalbox/model';
import { EDGE_CLIENT_ADDRESS_HEADER, RELAY_TLS_PORT, TLS_FRONT_SOCKET, TLS_REQUESTS_SOCKET } from '@signalbox/protocol';
import { RenderError, port } from './quote.js';
import { LOOPBACK } from './upstreams.js';
import type { ListenView, RenderOptions } from './view-types.js';

const DEFAULT_INTERNAL_TLS_PORT = 10443;

export interface PublicPorts {
  http: number;
  ssl: number;
}

/** TargetPort and TargetSSLPort, valid and distinct. */
export function publicPorts(ext: ExtensionConfig): PublicPorts {
  const http = port(ext.TargetPort, 'TargetPort');
  const ssl = port(ext.TargetSSLPort, 'TargetSSLPort');
  if (http === ssl) throw new RenderError(`TargetPort and TargetSSLPort are both ${http}`);
  // Behind the edge the routing tasks' stream block listens on the relay port too.
  if (ext.ProxyEdge && (http === RELAY_TLS_PORT || ssl === RELAY_TLS_PORT)) {
    throw new RenderError(`${http === RELAY_TLS_PORT ? 'TargetPort' : 'TargetSSLPort'} ${RELAY_TLS_PORT} is the routing proxies' relay port behind the edge (ProxyEdge); choose another`);
  }
  return { http, ssl };
}

export interface InternalPorts {
  /** Loopback port of the terminating HTTPS servers. */
  tls: number;
  /** Loopback port of the stream hop that forwards passthrough connections. */
  hop: number;
}

/** The options' ports if set (they must not collide), else the first free ones from 10443. */
export function pickInternalPorts(ext: ExtensionConfig, opts: RenderOptions): InternalPorts {
  const used = new Set([ext.TargetPort, ext.TargetSSLPort, ...(ext.ProxyEdge ? [RELAY_TLS_PORT] : [])]);
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

export interface Listeners {
  plain: ListenView;
  /** The public TLS port, or with passthrough the loopback one behind the stream block (PROXY protocol). */
  ssl: ListenView;
  /** real_ip_from of the HTTPS servers: the stream block's address when it sends the PROXY header, the TLS front's socket behind the edge. */
  realIpFrom: string[];
  /** real_ip_header of the HTTPS servers when not the PROXY header: behind the edge the TLS front sends the edge's client address header. */
  realIpHeader?: string;
  /** real_ip_from of the plain HTTP servers: the edge network behind the edge, else none. */
  plainRealIpFrom: string[];
  /** real_ip_header of the plain HTTP servers: the edge's client address header (the edge is L7 there). */
  plainRealIpHeader: string;
}

/** The TLS front's two unix sockets (behind the edge), under RenderOptions.tlsFrontDir. */
export function tlsFrontSockets(dir: string): { front: string; requests: string } {
  const d = dir.replace(/\/+$/, '');
  if (!/^\/[A-Za-z0-9_./-]*$/.test(d)) throw new RenderError(`invalid TLS front directory: ${JSON.stringify(dir)}`);
  return { front: `unix:${d}/${TLS_FRONT_SOCKET}`, requests: `unix:${d}/${TLS_REQUESTS_SOCKET}` };
}

/**
 * `edgeTrusted`: behind the edge (ProxyEdge), the client address comes from the edge, trusted from these
 * addresses; null = single hop. The HTTP port gets requests from the edge's L7 forwarder with the address
 * in EDGE_CLIENT_ADDRESS_HEADER. The TLS port belongs to the stream block; TLS ends in the task's TLS front,
 * which sends each request in plain HTTP to the HTTPS servers' unix socket (`tlsFrontDir`), with the
 * client address in the same header (docs/architecture.md, "The TLS front").
 */
export function listeners(ports: PublicPorts, internal: InternalPorts | null, edgeTrusted: readonly string[] | null = null, tlsFrontDir?: string): Listeners {
  const plain: ListenView = { address: String(ports.http), ssl: false, proxyProtocol: false, defaultServer: false };
  const plainRealIpFrom = [...(edgeTrusted ?? [])];
  if (edgeTrusted !== null && tlsFrontDir !== undefined) {
    const sockets = tlsFrontSockets(tlsFrontDir);
    return {
      plain,
      ssl: { address: sockets.requests, ssl: false, proxyProtocol: false, defaultServer: false },
      realIpFrom: ['unix:'],
      realIpHeader: EDGE_CLIENT_ADDRESS_HEADER,
      plainRealIpFrom,
      plainRealIpHeader: EDGE_CLIENT_ADDRESS_HEADER,
    };
  }
  return {
    plain,
    ssl: internal
      ? { address: `${LOOPBACK}:${internal.tls}`, ssl: true, proxyProtocol: true, defaultServer: false }
      : { address: String(ports.ssl), ssl: true, proxyProtocol: edgeTrusted !== null, defaultServer: false },
    realIpFrom: internal ? [LOOPBACK] : [...(edgeTrusted ?? [])],
    plainRealIpFrom,
    plainRealIpHeader: EDGE_CLIENT_ADDRESS_HEADER,
  };
}
