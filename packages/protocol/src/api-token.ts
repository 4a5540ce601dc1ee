// The two credentials (docs/security.md), each a random token the stack puts in a Docker secret:
// - the API token, held by core, the extension and the CLI: every route of core's and the extension's
//   APIs. The stack makes a new one on every deploy (core and the extension roll, proxies do not);
// - the proxy token, held by the proxies (and by core and the extension, to talk to them): only the
//   extension routes a proxy needs (PROXY_TOKEN_ROUTES) and the agent's own status API. Kept across
//   deploys, so that rotating the API token never replaces a proxy task.
// A request without a token they accept gets 401, except GET /v1/health (swarm health checks, probes).
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PATHS } from './constants.js';
import { ERR_API_FORBIDDEN, ERR_API_UNAUTHORIZED, type ApiErrorBody } from './errors.js';

/** Env naming the token file; the stack mounts the secret at the default. */
export const API_TOKEN_FILE_ENV = 'SIGNALBOX_API_TOKEN_FILE';
export const DEFAULT_API_TOKEN_FILE = '/run/secrets/signalbox-api-token';
/** Name of the secret file inside tasks (/run/secrets/<name>). */
export const API_TOKEN_SECRET_TARGET = 'signalbox-api-token';
/** Secret names reserved for the API token (signalbox-api-token-<version>): never mounted or validated as a route's key. */
export const API_TOKEN_SECRET_PREFIX = 'signalbox-api-token';
/** The proxy token: env naming its file, where the stack and core mount it, and its reserved names. */
export const PROXY_TOKEN_FILE_ENV = 'SIGNALBOX_PROXY_TOKEN_FILE';
export const DEFAULT_PROXY_TOKEN_FILE = '/run/secrets/signalbox-proxy-token';
export const PROXY_TOKEN_SECRET_TARGET = 'signalbox-proxy-token';
export const PROXY_TOKEN_SECRET_PREFIX = 'signalbox-proxy-token';

/** A secret holding one of Signalbox's own tokens: never mounted or validated as a route's key. */
export function isTokenSecret(name: string): boolean {
  return name.startsWith(API_TOKEN_SECRET_PREFIX) || name.startsWith(PROXY_TOKEN_SECRET_PREFIX);
}

/** The extension routes the proxy token opens (method and path): what a proxy agent calls, nothing else. */
export const PROXY_TOKEN_ROUTES: readonly { method: string; path: string }[] = [
  { method: 'GET', path: PATHS.nginxConf },
  { method: 'POST', path: PATHS.refusals },
  { method: 'GET', path: PATHS.acmeFiles },
];

/** A token shorter than this is refused: it could be guessed. */
export const MIN_API_TOKEN_LENGTH = 32;
/** Paths answered without the token. */
export const UNAUTHENTICATED_PATHS: readonly string[] = [PATHS.health];

export class ApiTokenError extends Error {
  override readonly name = 'ApiTokenError';
}

/** Token file named by the env (or the default). */
export function apiTokenFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env[API_TOKEN_FILE_ENV]?.trim() || DEFAULT_API_TOKEN_FILE;
}

/** Proxy token file named by the env (or the default). */
export function proxyTokenFile(env: Readonly<Record<string, string | undefined>> = process.env): string {
  return env[PROXY_TOKEN_FILE_ENV]?.trim() || DEFAULT_PROXY_TOKEN_FILE;
}

const TOKEN_KINDS = {
  api: { what: 'the API token', secret: API_TOKEN_SECRET_PREFIX, env: API_TOKEN_FILE_ENV },
  proxy: { what: 'the proxy token', secret: PROXY_TOKEN_SECRET_PREFIX, env: PROXY_TOKEN_FILE_ENV },
} as const;

/** Reads and checks a token; throws ApiTokenError with a message naming the file and the fix. */
export function readApiToken(file: string, kind: keyof typeof TOKEN_KINDS = 'api'): string {
  const k = TOKEN_KINDS[kind];
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ApiTokenError(
      `cannot read ${k.what} from ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); deploy the stack with deploy/stack.yml, which creates the ${k.secret} secret, or set ${k.env}`,
    );
  }
  const token = text.trim();
  if (token.length < MIN_API_TOKEN_LENGTH || token.length > 4096 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new ApiTokenError(`${k.what} in ${file} must be ${MIN_API_TOKEN_LENGTH} to 4096 printable characters without spaces (got ${token.length})`);
  }
  return token;
}

