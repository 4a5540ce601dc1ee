// decodeLabels: every com.docker.lb.* label of a service → a normalised RouteSpec, or a rejection
// listing every problem found. Pure and total: it never throws, whatever it is given.
//
// Order of work, per label: (1) the raw value is checked for control/invisible characters and
// length; (2) surrounding ASCII spaces are trimmed; (3) the JSON Schema (labels-schema.ts) checks the
// shape with ajv while a hand-written parser checks the same rules and explains what is wrong;
// (4) cross-label rules (required, conflicts, dependencies) run on the parsed values.
// A value reaches the RouteSpec only when both the schema and the parser accept it.
import { Ajv } from 'ajv';
import type { ErrorObject } from 'ajv';
import type { Diagnostic, Severity } from './diagnostics.js';
import { LABEL_PREFIX } from './labels-types.js';
import type { DecodeResult, Redirect, RouteSpec } from './labels-types.js';
import {
  LABEL_BOOL_FALSE_VALUES,
  LABEL_BOOL_TRUE_VALUES,
  KNOWN_LABELS,
  LABEL_DOCS,
  MAX_LABEL_VALUE_LENGTH,
  MAX_LABEL_PATH_LENGTH,
  labelSchema,
} from './labels-schema.js';
import type { KnownLabel } from './labels-schema.js';
import { editDistance } from './edit-distance.js';

// ---------------------------------------------------------------- codes

export const LABEL_CODE_DOCS = {
  ERR_LABEL_UNKNOWN: {
    severity: 'error',
    description: 'A com.docker.lb.* label Signalbox does not know (label names are case-sensitive). The message suggests the closest known label.',
  },
  ERR_LABEL_REQUIRED: {
    severity: 'error',
    description: 'A required label is missing: port always; hosts unless default_backend=true; ssl_key with ssl_cert and ssl_cert with ssl_key.',
  },
  ERR_LABEL_NOT_STRING: {
    severity: 'error',
    description: 'A label value is not a string (only possible when labels come from hand-written JSON, never from Docker).',
  },
  ERR_LABEL_CONTROL_CHAR: {
    severity: 'error',
    description: 'The value contains a control character (NUL, newline, tab, …) or an invisible one (zero-width space, bidi override, …).',
  },
  ERR_LABEL_TOO_LONG: {
    severity: 'error',
    description: `The value is longer than ${MAX_LABEL_VALUE_LENGTH} characters.`,
  },
  ERR_LABEL_HOST_INVALID: {
    severity: 'error',
    description: 'An entry of hosts is not a valid host name (the message says why: empty label, trailing dot, port, non-ASCII, misplaced wildcard, …).',
  },
  ERR_LABEL_PORT_INVALID: { severity: 'error', description: 'port is not a decimal integer between 1 and 65535.' },
  ERR_LABEL_NETWORK_INVALID: { severity: 'error', description: 'network is not a valid Docker network name.' },
  ERR_LABEL_PATH_INVALID: {
    severity: 'error',
    description: 'context_root or an entry of websocket_endpoints is not a valid absolute path.',
  },
  ERR_LABEL_BOOL_INVALID: {
    severity: 'error',
    description: 'A boolean label has a value other than 1, t, T, TRUE, true, True, 0, f, F, FALSE, false or False.',
  },
  ERR_LABEL_COOKIE_INVALID: { severity: 'error', description: 'sticky_session_cookie is not an accepted cookie name ([A-Za-z0-9_.-], 1-128 characters).' },
  ERR_LABEL_SECRET_INVALID: { severity: 'error', description: 'ssl_cert or ssl_key is not a valid Docker secret name.' },
  ERR_LABEL_ENUM_INVALID: {
    severity: 'error',
    description: 'ssl_backend_tls_verify (none|required) or backend_mode (task|vip) has another value.',
  },
  ERR_LABEL_REDIRECT_INVALID: {
    severity: 'error',
    description: 'redirects is malformed: an empty or incomplete pair, a URL that is not absolute http(s), has user info, unsafe characters, an invalid host, a source with a query or port, a loop, or two targets for one source.',
  },
  ERR_LABEL_SERVICE_CLUSTER_INVALID: { severity: 'error', description: 'service_cluster is not a valid cluster name.' },
  ERR_LABEL_MAX_FAILS_INVALID: { severity: 'error', description: 'max_fails is not an integer between 0 and 1000.' },
  ERR_LABEL_FAIL_TIMEOUT_INVALID: { severity: 'error', description: 'fail_timeout is not an nginx time in whole seconds (1-6 digits and an optional unit s, m, h or d; nginx refuses ms in fail_timeout).' },
  ERR_LABEL_CONFLICT: {
    severity: 'error',
    description: 'Two labels that cannot be combined: ip_hash with sticky_session_cookie; ssl_passthrough with context_root, sticky_session_cookie, websocket_endpoints, ssl_cert, ssl_key, ssl_backend or redirects; backend_mode=vip with sticky_session_cookie or ip_hash.',
  },
  ERR_LABEL_DEPENDENCY: {
    severity: 'error',
    description: 'A label needs another one: context_root_rewrite needs context_root; ssl_only needs ssl_cert/ssl_key or ssl_passthrough; ssl_backend_tls_verify=required needs ssl_backend=true; ssl_passthrough needs hosts.',
  },
  ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT: {
    severity: 'error',
    description: 'A websocket endpoint is not under the context root, so no request to it would reach the service.',
  },
  ERR_LABEL_INTERNAL: {
    severity: 'error',
    description: 'The decoder hit an unexpected internal error; the service is rejected rather than routed. Please report it.',
  },
  WARN_LABEL_DUPLICATE: {
    severity: 'warning',
    description: 'A host, websocket endpoint or redirect is listed more than once (after normalisation); the duplicate is ignored.',
  },
  WARN_LABEL_CONTEXT_ROOT_IGNORED: {
    severity: 'warning',
    description: "context_root is '/', which means no context root; the label has no effect.",
  },
} as const satisfies Record<string, { severity: Severity; description: string }>;

