// One model version in, at most one validated config out: render → policy → nginx -t → (bisect) → publish.
// A service whose routes break nginx -t is excluded with nginx's error as the reason; the rest is published.
// A config that fails nginx -t is never published.
import type { ClusterModel, ExtensionConfig, Logger } from '@signalbox/model';
import { certificateCulprits, type SecretReader } from './certificates.js';
import { checkPolicy } from './config-policy.js';
import { findCulprits, routedServices, withoutServices } from './exclusion.js';
import type { ConfigValidator, SandboxPaths } from './nginx-validator.js';
import type { ConfigPublisher } from './publisher.js';
import { sha256 } from './publisher.js';
import type { RenderOptions } from './render/index.js';
import type { ServedConfigState } from './served-config.js';

export type Renderer = (model: ClusterModel, ext: ExtensionConfig, opts: RenderOptions) => string;

export interface Exclusion {
  service: string;
  /** ERR_CERT_INVALID: a certificate/key pair of its hosts cannot be served (checked on the mounted secrets). */
  code: 'ERR_NGINX_REJECTED' | 'ERR_CERT_INVALID';
  reason: string;
}

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
   * Reads the secrets mounted in this task (core mounts the model's secrets into the extension). When
   * set, every certificate/key pair is checked before rendering, and services with a bad pair are excluded.
   */
  readSecret?: SecretReader;
}

export class Pipeline {
  constructor(private readonly d: PipelineDeps) {}

  private renderReal(model: ClusterModel, ext: ExtensionConfig): string {
    return this.d.render(model, ext, { ...this.d.renderOptions, secretsDir: this.d.secretsDir ?? '/run/secrets' });
  }

  /** Validation error for this model, or undefined if it passes policy and nginx -t. */
  private async check(model: ClusterModel, ext: ExtensionConfig, rendered?: string): Promise<string | undefined> {
    const policy = checkPolicy(rendered ?? this.renderReal(model, ext), { allowedModules: this.d.allowedModules });
    if (policy.length > 0) return policy.join('; ');
    const inSandbox = (s: SandboxPaths) =>
      this.d.render(model, { ...ext, Config: { ...ext.Config, PidPath: s.pidPath, AccessLogPath: `${s.prefix}/access.log`, ErrorLogPath: `${s.prefix}/error.log` } }, { ...this.d.renderOptions, secretsDir: s.secretsDir, tempDir: s.tempDir });
    const res = await this.d.validator.validate(inSandbox, model.proxySecrets);
    return res.ok ? undefined : res.error;
  }

  async process(input: ClusterModel, ext: ExtensionConfig): Promise<PipelineResult> {
    let model = input;
    const log = this.d.log;
    let excluded: Exclusion[] = [];
    if (this.d.readSecret) {
      const bad = certificateCulprits(model, this.d.readSecret);
      if (bad.size > 0) {
        excluded = [...bad].map(([service, reason]) => ({ service, code: 'ERR_CERT_INVALID' as const, reason }));
        for (const x of excluded) log.warn({ service: x.service, reason: x.reason }, 'service excluded: its certificate cannot be served');
        model = withoutServices(model, new Set(bad.keys()));
      }
    }
    let final = model;
    // Rendered once and reused below: at 10 000 services a render is a large share of the work.
    const rendered = this.renderReal(model, ext);
    // Same bytes as what is served: it passed validation when it was published.
    if (this.d.served.get()?.sha256 === sha256(rendered)) return { outcome: 'unchanged', excluded };
    const certExcluded = excluded;
    const firstError = await this.check(model, ext, rendered);
    if (firstError !== undefined) {
      const services = routedServices(model);
      const baseError = await this.check(withoutServices(model, new Set(services)), ext);
      if (baseError !== undefined) {
        // Not any service's fault (nginx tuning, raw options, template): keep serving the last good config.
        log.error({ error: baseError }, 'config fails nginx -t even without any service; keeping the last good config');
        return { outcome: 'refused', excluded: certExcluded, error: baseError };
      }
      const culprits = await findCulprits(services, (included) =>
        this.check(withoutServices(model, new Set(services.filter((s) => !included.has(s)))), ext),
      );
      excluded = [...culprits].map(([service, reason]) => ({ service, code: 'ERR_NGINX_REJECTED' as const, reason }));
      for (const x of excluded) log.warn({ service: x.service, reason: x.reason }, 'service excluded: its routes fail nginx -t');
      final = withoutServices(model, new Set(culprits.keys()));
      const again = await this.check(final, ext);
      if (again !== undefined) {
        log.error({ error: again }, 'config still fails nginx -t after excluding services; keeping the last good config');
        return { outcome: 'refused', excluded: [...certExcluded, ...excluded], error: again };
      }
      excluded = [...certExcluded, ...excluded];
    }
    const text = final === model ? rendered : this.renderReal(final, ext);
    if (this.d.served.get()?.sha256 === sha256(text)) return { outcome: 'unchanged', excluded };
    const published = await this.d.publisher.publish(text);
    this.d.served.set(published);
    return { outcome: 'published', config: published.name, excluded };
  }
}
