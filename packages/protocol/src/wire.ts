// The bodies core, the extension and the proxy agents send each other, each declared once as a JSON
// Schema; the TypeScript types are derived from the schemas (json-schema-to-ts), servers use the schemas
// as fastify response schemas and clients validate what they receive (ajv). Changing a field here fails
// the build of every side that sends or reads it.
import type { FromSchema } from 'json-schema-to-ts';
import { EXCLUSION_CODES } from './errors.js';

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const int = { type: 'integer', minimum: 0 } as const;
const strs = { type: 'array', items: str } as const;

/** `{ ok: true }`: GET /v1/health of core and agent, PUT …/exclusions, POST /v1/refusals. */
export const okBodySchema = {
  type: 'object',
  required: ['ok'],
  properties: { ok: { type: 'boolean', const: true } },
  additionalProperties: false,
} as const;
export type OkBody = FromSchema<typeof okBodySchema>;

// ---- core ----------------------------------------------------------------------------------------

/** A diagnostic as it crosses the wire: the code is any documented ERR_/WARN_ code. */
export const diagnosticSchema = {
  type: 'object',
  required: ['code', 'severity', 'key', 'message'],
  properties: {
    code: { type: 'string', pattern: '^(ERR|WARN)_[A-Z0-9_]+$' },
    severity: { type: 'string', enum: ['error', 'warning'] },
    /** Full label key (com.docker.lb.hosts) or config key path (Extensions.default.PublishedPort). */
    key: str,
    /** The offending value, truncated for display; absent when the key itself is missing. */
    value: str,
    message: str,
  },
  additionalProperties: false,
} as const;
export type WireDiagnostic = FromSchema<typeof diagnosticSchema>;
export type Severity = WireDiagnostic['severity'];

/** One labelled service: routed (enabled) or rejected (disabled), with the reasons. */
export const serviceStatusSchema = {
  type: 'object',
  required: ['id', 'name', 'cluster', 'status', 'hosts', 'servers', 'errors', 'warnings'],
  properties: {
    id: str,
    name: str,
    cluster: str,
    status: { type: 'string', enum: ['enabled', 'disabled'] },
    hosts: strs,
    /** Number of upstream servers this service contributes. */
    servers: int,
    errors: { type: 'array', items: diagnosticSchema },
    warnings: { type: 'array', items: diagnosticSchema },
  },
  additionalProperties: false,
} as const;
export type WireServiceStatus = FromSchema<typeof serviceStatusSchema>;
export type ServiceState = WireServiceStatus['status'];

/** Core's GET /v1/status. */
export const coreStatusBodySchema = {
  type: 'object',
  required: ['services'],
  properties: { services: { type: 'array', items: serviceStatusSchema } },
  additionalProperties: false,
} as const;
export type CoreStatusBody = FromSchema<typeof coreStatusBodySchema>;

/** Core's GET /v1/extensions. */
export const extensionsBodySchema = {
  type: 'object',
  required: ['extensions'],
  properties: { extensions: strs },
  additionalProperties: false,
} as const;
export type ExtensionsBody = FromSchema<typeof extensionsBodySchema>;

// ---- the routing model, all the way down: core's builder produces exactly these types, the extension
// renders them, and the extension refuses a payload that does not match (readExtensionPayload).

/** One task of a routed service. */
export const upstreamServerSchema = {
  type: 'object',
  required: ['addr', 'port', 'service'],
  properties: {
    addr: { type: 'string', minLength: 1 },
    port: { type: 'integer', minimum: 1, maximum: 65535 },
    /** Owning service name, for x-upstream debugging and canary accounting. */
    service: str,
  },
  additionalProperties: false,
} as const;
export type WireUpstreamServer = FromSchema<typeof upstreamServerSchema>;

/** Where a route's requests go. */
export const upstreamSchema = {
  type: 'object',
  required: ['name', 'servers', 'balance', 'tls', 'services'],
  properties: {
    /** Deterministic nginx-safe identifier derived from host + path. */
    name: { type: 'string', pattern: '^[A-Za-z0-9_-]+$' },
    /** Sorted by addr then port. Empty means 503. */
    servers: { type: 'array', items: upstreamServerSchema },
    balance: { type: 'string', enum: ['round_robin', 'ip_hash', 'cookie'] },
    /** Cookie name when balance is 'cookie'. */
    cookie: str,
    maxFails: int,
    failTimeout: str,
    /** TLS to the backend (ssl_backend), and whether its certificate is verified. */
    tls: {
      type: 'object',
      required: ['enabled', 'verify'],
      properties: { enabled: { type: 'boolean' }, verify: { type: 'boolean' } },
      additionalProperties: false,
    },
    /** Services feeding this upstream (more than one for a canary pair), sorted. */
    services: strs,
  },
  additionalProperties: false,
} as const;
export type WireUpstream = FromSchema<typeof upstreamSchema>;

