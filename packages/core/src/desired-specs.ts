// Desired specs of each [Extensions.NAME]'s extension, routing proxy and edge services: pure functions
// of config.toml, the routing model and the snapshot. Only networks, secrets, ports and config.toml
// settings are in the proxy spec, so routine changes (hosts, upstreams, scaling) never roll the proxy.
import type { ClusterModel, ExtensionConfig, SwarmSnapshot } from '@signalbox/model';
import { durationMs } from '@signalbox/model';
import {
  AGENT_HEALTH_WAIT_SECONDS,
  AGENT_PORT,
  API_TOKEN_SECRET_TARGET,
  DEFAULT_API_TOKEN_FILE,
  DEFAULT_PROXY_TOKEN_FILE,
  EXTENSION_PORT,
  HEALTH_START_PERIOD_SECONDS,
  PROXY_TOKEN_SECRET_TARGET,
  isTokenSecret,
  LABEL_EXTENSION,
  LABEL_OWNER,
  LABEL_ROLE,
  PATHS,
} from '@signalbox/protocol';
import type { ServiceSpec } from './docker/services.js';

/**
 * How long a busy client keep-alive connection may live on a routing proxy (nginx keepalive_time, set by
 * the template in edge mode): past it, the next response says `Connection: close`. A stopping proxy waits
 * this long plus a margin (bounded by its stop grace period) before it stops nginx, so busy connections
 * have moved to the new task by a clean close instead of being cut.
 */
export const EDGE_DRAIN_MS = 6_000;

/** ProxyStopGracePeriod less 2 s: what a stopping task may spend before nginx must finish what is in flight. */
const beforeKillMs = (ext: ExtensionConfig): number => Math.max(0, ns(ext.ProxyStopGracePeriod, 10_000) / 1e6 - 2_000);
/** The drain ends 2 s before swarm's SIGKILL, so nginx still has time to finish what is in flight. */
export const drainMs = (ext: ExtensionConfig): number => Math.min(EDGE_DRAIN_MS, beforeKillMs(ext));
/**
 * The edge's lame duck on a graceful stop (proxy-agent lame-duck.ts): it fails the LB health path until
 * each load balancer checking it has seen that, for at most this long, which leaves nginx 2 s of the
 * stop grace period to finish what is in flight (and never more than a minute).
 */
export const lameDuckMs = (ext: ExtensionConfig): number => Math.min(60_000, beforeKillMs(ext));
/**
 * A routing proxy's stop grace period. Behind the edge it is replaced start-first and retired at once, so
 * nothing waits for its exit: it may keep what it cannot hand over (TLS passthrough sessions and
 * WebSockets, which only the app or the client can end cleanly) for ProxySessionGracePeriod. A single-hop
 * proxy is replaced stop-first in host mode, where a long stop would hold the port.
 */
export const routingStopGraceNs = (ext: ExtensionConfig): number => {
  const stop = ns(ext.ProxyStopGracePeriod, 10_000);
  return ext.ProxyEdge ? Math.max(stop, ns(ext.ProxySessionGracePeriod, 300_000)) : stop;
};
/**
 * Past this long after its stop signal, a replaced routing task keeps its sessions only while another
 * routing task serves (proxy-agent session-hold.ts): when swarm waits for it to stop before starting its
 * replacement (a drained node, a rollback, a restart), it stops when ProxyStopGracePeriod would have had it.
 */
export const sessionHoldAfterMs = beforeKillMs;
/** Where the newest published nginx.conf is mounted in proxy tasks, so a restarted proxy serves routes at once. */
export const BOOTSTRAP_PATH = '/run/signalbox/bootstrap.conf';
/** Where a proxy task keeps what it installed, on a named volume of its node (survives task restarts). */
export const STATE_DIR = '/var/lib/signalbox';
export const stateVolumeName = (ext: ExtensionConfig): string => `${ext.ProxyServiceName}-state`;
export const BOOTSTRAP_FIELD = 'TaskTemplate.ContainerSpec.Configs';

/** The overlay network shared by an extension's edge and routing proxies (no app joins it). */
export interface EdgeNetwork {
  id: string;
  /** IPv4 subnet (CIDR) the engine gave it; '' while unknown. Routing proxies trust PROXY headers from it. */
  subnet: string;
}

