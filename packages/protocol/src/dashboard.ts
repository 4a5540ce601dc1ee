// What core's dashboard API serves and the dashboard page reads. The JSON Schemas below are the
// contract: core's fastify validates queries and serialises responses with them, the page is typed by
// the interfaces, and docs/dashboard.md describes the same fields.

export interface ServerView {
  addr: string;
  port: number;
  service: string;
  /** Swarm task id and node hostname, when the address is a task's (dnsrr); null for a service VIP. */
  task: string | null;
  node: string | null;
  /** Passive health as nginx sees it: failed attempts logged by the proxies in the last minute. */
  failures: number;
  /** nginx's last error for this server, with when and which proxy task; null when none seen. */
  lastFailure: string | null;
}

export interface RouteView {
  extension: string;
  /** http (plain), terminate (TLS ends at the proxy), passthrough (TLS goes to the service as is). */
  kind: 'http' | 'terminate' | 'passthrough' | 'default';
  host: string;
  path: string;
  sslOnly: boolean;
  /** The upstream speaks TLS (ssl_backend). */
  backendTls: boolean;
  services: string[];
  servers: ServerView[];
  /** Share of the servers per service: a canary pair shows two entries. */
  split: { service: string; servers: number; percent: number }[];
}

/** The codes the dashboard API answers a refused request with (401, or 503 without a token file); docs/errors.md. */
export const DASHBOARD_AUTH_CODES = ['ERR_DASHBOARD_NO_TOKEN_FILE', 'ERR_DASHBOARD_TOKEN_MISSING', 'ERR_DASHBOARD_TOKEN_INVALID'] as const;
export type DashboardAuthCode = (typeof DASHBOARD_AUTH_CODES)[number];

/** The body of a dashboard API error answer. */
export interface DashboardErrorBody {
  code: DashboardAuthCode;
  message: string;
}

/**
 * C: the codes a problem can carry. Core fills these from model diagnostics with model's DiagnosticCode
 * (so a misspelt code does not compile there); a reader sees any documented ERR_/WARN_ code as a string.
 */
export interface ProblemView<C extends string = string> {
  code: C;
  severity: 'error' | 'warning';
  key: string;
  value: string | null;
  message: string;
}

export interface ServiceView<C extends string = string> {
  id: string;
  name: string;
  cluster: string;
  status: 'enabled' | 'disabled';
  hosts: string[];
  servers: number;
  errors: ProblemView<C>[];
  warnings: ProblemView<C>[];
  /** When the service entered its current state (as first seen by this core). */
  since: string;
}

export interface ServiceChange {
  name: string;
  what: string;
}

export interface ModelChangeView {
  added: string[];
  removed: string[];
  changed: ServiceChange[];
}

export interface ModelVersionView {
  extension: string;
  version: string;
  at: string;
  change: ModelChangeView;
}

export interface InstallView {
  task: string;
  node: string | null;
  at: string;
}

export interface ConfigVersionView {
  extension: string;
  config: string;
  sha256: string | null;
  /** When this core first saw the extension serve it. */
  at: string;
  modelVersion: string | null;
  /** What changed in the model since the previous config of this extension. */
  change: ModelChangeView | null;
  excluded: { service: string; reason: string }[];
  /** Proxy tasks that installed this config with a reload. */
  installs: InstallView[];
}

export interface FailureView {
  at: string;
  extension: string;
  /** validation: the extension's nginx -t failed or left services out; reload: a proxy refused a config. */
  kind: 'validation' | 'reload';
  source: string;
  message: string;
  excluded: string[];
}

export interface ProxyView {
  extension: string;
  service: string;
  task: string;
  slot: number;
  node: string | null;
  addr: string | null;
  /** ok: nginx runs a valid config; unhealthy: the agent answers but nginx does not run one; unreachable: no answer. */
  state: 'ok' | 'unhealthy' | 'unreachable';
  error: string | null;
  config: string | null;
  /**
   * sha256 of the installed config: what "runs the served config" is decided on. A new task of a roll
   * installs the routes held for it under the name `<config>+new-tasks`; once they are published the
   * same bytes carry the published name, and the task, having them, is not sent them again.
   */
  sha256: string | null;
  installedAt: string | null;
  lastReloadAt: string | null;
  reloads: number;
  reloadFailures: number;
  nginxRestarts: number;
  /** Old nginx workers still finishing requests after a reload; null when the agent does not say. */
  drainingWorkers: number | null;
  lastFailure: string | null;
}

