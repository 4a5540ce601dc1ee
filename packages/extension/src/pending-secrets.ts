// Routes whose certificate is a secret the running proxy tasks do not mount yet (core's
// model.pendingSecrets) wait: published now, they would make every running proxy refuse the whole
// config. They are published once core sees the proxy tasks that mount the secret run.
import type { ClusterModel } from '@signalbox/model';
import { servicesOfHost } from './refusals.js';

/** Services that wait, each with the (first) pending secret it waits for. */
export function servicesWaitingForSecrets(model: ClusterModel): Map<string, string> {
  const pending = new Set(model.pendingSecrets ?? []);
  const out = new Map<string, string>();
  if (pending.size === 0) return out;
  for (const vh of model.virtualHosts) {
    if (!vh.tls) continue;
    const secret = [vh.tls.certSecret, vh.tls.keySecret].find((s) => pending.has(s));
    if (secret === undefined) continue;
    for (const service of servicesOfHost(model, vh.host)) if (!out.has(service)) out.set(service, secret);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
}

export const pendingReason = (secret: string): string => `waiting for the proxy tasks that mount secret "${secret}" (swarm is starting them); its routes are published as soon as they run`;
