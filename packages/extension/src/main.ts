#!/usr/bin/env node
// signalbox-extension: follows core's model for one [Extensions.NAME], publishes validated nginx configs.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import Docker from 'dockerode';
import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { ClusterModel, ExtensionConfig } from '@signalbox/model';
import { createLogger } from '@signalbox/model';
import { secretsDirReader } from './certificates.js';
import { longPoll } from './long-poll.js';
import { NginxValidator } from './nginx-validator.js';
import { Pipeline, type Exclusion } from './pipeline.js';
import { DockerConfigPublisher } from './publisher.js';
import { renderNginxConf } from './render/index.js';
import { ServedConfigState } from './served-config.js';
import { buildServer } from './server.js';

const log = createLogger('extension');
const coreUrl = process.env.SIGNALBOX_CORE_URL ?? 'http://signalbox_core:8080';
const name = process.env.SIGNALBOX_EXTENSION_NAME ?? 'default';
const owner = process.env.SIGNALBOX_OWNER ?? 'signalbox';
const port = Number(process.env.SIGNALBOX_EXTENSION_PORT ?? 8081);
const streamModule = process.env.SIGNALBOX_STREAM_MODULE ?? '/usr/lib/nginx/modules/ngx_stream_module.so';

const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'signalbox_extension_' });
const outcomes = new Counter({ name: 'signalbox_extension_configs_total', help: 'Model versions processed, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
const excludedTotal = new Counter({ name: 'signalbox_extension_excluded_services_total', help: 'Services excluded because their routes failed nginx -t', registers: [registry] });

const docker = new Docker({ socketPath: '/var/run/docker.sock' });
const served = new ServedConfigState();
const publisher = new DockerConfigPublisher(docker, name, owner, log.child({ component: 'publisher' }));
const validator = new NginxValidator();
const state: { modelVersion?: string; excluded: Exclusion[]; lastError?: string } = { excluded: [] };
const pipeline = new Pipeline({
  render: renderNginxConf,
  validator,
  publisher,
  served,
  log: log.child({ component: 'pipeline' }),
  renderOptions: {
    proxyId: process.env.SIGNALBOX_PROXY_ID ?? `signalbox-${name}`,
    ...(existsSync(streamModule) ? { streamModulePath: streamModule } : {}),
    // Set by core with ProxyEdge: the edge network's subnet, trusted for the client address (PROXY protocol).
    edgeTrustedFrom: (process.env.SIGNALBOX_EDGE_TRUSTED ?? '').split(',').map((x) => x.trim()).filter((x) => /^[0-9.]+\/\d+$/.test(x)),
  },
  allowedModules: [streamModule],
  // Core mounts the secrets of the routes this extension serves here, so certificates are checked before proxies load them.
  readSecret: secretsDirReader(process.env.SIGNALBOX_SECRETS_DIR ?? '/run/secrets'),
});

// Serve the newest published config at once, so proxies restarting while core is away still get routes.
try {
  const latest = await publisher.latest();
  if (latest) {
    served.set(latest);
    log.info({ config: latest.name }, 'serving the latest published config until core answers');
  }
} catch (e) {
  log.warn({ err: (e as Error).message }, 'cannot read published configs');
}

const app = buildServer({ served, status: () => state, registry, log });
await app.listen({ host: '0.0.0.0', port });
log.info({ coreUrl, name, port, sandboxNetworkIsolated: validator.networkIsolated, task: hostname() }, 'extension started');

async function reportExclusions(version: string, excluded: Exclusion[]): Promise<void> {
  try {
    await fetch(`${coreUrl}/v1/extensions/${encodeURIComponent(name)}/exclusions`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ modelVersion: version, excluded }),
      signal: AbortSignal.timeout(5000),
    });
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot report exclusions to core');
  }
}

const abort = new AbortController();
void longPoll<{ version: string; extension: ExtensionConfig; model: ClusterModel }>({
  url: `${coreUrl}/v1/extensions/${encodeURIComponent(name)}/model`,
  waitSeconds: 30,
  signal: abort.signal,
  parse: (res) => res.json() as Promise<{ version: string; extension: ExtensionConfig; model: ClusterModel }>,
  onError: (err, attempt) => (attempt === 1 || attempt % 20 === 0 ? log.warn({ err: err.message, attempt }, 'cannot reach core; still serving the last config') : undefined),
  onValue: async (payload) => {
    const started = Date.now();
    try {
      const res = await pipeline.process(payload.model, payload.extension);
      outcomes.inc({ outcome: res.outcome });
      excludedTotal.inc(res.excluded.length);
      const changed = JSON.stringify(res.excluded) !== JSON.stringify(state.excluded);
      state.modelVersion = payload.version;
      state.excluded = res.excluded;
      if (res.error) state.lastError = res.error;
      else delete state.lastError;
      if (changed || res.excluded.length > 0) await reportExclusions(payload.version, res.excluded);
      log.info({ modelVersion: payload.version, outcome: res.outcome, config: res.config, excluded: res.excluded.length, ms: Date.now() - started }, 'model processed');
    } catch (e) {
      outcomes.inc({ outcome: 'error' });
      log.error({ err: (e as Error).message, modelVersion: payload.version }, 'cannot process model; still serving the last config');
      throw e;
    }
  },
});

const shutdown = () => {
  abort.abort();
  void app.close().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