/** Edge service and its network: both named after the proxy service. */
export const edgeServiceName = (ext: ExtensionConfig): string => `${ext.ProxyServiceName}-edge`;
export const edgeNetworkName = (ext: ExtensionConfig): string => `${ext.ProxyServiceName}-edge`;

export interface PublishedConfigRef {
  id: string;
  name: string;
}

export interface ManagedContext {
  /** URL extensions use to reach core, e.g. http://signalbox_core:8080 */
  coreUrl: string;
  /** The stack's control network (core ↔ extension ↔ proxy agents). */
  controlNetwork: string;
  /** Identifies this core's services, so two installations never touch each other's. */
  owner: string;
  dockerSocket: string;
  logLevel: string;
  /** Docker secret holding the API token (e.g. signalbox-api-token-<version>); undefined = none mounted. */
  apiTokenSecret?: string;
  /**
   * Docker secret holding the proxy token (signalbox-proxy-token-<version>), the only credential a proxy
   * gets; undefined = the API token stands in (a stack.yml from before the proxy token).
   */
  proxyTokenSecret?: string;
  /** Address-space limit of the extension's nginx -t sandbox, MiB (core's SIGNALBOX_SANDBOX_MEMORY_MB); undefined = its default. */
  sandboxMemoryMb?: number;
}

/** Where agents listen for health/status/metrics: loopback only, so app networks never reach it. */
export const AGENT_HOST = '127.0.0.1';

/** A token secret as a task mount, read-only by root at /run/secrets/<target>; none when it does not exist. */
function tokenMount(secret: string | undefined, target: string, snap: SwarmSnapshot): { SecretID: string; SecretName: string; File: { Name: string; UID: string; GID: string; Mode: number } }[] {
  const id = secret ? snap.secrets.find((s) => s.name === secret)?.id : undefined;
  return id && secret ? [{ SecretID: id, SecretName: secret, File: { Name: target, UID: '0', GID: '0', Mode: 0o400 } }] : [];
}

/**
 * The extension holds both tokens: the API token (core's API, its own) and the proxy token (to accept
 * the proxies' requests). Without a proxy token of its own, the proxies carry the API token.
 */
function extensionTokenMounts(ctx: ManagedContext, snap: SwarmSnapshot) {
  const separate = ctx.proxyTokenSecret && ctx.proxyTokenSecret !== ctx.apiTokenSecret;
  return [...tokenMount(ctx.apiTokenSecret, API_TOKEN_SECRET_TARGET, snap), ...(separate ? tokenMount(ctx.proxyTokenSecret, PROXY_TOKEN_SECRET_TARGET, snap) : [])];
}

/** A proxy holds the proxy token only: it never changes when the API token rotates, so no proxy rolls. */
function proxyTokenMounts(ctx: ManagedContext, snap: SwarmSnapshot) {
  return tokenMount(ctx.proxyTokenSecret ?? ctx.apiTokenSecret, PROXY_TOKEN_SECRET_TARGET, snap);
}

/** Where the ACME store key secret is mounted in the extension task (docs/tls.md). */
export const ACME_STORE_KEY_TARGET = 'signalbox-acme-store-key';

/** The ACME store key secret of an extension with ACME on, or undefined. */
function acmeStoreKeySecret(ext: ExtensionConfig): string | undefined {
  return ext.Acme.DirectoryURL !== '' ? ext.Acme.StoreKeySecret : undefined;
}

/**
 * The ACME store key as the extension's mount: only the extension seals and opens the store (proxies get
 * the issued files over the API), so proxies never hold it. A missing secret is not mounted; the
 * extension then reports which secret to create and orders nothing.
 */
function acmeStoreKeyMount(ext: ExtensionConfig, snap: SwarmSnapshot) {
  const secret = acmeStoreKeySecret(ext);
  const id = secret ? snap.secrets.find((s) => s.name === secret)?.id : undefined;
  return id ? [{ SecretID: id, SecretName: secret!, File: { Name: ACME_STORE_KEY_TARGET, UID: '0', GID: '0', Mode: 0o400 } }] : [];
}

export const ns = (duration: string, fallbackMs: number): number => Math.round((durationMs(duration) ?? fallbackMs) * 1e6);

/** A starting agent answers this check the moment it serves (AGENT_HEALTH_WAIT_SECONDS). */
const AGENT_HEALTH_PATH = `${PATHS.health}?wait=${AGENT_HEALTH_WAIT_SECONDS}`;