export type LabelCode = keyof typeof LABEL_CODE_DOCS;

const ALL_CODES = Object.keys(LABEL_CODE_DOCS) as LabelCode[];
/** Every error code decodeLabels can emit. */
export const LABEL_ERROR_CODES: readonly LabelCode[] = ALL_CODES.filter((c) => LABEL_CODE_DOCS[c].severity === 'error');
/** Every warning code decodeLabels can emit. */
export const LABEL_WARNING_CODES: readonly LabelCode[] = ALL_CODES.filter((c) => LABEL_CODE_DOCS[c].severity === 'warning');

/** The shape error code of each label (used for its own parse errors and schema errors). */
const SHAPE_CODE: Record<KnownLabel, LabelCode> = {
  hosts: 'ERR_LABEL_HOST_INVALID',
  port: 'ERR_LABEL_PORT_INVALID',
  network: 'ERR_LABEL_NETWORK_INVALID',
  context_root: 'ERR_LABEL_PATH_INVALID',
  context_root_rewrite: 'ERR_LABEL_BOOL_INVALID',
  sticky_session_cookie: 'ERR_LABEL_COOKIE_INVALID',
  ip_hash: 'ERR_LABEL_BOOL_INVALID',
  ssl_cert: 'ERR_LABEL_SECRET_INVALID',
  ssl_key: 'ERR_LABEL_SECRET_INVALID',
  ssl_only: 'ERR_LABEL_BOOL_INVALID',
  ssl_passthrough: 'ERR_LABEL_BOOL_INVALID',
  ssl_backend: 'ERR_LABEL_BOOL_INVALID',
  ssl_backend_tls_verify: 'ERR_LABEL_ENUM_INVALID',
  websocket_endpoints: 'ERR_LABEL_PATH_INVALID',
  redirects: 'ERR_LABEL_REDIRECT_INVALID',
  default_backend: 'ERR_LABEL_BOOL_INVALID',
  backend_mode: 'ERR_LABEL_ENUM_INVALID',
  service_cluster: 'ERR_LABEL_SERVICE_CLUSTER_INVALID',
  max_fails: 'ERR_LABEL_MAX_FAILS_INVALID',
  fail_timeout: 'ERR_LABEL_FAIL_TIMEOUT_INVALID',
};

/** Prefix of the message used when the schema rejects a value the parser accepted (a bug: they must agree). */
export const LABEL_SCHEMA_MISMATCH_MESSAGE = 'does not match the label schema';

// ---------------------------------------------------------------- helpers

const K = (suffix: KnownLabel): string => `${LABEL_PREFIX}${suffix}`;
const KNOWN_SET: ReadonlySet<string> = new Set(KNOWN_LABELS);
const isKnown = (suffix: string): suffix is KnownLabel => KNOWN_SET.has(suffix);

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Only ASCII spaces are trimmed; tabs and newlines are control characters and rejected. */
const trimSpaces = (s: string): string => s.replace(/^ +| +$/g, '');

const MAX_STORED_VALUE = 256;
/** Diagnostics carry a bounded copy of the offending value. */
function bounded(value: string): string {
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
function charName(ch: string): string {
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

const CONTROL_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}]/u;
// eslint-disable-next-line no-control-regex -- the ASCII range starts at NUL
const NON_ASCII_RE = /[^\x00-\x7f]/u;

function nonAsciiReason(ch: string, what: string): string {
  if (/\p{Zs}/u.test(ch)) return `contains the non-ASCII space ${charName(ch)}; use plain spaces (or none)`;
  return (
    `contains the non-ASCII character ${charName(ch)}; ${what} must be ASCII: use the punycode (xn--) form ` +
    'for internationalised names, and beware of look-alikes such as Cyrillic or fullwidth letters'
  );
}

// ---------------------------------------------------------------- diagnostics collector

/** A list label with thousands of bad items yields this many diagnostics per key and code, then one summary. */
const MAX_PER_KEY_AND_CODE = 10;

class Collector {
  readonly errors: Diagnostic[] = [];
  readonly warnings: Diagnostic[] = [];
  /** Keys that have at least one error from the parser or a cross-label rule. */
  readonly keysWithErrors = new Set<string>();
  private readonly counts = new Map<string, number>();

