// Conflict resolution: in service order, which services keep their routes when their claims (host and
// path, certificate, passthrough, redirect, ssl_only, websocket endpoint, default backend, ownership)
// collide with those of services considered before them.
import type { Candidate } from './builder-types.js';
import { L, UNSAFE_IN_INTERLOCK, err } from './cluster-diagnostics.js';
import { upstreamSignature } from './cluster-upstreams.js';
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';
import { claimedHosts, ownerOf, ownershipProblems } from './ownership.js';
import type { OwnerClaim, OwnerRules } from './ownership.js';

/** Claims a service makes; two services conflict when a claim's key matches but the value differs. */
interface Claims {
  locations: Map<string, string>; // host\npath → upstream signature
  certs: Map<string, string>; // host → cert/key pair
  passthrough: Set<string>;
  terminated: Set<string>;
  defaultBackend: boolean;
}

interface Holder {
  service: string;
  value: string;
}

/** The path a redirect source matches: '' for the whole host (what the renderer turns into a server-level return). */
function redirectPath(source: string): string {
  try {
    return new URL(source).pathname.replace(/\/+$/, '');
  } catch {
    return '';
  }
}

/** A redirect (whole host, or one path) and an HTTP route of the same host overlap: the redirect would answer instead. */
const overlaps = (redirectPathOf: string, routePath: string): boolean => redirectPathOf === '' || redirectPathOf === routePath;

function claimsOf(spec: RouteSpec): Claims {
  const c: Claims = { locations: new Map(), certs: new Map(), passthrough: new Set(), terminated: new Set(), defaultBackend: spec.defaultBackend };
  const path = spec.contextRoot ?? '/';
  const signature = spec.sslPassthrough ? '' : upstreamSignature(spec);
  for (const host of spec.hosts) {
    if (spec.sslPassthrough) {
      c.passthrough.add(host);
      continue;
    }
    c.locations.set(`${host}\n${path}`, signature);
    if (spec.sslCert !== undefined && spec.sslKey !== undefined) {
      c.certs.set(host, `${spec.sslCert}\n${spec.sslKey}`);
      c.terminated.add(host);
    }
  }
  return c;
}

const NO_REDIRECTS: ReadonlySet<string> = new Set();

/** Cluster-wide state of the conflict resolution, shared with assemble(). */
interface Resolution {
  lost: Map<Candidate, Diagnostic[]>;
  /** Host → owner, for every host a winner claims. */
  hostOwner: Map<string, OwnerClaim>;
}

/**
 * Decide, in a stable order, which services keep their routes. Returns the conflict diagnostics
 * for each losing service (winners get none). Every lookup is by key, so the whole pass is linear
 * in the number of claims.
 */