/**
 * The agent's health check. "Healthcheck", as the engine spells it: it accepts "HealthCheck" on write
 * (Go's JSON is case-insensitive) but returns "Healthcheck", which looked like drift on every check.
 * bash's /dev/tcp instead of `node -e fetch(...)`: starting node costs ~150 ms of CPU, and on a loaded
 * node (load 18 on 2 cores, seen here) three 3 s timeouts in a row had swarm kill a healthy edge.
 * 10 retries at 2 s = killed only after ~20 s of failing checks.
 */
function agentHealthcheck() {
  return healthcheckOn(AGENT_PORT, 2_000_000_000, AGENT_HEALTH_PATH);
}

/**
 * A routing proxy's: every second. Swarm's DNS lists a task only once it is healthy, and a start-first
 * roll (a new network, a new secret) waits for the new task's first passing check before the old one is
 * told to stop and the held routes are published. The first check comes a second after the container
 * starts and, held open (?wait=), passes the moment the agent serves (docs/performance.md).
 */
function routingHealthcheck() {
  return healthcheckOn(AGENT_PORT, 1_000_000_000, AGENT_HEALTH_PATH);
}

/**
 * Healthy once GET /v1/health on the port answers 200; swarm reports the task running only then. As many
 * retries as make ~20 s of failing checks before swarm kills the task, whatever the interval. A refused
 * connection is tried again for about a second: on a loaded node the first check (a second after the
 * container starts) often comes before node has loaded the agent, and would otherwise cost an interval.
 */
function healthcheckOn(port: number, intervalNs = 2_000_000_000, path: string = PATHS.health) {
  const connect = `for i in 1 2 3 4 5 6 7 8 9 10; do exec 3<>/dev/tcp/127.0.0.1/${port} && break; sleep 0.1; done 2>/dev/null`;
  return {
    Test: ['CMD', 'bash', '-c', `${connect}; printf 'GET ${path} HTTP/1.0\\r\\n\\r\\n' >&3 && head -c 12 <&3 | grep -q ' 200'`],
    Interval: intervalNs,
    Timeout: 5_000_000_000,
    Retries: Math.round(20_000_000_000 / intervalNs),
    StartPeriod: HEALTH_START_PERIOD_SECONDS * 1_000_000_000,
  };
}

function placement(constraints: readonly string[], prefs: readonly string[]) {
  return {
    Constraints: [...constraints],
    Preferences: prefs.map((p) => ({ Spread: { SpreadDescriptor: p.replace(/^spread=/, '') } })),
  };
}

const MANAGER = 'node.role==manager';
function withManagerConstraint(constraints: readonly string[]): string[] {
  return constraints.some((c) => c.replace(/\s+/g, '') === MANAGER) ? [...constraints] : [...constraints, MANAGER];
}

function idsOf(names: readonly string[], snap: SwarmSnapshot): string[] {
  const byName = new Map(snap.networks.map((n) => [n.name, n.id]));
  return names.map((n) => byName.get(n)).filter((id): id is string => id !== undefined);
}

/** "<volume>:<path>" (checked by the config schema) as a Docker volume mount. */
function volumeMount(spec: string) {
  const at = spec.indexOf(':');
  return { Type: 'volume', Source: spec.slice(0, at), Target: spec.slice(at + 1) };
}

function secretMounts(names: readonly string[], snap: SwarmSnapshot, ext: ExtensionConfig) {
  const secretIds = new Map(snap.secrets.map((s) => [s.name, s.id]));
  // The tokens and the ACME store key are never a route's key (a label naming one is not mounted).
  const reserved = new Set([ext.Acme.StoreKeySecret, ACME_STORE_KEY_TARGET]);
  return names.filter((s) => secretIds.has(s) && !isTokenSecret(s) && !reserved.has(s)).map((s) => ({ SecretID: secretIds.get(s), SecretName: s, File: { Name: s, UID: '0', GID: '0', Mode: 0o400 } }));
}

