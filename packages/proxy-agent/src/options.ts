// Agent options come from the environment once at start; a bad value stops the agent with a
// message naming the variable, before anything is written or started.
import { isAbsolute } from 'node:path';
import { AGENT_PORT, API_TOKEN_FILE_ENV, DEFAULT_PROXY_TOKEN_FILE, PROXY_TOKEN_FILE_ENV, TLS_FRONT_DIR } from '@signalbox/protocol';

export interface AgentOptions {
  /** Where nginx reads its config (Interlock's ProxyConfigPath). */
  readonly configPath: string;
  /** A Docker config object may be mounted here; used when configPath holds nothing usable. */
  readonly bootstrapPath: string;
  /** Docker config name of the bootstrap, for status only ('' = unknown). */
  readonly bootstrapConfigName: string;
  /** Base URL of the extension; undefined = no long-poll (file and bootstrap only). */
  readonly extensionUrl: string | undefined;
  /** Seconds the extension may hold a long-poll. */
  readonly pollWaitSeconds: number;
  /** Loopback by default: status and metrics are for the node's operator, never for app networks. */
  readonly agentHost: string;
  readonly agentPort: number;
  /** Port the built-in fallback config answers 503 on. */
  readonly httpPort: number;
  /** Optional TLS port for the built-in config (handshakes rejected; no cert needed). */
  readonly httpsPort: number | undefined;
  readonly nginxBin: string;
  /** pid directive of the built-in config only; the agent itself signals the child it spawned. */
  readonly pidPath: string;
  /** Time limit for `nginx -t` (it resolves upstream host names, which can hang). */
  readonly testTimeoutMs: number;
  /** Most nginx worker generations left draining after reloads (0 = no cap); see drain-limit.ts. */
  readonly maxDrainingGenerations: number;
  readonly logLevel: string;
  /**
   * Edge mode: DNS name of the routing proxy tasks (e.g. tasks.signalbox-proxy). The agent then runs
   * only its generated L4 forwarder config; no extension, no bootstrap.
   */
  readonly edgeUpstream: string | undefined;
  /** DNS server the edge resolves the routing proxies with (Docker's embedded one). */
  readonly edgeResolver: string;
  /** HideInfoHeaders of the extension: the edge's own answers leave out the headers that describe it. */
  readonly edgeHideInfoHeaders: boolean;
  /**
   * The edge's keep-alive pool to the routing proxies (edge.ts): on unless SIGNALBOX_EDGE_POOL=0, and
   * only where nginx has these modules (Debian's libnginx-mod-http-lua; an image without them has none).
   */
  readonly edgePool: boolean;
  readonly ndkModulePath: string;
  readonly luaModulePath: string;
  /** Loopback port where the agent gives the edge nginx the routing proxy tasks. */
  readonly edgePeersPort: number;
  /** stream module for `load_module`, used when the file exists (Debian builds it dynamically). */
  readonly streamModulePath: string;
  /**
   * Behind the edge: the TLS front's directory (its sockets, config, pid) and the loopback port where the
   * agent sets its certificates (tls-front.ts). The front runs when the installed config asks for it.
   */
  readonly tlsFrontDir: string;
  readonly tlsFrontPort: number;
  /** A routing task reports healthy once every upstream answers a connect, or after this long (0: at once). */
  readonly backendWaitMs: number;
  /** The routing proxies' service (swarm fills it in): its healthy tasks are `tasks.NAME` in DNS. */
  readonly serviceName: string;
  /**
   * On a graceful stop (SIGQUIT), wait up to this long, while client connections remain on the
   * HTTP/HTTPS ports, before nginx stops: busy keep-alive connections end by a clean
   * `Connection: close` (nginx keepalive_time) instead of being cut. 0 = stop at once.
   */
  readonly drainMs: number;
  /**
   * The edge: on a graceful stop (SIGQUIT), fail the LB health path for up to this long while still
   * serving, until each load balancer that checks it has seen that (lame-duck.ts). 0 = stop at once.
   */
  readonly lameDuckMs: number;
  /**
   * A routing task behind the edge, on a graceful stop: past this long after the signal, keep the sessions
   * nginx cannot end (passthrough, WebSockets) only while another routing task serves (session-hold.ts).
   * undefined = keep them until nginx exits or swarm kills the task.
   */
  readonly sessionHoldAfterMs: number | undefined;
  /**
   * A directory on a named volume (one per node) where every installed config is kept, so a restarted
   * task starts from the newest config this node ran; '' = not kept.
   */
  readonly stateDir: string;
  /**
   * The proxy token (a Docker secret core mounts): sent to the extension, and required on the agent's
   * control-network listener. It opens only what a proxy needs (docs/security.md).
   */
  readonly tokenFile: string;
  /** UDP port on 127.0.0.1 where access log lines sent as syslog are relayed to stdout (0 = none). */
  readonly accessLogRelayPort: number;
  /**
   * This task's swarm ID (core sets SIGNALBOX_TASK_ID={{.Task.ID}}): a config the extension serves as not
   * for it (the task is being replaced) is not installed. '' = unknown (every config is for us).
   */
  readonly taskId: string;
}

