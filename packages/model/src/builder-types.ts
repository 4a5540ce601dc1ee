// The builder's input per extension (ClusterTarget), and the routed service its steps pass between
// them (Candidate): decoded labels, where the proxy reaches it, its servers and its diagnostics.
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';
import type { UpstreamServer } from './routing-model.js';
import type { NetworkSnapshot, ServiceSnapshot } from './snapshot.js';

export interface ClusterTarget {
  /** [Extensions.NAME] section name. */
  name: string;
  /** Its ServiceCluster value ('' = serves services without a service_cluster label). */
  serviceCluster: string;
  /** Fixed network list (ExtensionConfig.Networks); empty = whatever routed services need. */
  networks: readonly string[];
  /** Operator's host sharing (ExtensionConfig.HostOwners): host pattern → comma-separated owners ('-' = no stack). */
  hostOwners?: Readonly<Record<string, string>>;
  /** Operator's secret sharing (ExtensionConfig.SecretOwners): secret name → comma-separated owners. */
  secretOwners?: Readonly<Record<string, string>>;
}

/** Where the proxy reaches a service's servers. */
export type Reach = { kind: 'network'; network: NetworkSnapshot } | { kind: 'host-port'; published: number };

export interface Candidate {
  svc: ServiceSnapshot;
  spec: RouteSpec;
  reach: Reach;
  servers: UpstreamServer[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
}
