// A secret becomes mountable in a proxy only with new proxy tasks (swarm cannot add a secret to a running
// container). Until those run, a config naming the secret fails nginx -t on the old tasks; so the model
// says which secrets the running proxy tasks do not all mount yet, and the extension holds their routes
// back (pending) instead of publishing a config the running proxies must refuse.
import type { ClusterModel, SwarmSnapshot } from '@signalbox/model';
import { isTokenSecret } from '@signalbox/protocol';
import { withPendingField } from './pending-field.js';

/**
 * Secrets of `model.proxySecrets` that exist and that some running proxy task (of service `proxyService`)
 * does not mount. With no running proxy task nothing is pending: the tasks that start will mount what
 * the spec names. A secret that does not exist is not pending either (the extension refuses its pair),
 * nor a token secret (API or proxy token: never mounted as a route's key).
 */
export function pendingSecrets(model: ClusterModel, snap: SwarmSnapshot, proxyService: string): string[] {
  const tasks = snap.services.find((s) => s.name === proxyService)?.tasks ?? [];
  if (tasks.length === 0 || model.proxySecrets.length === 0) return [];
  const existing = new Set(snap.secrets.map((s) => s.name));
  return model.proxySecrets.filter((name) => existing.has(name) && !isTokenSecret(name) && tasks.some((t) => !(t.secrets ?? []).includes(name)));
}

/** The model with `pendingSecrets` set (absent when none), as the extension receives it. */
export function withPendingSecrets(model: ClusterModel, snap: SwarmSnapshot, proxyService: string): ClusterModel {
  return withPendingField(model, 'pendingSecrets', pendingSecrets(model, snap, proxyService));
}