/** One path of a virtual host. */
export const locationSchema = {
  type: 'object',
  required: ['path', 'rewrite', 'websocketEndpoints', 'upstream'],
  properties: {
    /** '/' or a context root. */
    path: { type: 'string', pattern: '^/' },
    /** Strip path before proxying (context_root_rewrite). */
    rewrite: { type: 'boolean' },
    /** Exact-match websocket endpoints under this location, sorted. */
    websocketEndpoints: strs,
    upstream: upstreamSchema,
  },
  additionalProperties: false,
} as const;
export type WireLocation = FromSchema<typeof locationSchema>;

/** The Docker secrets holding a host's certificate and key. */
export const tlsCertSchema = {
  type: 'object',
  required: ['certSecret', 'keySecret'],
  properties: { certSecret: { type: 'string', minLength: 1 }, keySecret: { type: 'string', minLength: 1 } },
  additionalProperties: false,
} as const;
export type WireTlsCert = FromSchema<typeof tlsCertSchema>;

export const virtualHostSchema = {
  type: 'object',
  required: ['host', 'sslOnly', 'locations'],
  properties: {
    /** Exact name or '*.example.com'. */
    host: { type: 'string', minLength: 1 },
    tls: tlsCertSchema,
    sslOnly: { type: 'boolean' },
    /** Sorted by path. */
    locations: { type: 'array', items: locationSchema },
  },
  additionalProperties: false,
} as const;
export type WireVirtualHost = FromSchema<typeof virtualHostSchema>;

/** A host whose TLS is passed through to the service (SNI routing in the stream block). */
export const passthroughHostSchema = {
  type: 'object',
  required: ['host', 'upstream'],
  properties: {
    host: { type: 'string', minLength: 1 },
    upstream: upstreamSchema,
    /** ssl_only: plain HTTP requests for the host are redirected to https (absent = false). */
    sslOnly: { type: 'boolean' },
  },
  additionalProperties: false,
} as const;
export type WirePassthroughHost = FromSchema<typeof passthroughHostSchema>;

export const redirectRuleSchema = {
  type: 'object',
  required: ['sourceHost', 'source', 'target'],
  properties: { sourceHost: str, source: str, target: str },
  additionalProperties: false,
} as const;
export type WireRedirectRule = FromSchema<typeof redirectRuleSchema>;

