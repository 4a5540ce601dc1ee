// The config.toml contract: one table of key specs per section, from which the JSON Schema, the defaults,
// the commented example (`signalbox config example`) and docs/configuration.md are all generated,
// so none of them can drift from the others.
import type { AcmeConfig, ExtensionConfig, NginxTuning, SignalboxConfig } from './config-types.js';
import { forbiddenDirectiveList } from './directive-policy.js';

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

interface SpecBase {
  description: string;
}
export interface ConfigStringSpec<T extends string = string> extends SpecBase {
  kind: 'string';
  default: T;
  pattern?: ConfigPatternName;
  enum?: readonly T[];
}
export interface ConfigIntegerSpec extends SpecBase {
  kind: 'integer';
  default: number;
  minimum: number;
  maximum: number;
}
export interface ConfigBooleanSpec extends SpecBase {
  kind: 'boolean';
  default: boolean;
}
export interface ConfigListSpec extends SpecBase {
  kind: 'list';
  default: readonly string[];
  itemPattern?: ConfigPatternName;
}
export interface ConfigMapSpec extends SpecBase {
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
  ListenAddr: { kind: 'string', default: ':8080', description: "Address core's HTTP API listens on inside its container, [host]:port." },
  DockerURL: {
    kind: 'string',
    default: 'unix:///var/run/docker.sock',
    description: 'Docker API endpoint core talks to: unix:///path/to/socket or tcp://host:port.',
  },
  TLSCACert: { kind: 'string', default: '', description: 'CA certificate file for a tcp:// DockerURL; TLSCACert, TLSCert and TLSKey are set together or not at all.' },
  TLSCert: { kind: 'string', default: '', description: 'Client certificate file for a tcp:// DockerURL.' },
  TLSKey: { kind: 'string', default: '', description: 'Client private key file for a tcp:// DockerURL.' },
  AllowInsecure: { kind: 'boolean', default: false, description: "Skip verification of the Docker API's TLS certificate." },
  PollInterval: {
    kind: 'string',
    default: '3s',
    description: 'How often core re-reads the whole swarm state in addition to watching events (Go duration, above 0).',
  },
  EndpointOverride: {
    kind: 'string',
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
    default: ['node.role==manager'],
    description: 'Placement constraints of the extension service, each "<attribute>==<value>" or "<attribute>!=<value>".',
  },
  PlacementPreferences: { kind: 'list', default: [], description: 'Placement preferences of the extension service, each "spread=<label path>".' },
  ServiceName: {
    kind: 'string',
    default: 'signalbox-extension',
    pattern: 'serviceName',
    description: 'Name of the extension service; the default is signalbox-extension-<NAME> for sections other than [Extensions.default].',
  },
  ProxyImage: { kind: 'string', default: 'signalbox-proxy:local', pattern: 'image', description: 'Image of the proxy service: stock nginx run by the proxy agent.' },
  ProxyArgs: { kind: 'list', default: [], description: 'Extra command-line arguments for the proxy container.' },
  ProxyLabels: { kind: 'map', default: {}, description: 'Docker labels on the proxy service.' },
  ProxyContainerLabels: { kind: 'map', default: {}, description: "Docker labels on the proxy's containers." },
  ProxyServiceName: {
    kind: 'string',
    default: 'signalbox-proxy',
    pattern: 'serviceName',
    description: 'Name of the proxy service; the default is signalbox-proxy-<NAME> for sections other than [Extensions.default].',
  },
  ProxyConfigPath: { kind: 'string', default: '/etc/nginx/nginx.conf', pattern: 'absPath', description: 'Where nginx.conf is installed inside the proxy container.' },
  ProxyReplicas: { kind: 'integer', default: 1, minimum: 0, maximum: 100, description: 'Number of proxy tasks.' },
  ProxyStopSignal: {
    kind: 'string',
    default: 'SIGQUIT',
    description: 'Signal that stops a proxy task; SIGQUIT lets nginx finish the requests in flight. One of SIGQUIT SIGTERM SIGINT SIGHUP SIGUSR1 SIGUSR2 SIGKILL.',
  },
  ProxyStopGracePeriod: { kind: 'string', default: '10s', description: 'How long a stopping proxy task may take before it is killed (Go duration).' },
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
    default: ['node.platform.os==linux'],
    description: 'Placement constraints of the proxy service, each "<attribute>==<value>" or "<attribute>!=<value>".',
  },
  ProxyPlacementPreferences: { kind: 'list', default: [], description: 'Placement preferences of the proxy service, each "spread=<label path>".' },
  ProxyUpdateDelay: { kind: 'string', default: '1s', description: 'Pause between proxy tasks during a rolling update (Go duration).' },
  ProxyNetworkDetachDelay: {
    kind: 'string',
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
  PublishedPort: { kind: 'integer', default: 8080, ...PORT, description: 'Port published for HTTP.' },
  TargetPort: { kind: 'integer', default: 80, ...PORT, description: 'Port nginx listens on for HTTP inside the proxy container.' },
  PublishedSSLPort: { kind: 'integer', default: 8443, ...PORT, description: 'Port published for HTTPS and SSL passthrough.' },
  TargetSSLPort: { kind: 'integer', default: 443, ...PORT, description: 'Port nginx listens on for HTTPS inside the proxy container.' },
  SSLRedirectPort: {
    kind: 'integer',
    default: 0,
    minimum: 0,
    maximum: 65535,
    description:
      'Port com.docker.lb.ssl_only redirects clients to (302, as Interlock); 0 = PublishedSSLPort. Set 443 when clients reach the proxy through a load balancer listening on 443.',
  },
  Template: {
    kind: 'string',
    default: '',
    pattern: 'optionalName',
    description:
      "Name of a Docker config holding a nunjucks nginx.conf template fed the view model (docs/custom-templates.md); empty = the built-in template. Interlock's Go templates are refused.",
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
    default: '720h',
    description: 'Renew a certificate this long before it expires (Go duration), or once two thirds of its lifetime have passed, whichever comes first.',
  },
  RetryInitial: { kind: 'string', default: '1m', description: 'Wait after a failed order before the next try for that host (Go duration); doubled after each failure.' },
  RetryMax: { kind: 'string', default: '6h', description: 'Longest wait between two tries for one host (Go duration).' },
  StoreKeySecret: {
    kind: 'string',
    default: 'signalbox-acme-store-key',
    pattern: 'secretName',
    description:
      "Docker secret whose content (at least 32 bytes) seals the ACME account and certificates kept in the swarm; core mounts it into the extension only. Not the API token, so rotating the token keeps them. scripts/lib/stack.sh deploy_stack creates the default one once; changing it makes the stored records unreadable (their hosts are ordered again).",
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
    description: 'Room per upstream, in kilobytes, in the one shared upstream zone (nginx finds zones by a linear scan, so there is one zone, sized by this times the number of upstreams); nginx needs at least 32.',
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
    default:
      '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
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
    default: [],
    itemPattern: 'rawLine',
    description: "Raw lines added to nginx.conf's main context; load_module, include, ssl_engine, js_*, perl* and *_by_lua* are refused.",
  },
  HTTPOptions: { kind: 'list', default: [], itemPattern: 'rawLine', description: 'Raw lines added to the http block, with the same restrictions as GlobalOptions.' },
  TCPOptions: {
    kind: 'list',
    default: [],
    itemPattern: 'rawLine',
    description: 'Raw lines added to the stream block (SSL passthrough), with the same restrictions as GlobalOptions.',
  },
};

