// A new service enters the models when its first task runs, not when it is created: created with
// its tasks still starting, it would first be published without servers (a 503 route) and again a
// moment later with its task, so every proxy reloaded twice for one `docker service create`.
import type { ServiceSnapshot, SwarmSnapshot } from '@signalbox/model';

/** Longest a new service is held back while its tasks start (image pulls can be slow); then it is routed (503 until a task runs). */
export const DEFAULT_FIRST_START_HOLD_MS = 30_000;

export class FirstStartGate {
  /** Services that have been let through once: from then on they are never held back again. */
  private readonly admitted = new Set<string>();
  /** When a held service was first seen. */
  private readonly heldSince = new Map<string, number>();

  constructor(private readonly holdMs = DEFAULT_FIRST_START_HOLD_MS) {}

  /**
   * The snapshot without services that are new (never let through), have no running task, have a
   * task starting, and have been waiting less than holdMs. A service that is scaled to 0, whose
   * tasks all failed, or that waited too long goes through as before; so does one that `mayHold` refuses (core: a
   * service on a network the proxies have not joined yet, which they should start joining at once
   * rather than after its task runs).
   */
  filter(snap: SwarmSnapshot, mayHold: (s: ServiceSnapshot) => boolean = () => true, now = Date.now()): { snapshot: SwarmSnapshot; held: string[] } {
    const present = new Set<string>();
    const held: string[] = [];
    const services = snap.services.filter((s) => {
      present.add(s.id);
      if (this.admitted.has(s.id)) return true;
      if (s.tasks.length === 0 && (s.startingTasks ?? 0) > 0 && mayHold(s)) {
        const since = this.heldSince.get(s.id) ?? now;
        this.heldSince.set(s.id, since);
        if (now - since < this.holdMs) {
          held.push(s.name);
          return false;
        }
      }
      this.admitted.add(s.id);
      this.heldSince.delete(s.id);
      return true;
    });
    for (const id of this.admitted) if (!present.has(id)) this.admitted.delete(id);
    for (const id of this.heldSince.keys()) if (!present.has(id)) this.heldSince.delete(id);
    return { snapshot: held.length === 0 ? snap : { ...snap, services }, held };
  }
}
