// The view model's types and the render options: plain data of already-quoted strings that the
// templates only lay out. Every string is ready to be emitted as is: user-derived text is quoted.

export interface RenderOptions {
  /** Value of the x-proxy-id response header; default: nginx's $hostname, the proxy task's container (as Interlock). */
  proxyId?: string;
  /** Where the proxy has its TLS secrets mounted, e.g. '/run/secrets'. */
  secretsDir: string;
  /** If set, `load_module <path>;` is emitted when a stream block is needed (Debian builds it dynamically). */
  streamModulePath?: string;
  /** Directory holding nginx.conf.njk and partials/; default: the repo's templates/ (or $SIGNALBOX_TEMPLATES_DIR). */
  templatesDir?: string;
  /** Contents of a custom template (ExtensionConfig.Template), rendered with the same view model. */
  customTemplate?: string;
  /** CA bundle used when an upstream requires TLS verification. Default '/etc/ssl/certs/ca-certificates.crt'. */
  upstreamTrustedCertificate?: string;
  /**
   * ssl_dhparam file used when the config's SSLDefaultDHParamPath is empty (e.g. parameters the proxy
   * generated); neither set = no ssl_dhparam, so only ECDHE key exchange.
   */
  dhparamPath?: string;
  /**
   * Loopback port the terminating HTTPS servers listen on when TLS passthrough is active (the public
   * TargetSSLPort then belongs to the stream block). Default 10443, or the next port not used by
   * TargetPort/TargetSSLPort.
   */
  internalTlsPort?: number;
  /** Loopback port of the stream hop that forwards passthrough connections. Default: next free after internalTlsPort. */
  internalPassthroughPort?: number;
  /**
   * Directory for nginx's temp files (client bodies, proxy buffers). Unset = nginx's compiled-in paths.
   * The validation sandbox sets it, because the unprivileged `nginx -t` cannot create the system ones.
   */
  tempDir?: string;
  /**
   * Where proxies keep ACME certificates and keys (tmpfs, written by the agent from the control plane).
   * Certificate names starting with ACME_FILE_PREFIX (tls.ts) live there. Default /dev/shm/signalbox-acme.
   */
  acmeDir?: string;
  /** Port of the extension's API, where proxies forward HTTP-01 challenges of ACME hosts. Default 8081. */
  acmeChallengePort?: number;
  /**
   * With ProxyEdge: the edge network's subnet(s), the only source whose PROXY protocol header gives the
   * client address (realip). Empty = the header is parsed but the edge's address stays $remote_addr.
   */
  edgeTrustedFrom?: string[];
  /**
   * With ProxyEdge: the directory of the TLS front's unix sockets in the routing task (default
   * TLS_FRONT_DIR). null: no TLS front, the routing nginx terminates TLS itself as before 2 Dec (tests and
   * the benchmark that compares both).
   */
  tlsFrontDir?: string | null;
}

export interface ViewModel {
  /** Comment-safe cluster label for the header ('(default)' for ''). */
  cluster: string;
  main: MainView;
  events: { workerConnections: number };
  http: HttpView;
  /** Present only when there are TLS passthrough hosts. */
  stream: StreamView | null;
}

export interface MainView {
  /** Quoted module paths for `load_module`. */
  loadModules: string[];
  user: string | null;
  /** 'auto' or a number. */
  workerProcesses: string;
  workerRlimitNofile: number | null;
  pid: string | null;
  errorLog: string | null;
  workerShutdownTimeout: string | null;
  /** GlobalOptions, verbatim. */
  options: string[];
}

export interface LogFormatView {
  name: string;
  /** Verbatim format argument(s), already quoted. */
  format: string;
}

export interface HeaderView {
  name: string;
  value: string;
}

export interface MapEntryView {
  key: string;
  value: string;
}

export interface MapView {
  /** e.g. '$http_cookie' */
  source: string;
  /** e.g. '$signalbox_sticky_0' */
  variable: string;
  hostnames: boolean;
  /** Sorted by key; never contains the default. */
  entries: MapEntryView[];
  default: string;
}

export interface UpstreamServerView {
  /** 'addr:port' ('[v6]:port'). */
  address: string;
  maxFails: number | null;
  failTimeout: string | null;
  down: boolean;
  /** Comment-safe owner, e.g. the service name. */
  comment: string | null;
}

export interface UpstreamView {
  name: string;
  /**
   * Shared memory zone: 'name size' on the first upstream of a block (http or stream), bare 'name'
   * on the others, which share it; null for internal upstreams.
   */
  zone: string | null;
  /** 'ip_hash' or 'hash $var consistent'; null for round robin. */
  balance: string | null;
  /** Sorted by address. Never empty: an upstream without servers holds one `down` placeholder. */
  servers: UpstreamServerView[];
  keepalive: number | null;
  /** True when the model had no servers (locations using it return 503). */
  empty: boolean;
  /** Comment-safe list of the services feeding it. */
  services: string;
}

export interface ListenView {
  /** '80', '127.0.0.1:10443' */
  address: string;
  ssl: boolean;
  proxyProtocol: boolean;
  defaultServer: boolean;
}

