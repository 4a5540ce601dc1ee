// The one way user-derived text enters nginx syntax, plus validators for operator-supplied tokens.
//
// Defence in depth: the label decoder and config parser already restrict characters. Anything that
// still looks unsafe here is a bug upstream, so we throw instead of guessing.

/** Thrown when the model or config holds something that must never reach nginx syntax. */
export class RenderError extends Error {
  override name = 'RenderError';
}

/** A trusted reference to an nginx variable, e.g. nginxVar('request_uri'). Never built from user text. */
export interface NginxVar {
  readonly nginxVar: string;
}

const VAR_NAME = /^[a-z_][a-z0-9_]*$/;

export function nginxVar(name: string): NginxVar {
  if (!VAR_NAME.test(name)) throw new RenderError(`internal error: invalid nginx variable name ${JSON.stringify(name)}`);
  return { nginxVar: name };
}

/**
 * Characters that must never reach a quoted nginx string: `$` would be interpolated as a variable
 * (nginx has no escape for it inside strings) and control characters have no business in a config.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[$\u0000-\u001f\u007f]/;

function escapeLiteral(value: string): string {
  if (UNSAFE.test(value)) {
    throw new RenderError(`internal error: unsafe character in a value interpolated into nginx.conf: ${JSON.stringify(value)}`);
  }
  return value.replace(/[\\"]/g, (c) => `\\${c}`);
}

/**
 * Quote a value as an nginx double-quoted string. Literal parts are escaped (`\` and `"`) and
 * asserted free of `$` and control characters; NginxVar parts are emitted as variable references.
 *
 *   quote('/app/')                                   → "/app/"
 *   quote('https://new.example.com', nginxVar('request_uri')) → "https://new.example.com$request_uri"
 */
export function quote(...parts: (string | NginxVar)[]): string {
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (typeof part === 'string') {
      out += escapeLiteral(part);
    } else {
      const next = parts[i + 1];
      // `${name}` when the following literal would otherwise extend the variable name.
      const braces = typeof next === 'string' && /^[A-Za-z0-9_]/.test(next);
      out += braces ? `\${${part.nginxVar}}` : `$${part.nginxVar}`;
    }
  }
  return `"${out}"`;
}

/** Escape a literal for use inside a PCRE regex (then quote() the whole regex). */
export function regexEscape(value: string): string {
  return value.replace(/[^A-Za-z0-9_]/g, (c) => `\\${c}`);
}

/** Map keys that collide with `map` block keywords must be prefixed with a backslash. */
const MAP_KEYWORDS = new Set(['default', 'hostnames', 'include', 'volatile']);

export function mapKey(value: string): string {
  return quote(MAP_KEYWORDS.has(value) ? `\\${value}` : value);
}

/** Text placed in a `#` comment: printable ASCII only, one line. */
export function comment(value: string): string {
  return value.replace(/[^\u0020-\u007e]/g, '?');
}

// ---- validators for tokens emitted unquoted -------------------------------------------------

function check(value: string, re: RegExp, what: string): string {
  if (!re.test(value)) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}

const TIME = /^(\d+(ms|s|m|h|d|w|M|y)?)+$/;

/** nginx time, e.g. '75s', '1m30s', '500ms'. */
export function nginxTime(value: string, what: string): string {
  return check(value.trim(), TIME, what);
}

/** keepalive_timeout: 'timeout [header_timeout]'. */
export function nginxTimes(value: string, what: string): string {
  const parts = value.trim().split(/\s+/);
  if (parts.length < 1 || parts.length > 2) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  return parts.map((p) => check(p, TIME, what)).join(' ');
}

const SIZE = /^\d+[kKmMgG]?$/;

/** nginx size, e.g. '8k', '32m'. */
export function nginxSize(value: string, what: string): string {
  return check(value.trim(), SIZE, what);
}

/** 'number size', e.g. '4 8k'. */
export function nginxBuffers(value: string, what: string): string {
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 2) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  check(parts[0]!, /^\d+$/, what);
  check(parts[1]!, SIZE, what);
  return parts.join(' ');
}

export function positiveInt(value: number, what: string): number {
  if (!Number.isInteger(value) || value <= 0) throw new RenderError(`invalid ${what}: ${value}`);
  return value;
}

export function port(value: number, what: string): number {
  if (!Number.isInteger(value) || value < 1 || value > 65535) throw new RenderError(`invalid ${what}: ${value}`);
  return value;
}

/** Upstream names come from the model and are already nginx-safe; assert it. */
export function upstreamName(value: string): string {
  return check(value, /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'upstream name');
}

/**
 * Server names: exact names or wildcards (`*.example.com`, `www.example.*`). Never a regex (`~`),
 * never empty.
 */
export function hostName(value: string): string {
  return check(value, /^(\*\.)?[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*(\.\*)?$/, 'host name');
}

/** Upstream server address: IPv4, IPv6 or a DNS name; rendered with the port, IPv6 in brackets. */
export function serverAddress(addr: string, p: number): string {
  check(addr, /^[A-Za-z0-9_.:-]+$/, 'upstream server address');
  port(p, 'upstream server port');
  return addr.includes(':') ? `[${addr}]:${p}` : `${addr}:${p}`;
}

/** Request paths used in locations: absolute, no whitespace (quote() rejects the rest). */
export function requestPath(value: string, what: string): string {
  if (!value.startsWith('/') || /\s/.test(value)) throw new RenderError(`invalid ${what}: ${JSON.stringify(value)}`);
  return value;
}
