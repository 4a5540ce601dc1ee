#!/usr/bin/env node
// signalbox-extension: follows core's model for one [Extensions.NAME], publishes validated nginx configs.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import Docker from 'dockerode';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { readExtensionPayload, type ExtensionPayload } from '@signalbox/model';
import { CORE_PORT, EXTENSION_PORT, PATHS, apiTokenOrExit, bearerHeader, proxyTokenOrNone, createLogger, longPoll, type Exclusion, type ExclusionReport, type SandboxState } from '@signalbox/protocol';
import { NginxValidator } from './nginx-validator.js';
import { Pipeline } from './pipeline.js';
import { DockerConfigPublisher } from './publisher.js';
import { renderNginxConf } from './render/index.js';
import { ServedConfigState } from './served-config.js';
import { buildServer } from './server.js';
import { CustomTemplateError, ERR_TEMPLATE_INVALID, loadCustomTemplate } from './custom-template.js';
import { AcmeService } from './acme/service.js';
import { isRetired } from './retirement.js';
import { ACME_STORE_KEY_FILE_ENV, ACME_STORE_KEY_SECRET_ENV, AcmeStore, DEFAULT_ACME_STORE_KEY_FILE, DockerConfigBackend, StoreKeyError, readStoreKey, type StoreKey } from './acme/store.js';

const log = createLogger('extension');
const coreUrl = process.env.SIGNALBOX_CORE_URL ?? `http://signalbox_core:${CORE_PORT}`;
const name = process.env.SIGNALBOX_EXTENSION_NAME ?? 'default';
const owner = process.env.SIGNALBOX_OWNER ?? 'signalbox';
const port = Number(process.env.SIGNALBOX_EXTENSION_PORT ?? EXTENSION_PORT);
const taskId = process.env.SIGNALBOX_TASK_ID ?? '';
const streamModule = process.env.SIGNALBOX_STREAM_MODULE ?? '/usr/lib/nginx/modules/ngx_stream_module.so';

const apiToken = apiTokenOrExit(log);
const proxyToken = proxyTokenOrNone(log);

const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'signalbox_extension_' });
const outcomes = new Counter({ name: 'signalbox_extension_configs_total', help: 'Model versions processed, by outcome', labelNames: ['outcome'] as const, registers: [registry] });
const excludedTotal = new Counter({ name: 'signalbox_extension_excluded_services_total', help: 'Services excluded because their routes failed nginx -t', registers: [registry] });

const docker = new Docker({ socketPath: '/var/run/docker.sock' });

