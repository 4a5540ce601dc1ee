// How the label decoder reports problems: the collector of diagnostics (bounded per key and code),
// the per-label reporter the value parsers use, and the names of characters in messages.
import type { Diagnostic, Severity } from './diagnostics.js';
import type { LabelCode } from './label-codes.js';
import { MAX_LABEL_VALUE_LENGTH } from './label-syntax.js';

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Only ASCII spaces are trimmed; tabs and newlines are control characters and rejected. */
export const trimSpaces = (s: string): string => s.replace(/^ +| +$/g, '');

const MAX_STORED_VALUE = 256;
/** Diagnostics carry a bounded copy of the offending value. */
export function bounded(value: string): string {
  if (value.length <= MAX_STORED_VALUE) return value;
  let cut = MAX_STORED_VALUE;
  const last = value.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1;
  return `${value.slice(0, cut)}…`;
}

const CHAR_NAMES: Record<number, string> = {
  0x00: 'NUL',
  0x09: 'tab',
  0x0a: 'newline',
  0x0d: 'carriage return',
  0x1b: 'escape',
  0x7f: 'DEL',
  0x200b: 'zero-width space',
  0x200c: 'zero-width non-joiner',
  0x200d: 'zero-width joiner',
  0x2028: 'line separator',
  0x2029: 'paragraph separator',
  0xfeff: 'byte order mark',
};

/** "'x'" for printable ASCII, "'а' (U+0430)" for other visible characters, "U+200B (zero-width space)" for invisible ones. */
export function charName(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0;
  const hex = `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
  if (cp >= 0x20 && cp < 0x7f) return `'${ch}'`;
  const name = CHAR_NAMES[cp];
  if (name !== undefined) return `${hex} (${name})`;
  if (/[\p{L}\p{N}\p{P}\p{S}]/u.test(ch)) return `'${ch}' (${hex})`;
  return hex;
}

/** Characters with a meaning in nginx.conf. */
const NGINX_SYNTAX_CHAR = /[;{}"'`$\\\n\r]/;

/**
 * Where Signalbox is stricter than Interlock, say why: Interlock's templates wrote label values into
 * nginx.conf as they were, so one of these characters could add directives for every site of the proxy.
 */
export function interlockUnsafeNote(ch: string): string {
  return NGINX_SYNTAX_CHAR.test(ch)
    ? ` (Interlock wrote label values into nginx.conf as they were, so ${charName(ch)} there could change the configuration of every site the proxy serves; Signalbox refuses it)`
    : '';
}

export const CONTROL_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
// eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL
export const NON_ASCII_RE = /[^\x00-\x7f]/u;

export function nonAsciiReason(ch: string, what: string): string {
  if (/\p{Zs}/u.test(ch)) return `contains the non-ASCII space ${charName(ch)}; use plain spaces (or none)`;
  return (
    `contains the non-ASCII character ${charName(ch)}; ${what} must be ASCII: use the punycode (xn--) form ` +
    'for internationalised names, and beware of look-alikes such as Cyrillic or fullwidth letters'
  );
}

/** A list label with thousands of bad items yields this many diagnostics per key and code, then one summary. */
const MAX_PER_KEY_AND_CODE = 10;

export class Collector {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  private readonly counts = new Map<string, number>();

  error(code: LabelCode, key: string, message: string, value?: string): void {
    this.add(this.errors, code, 'error', key, message, value);
  }

  warn(code: LabelCode, key: string, message: string, value?: string): void {
    this.add(this.warnings, code, 'warning', key, message, value);
  }

  private add(list: Diagnostic[], code: LabelCode, severity: Severity, key: string, message: string, value?: string): void {
    const id = `${code} ${key}`;
    const n = (this.counts.get(id) ?? 0) + 1;
    this.counts.set(id, n);
    if (n <= MAX_PER_KEY_AND_CODE) list.push(make(code, severity, key, message, value));
    else if (n === MAX_PER_KEY_AND_CODE + 1) {
      list.push(make(code, severity, key, `has more problems of this kind; only the first ${MAX_PER_KEY_AND_CODE} are listed`));
    }
  }
}

export function make(code: LabelCode, severity: Severity, key: string, message: string, value?: string): Diagnostic {
  const d: Diagnostic = { code, severity, key, message };
  if (value !== undefined) d.value = bounded(value);
  return d;
}

/** Sorted by key (stable, so order of discovery is kept per key), identical entries removed. */
export function finish(list: Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of list) {
    const id = JSON.stringify([d.code, d.key, d.value ?? null, d.message]);
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(d);
  }
  return out.sort((a, b) => cmp(a.key, b.key));
}

/** Values that no label accepts: too long, or with control or invisible characters. */
export function rawProblem(value: string): { code: LabelCode; message: string } | undefined {
  if (value.length > MAX_LABEL_VALUE_LENGTH) {
    return {
      code: 'ERR_LABEL_TOO_LONG',
      message: `is ${value.length} characters long; label values are limited to ${MAX_LABEL_VALUE_LENGTH}`,
    };
  }
  const m = CONTROL_RE.exec(value);
  if (m) {
    const ch = m[0];
    const cp = ch.codePointAt(0) ?? 0;
    const invisible = !/\p{Cc}/u.test(ch);
    return {
      code: 'ERR_LABEL_CONTROL_CHAR',
      message: invisible
        ? `contains the invisible character ${charName(ch)} at position ${m.index}; retype the value without it`
        : `contains the control character ${charName(ch)} at position ${m.index}; label values must be a single line of printable text` +
          (cp === 0x0a || cp === 0x0d ? ' (check for a trailing newline from a file or heredoc)' : ''),
    };
  }
  return undefined;
}

/**
 * What a value parser reports through: its problems carry the label's key and its declared code
 * (label-declarations.ts), so a parser never names a code itself.
 */
export interface ValueReport {
  /** The value (or `value`, an item of it) is malformed: an error with the label's code. */
  invalid(message: string, value?: string): void;
  /** An item is listed more than once: WARN_LABEL_DUPLICATE. */
  duplicate(message: string, value: string): void;
}

export function valueReport(c: Collector, code: LabelCode, key: string): ValueReport {
  return {
    invalid: (message, value) => c.error(code, key, message, value),
    duplicate: (message, value) => c.warn('WARN_LABEL_DUPLICATE', key, message, value),
  };
}
