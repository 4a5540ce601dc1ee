// The config.toml contract: one declaration per key, in one table per section, from which the JSON
// Schema, the defaults, the checks beyond the schema (config.ts runs each key's `check`), the commented
// example (`signalbox config example`) and docs/configuration.md (config-docs.ts) are all generated,
// so none of them can drift from the others.
import type { AcmeConfig, ExtensionConfig, NginxTuning, SignalboxConfig } from './config-types.js';
import { DOCKER_ENDPOINT, DURATION, LISTEN_ADDRESS, OPTIONAL_HTTP_URL, PLACEMENT_CONSTRAINTS, PLACEMENT_PREFERENCES, POSITIVE_DURATION, RAW_OPTIONS, STOP_SIGNAL } from './config-checks.js';
import type { ConfigKeyCheck } from './config-checks.js';

/** The subset of JSON Schema (draft-07) the config schema uses. */
export interface ConfigJsonSchema {
  $schema?: string;
  title?: string;
  description?: string;
  type?: 'object' | 'string' | 'integer' | 'boolean' | 'array';
  default?: unknown;
  properties?: Record<string, ConfigJsonSchema>;
  additionalProperties?: boolean | ConfigJsonSchema;
  propertyNames?: ConfigJsonSchema;
  items?: ConfigJsonSchema;
  pattern?: string;
  enum?: readonly (string | number)[];
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
}

/**
 * Patterns used by the schema, each with the phrase that completes "must be …" in a diagnostic.
 * Strings rendered into nginx.conf never admit ';', '{', '}', line breaks or NUL.
 */