/** One service cluster's routing model, as core builds it and the extension renders it. */
export const routingModelSchema = {
  type: 'object',
  required: ['cluster', 'virtualHosts', 'passthrough', 'redirects', 'services', 'proxyNetworks', 'proxySecrets'],
  properties: {
    /** The ServiceCluster this model is for ('' for the default cluster). */
    cluster: str,
    /** Sorted by host. */
    virtualHosts: { type: 'array', items: virtualHostSchema },
    /** Sorted by host. */
    passthrough: { type: 'array', items: passthroughHostSchema },
    /** Sorted by sourceHost, source. */
    redirects: { type: 'array', items: redirectRuleSchema },
    defaultBackend: upstreamSchema,
    /** Services of this cluster with any com.docker.lb.* label, sorted by name. */
    services: { type: 'array', items: serviceStatusSchema },
    /** Overlay networks (names) the proxy must join to reach its upstreams, sorted. */
    proxyNetworks: strs,
    /** Secrets (names) the proxy must mount for TLS, sorted. */
    proxySecrets: strs,
    /**
     * Secrets of proxySecrets that a running proxy task does not mount yet (it started before core added
     * them; new tasks that mount them are on their way). Their routes wait: the extension leaves them out
     * until core sees every running proxy task mount them. Set by core; sorted; absent when none.
     */
    pendingSecrets: strs,
    /**
     * Services whose backend addresses are on a network that a running proxy task is not attached to
     * (it started before core added the network; tasks that join it are on their way), each with that
     * network's name. Published now, the old task would take the route and fail its requests; so the
     * extension leaves them out until core sees every running proxy task on the network. Set by core;
     * sorted by service; absent when none.
     */
    pendingNetworks: {
      type: 'array',
      items: {
        type: 'object',
        required: ['service', 'network'],
        properties: { service: str, network: str },
        additionalProperties: false,
      },
    },
    /**
     * Proxy tasks swarm told to shut down whose containers still run (a start-first roll's old task,
     * draining). They no longer count for pendingNetworks, so a route on a network they lack is published
     * as soon as the tasks that replace them run; in exchange they install no config published from here
     * on (the extension names them beside every config it serves), and keep serving their last one until
     * they stop. Task IDs; set by core; sorted; absent when none.
     */
    retiredProxyTasks: strs,
    /**
     * Extension tasks swarm told to shut down whose containers still run: the old task of the
     * extension's start-first roll, once its replacement is healthy. The task named here stops serving
     * at once, so the proxies long-polling it reconnect (DNS lists only the new task by then) instead of
     * waiting out swarm's stop grace on a task that cannot read a new certificate. Task IDs; set by core;
     * sorted; absent when none.
     */
    retiredExtensionTasks: strs,
    /**
     * Proxy tasks, starting or running and not told to shut down, that mount every secret of
     * pendingSecrets and are attached to every network of pendingNetworks: the tasks of a roll that
     * replace the old ones. The extension serves them a second config in which those routes are not held,
     * so they load the routes while they start, before they turn healthy and any client reaches them.
     * Task IDs; set by core; sorted; absent when nothing is pending or no task qualifies.
     */
    proxyTasksPastPending: strs,
    /**
     * Behind the edge: the addresses, on the edge network, of the tasks of proxyTasksPastPending that have
     * passed their health check. The other proxy tasks (the old ones, which hold the pending routes) send
     * the TLS connections for a host they hold to these, at L4 with the PROXY header, instead of
     * rejecting the handshake. IP addresses; set by core; sorted; absent when none.
     */
    proxyRelayPeers: strs,
    /**
     * Hosts claimed by a service that is not routed over plain HTTP here (rejected, excluded, or passed
     * through without ssl_only) which would otherwise reach another owner (its default backend or
     * wildcard). The proxy answers them 503 and rejects their TLS handshake. Sorted; absent when empty.
     */
    heldHosts: strs,
    /** Hosts routed over HTTP here that get a certificate from the cluster's ACME CA. Sorted; absent when empty. */
    acmeHosts: strs,
  },
  additionalProperties: false,
} as const;
export type WireRoutingModel = FromSchema<typeof routingModelSchema>;

/**
 * Core's GET /v1/extensions/NAME/model. `extension` (the [Extensions.NAME] section, whose keys are declared
 * by @signalbox/model's config schema) is checked for the names every reader relies on; `model` is checked
 * all the way down.
 */
export const extensionPayloadSchema = {
  type: 'object',
  required: ['version', 'extension', 'model'],
  properties: {
    /** Hash of the canonical JSON of extension + model; also the ETag. */
    version: { type: 'string', minLength: 1 },
    extension: { type: 'object', required: ['ServiceName', 'ProxyServiceName'], properties: { ServiceName: str, ProxyServiceName: str }, additionalProperties: true },
    model: routingModelSchema,
  },
  additionalProperties: false,
} as const;
type PayloadEnvelope = FromSchema<typeof extensionPayloadSchema>;
/** The payload with its extension config and routing model types (E, M) filled in by @signalbox/model. */
export type ExtensionPayloadOf<E, M extends WireRoutingModel> = Omit<PayloadEnvelope, 'extension' | 'model'> & { extension: E; model: M };

/** A service an extension left out of the config it published, and why. */
export const exclusionSchema = {
  type: 'object',
  required: ['service', 'code', 'reason'],
  properties: {
    service: { type: 'string', maxLength: 300 },
    /** ERR_CERT_INVALID: a certificate/key pair of its hosts cannot be served (checked on the mounted secrets). */
    code: { type: 'string', enum: EXCLUSION_CODES },
    reason: { type: 'string', maxLength: 1000 },
  },
  additionalProperties: false,
} as const;
export type Exclusion = FromSchema<typeof exclusionSchema>;

