// Services an extension had to leave out because their routes failed nginx -t there. Merged into the
// status core serves, so `signalbox status` shows one answer per service.
import type { Diagnostic, ServiceStatus } from '@signalbox/model';
import type { Exclusion } from '@signalbox/protocol';

/** The error a service's status carries for an exclusion, by its code. */
function exclusionError(x: Exclusion): Diagnostic {
  switch (x.code) {
    case 'ERR_CERT_INVALID':
      return { code: x.code, severity: 'error', key: 'com.docker.lb.ssl_cert', message: `its certificate cannot be served, so its routes were left out: ${x.reason}` };
    case 'ERR_PROXY_REFUSED':
      return { code: x.code, severity: 'error', key: 'com.docker.lb.*', message: `a proxy refused the config because of this service's routes, so they were left out: ${x.reason}` };
    case 'ERR_NGINX_REJECTED':
      return { code: x.code, severity: 'error', key: 'com.docker.lb.*', message: `routes of this service fail nginx -t, so they were left out: ${x.reason}` };
    case 'WARN_SECRET_PENDING':
      return { code: x.code, severity: 'warning', key: 'com.docker.lb.ssl_cert', message: `pending: ${x.reason}` };
    case 'WARN_NETWORK_PENDING':
      return { code: x.code, severity: 'warning', key: 'com.docker.lb.network', message: `pending: ${x.reason}` };
  }
}

export class ExclusionStore {
  private readonly byExtension = new Map<string, Exclusion[]>();

  set(extension: string, list: Exclusion[]): void {
    if (list.length === 0) this.byExtension.delete(extension);
    else this.byExtension.set(extension, list);
  }

  /** Statuses with extension-side rejections applied. */
  apply(statuses: ServiceStatus[], clusterOf: (extension: string) => string | undefined): ServiceStatus[] {
    if (this.byExtension.size === 0) return statuses;
    const reasons = new Map<string, Exclusion>();
    for (const [ext, list] of this.byExtension) {
      const cluster = clusterOf(ext);
      for (const x of list) reasons.set(`${cluster}\n${x.service}`, x);
    }
    return statuses.map((s) => {
      const x = reasons.get(`${s.cluster}\n${s.name}`);
      if (x === undefined || s.status === 'disabled') return s;
      const error = exclusionError(x);
      // Pending is not a fault: the service stays enabled (its labels are fine) and says what it waits for.
      if (error.severity === 'warning') return { ...s, warnings: [...s.warnings, error] };
      return {
        ...s,
        status: 'disabled',
        servers: 0,
        errors: [...s.errors, error],
      };
    });
  }
}