/** Signals ProxyStopSignal accepts. */
export const PROXY_STOP_SIGNALS: readonly string[] = ['SIGQUIT', 'SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGKILL'];

/** The name of the extension section whose service names carry no -<NAME> suffix. */
export const DEFAULT_EXTENSION_NAME = 'default';

const EXTENSION_NAME_MAX = 40;

// ---------------------------------------------------------------------------------------------------------
// Schema

function leafSchema(spec: ConfigKeySpec): ConfigJsonSchema {
  const base = { description: spec.description };
  switch (spec.kind) {
    case 'string': {
      const s: ConfigJsonSchema = { ...base, type: 'string', default: spec.default };
      if (spec.pattern) s.pattern = CONFIG_PATTERNS[spec.pattern].pattern;
      if (spec.enum) s.enum = [...spec.enum];
      if (spec.pattern === 'serviceName') s.maxLength = 63;
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
  description: 'nginx tuning of this extension\'s proxies: Interlock\'s [Extensions.NAME.Config] keys.',
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
  description: 'Configuration of Signalbox, with the keys of Docker Interlock\'s config.toml.',
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

/** Default for one key; ServiceName and ProxyServiceName depend on the extension's name. */
export function configKeyDefault(spec: ConfigKeySpec, key: string, extensionName?: string): unknown {
  if ((key === 'ServiceName' || key === 'ProxyServiceName') && extensionName !== undefined && extensionName !== DEFAULT_EXTENSION_NAME) {
    return `${String(spec.default)}-${extensionName}`;
  }
  return cloneDefault(spec);
}

function sectionDefaults(specs: Readonly<Record<string, ConfigKeySpec>>, extensionName?: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(specs).map(([k, spec]) => [k, configKeyDefault(spec, k, extensionName)]));
}

/** A fresh, mutable, fully defaulted extension section named `name`. */
export function defaultExtensionConfig(name: string): ExtensionConfig {
  return {
    ...sectionDefaults(CONFIG_EXTENSION_KEYS, name),
    Config: sectionDefaults(CONFIG_NGINX_TUNING_KEYS),
    Acme: sectionDefaults(CONFIG_ACME_KEYS),
  } as unknown as ExtensionConfig;
}

// ---------------------------------------------------------------------------------------------------------
// Commented example (config.toml) and reference (docs/configuration.md)

function tomlString(s: string): string {
  // Literal strings read better for log formats full of double quotes; they cannot hold ' or control chars.
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (s.includes('"') && !s.includes("'") && !/[\x00-\x1f\x7f]/.test(s)) return `'${s}'`;
  return JSON.stringify(s);
}

function tomlKey(k: string): string {
  return /^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k);
}

function tomlValue(v: unknown): string {
  if (typeof v === 'string') return tomlString(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.length === 0 ? '[]' : `[${v.map(tomlValue).join(', ')}]`;
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v);
    return entries.length === 0 ? '{}' : `{ ${entries.map(([k, x]) => `${tomlKey(k)} = ${tomlValue(x)}`).join(', ')} }`;
  }
  throw new TypeError(`no TOML form for ${typeof v}`);
}

