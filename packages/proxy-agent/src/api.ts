// Status API: health for the swarm healthcheck, status for `signalbox status`, metrics for
// Prometheus. Everything is read from a snapshot function; the app keeps only when it started and
// whether it has answered a health check with 200 yet (a starting task's check is held open, ?wait=).
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { AgentStatusBody, AgentUnhealthyBody, OkBody, UpstreamFailure } from '@signalbox/protocol';
import { AGENT_HEALTH_WAIT_SECONDS, HEALTH_START_PERIOD_SECONDS, PATHS, agentStatusBodySchema, agentUnhealthyBodySchema, okBodySchema, sleep } from '@signalbox/protocol';
import type { BackendReachState } from './backend-reach.js';
import type { FailureRecord, InstalledConfig } from './installer.js';

export interface AgentSnapshot {
  installed: InstalledConfig | undefined;
  lastFailure: FailureRecord | undefined;
  reloads: number;
  reloadFailures: number;
  lastReloadAt: Date | undefined;
  nginxPid: number | undefined;
  nginxRunning: boolean;
  nginxRestarts: number;
  /** Old workers still finishing requests after a reload (absent when not counted). */
  drainingWorkers?: number;
  /** Upstream servers nginx failed to reach, from its error log (absent when not tracked). */
  upstreamFailures?: UpstreamFailure[];
  extension?: { url: string; etag: string | undefined; lastError: string | undefined; lastContactAt: Date | undefined };
  /** The TLS front (behind the edge), once an installed config asked for it. */
  tlsFront?: { running: boolean; ready: boolean; lastError: string | undefined };
  /** A routing task's first check that its upstreams answer (backend-reach.ts). */
  backendReach?: BackendReachState;
}

/** What health depends on: the snapshot without its costly parts (the /proc scan for draining workers). */
export type HealthState = Pick<AgentSnapshot, 'installed' | 'nginxRunning' | 'tlsFront' | 'backendReach'>;

export interface ApiDeps {
  logger: Logger;
  snapshot: () => AgentSnapshot;
  /** Read by every health check, and every 50 ms while one is held (default: the snapshot). */
  health?: () => HealthState;
  /** Process metrics (off in tests: one set per process). */
  defaultMetrics?: boolean;
  /** Clock for the held health check (tests). */
  now?: () => number;
}

export function isHealthy(s: HealthState): boolean {
  // A rejected candidate does not make us unhealthy: we still serve the last good config.
  // Behind the edge TLS ends in the front: the task serves HTTPS only once it holds the certificates.
  // A new routing task takes traffic once its upstreams answer, so nginx does not mark them failed.
  return s.nginxRunning && s.installed !== undefined && (s.tlsFront === undefined || s.tlsFront.ready) && (s.backendReach === undefined || s.backendReach.ready);
}

function unhealthyReason(s: HealthState): string {
  if (!s.installed) return 'no valid config installed';
  if (!s.nginxRunning) return 'nginx is not running';
  if (s.tlsFront !== undefined && !s.tlsFront.ready) return `the TLS front is not ready${s.tlsFront.lastError ? `: ${s.tlsFront.lastError}` : ''}`;
  const r = s.backendReach;
  return `waiting for upstreams to answer a connect: ${r?.waiting ?? 0} not yet${r?.example ? `, e.g. ${r.example}` : ''}`;
}

