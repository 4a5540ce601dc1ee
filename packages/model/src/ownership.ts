// Ownership: a host (and a certificate secret) belongs to the owner (stack) of the first service that
// claims it, unless the operator's HostOwners/SecretOwners say who may use it; a service touching
// another owner's host or secret is rejected with the reason.
import type { Candidate } from './builder-types.js';
import { L, err } from './cluster-diagnostics.js';
import type { Diagnostic } from './diagnostics.js';
import type { RouteSpec } from './labels-types.js';

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

export function ownerRules(target: { hostOwners?: Readonly<Record<string, string>>; secretOwners?: Readonly<Record<string, string>> }): OwnerRules {
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

export interface OwnerClaim {
  owner: string;
  service: string;
}

/** Hosts a service claims: its hosts and the source hosts of its redirects. */
export function claimedHosts(spec: RouteSpec): [host: string, key: string][] {
  const out = new Map<string, string>();
  for (const h of spec.hosts) out.set(h, L('hosts'));
  for (const r of spec.redirects) if (!out.has(r.sourceHost)) out.set(r.sourceHost, L('redirects'));
  return [...out];
}

/** Problems of a service that touches hosts or secrets of another owner (empty if none). */
export function ownershipProblems(
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