function exampleSection(specs: Readonly<Record<string, ConfigKeySpec>>, extensionName?: string): string[] {
  const lines: string[] = [];
  for (const [key, spec] of Object.entries(specs)) {
    lines.push(`# ${spec.description}`, `${key} = ${tomlValue(configKeyDefault(spec, key, extensionName))}`, '');
  }
  return lines;
}

/** A config.toml that sets every key to its default, each with a one-line comment. */
export function configExample(): string {
  const lines = [
    '# Signalbox config.toml: every key with its default value and a one-line description.',
    "# Key names are Docker Interlock's; see docs/configuration.md for types and allowed values.",
    '# Keys left out take these defaults, so a file with only an [Extensions.default] line is valid.',
    '',
    ...exampleSection(CONFIG_TOP_LEVEL_KEYS),
    '# One [Extensions.NAME] section per extension/proxy pair; at least one is required.',
    `[Extensions.${DEFAULT_EXTENSION_NAME}]`,
    ...exampleSection(CONFIG_EXTENSION_KEYS, DEFAULT_EXTENSION_NAME),
    '# nginx tuning of this extension\'s proxies.',
    `[Extensions.${DEFAULT_EXTENSION_NAME}.Config]`,
    ...exampleSection(CONFIG_NGINX_TUNING_KEYS),
    '# Certificates from an ACME CA for services labelled com.docker.lb.acme=true (off while DirectoryURL is empty).',
    `[Extensions.${DEFAULT_EXTENSION_NAME}.Acme]`,
    ...exampleSection(CONFIG_ACME_KEYS),
  ];
  while (lines[lines.length - 1] === '') lines.pop();
  return `${lines.join('\n')}\n`;
}

