// The loop that converges the swarm to the desired specs of each [Extensions.NAME]'s extension, proxy
// and edge services (desired-specs.ts): updates on change or drift, removes what a removed section
// left, and lets networks go the way proxy-networks.ts says.
import type { ClusterModel, ExtensionConfig, SwarmSnapshot } from '@signalbox/model';
import type { Logger } from '@signalbox/protocol';
import { contentVersion } from '@signalbox/model';
import { LABEL_EXTENSION, LABEL_OWNER, LABEL_ROLE, SPEC_VERSION_LABEL } from '@signalbox/protocol';
import type { CoreMetrics } from './metrics.js';
import type { ServiceManager, ServiceSpec } from './docker/services.js';
import { BOOTSTRAP_FIELD, desiredEdgeSpec, desiredExtensionSpec, desiredProxySpec, edgeNetworkName, edgeServiceName, ns } from './desired-specs.js';
import type { EdgeNetwork, ManagedContext, PublishedConfigRef } from './desired-specs.js';
import { LeftBehindStackNetworks, NetworkLinger } from './proxy-networks.js';

/** The spec with the version of its content (without bootstrap) as a label: drift is recognised by it. */
function withSpecVersion(spec: ServiceSpec, version: string): ServiceSpec {
  return { ...spec, Labels: { ...(spec.Labels as Record<string, string>), [SPEC_VERSION_LABEL]: version } };
}

/** Converges managed services; re-checks a service when its desired spec changes or every driftCheckMs. */
export class ManagedServices {
  private readonly lastChecked = new Map<string, { version: string; at: number }>();
  private lastStaleCheck = 0;
  /** Desired spec version per service that swarm rolled back from, once logged. */
  private readonly refusedLogged = new Map<string, string>();
  private readonly lingering = new Map<string, NetworkLinger>();
  /** Stack networks our proxies let go of, removed once their stack is gone (see LeftBehindStackNetworks). */
  private readonly leftBehind: LeftBehindStackNetworks;
  /** Edge networks by name, with the subnet the engine gave them. */
  private readonly edgeNets = new Map<string, EdgeNetwork>();
  /** Per edge service, the ProxyImage it was last seen to carry or allowed to take (see edgeImage). */
  private readonly edgeImages = new Map<string, string>();
  /** Per edge service, the held-back ProxyImage already logged. */
  private readonly edgeHoldLogged = new Map<string, string>();

  constructor(
    private readonly extensions: Record<string, ExtensionConfig>,
    private readonly ctx: ManagedContext,
    private readonly services: ServiceManager,
    private readonly metrics: CoreMetrics,
    private readonly log: Logger,
    private readonly driftCheckMs: number,
  ) {
    this.leftBehind = new LeftBehindStackNetworks(services, log, ctx.owner);
  }

