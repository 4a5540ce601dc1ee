// ACME orders an extension could not complete, per host. Merged into the status core serves as a
// WARN_ACME_ORDER_FAILED warning on the services that route the host: the service stays routed (over
// plain HTTP, or with its previous certificate) while the extension retries with backoff.
import type { Diagnostic, ServiceStatus } from '@signalbox/model';

export interface ReportedAcmeFailure {
  host: string;
  error: string;
  failures: number;
  /** ISO time of the next try. */
  nextAt?: string;
}

export class AcmeFailureStore {
  private readonly byExtension = new Map<string, ReportedAcmeFailure[]>();

  set(extension: string, list: ReportedAcmeFailure[]): void {
    if (list.length === 0) this.byExtension.delete(extension);
    else this.byExtension.set(extension, list);
  }

  count(): number {
    let n = 0;
    for (const l of this.byExtension.values()) n += l.length;
    return n;
  }

  apply(statuses: ServiceStatus[], clusterOf: (extension: string) => string | undefined): ServiceStatus[] {
    if (this.byExtension.size === 0) return statuses;
    const byHost = new Map<string, ReportedAcmeFailure>();
    for (const [ext, list] of this.byExtension) for (const f of list) byHost.set(`${clusterOf(ext) ?? ''}\n${f.host}`, f);
    return statuses.map((s) => {
      if (s.status === 'disabled') return s;
      const warnings: Diagnostic[] = [];
      for (const host of s.hosts) {
        const f = byHost.get(`${s.cluster}\n${host}`);
        if (!f) continue;
        const next = f.nextAt ? `; next try at ${f.nextAt}` : '';
        warnings.push({
          code: 'WARN_ACME_ORDER_FAILED',
          severity: 'warning',
          key: 'com.docker.lb.acme',
          value: host,
          message: `has no ACME certificate yet or could not be renewed (${f.failures} failed ${f.failures === 1 ? 'try' : 'tries'}: ${f.error})${next}`,
        });
      }
      return warnings.length === 0 ? s : { ...s, warnings: [...s.warnings, ...warnings] };
    });
  }
}
