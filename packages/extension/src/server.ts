// The extension's API: proxy agents long-poll the validated nginx.conf here.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '@signalbox/model';
import { ERR_API_BAD_REQUEST, ERR_API_UNAUTHORIZED, parseEtag, parseWaitSeconds, tokenCheckHook } from '@signalbox/model';
import type { Exclusion } from './pipeline.js';
import type { ServedConfigState } from './served-config.js';

/** The body of an API error answer; its codes are listed in docs/errors.md#extension. */
interface ApiError {
  code: 'ERR_NO_CONFIG_YET' | typeof ERR_API_UNAUTHORIZED | typeof ERR_API_BAD_REQUEST | 'ERR_API_INTERNAL';
  message: string;
}

export interface ServerDeps {
  served: ServedConfigState;
  /** A proxy agent refused the config `sha256` with nginx's `reason`. */
  onRefusal?: (sha256: string, reason: string) => void;
  status: () => { modelVersion?: string; excluded: Exclusion[]; lastError?: string; sandbox?: unknown };
  registry: Registry;
  log: Logger;
  /** Every request but GET /v1/health must carry `Authorization: Bearer <apiToken>`. */
  apiToken: string;
}

export function buildServer(d: ServerDeps): FastifyInstance {
  // Request logs are info level: a warn-level child keeps long-polls from flooding the log.
  // Only a proxy's refusal report has a body (a hash and nginx's reason, cut at 4000 characters): a
  // small limit turns anything larger into a 413, not memory use.
  const app = Fastify({ loggerInstance: d.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger, bodyLimit: 64 * 1024, maxParamLength: 200 });
  app.addHook('onRequest', tokenCheckHook(d.apiToken));
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) d.log.error({ err: err.message }, 'API request failed');
    return reply.code(status).send({ code: status === 500 ? 'ERR_API_INTERNAL' : ERR_API_BAD_REQUEST, message: err.message.slice(0, 300) });
  });

  app.get('/v1/health', async () => ({ ok: true, serving: d.served.get()?.name ?? null }));

  app.get<{ Querystring: { wait?: string } }>('/v1/nginx.conf', async (req, reply) => {
    let cur = d.served.get();
    if (!cur) return reply.code(503).send({ code: 'ERR_NO_CONFIG_YET', message: 'no validated config yet' } satisfies ApiError);
    const wait = parseWaitSeconds(req.query.wait, 60);
    if (!wait.ok) return reply.code(400).send({ code: ERR_API_BAD_REQUEST, message: wait.message } satisfies ApiError);
    const known = parseEtag(req.headers['if-none-match']);
    if (known && known === cur.sha256) {
      const waitS = wait.seconds;
      const next = waitS > 0 ? await d.served.waitForChange(known, waitS * 1000) : undefined;
      if (!next) return reply.code(304).send();
      cur = next;
    }
    return reply
      .header('etag', `"${cur.sha256}"`)
      .header('x-signalbox-config', cur.name)
      .header('content-type', 'text/plain; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(cur.text);
  });

  // Proxy agents report a config they refused (their nginx -t failed where the sandbox's passed).
  app.post<{ Body: { sha256?: unknown; reason?: unknown } }>('/v1/refusals', async (req, reply) => {
    const { sha256, reason } = req.body ?? {};
    if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256) || typeof reason !== 'string') {
      return reply.code(400).send({ code: 'ERR_REFUSAL_INVALID', message: 'expected {"sha256": "<64 hex>", "reason": "<text>"}' });
    }
    d.onRefusal?.(sha256, reason.slice(0, 4000));
    return reply.code(202).send({ ok: true });
  });

  app.get('/v1/status', async () => ({ serving: d.served.get()?.name ?? null, sha256: d.served.get()?.sha256 ?? null, ...d.status() }));

  app.get('/metrics', async (_req, reply) => reply.header('content-type', d.registry.contentType).send(await d.registry.metrics()));
  return app;
}
