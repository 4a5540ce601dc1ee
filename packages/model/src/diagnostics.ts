// A diagnostic names what to fix: the label (or key), the offending value, and why.
import type { ClusterCode } from './builder.js';
import type { ConfigCode } from './config.js';
import type { LabelCode } from './labels.js';

export type Severity = 'error' | 'warning';

/** A service whose routes fail `nginx -t` is left out of the published config (extension, core). */
export const ERR_NGINX_REJECTED = 'ERR_NGINX_REJECTED';
/** A service whose certificate/key pair cannot be served (checked where the secrets are mounted) is left out. */
export const ERR_CERT_INVALID = 'ERR_CERT_INVALID';
/** A service whose routes a proxy's nginx refused (reported by the proxy agent) is left out. */
export const ERR_PROXY_REFUSED = 'ERR_PROXY_REFUSED';

/** Every code a model diagnostic can carry, so a misspelt code does not compile. */
export type DiagnosticCode = LabelCode | ConfigCode | ClusterCode | typeof ERR_NGINX_REJECTED | typeof ERR_CERT_INVALID | typeof ERR_PROXY_REFUSED;

/** C widens the codes for tools that add their own (the CLI's lint findings). */
export interface Diagnostic<C extends string = DiagnosticCode> {
  /** Stable machine-readable code, e.g. ERR_LABEL_HOST_INVALID. Documented in docs/errors.md. */
  code: C;
  severity: Severity;
  /** Full label key (com.docker.lb.hosts) or config key path (Extensions.default.PublishedPort). */
  key: string;
  /** The offending value, truncated for display; absent when the key itself is missing. */
  value?: string;
  /** A sentence a developer can act on. */
  message: string;
}

const MAX_SHOWN = 120;

/** Values are echoed back to users; keep them short and free of control characters. */
export function displayValue(value: string): string {
  const clean = JSON.stringify(value).slice(1, -1);
  return clean.length > MAX_SHOWN ? `${clean.slice(0, MAX_SHOWN)}…(${value.length} chars)` : clean;
}

/**
 * Text from labels (keys too) on its way to a terminal: control characters (ESC sequences, CR, BEL,
 * C1 controls) and bidirectional overrides are shown as \u escapes, so a label cannot rewrite the
 * operator's terminal or reorder what it shows.
 */
export function terminalSafe(text: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatDiagnostic(d: Diagnostic<string>): string {
  const key = terminalSafe(d.key);
  const message = terminalSafe(d.message);
  return d.value === undefined ? `${key}: ${message}` : `${key}: "${displayValue(d.value)}" ${message}`;
}