export class OptionsError extends Error {
  override name = 'OptionsError';
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function str(env: Env, name: string, fallback: string): string {
  const v = env[name];
  return v === undefined || v.trim() === '' ? fallback : v.trim();
}

function int(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = str(env, name, String(fallback));
  if (!/^\d+$/.test(raw)) throw new OptionsError(`${name}: "${raw}" is not a whole number`);
  const n = Number(raw);
  if (n < min || n > max) throw new OptionsError(`${name}: ${n} is outside ${min}..${max}`);
  return n;
}

function absPath(env: Env, name: string, fallback: string): string {
  const p = str(env, name, fallback);
  if (!isAbsolute(p)) throw new OptionsError(`${name}: "${p}" must be an absolute path`);
  return p;
}

function url(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new OptionsError(`${name}: "${raw}" is not a URL (expected e.g. http://signalbox-extension:8081)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new OptionsError(`${name}: "${raw}" must be an http:// or https:// URL`);
  }
  return u.toString().replace(/\/+$/, '');
}

/** A DNS name or IPv4 address (optionally with :port), as written into nginx.conf (no spaces or ';'). */
function hostName(env: Env, name: string, withPort = false): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const re = withPort ? /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?(?::\d{1,5})?$/ : /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
  if (!re.test(raw)) throw new OptionsError(`${name}: "${raw}" is not a host name or IPv4 address${withPort ? ' (with an optional :port)' : ''}`);
  return raw;
}

/** SIGNALBOX_TASK_ID: a swarm task ID (lower-case letters and digits), or '' when unset. */
function taskIdOf(env: Env): string {
  const raw = str(env, 'SIGNALBOX_TASK_ID', '');
  if (raw !== '' && !/^[a-z0-9]{1,64}$/.test(raw)) throw new OptionsError(`SIGNALBOX_TASK_ID: "${raw}" is not a swarm task ID (expected lower-case letters and digits, as {{.Task.ID}} gives)`);
  return raw;
}

/** SIGNALBOX_SERVICE_NAME: a swarm service name (letters, digits, '-', '_', '.'), or '' when unset. */
function serviceNameOf(env: Env): string {
  const raw = str(env, 'SIGNALBOX_SERVICE_NAME', '');
  if (raw !== '' && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(raw)) throw new OptionsError(`SIGNALBOX_SERVICE_NAME: "${raw}" is not a swarm service name (as {{.Service.Name}} gives)`);
  return raw;
}

