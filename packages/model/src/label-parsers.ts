// The value parsers: each checks one trimmed label value, says precisely what is wrong with it, and
// returns the normalised value. Which label uses which parser, and with which error code, is declared
// in label-declarations.ts.
import type { Redirect } from './labels-types.js';
import { NON_ASCII_RE, charName, cmp, interlockUnsafeNote, nonAsciiReason, trimSpaces } from './label-diagnostics.js';
import type { ValueReport } from './label-diagnostics.js';
import { LABEL_BOOL_FALSE_VALUES, LABEL_BOOL_TRUE_VALUES, MAX_LABEL_PATH_LENGTH } from './label-syntax.js';

/** Returns the parsed value, or undefined after reporting at least one error through `report`. */
export type Parser<T> = (r: ValueReport, value: string) => T | undefined;

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
    return /^[^:]*:[0-9]*$/.test(host) ? 'ports do not belong in hosts; use com.docker.lb.port' : "contains ':', which is not allowed in host names (IPv6 literals are not supported)";
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

/**
 * A comma-separated list of unique items (hosts, websocket paths): each item checked by `check`, which
 * gives its normal form or a problem; duplicates (after normalisation) are reported and dropped.
 */
function parseUniqueList(
  report: Parameters<Parser<string[]>>[0],
  value: string,
  emptyHint: string,
  duplicateMessage: string,
  check: (item: string) => { problem: string } | { item: string },
): string[] | undefined {
  if (value === '') {
    report.invalid(emptyMessage(emptyHint), value);
    return undefined;
  }
  let ok = true;
  const seen = new Set<string>();
  for (const raw of value.split(',')) {
    const item = trimSpaces(raw);
    if (item === '') {
      report.invalid('has an empty entry (two commas in a row, or a leading or trailing comma); remove it', value);
      ok = false;
      continue;
    }
    const r = check(item);
    if ('problem' in r) {
      report.invalid(r.problem, item);
      ok = false;
      continue;
    }
    if (seen.has(r.item)) report.duplicate(duplicateMessage, item);
    seen.add(r.item);
  }
  return ok ? [...seen].sort(cmp) : undefined;
}

export const parseHosts: Parser<string[]> = (report, value) =>
  parseUniqueList(report, value, 'at least one host name, e.g. app.example.com,', 'is listed more than once; the duplicate is ignored', (item) => {
    const problem = hostProblem(item, true);
    // ASCII only here, so no Unicode case folding surprises
    return problem !== undefined ? { problem } : { item: item.toLowerCase() };
  });

