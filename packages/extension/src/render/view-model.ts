// ClusterModel + ExtensionConfig → ViewModel: plain, sorted data of already-quoted strings.
// Templates only lay this out; every decision (and every escape) happens here, one concern per module:
// upstreams.ts, locations.ts, redirects.ts, servers.ts, tls.ts, listeners.ts, http-settings.ts,
// stream.ts (TLS passthrough), main-view.ts. This file only puts them together, in a fixed order (the
// order in which invalid input is found, so the same input always gets the same RenderError).
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { TLS_FRONT_DIR } from '@signalbox/protocol';
import { comment, hostName, quote } from './quote.js';
import { DOCKER_DNS_RESOLVER, acmeChallengeMap, forwardedHeaderMaps, httpView } from './http-settings.js';
import { listeners, pickInternalPorts, publicPorts, tlsFrontSockets } from './listeners.js';
import { eventsView, mainView } from './main-view.js';
import { firstByKey } from './ordering.js';
import { groupRedirects } from './redirects.js';
import { httpServers } from './servers.js';
import { streamView } from './stream.js';
import { DEFAULT_TRUSTED_CERTIFICATE } from './tls.js';
import { httpUpstreams, upstreamZoneKb } from './upstreams.js';
import type { RenderOptions, StreamView, ViewModel } from './view-types.js';

export { hashBucketSize } from './hash-sizes.js';
export { ACME_FILE_PREFIX, DEFAULT_ACME_DIR, DEFAULT_TRUSTED_CERTIFICATE } from './tls.js';
export { INTERNAL_UPSTREAMS, UPSTREAM_ZONES } from './upstreams.js';
export type * from './view-types.js';

export function buildViewModel(model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions): ViewModel {
  const t = ext.Config;
  const trustedCertificate = quote(opts.upstreamTrustedCertificate ?? DEFAULT_TRUSTED_CERTIFICATE);
  const ports = publicPorts(ext);
  const zoneKb = upstreamZoneKb(t);

  // Defensive copies, sorted and de-duplicated by host (first wins).
  const vhosts = firstByKey(model.virtualHosts, (v) => v.host);
  for (const vh of vhosts) hostName(vh.host);
  const passthrough = firstByKey(model.passthrough, (p) => p.host);
  for (const p of passthrough) hostName(p.host);
  const redirects = groupRedirects(model.redirects);

  const routed = vhosts.flatMap((vh) => vh.locations.map((loc) => loc.upstream));
  const upstreams = httpUpstreams(model.defaultBackend ? [...routed, model.defaultBackend] : routed, zoneKb);

  const internal = passthrough.length > 0 ? pickInternalPorts(ext, opts) : null;
  // Behind the edge TLS ends in the task's TLS front (tls-front.ts), reached through the stream block.
  const tlsFrontDir = ext.ProxyEdge && opts.tlsFrontDir !== null ? (opts.tlsFrontDir ?? TLS_FRONT_DIR) : undefined;
  // ACME hosts forward HTTP-01 challenges to the extension (model.acmeHosts, see docs/tls.md).
  const acmeHosts = new Set(model.acmeHosts ?? []);
  // Behind the edge every public listener receives a PROXY protocol header, trusted from the edge network.
  const edgeTrusted = ext.ProxyEdge ? [...(opts.edgeTrustedFrom ?? [])] : null;
  const servers = httpServers({
    vhosts,
    passthrough,
    redirects,
    defaultBackend: model.defaultBackend,
    heldHosts: model.heldHosts,
    listeners: listeners(ports, internal, edgeTrusted, tlsFrontDir),
    ctx: { trustedCertificate, upstreamAlias: upstreams.alias, closeUnserved: false },
    secretsDir: opts.secretsDir,
    ...(opts.acmeDir !== undefined ? { acmeDir: opts.acmeDir } : {}),
    acmeHosts,
    ext,
    behindTrustedProxies: (t.TrustedProxies ?? []).length > 0,
    behindEdge: ext.ProxyEdge,
    tlsFront: tlsFrontDir !== undefined,
  });

  const http = httpView(t, opts, {
    maps: [
      ...upstreams.stickyMaps,
      ...forwardedHeaderMaps(tlsFrontDir !== undefined),
      ...(acmeHosts.size > 0 ? [acmeChallengeMap(ext, opts)] : []),
      ...(servers.tlsCertificates ? [servers.tlsCertificates] : []),
    ],
    ...(acmeHosts.size > 0 ? { resolver: DOCKER_DNS_RESOLVER } : {}),
    upstreams: upstreams.upstreams,
    servers: servers.servers,
    serverNames: servers.serverNames,
    edge: ext.ProxyEdge,
    ...(servers.tlsCertificates ? { mapKeys: servers.tlsCertificates.entries.map((e) => e.key) } : {}),
  });

  const tlsFront = tlsFrontDir === undefined ? undefined : tlsFrontSockets(tlsFrontDir).front;
  const stream: StreamView | null =
    internal || tlsFront
      ? streamView(t, {
          passthrough,
          hostsServedHere: servers.hostsServedHere,
          publicSslPort: ports.ssl,
          internal,
          zoneKb,
          edgeTrusted,
          tlsFront,
          // During a roll (docs/architecture.md, "Relay"): the hosts held here go to the tasks past it.
          ...(model.proxyRelayPeers ? { relay: { peers: model.proxyRelayPeers, hosts: model.heldHosts ?? [] } } : {}),
        })
      : null;

  const loadModules = stream && opts.streamModulePath ? [quote(opts.streamModulePath)] : [];

  return {
    cluster: model.cluster === '' ? '(default)' : comment(model.cluster),
    main: mainView(t, loadModules),
    events: eventsView(t),
    http,
    stream,
  };
}