function typeName(spec: ConfigKeySpec): string {
  switch (spec.kind) {
    case 'string':
      return spec.enum ? spec.enum.map((e) => `"${e}"`).join(' \\| ') : 'string';
    case 'integer':
      return `integer ${spec.minimum}–${spec.maximum}`;
    case 'boolean':
      return 'boolean';
    case 'list':
      return 'array of strings';
    case 'map':
      return 'table of strings';
  }
}

function mdCode(s: string): string {
  return s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``;
}

function referenceTable(specs: Readonly<Record<string, ConfigKeySpec>>, defaultNote?: (key: string) => string | undefined): string[] {
  const rows = ['| Key | Type | Default | Description |', '|---|---|---|---|'];
  for (const [key, spec] of Object.entries(specs)) {
    const def = defaultNote?.(key) ?? mdCode(tomlValue(cloneDefault(spec)));
    const pattern = spec.kind === 'string' && spec.pattern ? ` Must be ${CONFIG_PATTERNS[spec.pattern].expect}.` : '';
    const itemPattern = spec.kind === 'list' && spec.itemPattern ? ` Each must be ${CONFIG_PATTERNS[spec.itemPattern].expect}.` : '';
    const cell = `${spec.description}${pattern}${itemPattern}`.replaceAll('|', '\\|').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
    rows.push(`| \`${key}\` | ${typeName(spec)} | ${def.replaceAll('|', '\\|')} | ${cell} |`);
  }
  return rows;
}

