// Names and numbers both ends of a connection must agree on: ports, header names, the labels core and
// the extension put on what they create, and the API paths. Written here once.

/** Core's API (config.toml ListenAddr's default port). */
export const CORE_PORT = 8080;
/** The extension's API: proxy agents long-poll nginx.conf here. */
export const EXTENSION_PORT = 8081;
/** The proxy agent's health/status/metrics API. */
export const AGENT_PORT = 8082;
/** Core's dashboard listener (SIGNALBOX_DASHBOARD_ADDR's default port). */
export const DASHBOARD_PORT = 8090;

/** Response header of GET /v1/nginx.conf: the Docker config object the served text was published as. */
export const HEADER_CONFIG_NAME = 'x-signalbox-config';
/**
 * Response header of GET /v1/nginx.conf: the proxy task IDs (comma-separated) that must not install the
 * served text: replaced tasks that core no longer waits for (the model's retiredProxyTasks). Absent when none.
 */
export const HEADER_NOT_FOR_TASKS = 'x-signalbox-not-for-tasks';
/**
 * Query parameter of GET /v1/nginx.conf: the asking proxy task's ID. A task named in the model's
 * proxyTasksPastPending is served the config in which the routes pending for the old tasks are published.
 */
export const QUERY_TASK = 'task';

/** Labels on the services, networks and config objects Signalbox creates (never on users' services). */
export const LABEL_ROLE = 'com.signalbox.role';
export const LABEL_EXTENSION = 'com.signalbox.extension';
export const LABEL_OWNER = 'com.signalbox.owner';
/** On a published config object: the sha256 of its nginx.conf text. */
export const LABEL_SHA = 'com.signalbox.sha256';
/** On managed services: the content version of the spec core last applied to it. */
export const SPEC_VERSION_LABEL = 'com.signalbox.spec-version';

/** API paths, as both the server that routes them and the clients that ask them write them. */
export const PATHS = {
  health: '/v1/health',
  status: '/v1/status',
  metrics: '/metrics',
  /** Core: names of the configured extensions. */
  extensions: '/v1/extensions',
  /** Core: one extension's model (long-poll); `extensionModelRoute` is the route's pattern. */
  extensionModel: (name: string): string => `/v1/extensions/${encodeURIComponent(name)}/model`,
  extensionModelRoute: '/v1/extensions/:name/model',
  /** Core: an extension reports the services it had to leave out. */
  extensionExclusions: (name: string): string => `/v1/extensions/${encodeURIComponent(name)}/exclusions`,
  extensionExclusionsRoute: '/v1/extensions/:name/exclusions',
  /** Extension: the validated nginx.conf (long-poll). */
  nginxConf: '/v1/nginx.conf',
  /** Extension: a proxy agent reports a config its nginx refused. */
  refusals: '/v1/refusals',
  /** Extension: the ACME certificates and keys the proxies load (root-only files on their side). */
  acmeFiles: '/v1/acme/files',
} as const;

/**
 * A proxy agent that has not yet been healthy holds a `GET /v1/health?wait=SECONDS` check open up to this
 * long and answers the moment it turns healthy, so swarm's start-first roll sees the new task as soon as it
 * serves, not at the next check (Docker 20.10 has no start interval). Below the check's 5 s timeout.
 */
export const AGENT_HEALTH_WAIT_SECONDS = 3;

/**
 * The start period of the services' health checks (failures in it do not count). The agent holds checks
 * only within it: a task that never turns healthy then fails its checks at the usual pace, not 3 s each.
 */
export const HEALTH_START_PERIOD_SECONDS = 10;

/**
 * ProxyEdge: the edge's L7 HTTP port sends each request's client address in this header; the routing
 * proxies trust it only from the edge network (realip) and never pass it on to apps.
 */
export const EDGE_CLIENT_ADDRESS_HEADER = 'X-Signalbox-Client-Address';

/**
 * The path an operator's load balancer checks on each node's published HTTP port: every proxy's default
 * server answers it (routing proxy, builtin config), and the edge passes it on, or fails it while it stops.
 */
export const LB_HEALTH_PATH = '/signalbox-health';

/** A routing proxy's answer in single hop for a host no service is routed for. */
export const UNKNOWN_HOST_MESSAGE = 'signalbox: no service is routed for this host';

/**
 * The edge's answer when no routing proxy it reached served the request. Behind the edge a routing proxy
 * closes without an answer, so that the edge asks another, for what it cannot serve over HTTP: an unknown
 * or held host, a path nothing is routed to, a route whose service has no running task. The edge cannot
 * tell those apart, so its message covers them all.
 */
export const UNSERVED_BEHIND_EDGE_MESSAGE = 'signalbox: no service with a running task is routed for this host and path';

/**
 * Debug headers on every answer of a proxy, routing proxy or edge alike: the request id always, and,
 * unless HideInfoHeaders, those that describe the proxy.
 */
export const REQUEST_ID_HEADER = 'x-request-id';
export const PROXY_ID_HEADER = 'x-proxy-id';
export const SERVER_INFO_HEADER = 'x-server-info';

/**
 * ProxyEdge: each routing proxy task runs a TLS front, a second nginx that never reloads for routes. It
 * ends the client's TLS and keep-alive and sends each request to the routing nginx over a unix socket, so a
 * routing reload closes no connection a client holds. Both sockets live in this directory (tmpfs).
 */
export const TLS_FRONT_DIR = '/run/signalbox/tls-front';
/**
 * Behind the edge, each routing task's stream block also listens here (PROXY header, trusted from the edge
 * network) and sends what it gets where its public TLS port would, but never relays it on: during a roll
 * the old tasks relay the TLS connections for the hosts they hold to this port of the new tasks
 * (ClusterModel.proxyRelayPeers), and a connection can cross one relay at most, so it can never loop.
 */
export const RELAY_TLS_PORT = 10445;
/** The stream upstream of the relay (the peers' RELAY_TLS_PORT): not an app's backend, so not probed at start. */
export const RELAY_UPSTREAM = 'signalbox_relay';
/** The front's TLS listener, where the routing nginx's stream block sends terminated connections (PROXY header). */
export const TLS_FRONT_SOCKET = 'tls-front.sock';
/** The routing nginx's HTTPS servers, in plain HTTP: the front sends each decrypted request here. */
export const TLS_REQUESTS_SOCKET = 'https.sock';
/**
 * The routing config names each host's certificate and key in this map (`"host" "cert-path key-path";`,
 * `hostnames`, and a default for the default backend): the agent hands it to the front, which picks the
 * certificate by SNI at handshake time. The routing nginx itself does not use it.
 */
export const TLS_CERTIFICATE_MAP = '$signalbox_tls_certificate';
