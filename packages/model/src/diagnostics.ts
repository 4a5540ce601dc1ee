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

/**
 * Text from labels (keys too) on its way to a terminal: control characters (ESC sequences, CR, BEL,
 * C1 controls) and bidirectional overrides are shown as \u escapes, so a label cannot rewrite the
 * operator's terminal or reorder what it shows.
 */
export function terminalSafe(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export function formatDiagnostic(d: Diagnostic): string {
  const key = terminalSafe(d.key);
  const message = terminalSafe(d.message);
  return d.value === undefined ? `${key}: ${message}` : `${key}: "${displayValue(d.value)}" ${message}`;
}