  error(code: LabelCode, key: string, message: string, value?: string): void {
    this.keysWithErrors.add(key);
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

function make(code: LabelCode, severity: Severity, key: string, message: string, value?: string): Diagnostic {
  const d: Diagnostic = { code, severity, key, message };
  if (value !== undefined) d.value = bounded(value);
  return d;
}

/** Sorted by key (stable, so order of discovery is kept per key), identical entries removed. */
function finish(list: Diagnostic[]): Diagnostic[] {
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

// ---------------------------------------------------------------- raw value checks

function rawProblem(value: string): { code: LabelCode; message: string } | undefined {
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

// ---------------------------------------------------------------- value parsers
// Each returns the parsed value, or undefined after reporting at least one error on `key`.

type Parser<T> = (c: Collector, key: string, value: string) => T | undefined;

function emptyMessage(what: string): string {
  return `is empty; give ${what} or remove the label`;
}

/** Why `host` is not a valid RFC 1123 host name (optionally with a leading '*.'), or undefined if it is. */
function hostProblem(host: string, allowWildcard: boolean): string | undefined {
  if (host === '') return 'is empty';
  const nonAscii = NON_ASCII_RE.exec(host);
  if (nonAscii) return nonAsciiReason(nonAscii[0], 'host names');
  if (host.includes(' ')) return 'contains a space; separate host names with commas';
  if (host.includes('://') || host.includes('/')) {
    return 'is not a bare host name; remove the scheme and path (write app.example.com)';
  }
  if (host.includes(':')) {
    return /^[^:]*:[0-9]*$/.test(host)
      ? 'ports do not belong in hosts; use com.docker.lb.port'
      : "contains ':', which is not allowed in host names (IPv6 literals are not supported)";
  }
  if (host.endsWith('.')) return `has a trailing dot; remove it (write ${host.replace(/\.+$/, '') || 'app.example.com'})`;
  let name = host;
  if (host.includes('*')) {
    if (!allowWildcard) return "contains '*'; wildcards are not allowed here, use an exact host name";
    if (host === '*') {
      return "'*' alone is not a host; use com.docker.lb.default_backend=true to catch every host, or a wildcard like *.example.com";
    }
    if (host.startsWith('*.') && !host.slice(2).includes('*')) name = host.slice(2);
    else if (host.startsWith('*')) return "has a wildcard that is not a whole label; write the wildcard as '*.' followed by a domain (*.example.com)";
    else return "has a wildcard that is not the leftmost label; only a leading '*.' is supported (*.example.com)";
  }
  if (host.length > 253) return `is ${host.length} characters long; host names are at most 253`;
  const labels = name.split('.');
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] ?? '';
    if (label === '') {
      return i === 0 && name === host ? 'starts with a dot; remove it' : 'is not a valid hostname (empty label between dots)';
    }
    const bad = /[^A-Za-z0-9-]/.exec(label);
    if (bad) return `contains ${charName(bad[0])}, which is not allowed in host names (letters, digits, '-' and '.' only)${interlockUnsafeNote(bad[0])}`;
    if (label.length > 63) return `has a label of ${label.length} characters ('${label.slice(0, 16)}…'); labels are at most 63`;
    if (label.startsWith('-') || label.endsWith('-')) return `has a label that starts or ends with '-' ('${label}')`;
  }
  return undefined;
}

const parseHosts: Parser<string[]> = (c, key, value) => {
  if (value === '') {
    c.error('ERR_LABEL_HOST_INVALID', key, emptyMessage('at least one host name, e.g. app.example.com,'), value);
    return undefined;
  }
  let ok = true;
  const hosts = new Set<string>();
  for (const raw of value.split(',')) {
    const item = trimSpaces(raw);
    if (item === '') {
      c.error('ERR_LABEL_HOST_INVALID', key, 'has an empty entry (two commas in a row, or a leading or trailing comma); remove it', value);
      ok = false;
      continue;
    }
    const problem = hostProblem(item, true);
    if (problem !== undefined) {
      c.error('ERR_LABEL_HOST_INVALID', key, problem, item);
      ok = false;
      continue;
    }
    const host = item.toLowerCase(); // ASCII only here, so no Unicode case folding surprises
    if (hosts.has(host)) c.warn('WARN_LABEL_DUPLICATE', key, 'is listed more than once; the duplicate is ignored', item);
    hosts.add(host);
  }
  return ok ? [...hosts].sort(cmp) : undefined;
};

const parsePort: Parser<number> = (c, key, value) => {
  const fail = (message: string): undefined => {
    c.error('ERR_LABEL_PORT_INVALID', key, message, value);
    return undefined;
  };
  if (value === '') return fail('is empty; give the port the service listens on, e.g. 8080');
  if (/^[+-]/.test(value)) return fail('must not have a sign; write the port as a plain number, e.g. 8080');
  if (value.includes(' ')) return fail('must not contain spaces; write the port as a plain number, e.g. 8080');
  const bad = /[^0-9]/.exec(value);
  if (bad) return fail(`contains ${charName(bad[0])}; the port must be a decimal number between 1 and 65535`);
  if (value.length > 1 && value.startsWith('0')) return fail(`has a leading zero; write it as ${value.replace(/^0+/, '') || '0'}`);
  const n = Number(value);
  if (!(n >= 1 && n <= 65535)) return fail('is out of range; ports are 1-65535');
  return n;
};

/** Names: Docker networks, secrets, service clusters. */
function nameParser(code: LabelCode, what: string, max: number): Parser<string> {
  return (c, key, value) => {
    const fail = (message: string): undefined => {
      c.error(code, key, message, value);
      return undefined;
    };
    if (value === '') return fail(emptyMessage(`a ${what}`));
    if (value.length > max) return fail(`is ${value.length} characters long; a ${what} is at most ${max}`);
    const nonAscii = NON_ASCII_RE.exec(value);
    if (nonAscii) return fail(`contains the non-ASCII character ${charName(nonAscii[0])}; a ${what} uses letters, digits, '_', '.' and '-' only`);
    if (!/^[A-Za-z0-9]/.test(value)) return fail(`must start with a letter or digit, not ${charName(value[0] ?? '')}`);
    const bad = /[^A-Za-z0-9_.-]/.exec(value);
    if (bad) return fail(`contains ${charName(bad[0])}; a ${what} uses letters, digits, '_', '.' and '-' only`);
    return value;
  };
}

const parseNetwork = nameParser('ERR_LABEL_NETWORK_INVALID', 'Docker network name', 255);
const parseSecret = nameParser('ERR_LABEL_SECRET_INVALID', 'Docker secret name', 64);
const parseCluster = nameParser('ERR_LABEL_SERVICE_CLUSTER_INVALID', 'service cluster name', 64);

/** RFC 6265 token characters that are not letters, digits, '_', '.' or '-'. */
const COOKIE_TOKEN_EXTRA = "!#$%&'*+^`|~";

const parseCookie: Parser<string> = (c, key, value) => {
  const fail = (message: string): undefined => {
    c.error('ERR_LABEL_COOKIE_INVALID', key, message, value);
    return undefined;
  };
  if (value === '') return fail(emptyMessage('a cookie name'));
  if (value.length > 128) return fail(`is ${value.length} characters long; cookie names are limited to 128`);
  const bad = /[^A-Za-z0-9_.-]/u.exec(value);
  if (bad) {
    const ch = bad[0];
    if (COOKIE_TOKEN_EXTRA.includes(ch)) {
      return fail(`contains ${charName(ch)}: valid in a cookie name, but nginx cannot hash on it safely; use letters, digits, '_', '.' and '-' only`);
    }
    if (NON_ASCII_RE.test(ch)) return fail(nonAsciiReason(ch, 'cookie names'));
    return fail(`contains ${charName(ch)}, which is not allowed in a cookie name; use letters, digits, '_', '.' and '-' only${interlockUnsafeNote(ch)}`);
  }
  return value;
};

const BOOL_TRUE: ReadonlySet<string> = new Set(LABEL_BOOL_TRUE_VALUES);
const BOOL_FALSE: ReadonlySet<string> = new Set(LABEL_BOOL_FALSE_VALUES);

const parseBool: Parser<boolean> = (c, key, value) => {
  if (BOOL_TRUE.has(value)) return true;
  if (BOOL_FALSE.has(value)) return false;
  c.error(
    'ERR_LABEL_BOOL_INVALID',
    key,
    `is not a boolean; use true or false (also accepted: ${[...LABEL_BOOL_TRUE_VALUES, ...LABEL_BOOL_FALSE_VALUES].filter((v) => v !== 'true' && v !== 'false').join(', ')})`,
    value,
  );
  return undefined;
};

function enumParser<T extends string>(values: readonly T[]): Parser<T> {
  return (c, key, value) => {
    const found = values.find((v) => v === value);
    if (found !== undefined) return found;
    const ci = values.find((v) => v === value.toLowerCase());
    c.error(
      'ERR_LABEL_ENUM_INVALID',
      key,
      `must be one of: ${values.join(', ')}` + (ci !== undefined ? ` (values are case-sensitive: write ${ci})` : ''),
      value,
    );
    return undefined;
  };
}

/** Bytes whose %XX escape is refused in paths: controls, '.', '/', '\' and DEL. */
function forbiddenEscape(byte: number): string | undefined {
  if (byte < 0x20 || byte === 0x7f) return 'a control character';
  if (byte === 0x2e) return "'.'";
  if (byte === 0x2f) return "'/'";
  if (byte === 0x5c) return "'\\'";
  return undefined;
}

/** Why `p` is not an acceptable path, or the normalised path (trailing slash removed, escapes upper-cased). */
function checkPath(p: string): { problem: string } | { path: string } {
  if (p === '') return { problem: 'is empty; give a path such as /api' };
  if (p === '/') return { path: '/' };
  if (p.length > MAX_LABEL_PATH_LENGTH) return { problem: `is ${p.length} characters long; paths are at most ${MAX_LABEL_PATH_LENGTH}` };
  if (!p.startsWith('/')) {
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p)
      ? { problem: 'is a URL; give only the path, e.g. /api' }
      : { problem: "must start with '/', e.g. /api" };
  }
  const segments = p.slice(1).split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop(); // one trailing slash
  const out: string[] = [];
  for (const seg of segments) {
    if (seg === '') return { problem: "contains an empty segment ('//'); remove the extra slash" };
    if (seg === '.' || seg === '..') return { problem: `contains a '${seg}' segment; write the path without it` };
    let norm = '';
    for (let i = 0; i < seg.length; ) {
      const ch = String.fromCodePoint(seg.codePointAt(i) ?? 0);
      if (ch === '%') {
        const hex = seg.slice(i + 1, i + 3);
        if (!/^[0-9A-Fa-f]{2}$/.test(hex)) {
          return { problem: `contains an invalid escape '${seg.slice(i, i + 3)}'; '%' must be followed by two hex digits` };
        }
        const what = forbiddenEscape(parseInt(hex, 16));
        if (what !== undefined) {
          return { problem: `contains %${hex.toUpperCase()}, an escaped ${what}, which is not allowed (it could hide a separator or a '..' segment)` };
        }
        norm += `%${hex.toUpperCase()}`;
        i += 3;
        continue;
      }
      if (!/^[A-Za-z0-9._~-]$/.test(ch)) {
        if (ch === '?' || ch === '#') return { problem: `contains ${charName(ch)}; a path has no query string or fragment` };
        if (NON_ASCII_RE.test(ch)) return { problem: `${nonAsciiReason(ch, 'paths').replace(/; .*$/, '')}; percent-encode it (e.g. %C3%A9)` };
        return { problem: `contains ${charName(ch)}, which is not allowed in a path (letters, digits, '.', '_', '~', '-' and %XX escapes only)${interlockUnsafeNote(ch)}` };
      }
      norm += ch;
      i += ch.length;
    }
    out.push(norm);
  }
  return { path: `/${out.join('/')}` };
}

/** '/' stands for "no context root" and is mapped to undefined (with a warning) by the caller. */
const parseContextRoot: Parser<string> = (c, key, value) => {
  const r = checkPath(value);
  if ('problem' in r) {
    c.error('ERR_LABEL_PATH_INVALID', key, r.problem, value);
    return undefined;
  }
  return r.path;
};

const parseWebsocketEndpoints: Parser<string[]> = (c, key, value) => {
  if (value === '') {
    c.error('ERR_LABEL_PATH_INVALID', key, emptyMessage('at least one path, e.g. /ws,'), value);
    return undefined;
  }
  let ok = true;
  const paths = new Set<string>();
  for (const raw of value.split(',')) {
    const item = trimSpaces(raw);
    if (item === '') {
      c.error('ERR_LABEL_PATH_INVALID', key, 'has an empty entry (two commas in a row, or a leading or trailing comma); remove it', value);
      ok = false;
      continue;
    }
    const r = checkPath(item);
    if ('problem' in r) {
      c.error('ERR_LABEL_PATH_INVALID', key, r.problem, item);
      ok = false;
      continue;
    }
    if (paths.has(r.path)) c.warn('WARN_LABEL_DUPLICATE', key, 'is listed more than once (after normalisation); the duplicate is ignored', item);
    paths.add(r.path);
  }
  return ok ? [...paths].sort(cmp) : undefined;
};

/** Characters allowed anywhere in a redirect URL: nothing that is special to nginx or a shell. */
const URL_UNSAFE_CHAR = /[^A-Za-z0-9\-._~:/?@!&()*+=%]/u;
const URL_SAFE = /^https?:\/\/[A-Za-z0-9\-._~:/?@!&()*+=%]+$/;

function unsafeUrlCharReason(ch: string): string {
  if (ch === ' ') return 'contains a space; URLs cannot contain spaces (percent-encode it as %20)';
  if (ch === '#') return "contains '#'; fragments are never sent to the server, remove it";
  if (ch === '"' || ch === "'" || ch === '`') return `contains the quote ${charName(ch)}; remove it or percent-encode it${interlockUnsafeNote(ch)}`;
  if (NON_ASCII_RE.test(ch)) {
    return `${nonAsciiReason(ch, 'URLs').replace(/; .*$/, '')}; use the punycode (xn--) form for host names and %XX escapes in paths`;
  }
  return `contains ${charName(ch)}, which is not allowed in redirect URLs; percent-encode it if it belongs to the path or query${interlockUnsafeNote(ch)}`;
}

interface ParsedUrl {
  href: string;
  host: string;
}

/** Problems are reported with the URL itself as the value. */
function parseRedirectUrl(c: Collector, key: string, raw: string, role: 'source' | 'target'): ParsedUrl | undefined {
  const fail = (message: string): undefined => {
    c.error('ERR_LABEL_REDIRECT_INVALID', key, `${role} ${message}`, raw);
    return undefined;
  };
  const bad = URL_UNSAFE_CHAR.exec(raw);
  if (bad) return fail(unsafeUrlCharReason(bad[0]));
  const m = /^(https?):\/\/([^/?]*)(.*)$/i.exec(raw);
  if (!m) return fail('is not an absolute http:// or https:// URL (e.g. https://app.example.com)');
  const authority = m[2] ?? '';
  if (authority.includes('@')) return fail("contains user info ('user@'); remove it");
  const hp = /^([^:]*)(?::([0-9]{1,5}))?$/.exec(authority);
  if (!hp) return fail('has an invalid port; write host or host:port with a port of 1-65535');
  const host = hp[1] ?? '';
  const problem = hostProblem(host, false);
  if (problem !== undefined) return fail(`host '${host}' ${problem}`);
  if (hp[2] !== undefined) {
    if (role === 'source') return fail('must not have a port; a redirect is matched on the host name only');
    const port = Number(hp[2]);
    if (!(port >= 1 && port <= 65535)) return fail('has a port out of range; ports are 1-65535');
  }
  if (role === 'source' && (m[3] ?? '').includes('?')) return fail('must not have a query string; a redirect is matched on the host name');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.hostname !== host.toLowerCase()) return fail(`host '${host}' is not in canonical form; write it as ${url.hostname}`);
  let href = url.href;
  if (url.pathname === '/' && url.search === '' && href.endsWith('/')) href = href.slice(0, -1);
  if (!URL_SAFE.test(href)) return fail('cannot be normalised to a safe URL');
  return { href, host: url.hostname };
}

