// Keeps the routing models in step with the swarm: Docker events make it fast, the periodic
// reconcile makes it right (swarm emits no task events, so a rescheduled task is only seen by polling).
import type { ClusterModel, ClusterTarget, SignalboxConfig, SwarmSnapshot } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { ACME_CODE_DOCS, acmeServiceIds, buildClusterModels, withAcmePlan } from '@signalbox/model';
import { Coalescer } from './coalescer.js';
import { FirstStartGate } from './first-start.js';
import type { CoreMetrics } from './metrics.js';
import type { ModelStore } from './model-store.js';
import type { StatusTracker } from './status-tracker.js';
import type { TaskChurnDamper } from './task-churn-damper.js';
import { withPendingNetworks } from './pending-networks.js';
import { withPendingSecrets } from './pending-secrets.js';
import { withRetiredExtensionTasks } from './retired-extension-tasks.js';
import { withProxyTasksPastPending } from './tasks-past-pending.js';
import { edgeNetworkName } from './desired-specs.js';

export interface SynchronizerDeps {
  config: SignalboxConfig;
  pollIntervalMs: number;
  readSnapshot: () => Promise<SwarmSnapshot>;
  store: ModelStore;
  tracker: StatusTracker;
  metrics: CoreMetrics;
  log: Logger;
  /** Holds the task changes of crash-looping services (at most one publish per hold time). */
  damper?: TaskChurnDamper;
  /** Called after every successful read, with the models; keeps extension/proxy services converged. */
  onModels?: (models: Map<string, ClusterModel>, snap: SwarmSnapshot) => Promise<void>;
  /** Poll fast for this long after a service event, so task starts (no events) are seen at once. */
  burstMs?: number;
  burstIntervalMs?: number;
  quietMs?: number;
  maxWaitMs?: number;
  /** A deploy storm: at least stormThreshold services created within stormWindowMs. */
  stormThreshold?: number;
  stormWindowMs?: number;
  /** Storm timing lasts this long after the last spec change of the storm. */
  stormHoldMs?: number;
  stormQuietMs?: number;
  stormMaxWaitMs?: number;
  /** How long a new service whose tasks are starting is left out of the models (see first-start.ts). */
  firstStartHoldMs?: number;
}

export class Synchronizer {
  private readonly coalescer: Coalescer;
  private readonly targets: ClusterTarget[];
  private pollTimer: NodeJS.Timeout | undefined;
  private burstTimer: NodeJS.Timeout | undefined;
  private burstUntil = 0;
  private pendingTrigger = 'poll';
  private lastOk = 0;
  private readonly specChanges: number[] = [];
  private stormUntil = 0;
  private readonly firstStart: FirstStartGate;
  /** Networks the proxies of the last models are on (ids). */
  private joinedNetworks = new Set<string>();

  constructor(private readonly d: SynchronizerDeps) {
    this.targets = Object.entries(d.config.Extensions)
      .map(([name, e]) => ({ name, serviceCluster: e.ServiceCluster, networks: e.Networks, hostOwners: e.HostOwners, secretOwners: e.SecretOwners }))
      .sort((a, b) => (a.name < b.name ? -1 : 1));
    this.firstStart = new FirstStartGate(d.firstStartHoldMs);
    this.coalescer = new Coalescer(() => this.reconcile(), { quietMs: d.quietMs ?? 30, maxWaitMs: d.maxWaitMs ?? 250 });
  }

  start(): void {
    this.trigger('start');
    this.pollTimer = setInterval(() => this.trigger('poll'), this.d.pollIntervalMs);
  }

  stop(): void {
    if (this.pollTimer) clearInterval(this.pollTimer);
    if (this.burstTimer) clearInterval(this.burstTimer);
    this.coalescer.stop();
  }

  trigger(reason: string): void {
    this.pendingTrigger = reason;
    this.coalescer.trigger(this.inStorm() ? { quietMs: this.d.stormQuietMs ?? 2000, maxWaitMs: this.d.stormMaxWaitMs ?? 8000 } : undefined);
  }

  /**
   * A stack deploy creates its services one by one over seconds. Publishing after each would reload every
   * proxy once per service; during such a storm, models are read and published at most every few seconds
   * instead. A lone change (one service created or scaled) never waits.
   */
  noteSpecChange(): void {
    const now = Date.now();
    this.specChanges.push(now);
    const window = this.d.stormWindowMs ?? 5000;
    while (this.specChanges.length > 0 && this.specChanges[0]! < now - window) this.specChanges.shift();
    if (this.specChanges.length >= (this.d.stormThreshold ?? 4)) {
      if (!this.inStorm()) this.d.log.info({ changes: this.specChanges.length, windowMs: window }, 'deploy storm: publishing models every few seconds until it is over');
      this.stormUntil = now + (this.d.stormHoldMs ?? 12000);
    }
  }