  async converge(models: Map<string, ClusterModel>, snap: SwarmSnapshot): Promise<void> {
    const now = Date.now();
    for (const name of Object.keys(this.extensions).sort()) {
      const ext = this.extensions[name]!;
      const model = models.get(name);
      if (!model) continue;
      const edge = ext.ProxyEdge ? await this.edgeNetwork(name, ext, snap) : undefined;
      // Specs without the edge network would roll the proxies off it (the edge then reaches none) and take
      // the trusted subnet from the extension: leave this extension's services as they are until it is back.
      if (ext.ProxyEdge && !edge) continue;
      // The proxy stays a while on networks whose last routed service just went (see NetworkLinger).
      const proxyModel = { ...model, proxyNetworks: this.linger(name, ext, snap).keep(model.proxyNetworks, snap, now) };
      const proxy = desiredProxySpec(name, ext, proxyModel, this.ctx, snap, undefined, edge);
      const specs = [desiredExtensionSpec(name, ext, this.ctx, snap, edge), proxy, ...(edge ? [desiredEdgeSpec(name, ext, this.ctx, edge, await this.edgeImage(ext))] : [])];
      for (const spec of specs) {
        const version = contentVersion(spec);
        const last = this.lastChecked.get(spec.Name);
        // 90 %: a poll timer firing a few ms early must not push the next drift check a whole interval out.
        if (last && last.version === version && now - last.at < this.driftCheckMs * 0.9) continue;
        // Only looked up when the proxy is checked: the newest published config becomes its bootstrap.
        const desired = withSpecVersion(spec === proxy ? desiredProxySpec(name, ext, proxyModel, this.ctx, snap, await this.newestConfig(name), edge) : spec, version);
        const res = await this.services.ensure(desired, spec === proxy ? [BOOTSTRAP_FIELD] : []);
        this.lastChecked.set(spec.Name, { version, at: now });
        if (res.action === 'refused') {
          if (this.refusedLogged.get(spec.Name) !== version) {
            this.refusedLogged.set(spec.Name, version);
            this.metrics.serviceUpdates.inc({ service: spec.Name, action: 'refused' });
            this.log.error(
              { service: spec.Name, changed: res.changed, swarm: res.message },
              'swarm rolled this service back: the tasks of the spec config.toml asks for failed; it keeps the previous spec until config.toml (or what the proxy must join) changes',
            );
          }
          continue;
        }
        this.refusedLogged.delete(spec.Name);
        if (res.action !== 'unchanged') {
          this.metrics.serviceUpdates.inc({ service: spec.Name, action: res.action });
          // ServiceManager logs the update, at warn level when it reverted a hand-made change.
          if (res.drift) this.metrics.serviceUpdates.inc({ service: spec.Name, action: 'drift' });
        }
      }
    }
    if (now - this.lastStaleCheck >= this.driftCheckMs) {
      this.lastStaleCheck = now;
      await this.removeStale();
    }
    await this.leftBehind.sweep(snap, now);
  }

  /**
   * A Docker event named this service (someone may have edited it by hand): check it on the next
   * converge instead of waiting for its drift interval. Our own updates come back here too; that costs
   * one lookup that finds nothing to do.
   */
  recheck(serviceName: string): void {
    const last = this.lastChecked.get(serviceName);
    if (last) last.at = 0;
  }

  private linger(name: string, ext: ExtensionConfig, snap: SwarmSnapshot): NetworkLinger {
    let l = this.lingering.get(name);
    if (!l) {
      // After a core restart: what the proxy joins now counts as wanted now, so nothing is dropped at once.
      const joined = snap.services.find((sv) => sv.name === ext.ProxyServiceName)?.networkIds ?? [];
      const names = snap.networks.filter((n) => joined.includes(n.id)).map((n) => n.name);
      l = new NetworkLinger(ns(ext.ProxyNetworkDetachDelay, 60_000) / 1e6, [this.ctx.controlNetwork, edgeNetworkName(ext)], names, Date.now());
      this.lingering.set(name, l);
    }
    return l;
  }

  /**
   * The edge network of an extension: created once, then found in the snapshot. Its subnet is read from
   * the engine once per core start (the snapshot does not carry subnets).
   */
  private async edgeNetwork(name: string, ext: ExtensionConfig, snap: SwarmSnapshot): Promise<EdgeNetwork | undefined> {
    const netName = edgeNetworkName(ext);
    const inSnap = snap.networks.find((n) => n.name === netName);
    const known = this.edgeNets.get(netName);
    if (inSnap && known && known.id === inSnap.id && known.subnet) return known;
    try {
      const res = await this.services.ensureNetwork(netName, { [LABEL_ROLE]: 'edge-network', [LABEL_EXTENSION]: name, [LABEL_OWNER]: this.ctx.owner });
      const edge = { id: res.id, subnet: res.subnet };
      this.edgeNets.set(netName, edge);
      return edge;
    } catch (e) {
      this.log.error({ network: netName, err: (e as Error).message }, 'cannot create the edge network; will retry');
      return undefined;
    }
  }