export function desiredExtensionSpec(name: string, ext: ExtensionConfig, ctx: ManagedContext, snap: SwarmSnapshot, edge?: EdgeNetwork): ServiceSpec {
  // The routing proxies take the client address from PROXY headers sent from the edge network only.
  const trusted = ext.ProxyEdge && edge?.subnet ? [`SIGNALBOX_EDGE_TRUSTED=${edge.subnet}`] : [];
  return {
    Name: ext.ServiceName,
    Labels: { ...ext.Labels, [LABEL_ROLE]: 'extension', [LABEL_EXTENSION]: name, [LABEL_OWNER]: ctx.owner },
    TaskTemplate: {
      ContainerSpec: {
        Image: ext.Image,
        Args: [...ext.Args],
        Labels: { ...ext.ContainerLabels },
        Env: [
          `SIGNALBOX_CORE_URL=${ctx.coreUrl}`,
          `SIGNALBOX_EXTENSION_NAME=${name}`,
          // Its own task, to know when core names it retired (the old task of its start-first roll).
          'SIGNALBOX_TASK_ID={{.Task.ID}}',
          `SIGNALBOX_LOG_LEVEL=${ctx.logLevel}`,
          `SIGNALBOX_OWNER=${ctx.owner}`,
          // config.toml's Template: the extension reads that Docker config itself (it has the socket).
          ...(ext.Template !== '' ? [`SIGNALBOX_TEMPLATE_CONFIG=${ext.Template}`] : []),
          `SIGNALBOX_API_TOKEN_FILE=${DEFAULT_API_TOKEN_FILE}`,
          `SIGNALBOX_PROXY_TOKEN_FILE=${DEFAULT_PROXY_TOKEN_FILE}`,
          ...(acmeStoreKeySecret(ext) ? [`SIGNALBOX_ACME_STORE_KEY_SECRET=${acmeStoreKeySecret(ext)}`, `SIGNALBOX_ACME_STORE_KEY_FILE=/run/secrets/${ACME_STORE_KEY_TARGET}`] : []),
          ...(ctx.sandboxMemoryMb ? [`SIGNALBOX_SANDBOX_MEMORY_MB=${ctx.sandboxMemoryMb}`] : []),
          ...trusted,
        ],
        // The two tokens and the ACME store key, never the routes' certificate secrets: the proxy tasks
        // that mount those check the pairs (so a new certificate does not roll the extension, and the
        // private keys are not in the task that runs operators' templates).
        Secrets: [...extensionTokenMounts(ctx, snap), ...acmeStoreKeyMount(ext, snap)],
        Mounts: [{ Type: 'bind', Source: ctx.dockerSocket, Target: '/var/run/docker.sock' }],
        // The unprivileged `nginx -t` binds the proxy's listen ports (80, 443) inside this container.
        Sysctls: { 'net.ipv4.ip_unprivileged_port_start': '0' },
        // The nginx -t sandbox creates network and mount namespaces (no network, no socket, no secrets).
        // The container already holds the Docker socket, so this grants nothing the socket does not.
        CapabilityAdd: ['CAP_SYS_ADMIN'],
        // Running means answering: after a roll (every deploy rotates the API token), nothing waits on a
        // task that is up but not listening yet. Every second: proxies reconnect to the new task once
        // it is healthy, so the first passing check is part of a roll's delay.
        Healthcheck: healthcheckOn(EXTENSION_PORT, 1_000_000_000),
      },
      // It holds the Docker socket (to publish config objects), which only managers serve: always on one.
      Placement: placement(withManagerConstraint(ext.Constraints), ext.PlacementPreferences),
      Networks: idsOf([ctx.controlNetwork], snap).map((Target) => ({ Target })),
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
    },
    Mode: { Replicated: { Replicas: 1 } },
    // Start-first: stop-first put the old task's exit (swarm's DNS grace, ~3 s) in front of the new one's start. It
    // publishes no port, so the new task starts beside the old one and the roll overlaps the routing
    // proxies'. Proxies find it by DNS, which lists the new task once healthy; swarm stops the old one
    // right after, and its long-polls are cut, so they reconnect to the new one. A task that cannot
    // start leaves the old one serving (the update pauses) instead of no extension at all.
    UpdateConfig: { Parallelism: 1, Order: 'start-first' },
    // No VIP: peers find it by DNS round robin, which also works where the kernel has no IPVS.
    EndpointSpec: { Mode: 'dnsrr' },
  };
}