export function loadOptions(env: Env = process.env): AgentOptions {
  const logLevel = str(env, 'SIGNALBOX_LOG_LEVEL', 'info');
  if (!LOG_LEVELS.has(logLevel)) {
    throw new OptionsError(`SIGNALBOX_LOG_LEVEL: "${logLevel}" is not one of ${[...LOG_LEVELS].join(', ')}`);
  }
  const httpsRaw = str(env, 'SIGNALBOX_HTTPS_PORT', '');
  const options: AgentOptions = {
    configPath: absPath(env, 'SIGNALBOX_CONFIG_PATH', '/etc/nginx/nginx.conf'),
    bootstrapPath: absPath(env, 'SIGNALBOX_BOOTSTRAP_CONFIG', '/run/signalbox/bootstrap.conf'),
    bootstrapConfigName: str(env, 'SIGNALBOX_BOOTSTRAP_CONFIG_NAME', ''),
    extensionUrl: url(env, 'SIGNALBOX_EXTENSION_URL'),
    pollWaitSeconds: int(env, 'SIGNALBOX_POLL_WAIT', 30, 1, 300),
    agentHost: str(env, 'SIGNALBOX_AGENT_HOST', '127.0.0.1'),
    agentPort: int(env, 'SIGNALBOX_AGENT_PORT', AGENT_PORT, 0, 65535),
    httpPort: int(env, 'SIGNALBOX_HTTP_PORT', 80, 1, 65535),
    httpsPort: httpsRaw === '' ? undefined : int(env, 'SIGNALBOX_HTTPS_PORT', 443, 1, 65535),
    nginxBin: str(env, 'SIGNALBOX_NGINX_BIN', 'nginx'),
    pidPath: absPath(env, 'SIGNALBOX_NGINX_PID_PATH', '/var/run/proxy.pid'),
    // nginx -t of a 10 000-service config takes ~8 s on a small machine; leave room.
    testTimeoutMs: int(env, 'SIGNALBOX_NGINX_TEST_TIMEOUT_MS', 60_000, 100, 600_000),
    maxDrainingGenerations: int(env, 'SIGNALBOX_MAX_DRAINING_GENERATIONS', 0, 0, 10_000),
    logLevel,
    edgeUpstream: hostName(env, 'SIGNALBOX_EDGE_UPSTREAM'),
    edgeResolver: hostName(env, 'SIGNALBOX_EDGE_RESOLVER', true) ?? '127.0.0.11',
    edgeHideInfoHeaders: int(env, 'SIGNALBOX_EDGE_HIDE_INFO_HEADERS', 0, 0, 1) === 1,
    edgePool: int(env, 'SIGNALBOX_EDGE_POOL', 1, 0, 1) === 1,
    ndkModulePath: absPath(env, 'SIGNALBOX_NDK_MODULE', '/usr/lib/nginx/modules/ndk_http_module.so'),
    luaModulePath: absPath(env, 'SIGNALBOX_LUA_MODULE', '/usr/lib/nginx/modules/ngx_http_lua_module.so'),
    edgePeersPort: int(env, 'SIGNALBOX_EDGE_PEERS_PORT', 8083, 1, 65535),
    streamModulePath: absPath(env, 'SIGNALBOX_STREAM_MODULE', '/usr/lib/nginx/modules/ngx_stream_module.so'),
    tlsFrontDir: absPath(env, 'SIGNALBOX_TLS_FRONT_DIR', TLS_FRONT_DIR),
    tlsFrontPort: int(env, 'SIGNALBOX_TLS_FRONT_PORT', 8084, 1, 65535),
    backendWaitMs: int(env, 'SIGNALBOX_BACKEND_WAIT_MS', 10_000, 0, 120_000),
    serviceName: serviceNameOf(env),
    drainMs: int(env, 'SIGNALBOX_DRAIN_MS', 0, 0, 600_000),
    lameDuckMs: int(env, 'SIGNALBOX_LAME_DUCK_MS', 0, 0, 600_000),
    sessionHoldAfterMs: str(env, 'SIGNALBOX_SESSION_HOLD_AFTER_MS', '') === '' ? undefined : int(env, 'SIGNALBOX_SESSION_HOLD_AFTER_MS', 0, 0, 86_400_000),
    stateDir: str(env, 'SIGNALBOX_STATE_DIR', '') === '' ? '' : absPath(env, 'SIGNALBOX_STATE_DIR', '/'),
    // A task made by a core from before the proxy token names only the API token's file.
    tokenFile:
      env[PROXY_TOKEN_FILE_ENV]?.trim() || !env[API_TOKEN_FILE_ENV]?.trim() ? absPath(env, PROXY_TOKEN_FILE_ENV, DEFAULT_PROXY_TOKEN_FILE) : absPath(env, API_TOKEN_FILE_ENV, DEFAULT_PROXY_TOKEN_FILE),
    accessLogRelayPort: int(env, 'SIGNALBOX_ACCESS_LOG_RELAY_PORT', 5140, 0, 65535),
    taskId: taskIdOf(env),
  };
  if (options.configPath === options.bootstrapPath) {
    throw new OptionsError('SIGNALBOX_BOOTSTRAP_CONFIG must differ from SIGNALBOX_CONFIG_PATH');
  }
  if (options.httpsPort !== undefined && options.httpsPort === options.httpPort) {
    throw new OptionsError('SIGNALBOX_HTTPS_PORT must differ from SIGNALBOX_HTTP_PORT');
  }
  return Object.freeze(options);
}