const REDIRECT_EXAMPLE = 'http://old.example.com,https://new.example.com';

const parseRedirects: Parser<Redirect[]> = (c, key, value) => {
  if (value === '') {
    c.error('ERR_LABEL_REDIRECT_INVALID', key, emptyMessage(`source,target pairs, e.g. ${REDIRECT_EXAMPLE},`), value);
    return undefined;
  }
  let ok = true;
  const fail = (message: string, shown: string): void => {
    c.error('ERR_LABEL_REDIRECT_INVALID', key, message, shown);
    ok = false;
  };
  const list: Redirect[] = [];
  // Interlock's label table writes each pair with a closing ';' (http://old,http://new;): one
  // trailing ';' ends the list rather than starting an empty pair.
  const pairs = value.split(';');
  if (pairs.length > 1 && trimSpaces(pairs[pairs.length - 1]!) === '') pairs.pop();
  for (const rawPair of pairs) {
    const pair = trimSpaces(rawPair);
    if (pair === '') {
      fail("has an empty pair (two ';' in a row, or a leading ';'); remove it", value);
      continue;
    }
    const parts = pair.split(',').map(trimSpaces);
    if (parts.length > 2) {
      fail(`has more than one ',' in a pair; write source,target pairs separated by ';' (e.g. ${REDIRECT_EXAMPLE})`, pair);
      continue;
    }
    const [source = '', target = ''] = parts;
    if (source === '') {
      fail(`has a pair without a source; write source,target (e.g. ${REDIRECT_EXAMPLE})`, pair);
      continue;
    }
    if (target === '') {
      fail(`has a pair without a target; write source,target (e.g. ${REDIRECT_EXAMPLE})`, pair);
      continue;
    }
    const s = parseRedirectUrl(c, key, source, 'source');
    const t = parseRedirectUrl(c, key, target, 'target');
    if (!s || !t) {
      ok = false;
      continue;
    }
    if (s.href === t.href) {
      fail('redirects to itself; the target must differ from the source', pair);
      continue;
    }
    list.push({ source: s.href, target: t.href, sourceHost: s.host });
  }
  const bySource = new Map<string, Redirect>();
  for (const r of list) {
    const prev = bySource.get(r.source);
    if (!prev) {
      bySource.set(r.source, r);
    } else if (prev.target === r.target) {
      c.warn('WARN_LABEL_DUPLICATE', key, 'is listed more than once; the duplicate is ignored', `${r.source},${r.target}`);
    } else {
      fail(`is redirected to two targets (${prev.target} and ${r.target}); keep one`, r.source);
    }
  }
  if (!ok) return undefined;
  return [...bySource.values()].sort((a, b) => cmp(a.sourceHost, b.sourceHost) || cmp(a.source, b.source) || cmp(a.target, b.target));
};