export function desiredProxySpec(name: string, ext: ExtensionConfig, model: ClusterModel, ctx: ManagedContext, snap: SwarmSnapshot, bootstrap?: PublishedConfigRef, edge?: EdgeNetwork): ServiceSpec {
  const host = ext.PublishMode === 'host';
  const appNetworks = idsOf(
    model.proxyNetworks.filter((n) => n !== ctx.controlNetwork),
    snap,
  ).filter((id) => id !== edge?.id);
  const networks = [...idsOf([ctx.controlNetwork], snap), ...(ext.ProxyEdge && edge ? [edge.id] : []), ...appNetworks.sort()];
  const update = {
    // Behind the edge on a one-node swarm every routing task is replaced at once (0): the old ones serve
    // until the new ones are healthy, and a route on a new network waits for the whole roll
    // (pending-networks.ts), which one at a time made ProxyReplicas times longer. With more nodes, one at
    // a time: swarm's scheduler counts the tasks being replaced, so a batch of all of them lands on the
    // node(s) with the fewest. Proxies concentrated on one node (after a node loss, say) then moved all
    // together to another on every roll and never spread again, and losing that node cut off all routing
    // (seen on the multinode swarm). The node count, not the placement, decides: it does not change
    // during a roll.
    Parallelism: ext.ProxyEdge && snap.nodes.length === 1 ? 0 : 1,
    Delay: ns(ext.ProxyUpdateDelay, 1000),
    FailureAction: 'rollback',
    Monitor: 5_000_000_000,
    // Two tasks cannot hold one host port on a node, so a proxy publishing host ports is replaced in
    // place. Behind an edge it publishes nothing: the new task starts, turns healthy (only then does
    // swarm's DNS list it to the edge), and the old one drains.
    Order: host && !ext.ProxyEdge ? 'stop-first' : 'start-first',
  };
  return {
    Name: ext.ProxyServiceName,
    Labels: { ...ext.ProxyLabels, [LABEL_ROLE]: 'proxy', [LABEL_EXTENSION]: name, [LABEL_OWNER]: ctx.owner },
    TaskTemplate: {
      ContainerSpec: {
        Image: ext.ProxyImage,
        Args: [...ext.ProxyArgs],
        Labels: { ...ext.ProxyContainerLabels },
        Env: [
          `SIGNALBOX_EXTENSION_URL=http://${ext.ServiceName}:${EXTENSION_PORT}`,
          `SIGNALBOX_CONFIG_PATH=${ext.ProxyConfigPath}`,
          `SIGNALBOX_HTTP_PORT=${ext.TargetPort}`,
          `SIGNALBOX_HTTPS_PORT=${ext.TargetSSLPort}`,
          `SIGNALBOX_AGENT_HOST=${AGENT_HOST}`,
          `SIGNALBOX_MAX_DRAINING_GENERATIONS=${ext.ProxyMaxDrainingGenerations}`,
          `SIGNALBOX_AGENT_PORT=${AGENT_PORT}`,
          `SIGNALBOX_PROXY_TOKEN_FILE=${DEFAULT_PROXY_TOKEN_FILE}`,
          `SIGNALBOX_BOOTSTRAP_CONFIG=${BOOTSTRAP_PATH}`,
          `SIGNALBOX_LOG_LEVEL=${ctx.logLevel}`,
          `SIGNALBOX_STATE_DIR=${STATE_DIR}`,
          ...(ext.ProxyEdge ? [`SIGNALBOX_DRAIN_MS=${drainMs(ext)}`, `SIGNALBOX_SESSION_HOLD_AFTER_MS=${sessionHoldAfterMs(ext)}`] : []),
          // Swarm fills it in per task: the extension names replaced tasks that must not install a config.
          'SIGNALBOX_TASK_ID={{.Task.ID}}',
          // tasks.<service> in DNS: whether another routing task serves while this one checks its backends.
          'SIGNALBOX_SERVICE_NAME={{.Service.Name}}',
        ],
        // One volume per node: a restarted task starts from the newest config this node ran. Then the
        // named volumes of ProxyMounts, e.g. for an access log file that outlives the task.
        Mounts: [{ Type: 'volume', Source: stateVolumeName(ext), Target: STATE_DIR }, ...ext.ProxyMounts.map(volumeMount)],
        // Configs (the bootstrap) is sent when the service is created or rolls anyway, never compared.
        Configs: bootstrap ? [{ ConfigID: bootstrap.id, ConfigName: bootstrap.name, File: { Name: BOOTSTRAP_PATH, UID: '0', GID: '0', Mode: 0o444 } }] : [],
        // Healthy while nginx runs a valid config; lets a failed roll be detected and rolled back.
        Healthcheck: routingHealthcheck(),
        StopSignal: ext.ProxyStopSignal,
        StopGracePeriod: routingStopGraceNs(ext),
        Secrets: [...proxyTokenMounts(ctx, snap), ...secretMounts(model.proxySecrets, snap, ext)],
      },
      Placement: placement(ext.ProxyConstraints, ext.ProxyPlacementPreferences),
      Networks: networks.map((Target) => ({ Target })),
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
    },
    Mode: { Replicated: { Replicas: ext.ProxyReplicas } },
    UpdateConfig: update,
    RollbackConfig: { ...update, FailureAction: 'pause' },
    // Behind an edge: no published port, and the edge finds the tasks by DNS (tasks.<name>), no VIP needed.
    EndpointSpec: ext.ProxyEdge ? { Mode: 'dnsrr' } : publishedEndpoint(ext),
  };
}

