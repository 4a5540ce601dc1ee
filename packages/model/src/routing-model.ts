// The routing model core serves to extensions: one per service cluster, sorted and deterministic.
import type { Diagnostic } from './diagnostics.js';
import type { WireServiceStatus } from '@signalbox/protocol';

export interface UpstreamServer {
  addr: string;
  port: number;
  /** Owning service name, for x-upstream debugging and canary accounting. */
  service: string;
}

export interface Upstream {
  /** Deterministic nginx-safe identifier derived from host + path. */
  name: string;
  /** Sorted by addr then port. Empty means 503. */
  servers: UpstreamServer[];
  balance: 'round_robin' | 'ip_hash' | 'cookie';
  /** Cookie name when balance is 'cookie'. */
  cookie?: string;
  maxFails?: number;
  failTimeout?: string;
  tls: { enabled: boolean; verify: boolean };
  /** Services feeding this upstream (more than one for a canary pair), sorted. */
  services: string[];
}

export interface Location {
  /** '/' or a context root. */
  path: string;
  /** Strip path before proxying (context_root_rewrite). */
  rewrite: boolean;
  /** Exact-match websocket endpoints under this location, sorted. */
  websocketEndpoints: string[];
  upstream: Upstream;
}

export interface TlsCert {
  certSecret: string;
  keySecret: string;
}

export interface VirtualHost {
  /** Exact name or '*.example.com'. */
  host: string;
  tls?: TlsCert;
  sslOnly: boolean;
  /** Sorted by path. */
  locations: Location[];
}

export interface PassthroughHost {
  host: string;
  upstream: Upstream;
  /** ssl_only: plain HTTP requests for the host are redirected to https (absent = false). */
  sslOnly?: boolean;
}

export interface RedirectRule {
  sourceHost: string;
  source: string;
  target: string;
}

export type { ServiceState } from '@signalbox/protocol';

/** A labelled service's state as core serves it (the wire's, from @signalbox/protocol), with typed codes. */
export type ServiceStatus = Omit<WireServiceStatus, 'errors' | 'warnings'> & { errors: Diagnostic[]; warnings: Diagnostic[] };

export interface ClusterModel {
  /** The ServiceCluster this model is for ('' for the default cluster). */
  cluster: string;
  /** Sorted by host. */
  virtualHosts: VirtualHost[];
  /** Sorted by host. */
  passthrough: PassthroughHost[];
  /** Sorted by sourceHost, source. */
  redirects: RedirectRule[];
  defaultBackend?: Upstream;
  /** Services of this cluster with any com.docker.lb.* label, sorted by name. */
  services: ServiceStatus[];
  /** Overlay networks (names) the proxy must join to reach its upstreams, sorted. */
  proxyNetworks: string[];
  /** Secrets (names) the proxy must mount for TLS, sorted. */
  proxySecrets: string[];
  /**
   * Secrets of proxySecrets that a running proxy task does not mount yet (it started before core added
   * them; new tasks that mount them are on their way). Their routes wait: the extension leaves them out
   * until core sees every running proxy task mount them. Set by core; sorted; absent when none.
   */
  pendingSecrets?: string[];
  /**
   * Hosts claimed by a service that is not routed over plain HTTP here (rejected, excluded, or passed
   * through without ssl_only) which would otherwise reach another owner (its default backend or
   * wildcard). The proxy answers them 503 and rejects their TLS handshake. Sorted; absent when empty.
   */
  heldHosts?: string[];
  /**
   * Hosts routed over HTTP here that get a certificate from the cluster's ACME CA (com.docker.lb.acme=true,
   * allowed, no explicit certificate; see acme-plan.ts). Sorted; absent when empty.
   */
  acmeHosts?: string[];
}
