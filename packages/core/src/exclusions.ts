// Services an extension had to leave out because their routes failed nginx -t there. Merged into the
// status core serves, so `signalbox status` shows one answer per service.
import type { ServiceStatus } from '@signalbox/model';

export interface ReportedExclusion {
  service: string;
  reason: string;
}

export class ExclusionStore {
  private readonly byExtension = new Map<string, ReportedExclusion[]>();

  set(extension: string, list: ReportedExclusion[]): void {
    if (list.length === 0) this.byExtension.delete(extension);
    else this.byExtension.set(extension, list);
  }

  /** Statuses with extension-side rejections applied. */
  apply(statuses: ServiceStatus[], clusterOf: (extension: string) => string | undefined): ServiceStatus[] {
    if (this.byExtension.size === 0) return statuses;
    const reasons = new Map<string, string>();
    for (const [ext, list] of this.byExtension) {
      const cluster = clusterOf(ext);
      for (const x of list) reasons.set(`${cluster}\n${x.service}`, x.reason);
    }
    return statuses.map((s) => {
      const reason = reasons.get(`${s.cluster}\n${s.name}`);
      if (reason === undefined || s.status === 'disabled') return s;
      return {
        ...s,
        status: 'disabled',
        servers: 0,
        errors: [...s.errors, { code: 'ERR_NGINX_REJECTED', severity: 'error', key: 'com.docker.lb.*', message: `routes of this service fail nginx -t, so they were left out: ${reason}` }],
      };
    });
  }
}