export const parsePort: Parser<number> = (report, value) => {
  const fail = (message: string): undefined => {
    report.invalid(message, value);
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
function nameParser(what: string, max: number): Parser<string> {
  return (report, value) => {
    const fail = (message: string): undefined => {
      report.invalid(message, value);
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

export const parseNetwork = nameParser('Docker network name', 255);
export const parseSecret = nameParser('Docker secret name', 64);
export const parseCluster = nameParser('service cluster name', 64);

/** RFC 6265 token characters that are not letters, digits, '_', '.' or '-'. */
const COOKIE_TOKEN_EXTRA = "!#$%&'*+^`|~";

export const parseCookie: Parser<string> = (report, value) => {
  const fail = (message: string): undefined => {
    report.invalid(message, value);
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

export const parseBool: Parser<boolean> = (report, value) => {
  if (BOOL_TRUE.has(value)) return true;
  if (BOOL_FALSE.has(value)) return false;
  report.invalid(`is not a boolean; use true or false (also accepted: ${[...LABEL_BOOL_TRUE_VALUES, ...LABEL_BOOL_FALSE_VALUES].filter((v) => v !== 'true' && v !== 'false').join(', ')})`, value);
  return undefined;
};

export function enumParser<T extends string>(values: readonly T[]): Parser<T> {
  return (report, value) => {
    const found = values.find((v) => v === value);
    if (found !== undefined) return found;
    const ci = values.find((v) => v === value.toLowerCase());
    report.invalid(`must be one of: ${values.join(', ')}` + (ci !== undefined ? ` (values are case-sensitive: write ${ci})` : ''), value);
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
    return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p) ? { problem: 'is a URL; give only the path, e.g. /api' } : { problem: "must start with '/', e.g. /api" };
  }
  const segments = p.slice(1).split('/');
  if (segments.length > 1 && segments[segments.length - 1] === '') segments.pop(); // one trailing slash
  const out: string[] = [];
  for (const seg of segments) {
    if (seg === '') return { problem: "contains an empty segment ('//'); remove the extra slash" };
    if (seg === '.' || seg === '..') return { problem: `contains a '${seg}' segment; write the path without it` };
    let norm = '';
    for (let i = 0; i < seg.length;) {
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
export const parseContextRoot: Parser<string> = (report, value) => {
  const r = checkPath(value);
  if ('problem' in r) {
    report.invalid(r.problem, value);
    return undefined;
  }
  return r.path;
};

export const parseWebsocketEndpoints: Parser<string[]> = (report, value) =>
  parseUniqueList(report, value, 'at least one path, e.g. /ws,', 'is listed more than once (after normalisation); the duplicate is ignored', (item) => {
    const r = checkPath(item);
    return 'problem' in r ? { problem: r.problem } : { item: r.path };
  });

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
function parseRedirectUrl(report: ValueReport, raw: string, role: 'source' | 'target'): ParsedUrl | undefined {
  const fail = (message: string): undefined => {
    report.invalid(`${role} ${message}`, raw);
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

export const parseRedirects: Parser<Redirect[]> = (report, value) => {
  if (value === '') {
    report.invalid(emptyMessage(`source,target pairs, e.g. ${REDIRECT_EXAMPLE},`), value);
    return undefined;
  }
  let ok = true;
  const fail = (message: string, shown: string): void => {
    report.invalid(message, shown);
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
    const s = parseRedirectUrl(report, source, 'source');
    const t = parseRedirectUrl(report, target, 'target');
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
      report.duplicate('is listed more than once; the duplicate is ignored', `${r.source},${r.target}`);
    } else {
      fail(`is redirected to two targets (${prev.target} and ${r.target}); keep one`, r.source);
    }
  }
  if (!ok) return undefined;
  return [...bySource.values()].sort((a, b) => cmp(a.sourceHost, b.sourceHost) || cmp(a.source, b.source) || cmp(a.target, b.target));
};

export const parseMaxFails: Parser<number> = (report, value) => {
  const fail = (message: string): undefined => {
    report.invalid(message, value);
    return undefined;
  };
  if (value === '') return fail(emptyMessage('a number of failures (0-1000)'));
  if (!/^[0-9]+$/.test(value)) return fail('is not a whole number; use an integer between 0 and 1000, e.g. 3');
  if (value.length > 1 && value.startsWith('0')) return fail(`has a leading zero; write it as ${value.replace(/^0+/, '') || '0'}`);
  const n = Number(value);
  if (!(n <= 1000)) return fail('is out of range; use an integer between 0 and 1000');
  return n;
};

export const parseFailTimeout: Parser<string> = (report, value) => {
  if (/^[0-9]+ms$/.test(value)) {
    // nginx parses fail_timeout in whole seconds: `fail_timeout=500ms` fails nginx -t.
    report.invalid('is in milliseconds, which nginx does not accept for fail_timeout (whole seconds only); write e.g. 1s', value);
    return undefined;
  }
  const m = /^([0-9]+)(s|m|h|d)?$/.exec(value);
  if (!m) {
    report.invalid(value === '' ? emptyMessage('an nginx time, e.g. 10s') : 'is not an nginx time; write digits with an optional unit s, m, h or d, e.g. 10s', value);
    return undefined;
  }
  if ((m[1] ?? '').length > 6) {
    report.invalid('has more than 6 digits; use a larger unit (e.g. 2h instead of 7200000ms)', value);
    return undefined;
  }
  return value;
};
