// A diagnostic names what to fix: the label (or key), the offending value, and why.

export type Severity = 'error' | 'warning';

export interface Diagnostic {
  /** Stable machine-readable code, e.g. ERR_LABEL_HOST_INVALID. Documented in docs/errors.md. */
  code: string;
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

export function formatDiagnostic(d: Diagnostic): string {
  return d.value === undefined ? `${d.key}: ${d.message}` : `${d.key}: "${displayValue(d.value)}" ${d.message}`;
}