function createMetrics(snapshot: () => AgentSnapshot, defaultMetrics: boolean): Registry {
  const registry = new Registry();
  if (defaultMetrics) collectDefaultMetrics({ register: registry });
  new Counter({
    name: 'signalbox_proxy_reloads_total',
    help: 'Configs installed with a graceful nginx reload.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot().reloads);
    },
  });
  new Counter({
    name: 'signalbox_proxy_reload_failures_total',
    help: 'Candidate configs rejected (nginx -t failed, or the reload was not confirmed).',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot().reloadFailures);
    },
  });
  new Gauge({
    name: 'signalbox_proxy_config_info',
    help: 'The config nginx is running (value is always 1).',
    labelNames: ['sha256', 'config'],
    registers: [registry],
    collect() {
      this.reset();
      const i = snapshot().installed;
      if (i) this.set({ sha256: i.sha256, config: i.configName }, 1);
    },
  });
  new Gauge({
    name: 'signalbox_proxy_last_reload_timestamp_seconds',
    help: 'Unix time of the last successful reload (0 = none since start).',
    registers: [registry],
    collect() {
      const at = snapshot().lastReloadAt;
      this.set(at ? at.getTime() / 1000 : 0);
    },
  });
  new Gauge({
    name: 'signalbox_proxy_nginx_up',
    help: '1 while the nginx master runs with a valid config.',
    registers: [registry],
    collect() {
      this.set(isHealthy(snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'signalbox_proxy_draining_workers',
    help: 'Old nginx workers still finishing requests after a reload.',
    registers: [registry],
    collect() {
      this.set(snapshot().drainingWorkers ?? 0);
    },
  });
  new Counter({
    name: 'signalbox_proxy_nginx_restarts_total',
    help: 'Unexpected nginx exits that the agent restarted.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(snapshot().nginxRestarts);
    },
  });
  return registry;
}

const iso = (d: Date | undefined): string | undefined => d?.toISOString();

/** How often a held health check looks at the snapshot again. */
const HEALTH_WAIT_STEP_MS = 50;
const healthQuerySchema = {
  type: 'object',
  properties: { wait: { type: 'number', minimum: 0, maximum: AGENT_HEALTH_WAIT_SECONDS } },
} as const;

export function buildApp(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    // Typed as fastify's base logger so the app keeps the default FastifyInstance type.
    loggerInstance: deps.logger as FastifyBaseLogger,
    // No endpoint takes a body.
    bodyLimit: 16 * 1024,
  });
  // Health checks and scrapes arrive every few seconds: no per-request info lines.
  const quiet = { logLevel: 'warn' } as const;
  const registry = createMetrics(deps.snapshot, deps.defaultMetrics ?? false);

  // Until the first healthy answer, within the checks' start period, ?wait= holds a check open until the
  // task serves (a start-first roll then goes on at once). After either, every check answers at once:
  // failures count at swarm's usual pace.
  let beenHealthy = false;
  const now = deps.now ?? Date.now;
  const holdUntil = now() + HEALTH_START_PERIOD_SECONDS * 1000;
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  app.get<{ Querystring: { wait?: number } }>(
    PATHS.health,
    { ...quiet, schema: { querystring: healthQuerySchema, response: { 200: okBodySchema, 503: agentUnhealthyBodySchema } } },
    async (req, reply) => {
      const health = deps.health ?? deps.snapshot;
      let s = health();
      const until = beenHealthy ? 0 : Math.min(holdUntil, now() + (req.query.wait ?? 0) * 1000);
      while (!isHealthy(s) && now() < until && !closing.signal.aborted) {
        await sleep(HEALTH_WAIT_STEP_MS, closing.signal);
        s = health();
      }
      if (isHealthy(s)) {
        beenHealthy = true;
        return { ok: true } satisfies OkBody;
      }
      return reply.code(503).send({ ok: false, reason: unhealthyReason(s) } satisfies AgentUnhealthyBody);
    },
  );

  app.get(PATHS.status, { ...quiet, schema: { response: { 200: agentStatusBodySchema } } }, async () => {
    const s = deps.snapshot();
    return {
      installed: s.installed
        ? {
            sha256: s.installed.sha256,
            configName: s.installed.configName,
            source: s.installed.source,
            installedAt: s.installed.installedAt.toISOString(),
          }
        : null,
      ...(s.lastFailure
        ? {
            lastFailure: {
              sha256: s.lastFailure.sha256,
              configName: s.lastFailure.configName,
              source: s.lastFailure.source,
              reason: s.lastFailure.reason,
              at: s.lastFailure.at.toISOString(),
            },
          }
        : {}),
      reloads: s.reloads,
      reloadFailures: s.reloadFailures,
      lastReloadAt: iso(s.lastReloadAt) ?? null,
      nginxPid: s.nginxPid ?? null,
      nginxRunning: s.nginxRunning,
      nginxRestarts: s.nginxRestarts,
      drainingWorkers: s.drainingWorkers ?? null,
      upstreamFailures: s.upstreamFailures ?? [],
      ...(s.extension
        ? {
            extension: {
              url: s.extension.url,
              etag: s.extension.etag ?? null,
              lastError: s.extension.lastError ?? null,
              lastContactAt: iso(s.extension.lastContactAt) ?? null,
            },
          }
        : {}),
    } satisfies AgentStatusBody;
  });

  app.get(PATHS.metrics, quiet, async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });

  return app;
}
