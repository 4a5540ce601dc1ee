// A diagnostic names what to fix: the label (or key), the offending value, and why.
import type { ClusterCode } from './builder.js';
import type { ConfigCode } from './config.js';
import type { LabelCode } from './labels.js';

export type Severity = 'error' | 'warning';

/** A service whose routes fail `nginx -t` is left out of the published config (extension, core). */
export const ERR_NGINX_REJECTED = 'ERR_NGINX_REJECTED';
/** A service whose certificate/key pair cannot be served (checked where the secrets are mounted) is left out. */
export const ERR_CERT_INVALID = 'ERR_CERT_INVALID';

/** Every code a model diagnostic can carry, so a misspelt code does not compile. */
export type DiagnosticCode = LabelCode | ConfigCode | ClusterCode | typeof ERR_NGINX_REJECTED | typeof ERR_CERT_INVALID;

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

export function formatDiagnostic(d: Diagnostic<string>): string {
  return d.value === undefined ? `${d.key}: ${d.message}` : `${d.key}: "${displayValue(d.value)}" ${d.message}`;
}
