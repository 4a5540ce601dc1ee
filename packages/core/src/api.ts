// Core's upstream API: the per-extension model with ETag + long-poll, service status, metrics.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { ExtensionPayload, ServiceStatus } from '@signalbox/model';
import type { ApiErrorBody, CoreStatusBody, ExtensionsBody, Logger, OkBody } from '@signalbox/protocol';
import {
  ERR_API_BAD_REQUEST,
  ERR_API_INTERNAL,
  ERR_EXTENSION_UNKNOWN,
  ERR_NGINX_REJECTED,
  PATHS,
  answerLongPoll,
  apiErrorBodySchema,
  coreStatusBodySchema,
  extensionPayloadSchema,
  extensionsBodySchema,
  isExclusionCode,
  okBodySchema,
  tokenCheckHook,
  type Exclusion,
} from '@signalbox/protocol';
import type { AcmeFailureStore, ReportedAcmeFailure } from './acme-failures.js';
import type { ExclusionStore } from './exclusions.js';
import type { ModelStore } from './model-store.js';

/** Each route's answers, as fastify response schemas: what is sent is what protocol declares. */
const errors = { 400: apiErrorBodySchema, 401: apiErrorBodySchema, 404: apiErrorBodySchema, 500: apiErrorBodySchema };

export interface ApiDeps {
  store: ModelStore;
  statuses: () => ServiceStatus[];
  exclusions: ExclusionStore;
  /** ACME orders the extensions report as failing (PUT /v1/extensions/:name/acme). */
  acmeFailures?: AcmeFailureStore;
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
    return reply.code(status).send({ code: status === 500 ? ERR_API_INTERNAL : ERR_API_BAD_REQUEST, message: err.message.slice(0, 300) } satisfies ApiErrorBody);
  });
  const maxWait = deps.maxWaitSeconds ?? 60;

  app.get(PATHS.health, { schema: { response: { 200: okBodySchema } } }, async () => ({ ok: true }) satisfies OkBody);

  app.get(PATHS.extensions, { schema: { response: { 200: extensionsBodySchema, ...errors } } }, async () => ({ extensions: deps.store.names() }) satisfies ExtensionsBody);

  app.get<{ Params: { name: string } }>(PATHS.extensionModelRoute, { schema: { response: { 200: extensionPayloadSchema, ...errors } } }, async (req, reply) => {
    const { name } = req.params;
    const current = deps.store.get(name);
    if (!current) {
      return reply.code(404).send({ code: ERR_EXTENSION_UNKNOWN, message: `no extension named ${JSON.stringify(name)} in config.toml` } satisfies ApiErrorBody);
    }
    const versions = { versionOf: (p: ExtensionPayload) => p.version, waitForChange: (v: string, ms: number) => deps.store.waitForChange(name, v, ms) };
    const payload = await answerLongPoll(req, reply, versions, current, maxWait);
    return payload === undefined ? reply : reply.send(payload satisfies ExtensionPayload);
  });

  app.put<{ Params: { name: string } }>(PATHS.extensionExclusionsRoute, { schema: { response: { 200: okBodySchema, ...errors } } }, async (req, reply) => {
    if (!deps.store.get(req.params.name)) return reply.code(404).send({ code: ERR_EXTENSION_UNKNOWN, message: 'unknown extension' } satisfies ApiErrorBody);
    const body: unknown = req.body;
    const excluded = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { excluded?: unknown }).excluded : undefined;
    if (!Array.isArray(excluded) || excluded.length > MAX_EXCLUSIONS) {
      return reply.code(400).send({ code: ERR_API_BAD_REQUEST, message: `body must be {"excluded": [{"service", "reason"}…]} with at most ${MAX_EXCLUSIONS} entries` } satisfies ApiErrorBody);
    }
    // Lenient on purpose (an extension of another release may send less): entries without a service and
    // a reason are skipped, long texts cut, and an unknown code read as the default, nginx -t.
    const list: Exclusion[] = (excluded as { service?: unknown; reason?: unknown; code?: unknown }[])
      .filter((x): x is { service: string; reason: string; code?: unknown } => typeof x === 'object' && x !== null && typeof x.service === 'string' && typeof x.reason === 'string')
      .map((x) => ({ service: x.service.slice(0, 300), code: isExclusionCode(x.code) ? x.code : ERR_NGINX_REJECTED, reason: x.reason.slice(0, 1000) }));
    deps.exclusions.set(req.params.name, list);
    return { ok: true } satisfies OkBody;
  });

  app.put<{ Params: { name: string } }>('/v1/extensions/:name/acme', { schema: { response: { 200: okBodySchema, ...errors } } }, async (req, reply) => {
    if (!deps.store.get(req.params.name)) return reply.code(404).send({ code: ERR_EXTENSION_UNKNOWN, message: 'unknown extension' } satisfies ApiErrorBody);
    const body: unknown = req.body;
    const failed = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { failed?: unknown }).failed : undefined;
    if (!Array.isArray(failed) || failed.length > MAX_EXCLUSIONS) {
      return reply
        .code(400)
        .send({ code: ERR_API_BAD_REQUEST, message: `body must be {"failed": [{"host", "error", "failures", "nextAt"}…]} with at most ${MAX_EXCLUSIONS} entries` } satisfies ApiErrorBody);
    }
    const list: ReportedAcmeFailure[] = (failed as Record<string, unknown>[])
      .filter((x) => typeof x === 'object' && x !== null && typeof x.host === 'string' && typeof x.error === 'string')
      .map((x) => ({
        host: String(x.host).slice(0, 300),
        error: String(x.error).slice(0, 600),
        failures: typeof x.failures === 'number' && Number.isInteger(x.failures) && x.failures > 0 ? Math.min(x.failures, 1e6) : 1,
        ...(typeof x.nextAt === 'string' && !Number.isNaN(Date.parse(x.nextAt)) ? { nextAt: new Date(Date.parse(x.nextAt)).toISOString() } : {}),
      }));
    deps.acmeFailures?.set(req.params.name, list);
    return { ok: true } satisfies OkBody;
  });

  app.get(PATHS.status, { schema: { response: { 200: coreStatusBodySchema, ...errors } } }, async () => ({ services: deps.statuses() }) satisfies CoreStatusBody);

  app.get(PATHS.metrics, async (_req, reply) => {
    return reply.header('content-type', deps.registry.contentType).send(await deps.registry.metrics());
  });

  return app;
}
