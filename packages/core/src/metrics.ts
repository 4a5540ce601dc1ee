// Core's Prometheus metrics, one registry per process (tests build their own).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics(withDefaults = true) {
  const registry = new Registry();
  if (withDefaults) collectDefaultMetrics({ register: registry, prefix: 'signalbox_core_' });
  return {
    registry,
    services: new Gauge({ name: 'signalbox_services', help: 'Labelled services by cluster and status', labelNames: ['cluster', 'status'] as const, registers: [registry] }),
    rejections: new Counter({
      name: 'signalbox_service_rejections_total',
      help: 'Times a service became disabled, by first error code',
      labelNames: ['cluster', 'code'] as const,
      registers: [registry],
    }),
    acmeRefusals: new Gauge({
      name: 'signalbox_acme_refused_hosts',
      help: 'Hosts of services labelled com.docker.lb.acme=true that get no ACME certificate, by WARN_ACME_* code',
      labelNames: ['cluster', 'code'] as const,
      registers: [registry],
    }),
    modelUpdates: new Counter({ name: 'signalbox_model_updates_total', help: 'Model versions published per extension', labelNames: ['extension'] as const, registers: [registry] }),
    reconciles: new Counter({ name: 'signalbox_reconciles_total', help: 'Swarm reads, by trigger', labelNames: ['trigger'] as const, registers: [registry] }),
    reconcileErrors: new Counter({ name: 'signalbox_reconcile_errors_total', help: 'Failed swarm reads', registers: [registry] }),
    reconcileSeconds: new Histogram({
      name: 'signalbox_reconcile_duration_seconds',
      help: 'Time to read the swarm and build models',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    serviceUpdates: new Counter({
      name: 'signalbox_managed_service_updates_total',
      help: 'Creates/updates/removals of extension and proxy services',
      labelNames: ['service', 'action'] as const,
      registers: [registry],
    }),
  };
}

export type CoreMetrics = ReturnType<typeof createMetrics>;
