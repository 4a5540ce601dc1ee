// The dashboard listener: a second, read-only HTTP server in core (its own port, so publishing it
// exposes nothing of the model API). The page itself (HTML/JS/CSS) holds no data and is served to
// anyone; every /v1/dashboard* answer needs `Authorization: Bearer <token>`, the token being the
// Docker secret core reads from SIGNALBOX_API_TOKEN_FILE. The page takes it from the URL fragment
// (#token=...), which browsers never send to a server.
import { timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import fastifyStatic from '@fastify/static';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { DashboardAuthCode, Logger } from '@signalbox/protocol';
import { dashboardRoutes } from './plugin.js';
import type { DashboardRecorder } from './recorder.js';

export const DEFAULT_TOKEN_FILE = '/run/secrets/signalbox-api-token';

export type { DashboardAuthCode };

export interface DashboardServerDeps {
  recorder: DashboardRecorder;
  /** Where the token is; read on first use and again while it is missing or empty. */
  tokenFile: string;
  /** The built page (packages/dashboard/dist); when absent, / explains that instead. */
  assetsDir: string | undefined;
  log: Logger;
  maxWaitSeconds?: number;
}

/** Reads the token file lazily, so a secret mounted after start (or fixed by hand) is picked up. */
export function tokenReader(file: string): () => string | undefined {
  let token: string | undefined;
  return () => {
    if (token) return token;
    try {
      token = readFileSync(file, 'utf8').trim() || undefined;
    } catch {
      token = undefined;
    }
    return token;
  };
}

export function checkBearer(header: string | undefined, token: string | undefined, tokenFile: string): { code: DashboardAuthCode; status: number; message: string } | undefined {
  if (!token) {
    return {
      code: 'ERR_DASHBOARD_NO_TOKEN_FILE',
      status: 503,
      message: `core has no API token: ${tokenFile} is missing or empty (the stack mounts the Docker secret signalbox-api-token-<version> there)`,
    };
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m)
    return {
      code: 'ERR_DASHBOARD_TOKEN_MISSING',
      status: 401,
      message: 'send Authorization: Bearer <token>; open the URL `signalbox dashboard` prints, which carries the token',
    };
  const given = Buffer.from(m[1]!);
  const want = Buffer.from(token);
  if (given.length !== want.length || !timingSafeEqual(given, want)) {
    return {
      code: 'ERR_DASHBOARD_TOKEN_INVALID',
      status: 401,
      message: 'the token does not match the Docker secret signalbox-api-token; open the URL `signalbox dashboard` prints again',
    };
  }
  return undefined;
}

export async function buildDashboardServer(d: DashboardServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: d.log.child({ component: 'dashboard' }, { level: 'warn' }) as FastifyBaseLogger,
    forceCloseConnections: true,
  });
  const token = tokenReader(d.tokenFile);

  app.addHook('onSend', async (_req, reply, body) => {
    // Everything the page loads comes from here: no CDN, no external fonts, nothing inline.
    reply.header('content-security-policy', "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    reply.header('referrer-policy', 'no-referrer');
    reply.header('x-content-type-options', 'nosniff');
    // A rebuilt image serves new files under the same names; the page is small, so always revalidate.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-cache');
    return body;
  });

  app.get('/v1/health', async () => ({ ok: true }));

  await app.register(async (api) => {
    api.addHook('onRequest', async (req, reply) => {
      const denied = checkBearer(req.headers.authorization, token(), d.tokenFile);
      if (denied) return reply.code(denied.status).send({ code: denied.code, message: denied.message });
      return undefined;
    });
    await dashboardRoutes(api, {
      recorder: d.recorder,
      ...(d.maxWaitSeconds !== undefined ? { maxWaitSeconds: d.maxWaitSeconds } : {}),
    });
  });

  if (d.assetsDir && existsSync(`${d.assetsDir}/index.html`)) {
    await app.register(fastifyStatic, { root: d.assetsDir, index: ['index.html'], cacheControl: false });
  } else {
    d.log.warn({ assetsDir: d.assetsDir }, 'dashboard page not found (build packages/dashboard); serving only its API');
    app.get('/', async (_req, reply) =>
      reply
        .code(503)
        .type('text/plain; charset=utf-8')
        .send(`The dashboard page is not in this image (looked in ${d.assetsDir ?? '(unset)'}); its API answers at /v1/dashboard.\n`),
    );
  }
  return app;
}
