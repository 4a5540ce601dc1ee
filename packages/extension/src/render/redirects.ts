// Redirect labels (com.docker.lb.redirects): grouped by source host into a whole-host redirect or
// per-path `return 302` locations.
import type { RedirectRule } from '@signalbox/model';
import { RenderError, hostName, nginxVar, quote, requestPath } from './quote.js';
import { sortedBy } from './ordering.js';
import type { LocationTable } from './locations.js';
import type { ReturnView } from './view-types.js';

export interface HostRedirects {
  /** Redirect of the whole host (source path '/' or empty). */
  whole: string | null;
  /** Source path (no trailing slash) → quoted target. */
  paths: { path: string; target: string }[];
}

function targetOf(rule: RedirectRule): string {
  let target: URL;
  try {
    target = new URL(rule.target);
  } catch {
    throw new RenderError(`invalid redirect target: ${JSON.stringify(rule.target)}`);
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new RenderError(`invalid redirect target: ${JSON.stringify(rule.target)}`);
  }
  // $request_uri starts with '/': drop trailing slashes so the result has a single one.
  return quote(rule.target.replace(/\/+$/, ''), nginxVar('request_uri'));
}

export function groupRedirects(rules: readonly RedirectRule[]): Map<string, HostRedirects> {
  const out = new Map<string, HostRedirects>();
  for (const rule of sortedBy(
    rules,
    (r) => r.sourceHost,
    (r) => r.source,
    (r) => r.target,
  )) {
    const host = hostName(rule.sourceHost);
    let source: URL;
    try {
      source = new URL(rule.source);
    } catch {
      throw new RenderError(`invalid redirect source: ${JSON.stringify(rule.source)}`);
    }
    const path = source.pathname.replace(/\/+$/, '');
    const target = targetOf(rule);
    let entry = out.get(host);
    if (entry === undefined) {
      entry = { whole: null, paths: [] };
      out.set(host, entry);
    }
    if (path === '') {
      entry.whole ??= target;
    } else if (!entry.paths.some((p) => p.path === path)) {
      requestPath(path, 'redirect source path');
      entry.paths.push({ path, target });
    }
  }
  return out;
}

export function addRedirectLocations(table: LocationTable, redirects: HostRedirects | undefined): void {
  for (const { path, target } of redirects?.paths ?? []) {
    for (const [modifier, p] of [
      ['=', path],
      ['', `${path}/`],
    ] as const) {
      table.add({ kind: 'return', modifier, path: quote(p), status: 302, body: target, contentType: null, accessLog: true });
    }
  }
}

/** The server-level return of a host redirected as a whole, or null. */
export function wholeHostReturn(redirects: HostRedirects | undefined): ReturnView | null {
  return redirects?.whole ? { status: 302, body: redirects.whole } : null;
}