export interface ProxyLocationView {
  kind: 'proxy';
  /** '=' for exact match, '' for prefix. */
  modifier: '=' | '';
  /** Quoted path. */
  path: string;
  /** Quoted URL, e.g. "http://app_example_com" or "http://app_example_com/" (strips the matched prefix). */
  proxyPass: string;
  websocket: boolean;
  /** Upstream speaks TLS. */
  upstreamTls: { verify: boolean; trustedCertificate: string | null } | null;
}

export interface ReturnLocationView {
  kind: 'return';
  modifier: '=' | '';
  path: string;
  status: number;
  /** Quoted URL (3xx) or body text; null for a bare status. */
  body: string | null;
  contentType: string | null;
  accessLog: boolean;
}

export type LocationView = ProxyLocationView | ReturnLocationView;

export interface ReturnView {
  status: number;
  /** Quoted body; null for a status nginx sends none with (444 closes the connection). */
  body: string | null;
}

export interface ServerView {
  /** Comment-safe description, e.g. 'app.example.com (https)'. */
  comment: string;
  listen: ListenView[];
  /** Quoted server name; null for the default servers. */
  serverName: string | null;
  tls: { certificate: string; certificateKey: string } | null;
  rejectHandshake: boolean;
  /** Addresses trusted to send the client address (realip), in the PROXY protocol header unless realIpHeader says otherwise. */
  realIpFrom: string[];
  /** real_ip_header when not the PROXY protocol header: the edge's client address header (plain HTTP behind the edge). */
  realIpHeader?: string;
  /** Server-level return (whole-host redirect); when set, locations is empty. */
  returnAll: ReturnView | null;
  /**
   * ssl_only behind TrustedProxies: the redirect to https, answered unless a trusted load balancer says the
   * client already used https (X-Forwarded-Proto), so a balancer that terminates TLS in front never loops.
   */
  redirectUnlessForwardedHttps?: ReturnView;
  /** Sorted by path, exact matches before prefixes of the same path. */
  locations: LocationView[];
}

export interface HttpView {
  /** Quoted temp path per kind (client_body, proxy, fastcgi, uwsgi, scgi), or null for nginx's defaults. */
  tempPaths: { kind: string; path: string }[] | null;
  serverNamesHashBucketSize: number;
  serverNamesHashMaxSize: number;
  /** map_hash_* for the http block's maps: set when the TLS front's certificate map holds host names, else null. */
  mapHashBucketSize: number | null;
  mapHashMaxSize: number | null;
  keepaliveTimeout: string;
  /** keepalive_time (edge mode only), else null. */
  keepaliveTime: string | null;
  clientMaxBodySize: string;
  clientBodyBufferSize: string;
  clientHeaderBufferSize: string;
  largeClientHeaderBuffers: string;
  clientBodyTimeout: string;
  underscoresInHeaders: boolean;
  proxyConnectTimeout: string;
  proxySendTimeout: string;
  proxyReadTimeout: string;
  websocketTimeout: string;
  /** proxy_set_header lines: set at http level and repeated in websocket locations (which add Upgrade). */
  proxyHeaders: HeaderView[];
  /**
   * `geo $remote_addr $signalbox_trusted_proxy` entries (quoted addresses/CIDRs) from TrustedProxies:
   * clients whose X-Forwarded-* headers are kept. Empty = nobody (the headers are always the proxy's view).
   */
  trustedProxies: string[];
  /** proxy_next_upstream: the conditions on which a request is retried on another task. */
  proxyNextUpstream: string;
  logFormats: LogFormatView[];
  /** buffer: 'buffer=4k flush=1s' or null (each line written at once). */
  accessLog: { path: string; format: string; buffer: string | null } | null;
  sslProtocols: string | null;
  sslCiphers: string | null;
  /** Quoted ssl_dhparam file, or null (no DHE ciphers). */
  sslDhparam: string | null;
  /** add_header ... always; at http level so every server inherits them. */
  responseHeaders: HeaderView[];
  /** Sticky-cookie maps, then the forwarded-header maps (see trustedProxies), then the ACME challenge target. */
  maps: MapView[];
  /** resolver arguments when ACME challenges reach the extension by its service name; absent otherwise. */
  resolver?: string;
  /** Sorted by name. */
  upstreams: UpstreamView[];
  /** Default servers first, then one or two per virtual host (sorted by host), then redirect-only hosts. */
  servers: ServerView[];
  /** HTTPOptions, verbatim. */
  options: string[];
}

export interface StreamServerView {
  comment: string;
  listen: ListenView;
  /** Addresses trusted to send the PROXY protocol header (stream realip). */
  realIpFrom: string[];
  sslPreread: boolean;
  proxyProtocol: boolean;
  proxyPass: string;
  proxyConnectTimeout: string;
  proxyTimeout: string;
}

export interface StreamView {
  mapHashBucketSize: number;
  mapHashMaxSize: number;
  maps: MapView[];
  upstreams: UpstreamView[];
  servers: StreamServerView[];
  /** TCPOptions, verbatim. */
  options: string[];
  /** Loopback ports of the terminating servers and the passthrough hop; null behind the edge without passthrough. */
  internalTlsPort: number | null;
  internalPassthroughPort: number | null;
}
