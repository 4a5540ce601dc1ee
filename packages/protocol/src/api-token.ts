// The API credential shared by core, the extension, the proxy agents and the CLI: a random token the
// stack puts in a Docker secret. Core's and the extension's APIs answer only requests that carry it
// (`Authorization: Bearer <token>`), except GET /v1/health, which swarm health checks and probes use.
import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { PATHS } from './constants.js';
import { ERR_API_UNAUTHORIZED, type ApiErrorBody } from './errors.js';

/** Env naming the token file; the stack mounts the secret at the default. */
export const API_TOKEN_FILE_ENV = 'SIGNALBOX_API_TOKEN_FILE';
export const DEFAULT_API_TOKEN_FILE = '/run/secrets/signalbox-api-token';
/** Name of the secret file inside tasks (/run/secrets/<name>). */
export const API_TOKEN_SECRET_TARGET = 'signalbox-api-token';
/** Secret names reserved for the API token (signalbox-api-token-<version>): never mounted or validated as a route's key. */
export const API_TOKEN_SECRET_PREFIX = 'signalbox-api-token';
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

/** Reads and checks the token; throws ApiTokenError with a message naming the file and the fix. */
export function readApiToken(file: string): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ApiTokenError(
      `cannot read the API token from ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); deploy the stack with deploy/stack.yml, which creates the signalbox-api-token secret, or set ${API_TOKEN_FILE_ENV}`,
    );
  }
  const token = text.trim();
  if (token.length < MIN_API_TOKEN_LENGTH || token.length > 4096 || !/^[\x21-\x7e]+$/.test(token)) {
    throw new ApiTokenError(`the API token in ${file} must be ${MIN_API_TOKEN_LENGTH} to 4096 printable characters without spaces (got ${token.length})`);
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

/**
 * An onRequest hook for core's, the extension's and the proxy agent's APIs: a request without
 * `Authorization: Bearer <token>` (other than GET /v1/health) gets 401 ERR_API_UNAUTHORIZED.
 */
export function tokenCheckHook(token: string) {
  return async (req: { url: string; headers: { authorization?: string | string[] } }, reply: TokenCheckReply): Promise<void> => {
    if (requestAllowed(req.url, req.headers.authorization, token)) return;
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="signalbox"')
      .send({ code: ERR_API_UNAUTHORIZED, message: 'this API needs Authorization: Bearer <token> (the signalbox-api-token secret)' } satisfies ApiErrorBody);
  };
}
