// Core's upstream API: the per-extension model with ETag + long-poll, service status, metrics.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger, ServiceStatus } from '@signalbox/model';
import { ERR_API_BAD_REQUEST, ERR_API_UNAUTHORIZED, parseEtag, parseWaitSeconds, tokenCheckHook } from '@signalbox/model';
import type { ExclusionStore, ReportedExclusion } from './exclusions.js';
import type { ModelStore } from './model-store.js';

/** The body of an API error answer; its codes are listed in docs/errors.md#core. */
interface ApiError {
  code: 'ERR_EXTENSION_UNKNOWN' | typeof ERR_API_UNAUTHORIZED | typeof ERR_API_BAD_REQUEST | 'ERR_API_INTERNAL';
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
  /** Every request but GET /v1/health must carry `Authorization: Bearer <apiToken>`. */
  apiToken: string;
}

/** Largest request body (PUT …/exclusions): a list of excluded services with short reasons. */
export const MAX_BODY_BYTES = 1024 * 1024;
const MAX_EXCLUSIONS = 10_000;

export function buildApp(deps: ApiDeps): FastifyInstance {
  // Request logs are info level: a warn-level child keeps long-polls from flooding the log.
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    // close() ends long-polls in flight instead of waiting for them: otherwise a stopping core outlives
    // its stop grace period (killed after 10 s) and every config.toml redeploy leaves no core that long.
    // Extensions just poll again, and the new core answers.
    forceCloseConnections: true,
    bodyLimit: MAX_BODY_BYTES,
    maxParamLength: 200,
  });
  app.addHook('onRequest', tokenCheckHook(deps.apiToken));
  // Malformed JSON, oversized bodies, bad content types: one JSON shape with a code, never a crash.
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) deps.log.error({ err: err.message }, 'API request failed');
    return reply.code(status).send({ code: status === 500 ? 'ERR_API_INTERNAL' : ERR_API_BAD_REQUEST, message: err.message.slice(0, 300) });
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
    const wait = parseWaitSeconds(req.query.wait, maxWait);
    if (!wait.ok) return reply.code(400).send({ code: ERR_API_BAD_REQUEST, message: wait.message });
    const known = parseEtag(req.headers['if-none-match']);
    const waitS = wait.seconds;
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
      const body: unknown = req.body;
      const excluded = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { excluded?: unknown }).excluded : undefined;
      if (!Array.isArray(excluded) || excluded.length > MAX_EXCLUSIONS) {
        return reply.code(400).send({ code: ERR_API_BAD_REQUEST, message: `body must be {"excluded": [{"service", "reason"}…]} with at most ${MAX_EXCLUSIONS} entries` } satisfies ApiError);
      }
      const list: ReportedExclusion[] = (excluded as { service?: unknown; reason?: unknown; code?: unknown }[])
        .filter((x): x is { service: string; reason: string; code?: unknown } => typeof x === 'object' && x !== null && typeof x.service === 'string' && typeof x.reason === 'string')
        .map((x) => ({ service: x.service.slice(0, 300), reason: x.reason.slice(0, 1000), ...(x.code === 'ERR_CERT_INVALID' || x.code === 'ERR_PROXY_REFUSED' ? { code: x.code } : {}) }));
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
