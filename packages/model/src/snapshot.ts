// Plain snapshots of swarm objects. Only core's docker/ folder sees dockerode types;
// everything downstream works from these, so tests can build them by hand or load recorded fixtures.

export interface SwarmSnapshot {
  services: ServiceSnapshot[];
  networks: NetworkSnapshot[];
  secrets: SecretSnapshot[];
  nodes: NodeSnapshot[];
}

export interface NetworkSnapshot {
  id: string;
  name: string;
  driver: string;
  scope: string;
  attachable: boolean;
  ingress: boolean;
  labels: Record<string, string>;
}

export interface SecretSnapshot {
  id: string;
  name: string;
  /** Spec labels; com.docker.stack.namespace names the stack that owns the secret. */
  labels?: Record<string, string>;
}

export interface NodeSnapshot {
  id: string;
  hostname: string;
  /** Address other nodes and clients reach this node on (Status.Addr). */
  addr: string;
  role: 'manager' | 'worker';
  ready: boolean;
}

export interface PortSnapshot {
  target: number;
  published: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  mode: 'ingress' | 'host';
}

export interface ServiceSnapshot {
  id: string;
  name: string;
  labels: Record<string, string>;
  /** Labels before the last update (Docker's PreviousSpec), the fallback when an update breaks them. */
  previousLabels?: Record<string, string>;
  /** ISO timestamp; the tie-breaker that makes conflict decisions stable across restarts. */
  createdAt: string;
  /** Networks named in the service spec (task template), by id. */
  networkIds: string[];
  endpointMode: 'vip' | 'dnsrr';
  vips: { networkId: string; addr: string }[];
  ports: PortSnapshot[];
  /** Tasks whose current state is running, in no particular order. */
  tasks: TaskSnapshot[];
  /** Tasks the orchestrator wants running that have not started yet (new … starting); absent = 0. */
  startingTasks?: number;
  /**
   * Tasks told to shut down whose container still runs (a replaced proxy task draining, the old task of
   * an extension's roll). Read only for the services core asks about (its proxies and extensions);
   * absent otherwise.
   */
  stoppingTasks?: TaskSnapshot[];
  /**
   * The tasks counted in startingTasks that exist yet (swarm has allocated their network addresses), for
   * the same services as stoppingTasks: a roll's new proxy task is here until its health check passes.
   * Absent otherwise.
   */
  startingTaskSnapshots?: TaskSnapshot[];
}

export interface TaskSnapshot {
  id: string;
  nodeId: string;
  slot: number;
  /** Task addresses per network, without prefix length. */
  addresses: { networkId: string; addr: string }[];
  /** Names of the secrets the task's container mounts (its own spec: a task started before a secret was added lacks it). */
  secrets?: string[];
}
