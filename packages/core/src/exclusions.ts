// Services an extension had to leave out because their routes failed nginx -t there. Merged into the
// status core serves, so `signalbox status` shows one answer per service.
import type { Diagnostic, ServiceStatus } from '@signalbox/model';

export interface ReportedExclusion {
  service: string;
  reason: string;
  /** ERR_NGINX_REJECTED (default), ERR_CERT_INVALID or ERR_PROXY_REFUSED. */
  code?: string;
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
    const reasons = new Map<string, ReportedExclusion>();
    for (const [ext, list] of this.byExtension) {
      const cluster = clusterOf(ext);
      for (const x of list) reasons.set(`${cluster}\n${x.service}`, x);
    }
    return statuses.map((s) => {
      const x = reasons.get(`${s.cluster}\n${s.name}`);
      if (x === undefined || s.status === 'disabled') return s;
      const error: Diagnostic =
        x.code === 'ERR_CERT_INVALID'
          ? { code: 'ERR_CERT_INVALID', severity: 'error' as const, key: 'com.docker.lb.ssl_cert', message: `its certificate cannot be served, so its routes were left out: ${x.reason}` }
          : x.code === 'ERR_PROXY_REFUSED'
            ? { code: 'ERR_PROXY_REFUSED', severity: 'error' as const, key: 'com.docker.lb.*', message: `a proxy refused the config because of this service's routes, so they were left out: ${x.reason}` }
            : { code: 'ERR_NGINX_REJECTED', severity: 'error' as const, key: 'com.docker.lb.*', message: `routes of this service fail nginx -t, so they were left out: ${x.reason}` };
      return {
        ...s,
        status: 'disabled',
        servers: 0,
        errors: [...s.errors, error],
      };
    });
  }
}