/** Core's PUT /v1/extensions/NAME/exclusions body (the extension reports what it left out). */
export const exclusionReportSchema = {
  type: 'object',
  required: ['modelVersion', 'excluded'],
  properties: { modelVersion: str, excluded: { type: 'array', items: exclusionSchema, maxItems: 10_000 } },
  additionalProperties: false,
} as const;
export type ExclusionReport = FromSchema<typeof exclusionReportSchema>;

// ---- extension -----------------------------------------------------------------------------------

/** The extension's GET /v1/health. */
export const extensionHealthBodySchema = {
  type: 'object',
  required: ['ok', 'serving'],
  properties: { ok: { type: 'boolean', const: true }, serving: nstr },
  additionalProperties: false,
} as const;
export type ExtensionHealthBody = FromSchema<typeof extensionHealthBodySchema>;

/** What the extension's nginx -t sandbox isolates, as a probe through it saw it at start. */
export const sandboxStateSchema = {
  type: 'object',
  required: ['networkIsolated', 'dockerSocketHidden', 'secretsHidden', 'uid', 'capabilities', 'memoryLimitBytes', 'timeoutMs', 'problems'],
  properties: {
    /** nginx -t sees no network interface but loopback (checked by a probe through the sandbox). */
    networkIsolated: { type: 'boolean' },
    /** The Docker socket is neither visible nor usable from the sandbox. */
    dockerSocketHidden: { type: 'boolean' },
    /** /run/secrets (the API token, any mounted key) is not readable from the sandbox. */
    secretsHidden: { type: 'boolean' },
    /** uid nginx -t runs as (0 would mean no privilege drop). */
    uid: { type: ['integer', 'null'] },
    /** Effective capabilities, hex (0000000000000400 = CAP_NET_BIND_SERVICE only, to bind the listen ports). */
    capabilities: nstr,
    memoryLimitBytes: { type: ['integer', 'null'] },
    timeoutMs: { type: 'integer' },
    /** Why a part is missing, e.g. the kernel refused unshare. */
    problems: strs,
  },
  additionalProperties: false,
} as const;
export type SandboxState = FromSchema<typeof sandboxStateSchema>;

/** One ACME host as the extension's GET /v1/status reports it. */
export const acmeHostStatusSchema = {
  type: 'object',
  required: ['host', 'state', 'failures'],
  properties: {
    host: str,
    state: { type: 'string', enum: ['pending', 'ordering', 'valid', 'renewing', 'failed'] },
    notAfter: str,
    /** When the certificate is renewed (valid), or the next try (failed). */
    nextAt: str,
    failures: int,
    error: str,
  },
  additionalProperties: false,
} as const;
export type AcmeHostStatus = FromSchema<typeof acmeHostStatusSchema>;
export type AcmeHostState = AcmeHostStatus['state'];

/** The ACME store as the extension's GET /v1/status reports it: which key seals it, what it cannot open. */
export const acmeStoreStatusSchema = {
  type: 'object',
  required: ['key', 'unreadable', 'resealed'],
  properties: {
    /** The store key as the operator knows it (Docker secret and config key); '' = none. */
    key: str,
    /** Id of the store key (HMAC of the key), the label com.signalbox.acme.key-id on the objects it sealed. */
    keyId: str,
    /** Why there is no store key (orders are stopped until it is fixed). */
    problem: str,
    /** Config objects the key cannot open, each with the reason. */
    unreadable: {
      type: 'array',
      items: { type: 'object', required: ['name', 'reason'], properties: { name: str, host: str, reason: str }, additionalProperties: false },
    },
    /** Records sealed under the API token (before the store had its own key) sealed again under the store key at start. */
    resealed: int,
    resealError: str,
  },
  additionalProperties: false,
} as const;
export type AcmeStoreStatus = FromSchema<typeof acmeStoreStatusSchema>;

/** The extension's GET /v1/status (core's dashboard reads it). */
export const extensionStatusBodySchema = {
  type: 'object',
  required: ['serving', 'sha256', 'excluded'],
  properties: {
    /** Docker config name of the config served to proxies. */
    serving: nstr,
    sha256: nstr,
    /** The model version last processed. */
    modelVersion: str,
    excluded: { type: 'array', items: exclusionSchema },
    /** Why the last model version could not be published (nginx -t, publishing). */
    lastError: str,
    sandbox: sandboxStateSchema,
    /** ACME hosts of this extension and their order state. */
    acme: { type: 'array', items: acmeHostStatusSchema },
    acmeStore: acmeStoreStatusSchema,
  },
  additionalProperties: false,
} as const;
export type ExtensionStatusBody = FromSchema<typeof extensionStatusBodySchema>;

