// One model version in, at most one validated config out: render → policy → nginx -t → (bisect) → publish.
// A service whose routes break nginx -t is excluded with nginx's error as the reason; the rest is published.
// A config that fails nginx -t is never published.
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import type { CertificateProblem, Logger, PairReader, Refusal } from '@signalbox/protocol';
import { isTokenSecret } from '@signalbox/protocol';
import { certificateCulprits, reservedSecretCulprits, servicesOfPairs } from './certificates.js';
import { checkPolicy } from './config-policy.js';
import { networkPendingReason, servicesWaitingForNetworks } from './pending-networks.js';
import { pendingReason, servicesWaitingForSecrets } from './pending-secrets.js';
import { missingSecret, routesFingerprint, servicesBlamed } from './refusals.js';
import { findCulprits, routedServices, withoutServices } from './exclusion.js';
import type { ConfigValidator, SandboxPaths } from './nginx-validator.js';
import type { ConfigPublisher } from './publisher.js';
import { sha256 } from './publisher.js';
import type { RenderOptions } from './render/index.js';
import { ACME_FILE_PREFIX } from './render/view-model.js';
import type { ServedConfig, ServedConfigState } from './served-config.js';
import type { Exclusion } from '@signalbox/protocol';

export type Renderer = (model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions) => string;

export interface PipelineResult {
  outcome: 'published' | 'unchanged' | 'refused';
  config?: string;
  excluded: Exclusion[];
  error?: string;
}

export interface PipelineDeps {
  render: Renderer;
  validator: ConfigValidator;
  publisher: ConfigPublisher;
  served: ServedConfigState;
  log: Logger;
  renderOptions: Omit<RenderOptions, 'secretsDir'>;
  /** Where proxies find secrets (the swarm mounts them at /run/secrets). */
  secretsDir?: string;
  allowedModules: readonly string[];
  /**
   * Reads the ACME pairs this extension issued: they are checked here before rendering. Pairs of Docker
   * secrets are checked by the proxy tasks that mount them (the extension does not), which refuse a
   * config naming a bad one and say which (proxyRefusal).
   */
  readAcmePair?: PairReader;
}

export class Pipeline {
  /** Services a proxy refused, with the fingerprint of their routes then: retried once those change. */
  private readonly proxyRefused = new Map<string, { code: 'ERR_PROXY_REFUSED' | 'ERR_CERT_INVALID'; reason: string; routes: string }>();
  private last: { model: ClusterModel; ext: ExtensionConfig } | undefined;

  constructor(private readonly d: PipelineDeps) {}

  /**
   * A proxy refused the config with sha256 `sha` (nginx's reason). If it is the one served, the services
   * the reason points at are excluded and the last model is processed again; undefined when the
   * refusal is stale or names no service (then nothing changes and the proxy keeps its last good config).
   */
  async proxyRefusal(refusal: Refusal): Promise<PipelineResult | undefined> {
    const { sha256: sha, reason } = refusal;
    const served = this.d.served.get();
    const ofServed = served !== undefined && (served.sha256 === sha || served.early?.sha256 === sha);
    if (this.last && ofServed && refusal.certificates && refusal.certificates.length > 0) return this.certificatesRefused(refusal.certificates);
    if (served?.early?.sha256 === sha) {
      // Those tasks keep the config they have and get the routes with the others once the roll is over.
      this.d.log.warn({ reason, tasks: served.early.forTasks }, 'a task past the roll refused the config that publishes the routes held for it');
      return undefined;
    }
    if (!this.last || served?.sha256 !== sha) return undefined;
    const missing = missingSecret(reason);
    if (missing !== undefined && this.last.model.proxySecrets.includes(missing)) {
      // Core mounts it into the proxies: the refusing task started before it was added and is being
      // replaced (core holds routes on secrets the running tasks lack, so this is one on its way out).
      // Excluding the service would keep it out for good once the tasks that mount the secret run.
      this.d.log.warn({ secret: missing, reason }, 'a proxy task without a secret core now mounts refused the config; it keeps its last good config until it is replaced');
      return undefined;
    }
    const blamed = servicesBlamed(reason, served.text, this.last.model).filter((s) => !this.proxyRefused.has(s));
    if (blamed.length === 0) {
      this.d.log.error({ reason }, 'a proxy refused the served config and the reason names no service; proxies keep their last good config');
      return undefined;
    }
    for (const s of blamed) {
      this.proxyRefused.set(s, { code: 'ERR_PROXY_REFUSED', reason, routes: routesFingerprint(this.last.model, s) });
      this.d.log.warn({ service: s, reason }, 'service excluded: a proxy refused the config because of its routes');
    }
    return this.process(this.last.model, this.last.ext);
  }

