// The stream block for TLS passthrough: the public TLS port reads the SNI and sends each connection,
// with a PROXY header carrying the client address, either to where TLS is terminated (the HTTPS servers
// of the http block, or behind the edge the task's TLS front) or to the passthrough hop, which strips the
// header and forwards the TLS stream untouched. Behind the edge the block is there without passthrough
// too: the TLS port always belongs to it, and it sends every connection to the TLS front.
// Behind the edge it also has the relay port: during a roll the old tasks send the TLS connections for the
// hosts they hold there, on the tasks that replace them (docs/architecture.md, "Relay").
import { isIP } from 'node:net';
import type { NginxTuning, PassthroughHost } from '@signalbox/model';
import { RELAY_TLS_PORT, RELAY_UPSTREAM } from '@signalbox/protocol';
import { RenderError, hostName, mapKey, positiveInt } from './quote.js';
import { verbatim } from './config-values.js';
import { hashBucketSize, hashMaxSize } from './hash-sizes.js';
import type { InternalPorts } from './listeners.js';
import { cmp } from './ordering.js';
import { INTERNAL_UPSTREAMS, LOOPBACK, internalUpstream, streamUpstreams } from './upstreams.js';
import type { MapView, StreamServerView, StreamView, UpstreamView } from './view-types.js';

const RELAY_VARIABLE = '$signalbox_tls_public';
/**
 * Connect timeout of the public TLS port while it relays. Its other upstreams are this task's own (the
 * TLS front's socket, the loopback passthrough hop: apps are reached from the hop, with ConnectTimeout),
 * so only the relay feels it: a peer on a dark overlay path costs the client seconds, not ConnectTimeout.
 */
const RELAY_CONNECT_TIMEOUT_S = 2;

export interface StreamInput {
  /** Sorted by host, one per host; empty only behind the edge (tlsFront set). */
  passthrough: readonly PassthroughHost[];
  /** Hosts served (or held) by the http block. */
  hostsServedHere: readonly string[];
  publicSslPort: number;
  /** Loopback ports; null without passthrough. */
  internal: InternalPorts | null;
  /** Behind the edge: the TLS front's listener (`unix:…`), where terminated connections go. */
  tlsFront?: string | undefined;
  zoneKb: number;
  /** Behind the edge: the edge network, whose PROXY header on the public TLS port is trusted; null = single hop. */
  edgeTrusted?: readonly string[] | null;
  /**
   * Behind the edge: the TLS connections for `hosts` (held here) go to the relay port of `peers` (IP
   * addresses, ClusterModel.proxyRelayPeers) instead of being rejected. Nothing is relayed without peers.
   */
  relay?: { peers: readonly string[]; hosts: readonly string[] };
}

/** The relay's map and upstream, or null when nothing is relayed (always in single hop: no edge network). */
function relayParts(input: StreamInput, fallback: string): { map: MapView; upstream: UpstreamView; longest: number } | null {
  const relay = input.relay;
  if (input.edgeTrusted == null || !relay || relay.peers.length === 0 || relay.hosts.length === 0) return null;
  const hosts = [...new Set(relay.hosts)].sort(cmp);
  for (const h of hosts) hostName(h);
  const peers = [...new Set(relay.peers)].sort(cmp);
  for (const p of peers) if (isIP(p) === 0) throw new RenderError(`invalid relay peer address: ${JSON.stringify(p)}`);
  return {
    map: {
      source: '$ssl_preread_server_name',
      variable: RELAY_VARIABLE,
      hostnames: true,
      entries: hosts.map((h) => ({ key: mapKey(h), value: RELAY_UPSTREAM })),
      default: fallback,
    },
    upstream: {
      name: RELAY_UPSTREAM,
      zone: null,
      balance: null,
      servers: peers.map((p) => ({ address: `${isIP(p) === 6 ? `[${p}]` : p}:${RELAY_TLS_PORT}`, maxFails: null, failTimeout: null, down: false, comment: 'a routing task past the roll' })),
      keepalive: null,
      empty: false,
      services: '',
    },
    longest: hosts.reduce((m, h) => Math.max(m, h.length), 0),
  };
}

/** Behind the edge, the relay port: sent on like the public port's connections, never relayed again. */
function relayListener(input: StreamInput, sslPreread: boolean, proxyPass: string, connect: string, idle: string): StreamServerView[] {
  if (input.edgeTrusted == null || input.tlsFront === undefined) return [];
  return [
    {
      comment: 'relay port: TLS connections another routing task relays here during a roll (never relayed again)',
      listen: { address: String(RELAY_TLS_PORT), ssl: false, proxyProtocol: true, defaultServer: false },
      realIpFrom: [...input.edgeTrusted],
      sslPreread,
      proxyProtocol: true,
      proxyPass,
      proxyConnectTimeout: connect,
      proxyTimeout: idle,
    },
  ];
}

