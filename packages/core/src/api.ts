// Core's upstream API: the per-extension model with ETag + long-poll, service status, metrics.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger, ServiceStatus } from '@signalbox/model';
import { parseEtag } from '@signalbox/model';
import type { ExclusionStore, ReportedExclusion } from './exclusions.js';
import type { ModelStore } from './model-store.js';

/** The body of an API error answer; its codes are listed in docs/errors.md#core. */
interface ApiError {
  code: 'ERR_EXTENSION_UNKNOWN';
  message: string;
}

export interface ApiDeps {
  store: ModelStore;
  statuses: () => ServiceStatus[];
  exclusions: ExclusionStore;
  registry: Registry;
  log: Logger;
  /** Upper bound for ?wait=, seconds. */
  maxWaitSeconds?: number;
}

export function buildApp(deps: ApiDeps): FastifyInstance {
  // Request logs are info level: a warn-level child keeps long-polls from flooding the log.
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    // close() ends long-polls in flight instead of waiting for them: otherwise a stopping core outlives
    // its stop grace period (killed after 10 s) and every config.toml redeploy leaves no core that long.
    // Extensions just poll again, and the new core answers.
    forceCloseConnections: true,
  });
  const maxWait = deps.maxWaitSeconds ?? 60;

  app.get('/v1/health', async () => ({ ok: true }));

  app.get('/v1/extensions', async () => ({ extensions: deps.store.names() }));

  app.get<{ Params: { name: string }; Querystring: { wait?: string } }>('/v1/extensions/:name/model', async (req, reply) => {
    const { name } = req.params;
    const current = deps.store.get(name);
    if (!current) {
      return reply.code(404).send({ code: 'ERR_EXTENSION_UNKNOWN', message: `no extension named ${JSON.stringify(name)} in config.toml` } satisfies ApiError);
    }
    const known = parseEtag(req.headers['if-none-match']);
    const waitS = Math.min(maxWait, Math.max(0, Number(req.query.wait ?? 0) || 0));
    let payload = current;
    if (known !== undefined && known === current.version) {
      if (waitS === 0) return reply.code(304).send();
      const changed = await deps.store.waitForChange(name, known, waitS * 1000);
      if (!changed) return reply.code(304).send();
      payload = changed;
    }
    return reply.header('etag', `"${payload.version}"`).header('cache-control', 'no-store').send(payload);
  });

  app.put<{ Params: { name: string }; Body: { modelVersion?: string; excluded?: { service?: unknown; reason?: unknown; code?: unknown }[] } }>(
    '/v1/extensions/:name/exclusions',
    async (req, reply) => {
      if (!deps.store.get(req.params.name)) return reply.code(404).send({ code: 'ERR_EXTENSION_UNKNOWN', message: 'unknown extension' } satisfies ApiError);
      const list: ReportedExclusion[] = (req.body?.excluded ?? [])
        .filter((x) => typeof x.service === 'string' && typeof x.reason === 'string')
        .map((x) => ({ service: String(x.service), reason: String(x.reason).slice(0, 1000), ...(x.code === 'ERR_CERT_INVALID' ? { code: 'ERR_CERT_INVALID' } : {}) }));
      deps.exclusions.set(req.params.name, list);
      return { ok: true };
    },
  );

  app.get('/v1/status', async () => ({ services: deps.statuses() }));

  app.get('/metrics', async (_req, reply) => {
    return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
  });

  return app;
}