const parseMaxFails: Parser<number> = (c, key, value) => {
  const fail = (message: string): undefined => {
    c.error('ERR_LABEL_MAX_FAILS_INVALID', key, message, value);
    return undefined;
  };
  if (value === '') return fail(emptyMessage('a number of failures (0-1000)'));
  if (!/^[0-9]+$/.test(value)) return fail('is not a whole number; use an integer between 0 and 1000, e.g. 3');
  if (value.length > 1 && value.startsWith('0')) return fail(`has a leading zero; write it as ${value.replace(/^0+/, '') || '0'}`);
  const n = Number(value);
  if (!(n <= 1000)) return fail('is out of range; use an integer between 0 and 1000');
  return n;
};

const parseFailTimeout: Parser<string> = (c, key, value) => {
  if (/^[0-9]+ms$/.test(value)) {
    // nginx parses fail_timeout in whole seconds: `fail_timeout=500ms` fails nginx -t.
    c.error('ERR_LABEL_FAIL_TIMEOUT_INVALID', key, "is in milliseconds, which nginx does not accept for fail_timeout (whole seconds only); write e.g. 1s", value);
    return undefined;
  }
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(value);
  if (!m) {
    c.error(
      'ERR_LABEL_FAIL_TIMEOUT_INVALID',
      key,
      value === '' ? emptyMessage('an nginx time, e.g. 10s') : 'is not an nginx time; write digits with an optional unit s, m, h or d, e.g. 10s',
      value,
    );
    return undefined;
  }
  if ((m[1] ?? '').length > 6) {
    c.error('ERR_LABEL_FAIL_TIMEOUT_INVALID', key, 'has more than 6 digits; use a larger unit (e.g. 2h instead of 7200000ms)', value);
    return undefined;
  }
  return value;
};

