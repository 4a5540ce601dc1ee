// config.toml as parsed: Interlock's key names, defaults applied, frozen.

/** [Extensions.NAME.Config]: nginx tuning, Interlock's names. */
export interface NginxTuning {
  User: string;
  PidPath: string;
  MaxConnections: number;
  WorkerProcesses: number;
  RLimitNoFile: number;
  ConnectTimeout: number;
  SendTimeout: number;
  ReadTimeout: number;
  KeepaliveTimeout: string;
  ClientMaxBodySize: string;
  ClientBodyBufferSize: string;
  ClientHeaderBufferSize: string;
  LargeClientHeaderBuffers: string;
  ClientBodyTimeout: string;
  UnderscoresInHeaders: boolean;
  /** 0 = computed from the longest server name. */
  ServerNamesHashBucketSize: number;
  /** Kilobytes. */
  UpstreamZoneSize: number;
  SSLCiphers: string;
  SSLProtocols: string;
  SSLDefaultDHParam: number;
  SSLDefaultDHParamPath: string;
  AccessLogPath: string;
  AccessLogBuffer: string;
  AccessLogFlush: string;
  ErrorLogPath: string;
  MainLogFormat: string;
  TraceLogFormat: string;
  HideInfoHeaders: boolean;
  /** Addresses/CIDRs of load balancers in front of the proxy whose X-Forwarded-* headers are kept. */
  TrustedProxies: string[];
  /** How long old workers may drain after a reload. */
  WorkerShutdownTimeout: string;
  GlobalOptions: string[];
  HTTPOptions: string[];
  TCPOptions: string[];
}

/** [Extensions.NAME.Acme]: certificates from an ACME CA for services labelled com.docker.lb.acme=true. */
export interface AcmeConfig {
  /** ACME directory URL; '' = ACME off for this extension. */
  DirectoryURL: string;
  /** Contact e-mail of the ACME account; '' = none. */
  Email: string;
  /** PEM CA certificate(s) trusted for the directory's HTTPS, besides Node's bundled roots; '' = those only. */
  CABundle: string;
  /** Host patterns (exact or *.example.com) that may use ACME; empty = every host the cluster routes. */
  AllowedHosts: string[];
  /** Go duration before expiry at which a certificate is renewed (also at the last third of a short lifetime). */
  RenewBefore: string;
  /** Go durations: first retry delay after a failed order, doubled per failure up to RetryMax. */
  RetryInitial: string;
  RetryMax: string;
  /** Docker secret holding the key that seals the stored account and certificates (mounted into the extension only). */
  StoreKeySecret: string;
}

export interface ExtensionConfig {
  Image: string;
  Args: string[];
  Labels: Record<string, string>;
  ContainerLabels: Record<string, string>;
  Constraints: string[];
  PlacementPreferences: string[];
  ServiceName: string;
  ProxyImage: string;
  ProxyArgs: string[];
  ProxyLabels: Record<string, string>;
  ProxyContainerLabels: Record<string, string>;
  ProxyServiceName: string;
  ProxyConfigPath: string;
  ProxyReplicas: number;
  ProxyStopSignal: string;
  ProxyStopGracePeriod: string;
  ProxySessionGracePeriod: string;
  ProxyMaxDrainingGenerations: number;
  ProxyMounts: string[];
  ProxyConstraints: string[];
  ProxyPlacementPreferences: string[];
  ProxyUpdateDelay: string;
  /** How long the proxy stays on a network after the last routed service on it went away. */
  ProxyNetworkDetachDelay: string;
  ServiceCluster: string;
  PublishMode: 'ingress' | 'host';
  /**
   * true: an edge service publishes the ports and forwards each connection (PROXY protocol) to the
   * routing proxies, which publish nothing and roll start-first. false: the proxy publishes the ports itself.
   */
  ProxyEdge: boolean;
  /** Number of edge tasks; 0 = ProxyReplicas. */
  EdgeReplicas: number;
  PublishedPort: number;
  TargetPort: number;
  PublishedSSLPort: number;
  TargetSSLPort: number;
  /** Port ssl_only redirects send clients to; 0 = PublishedSSLPort. */
  SSLRedirectPort: number;
  /** Name of a Docker config holding a custom nginx template; '' = built-in. */
  Template: string;
  /** Fixed networks the proxy joins; empty = only those its routed services need. */
  Networks: string[];
  /** Host pattern → comma-separated owners allowed to serve it ('-' = services outside any stack). */
  HostOwners: Record<string, string>;
  /** Secret name → comma-separated owners allowed to use it. */
  SecretOwners: Record<string, string>;
  Config: NginxTuning;
  Acme: AcmeConfig;
}

export interface SignalboxConfig {
  ListenAddr: string;
  DockerURL: string;
  TLSCACert: string;
  TLSCert: string;
  TLSKey: string;
  AllowInsecure: boolean;
  PollInterval: string;
  EndpointOverride: string;
  Extensions: Record<string, ExtensionConfig>;
}