export interface ExtensionView {
  name: string;
  service: string;
  state: 'ok' | 'unreachable';
  error: string | null;
  serving: string | null;
  /** sha256 of the config it serves (to tasks not past a roll's holds). */
  servingSha256: string | null;
  modelVersion: string | null;
  lastError: string | null;
}

export interface DashboardView<C extends string = string> {
  routes: RouteView[];
  services: ServiceView<C>[];
  extensions: ExtensionView[];
  proxies: ProxyView[];
  models: ModelVersionView[];
  configs: ConfigVersionView[];
  failures: FailureView[];
}

export interface DashboardPayload<C extends string = string> extends DashboardView<C> {
  version: string;
  meta: { coreStartedAt: string; lastSwarmReadAt: string | null; generatedAt: string };
}

// ---- JSON Schemas -----------------------------------------------------------------------------

const str = { type: 'string' } as const;
const nstr = { type: ['string', 'null'] } as const;
const int = { type: 'integer' } as const;
const bool = { type: 'boolean' } as const;
const strs = { type: 'array', items: str } as const;
const obj = (properties: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
});

const problem = obj({ code: str, severity: { enum: ['error', 'warning'] }, key: str, value: nstr, message: str });
const change = obj({ added: strs, removed: strs, changed: { type: 'array', items: obj({ name: str, what: str }) } });

export const dashboardSchemas = {
  route: obj({
    extension: str,
    kind: { enum: ['http', 'terminate', 'passthrough', 'default'] },
    host: str,
    path: str,
    sslOnly: bool,
    backendTls: bool,
    services: strs,
    servers: {
      type: 'array',
      items: obj({ addr: str, port: int, service: str, task: nstr, node: nstr, failures: int, lastFailure: nstr }),
    },
    split: { type: 'array', items: obj({ service: str, servers: int, percent: { type: 'number' } }) },
  }),
  service: obj({
    id: str,
    name: str,
    cluster: str,
    status: { enum: ['enabled', 'disabled'] },
    hosts: strs,
    servers: int,
    errors: { type: 'array', items: problem },
    warnings: { type: 'array', items: problem },
    since: str,
  }),
  extension: obj({
    name: str,
    service: str,
    state: { enum: ['ok', 'unreachable'] },
    error: nstr,
    serving: nstr,
    servingSha256: nstr,
    modelVersion: nstr,
    lastError: nstr,
  }),
  proxy: obj({
    extension: str,
    service: str,
    task: str,
    slot: int,
    node: nstr,
    addr: nstr,
    state: { enum: ['ok', 'unhealthy', 'unreachable'] },
    error: nstr,
    config: nstr,
    sha256: nstr,
    installedAt: nstr,
    lastReloadAt: nstr,
    reloads: int,
    reloadFailures: int,
    nginxRestarts: int,
    drainingWorkers: { type: ['integer', 'null'] },
    lastFailure: nstr,
  }),
  model: obj({ extension: str, version: str, at: str, change }),
  config: obj({
    extension: str,
    config: str,
    sha256: nstr,
    at: str,
    modelVersion: nstr,
    change: { anyOf: [change, { type: 'null' }] },
    excluded: { type: 'array', items: obj({ service: str, reason: str }) },
    installs: { type: 'array', items: obj({ task: str, node: nstr, at: str }) },
  }),
  failure: obj({
    at: str,
    extension: str,
    kind: { enum: ['validation', 'reload'] },
    source: str,
    message: str,
    excluded: strs,
  }),
  error: obj({ code: str, message: str }),
};

const list = (item: unknown) => ({ type: 'array', items: item });

export const dashboardSchema = obj({
  version: str,
  meta: obj({ coreStartedAt: str, lastSwarmReadAt: nstr, generatedAt: str }),
  routes: list(dashboardSchemas.route),
  services: list(dashboardSchemas.service),
  extensions: list(dashboardSchemas.extension),
  proxies: list(dashboardSchemas.proxy),
  models: list(dashboardSchemas.model),
  configs: list(dashboardSchemas.config),
  failures: list(dashboardSchemas.failure),
});

/** ?wait=SECONDS (long-poll with If-None-Match) and ?q= (search, on the list routes). */
export const dashboardQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { wait: { type: 'number', minimum: 0, maximum: 60 }, q: { type: 'string', maxLength: 200 } },
} as const;