const PARSERS = {
  hosts: parseHosts,
  port: parsePort,
  network: parseNetwork,
  context_root: parseContextRoot,
  context_root_rewrite: parseBool,
  sticky_session_cookie: parseCookie,
  ip_hash: parseBool,
  ssl_cert: parseSecret,
  ssl_key: parseSecret,
  ssl_only: parseBool,
  ssl_passthrough: parseBool,
  ssl_backend: parseBool,
  ssl_backend_tls_verify: enumParser(['none', 'required'] as const),
  websocket_endpoints: parseWebsocketEndpoints,
  redirects: parseRedirects,
  default_backend: parseBool,
  backend_mode: enumParser(['task', 'vip'] as const),
  service_cluster: parseCluster,
  max_fails: parseMaxFails,
  fail_timeout: parseFailTimeout,
} satisfies Record<KnownLabel, Parser<unknown>>;

type Parsed = { [L in KnownLabel]: NonNullable<ReturnType<(typeof PARSERS)[L]>> };

/** absent: label not set; invalid: set but rejected (already reported); ok: parsed. */
type Field<T> = { state: 'absent' } | { state: 'invalid' } | { state: 'ok'; value: T; raw: string };
type Fields = { [L in KnownLabel]: Field<Parsed[L]> };

// ---------------------------------------------------------------- unknown labels

/** The known label an unknown suffix was probably meant to be. */
export function suggestLabel(suffix: string): KnownLabel | undefined {
  if (suffix.length === 0 || suffix.length > 64) return undefined;
  const lower = suffix.toLowerCase().replace(/-/g, '_');
  let best: KnownLabel | undefined;
  let bestD = Infinity;
  for (const known of KNOWN_LABELS) {
    const d = editDistance(lower, known);
    const limit = known.length <= 4 ? 1 : known.length <= 8 ? 2 : 3;
    if (d <= limit && d < bestD) {
      best = known;
      bestD = d;
    }
  }
  return best;
}

// ---------------------------------------------------------------- schema (ajv)

const ajv = new Ajv({ allErrors: true, strict: true, strictRequired: false });
const validateShape = ajv.compile(labelSchema);

function decodePointer(pointer: string): string {
  return pointer.replace(/^\//, '').replace(/~1/g, '/').replace(/~0/g, '~');
}

/** Schema errors become Diagnostics in the same format; the raw ajv text never leaves this module. */
function translateSchemaError(e: ErrorObject, input: Record<string, string>): Diagnostic | undefined {
  if (e.keyword === 'if') return undefined;
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty?: unknown }).missingProperty;
    if (typeof missing !== 'string') return undefined;
    return make('ERR_LABEL_REQUIRED', 'error', missing, 'is required');
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty?: unknown }).additionalProperty;
    if (typeof extra !== 'string') return undefined;
    return make('ERR_LABEL_UNKNOWN', 'error', extra, 'is not a known label', input[extra]);
  }
  const key = decodePointer(e.instancePath);
  const suffix = key.startsWith(LABEL_PREFIX) ? key.slice(LABEL_PREFIX.length) : '';
  if (!isKnown(suffix)) return undefined;
  return make(SHAPE_CODE[suffix], 'error', key, `${LABEL_SCHEMA_MISMATCH_MESSAGE}; expected ${LABEL_DOCS[suffix].value}`, input[key]);
}

// ---------------------------------------------------------------- decode

function collectLabels(labels: unknown): [string, unknown][] {
  if (labels === null || typeof labels !== 'object') return [];
  const out: [string, unknown][] = [];
  for (const key of Object.keys(labels)) {
    if (key.startsWith(LABEL_PREFIX)) out.push([key, (labels as Record<string, unknown>)[key]]);
  }
  return out.sort((a, b) => cmp(a[0], b[0]));
}