  /**
   * The image the edge runs: ProxyImage, but a new one only once the routing proxy runs it (its update
   * done, not rolled back). The edge holds the published ports and, in host mode, rolls stop-first: an
   * image whose tasks cannot start (a typo, an image missing on a node) would refuse every connection
   * until swarm rolled the edge back (5 s to over a minute seen here). The routing proxy rolls
   * start-first, so it tries the image without a gap; if swarm rolls it back, the edge keeps its image.
   */
  private async edgeImage(ext: ExtensionConfig): Promise<string> {
    const wanted = ext.ProxyImage;
    const name = edgeServiceName(ext);
    if (this.edgeImages.get(name) === wanted) return wanted;
    const current = (await this.services.find(name))?.Spec?.TaskTemplate?.ContainerSpec?.Image as string | undefined;
    const proxy = current === undefined || current === wanted ? undefined : await this.services.find(ext.ProxyServiceName);
    const state = String(proxy?.UpdateStatus?.State ?? 'completed');
    if (current === undefined || current === wanted || (proxy?.Spec?.TaskTemplate?.ContainerSpec?.Image === wanted && state === 'completed')) {
      this.edgeImages.set(name, wanted);
      this.edgeHoldLogged.delete(name);
      return wanted;
    }
    if (this.edgeHoldLogged.get(name) !== wanted) {
      this.edgeHoldLogged.set(name, wanted);
      this.log.info(
        { service: name, image: current, wanted, proxy: ext.ProxyServiceName, proxyImage: proxy?.Spec?.TaskTemplate?.ContainerSpec?.Image, proxyUpdate: state },
        'the edge keeps its image until the routing proxy runs the new ProxyImage',
      );
    }
    return current;
  }

  private async newestConfig(extension: string): Promise<PublishedConfigRef | undefined> {
    const newest = (await this.services.listConfigs(`${LABEL_EXTENSION}=${extension}`))[0];
    return newest ? { id: String(newest.ID), name: String(newest.Spec?.Name) } : undefined;
  }

  /** Services and published configs of ours whose [Extensions.NAME] section is gone. */
  private async removeStale(): Promise<void> {
    const wanted = new Set(Object.values(this.extensions).flatMap((e) => [e.ServiceName, e.ProxyServiceName, ...(e.ProxyEdge ? [edgeServiceName(e)] : [])]));
    for (const s of await this.services.listByLabel(`${LABEL_OWNER}=${this.ctx.owner}`)) {
      const name = String(s.Spec?.Name ?? '');
      if (name && !wanted.has(name)) {
        await this.services.remove(name);
        this.lastChecked.delete(name);
        this.metrics.serviceUpdates.inc({ service: name, action: 'removed' });
      }
    }
    // Edge networks of removed extensions, or of ones switched to single hop (the engine refuses while a task still uses one).
    const wantedNets = new Set(
      Object.values(this.extensions)
        .filter((e) => e.ProxyEdge)
        .map(edgeNetworkName),
    );
    for (const n of await this.services.listNetworksByLabel(`${LABEL_OWNER}=${this.ctx.owner}`)) {
      const netName = String(n.Name ?? '');
      if (n.Labels?.[LABEL_ROLE] !== 'edge-network' || wantedNets.has(netName)) continue;
      try {
        await this.services.removeNetwork(String(n.Id));
        this.edgeNets.delete(netName);
        this.log.info({ network: netName }, 'removed an edge network no extension uses any more');
      } catch (e) {
        this.log.debug({ network: netName, err: (e as Error).message }, 'edge network still in use; will retry');
      }
    }
    for (const c of await this.services.listConfigs(LABEL_OWNER + '=' + this.ctx.owner)) {
      const ext = String(c.Spec?.Labels?.[LABEL_EXTENSION] ?? '');
      if (ext && !(ext in this.extensions)) {
        try {
          await this.services.removeConfig(String(c.ID));
          this.log.info({ config: c.Spec?.Name, extension: ext }, 'removed published config of a removed extension');
        } catch (e) {
          this.log.debug({ config: c.Spec?.Name, err: (e as Error).message }, 'config object still in use; will retry');
        }
      }
    }
  }
}