export function streamView(t: NginxTuning, input: StreamInput): StreamView {
  const { passthrough, internal } = input;
  const connect = `${positiveInt(t.ConnectTimeout, 'ConnectTimeout')}s`;
  const relayConnect = `${Math.min(t.ConnectTimeout, RELAY_CONNECT_TIMEOUT_S)}s`;
  const idle = `${positiveInt(t.ReadTimeout, 'ReadTimeout')}s`;
  const publicListen = { address: String(input.publicSslPort), ssl: false, proxyProtocol: input.edgeTrusted != null, defaultServer: false };
  if (internal === null || passthrough.length === 0) {
    if (input.tlsFront === undefined) throw new RenderError('internal error: a stream block without passthrough needs the TLS front');
    const relay = relayParts(input, INTERNAL_UPSTREAMS.terminate);
    return {
      mapHashBucketSize: hashBucketSize(relay?.longest ?? 0),
      mapHashMaxSize: hashMaxSize(relay?.map.entries.length ?? 0),
      maps: relay ? [relay.map] : [],
      upstreams: relay ? [internalUpstream(INTERNAL_UPSTREAMS.terminate, input.tlsFront, false, 'the TLS front of this task'), relay.upstream] : [],
      servers: [
        {
          comment: relay
            ? 'public TLS port: hosts held here to the relay, the rest to the TLS front; PROXY protocol carries the client address'
            : 'public TLS port: every connection to the TLS front, PROXY protocol carries the client address',
          listen: publicListen,
          realIpFrom: [...(input.edgeTrusted ?? [])],
          sslPreread: relay !== null,
          proxyProtocol: true,
          proxyPass: relay ? RELAY_VARIABLE : input.tlsFront,
          proxyConnectTimeout: relay ? relayConnect : connect,
          proxyTimeout: idle,
        },
        ...relayListener(input, false, input.tlsFront, connect, idle),
      ],
      options: verbatim(t.TCPOptions),
      internalTlsPort: null,
      internalPassthroughPort: null,
    };
  }
  const upstreams = streamUpstreams(
    passthrough.map((p) => p.upstream),
    input.zoneKb,
  );
  upstreams.push(
    input.tlsFront
      ? internalUpstream(INTERNAL_UPSTREAMS.terminate, input.tlsFront, false, 'the TLS front of this task')
      : internalUpstream(INTERNAL_UPSTREAMS.terminate, `${LOOPBACK}:${internal.tls}`, false, 'https servers of the http block'),
    internalUpstream(INTERNAL_UPSTREAMS.hop, `${LOOPBACK}:${internal.hop}`, false, 'passthrough hop below'),
    internalUpstream(INTERNAL_UPSTREAMS.reject, `${LOOPBACK}:1`, true, 'never reached: closes the connection'),
  );
  const shielded = shieldedFromPassthroughWildcards(passthrough, input.hostsServedHere);
  const relay = relayParts(input, '$signalbox_tls_route');
  if (relay) upstreams.push(relay.upstream);
  const longest = [...passthrough.map((p) => p.host), ...shielded].reduce((m, h) => Math.max(m, h.length), relay?.longest ?? 0);
  return {
    mapHashBucketSize: hashBucketSize(longest),
    mapHashMaxSize: hashMaxSize(Math.max(passthrough.length + shielded.length, relay?.map.entries.length ?? 0)),
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
      ...(relay ? [relay.map] : []),
    ],
    upstreams,
    servers: [
      {
        comment: relay
          ? 'public TLS port: route by SNI (hosts held here to the relay), PROXY protocol carries the client address'
          : 'public TLS port: route by SNI, PROXY protocol carries the client address',
        listen: publicListen,
        realIpFrom: [...(input.edgeTrusted ?? [])],
        sslPreread: true,
        proxyProtocol: true,
        proxyPass: relay ? RELAY_VARIABLE : '$signalbox_tls_route',
        proxyConnectTimeout: relay ? relayConnect : connect,
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
      ...relayListener(input, true, '$signalbox_tls_route', connect, idle),
    ],
    options: verbatim(t.TCPOptions),
    internalTlsPort: internal.tls,
    internalPassthroughPort: internal.hop,
  };
}

/** Hosts served (or held) here that a passthrough wildcard would otherwise cover in the SNI map. */
export function shieldedFromPassthroughWildcards(passthrough: readonly PassthroughHost[], hosts: readonly string[]): string[] {
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