export const CONFIG_PATTERNS = {
  image: { pattern: '^\\S+$', expect: 'a Docker image reference without spaces, e.g. signalbox-proxy:local' },
  serviceName: {
    pattern: '^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$',
    expect: 'a Docker service name: letters, digits, "-" and "_", starting and ending with a letter or digit',
  },
  extensionName: {
    pattern: '^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$',
    expect: 'letters, digits, "-" and "_", starting and ending with a letter or digit',
  },
  optionalName: {
    pattern: '^(?:[a-zA-Z0-9](?:[-_.]*[a-zA-Z0-9]+)*)?$',
    expect: 'empty or a name of letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
  },
  networkName: {
    pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$',
    expect: 'a Docker network name: letters, digits, "-", "_" and ".", starting with a letter or digit',
  },
  absPath: {
    pattern: '^/[^\\s;{}\'"\\x00]*$',
    expect: 'an absolute path without spaces, quotes, ";", "{" or "}"',
  },
  accessLogTarget: {
    pattern:
      '^(?:/[^\\s;{}\'"\\x00]*|syslog:server=(?:[A-Za-z0-9.-]+|\\[[0-9A-Fa-f:]+\\]|unix:/[^\\s,;{}\'"\\x00]+)(?::\\d{1,5})?(?:,(?:facility=[a-z0-9]+|severity=[a-z]+|tag=[A-Za-z0-9_]+|nohostname))*)?$',
    expect:
      'empty, an absolute path without spaces, quotes, ";", "{" or "}", or nginx\'s syslog:server=<address>[:port][,facility=…][,severity=…][,tag=…][,nohostname], e.g. syslog:server=127.0.0.1:5140,nohostname',
  },
  optionalAbsPath: {
    pattern: '^(?:/[^\\s;{}\'"\\x00]*)?$',
    expect: 'empty or an absolute path without spaces, quotes, ";", "{" or "}"',
  },
  user: {
    pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*(?: [A-Za-z0-9_][A-Za-z0-9_.-]*)?$',
    expect: 'a user name, optionally followed by one space and a group name',
  },
  size: { pattern: '^\\d+[kKmMgG]?$', expect: 'an nginx size: digits with an optional k, m or g suffix, e.g. 8k or 32m' },
  time: { pattern: '^\\d+(?:ms|s|m|h|d)?$', expect: 'an nginx time: digits with an optional ms, s, m, h or d suffix, e.g. 60s' },
  buffers: { pattern: '^\\d+ \\d+[kKmM]?$', expect: 'a buffer count and size separated by one space, e.g. "4 8k"' },
  ciphers: {
    pattern: '^[A-Za-z0-9!+@:=,._-]+$',
    expect: 'an OpenSSL cipher list without spaces, e.g. HIGH:!aNULL:!MD5',
  },
  protocols: {
    pattern: '^(?:SSLv2|SSLv3|TLSv1|TLSv1\\.1|TLSv1\\.2|TLSv1\\.3)(?: (?:SSLv2|SSLv3|TLSv1|TLSv1\\.1|TLSv1\\.2|TLSv1\\.3))*$',
    expect: 'protocol names separated by single spaces, from SSLv2 SSLv3 TLSv1 TLSv1.1 TLSv1.2 TLSv1.3',
  },
  logFormat: {
    pattern: "^[^;{}'\\n\\r\\x00]*$",
    expect: 'an nginx log format without single quotes, ";", "{", "}", line breaks or NUL (it is written in single quotes)',
  },
  rawLine: { pattern: '^[^\\n\\r\\x00]*$', expect: 'a single line of nginx configuration (no line breaks or NUL)' },
  volumeMount: {
    pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*:/[^\\s:,;{}\'"\\x00]*$',
    expect: 'a named volume and an absolute path in the container, "<volume>:<path>", e.g. signalbox-logs:/var/log/signalbox',
  },
  cidr: {
    pattern: '^(?:(?:\\d{1,3}\\.){3}\\d{1,3}(?:/\\d{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(?:/\\d{1,3})?)$',
    expect: 'an IPv4 or IPv6 address, optionally with a /prefix length, e.g. 10.0.0.0/8',
  },
  hostPattern: {
    pattern: '^(?:\\*\\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$',
    expect: 'a lower-case host name or a wildcard such as *.example.com',
  },
  secretName: { pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]*$', expect: 'a Docker secret name: letters, digits, "-", "_" and ".", starting with a letter or digit' },
  optionalUrl: {
    pattern: '^(?:https?://[^\\s]+)?$',
    expect: 'empty or an http:// or https:// URL',
  },
  optionalEmail: {
    pattern: '^(?:[^\\s@,;<>]+@[^\\s@,;<>]+)?$',
    expect: 'empty or an e-mail address',
  },
  ownerList: {
    pattern: '^ *(?:-|[a-zA-Z0-9][a-zA-Z0-9_.-]*)(?: *, *(?:-|[a-zA-Z0-9][a-zA-Z0-9_.-]*))* *$',
    expect: 'comma-separated owners: stack names, or "-" for the services outside any stack',
  },
} as const;

export type ConfigPatternName = keyof typeof CONFIG_PATTERNS;

/**
 * One key's declaration: its type (kind), default, schema (range, pattern, enum), docs text, examples
 * and the check beyond the schema with its code. A new key is one entry in its section's table below,
 * plus its field in config-types.ts (the compiler then insists on both).
 */
interface SpecBase<V> {
  /** One sentence: the schema's description, the example file's comment and the docs' table cell. */
  description: string;
  /** Valid values besides the default, shown in the docs (a test parses each). */
  examples?: readonly V[];
  /** A rule the schema cannot express (config-checks.ts); its code is the check's. */
  check?: ConfigKeyCheck<V>;
}
export interface ConfigStringSpec<T extends string = string> extends SpecBase<T> {
  kind: 'string';
  default: T;
  pattern?: ConfigPatternName;
  enum?: readonly T[];
  maxLength?: number;
  /** The default gets "-<NAME>" appended outside [Extensions.default] (service names stay distinct). */
  perExtensionDefault?: true;
}
export interface ConfigIntegerSpec extends SpecBase<number> {
  kind: 'integer';
  default: number;
  minimum: number;
  maximum: number;
}
export interface ConfigBooleanSpec extends SpecBase<boolean> {
  kind: 'boolean';
  default: boolean;
}
export interface ConfigListSpec extends SpecBase<readonly string[]> {
  kind: 'list';
  default: readonly string[];
  itemPattern?: ConfigPatternName;
}
export interface ConfigMapSpec extends SpecBase<Readonly<Record<string, string>>> {
  kind: 'map';
  default: Readonly<Record<string, string>>;
  keyPattern?: ConfigPatternName;
  valuePattern?: ConfigPatternName;
}
export type ConfigKeySpec = ConfigStringSpec | ConfigIntegerSpec | ConfigBooleanSpec | ConfigListSpec | ConfigMapSpec;

// [V] stops unions such as 'ingress' | 'host' from distributing.
type SpecFor<V> = [V] extends [string]
  ? ConfigStringSpec<V>
  : [V] extends [number]
    ? ConfigIntegerSpec
    : [V] extends [boolean]
      ? ConfigBooleanSpec
      : [V] extends [readonly string[]]
        ? ConfigListSpec
        : [V] extends [Record<string, string>]
          ? ConfigMapSpec
          : never;
/** A spec for every leaf key of T (the compiler checks none is missing and each default has the right type). */
export type ConfigSectionSpecs<T> = { readonly [K in keyof T]-?: SpecFor<T[K]> };

export type TopLevelConfig = Omit<SignalboxConfig, 'Extensions'>;
export type ExtensionLeafConfig = Omit<ExtensionConfig, 'Config' | 'Acme'>;

const PORT = { minimum: 1, maximum: 65535 } as const;

export const CONFIG_TOP_LEVEL_KEYS: ConfigSectionSpecs<TopLevelConfig> = {
  ListenAddr: {
    kind: 'string',
    check: LISTEN_ADDRESS,
    examples: ['0.0.0.0:8080', '[::1]:8080'],
    default: ':8080',
    description: "Address core's HTTP API listens on inside its container, [host]:port.",
  },
  DockerURL: {
    kind: 'string',
    check: DOCKER_ENDPOINT,
    examples: ['tcp://10.0.0.5:2376'],
    default: 'unix:///var/run/docker.sock',
    description: 'Docker API endpoint core talks to: unix:///path/to/socket or tcp://host:port.',
  },
  TLSCACert: { kind: 'string', default: '', description: 'CA certificate file for a tcp:// DockerURL; TLSCACert, TLSCert and TLSKey are set together or not at all.' },
  TLSCert: { kind: 'string', default: '', description: 'Client certificate file for a tcp:// DockerURL.' },
  TLSKey: { kind: 'string', default: '', description: 'Client private key file for a tcp:// DockerURL.' },
  AllowInsecure: { kind: 'boolean', default: false, description: "Skip verification of the Docker API's TLS certificate." },
  PollInterval: {
    kind: 'string',
    check: POSITIVE_DURATION,
    examples: ['500ms', '1m30s'],
    default: '3s',
    description: 'How often core re-reads the whole swarm state in addition to watching events (Go duration, above 0).',
  },
  EndpointOverride: {
    kind: 'string',
    check: OPTIONAL_HTTP_URL,
    examples: ['http://signalbox-core:8080'],
    default: '',
    description: "URL extensions use to reach core's API (http://host:port); empty = the core service's name on the stack network.",
  },
};

export const CONFIG_EXTENSION_KEYS: ConfigSectionSpecs<ExtensionLeafConfig> = {
  Image: { kind: 'string', default: 'signalbox-extension:local', pattern: 'image', description: 'Image of the extension service, which renders and validates nginx.conf.' },
  Args: { kind: 'list', default: [], description: 'Extra command-line arguments for the extension container.' },
  Labels: { kind: 'map', default: {}, description: 'Docker labels on the extension service.' },
  ContainerLabels: { kind: 'map', default: {}, description: "Docker labels on the extension's containers." },
  Constraints: {
    kind: 'list',
    check: PLACEMENT_CONSTRAINTS,
    examples: [['node.labels.lb==true', 'node.role!=worker']],
    default: ['node.role==manager'],
    description: 'Placement constraints of the extension service.',
  },
  PlacementPreferences: { kind: 'list', check: PLACEMENT_PREFERENCES, examples: [['spread=node.labels.zone']], default: [], description: 'Placement preferences of the extension service.' },
  ServiceName: {
    kind: 'string',
    maxLength: 63,
    perExtensionDefault: true,
    default: 'signalbox-extension',
    pattern: 'serviceName',
    description: 'Name of the extension service; the default is signalbox-extension-<NAME> for sections other than [Extensions.default].',
  },
  ProxyImage: {
    kind: 'string',
    default: 'signalbox-proxy:local',
    pattern: 'image',
    description: 'Image of the proxy service: stock nginx run by the proxy agent. Behind the edge, the edge takes a new image only once the routing proxy runs it.',
  },
  ProxyArgs: { kind: 'list', default: [], description: 'Extra command-line arguments for the proxy container.' },
  ProxyLabels: { kind: 'map', default: {}, description: 'Docker labels on the proxy service.' },
  ProxyContainerLabels: { kind: 'map', default: {}, description: "Docker labels on the proxy's containers." },
  ProxyServiceName: {
    kind: 'string',
    maxLength: 63,
    perExtensionDefault: true,
    default: 'signalbox-proxy',
    pattern: 'serviceName',
    description: 'Name of the proxy service; the default is signalbox-proxy-<NAME> for sections other than [Extensions.default].',
  },
  ProxyConfigPath: { kind: 'string', default: '/etc/nginx/nginx.conf', pattern: 'absPath', description: 'Where nginx.conf is installed inside the proxy container.' },
  ProxyReplicas: { kind: 'integer', default: 1, minimum: 0, maximum: 100, description: 'Number of proxy tasks.' },
  ProxyStopSignal: {
    kind: 'string',
    check: STOP_SIGNAL,
    examples: ['SIGTERM'],
    default: 'SIGQUIT',
    description: 'Signal that stops a proxy task; SIGQUIT lets nginx finish the requests in flight.',
  },
  ProxyStopGracePeriod: { kind: 'string', check: DURATION, examples: ['1m30s'], default: '10s', description: 'How long a stopping proxy task may take before it is killed (Go duration).' },
  ProxySessionGracePeriod: {
    kind: 'string',
    check: DURATION,
    examples: ['0s', '1h'],
    default: '5m',
    description:
      "Behind the edge (ProxyEdge = true): how long a replaced routing proxy keeps the client sessions it cannot hand over, TLS passthrough sessions and WebSockets, before swarm kills it and cuts them (Go duration). It is the routing proxies' stop grace period, the longer of this and ProxyStopGracePeriod. Nothing waits for it: routes move to the new tasks at once, and a replaced task exits as soon as no such session is left. Costs: a replaced task that still holds one stays on its node (about 50 MB) up to this long, and swarm's scheduler counts it when it places tasks. 0s = ProxyStopGracePeriod alone.",
  },
  ProxyMaxDrainingGenerations: {
    kind: 'integer',
    default: 4,
    minimum: 0,
    maximum: 1000,
    description:
      'Most generations of nginx workers a proxy keeps draining after reloads (each holds its connections, e.g. WebSockets, and a full copy of its config); past it the oldest is stopped and its connections closed. Only generations retired at least 30 s ago count, so a burst of routine reloads never stops a WebSocket: memory is bounded by (this + reloads within 30 s) generations. 0 = no cap (memory then grows with reloads × config size until WorkerShutdownTimeout).',
  },
  ProxyMounts: {
    kind: 'list',
    default: [],
    itemPattern: 'volumeMount',
    description:
      'Named volumes mounted into every proxy task, each "<volume>:<absolute path>", e.g. "signalbox-logs:/var/log/signalbox" to keep the access log in a file on the node (AccessLogPath = "/var/log/signalbox/access.log"). Docker creates a missing volume on each node with the local driver.',
  },
  ProxyConstraints: {
    kind: 'list',
    check: PLACEMENT_CONSTRAINTS,
    examples: [['node.labels.edge==true']],
    default: ['node.platform.os==linux'],
    description: 'Placement constraints of the proxy service.',
  },
  ProxyPlacementPreferences: { kind: 'list', check: PLACEMENT_PREFERENCES, examples: [['spread=node.id']], default: [], description: 'Placement preferences of the proxy service.' },
  ProxyUpdateDelay: {
    kind: 'string',
    check: DURATION,
    examples: ['0s', '500ms'],
    default: '1s',
    description: 'Pause between proxy tasks during a rolling update (Go duration). Behind the edge on a one-node swarm the routing proxies are replaced all at once, and it does not apply to them.',
  },
  ProxyNetworkDetachDelay: {
    kind: 'string',
    check: DURATION,
    examples: ['0s', '5m'],
    default: '60s',
    description:
      'How long the proxy stays on a network after the last routed service on it went away (Go duration), so a service removed and re-created (a redeploy, a convergence loop) does not replace the proxy twice. A network whose stack has no service left (docker stack rm) is let go at once, so the stack can remove it. 0s = detach at once. Costs: a detached network stays attached (and cannot be removed by hand) for this long.',
  },
  ServiceCluster: {
    kind: 'string',
    default: '',
    pattern: 'optionalName',
    description: 'Services (com.docker.lb.service_cluster label) this extension routes; empty = services without that label.',
  },
  PublishMode: {
    kind: 'string',
    default: 'ingress',
    enum: ['ingress', 'host'],
    description: 'How proxy ports are published: ingress (routing mesh, needs IPVS) or host (on each node running a proxy task).',
  },
  ProxyEdge: {
    kind: 'boolean',
    default: true,
    description:
      'true: an edge service (<ProxyServiceName>-edge) publishes the ports and forwards HTTP requests (L7, each on a connection of its own, the client address in a header) and TLS connections (L4, PROXY protocol) to the routing proxies, so the keep-alive connection of an HTTP client never sees a proxy reload or roll; the proxies publish nothing, so joining a network or mounting a certificate replaces them start-first with no failed request. false: single hop, the proxy publishes the ports itself (one hop less, for an external load balancer; in host mode every new network or certificate then replaces the proxy stop-first).',
  },
  EdgeReplicas: {
    kind: 'integer',
    default: 0,
    minimum: 0,
    maximum: 100,
    examples: [1, 3],
    description:
      'Number of edge tasks (ProxyEdge = true); 0 = ProxyReplicas. Set it apart from ProxyReplicas to run more routing proxies than edges, e.g. ProxyReplicas = 2 and EdgeReplicas = 1 on one host-mode node (a host port admits one edge task per node), so the edge always has a second routing proxy to retry on and a routing proxy that dies costs no request; in a multi-node swarm, EdgeReplicas = the number of nodes ProxyConstraints allow.',
  },
  PublishedPort: { kind: 'integer', default: 8080, ...PORT, description: 'Port published for HTTP.' },
  TargetPort: { kind: 'integer', default: 80, ...PORT, description: 'Port nginx listens on for HTTP inside the proxy container.' },
  PublishedSSLPort: { kind: 'integer', default: 8443, ...PORT, description: 'Port published for HTTPS and SSL passthrough.' },
  TargetSSLPort: { kind: 'integer', default: 443, ...PORT, description: 'Port nginx listens on for HTTPS inside the proxy container.' },
  SSLRedirectPort: {
    kind: 'integer',
    default: 0,
    minimum: 0,
    maximum: 65535,
    description: 'Port com.docker.lb.ssl_only redirects clients to (302, as Interlock); 0 = PublishedSSLPort. Set 443 when clients reach the proxy through a load balancer listening on 443.',
  },
  Template: {
    kind: 'string',
    default: '',
    pattern: 'optionalName',
    description: "Name of a Docker config holding a nunjucks nginx.conf template fed the view model (docs/custom-templates.md); empty = the built-in template. Interlock's Go templates are refused.",
  },
  Networks: {
    kind: 'list',
    default: [],
    itemPattern: 'networkName',
    description: 'Networks the proxy always joins; empty = only the networks its routed services need.',
  },
  HostOwners: {
    kind: 'map',
    default: {},
    keyPattern: 'hostPattern',
    valuePattern: 'ownerList',
    description:
      'Hosts shared or reserved by the operator: host or wildcard → comma-separated owners (stack names, "-" = services outside any stack) that may serve the hosts it covers; no one else may. Hosts no rule covers belong to the owner of the first service that claims them. See docs/security.md.',
  },
  SecretOwners: {
    kind: 'map',
    default: {},
    keyPattern: 'secretName',
    valuePattern: 'ownerList',
    description:
      'Certificate secrets shared by the operator: secret name → comma-separated owners that may use it in ssl_cert/ssl_key. Other secrets belong to the stack that created them, else to the owner of the first service that uses them.',
  },
};

export const CONFIG_ACME_KEYS: ConfigSectionSpecs<AcmeConfig> = {
  DirectoryURL: {
    kind: 'string',
    default: '',
    pattern: 'optionalUrl',
    description:
      'ACME directory of the CA, e.g. https://acme-v02.api.letsencrypt.org/directory; empty = no ACME for this extension (services with com.docker.lb.acme=true get WARN_ACME_NOT_CONFIGURED).',
  },
  Email: { kind: 'string', default: '', pattern: 'optionalEmail', description: 'Contact e-mail of the ACME account (the CA writes to it about expiry and incidents); empty = none.' },
  CABundle: {
    kind: 'string',
    default: '',
    description:
      "PEM text of the CA certificate(s) to trust for the directory's HTTPS in addition to Node's bundled roots (a private CA, or pebble's in tests); a CA certificate is public, so it may sit in config.toml.",
  },
  AllowedHosts: {
    kind: 'list',
    default: [],
    itemPattern: 'hostPattern',
    description: 'Hosts that may get ACME certificates, exact or *.example.com (which covers names under example.com); empty = every host the cluster routes. Others get WARN_ACME_HOST_NOT_ALLOWED.',
  },
  RenewBefore: {
    kind: 'string',
    check: POSITIVE_DURATION,
    examples: ['240h'],
    default: '720h',
    description: 'Renew a certificate this long before it expires (Go duration), or once two thirds of its lifetime have passed, whichever comes first.',
  },
  RetryInitial: {
    kind: 'string',
    check: POSITIVE_DURATION,
    examples: ['30s'],
    default: '1m',
    description: 'Wait after a failed order before the next try for that host (Go duration); doubled after each failure.',
  },
  RetryMax: { kind: 'string', check: POSITIVE_DURATION, examples: ['24h'], default: '6h', description: 'Longest wait between two tries for one host (Go duration).' },
  StoreKeySecret: {
    kind: 'string',
    default: 'signalbox-acme-store-key',
    pattern: 'secretName',
    examples: ['ops-acme-store-key'],
    description:
      'Docker secret whose content (at least 32 bytes) seals the ACME account and certificates kept in the swarm; core mounts it into the extension only. Not the API token, so rotating the token keeps them. scripts/lib/stack.sh deploy_stack creates the default one once; changing it makes the stored records unreadable (their hosts are ordered again).',
  },
};

const SECONDS = { minimum: 1, maximum: 86400 } as const;

export const CONFIG_NGINX_TUNING_KEYS: ConfigSectionSpecs<NginxTuning> = {
  User: {
    kind: 'string',
    default: 'www-data',
    pattern: 'user',
    description: "User nginx workers run as (user); www-data, not Interlock's nginx, as every Debian-based proxy image has it.",
  },
  PidPath: { kind: 'string', default: '/var/run/proxy.pid', pattern: 'absPath', description: 'nginx pid file (pid).' },
  MaxConnections: { kind: 'integer', default: 1024, minimum: 1, maximum: 1048576, description: 'Simultaneous connections per worker (worker_connections).' },
  WorkerProcesses: { kind: 'integer', default: 1, minimum: 1, maximum: 1024, description: 'Number of nginx worker processes (worker_processes).' },
  RLimitNoFile: { kind: 'integer', default: 65535, minimum: 1, maximum: 1048576, description: 'Open-file limit of each worker (worker_rlimit_nofile).' },
  ConnectTimeout: { kind: 'integer', default: 600, ...SECONDS, description: 'Seconds to wait for a connection to an upstream (proxy_connect_timeout).' },
  SendTimeout: { kind: 'integer', default: 600, ...SECONDS, description: 'Seconds between two writes to an upstream before giving up (proxy_send_timeout).' },
  ReadTimeout: { kind: 'integer', default: 600, ...SECONDS, description: 'Seconds between two reads from an upstream before giving up (proxy_read_timeout).' },
  KeepaliveTimeout: { kind: 'string', default: '75s', pattern: 'time', description: 'How long an idle client connection stays open (keepalive_timeout).' },
  ClientMaxBodySize: { kind: 'string', default: '32m', pattern: 'size', description: 'Largest request body accepted, 0 = unlimited (client_max_body_size).' },
  ClientBodyBufferSize: { kind: 'string', default: '8k', pattern: 'size', description: 'Buffer for reading request bodies (client_body_buffer_size).' },
  ClientHeaderBufferSize: { kind: 'string', default: '1k', pattern: 'size', description: 'Buffer for reading request headers (client_header_buffer_size).' },
  LargeClientHeaderBuffers: {
    kind: 'string',
    default: '4 8k',
    pattern: 'buffers',
    description: 'Number and size of buffers for large request headers (large_client_header_buffers).',
  },
  ClientBodyTimeout: { kind: 'string', default: '60s', pattern: 'time', description: 'Timeout between two reads of a request body (client_body_timeout).' },
  UnderscoresInHeaders: { kind: 'boolean', default: false, description: 'Accept request header names containing underscores (underscores_in_headers).' },
  ServerNamesHashBucketSize: {
    kind: 'integer',
    default: 0,
    minimum: 0,
    maximum: 4096,
    description: 'server_names_hash_bucket_size; 0 = computed from the longest server name.',
  },
  UpstreamZoneSize: {
    kind: 'integer',
    default: 64,
    minimum: 32,
    maximum: 1048576,
    description:
      'Room per upstream, in kilobytes, in the one shared upstream zone (nginx finds zones by a linear scan, so there is one zone, sized by this times the number of upstreams); nginx needs at least 32.',
  },
  SSLCiphers: { kind: 'string', default: 'HIGH:!aNULL:!MD5', pattern: 'ciphers', description: 'Ciphers offered to TLS clients (ssl_ciphers).' },
  SSLProtocols: { kind: 'string', default: 'TLSv1.2 TLSv1.3', pattern: 'protocols', description: 'TLS protocol versions accepted (ssl_protocols).' },
  SSLDefaultDHParam: {
    kind: 'integer',
    default: 2048,
    minimum: 1024,
    maximum: 8192,
    description: 'Size in bits of the Diffie-Hellman parameters to generate when SSLDefaultDHParamPath is empty.',
  },
  SSLDefaultDHParamPath: {
    kind: 'string',
    default: '',
    pattern: 'optionalAbsPath',
    description: 'Diffie-Hellman parameters file inside the proxy container (ssl_dhparam); empty = generated.',
  },
  AccessLogPath: {
    kind: 'string',
    default: '/dev/stdout',
    pattern: 'accessLogTarget',
    description:
      'Access log file (access_log); empty = no access log (access_log off); "syslog:server=127.0.0.1:5140,nohostname" sends each line to the proxy agent, which writes them to its stdout many at a time (AccessLogBuffer does not apply: nginx cannot buffer syslog). See Access logs below.',
  },
  AccessLogBuffer: {
    kind: 'string',
    default: '64k',
    pattern: 'size',
    description:
      'Access log lines are collected in a buffer of this size and written together (access_log ... buffer=); "0" writes each line at once. With more than one worker writing to /dev/stdout, use "4k" or less: larger writes to the shared pipe can interleave. See Access logs below.',
  },
  AccessLogFlush: {
    kind: 'string',
    default: '1s',
    pattern: 'time',
    description: 'Longest time a buffered access log line waits before it is written (access_log ... flush=).',
  },
  ErrorLogPath: { kind: 'string', default: '/dev/stderr', pattern: 'absPath', description: 'Error log file (error_log).' },
  MainLogFormat: {
    kind: 'string',
    default: '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
    pattern: 'logFormat',
    description: 'The "main" access log format (log_format main), without the surrounding single quotes.',
  },
  TraceLogFormat: {
    kind: 'string',
    default:
      '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" request_id=$request_id upstream=$upstream_addr upstream_response_time=$upstream_response_time request_time=$request_time',
    pattern: 'logFormat',
    description: 'The "trace" access log format, with request id and upstream timings, without the surrounding single quotes.',
  },
  HideInfoHeaders: { kind: 'boolean', default: false, description: "Hide nginx's version and the proxy's information headers from responses." },
  TrustedProxies: {
    kind: 'list',
    default: [],
    itemPattern: 'cidr',
    description:
      'Load balancers in front of the proxy (addresses or CIDRs) whose X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host are kept and passed on; from any other client they are replaced by what the proxy sees. A balancer that terminates TLS and forwards plain HTTP with X-Forwarded-Proto: https is not redirected by com.docker.lb.ssl_only (no redirect loop). Empty = nobody is trusted.',
  },
  WorkerShutdownTimeout: {
    kind: 'string',
    default: '1h',
    pattern: 'time',
    description:
      'How long old workers may drain connections after a reload (worker_shutdown_timeout). The 1h default lets WebSockets opened before a reload keep working (websocket endpoints idle out after 1h anyway); lower it to bound the memory of old workers when reloads are frequent and connections long-lived.',
  },
  GlobalOptions: {
    kind: 'list',
    check: RAW_OPTIONS,
    examples: [['worker_priority -5;']],
    default: [],
    itemPattern: 'rawLine',
    description: "Raw lines added to nginx.conf's main context; directives that load code or files are refused.",
  },
  HTTPOptions: {
    kind: 'list',
    check: RAW_OPTIONS,
    examples: [['gzip on;']],
    default: [],
    itemPattern: 'rawLine',
    description: 'Raw lines added to the http block, with the same restrictions as GlobalOptions.',
  },
  TCPOptions: {
    kind: 'list',
    check: RAW_OPTIONS,
    examples: [['proxy_timeout 10m;']],
    default: [],
    itemPattern: 'rawLine',
    description: 'Raw lines added to the stream block (SSL passthrough), with the same restrictions as GlobalOptions.',
  },
};

/** The name of the extension section whose service names carry no -<NAME> suffix. */
export const DEFAULT_EXTENSION_NAME = 'default';

/** Longest [Extensions.NAME] name. */
export const EXTENSION_NAME_MAX = 40;

// ---------------------------------------------------------------------------------------------------------
// Schema

function leafSchema(spec: ConfigKeySpec): ConfigJsonSchema {
  const base = { description: spec.description };
  switch (spec.kind) {
    case 'string': {
      const s: ConfigJsonSchema = { ...base, type: 'string', default: spec.default };
      if (spec.pattern) s.pattern = CONFIG_PATTERNS[spec.pattern].pattern;
      if (spec.enum) s.enum = [...spec.enum];
      if (spec.maxLength !== undefined) s.maxLength = spec.maxLength;
      return s;
    }
    case 'integer':
      return { ...base, type: 'integer', default: spec.default, minimum: spec.minimum, maximum: spec.maximum };
    case 'boolean':
      return { ...base, type: 'boolean', default: spec.default };
    case 'list': {
      const items: ConfigJsonSchema = { type: 'string' };
      if (spec.itemPattern) items.pattern = CONFIG_PATTERNS[spec.itemPattern].pattern;
      return { ...base, type: 'array', default: [...spec.default], items };
    }
    case 'map': {
      const values: ConfigJsonSchema = { type: 'string' };
      if (spec.valuePattern) values.pattern = CONFIG_PATTERNS[spec.valuePattern].pattern;
      const m: ConfigJsonSchema = { ...base, type: 'object', default: { ...spec.default }, additionalProperties: values };
      if (spec.keyPattern) m.propertyNames = { pattern: CONFIG_PATTERNS[spec.keyPattern].pattern };
      return m;
    }
  }
}

function sectionProperties(specs: Readonly<Record<string, ConfigKeySpec>>): Record<string, ConfigJsonSchema> {
  return Object.fromEntries(Object.entries(specs).map(([k, spec]) => [k, leafSchema(spec)]));
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

const nginxTuningSchema: ConfigJsonSchema = {
  description: "nginx tuning of this extension's proxies: Interlock's [Extensions.NAME.Config] keys.",
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: sectionProperties(CONFIG_NGINX_TUNING_KEYS),
};

const acmeSchema: ConfigJsonSchema = {
  description: 'Certificates from an ACME CA for services labelled com.docker.lb.acme=true (docs/tls.md).',
  type: 'object',
  default: {},
  additionalProperties: false,
  properties: sectionProperties(CONFIG_ACME_KEYS),
};

const extensionSchema: ConfigJsonSchema = {
  description: 'One extension and the proxy service it feeds.',
  type: 'object',
  additionalProperties: false,
  properties: { ...sectionProperties(CONFIG_EXTENSION_KEYS), Config: nginxTuningSchema, Acme: acmeSchema },
};

/** JSON Schema (draft-07) of config.toml; also published as packages/model/schema/config.schema.json. */
export const configSchema: ConfigJsonSchema = deepFreeze({
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Signalbox config.toml',
  description: "Configuration of Signalbox, with the keys of Docker Interlock's config.toml.",
  type: 'object',
  additionalProperties: false,
  properties: {
    ...sectionProperties(CONFIG_TOP_LEVEL_KEYS),
    Extensions: {
      description: 'Extensions by name, one [Extensions.NAME] section each; at least one is required.',
      type: 'object',
      default: {},
      propertyNames: { pattern: CONFIG_PATTERNS.extensionName.pattern, maxLength: EXTENSION_NAME_MAX },
      additionalProperties: extensionSchema,
    },
  },
} satisfies ConfigJsonSchema);

// ---------------------------------------------------------------------------------------------------------
// Defaults

function cloneDefault(spec: ConfigKeySpec): unknown {
  if (Array.isArray(spec.default)) return [...(spec.default as readonly string[])];
  if (typeof spec.default === 'object') return { ...spec.default };
  return spec.default;
}

/** Default for one key; a perExtensionDefault (ServiceName, ProxyServiceName) depends on the extension's name. */
export function configKeyDefault(spec: ConfigKeySpec, extensionName?: string): unknown {
  if (spec.kind === 'string' && spec.perExtensionDefault && extensionName !== undefined && extensionName !== DEFAULT_EXTENSION_NAME) {
    return `${String(spec.default)}-${extensionName}`;
  }
  return cloneDefault(spec);
}

function sectionDefaults(specs: Readonly<Record<string, ConfigKeySpec>>, extensionName?: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(specs).map(([k, spec]) => [k, configKeyDefault(spec, extensionName)]));
}

/** A fresh, mutable, fully defaulted extension section named `name`. */
export function defaultExtensionConfig(name: string): ExtensionConfig {
  return {
    ...sectionDefaults(CONFIG_EXTENSION_KEYS, name),
    Config: sectionDefaults(CONFIG_NGINX_TUNING_KEYS),
    Acme: sectionDefaults(CONFIG_ACME_KEYS),
  } as unknown as ExtensionConfig;
}
