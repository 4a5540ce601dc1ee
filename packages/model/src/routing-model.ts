// The routing model core serves to extensions: one per service cluster, sorted and deterministic.
import type { Diagnostic } from './diagnostics.js';
import type { WireLocation, WirePassthroughHost, WireRedirectRule, WireRoutingModel, WireServiceStatus, WireTlsCert, WireUpstream, WireUpstreamServer, WireVirtualHost } from '@signalbox/protocol';

// Each part is declared once, as its JSON Schema in @signalbox/protocol (wire.ts), and its type derived
// from it: a change to a field there changes the builder's and the renderer's types alike.
export type UpstreamServer = WireUpstreamServer;
export type Upstream = WireUpstream;
export type Location = WireLocation;
export type TlsCert = WireTlsCert;
export type VirtualHost = WireVirtualHost;
export type PassthroughHost = WirePassthroughHost;
export type RedirectRule = WireRedirectRule;

export type { ServiceState } from '@signalbox/protocol';

/** A labelled service's state as core serves it (the wire's, from @signalbox/protocol), with typed codes. */
export type ServiceStatus = Omit<WireServiceStatus, 'errors' | 'warnings'> & { errors: Diagnostic[]; warnings: Diagnostic[] };

/** One service cluster's routing model (the wire's), with the services' diagnostics typed. */
export type ClusterModel = Omit<WireRoutingModel, 'services'> & { services: ServiceStatus[] };