  /**
   * A proxy task read pairs of a served config (the main one or the one for a roll's new tasks) and
   * cannot serve them: the pair is bad whichever task reads it, so the services of those hosts are left
   * out of both (ERR_CERT_INVALID, with the task's reason) and the rest is published again.
   */
  private async certificatesRefused(problems: readonly CertificateProblem[]): Promise<PipelineResult | undefined> {
    const last = this.last!;
    const blamed = [...servicesOfPairs(last.model, problems)].filter(([s]) => !this.proxyRefused.has(s));
    if (blamed.length === 0) return undefined;
    for (const [service, reason] of blamed) {
      this.proxyRefused.set(service, { code: 'ERR_CERT_INVALID', reason, routes: routesFingerprint(last.model, service) });
      this.d.log.warn({ service, reason }, 'service excluded: a proxy task cannot serve its certificate');
    }
    return this.process(last.model, last.ext);
  }

  private renderReal(model: ClusterModel, ext: ExtensionConfig): string {
    return this.d.render(model, ext, { ...this.d.renderOptions, secretsDir: this.d.secretsDir ?? '/run/secrets' });
  }

  /** Validation error for this model, or undefined if it passes policy and nginx -t. */
  private async check(model: ClusterModel, ext: ExtensionConfig, rendered?: string): Promise<string | undefined> {
    const policy = checkPolicy(rendered ?? this.renderReal(model, ext), { allowedModules: this.d.allowedModules });
    if (policy.length > 0) return policy.join('; ');
    const inSandbox = (s: SandboxPaths) =>
      this.d.render(
        model,
        { ...ext, Config: { ...ext.Config, PidPath: s.pidPath, AccessLogPath: `${s.prefix}/access.log`, ErrorLogPath: `${s.prefix}/error.log` } },
        {
          ...this.d.renderOptions,
          secretsDir: s.secretsDir,
          acmeDir: s.secretsDir,
          tempDir: s.tempDir,
          ...(this.d.renderOptions.tlsFrontDir === null ? {} : { tlsFrontDir: s.socketDir }),
        },
      );
    // ACME certificates (issued by the extension, delivered to proxies over the control plane) get dummies too.
    const acmeFiles = model.virtualHosts.flatMap((v) => (v.tls?.certSecret.startsWith(ACME_FILE_PREFIX) ? [v.tls.certSecret.slice(1), v.tls.keySecret.slice(1)] : []));
    // Core never mounts the API token secret into proxies as a route's key (it is not one): a service
    // naming it fails here like any missing key and is left out, instead of failing on every proxy.
    const res = await this.d.validator.validate(inSandbox, [...model.proxySecrets.filter((s) => !isTokenSecret(s)), ...new Set(acmeFiles)]);
    return res.ok ? undefined : res.error;
  }

  /**
   * Renders, checks and publishes `input`. With routes held for a roll (pendingNetworks, pendingSecrets)
   * and tasks past it (proxyTasksPastPending), a second config with those routes published is rendered
   * and checked too, and served to those tasks only; it is not published as a Docker config object (a
   * task that boots from one may be an old one).
   */
  async process(input: ClusterModel, ext: ExtensionConfig): Promise<PipelineResult> {
    this.last = { model: input, ext };
    const served = this.d.served.get();
    const checked = new Set([served?.sha256, served?.early?.sha256].filter((x): x is string => x !== undefined));
    const main = await this.build(input, ext, checked);
    if (!main.ok) return { outcome: 'refused', excluded: main.excluded, error: main.error };
    const mainSha = sha256(main.text);
    const early = await this.buildForTasksPastPending(input, ext, new Set([...checked, mainSha]), main.text);
    const published = served?.sha256 === mainSha ? { name: served.name, sha256: mainSha, text: served.text } : await this.d.publisher.publish(main.text);
    const notForTasks = input.retiredProxyTasks;
    const next: ServedConfig = {
      ...published,
      ...(notForTasks && notForTasks.length > 0 ? { notForTasks } : {}),
      ...(early ? { early: { name: `${published.name}+new-tasks`, sha256: sha256(early.text), text: early.text, forTasks: early.forTasks } } : {}),
    };
    if (!this.d.served.set(next)) return { outcome: 'unchanged', excluded: main.excluded };
    if (early) this.d.log.info({ tasks: early.forTasks, sha256: next.early?.sha256 }, 'serving the routes held for the roll to the tasks that replace the old ones');
    // Only the tasks named changed (another new task started): nothing new was rendered.
    const sameTexts = served?.sha256 === mainSha && served.early?.sha256 === next.early?.sha256;
    return { outcome: sameTexts ? 'unchanged' : 'published', config: published.name, excluded: main.excluded };
  }

  /** The config for model.proxyTasksPastPending, when it differs from `mainText` and passes its checks. */
  private async buildForTasksPastPending(
    input: ClusterModel,
    ext: ExtensionConfig,
    checked: ReadonlySet<string>,
    mainText: string,
  ): Promise<{ text: string; forTasks: readonly string[] } | undefined> {
    const forTasks = input.proxyTasksPastPending ?? [];
    if (forTasks.length === 0) return undefined;
    const early = await this.build(withoutRollHolds(input), ext, checked);
    if (!early.ok) {
      this.d.log.warn({ error: early.error }, 'the config for the tasks that replace the old ones fails its checks; they get the same config as the others');
      return undefined;
    }
    return early.text === mainText ? undefined : { text: early.text, forTasks };
  }