function decode(labels: unknown): DecodeResult {
  const entries = collectLabels(labels);
  if (entries.length === 0) return { status: 'ignored' };
  const c = new Collector();
  const present = new Set<string>();
  const clean: Record<string, string> = Object.create(null) as Record<string, string>;

  // 1. unknown keys and raw value checks
  for (const [key, value] of entries) {
    present.add(key);
    const suffix = key.slice(LABEL_PREFIX.length);
    if (!isKnown(suffix)) {
      const s = suggestLabel(suffix);
      c.error(
        'ERR_LABEL_UNKNOWN',
        key,
        s !== undefined
          ? `is not a known label; did you mean ${LABEL_PREFIX}${s}?`
          : 'is not a known label (label names are case-sensitive; see docs/labels.md for the list)',
        typeof value === 'string' ? value : undefined,
      );
    }
    if (typeof value !== 'string') {
      c.error('ERR_LABEL_NOT_STRING', key, `must be a string, not ${value === null ? 'null' : typeof value}`);
      continue;
    }
    const problem = rawProblem(value);
    if (problem) {
      c.error(problem.code, key, problem.message, value);
      continue;
    }
    clean[key] = trimSpaces(value);
  }

  // 2. per-label parsing
  const fields = {} as Record<KnownLabel, Field<unknown>>;
  for (const suffix of KNOWN_LABELS) {
    const key = K(suffix);
    const value = clean[key];
    if (!present.has(key)) fields[suffix] = { state: 'absent' };
    else if (value === undefined) fields[suffix] = { state: 'invalid' };
    else {
      const parsed = (PARSERS[suffix] as Parser<unknown>)(c, key, value);
      fields[suffix] = parsed === undefined ? { state: 'invalid' } : { state: 'ok', value: parsed, raw: value };
    }
  }
  const f = fields as Fields;
  if (f.context_root.state === 'ok' && f.context_root.value === '/') {
    c.warn('WARN_LABEL_CONTEXT_ROOT_IGNORED', K('context_root'), "means no context root; remove the label (it has no effect)", f.context_root.raw);
  }

  // 3. cross-label rules
  crossChecks(c, f);

  // 4. the schema must agree; its errors only add what the parser did not already report
  if (!validateShape(clean)) {
    for (const e of validateShape.errors ?? []) {
      const d = translateSchemaError(e, clean);
      if (!d) continue;
      if (present.has(d.key) && d.code === 'ERR_LABEL_REQUIRED') continue;
      if (c.keysWithErrors.has(d.key)) continue;
      c.errors.push(d);
    }
  }

  const warnings = finish(c.warnings);
  const serviceCluster = f.service_cluster.state === 'ok' ? f.service_cluster.value : '';
  if (c.errors.length > 0) return { status: 'rejected', errors: finish(c.errors), warnings, serviceCluster };
  return { status: 'ok', spec: buildSpec(f), warnings };
}

const isTrue = (field: Field<boolean>): boolean => field.state === 'ok' && field.value;
const has = (field: Field<unknown>): boolean => field.state !== 'absent';
const rawOf = (field: Field<unknown>): string | undefined => (field.state === 'ok' ? field.raw : undefined);

function crossChecks(c: Collector, f: Fields): void {
  if (!has(f.port)) c.error('ERR_LABEL_REQUIRED', K('port'), 'is required: the port the service listens on, e.g. com.docker.lb.port=8080');
  if (!has(f.hosts) && !isTrue(f.default_backend)) {
    c.error(
      'ERR_LABEL_REQUIRED',
      K('hosts'),
      'is required: the host names to route, e.g. com.docker.lb.hosts=app.example.com (or set com.docker.lb.default_backend=true)',
    );
  }
  if (has(f.ssl_cert) && !has(f.ssl_key)) {
    c.error('ERR_LABEL_REQUIRED', K('ssl_key'), 'is required when com.docker.lb.ssl_cert is set: a certificate needs its key');
  }
  if (has(f.ssl_key) && !has(f.ssl_cert)) {
    c.error('ERR_LABEL_REQUIRED', K('ssl_cert'), 'is required when com.docker.lb.ssl_key is set: a key needs its certificate');
  }
  if (isTrue(f.context_root_rewrite) && !has(f.context_root)) {
    c.error(
      'ERR_LABEL_DEPENDENCY',
      K('context_root_rewrite'),
      'requires com.docker.lb.context_root: there is no prefix to strip; set a context root or remove this label',
      rawOf(f.context_root_rewrite),
    );
  }
  if (isTrue(f.ssl_only) && !has(f.ssl_cert) && !has(f.ssl_key) && f.ssl_passthrough.state !== 'invalid' && !isTrue(f.ssl_passthrough)) {
    c.error(
      'ERR_LABEL_DEPENDENCY',
      K('ssl_only'),
      'requires TLS: set com.docker.lb.ssl_cert and com.docker.lb.ssl_key, or com.docker.lb.ssl_passthrough=true',
      rawOf(f.ssl_only),
    );
  }
  if (f.ssl_backend_tls_verify.state === 'ok' && f.ssl_backend_tls_verify.value === 'required' && f.ssl_backend.state !== 'invalid' && !isTrue(f.ssl_backend)) {
    c.error(
      'ERR_LABEL_DEPENDENCY',
      K('ssl_backend_tls_verify'),
      'requires com.docker.lb.ssl_backend=true: there is no backend TLS to verify',
      rawOf(f.ssl_backend_tls_verify),
    );
  }
  if (isTrue(f.ip_hash) && has(f.sticky_session_cookie)) {
    c.error(
      'ERR_LABEL_CONFLICT',
      K('ip_hash'),
      'cannot be combined with com.docker.lb.sticky_session_cookie; pick one way to pin clients',
      rawOf(f.ip_hash),
    );
  }
  if (isTrue(f.ssl_passthrough)) {
    const why = 'with com.docker.lb.ssl_passthrough=true nginx forwards the encrypted stream and never sees requests';
    const incompatible: KnownLabel[] = ['context_root', 'sticky_session_cookie', 'websocket_endpoints', 'ssl_cert', 'ssl_key', 'redirects'];
    for (const other of incompatible) {
      if (has(f[other])) c.error('ERR_LABEL_CONFLICT', K(other), `cannot be used with ssl_passthrough: ${why}`, rawOf(f[other]));
    }
    if (isTrue(f.ssl_backend)) {
      c.error('ERR_LABEL_CONFLICT', K('ssl_backend'), 'cannot be used with ssl_passthrough: the service already terminates TLS itself', rawOf(f.ssl_backend));
    }
    if (!has(f.hosts)) {
      c.error(
        'ERR_LABEL_DEPENDENCY',
        K('ssl_passthrough'),
        'requires com.docker.lb.hosts: passthrough routes on the TLS SNI host name',
        rawOf(f.ssl_passthrough),
      );
    }
  }
  if (f.backend_mode.state === 'ok' && f.backend_mode.value === 'vip') {
    if (has(f.sticky_session_cookie)) {
      c.error(
        'ERR_LABEL_CONFLICT',
        K('sticky_session_cookie'),
        'cannot be used with com.docker.lb.backend_mode=vip: sticky sessions need task backends (remove backend_mode or set it to task)',
        rawOf(f.sticky_session_cookie),
      );
    }
    if (isTrue(f.ip_hash)) {
      c.error(
        'ERR_LABEL_CONFLICT',
        K('ip_hash'),
        'cannot be used with com.docker.lb.backend_mode=vip: sticky sessions need task backends (remove backend_mode or set it to task)',
        rawOf(f.ip_hash),
      );
    }
  }
  if (f.websocket_endpoints.state === 'ok' && f.context_root.state === 'ok' && f.context_root.value !== '/') {
    const root = f.context_root.value;
    for (const ep of f.websocket_endpoints.value) {
      if (ep !== root && !ep.startsWith(`${root}/`)) {
        c.error(
          'ERR_LABEL_WEBSOCKET_OUTSIDE_CONTEXT_ROOT',
          K('websocket_endpoints'),
          `is not under the context root ${root}; requests to it would never reach this service (write ${root}${ep === '/' ? '' : ep})`,
          ep,
        );
      }
    }
  }
}

