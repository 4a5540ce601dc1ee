// Pure builder: swarm snapshot → one routing model per extension (service cluster).
// Deterministic: services are considered in (createdAt, name, id) order, so the service that
// loses a conflict is the same one after every restart, and output is sorted throughout.
import { createHash } from 'node:crypto';
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';
import { decodeLabels } from './labels.js';
import type { ClusterModel, Location, PassthroughHost, RedirectRule, ServiceStatus, Upstream, UpstreamServer, VirtualHost } from './routing-model.js';
import type { NetworkSnapshot, ServiceSnapshot, SwarmSnapshot } from './snapshot.js';

export interface ClusterTarget {
  /** [Extensions.NAME] section name. */
  name: string;
  /** Its ServiceCluster value ('' = serves services without a service_cluster label). */
  serviceCluster: string;
  /** Fixed network list (ExtensionConfig.Networks); empty = whatever routed services need. */
  networks: readonly string[];
  /** Operator's host sharing (ExtensionConfig.HostOwners): host pattern → comma-separated owners ('-' = no stack). */
  hostOwners?: Readonly<Record<string, string>>;
  /** Operator's secret sharing (ExtensionConfig.SecretOwners): secret name → comma-separated owners. */
  secretOwners?: Readonly<Record<string, string>>;
}

/** Per-service limits, so one service's labels cannot make the config slow to check or to load for everyone. */
export const MAX_HOSTS_PER_SERVICE = 100;
/** Total length of a service's com.docker.lb.* label values. */
export const MAX_LABELS_TOTAL_LENGTH = 8_192;

const L = (suffix: string): string => `com.docker.lb.${suffix}`;

/** Codes of what a service's labels cannot tell on their own (swarm state, other services); docs/errors.md#core. */
export type ClusterCode =
  | 'ERR_NETWORK_NOT_FOUND'
  | 'ERR_NETWORK_NOT_ATTACHED'
  | 'ERR_NETWORK_NOT_OVERLAY'
  | 'ERR_NETWORK_NONE'
  | 'ERR_NETWORK_AMBIGUOUS'
  | 'ERR_NETWORK_NOT_ALLOWED'
  | 'ERR_SECRET_NOT_FOUND'
  | 'ERR_SERVICE_CLUSTER_UNKNOWN'
  | 'ERR_BACKEND_MODE_VIP'
  | 'ERR_CONFLICT_ROUTE'
  | 'ERR_CONFLICT_CERT'
  | 'ERR_CONFLICT_PASSTHROUGH'
  | 'ERR_CONFLICT_DEFAULT_BACKEND'
  | 'ERR_CONFLICT_REDIRECT'
  | 'ERR_CONFLICT_SSL_ONLY'
  | 'ERR_CONFLICT_WEBSOCKET'
  | 'ERR_HOST_RESERVED'
  | 'ERR_HOST_OWNED'
  | 'ERR_SECRET_OWNED'
  | 'ERR_LIMIT_HOSTS'
  | 'ERR_LIMIT_LABELS'
  | 'WARN_SERVING_PREVIOUS_LABELS';

/**
 * Appended to conflict errors: Interlock had no such check. It rendered both services into one nginx.conf,
 * so nginx either refused the whole file (no site got updates) or one service silently won.
 */
const UNSAFE_IN_INTERLOCK =
  " (Interlock accepted both and rendered them into one nginx.conf, where nginx either refused the whole file, so no service got updates, or one service silently took the other's traffic; Signalbox keeps the service created first)";

function err(code: ClusterCode, key: string, message: string, value?: string): Diagnostic {
  return value === undefined ? { code, severity: 'error', key, message } : { code, severity: 'error', key, message, value };
}

function byString<T>(key: (t: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  };
}

/** Where the proxy reaches a service's servers. */
type Reach = { kind: 'network'; network: NetworkSnapshot } | { kind: 'host-port'; published: number };

interface Candidate {
  svc: ServiceSnapshot;
  spec: RouteSpec;
  reach: Reach;
  servers: UpstreamServer[];
  errors: Diagnostic[];
  warnings: Diagnostic[];
}

