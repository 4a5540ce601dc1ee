// The extension's API: proxy agents long-poll the validated nginx.conf here.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '@signalbox/model';
import { parseEtag } from '@signalbox/model';
import type { Exclusion } from './pipeline.js';
import type { ServedConfigState } from './served-config.js';

/** The body of an API error answer; its codes are listed in docs/errors.md#extension. */
interface ApiError {
  code: 'ERR_NO_CONFIG_YET';
  message: string;
}

export interface ServerDeps {
  served: ServedConfigState;
  status: () => { modelVersion?: string; excluded: Exclusion[]; lastError?: string };
  registry: Registry;
  log: Logger;
}

export function buildServer(d: ServerDeps): FastifyInstance {
  // Request logs are info level: a warn-level child keeps long-polls from flooding the log.
  const app = Fastify({ loggerInstance: d.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger });

  app.get('/v1/health', async () => ({ ok: true, serving: d.served.get()?.name ?? null }));

  app.get<{ Querystring: { wait?: string } }>('/v1/nginx.conf', async (req, reply) => {
    let cur = d.served.get();
    if (!cur) return reply.code(503).send({ code: 'ERR_NO_CONFIG_YET', message: 'no validated config yet' } satisfies ApiError);
    const known = parseEtag(req.headers['if-none-match']);
    if (known && known === cur.sha256) {
      const waitS = Math.min(60, Math.max(0, Number(req.query.wait ?? 0) || 0));
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

  app.get('/v1/status', async () => ({ serving: d.served.get()?.name ?? null, sha256: d.served.get()?.sha256 ?? null, ...d.status() }));

  app.get('/metrics', async (_req, reply) => reply.header('content-type', d.registry.contentType).send(await d.registry.metrics()));
  return app;
}