/** For a service's main: the token, or a fatal log line and exit 1 when it cannot be read. */
export function apiTokenOrExit(log: { fatal(obj: object, msg: string): void }): string {
  try {
    return readApiToken(apiTokenFile());
  } catch (e) {
    if (!(e instanceof ApiTokenError)) throw e;
    log.fatal({ err: e.message }, 'refusing to start without the API token');
    process.exit(1);
  }
}

/**
 * For core's and the extension's main: the proxy token, or undefined with a warning when the stack did
 * not mount one (a stack.yml from before it existed: proxies then still carry the API token).
 */
export function proxyTokenOrNone(log: { warn(obj: object, msg: string): void }): string | undefined {
  try {
    return readApiToken(proxyTokenFile(), 'proxy');
  } catch (e) {
    if (!(e instanceof ApiTokenError)) throw e;
    log.warn({ err: e.message }, 'no proxy token: proxies need the API token (deploy with the current deploy/stack.yml)');
    return undefined;
  }
}

/** True when `header` is exactly "Bearer <token>"; compares in constant time. */
export function bearerMatches(header: string | string[] | undefined, token: string): boolean {
  if (typeof header !== 'string' || header.length > 8192) return false;
  const m = /^Bearer ([\x21-\x7e]+)$/.exec(header.trim());
  if (!m) return false;
  const a = Buffer.from(m[1]!);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The path part of a request URL (no query). */
export function requestPath(url: string): string {
  const q = url.indexOf('?');
  return q === -1 ? url : url.slice(0, q);
}

/** Headers for a request to core or the extension. */
export function bearerHeader(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/** Whether a request may proceed: health is open, everything else needs the bearer token. */
export function requestAllowed(url: string, authorization: string | string[] | undefined, token: string): boolean {
  return UNAUTHENTICATED_PATHS.includes(requestPath(url)) || bearerMatches(authorization, token);
}

/** The reply calls the token check needs (fastify's reply has them); keeps this module free of fastify. */
export interface TokenCheckReply {
  code(status: number): TokenCheckReply;
  header(name: string, value: string): TokenCheckReply;
  send(body: unknown): unknown;
}

/** A second token a server accepts for some of its routes only (the extension: the proxy token). */
export interface ScopedToken {
  token: string;
  /** Routes it opens; any other gets 403 ERR_API_FORBIDDEN. */
  routes: readonly { method: string; path: string }[];
  /** What the token is, for the 403 message (e.g. "the proxy token"). */
  what: string;
}

/**
 * An onRequest hook for core's, the extension's and the proxy agent's APIs: a request without
 * `Authorization: Bearer <token>` (other than GET /v1/health) gets 401 ERR_API_UNAUTHORIZED; with the
 * scoped token on a route outside its scope, 403 ERR_API_FORBIDDEN.
 */
export function tokenCheckHook(token: string, scoped?: ScopedToken, secret = API_TOKEN_SECRET_PREFIX) {
  return async (req: { url: string; method?: string; headers: { authorization?: string | string[] } }, reply: TokenCheckReply): Promise<void> => {
    if (requestAllowed(req.url, req.headers.authorization, token)) return;
    if (scoped && scoped.token !== token && bearerMatches(req.headers.authorization, scoped.token)) {
      const path = requestPath(req.url);
      if (scoped.routes.some((r) => r.path === path && r.method === (req.method ?? 'GET'))) return;
      await reply.code(403).send({
        code: ERR_API_FORBIDDEN,
        message: `${scoped.what} does not open ${req.method ?? 'GET'} ${path}; it opens only ${scoped.routes.map((r) => `${r.method} ${r.path}`).join(', ')}`,
      } satisfies ApiErrorBody);
      return;
    }
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="signalbox"')
      .send({ code: ERR_API_UNAUTHORIZED, message: `this API needs Authorization: Bearer <token> (the ${secret} secret)` } satisfies ApiErrorBody);
  };
}