/** A certificate/key pair of a config that a proxy task cannot serve (it mounts the secrets, and checked them). */
export const certificateProblemSchema = {
  type: 'object',
  required: ['certSecret', 'keySecret', 'reason'],
  properties: {
    /** The server's name; absent for the default server. */
    host: { type: 'string', maxLength: 300 },
    certSecret: { type: 'string', maxLength: 300 },
    keySecret: { type: 'string', maxLength: 300 },
    reason: { type: 'string', maxLength: 1000 },
  },
  additionalProperties: false,
} as const;
export type CertificateProblem = FromSchema<typeof certificateProblemSchema>;

/**
 * The extension's POST /v1/refusals body: a proxy agent refused the config `sha256`, because its nginx -t
 * failed (`reason`) or because pairs it names cannot be served (`certificates`, with `reason` their summary).
 */
export const refusalSchema = {
  type: 'object',
  required: ['sha256', 'reason'],
  properties: {
    sha256: { type: 'string', pattern: '^[0-9a-f]{64}$' },
    reason: { type: 'string', maxLength: 4000 },
    certificates: { type: 'array', maxItems: 1000, items: certificateProblemSchema },
  },
  additionalProperties: false,
} as const;
export type Refusal = FromSchema<typeof refusalSchema>;

// ---- proxy agent ---------------------------------------------------------------------------------

/** The agent's GET /v1/health when it cannot serve (503). */
export const agentUnhealthyBodySchema = {
  type: 'object',
  required: ['ok', 'reason'],
  properties: { ok: { type: 'boolean', const: false }, reason: str },
  additionalProperties: false,
} as const;
export type AgentUnhealthyBody = FromSchema<typeof agentUnhealthyBodySchema>;

/** Where a candidate config came from. */
export const CANDIDATE_SOURCES = ['extension', 'file', 'bootstrap', 'builtin'] as const;
export type CandidateSource = (typeof CANDIDATE_SOURCES)[number];

/** An upstream server nginx failed to reach, counted from its error log. */
export const upstreamFailureSchema = {
  type: 'object',
  required: ['server', 'recent', 'total', 'lastAt', 'lastError'],
  properties: {
    /** addr:port as in the routing model's servers. */
    server: str,
    /** Failures logged in the last window. */
    recent: int,
    total: int,
    lastAt: str,
    /** nginx's words, e.g. "connect() failed (111: Connection refused) while connecting to upstream". */
    lastError: str,
  },
  additionalProperties: false,
} as const;
export type UpstreamFailure = FromSchema<typeof upstreamFailureSchema>;

const configRef = { sha256: str, configName: str, source: { type: 'string', enum: CANDIDATE_SOURCES } } as const;

/** The agent's GET /v1/status (`signalbox status`, core's dashboard). Times are ISO strings. */
export const agentStatusBodySchema = {
  type: 'object',
  required: ['installed', 'reloads', 'reloadFailures', 'lastReloadAt', 'nginxPid', 'nginxRunning', 'nginxRestarts', 'drainingWorkers', 'upstreamFailures'],
  properties: {
    installed: {
      type: ['object', 'null'],
      required: ['sha256', 'configName', 'source', 'installedAt'],
      properties: { ...configRef, installedAt: str },
      additionalProperties: false,
    },
    lastFailure: {
      type: 'object',
      required: ['sha256', 'configName', 'source', 'reason', 'at'],
      properties: { ...configRef, reason: str, at: str },
      additionalProperties: false,
    },
    reloads: int,
    reloadFailures: int,
    lastReloadAt: nstr,
    nginxPid: { type: ['integer', 'null'] },
    nginxRunning: { type: 'boolean' },
    nginxRestarts: int,
    drainingWorkers: { type: ['integer', 'null'] },
    upstreamFailures: { type: 'array', items: upstreamFailureSchema },
    extension: {
      type: 'object',
      required: ['url', 'etag', 'lastError', 'lastContactAt'],
      properties: { url: str, etag: nstr, lastError: nstr, lastContactAt: nstr },
      additionalProperties: false,
    },
  },
  additionalProperties: false,
} as const;
export type AgentStatusBody = FromSchema<typeof agentStatusBodySchema>;
