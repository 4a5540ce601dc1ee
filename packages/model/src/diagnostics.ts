// A diagnostic names what to fix: the label (or key), the offending value, and why.
import type { ExclusionCode, WireDiagnostic } from '@signalbox/protocol';
import type { AcmeCode } from './acme-plan.js';
import type { ClusterCode } from './cluster-diagnostics.js';
import type { ConfigCode } from './config.js';
import type { LabelCode } from './labels.js';

export type { Severity } from '@signalbox/protocol';

/** Every code a model diagnostic can carry, so a misspelt code does not compile (ExclusionCode: set by extensions). */
export type DiagnosticCode = LabelCode | ConfigCode | ClusterCode | AcmeCode | ExclusionCode;

/**
 * The wire's diagnostic (@signalbox/protocol) with a typed code: stable and machine-readable, e.g.
 * ERR_LABEL_HOST_INVALID, documented in docs/errors.md. C widens the codes for tools that add their own
 * (the CLI's lint findings).
 */
export type Diagnostic<C extends string = DiagnosticCode> = Omit<WireDiagnostic, 'code'> & { code: C };

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
