// Upstreams of the routing model: the options services must share to form one (a canary pair),
// the order of their servers, and their nginx names.
import { createHash } from 'node:crypto';
import type { Candidate } from './builder-types.js';
import type { RouteSpec } from './labels-types.js';
import type { Upstream, UpstreamServer } from './routing-model.js';

/** Options that must agree for two services to share one upstream (a canary pair). */
export function upstreamSignature(spec: RouteSpec): string {
  return JSON.stringify([
    spec.stickySessionCookie ?? null,
    spec.ipHash,
    spec.sslBackend,
    spec.sslBackendTlsVerify,
    spec.contextRootRewrite,
    spec.maxFails ?? null,
    spec.failTimeout ?? null,
    spec.backendMode,
  ]);
}

/** Numerically by address (each address parsed once), then port, then service. */
function sortServers(servers: UpstreamServer[]): UpstreamServer[] {
  if (servers.length < 2) return servers;
  const keyed = servers.map((s) => ({ s, parts: s.addr.split('.').map(Number) }));
  keyed.sort((x, y) => {
    const pa = x.parts;
    const pb = y.parts;
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
      const d = (pa[i] ?? 0) - (pb[i] ?? 0);
      if (d !== 0 && !Number.isNaN(d)) return d;
    }
    const a = x.s;
    const b = y.s;
    if (a.addr !== b.addr) return a.addr < b.addr ? -1 : 1;
    if (a.port !== b.port) return a.port - b.port;
    return a.service < b.service ? -1 : a.service > b.service ? 1 : 0;
  });
  return keyed.map((k) => k.s);
}

/**
 * nginx-safe, stable, readable and collision-free by construction: u_<hash>_<host+path, escaped>.
 * The escaped part is the whole host and path, encoded injectively (a-z 0-9 '-' kept, '.' → '_', any
 * other character → 'X' + 2 hex digits or 'Y' + 4; 'X' and 'Y' never stand for themselves), so two
 * different host/path pairs never share a name. The hash only exists for nginx, which finds an upstream
 * by a linear scan of all of them for every `upstream` and `proxy_pass`, comparing the length first
 * and then the bytes: the hash comes first so that byte comparisons stop at once, and it is 8 to 31 hex
 * digits long (chosen by the hash) so that most comparisons already stop at the length. With the
 * lengths of similar host names alone, most names were the same length: at 10 000 services this
 * saves ~20 % of every `nginx -t` and reload (docs/performance.md, "Scale").
 */
export function upstreamName(host: string, path: string): string {
  // A host never contains '/', a path always starts with it: host+path is itself unambiguous.
  const key = `${host}${path === '/' ? '' : path}`;
  const digest = createHash('sha256').update(`${host}\n${path}`).digest('hex');
  const hash = digest.slice(0, 8 + (parseInt(digest.slice(8, 10), 16) % 24));
  return `u_${hash}_${escapeName(key)}`;
}

function escapeName(s: string): string {
  return s.replace(/[^a-z0-9-]/g, (ch) => {
    if (ch === '.') return '_';
    const code = ch.charCodeAt(0);
    return code < 256 ? `X${code.toString(16).toUpperCase().padStart(2, '0')}` : `Y${code.toString(16).toUpperCase().padStart(4, '0')}`;
  });
}

export function makeUpstream(name: string, members: Candidate[]): Upstream {
  const first = members[0]!.spec;
  const servers = sortServers(members.flatMap((m) => m.servers));
  const up: Upstream = {
    name,
    servers,
    balance: first.stickySessionCookie !== undefined ? 'cookie' : first.ipHash ? 'ip_hash' : 'round_robin',
    tls: { enabled: first.sslBackend, verify: first.sslBackendTlsVerify === 'required' },
    services: [...new Set(members.map((m) => m.svc.name))].sort(),
  };
  if (first.stickySessionCookie !== undefined) up.cookie = first.stickySessionCookie;
  if (first.maxFails !== undefined) up.maxFails = first.maxFails;
  if (first.failTimeout !== undefined) up.failTimeout = first.failTimeout;
  return up;
}