/** docs/configuration.md, generated from the same specs as the schema. */
export function configReferenceMarkdown(): string {
  const serviceNameNote = (key: string): string | undefined =>
    key === 'ServiceName' || key === 'ProxyServiceName'
      ? `${mdCode(`"${String(CONFIG_EXTENSION_KEYS[key].default)}"`)} in \`[Extensions.default]\`, else ${mdCode(`"${String(CONFIG_EXTENSION_KEYS[key].default)}-<NAME>"`)}`
      : undefined;
  const lines = [
    '# Configuration reference',
    '',
    '<!-- Generated by configReferenceMarkdown() in packages/model/src/config-schema.ts; do not edit by hand.',
    '     Regenerate with UPDATE_GOLDEN=1 and the packages/model/test/config tests. -->',
    '',
    "Signalbox reads a `config.toml` with the keys of Docker Interlock's. Every key is optional and",
    'takes the default below when left out; the only requirement is at least one `[Extensions.NAME]`',
    'section. `signalbox config example` prints a file with every key at its default, and',
    '`signalbox config check` validates a file. The JSON Schema is `packages/model/schema/config.schema.json`.',
    '',
    'Unknown keys are errors (with a suggestion for likely typos), as are values of the wrong type or',
    'out of range; all problems are reported at once, each naming the key by its dotted path, e.g.',
    '`Extensions.default.Config.MaxConnections`.',
    '',
    "An Interlock or UCP `config.toml` loads unchanged (see docs/migrating-from-interlock.md), each of",
    'the following reported as a warning (`WARN_CONFIG_*`, docs/errors.md) rather than an error:',
    '',
    "- key names match regardless of case, as Interlock's TOML decoding did (`RlimitNoFile` is `RLimitNoFile`);",
    '  a key given twice in two spellings is an error;',
    '- Interlock keys Signalbox does not need are ignored, each with what Signalbox does instead:',
    '  `HitlessServiceUpdate`, `ConfigImage`, `ConfigServiceName`, and in `[Extensions.NAME.Config]`',
    '  `Version`, `HTTPVersion`, `IPHash`, `AdminUser`, `AdminPass`, `SSLOpts`, `SSLVerify`;',
    "- an `Image`/`ProxyImage` naming one of Interlock's images (or plain `nginx` as `ProxyImage`) is",
    "  replaced by Signalbox's default image;",
    "- log formats written as nginx source (single-quoted pieces ending in `;`, as UCP wrote them) are",
    "  joined, and Interlock's `$reqid` is written `$request_id`;",
    '- empty strings in lists (`Args = [""]`) are dropped;',
    '- constraints on UCP node labels (`node.labels.com.docker.ucp.*`) and contradictory constraints',
    '  (`a==x` with `a==y`) are pointed out: the service they place would stay pending.',
    '',
    '`Args` and `ProxyArgs` are added to the image\'s command, as with Interlock\'s images (`-D` turns on',
    'debug logging).',
    '',
    '## Top level',
    '',
    ...referenceTable(CONFIG_TOP_LEVEL_KEYS),
    '',
    '## `[Extensions.NAME]`',
    '',
    `NAME is ${CONFIG_PATTERNS.extensionName.expect}, at most ${EXTENSION_NAME_MAX} characters.`,
    '',
    ...referenceTable(CONFIG_EXTENSION_KEYS, serviceNameNote),
    '',
    '## `[Extensions.NAME.Config]`',
    '',
    "nginx tuning with Interlock's key names. Sizes and times use nginx syntax; strings are written into",
    "nginx.conf, so they may not contain `;`, `{`, `}`, line breaks or NUL.",
    '',
    "`User` defaults to `www-data` rather than Interlock's `nginx`: `www-data` is Debian's web-server user",
    '(uid 33, from base-passwd), so it exists in every Debian-based proxy image: the official',
    '`nginx:*-bookworm` image and the offline base built from Debian\'s own nginx package, whose',
    '`nginx.conf` runs workers as `www-data`. An `nginx` user exists only where an image creates one.',
    '',
    ...referenceTable(CONFIG_NGINX_TUNING_KEYS),
    '',
    '## `[Extensions.NAME.Acme]`',
    '',
    'Automatic HTTPS for services labelled `com.docker.lb.acme=true` (a Signalbox extension; Interlock had no',
    'such section). ACME is off while `DirectoryURL` is empty. How certificates are obtained, stored and',
    'delivered: docs/tls.md.',
    '',
    ...referenceTable(CONFIG_ACME_KEYS),
    '',
    '## Access logs',
    '',
    'nginx writes one line per request to `AccessLogPath`, in the `main` format (`MainLogFormat`). Where it goes',
    'decides what it costs the node (figures: docs/performance.md, "Client path"; req/s through the deployed',
    'proxy as a share of the same task reached directly, the direct figure taken beside each option):',
    '',
    '| Setting | Read with | Cost |',
    '|---|---|---|',
    '| `AccessLogPath = "/dev/stdout"`, `AccessLogBuffer = "64k"` (the default) | `docker service logs <proxy service>` | Lines leave nginx in 64 KiB writes, at most `AccessLogFlush` (1 s) late: hundreds of lines per write instead of one. 0.93× direct in a run at load 15, 0.59× at load 5 (where even `off` gave 0.67×: the proxy itself, not the log, limits it there). The container runtime still stores every line (json-file: one JSON record each). Only one worker should write to the pipe with buffers above 4 KiB (`WorkerProcesses = 1`, the default); with more, use `"4k"`, whose writes stay whole (0.57–0.72× in two noisy runs). |',
    '| `AccessLogBuffer = "0"` (the default before) | `docker service logs` | A write per request, each line visible at once; the most expensive: 0.32–0.43× direct in every run, well below the others. |',
    '| `AccessLogBuffer = "4k"` | `docker service logs` | Writes up to 4 KiB stay whole in the shared pipe with any number of workers; more writes than 64k. |',
    '| `AccessLogPath = "/tmp/access.log"` (any file in the proxy container) | `docker exec <proxy task> tail -f /tmp/access.log` | No container runtime in the path, only nginx\'s buffered writes (0.91× at load 15, 0.54× at load 5). The file lives in the task\'s writable layer, goes with the task, and grows until rotated (move it, then send nginx `USR1`). |',
    '| `ProxyMounts = ["signalbox-logs:/var/log/signalbox"]` and `AccessLogPath = "/var/log/signalbox/access.log"` (a file on a volume) | the file in the volume on the node (`docker volume inspect signalbox-logs`), e.g. for a log shipper | As cheap as the file in the container (0.59× at load 5, beside 0.54× and the default\'s 0.59×), and the file outlives the task. Rotation as above. |',
    '| `AccessLogPath = "syslog:server=127.0.0.1:5140,nohostname"` (syslog to the agent) | `docker service logs` | nginx sends each line as one UDP datagram to the proxy agent (which listens on 127.0.0.1:5140 in the proxy container), and the agent writes everything that arrived in one turn of its event loop to its stdout in one write. nginx cannot buffer syslog (`AccessLogBuffer` is ignored): a `sendto` per request, plus the agent\'s work. The most expensive option before the runtime: 16–21 µs of CPU per request (nginx 11–14, agent 5–7) against 7 µs for the default and 7–8 for off (`scripts/bench/accesslog.sh`, local nginx, without the runtime\'s share, which the default pays too); on the client path 0.38× direct beside 0.58× for off (load 10). For operators who want the lines in the agent\'s log stream; otherwise prefer the default or a file. |',
    '| `AccessLogPath = ""` | nothing | `access_log off`: no per-request cost. The error log (`ErrorLogPath`) stays. |',
    '',
    'A cheaper Docker log driver (e.g. `local`) for the proxy service lowers the runtime\'s share of the default setting while keeping `docker service logs`.',
    '',
    '## Rules across keys',
    '',
    '- Durations (`PollInterval`, `ProxyStopGracePeriod`, `ProxyUpdateDelay`, `ProxyNetworkDetachDelay`, and in `[Extensions.NAME.Acme]` `RenewBefore`, `RetryInitial`, `RetryMax`, which must be above 0) use Go syntax: `3s`, `500ms`, `1m30s`; none may be negative and `PollInterval` must be above 0.',
    '- `DockerURL` is `unix:///path` or `tcp://host:port`. `TLSCACert`, `TLSCert` and `TLSKey` are set together or not at all.',
    '- `ListenAddr` is `[host]:port`; `EndpointOverride` is empty or an `http://` / `https://` URL.',
    '- In one extension `PublishedPort` ≠ `PublishedSSLPort` and `TargetPort` ≠ `TargetSSLPort`.',
    '- No two extensions publish the same port, use the same service name (`ServiceName` or `ProxyServiceName`), or serve the same `ServiceCluster`. Two extensions with `PublishMode = "host"` may publish the same ports (Interlock\'s service-cluster layout): swarm never runs both proxies on one node. Without `ProxyConstraints` that keep them apart (`node.labels.region==east` / `==west`) this is a warning, as nothing says which node serves which cluster.',
    `- \`ProxyStopSignal\` is one of ${PROXY_STOP_SIGNALS.map((s) => `\`${s}\``).join(', ')}.`,
    '- Constraints are `<attribute>==<value>` or `<attribute>!=<value>`; placement preferences are `spread=<label path>`.',
    `- Raw option lines (\`GlobalOptions\`, \`HTTPOptions\`, \`TCPOptions\`) may not use ${forbiddenDirectiveList(' or ')} directives: the extension refuses the same list in every config it renders (one policy, code \`ERR_DIRECTIVE_FORBIDDEN\`).`,
    '',
    '## Error codes',
    '',
    '| Code | Meaning |',
    '|---|---|',
    '| `ERR_CONFIG_TOML` | The file is not valid TOML; the message gives line and column. |',
    '| `ERR_CONFIG_UNKNOWN_KEY` | A key Signalbox does not know, usually a typo. |',
    '| `ERR_CONFIG_TYPE` | A value of the wrong type, e.g. a string where an integer is expected. |',
    '| `ERR_CONFIG_VALUE` | A value out of range, not in the allowed set, or not of the required form. |',
    '| `ERR_DIRECTIVE_FORBIDDEN` | A raw option line uses a directive no option may use (the list above); the extension refuses it in rendered configs with the same code. |',
    '| `ERR_CONFIG_SEMANTIC` | A rule beyond the schema: durations, addresses, signals, constraints, TLS files all-or-none, uniqueness across extensions. |',
    '| `ERR_CONFIG_INTERNAL` | A bug in Signalbox\'s config checker; please report it with the file. |',
    '| `WARN_CONFIG_*` | Accepted, with a note: see docs/errors.md. |',
    '',
  ];
  return lines.join('\n');
}
