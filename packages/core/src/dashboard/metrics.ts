// Convergence, as the dashboard recorder sees it: from core publishing a model version to the last
// proxy task installing the config the extension made of it.
import { Gauge, Histogram, type Registry } from 'prom-client';

export function createConvergenceMetrics(registry: Registry) {
  return {
    seconds: new Histogram({
      name: 'signalbox_convergence_seconds',
      help: 'Time from a model version (core) to its config installed on every proxy task, per extension',
      labelNames: ['extension'] as const,
      buckets: [0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120],
      registers: [registry],
    }),
    converged: new Gauge({
      name: 'signalbox_proxies_converged',
      help: '1 when every proxy task of the extension runs the config the extension serves, else 0',
      labelNames: ['extension'] as const,
      registers: [registry],
    }),
  };
}

export type ConvergenceMetrics = ReturnType<typeof createConvergenceMetrics>;
