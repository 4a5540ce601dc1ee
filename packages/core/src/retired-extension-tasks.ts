// The extension rolls start-first (desired-specs.ts): its new task starts beside the old one, and swarm
// tells the old one to shut down once the new one is healthy. Swarm then takes the old task out of DNS
// but stops its container only after a grace of about 2 s, and until then the proxies' long-polls stay on
// it. That old task cannot read a certificate secret mounted by the roll, so a route on it would wait out
// the grace. The model names such tasks; the one named stops serving at once, and its proxies reconnect
// to the new task.
import type { ClusterModel, SwarmSnapshot } from '@signalbox/model';
import { withPendingField } from './pending-field.js';

/** IDs of a service's tasks told to shut down whose containers still run, sorted (read for core's proxies and extensions). */
export function retiredTasks(snap: SwarmSnapshot, service: string): string[] {
  const svc = snap.services.find((s) => s.name === service);
  return (svc?.stoppingTasks ?? []).map((t) => t.id).sort();
}

/** The model with `retiredExtensionTasks` set (absent when none), as the extension receives it. */
export function withRetiredExtensionTasks(model: ClusterModel, snap: SwarmSnapshot, extensionService: string): ClusterModel {
  return withPendingField(model, 'retiredExtensionTasks', retiredTasks(snap, extensionService));
}