/** The published ports, on the edge (or on the proxy in single-hop mode). */
function publishedEndpoint(ext: ExtensionConfig) {
  const host = ext.PublishMode === 'host';
  return {
    // Ingress-published ports need a VIP; host-published ones work without (and without IPVS).
    Mode: host ? 'dnsrr' : 'vip',
    Ports: [
      { Protocol: 'tcp', TargetPort: ext.TargetPort, PublishedPort: ext.PublishedPort, PublishMode: host ? 'host' : 'ingress' },
      { Protocol: 'tcp', TargetPort: ext.TargetSSLPort, PublishedPort: ext.PublishedSSLPort, PublishMode: host ? 'host' : 'ingress' },
    ],
  };
}

/**
 * The edge: holds the published ports and the client connections, and forwards each TCP connection to
 * a routing proxy task found through swarm's DNS (tasks.<proxy>), with a PROXY protocol header. Its
 * config comes from these settings only (the agent generates it), so it never changes for routing,
 * network or certificate changes; it joins only the edge network. `image` is ProxyImage unless core
 * holds the edge on its current one until the routing proxy runs a new one (ManagedServices.edgeImage).
 */
export function desiredEdgeSpec(name: string, ext: ExtensionConfig, ctx: ManagedContext, edge: EdgeNetwork, image: string = ext.ProxyImage): ServiceSpec {
  const host = ext.PublishMode === 'host';
  const update = {
    Parallelism: 1,
    Delay: ns(ext.ProxyUpdateDelay, 1000),
    FailureAction: 'rollback',
    Monitor: 5_000_000_000,
    Order: host ? 'stop-first' : 'start-first',
  };
  return {
    Name: edgeServiceName(ext),
    Labels: { ...ext.ProxyLabels, [LABEL_ROLE]: 'edge', [LABEL_EXTENSION]: name, [LABEL_OWNER]: ctx.owner },
    TaskTemplate: {
      ContainerSpec: {
        Image: image,
        Labels: { ...ext.ProxyContainerLabels },
        Env: [
          `SIGNALBOX_EDGE_UPSTREAM=tasks.${ext.ProxyServiceName}`,
          `SIGNALBOX_CONFIG_PATH=/etc/nginx/signalbox-edge.conf`,
          `SIGNALBOX_HTTP_PORT=${ext.TargetPort}`,
          `SIGNALBOX_HTTPS_PORT=${ext.TargetSSLPort}`,
          `SIGNALBOX_AGENT_PORT=${AGENT_PORT}`,
          `SIGNALBOX_LOG_LEVEL=${ctx.logLevel}`,
          `SIGNALBOX_LAME_DUCK_MS=${lameDuckMs(ext)}`,
          // Only when set: an edge spec that does not change is never replaced (stop-first in host mode).
          ...(ext.Config.HideInfoHeaders ? ['SIGNALBOX_EDGE_HIDE_INFO_HEADERS=1'] : []),
        ],
        Healthcheck: agentHealthcheck(),
        StopSignal: 'SIGQUIT',
        StopGracePeriod: ns(ext.ProxyStopGracePeriod, 10_000),
      },
      Placement: placement(ext.ProxyConstraints, ext.ProxyPlacementPreferences),
      Networks: [{ Target: edge.id }],
      RestartPolicy: { Condition: 'any', Delay: 1_000_000_000 },
    },
    // EdgeReplicas 0 (left out) keeps ProxyReplicas, so an edge deployed before the key existed is unchanged.
    Mode: { Replicated: { Replicas: ext.EdgeReplicas || ext.ProxyReplicas } },
    UpdateConfig: update,
    RollbackConfig: { ...update, FailureAction: 'pause' },
    EndpointSpec: publishedEndpoint(ext),
  };
}
