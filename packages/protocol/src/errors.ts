// The codes the services' APIs answer errors with, and the error body. Typed, so a misspelt code does not
// compile; each is documented in docs/errors.md (the error-docs test checks both directions).
import type { FromSchema } from 'json-schema-to-ts';

/** A request without `Authorization: Bearer <token>` (core, extension, agent's control listener). */
export const ERR_API_UNAUTHORIZED = 'ERR_API_UNAUTHORIZED';
/** The extension: the proxy token on a route it does not open (only what a proxy agent calls). */
export const ERR_API_FORBIDDEN = 'ERR_API_FORBIDDEN';
/** Malformed JSON, an oversized body, a bad ?wait=. */
export const ERR_API_BAD_REQUEST = 'ERR_API_BAD_REQUEST';
/** Anything the handler did not expect (logged by the service). */
export const ERR_API_INTERNAL = 'ERR_API_INTERNAL';
/** Core: no [Extensions.NAME] of that name in config.toml. */
export const ERR_EXTENSION_UNKNOWN = 'ERR_EXTENSION_UNKNOWN';
/** Extension: nothing has passed nginx -t yet. */
export const ERR_NO_CONFIG_YET = 'ERR_NO_CONFIG_YET';
/** Extension: a refusal report that is not {"sha256", "reason"}. */
export const ERR_REFUSAL_INVALID = 'ERR_REFUSAL_INVALID';

export const API_ERROR_CODES = [ERR_API_UNAUTHORIZED, ERR_API_FORBIDDEN, ERR_API_BAD_REQUEST, ERR_API_INTERNAL, ERR_EXTENSION_UNKNOWN, ERR_NO_CONFIG_YET, ERR_REFUSAL_INVALID] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

export const apiErrorBodySchema = {
  type: 'object',
  required: ['code', 'message'],
  properties: { code: { type: 'string', enum: API_ERROR_CODES }, message: { type: 'string' } },
  additionalProperties: false,
} as const;
/** The body of every API error answer (4xx/5xx). */
export type ApiErrorBody = FromSchema<typeof apiErrorBodySchema>;

/** An extension had to leave a service out: its routes fail nginx -t (the default). */
export const ERR_NGINX_REJECTED = 'ERR_NGINX_REJECTED';
/** A service whose certificate/key pair cannot be served (checked where the secrets are mounted) is left out. */
export const ERR_CERT_INVALID = 'ERR_CERT_INVALID';
/** A service whose routes a proxy's nginx refused (reported by the proxy agent) is left out. */
export const ERR_PROXY_REFUSED = 'ERR_PROXY_REFUSED';

/**
 * Not a fault: a service whose certificate is a secret the running proxy tasks do not mount yet waits
 * (left out) until the proxy tasks that mount it run; then it is published.
 */
export const WARN_SECRET_PENDING = 'WARN_SECRET_PENDING';

/**
 * Not a fault: a service whose backends are on a network that a running proxy task is not attached to
 * waits (left out) until every running proxy task is on it (new tasks that join it are on their way).
 */
export const WARN_NETWORK_PENDING = 'WARN_NETWORK_PENDING';

/** Why an extension left a service out of the config it published. */
export const EXCLUSION_CODES = [ERR_NGINX_REJECTED, ERR_CERT_INVALID, ERR_PROXY_REFUSED, WARN_SECRET_PENDING, WARN_NETWORK_PENDING] as const;
export type ExclusionCode = (typeof EXCLUSION_CODES)[number];

export function isExclusionCode(v: unknown): v is ExclusionCode {
  return (EXCLUSION_CODES as readonly unknown[]).includes(v);
}
