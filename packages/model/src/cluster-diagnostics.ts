// The codes of what the builder finds across services and the swarm (not in one service's labels),
// and the one way it reports them: an error naming the com.docker.lb.* label to fix.
import type { Diagnostic } from './diagnostics.js';

export const L = (suffix: string): string => `com.docker.lb.${suffix}`;

/** Codes of what a service's labels cannot tell on their own (swarm state, other services); docs/errors.md#core. */
export type ClusterCode =
  | 'ERR_NETWORK_NOT_FOUND'
  | 'ERR_NETWORK_NOT_ATTACHED'
  | 'ERR_NETWORK_NOT_OVERLAY'
  | 'ERR_NETWORK_NONE'
  | 'ERR_NETWORK_AMBIGUOUS'
  | 'ERR_NETWORK_NOT_ALLOWED'
  | 'ERR_SECRET_NOT_FOUND'
  | 'ERR_SERVICE_CLUSTER_UNKNOWN'
  | 'ERR_BACKEND_MODE_VIP'
  | 'ERR_CONFLICT_ROUTE'
  | 'ERR_CONFLICT_CERT'
  | 'ERR_CONFLICT_PASSTHROUGH'
  | 'ERR_CONFLICT_DEFAULT_BACKEND'
  | 'ERR_CONFLICT_REDIRECT'
  | 'ERR_CONFLICT_SSL_ONLY'
  | 'ERR_CONFLICT_WEBSOCKET'
  | 'ERR_HOST_RESERVED'
  | 'ERR_HOST_OWNED'
  | 'ERR_SECRET_OWNED'
  | 'ERR_LIMIT_HOSTS'
  | 'ERR_LIMIT_LABELS'
  | 'WARN_SERVING_PREVIOUS_LABELS';

/**
 * Appended to conflict errors: Interlock had no such check. It rendered both services into one nginx.conf,
 * so nginx either refused the whole file (no site got updates) or one service silently won.
 */
export const UNSAFE_IN_INTERLOCK =
  " (Interlock accepted both and rendered them into one nginx.conf, where nginx either refused the whole file, so no service got updates, or one service silently took the other's traffic; Signalbox keeps the service created first)";

export function err(code: ClusterCode, key: string, message: string, value?: string): Diagnostic {
  return value === undefined ? { code, severity: 'error', key, message } : { code, severity: 'error', key, message, value };
}