/** Options that must agree for two services to share one upstream (a canary pair). */
function upstreamSignature(spec: RouteSpec): string {
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

/**
 * The network a stack file calls `key`: docker stack deploy names it <stack>_<key>. Interlock's stack
 * examples name it by its key (com.docker.lb.network: demo-network), so an attached network of the
 * service's own stack is found by the key too.
 */
function stackNetwork(svc: ServiceSnapshot, key: string, attached: readonly NetworkSnapshot[]): NetworkSnapshot | undefined {
  const stack = svc.labels['com.docker.stack.namespace'];
  return stack === undefined ? undefined : attached.find((n) => n.name === `${stack}_${key}`);
}

function resolveReach(svc: ServiceSnapshot, spec: RouteSpec, snap: SwarmSnapshot, byId: Map<string, NetworkSnapshot>): Reach | Diagnostic {
  const attached = svc.networkIds.map((id) => byId.get(id)).filter((n): n is NetworkSnapshot => n !== undefined && !n.ingress);
  if (spec.network !== undefined) {
    const named = snap.networks.find((n) => n.name === spec.network) ?? stackNetwork(svc, spec.network, attached);
    if (named === undefined) {
      return err(
        'ERR_NETWORK_NOT_FOUND',
        L('network'),
        'names a network that does not exist in the swarm, nor one of its own stack by that key; create it or fix the name (stacks prefix network names with the stack name)',
        spec.network,
      );
    }
    if (!attached.some((n) => n.id === named.id)) {
      const names = attached.map((n) => n.name).sort();
      return err(
        'ERR_NETWORK_NOT_ATTACHED',
        L('network'),
        `is not a network this service is attached to (attached: ${names.length ? names.join(', ') : 'none'}); add the network to the service`,
        spec.network,
      );
    }
    if (named.scope !== 'swarm' || named.driver !== 'overlay') {
      return err('ERR_NETWORK_NOT_OVERLAY', L('network'), `is a ${named.scope}-scoped ${named.driver} network; the proxy can only join swarm-scoped overlay networks`, spec.network);
    }
    return { kind: 'network', network: named };
  }
  const hostPublished = svc.ports.find((p) => p.mode === 'host' && p.target === spec.port && p.protocol === 'tcp');
  const overlays = attached.filter((n) => n.driver === 'overlay' && n.scope === 'swarm');
  if (overlays.length === 1 && overlays[0] !== undefined) return { kind: 'network', network: overlays[0] };
  if (overlays.length === 0 && hostPublished !== undefined) return { kind: 'host-port', published: hostPublished.published };
  if (overlays.length === 0) {
    return err('ERR_NETWORK_NONE', L('network'), `is not set and the service is on no overlay network; attach it to one (and name it in ${L('network')}) or publish port ${spec.port} in host mode`);
  }
  return err(
    'ERR_NETWORK_AMBIGUOUS',
    L('network'),
    `is required because the service is on several networks (${overlays
      .map((n) => n.name)
      .sort()
      .join(', ')}); name the one the proxy should use`,
  );
}

function serversFor(svc: ServiceSnapshot, spec: RouteSpec, reach: Reach, snap: SwarmSnapshot): UpstreamServer[] {
  if (reach.kind === 'host-port') {
    const nodes = new Map(snap.nodes.map((n) => [n.id, n]));
    const addrs = new Set<string>();
    for (const t of svc.tasks) {
      const node = nodes.get(t.nodeId);
      if (node?.ready && node.addr) addrs.add(node.addr);
    }
    return [...addrs].map((addr) => ({ addr, port: reach.published, service: svc.name }));
  }
  if (spec.backendMode === 'vip') {
    const vip = svc.vips.find((v) => v.networkId === reach.network.id);
    return vip ? [{ addr: vip.addr, port: spec.port, service: svc.name }] : [];
  }
  const out: UpstreamServer[] = [];
  for (const t of svc.tasks) {
    const a = t.addresses.find((x) => x.networkId === reach.network.id);
    if (a) out.push({ addr: a.addr, port: spec.port, service: svc.name });
  }
  return out;
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

function makeUpstream(name: string, members: Candidate[]): Upstream {
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

// ---- Ownership: a host (and a certificate secret) belongs to the owner of the first service that claims it.

/** Docker stack deploy puts this label on every service (and secret) of a stack. */
export const STACK_NAMESPACE_LABEL = 'com.docker.stack.namespace';

/** The owner of a service or secret: its stack; everything outside any stack is one owner (''). */
export function ownerOf(labels: Readonly<Record<string, string>> | undefined): string {
  return labels?.[STACK_NAMESPACE_LABEL] ?? '';
}

/** How an owner is named in messages. */
export function ownerName(owner: string): string {
  return owner === '' ? 'the services outside any stack' : `stack "${owner}"`;
}

/** Owner lists in config.toml: comma-separated stack names, '-' for the services outside any stack. */
export function parseOwnerList(value: string): Set<string> {
  return new Set(
    value
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '')
      .map((o) => (o === '-' ? '' : o)),
  );
}

/** Operator rules (config.toml HostOwners / SecretOwners): pattern → owners allowed. */
export interface OwnerRules {
  hosts: Map<string, Set<string>>;
  secrets: Map<string, Set<string>>;
}

function ownerRules(target: ClusterTarget): OwnerRules {
  const map = (r: Readonly<Record<string, string>> | undefined) => new Map(Object.entries(r ?? {}).map(([k, v]) => [k.toLowerCase(), parseOwnerList(v)]));
  return { hosts: map(target.hostOwners), secrets: map(target.secretOwners) };
}

/**
 * The owners the operator allows on `host`, or undefined if no rule covers it. The most specific rule
 * wins: the exact name, then the longest wildcard that covers it (*.shop.example.com before *.example.com).
 */
export function operatorOwners(host: string, rules: ReadonlyMap<string, Set<string>>): Set<string> | undefined {
  if (rules.size === 0) return undefined;
  const exact = rules.get(host);
  if (exact) return exact;
  const labels = host.split('.');
  for (let i = 1; i < labels.length; i++) {
    const rule = rules.get(`*.${labels.slice(i).join('.')}`);
    if (rule) return rule;
  }
  return undefined;
}

interface OwnerClaim {
  owner: string;
  service: string;
}

/** Hosts a service claims: its hosts and the source hosts of its redirects. */
function claimedHosts(spec: RouteSpec): [host: string, key: string][] {
  const out = new Map<string, string>();
  for (const h of spec.hosts) out.set(h, L('hosts'));
  for (const r of spec.redirects) if (!out.has(r.sourceHost)) out.set(r.sourceHost, L('redirects'));
  return [...out];
}

/** Problems of a service that touches hosts or secrets of another owner (empty if none). */
function ownershipProblems(
  c: Candidate,
  owner: string,
  rules: OwnerRules,
  hostOwner: ReadonlyMap<string, OwnerClaim>,
  secretOwner: ReadonlyMap<string, OwnerClaim>,
  secretLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): Diagnostic[] {
  const problems: Diagnostic[] = [];
  for (const [host, key] of claimedHosts(c.spec)) {
    const allowed = operatorOwners(host, rules.hosts);
    if (allowed) {
      if (!allowed.has(owner)) {
        problems.push(
          err('ERR_HOST_RESERVED', key, `is reserved by the operator (config.toml HostOwners) for ${[...allowed].sort().map(ownerName).join(', ')}; this service belongs to ${ownerName(owner)}`, host),
        );
      }
      continue;
    }
    const holder = hostOwner.get(host);
    if (holder && holder.owner !== owner) {
      problems.push(
        err(
          'ERR_HOST_OWNED',
          key,
          `belongs to ${ownerName(holder.owner)} (first claimed by service ${holder.service}); this service belongs to ${ownerName(owner)} and cannot add routes, redirects, certificates or passthrough to it (an operator can share it in config.toml HostOwners)`,
          host,
        ),
      );
    }
  }
  for (const [key, secret] of [
    ['ssl_cert', c.spec.sslCert],
    ['ssl_key', c.spec.sslKey],
  ] as const) {
    if (secret === undefined) continue;
    const allowed = rules.secrets.get(secret);
    const labelled = secretLabels.get(secret);
    const stackOwner = labelled?.[STACK_NAMESPACE_LABEL];
    const holder = secretOwner.get(secret);
    const owners = allowed ?? (stackOwner !== undefined ? new Set([stackOwner]) : holder ? new Set([holder.owner]) : undefined);
    if (owners && !owners.has(owner)) {
      const why = allowed ? 'the operator (config.toml SecretOwners) allows it to' : stackOwner !== undefined ? 'the secret was created by' : `first used by service ${holder!.service} of`;
      problems.push(
        err(
          'ERR_SECRET_OWNED',
          L(key),
          `belongs to ${[...owners].sort().map(ownerName).join(', ')} (${why} that owner); this service belongs to ${ownerName(owner)} and cannot use it (an operator can share it in config.toml SecretOwners)`,
          secret,
        ),
      );
    }
  }
  return problems;
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
function resolveConflicts(cands: Candidate[], rules: OwnerRules, secretLabels: ReadonlyMap<string, Readonly<Record<string, string>>>): Resolution {
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

function serviceOrder(a: ServiceSnapshot, b: ServiceSnapshot): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

interface EvalContext {
  snap: SwarmSnapshot;
  networksById: Map<string, NetworkSnapshot>;
  secretNames: Set<string>;
  knownClusters: Set<string>;
  targets: readonly ClusterTarget[];
}

type Evaluation =
  | { kind: 'ignored' }
  | { kind: 'rejected'; cluster: string; hosts: string[]; errors: Diagnostic[]; warnings: Diagnostic[] }
  | { kind: 'ok'; cluster: string; spec: RouteSpec; reach: Reach; warnings: Diagnostic[] };

/** One service's labels, decoded and checked against the swarm (networks, secrets, clusters). */
function evaluate(svc: ServiceSnapshot, labels: Record<string, string>, ctx: EvalContext): Evaluation {
  const decoded = decodeLabels(labels);
  if (decoded.status === 'ignored') return { kind: 'ignored' };
  if (decoded.status === 'rejected') return { kind: 'rejected', cluster: decoded.serviceCluster, hosts: [], errors: decoded.errors, warnings: decoded.warnings };
  const spec = decoded.spec;
  const cluster = spec.serviceCluster;
  const errors: Diagnostic[] = [];
  const tooLong = labelsTooLong(labels);
  if (tooLong) return { kind: 'rejected', cluster, hosts: [], errors: [tooLong], warnings: decoded.warnings };
  if (spec.hosts.length > MAX_HOSTS_PER_SERVICE) {
    errors.push(
      err(
        'ERR_LIMIT_HOSTS',
        L('hosts'),
        `names ${spec.hosts.length} hosts; a service may route at most ${MAX_HOSTS_PER_SERVICE} (split it, or use a wildcard such as *.example.com)`,
        spec.hosts.slice(0, 3).join(','),
      ),
    );
    return { kind: 'rejected', cluster, hosts: [], errors, warnings: decoded.warnings };
  }
  if (!ctx.knownClusters.has(cluster)) {
    errors.push(
      err(
        'ERR_SERVICE_CLUSTER_UNKNOWN',
        L('service_cluster'),
        `names no configured service cluster (configured: ${[...ctx.knownClusters]
          .map((c) => (c === '' ? '(default)' : c))
          .sort()
          .join(', ')})`,
        cluster,
      ),
    );
  }
  for (const [key, name] of [
    ['ssl_cert', spec.sslCert],
    ['ssl_key', spec.sslKey],
  ] as const) {
    if (name !== undefined && !ctx.secretNames.has(name)) {
      errors.push(err('ERR_SECRET_NOT_FOUND', L(key), 'names a Docker secret that does not exist; create it with `docker secret create`', name));
    }
  }
  const reach = resolveReach(svc, spec, ctx.snap, ctx.networksById);
  if ('code' in reach) {
    errors.push(reach);
    return { kind: 'rejected', cluster, hosts: spec.hosts, errors, warnings: decoded.warnings };
  }
  const target = ctx.targets.find((t) => t.serviceCluster === cluster);
  if (reach.kind === 'network' && target && target.networks.length > 0 && !target.networks.includes(reach.network.name)) {
    errors.push(
      err('ERR_NETWORK_NOT_ALLOWED', L('network'), `is not in this cluster's fixed Networks list (${[...target.networks].sort().join(', ')}); the proxy only joins those`, reach.network.name),
    );
  }
  if (spec.backendMode === 'vip' && (reach.kind !== 'network' || svc.endpointMode !== 'vip')) {
    errors.push(err('ERR_BACKEND_MODE_VIP', L('backend_mode'), 'is vip but the service has no virtual IP on that network (endpoint mode dnsrr or host-published); use task', 'vip'));
  }
  if (errors.length > 0) return { kind: 'rejected', cluster, hosts: spec.hosts, errors, warnings: decoded.warnings };
  return { kind: 'ok', cluster, spec, reach, warnings: decoded.warnings };
}

/** The per-service cap on label text (each value is capped by the decoder; this caps them together). */
function labelsTooLong(labels: Record<string, string>): Diagnostic | undefined {
  let total = 0;
  for (const [k, v] of Object.entries(labels)) if (k.startsWith('com.docker.lb.')) total += k.length + v.length;
  if (total <= MAX_LABELS_TOTAL_LENGTH) return undefined;
  return err('ERR_LIMIT_LABELS', 'com.docker.lb.*', `labels of this service are ${total} characters long together; the limit is ${MAX_LABELS_TOTAL_LENGTH} per service`);
}

function emptyModel(cluster: string): ClusterModel {
  return { cluster, virtualHosts: [], passthrough: [], redirects: [], services: [], proxyNetworks: [], proxySecrets: [] };
}

/** Build one model per target. Services whose service_cluster matches no target are reported by every target. */
export function buildClusterModels(snap: SwarmSnapshot, targets: readonly ClusterTarget[]): Map<string, ClusterModel> {
  const ctx: EvalContext = {
    snap,
    networksById: new Map(snap.networks.map((n) => [n.id, n])),
    secretNames: new Set(snap.secrets.map((s) => s.name)),
    knownClusters: new Set(targets.map((t) => t.serviceCluster)),
    targets,
  };
  const perCluster = new Map<string, { cands: Candidate[]; statuses: ServiceStatus[]; rejectedHosts: HostOf[] }>();
  const orphans: ServiceStatus[] = [];
  for (const t of targets) perCluster.set(t.serviceCluster, { cands: [], statuses: [], rejectedHosts: [] });
  const secretLabels = new Map(snap.secrets.map((s) => [s.name, s.labels ?? {}]));

  const services = [...snap.services].sort(serviceOrder);
  for (const svc of services) {
    const current = evaluate(svc, svc.labels, ctx);
    if (current.kind === 'ignored') continue;
    let chosen = current;
    let labelErrors: Diagnostic[] = [];
    // Nothing that was working is lost: if an update broke the labels, keep routing the previous labels
    // (Docker keeps them as PreviousSpec) and report the new problems.
    // Taking away hosts (or default_backend) withdraws the route on purpose: no fallback then.
    const stillRouted = L('hosts') in svc.labels || L('default_backend') in svc.labels;
    if (current.kind === 'rejected' && svc.previousLabels && stillRouted) {
      const previous = evaluate(svc, svc.previousLabels, ctx);
      if (previous.kind === 'ok') {
        chosen = previous;
        labelErrors = current.errors;
      }
    }
    const bucket = perCluster.get(chosen.cluster);
    if (chosen.kind === 'rejected') {
      const st: ServiceStatus = { id: svc.id, name: svc.name, cluster: chosen.cluster, servers: 0, status: 'disabled', hosts: chosen.hosts, errors: chosen.errors, warnings: chosen.warnings };
      (bucket ? bucket.statuses : orphans).push(st);
      for (const host of chosen.hosts) bucket?.rejectedHosts.push({ host, owner: ownerOf(svc.labels) });
      continue;
    }
    const warnings =
      labelErrors.length === 0
        ? chosen.warnings
        : [
            ...chosen.warnings,
            {
              code: 'WARN_SERVING_PREVIOUS_LABELS' as const,
              severity: 'warning' as const,
              key: 'com.docker.lb.*',
              message: 'the current labels are rejected (see errors); the previous labels of this service are still routed until they are fixed',
            },
          ];
    bucket!.cands.push({ svc, spec: chosen.spec, reach: chosen.reach, servers: serversFor(svc, chosen.spec, chosen.reach, snap), errors: labelErrors, warnings });
  }

  const out = new Map<string, ClusterModel>();
  for (const t of targets) {
    const bucket = perCluster.get(t.serviceCluster)!;
    out.set(t.name, assemble(t, bucket.cands, [...bucket.statuses, ...orphans], bucket.rejectedHosts, secretLabels));
  }
  return out;
}

interface HostOf {
  host: string;
  owner: string;
}

function assemble(
  target: ClusterTarget,
  cands: Candidate[],
  disabled: ServiceStatus[],
  rejectedHosts: readonly HostOf[],
  secretLabels: ReadonlyMap<string, Readonly<Record<string, string>>>,
): ClusterModel {
  const model = emptyModel(target.serviceCluster);
  const { lost, hostOwner } = resolveConflicts(cands, ownerRules(target), secretLabels);
  const winners = cands.filter((c) => !lost.has(c));
  const statuses: ServiceStatus[] = [...disabled];
  for (const c of cands) {
    const problems = lost.get(c);
    statuses.push({
      id: c.svc.id,
      name: c.svc.name,
      cluster: target.serviceCluster,
      status: problems ? 'disabled' : 'enabled',
      hosts: c.spec.hosts,
      servers: problems ? 0 : c.servers.length,
      errors: [...c.errors, ...(problems ?? [])],
      warnings: c.warnings,
    });
  }
  model.services = statuses.sort(byString((s) => `${s.name}\n${s.id}`));

  // Group winners by host → path.
  const hosts = new Map<string, Map<string, Candidate[]>>();
  const passthrough = new Map<string, Candidate>();
  const redirects: RedirectRule[] = [];
  const networks = new Set<string>();
  const secrets = new Set<string>();
  for (const c of winners) {
    if (c.reach.kind === 'network') networks.add(c.reach.network.name);
    if (c.spec.sslCert !== undefined) secrets.add(c.spec.sslCert);
    if (c.spec.sslKey !== undefined) secrets.add(c.spec.sslKey);
    for (const r of c.spec.redirects) redirects.push({ sourceHost: r.sourceHost, source: r.source, target: r.target });
    if (c.spec.defaultBackend && model.defaultBackend === undefined) {
      model.defaultBackend = makeUpstream('u_default_backend', [c]);
    }
    for (const host of c.spec.hosts) {
      if (c.spec.sslPassthrough) {
        passthrough.set(host, c);
        continue;
      }
      const paths = hosts.get(host) ?? new Map<string, Candidate[]>();
      const path = c.spec.contextRoot ?? '/';
      paths.set(path, [...(paths.get(path) ?? []), c]);
      hosts.set(host, paths);
    }
  }

  for (const host of [...hosts.keys()].sort()) {
    const paths = hosts.get(host)!;
    const members = [...paths.values()].flat();
    const withCert = members.find((m) => m.spec.sslCert !== undefined && m.spec.sslKey !== undefined);
    const locations: Location[] = [...paths.keys()].sort().map((path) => {
      const group = paths.get(path)!;
      const ws = new Set(group.flatMap((g) => g.spec.websocketEndpoints));
      return {
        path,
        rewrite: group[0]!.spec.contextRootRewrite,
        websocketEndpoints: [...ws].sort(),
        upstream: makeUpstream(upstreamName(host, path), group),
      };
    });
    const vh: VirtualHost = { host, sslOnly: members.some((m) => m.spec.sslOnly), locations };
    if (withCert) vh.tls = { certSecret: withCert.spec.sslCert!, keySecret: withCert.spec.sslKey! };
    model.virtualHosts.push(vh);
  }
  model.passthrough = [...passthrough.keys()].sort().map((host): PassthroughHost => {
    const c = passthrough.get(host)!;
    const p: PassthroughHost = { host, upstream: makeUpstream(upstreamName(`tls.${host}`, '/'), [c]) };
    if (c.spec.sslOnly) p.sslOnly = true;
    return p;
  });
  model.redirects = dedupeRedirects(redirects);
  const held = heldHosts(model, cands, lost, hostOwner, rejectedHosts);
  if (held.length > 0) model.heldHosts = held;
  model.proxyNetworks = target.networks.length > 0 ? [...target.networks].sort() : [...networks].sort();
  model.proxySecrets = [...secrets].sort();
  return model;
}

/**
 * Hosts someone claims but that are not routed over plain HTTP here (their service is rejected, or the
 * host is passed through without ssl_only), and that would otherwise fall to another owner: the default
 * backend of another owner, or another owner's wildcard. The renderer answers them itself (503, TLS
 * handshake rejected), so no other owner ever receives their requests.
 */
function heldHosts(model: ClusterModel, cands: Candidate[], lost: ReadonlyMap<Candidate, Diagnostic[]>, hostOwner: ReadonlyMap<string, OwnerClaim>, rejected: readonly HostOf[]): string[] {
  const served = new Set<string>(model.virtualHosts.map((v) => v.host));
  for (const p of model.passthrough) if (p.sslOnly) served.add(p.host);
  for (const r of model.redirects) served.add(r.sourceHost);
  const defaultOwner = model.defaultBackend ? ownerOf(cands.find((c) => !lost.has(c) && c.spec.defaultBackend)?.svc.labels) : undefined;
  const wildcardOwner = new Map<string, string>();
  for (const v of model.virtualHosts) if (v.host.startsWith('*.')) wildcardOwner.set(v.host, hostOwner.get(v.host)?.owner ?? '');
  const owners = new Map<string, string>();
  const consider = (host: string, owner: string) => {
    if (!served.has(host) && !owners.has(host)) owners.set(host, hostOwner.get(host)?.owner ?? owner);
  };
  for (const p of model.passthrough) consider(p.host, hostOwner.get(p.host)?.owner ?? '');
  for (const c of cands) if (lost.has(c)) for (const h of c.spec.hosts) consider(h, ownerOf(c.svc.labels));
  for (const r of rejected) consider(r.host, r.owner);
  const foreignWildcard = (host: string, owner: string): boolean => {
    if (wildcardOwner.size === 0) return false;
    const labels = host.split('.');
    for (let i = 1; i < labels.length; i++) {
      const o = wildcardOwner.get(`*.${labels.slice(i).join('.')}`);
      if (o !== undefined && o !== owner) return true;
    }
    return false;
  };
  return [...owners]
    .filter(([host, owner]) => (defaultOwner !== undefined && defaultOwner !== owner) || foreignWildcard(host, owner))
    .map(([host]) => host)
    .sort();
}

function dedupeRedirects(rs: RedirectRule[]): RedirectRule[] {
  const seen = new Map<string, RedirectRule>();
  for (const r of rs) if (!seen.has(r.source)) seen.set(r.source, r);
  return [...seen.values()].sort(byString((r) => `${r.sourceHost}\n${r.source}`));
}

/** Stable content hash of a model (or anything JSON): the version served as ETag. */
export function contentVersion(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 32);
}