function buildSpec(f: Fields): RouteSpec {
  const val = <T>(field: Field<T>): T | undefined => (field.state === 'ok' ? field.value : undefined);
  const root = val(f.context_root);
  const contextRoot = root === '/' ? undefined : root;
  const spec: RouteSpec = {
    hosts: val(f.hosts) ?? [],
    port: val(f.port) ?? 0, // required: decode never builds a spec without it
    contextRootRewrite: contextRoot !== undefined && (val(f.context_root_rewrite) ?? false),
    ipHash: val(f.ip_hash) ?? false,
    sslOnly: val(f.ssl_only) ?? false,
    sslPassthrough: val(f.ssl_passthrough) ?? false,
    sslBackend: val(f.ssl_backend) ?? false,
    sslBackendTlsVerify: val(f.ssl_backend_tls_verify) ?? 'none',
    websocketEndpoints: val(f.websocket_endpoints) ?? [],
    redirects: val(f.redirects) ?? [],
    defaultBackend: val(f.default_backend) ?? false,
    backendMode: val(f.backend_mode) ?? 'task',
    serviceCluster: val(f.service_cluster) ?? '',
  };
  const network = val(f.network);
  if (network !== undefined) spec.network = network;
  if (contextRoot !== undefined) spec.contextRoot = contextRoot;
  const cookie = val(f.sticky_session_cookie);
  if (cookie !== undefined) spec.stickySessionCookie = cookie;
  const cert = val(f.ssl_cert);
  if (cert !== undefined) spec.sslCert = cert;
  const key = val(f.ssl_key);
  if (key !== undefined) spec.sslKey = key;
  const maxFails = val(f.max_fails);
  if (maxFails !== undefined) spec.maxFails = maxFails;
  const failTimeout = val(f.fail_timeout);
  if (failTimeout !== undefined) spec.failTimeout = failTimeout;
  return spec;
}

function describeThrown(e: unknown): string {
  try {
    return bounded(e instanceof Error ? e.message : String(e));
  } catch {
    return 'unknown error';
  }
}

/**
 * Decode a service's labels. Only com.docker.lb.* keys are considered. Never throws:
 * - no such key → { status: 'ignored' }
 * - every label valid → { status: 'ok', spec, warnings }
 * - otherwise → { status: 'rejected', errors (all of them, sorted by key), warnings, serviceCluster }
 */
export function decodeLabels(labels: Record<string, string>): DecodeResult {
  try {
    return decode(labels);
  } catch (e) {
    return {
      status: 'rejected',
      errors: [
        make('ERR_LABEL_INTERNAL', 'error', `${LABEL_PREFIX}*`, `could not be decoded because of an internal error (${describeThrown(e)}); please report this`),
      ],
      warnings: [],
      serviceCluster: '',
    };
  }
}

// ---------------------------------------------------------------- examples (docs and tests)

const EXAMPLE_COMPANIONS: Partial<Record<KnownLabel, Partial<Record<KnownLabel, string>>>> = {
  context_root_rewrite: { context_root: '/api' },
  ssl_cert: { ssl_key: LABEL_DOCS.ssl_key.example },
  ssl_key: { ssl_cert: LABEL_DOCS.ssl_cert.example },
  ssl_only: { ssl_cert: LABEL_DOCS.ssl_cert.example, ssl_key: LABEL_DOCS.ssl_key.example },
  ssl_passthrough: { port: '8443' },
  ssl_backend: { port: '8443' },
  ssl_backend_tls_verify: { ssl_backend: 'true', port: '8443' },
  websocket_endpoints: {},
};

/** A complete, valid label set showing `suffix` with its example value (and whatever it needs). */
export function exampleLabels(suffix: KnownLabel): Record<string, string> {
  const picked: Partial<Record<KnownLabel, string>> =
    suffix === 'default_backend' ? { port: '8080' } : { hosts: 'app.example.com', port: '8080' };
  Object.assign(picked, EXAMPLE_COMPANIONS[suffix] ?? {}, { [suffix]: LABEL_DOCS[suffix].example });
  const out: Record<string, string> = {};
  for (const s of KNOWN_LABELS) {
    const v = picked[s];
    if (v !== undefined) out[K(s)] = v;
  }
  return out;
}