export function resolveConflicts(cands: Candidate[], rules: OwnerRules, secretLabels: ReadonlyMap<string, Readonly<Record<string, string>>>): Resolution {
  const lost = new Map<Candidate, Diagnostic[]>();
  const hostOwner = new Map<string, OwnerClaim>();
  const secretOwner = new Map<string, OwnerClaim>();
  const loc = new Map<string, Holder>();
  const httpHost = new Map<string, string>(); // host → first service routing it over HTTP
  const cert = new Map<string, Holder>();
  const pass = new Map<string, string>();
  const term = new Map<string, string>();
  const websockets = new Map<string, Holder>(); // host\nendpoint → location path that owns it
  // Redirects and ssl_only act on a whole host (or path) in nginx, so they must not reach routes of earlier services.
  const redirectTarget = new Map<string, Holder>(); // source URL → target
  const redirectsOnHost = new Map<string, { path: string; source: string; target: string; service: string }[]>();
  const routesOnHost = new Map<string, { path: string; service: string }[]>();
  const plainHost = new Map<string, string>(); // host → first service routing it without ssl_only
  const redirectKeys = new Map<string, ReadonlySet<string>>(); // service → source\ntarget of its redirects
  let def: string | undefined;
  for (const c of cands) {
    const owner = ownerOf(c.svc.labels);
    // Another owner's host or secret: rejected before anything else, so the reason is the owner.
    const foreign = ownershipProblems(c, owner, rules, hostOwner, secretOwner, secretLabels);
    if (foreign.length > 0) {
      lost.set(c, foreign);
      continue;
    }
    const claims = claimsOf(c.spec);
    const problems: Diagnostic[] = [];
    const mine = c.spec.redirects.length === 0 ? NO_REDIRECTS : new Set(c.spec.redirects.map((r) => `${r.source}\n${r.target}`));
    // What this service answers on plain HTTP: its locations, and a passed-through host's redirect to https.
    const httpPaths: [string, string][] = [...claims.locations.keys()].map((k) => k.split('\n') as [string, string]);
    if (c.spec.sslOnly) for (const host of claims.passthrough) httpPaths.push([host, '/']);
    for (const r of c.spec.redirects) {
      const o = redirectTarget.get(r.source);
      if (o && o.value !== r.target) {
        problems.push(
          err(
            'ERR_CONFLICT_REDIRECT',
            L('redirects'),
            `source ${r.source} is already redirected to ${o.value} by service ${o.service}; a source can have only one target` + UNSAFE_IN_INTERLOCK,
            r.source,
          ),
        );
      }
      const path = redirectPath(r.source);
      const taken = (routesOnHost.get(r.sourceHost) ?? []).find((w) => w.service !== c.svc.name && overlaps(path, w.path) && !redirectKeys.get(w.service)?.has(`${r.source}\n${r.target}`));
      if (taken) {
        problems.push(
          err(
            'ERR_CONFLICT_REDIRECT',
            L('redirects'),
            `source ${r.source} would take over host ${r.sourceHost} path ${taken.path}, which service ${taken.service} routes; redirect only hosts and paths no other service serves (or give every service of the host the same redirect)` +
              UNSAFE_IN_INTERLOCK,
            r.source,
          ),
        );
      }
    }
    for (const [host, path] of httpPaths) {
      const shadow = (redirectsOnHost.get(host) ?? []).find((r) => r.service !== c.svc.name && overlaps(r.path, path) && !mine.has(`${r.source}\n${r.target}`));
      if (shadow) {
        problems.push(
          err(
            'ERR_CONFLICT_REDIRECT',
            L('hosts'),
            `host ${host} path ${path} is redirected by service ${shadow.service} (${shadow.source} to ${shadow.target}), so requests would never reach this service` + UNSAFE_IN_INTERLOCK,
            host,
          ),
        );
      }
      const plain = plainHost.get(host);
      if (c.spec.sslOnly && !c.spec.sslPassthrough && plain !== undefined && plain !== c.svc.name) {
        problems.push(
          err(
            'ERR_CONFLICT_SSL_ONLY',
            L('ssl_only'),
            `host ${host} is also routed by service ${plain} without ssl_only; ssl_only applies to the whole host and would turn that service's plain-HTTP routes into redirects (set it on every service of the host, or on none)` +
              UNSAFE_IN_INTERLOCK,
            'true',
          ),
        );
      }
    }
    for (const [key, sig] of claims.locations) {
      const o = loc.get(key);
      const [host, path] = key.split('\n') as [string, string];
      if (o && o.value !== sig) {
        problems.push(
          err(
            'ERR_CONFLICT_ROUTE',
            L('hosts'),
            `host ${host} path ${path} is already routed by service ${o.service} with different options (sticky/ip_hash/ssl_backend/rewrite/max_fails); services sharing a host and path form a canary pair only when those options match` +
              UNSAFE_IN_INTERLOCK,
            host,
          ),
        );
      }
      if (pass.has(host)) {
        problems.push(
          err(
            'ERR_CONFLICT_PASSTHROUGH',
            L('hosts'),
            `host ${host} is already passed through (ssl_passthrough) by service ${pass.get(host)}; a host cannot be both terminated here and passed through` + UNSAFE_IN_INTERLOCK,
            host,
          ),
        );
      }
      // A websocket endpoint is an exact location rendered before the others: it must stay with the
      // location (context root) that first claimed it, or it would take requests of another service's path.
      for (const endpoint of c.spec.websocketEndpoints) {
        const w = websockets.get(`${host}\n${endpoint}`);
        if (w && w.value !== path) {
          problems.push(
            err(
              'ERR_CONFLICT_WEBSOCKET',
              L('websocket_endpoints'),
              `endpoint ${endpoint} of host ${host} is already a websocket endpoint of service ${w.service} (location ${w.value}); one endpoint belongs to one location` + UNSAFE_IN_INTERLOCK,
              endpoint,
            ),
          );
        }
        const routed = loc.get(`${host}\n${endpoint}`);
        if (endpoint !== path && routed) {
          problems.push(
            err(
              'ERR_CONFLICT_WEBSOCKET',
              L('websocket_endpoints'),
              `endpoint ${endpoint} of host ${host} is a path service ${routed.service} routes; a websocket endpoint would take its requests` + UNSAFE_IN_INTERLOCK,
              endpoint,
            ),
          );
        }
      }
    }
    for (const [host, pair] of claims.certs) {
      const o = cert.get(host);
      if (o && o.value !== pair) {
        problems.push(
          err(
            'ERR_CONFLICT_CERT',
            L('ssl_cert'),
            `host ${host} already uses a different certificate from service ${o.service}; services sharing a host must use the same ssl_cert/ssl_key` + UNSAFE_IN_INTERLOCK,
            pair.split('\n')[0],
          ),
        );
      }
    }
    for (const host of claims.passthrough) {
      const other = pass.get(host);
      if (other !== undefined) {
        problems.push(
          err(
            'ERR_CONFLICT_PASSTHROUGH',
            L('ssl_passthrough'),
            `host ${host} is already passed through to service ${other}; only one service may receive a passed-through host` + UNSAFE_IN_INTERLOCK,
            host,
          ),
        );
      }
      const served = term.get(host) ?? httpHost.get(host);
      if (served !== undefined) {
        problems.push(
          err('ERR_CONFLICT_PASSTHROUGH', L('ssl_passthrough'), `host ${host} is already served over HTTP/terminated TLS by service ${served}; a host cannot be both` + UNSAFE_IN_INTERLOCK, host),
        );
      }
    }
    if (claims.defaultBackend && def !== undefined) {
      problems.push(err('ERR_CONFLICT_DEFAULT_BACKEND', L('default_backend'), `service ${def} is already the default backend; only one service per cluster can be` + UNSAFE_IN_INTERLOCK, 'true'));
    }
    if (problems.length > 0) {
      lost.set(c, problems);
      continue;
    }
    for (const [host] of claimedHosts(c.spec)) if (!hostOwner.has(host)) hostOwner.set(host, { owner, service: c.svc.name });
    for (const secret of [c.spec.sslCert, c.spec.sslKey]) if (secret !== undefined && !secretOwner.has(secret)) secretOwner.set(secret, { owner, service: c.svc.name });
    for (const [key, sig] of claims.locations) {
      if (!loc.has(key)) loc.set(key, { service: c.svc.name, value: sig });
      const [host, path] = key.split('\n') as [string, string];
      if (!httpHost.has(host)) httpHost.set(host, c.svc.name);
      if (!c.spec.sslOnly && !plainHost.has(host)) plainHost.set(host, c.svc.name);
      for (const endpoint of c.spec.websocketEndpoints) {
        const k = `${host}\n${endpoint}`;
        if (!websockets.has(k)) websockets.set(k, { service: c.svc.name, value: path });
      }
    }
    for (const [host, path] of httpPaths) {
      const list = routesOnHost.get(host);
      if (list) list.push({ path, service: c.svc.name });
      else routesOnHost.set(host, [{ path, service: c.svc.name }]);
    }
    for (const r of c.spec.redirects) {
      if (!redirectTarget.has(r.source)) redirectTarget.set(r.source, { service: c.svc.name, value: r.target });
      const entry = { path: redirectPath(r.source), source: r.source, target: r.target, service: c.svc.name };
      const list = redirectsOnHost.get(r.sourceHost);
      if (list) list.push(entry);
      else redirectsOnHost.set(r.sourceHost, [entry]);
    }
    redirectKeys.set(c.svc.name, mine);
    for (const [host, pair] of claims.certs) if (!cert.has(host)) cert.set(host, { service: c.svc.name, value: pair });
    for (const host of claims.passthrough) pass.set(host, c.svc.name);
    for (const host of claims.terminated) if (!term.has(host)) term.set(host, c.svc.name);
    if (claims.defaultBackend) def = c.svc.name;
  }
  return { lost, hostOwner };
}
