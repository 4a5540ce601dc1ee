// Remembers each labelled service's state so it is logged (and counted) once per change, not every poll.
import type { ServiceStatus } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { formatDiagnostic } from '@signalbox/model';

function fingerprint(s: ServiceStatus): string {
  return JSON.stringify([s.status, s.cluster, s.errors.map(formatDiagnostic), s.warnings.map(formatDiagnostic)]);
}

export interface StatusChange {
  service: ServiceStatus;
  previous?: ServiceStatus;
}

export class StatusTracker {
  private byId = new Map<string, { status: ServiceStatus; print: string }>();

  constructor(private readonly log: Logger) {}

  /** Replace the known statuses; returns what changed (new, changed, and removed services). */
  update(all: ServiceStatus[]): StatusChange[] {
    const next = new Map<string, { status: ServiceStatus; print: string }>();
    const changes: StatusChange[] = [];
    for (const s of all) {
      // A service may be reported by several clusters when its service_cluster is unknown; keep one.
      if (next.has(s.id)) continue;
      const print = fingerprint(s);
      next.set(s.id, { status: s, print });
      const prev = this.byId.get(s.id);
      if (!prev || prev.print !== print) {
        changes.push(prev ? { service: s, previous: prev.status } : { service: s });
        const fields = { service: s.name, serviceId: s.id, cluster: s.cluster, status: s.status, hosts: s.hosts };
        if (s.status === 'disabled') {
          this.log.warn({ ...fields, errors: s.errors.map(formatDiagnostic), codes: s.errors.map((e) => e.code) }, 'service rejected');
        } else {
          this.log.info({ ...fields, servers: s.servers, warnings: s.warnings.map(formatDiagnostic) }, prev?.status.status === 'disabled' ? 'service routable again' : 'service routed');
        }
      }
    }
    for (const [id, prev] of this.byId) {
      if (!next.has(id)) this.log.info({ service: prev.status.name, serviceId: id }, 'service no longer routed (removed or unlabelled)');
    }
    this.byId = next;
    return changes;
  }

  all(): ServiceStatus[] {
    return [...this.byId.values()].map((v) => v.status).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
