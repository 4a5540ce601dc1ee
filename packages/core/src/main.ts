#!/usr/bin/env node
// signalbox-core: reads config.toml, watches the swarm, serves models, keeps extension/proxy services converged.
import { readFileSync } from 'node:fs';
import { durationMs, formatDiagnostic, parseConfig } from '@signalbox/model';
import { CORE_PORT, apiTokenOrExit, createLogger } from '@signalbox/protocol';
import { buildApp } from './api.js';
import { connectDocker } from './docker/connect.js';
import { watchEvents } from './docker/events.js';
import { ServiceManager } from './docker/services.js';
import { readSnapshot } from './docker/snapshot.js';
import { ManagedServices } from './managed-services.js';
import { AcmeFailureStore } from './acme-failures.js';
import { ExclusionStore } from './exclusions.js';
import { createDashboard } from './dashboard/start.js';
import { createMetrics } from './metrics.js';
import { ModelStore } from './model-store.js';
import { StatusTracker } from './status-tracker.js';
import { Synchronizer } from './synchronizer.js';
import { TaskChurnDamper } from './task-churn-damper.js';

const log = createLogger('core');
const configPath = process.env.SIGNALBOX_CONFIG ?? '/config.toml';

let text: string;
try {
  text = readFileSync(configPath, 'utf8');
} catch (e) {
  log.fatal({ path: configPath, err: (e as Error).message }, 'cannot read config.toml');
  process.exit(1);
}
const parsed = parseConfig(text, configPath);
if (!parsed.ok) {
  for (const d of parsed.errors) log.fatal({ code: d.code, key: d.key, value: d.value }, formatDiagnostic(d));
  log.fatal({ path: configPath, errors: parsed.errors.length }, 'config.toml is invalid; refusing to start (on a redeploy, swarm rolls core back to the previous config.toml, which stays in force)');
  process.exit(1);
}
for (const d of parsed.warnings) log.warn({ code: d.code, key: d.key, value: d.value }, formatDiagnostic(d));
const config = parsed.config;
const apiToken = apiTokenOrExit(log);
const pollIntervalMs = durationMs(config.PollInterval) ?? 3000;

const docker = connectDocker(config);
const metrics = createMetrics();
const store = new ModelStore();
const tracker = new StatusTracker(log.child({ component: 'status' }));
const exclusions = new ExclusionStore();
const clusterOf = (ext: string) => config.Extensions[ext]?.ServiceCluster;
const acmeFailures = new AcmeFailureStore();
const statuses = () => acmeFailures.apply(exclusions.apply(tracker.all(), clusterOf), clusterOf);
const controlNetwork = process.env.SIGNALBOX_CONTROL_NETWORK ?? 'signalbox_control';
const dashboard = createDashboard({ extensions: config.Extensions, store, statuses, controlNetwork, env: process.env, log, registry: metrics.registry });
const managed = new ManagedServices(
  config.Extensions,
  {
    coreUrl: process.env.SIGNALBOX_CORE_URL ?? `http://signalbox_core:${CORE_PORT}`,
    controlNetwork,
    owner: process.env.SIGNALBOX_OWNER ?? 'signalbox',
    dockerSocket: config.DockerURL.startsWith('unix://') ? new URL(config.DockerURL).pathname : '/var/run/docker.sock',
    logLevel: process.env.SIGNALBOX_LOG_LEVEL ?? 'info',
    // The secret holding the API token (versioned by the stack); mounted into the extension and proxies.
    apiTokenSecret: process.env.SIGNALBOX_API_TOKEN_SECRET?.trim() || undefined,
    // The proxy token's secret (versioned by the stack, kept across deploys): the only one proxies get.
    proxyTokenSecret: process.env.SIGNALBOX_PROXY_TOKEN_SECRET?.trim() || undefined,
    ...(/^[1-9]\d{1,6}$/.test(process.env.SIGNALBOX_SANDBOX_MEMORY_MB ?? '') ? { sandboxMemoryMb: Number(process.env.SIGNALBOX_SANDBOX_MEMORY_MB) } : {}),
  },
  new ServiceManager(docker, log.child({ component: 'services' })),
  metrics,
  log.child({ component: 'services' }),
  pollIntervalMs,
);
const sync = new Synchronizer({
  config,
  pollIntervalMs,
  // The proxies' draining tasks too: a route on a network one of them lacks waits for it (pending-networks.ts).
  readSnapshot: async () => dashboard.recorder.noteSnapshot(await readSnapshot(docker, { stoppingTasksOf: Object.values(config.Extensions).flatMap((e) => [e.ProxyServiceName, e.ServiceName]) })),
  store,
  tracker,
  metrics,
  log: log.child({ component: 'sync' }),
  damper: new TaskChurnDamper(log.child({ component: 'damper' })),
  onModels: process.env.SIGNALBOX_MANAGE_SERVICES === 'false' ? undefined : (models, snap) => managed.converge(models, snap),
});
const events = watchEvents(
  docker,
  (hint) => {
    if (hint.name) managed.recheck(hint.name);
    // A stack deploy creates many services in a row; updates (scaling) and removals are single changes.
    if (hint.type === 'service' && hint.action === 'create') sync.noteSpecChange();
    sync.trigger(`event:${hint.type}`);
    if (hint.tasksMoving) sync.burst();
  },
  () => sync.trigger('events-reconnected'),
  log.child({ component: 'events' }),
);

const app = buildApp({ store, exclusions, acmeFailures, statuses, registry: metrics.registry, log, apiToken });
const listen = /^(.*):(\d+)$/.exec(config.ListenAddr);
await app.listen({ host: listen?.[1] || '0.0.0.0', port: Number(listen?.[2] ?? CORE_PORT) });
log.info({ listen: config.ListenAddr, extensions: Object.keys(config.Extensions), pollIntervalMs }, 'core started');
sync.start();
const closeDashboard = await dashboard.start();

const shutdown = (sig: string) => {
  log.info({ sig }, 'stopping');
  events.stop();
  sync.stop();
  // Whatever is still in flight must not hold a restart onto a new config.toml until SIGKILL.
  setTimeout(() => process.exit(0), 3000).unref();
  void Promise.all([app.close(), closeDashboard()]).then(() => process.exit(0));
};
// `docker kill --signal USR2 <core>`: drop the Docker events stream without restarting core. Core
// reconnects and re-reads the swarm as after an engine hiccup (the fault suite uses it; so can operators).
process.on('SIGUSR2', () => {
  log.warn('SIGUSR2: dropping the docker events stream; it reconnects and resyncs');
  events.drop();
});
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