  /** Holds, exclusions and nginx -t for one model; a text whose sha256 is in `checked` passed nginx -t before. */
  private async build(input: ClusterModel, ext: ExtensionConfig, checked: ReadonlySet<string>): Promise<Built> {
    let model = input;
    const log = this.d.log;
    let excluded: Exclusion[] = [];
    if (this.proxyRefused.size > 0) {
      const still = new Set<string>();
      for (const [service, r] of this.proxyRefused) {
        if (routesFingerprint(model, service) === r.routes) {
          still.add(service);
          excluded.push({ service, code: r.code, reason: r.reason });
        } else this.proxyRefused.delete(service);
      }
      if (still.size > 0) model = withoutServices(model, still);
    }
    const waiting = servicesWaitingForSecrets(model);
    if (waiting.size > 0) {
      const waits = [...waiting].map(([service, secret]) => ({ service, code: 'WARN_SECRET_PENDING' as const, reason: pendingReason(secret) }));
      excluded = [...excluded, ...waits];
      for (const x of waits) log.info({ service: x.service, reason: x.reason }, 'service waits for proxy tasks that mount its certificate');
      model = withoutServices(model, new Set(waiting.keys()));
    }
    const unattached = servicesWaitingForNetworks(model);
    if (unattached.size > 0) {
      const waits = [...unattached].map(([service, network]) => ({ service, code: 'WARN_NETWORK_PENDING' as const, reason: networkPendingReason(network) }));
      excluded = [...excluded, ...waits];
      for (const x of waits) log.info({ service: x.service, reason: x.reason }, 'service waits for proxy tasks attached to its network');
      model = withoutServices(model, new Set(unattached.keys()));
    }
    // Never mounted into proxies under a route's name: the tokens, the ACME store key.
    const reserved = reservedSecretCulprits(model, (s) => isTokenSecret(s) || s === ext.Acme.StoreKeySecret);
    if (this.d.readAcmePair) {
      const acme = certificateCulprits(model, this.d.readAcmePair, (s) => s.startsWith(ACME_FILE_PREFIX));
      for (const [service, reason] of acme) if (!reserved.has(service)) reserved.set(service, reason);
    }
    if (reserved.size > 0) {
      const certs = [...reserved].map(([service, reason]) => ({ service, code: 'ERR_CERT_INVALID' as const, reason }));
      excluded = [...excluded, ...certs];
      for (const x of certs) log.warn({ service: x.service, reason: x.reason }, 'service excluded: its certificate cannot be served');
      model = withoutServices(model, new Set(reserved.keys()));
    }
    // Rendered once and reused below: at 10 000 services a render is a large share of the work.
    const rendered = this.renderReal(model, ext);
    // Same bytes as a config served now: it passed validation when it was published.
    if (checked.has(sha256(rendered))) return { ok: true, text: rendered, excluded };
    const certExcluded = excluded;
    const firstError = await this.check(model, ext, rendered);
    if (firstError === undefined) return { ok: true, text: rendered, excluded };
    const services = routedServices(model);
    const baseError = await this.check(withoutServices(model, new Set(services)), ext);
    if (baseError !== undefined) {
      // Not any service's fault (nginx tuning, raw options, template): keep serving the last good config.
      log.error({ error: baseError }, 'config fails nginx -t even without any service; keeping the last good config');
      return { ok: false, excluded: certExcluded, error: baseError };
    }
    const culprits = await findCulprits(services, (included) => this.check(withoutServices(model, new Set(services.filter((s) => !included.has(s)))), ext));
    const rejected = [...culprits].map(([service, reason]) => ({ service, code: 'ERR_NGINX_REJECTED' as const, reason }));
    for (const x of rejected) log.warn({ service: x.service, reason: x.reason }, 'service excluded: its routes fail nginx -t');
    const final = withoutServices(model, new Set(culprits.keys()));
    const again = await this.check(final, ext);
    if (again !== undefined) {
      log.error({ error: again }, 'config still fails nginx -t after excluding services; keeping the last good config');
      return { ok: false, excluded: [...certExcluded, ...rejected], error: again };
    }
    return { ok: true, text: this.renderReal(final, ext), excluded: [...certExcluded, ...rejected] };
  }
}

type Built = { ok: true; text: string; excluded: Exclusion[] } | { ok: false; excluded: Exclusion[]; error: string };

/** `model` as the tasks past the roll see it: nothing waits for networks or secrets they have. */
function withoutRollHolds(model: ClusterModel): ClusterModel {
  const rest = { ...model };
  delete rest.pendingNetworks;
  delete rest.pendingSecrets;
  // They are the relay's targets: they hold nothing of the roll, and relay nothing.
  delete rest.proxyRelayPeers;
  return rest;
}