// config.toml's Template: a nunjucks template in a Docker config, checked once at start. A bad one stops
// this extension (swarm restarts it, logging why); proxies keep the config they have meanwhile.
const templateName = process.env.SIGNALBOX_TEMPLATE_CONFIG ?? '';
let customTemplate: string | undefined;
if (templateName !== '') {
  try {
    customTemplate = await loadCustomTemplate(docker, templateName);
    log.info({ template: templateName }, 'rendering with the custom template from config.toml');
  } catch (e) {
    const message = e instanceof CustomTemplateError ? e.message : `Template ${JSON.stringify(templateName)} cannot be read: ${(e as Error).message}`;
    log.fatal({ template: templateName, code: ERR_TEMPLATE_INVALID }, message);
    process.exit(1);
  }
}
const served = new ServedConfigState();
new Gauge({
  name: 'signalbox_extension_config_bytes',
  help: 'Size of the nginx.conf the extension serves to proxies (0 before the first)',
  registers: [registry],
  collect() {
    const text = served.get()?.text;
    this.set(text === undefined ? 0 : Buffer.byteLength(text));
  },
});
const publisher = new DockerConfigPublisher(docker, name, owner, log.child({ component: 'publisher' }));
const validator = new NginxValidator();
const state: { modelVersion?: string; excluded: Exclusion[]; lastError?: string; sandbox?: SandboxState } = { excluded: [] };
type ModelPayload = ExtensionPayload;
/** The last model from core: rendered again when an ACME certificate is issued or renewed. */
let lastPayload: ModelPayload | undefined;
// ACME (config.toml [Extensions.NAME.Acme]): certificates kept sealed in the swarm, issued ones re-render the model.
// The store's own key (a Docker secret core mounts when [Extensions.NAME.Acme] is on), not the API token:
// rotating the token keeps certificates and the account. The token only opens records sealed before.
function acmeStoreKey(): StoreKey | StoreKeyError {
  const secret = process.env[ACME_STORE_KEY_SECRET_ENV]?.trim() || 'signalbox-acme-store-key';
  try {
    return readStoreKey(process.env[ACME_STORE_KEY_FILE_ENV]?.trim() || DEFAULT_ACME_STORE_KEY_FILE, secret, name);
  } catch (e) {
    if (e instanceof StoreKeyError) return e;
    throw e;
  }
}
const acme = new AcmeService({
  store: new AcmeStore(new DockerConfigBackend(docker), name, { key: acmeStoreKey(), legacyApiToken: apiToken }),
  log: log.child({ component: 'acme' }),
  onIssued: () => {
    const last = lastPayload;
    if (last) void processPayload(last).catch(() => undefined);
  },
});
const pipeline = new Pipeline({
  render: renderNginxConf,
  validator,
  publisher,
  served,
  log: log.child({ component: 'pipeline' }),
  renderOptions: {
    // Unset: x-proxy-id is each proxy task's own $hostname (its container), as with Interlock.
    ...(process.env.SIGNALBOX_PROXY_ID ? { proxyId: process.env.SIGNALBOX_PROXY_ID } : {}),
    ...(existsSync(streamModule) ? { streamModulePath: streamModule } : {}),
    // Set by core with ProxyEdge: the edge network's subnet, trusted for the client address (PROXY protocol).
    edgeTrustedFrom: (process.env.SIGNALBOX_EDGE_TRUSTED ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter((x) => /^[0-9.]+\/\d+$/.test(x)),
    ...(customTemplate !== undefined ? { customTemplate } : {}),
  },
  allowedModules: [streamModule],
  // The ACME pairs are checked here; the proxy tasks check the pairs of the secrets they mount.
  readAcmePair: (name) => acme.read(name),
});

// Models and proxy refusals are processed one at a time.
let chain: Promise<unknown> = Promise.resolve();
const serially = <T>(fn: () => Promise<T>): Promise<T> => {
  const next = chain.then(fn, fn);
  chain = next.catch(() => undefined);
  return next;
};

const app = buildServer({
  served,
  status: () => {
    const acmeStore = acme.storeStatus();
    return { ...state, acme: acme.status(), ...(acmeStore ? { acmeStore } : {}) };
  },
  challenges: acme.challenges,
  acmeFiles: () => acme.files(),
  registry,
  log,
  apiToken,
  ...(proxyToken ? { proxyToken } : {}),
  onRefusal: (refusal) => {
    void serially(async () => {
      const res = await pipeline.proxyRefusal(refusal);
      if (!res || !state.modelVersion) return;
      outcomes.inc({ outcome: res.outcome });
      state.excluded = res.excluded;
      await reportExclusions(state.modelVersion, res.excluded);
      log.info({ modelVersion: state.modelVersion, outcome: res.outcome, config: res.config, excluded: res.excluded.length }, 'model processed again after a proxy refusal');
    }).catch((e: Error) => log.error({ err: e.message }, 'cannot process a proxy refusal'));
  },
});
// Listening first: swarm's health check (every second) passes only once the port answers, and a roll of
// this service waits for it (start-first). Until the latest published
// config is read, proxies asking for nginx.conf get 503 and retry within a second.
await app.listen({ host: '0.0.0.0', port });

// Serve the newest published config at once, so proxies restarting while core is away still get routes.
// (Core's models are asked for only below, so nothing newer can have been published yet.)
try {
  const latest = await publisher.latest();
  if (latest) {
    served.set(latest);
    log.info({ config: latest.name }, 'serving the latest published config until core answers');
  }
} catch (e) {
  log.warn({ err: (e as Error).message }, 'cannot read published configs');
}

// The sandbox as a probe through it sees it: shown in /v1/status and as gauges, so a deployment where
// it is weaker than described (e.g. no CAP_SYS_ADMIN for the namespaces) is visible, not just logged.
state.sandbox = await validator.sandboxState();
const sandboxGauge = new Gauge({
  name: 'signalbox_extension_sandbox_isolated',
  help: 'What the nginx -t sandbox isolates (1 = yes), as a probe through it saw it at start',
  labelNames: ['aspect'] as const,
  registers: [registry],
});
sandboxGauge.set({ aspect: 'network' }, state.sandbox.networkIsolated ? 1 : 0);
sandboxGauge.set({ aspect: 'docker_socket' }, state.sandbox.dockerSocketHidden ? 1 : 0);
sandboxGauge.set({ aspect: 'secrets' }, state.sandbox.secretsHidden ? 1 : 0);
sandboxGauge.set({ aspect: 'unprivileged' }, state.sandbox.uid !== null && state.sandbox.uid !== 0 ? 1 : 0);
sandboxGauge.set({ aspect: 'memory_limit' }, state.sandbox.memoryLimitBytes !== null ? 1 : 0);
if (state.sandbox.problems.length > 0) log.warn({ sandbox: state.sandbox }, 'the nginx -t sandbox is weaker than described in docs/security.md');
log.info({ coreUrl, name, port, sandbox: state.sandbox, task: hostname() }, 'extension started');

async function reportExclusions(version: string, excluded: Exclusion[]): Promise<void> {
  try {
    const res = await fetch(`${coreUrl}${PATHS.extensionExclusions(name)}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearerHeader(apiToken) },
      body: JSON.stringify({ modelVersion: version, excluded } satisfies ExclusionReport),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) log.warn({ status: res.status, body: (await res.text()).slice(0, 200) }, 'core refused the exclusions report');
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot report exclusions to core');
  }
}

// Failed ACME orders are shown by core on the services of their hosts (WARN_ACME_ORDER_FAILED).
let acmeReported = '[]';
async function reportAcmeFailures(force = false): Promise<void> {
  const failed = acme
    .status()
    .filter((h) => h.state === 'failed')
    .map((h) => ({ host: h.host, error: h.error ?? 'unknown error', failures: h.failures, nextAt: h.nextAt }));
  const body = JSON.stringify(failed);
  if (!force && body === acmeReported) return;
  try {
    const res = await fetch(`${coreUrl}/v1/extensions/${encodeURIComponent(name)}/acme`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', ...bearerHeader(apiToken) },
      body: JSON.stringify({ failed }),
      signal: AbortSignal.timeout(5000),
    });
    if (res.ok) acmeReported = body;
    else log.warn({ status: res.status }, 'core refused the ACME failure report');
  } catch (e) {
    log.warn({ err: (e as Error).message }, 'cannot report ACME failures to core');
  }
}
setInterval(() => void reportAcmeFailures(), 5000).unref();
new Gauge({
  name: 'signalbox_extension_acme_hosts',
  help: 'ACME hosts of this extension by state (pending, ordering, valid, renewing, failed)',
  labelNames: ['state'] as const,
  registers: [registry],
  collect() {
    this.reset();
    for (const h of acme.status()) this.inc({ state: h.state });
  },
});
new Gauge({
  name: 'signalbox_extension_acme_store_unreadable_objects',
  help: 'ACME config objects the store key cannot open (another key, or sealed under a rotated API token); their hosts are ordered again',
  registers: [registry],
  collect() {
    this.set(acme.storeStatus()?.unreadable.length ?? 0);
  },
});

const abort = new AbortController();
void longPoll({
  url: `${coreUrl}${PATHS.extensionModel(name)}`,
  waitSeconds: 30,
  signal: abort.signal,
  headers: bearerHeader(apiToken),
  // Checked against protocol's schema: a core of another release fails here with a clear message.
  read: async (res) => readExtensionPayload(await res.json()),
  onError: (err, attempt) => (attempt === 1 || attempt % 20 === 0 ? log.warn({ err: err.message, attempt }, 'cannot reach core; still serving the last config') : undefined),
  // A restarted core has forgotten what we excluded, and its model may not change (so no new render):
  // tell it again as soon as it answers.
  onRecovered: async () => {
    if (state.modelVersion === undefined) return;
    log.info({ excluded: state.excluded.length }, 'core answers again; re-reporting exclusions');
    await reportExclusions(state.modelVersion, state.excluded);
    await reportAcmeFailures(true);
  },
  onValue: (payload) => {
    if (!isRetired(payload.model, taskId)) return processPayload(payload);
    // Not processed: this task may not mount the newest secrets, and its exclusions would be wrong.
    log.info({ task: taskId, modelVersion: payload.version }, 'core names this task retired (its replacement is healthy); stopping now so proxies reconnect to the new one');
    shutdown();
  },
});

function processPayload(payload: ModelPayload): Promise<void> {
  lastPayload = payload;
  return serially(async () => {
    const started = Date.now();
    try {
      const model = payload.extension.Acme ? await acme.apply(payload.model, payload.extension.Acme) : payload.model;
      const res = await pipeline.process(model, payload.extension);
      outcomes.inc({ outcome: res.outcome });
      excludedTotal.inc(res.excluded.filter((x) => x.code !== 'WARN_SECRET_PENDING' && x.code !== 'WARN_NETWORK_PENDING').length);
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
  });
}

let stopping = false;
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  abort.abort();
  acme.stop();
  void app.close().then(() => process.exit(0));
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