  inStorm(): boolean {
    return Date.now() < this.stormUntil;
  }

  /** After a spec change, tasks start over the next seconds without any event: poll quickly for a while. */
  burst(): void {
    this.burstUntil = Date.now() + (this.d.burstMs ?? 15_000);
    if (this.burstTimer) return;
    this.burstTimer = setInterval(() => {
      if (Date.now() > this.burstUntil) {
        clearInterval(this.burstTimer);
        this.burstTimer = undefined;
        return;
      }
      this.trigger('burst');
    }, this.d.burstIntervalMs ?? 200);
  }

  lastSuccessAt(): number {
    return this.lastOk;
  }

  private async reconcile(): Promise<void> {
    const { metrics, log } = this.d;
    metrics.reconciles.inc({ trigger: this.pendingTrigger });
    const end = metrics.reconcileSeconds.startTimer();
    let snap: SwarmSnapshot;
    try {
      snap = await this.d.readSnapshot();
      const gated = this.firstStart.filter(snap, (s) => s.networkIds.length > 0 && s.networkIds.every((id) => this.joinedNetworks.has(id)));
      if (gated.held.length > 0) log.debug({ services: gated.held }, 'new services wait for their first running task');
      snap = gated.snapshot;
    } catch (e) {
      metrics.reconcileErrors.inc();
      log.warn({ err: (e as Error).message }, 'cannot read swarm state; keeping the last model');
      end();
      return;
    }
    const models = buildClusterModels(snap, this.targets);
    const acmeIds = acmeServiceIds(snap);
    for (const [name, model] of models) {
      const acme = this.d.config.Extensions[name]?.Acme;
      if (acme) models.set(name, withAcmePlan(model, acmeIds, acme));
    }
    for (const [name, model] of models) {
      const ext = this.d.config.Extensions[name];
      if (ext) models.set(name, withPendingSecrets(model, snap, ext.ProxyServiceName));
    }
    end();
    const idByName = new Map(snap.networks.map((n) => [n.name, n.id]));
    this.joinedNetworks = new Set([...models.values()].flatMap((m) => m.proxyNetworks.map((n) => idByName.get(n) ?? n)));
    this.lastOk = Date.now();
    const statuses = [...models.values()].flatMap((m) => m.services);
    const changes = this.d.tracker.update(statuses);
    for (const c of changes) {
      if (c.service.status === 'disabled' && c.previous?.status !== 'disabled') {
        metrics.rejections.inc({ cluster: c.service.cluster, code: c.service.errors[0]?.code ?? 'unknown' });
      }
    }
    metrics.services.reset();
    for (const s of this.d.tracker.all()) metrics.services.inc({ cluster: s.cluster, status: s.status });
    metrics.acmeRefusals.reset();
    for (const s of this.d.tracker.all()) {
      for (const w of s.warnings) if (w.code in ACME_CODE_DOCS) metrics.acmeRefusals.inc({ cluster: s.cluster, code: w.code });
    }
    for (const [name, model] of models) {
      const ext = this.d.config.Extensions[name];
      if (!ext) continue;
      const damped = this.d.damper ? this.d.damper.apply(name, model, Date.now()) : model;
      // On the servers actually published (the damper may hold older ones).
      const pending = withPendingNetworks(damped, snap, ext.ProxyServiceName);
      // The relay only where routing tasks roll one at a time (several nodes, several tasks): on one node
      // they all roll at once, and the relay would only reload an old task in the moment before swarm
      // tells it to shut down.
      const relayNetwork = ext.ProxyEdge && ext.ProxyReplicas > 1 && snap.nodes.length > 1 ? edgeNetworkName(ext) : undefined;
      const published = withRetiredExtensionTasks(withProxyTasksPastPending(pending, snap, ext.ProxyServiceName, relayNetwork), snap, ext.ServiceName);
      if (this.d.store.set(name, ext, published)) {
        metrics.modelUpdates.inc({ extension: name });
        log.info({ extension: name, version: this.d.store.get(name)?.version, hosts: model.virtualHosts.length, passthrough: model.passthrough.length }, 'model updated');
      }
    }
    if (this.d.onModels) {
      try {
        await this.d.onModels(models, snap);
      } catch (e) {
        log.error({ err: (e as Error).message }, 'cannot converge extension/proxy services; will retry');
      }
    }
  }
}
