// The extension's API: proxy agents long-poll the validated nginx.conf here.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import type { AcmeHostStatus, AcmeStoreStatus, ApiErrorBody, Exclusion, ExtensionHealthBody, ExtensionStatusBody, Logger, OkBody, Refusal, SandboxState } from '@signalbox/protocol';
import {
  ERR_API_BAD_REQUEST,
  ERR_API_INTERNAL,
  ERR_NO_CONFIG_YET,
  ERR_REFUSAL_INVALID,
  HEADER_CONFIG_NAME,
  HEADER_NOT_FOR_TASKS,
  PATHS,
  QUERY_TASK,
  answerLongPoll,
  apiErrorBodySchema,
  extensionHealthBodySchema,
  extensionStatusBodySchema,
  okBodySchema,
  PROXY_TOKEN_ROUTES,
  refusalSchema,
  tokenCheckHook,
  wireValidator,
} from '@signalbox/protocol';
import type { ChallengeStore } from './acme/orderer.js';
import { configForTask, type ServedConfig, type ServedConfigState } from './served-config.js';

/** Each route's error answers, as fastify response schemas. */
const errors = { 400: apiErrorBodySchema, 401: apiErrorBodySchema, 413: apiErrorBodySchema, 500: apiErrorBodySchema, 503: apiErrorBodySchema };

export interface ServerDeps {
  served: ServedConfigState;
  /** A proxy agent refused the config `sha256` with nginx's `reason`. */
  onRefusal?: (refusal: Refusal) => void;
  status: () => { modelVersion?: string; excluded: Exclusion[]; lastError?: string; sandbox?: SandboxState; acme?: AcmeHostStatus[]; acmeStore?: AcmeStoreStatus };
  registry: Registry;
  log: Logger;
  /** Every request but GET /v1/health (and ACME challenges) must carry `Authorization: Bearer <apiToken>`. */
  apiToken: string;
  /** The proxy token: opens only the routes a proxy agent calls (PROXY_TOKEN_ROUTES); undefined = none. */
  proxyToken?: string;
  /** Pending HTTP-01 answers, served without the token: the CA fetches them through any proxy replica. */
  challenges?: ChallengeStore;
  /** Issued ACME certificates and keys by file name, for proxy agents (token required). */
  acmeFiles?: () => Record<string, string>;
}

const nginxConfQuerySchema = {
  type: 'object',
  properties: { [QUERY_TASK]: { type: 'string', pattern: '^[a-z0-9]{1,64}$' } },
} as const;

/**
 * The served config as the task `taskId` follows it: its version is that of the config it is served, so
 * its long-poll is answered only when that changes (not when another task's does).
 */
function servedToTask(served: ServedConfigState, taskId: string): Pick<ServedConfigState, 'versionOf' | 'waitForChange'> {
  const versionOf = (c: ServedConfig) => configForTask(c, taskId).sha256;
  return {
    versionOf,
    async waitForChange(version, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const cur = served.get();
        if (cur !== undefined && versionOf(cur) !== version) return cur;
        const left = deadline - Date.now();
        if (left <= 0 || cur === undefined) return undefined;
        await served.waitForChange(served.versionOf(cur), left);
      }
    },
  };
}

/** The HTTP-01 path (RFC 8555 §8.3); proxies forward it for ACME hosts to the extension. */
export const ACME_CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

export function buildServer(d: ServerDeps): FastifyInstance {
  // Request logs are info level: a warn-level child keeps long-polls from flooding the log.
  // Only a proxy's refusal report has a body (a hash and nginx's reason, cut at 4000 characters): a
  // small limit turns anything larger into a 413, not memory use.
  const app = Fastify({
    loggerInstance: d.log.child({ component: 'api' }, { level: 'warn' }) as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    maxParamLength: 200,
    // A stopping extension (replaced to mount a new certificate: stop-first) must not wait for the
    // proxies' long-polls to end (up to their ?wait): that held every route on the new certificate ~4 s
    // longer. Cut, a long-poll is retried by the agent within a second, against the new task.
    forceCloseConnections: true,
  });
  const tokenCheck = tokenCheckHook(d.apiToken, d.proxyToken ? { token: d.proxyToken, routes: PROXY_TOKEN_ROUTES, what: 'the proxy token' } : undefined);
  // Key authorizations are public by design (the CA fetches them over plain HTTP); nothing else is open.
  app.addHook('onRequest', async (req, reply) => {
    if (d.challenges && req.method === 'GET' && req.url.startsWith(ACME_CHALLENGE_PREFIX)) return;
    await tokenCheck(req, reply);
  });
  app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) d.log.error({ err: err.message }, 'API request failed');
    return reply.code(status).send({ code: status === 500 ? ERR_API_INTERNAL : ERR_API_BAD_REQUEST, message: err.message.slice(0, 300) } satisfies ApiErrorBody);
  });

  if (d.challenges) {
    const challenges = d.challenges;
    app.get<{ Params: { token: string } }>(`${ACME_CHALLENGE_PREFIX}:token`, async (req, reply) => {
      const answer = /^[A-Za-z0-9_-]{1,200}$/.test(req.params.token) ? challenges.get(req.params.token) : undefined;
      if (answer === undefined) return reply.code(404).header('content-type', 'text/plain').send('no such challenge\n');
      return reply.header('content-type', 'application/octet-stream').header('cache-control', 'no-store').send(answer);
    });
  }

  app.get(PATHS.health, { schema: { response: { 200: extensionHealthBodySchema } } }, async () => ({ ok: true, serving: d.served.get()?.name ?? null }) satisfies ExtensionHealthBody);

  // The body is nginx.conf as text: its contract is the ETag (sha256) and the config-name header.
  // ?task= names the asking proxy task: one past a roll's holds gets the config that publishes them.
  app.get<{ Querystring: { wait?: string; [QUERY_TASK]?: string } }>(PATHS.nginxConf, { schema: { querystring: nginxConfQuerySchema, response: errors } }, async (req, reply) => {
    const cur = d.served.get();
    if (!cur) return reply.code(503).send({ code: ERR_NO_CONFIG_YET, message: 'no validated config yet' } satisfies ApiErrorBody);
    const taskId = req.query[QUERY_TASK] ?? '';
    const served = await answerLongPoll(req, reply, servedToTask(d.served, taskId), cur, 60);
    if (served === undefined) return reply;
    const answer = configForTask(served, taskId);
    if (answer.notForTasks && answer.notForTasks.length > 0) reply.header(HEADER_NOT_FOR_TASKS, answer.notForTasks.join(','));
    return reply.header(HEADER_CONFIG_NAME, answer.name).header('content-type', 'text/plain; charset=utf-8').send(answer.text);
  });

  // Proxy agents report a config they refused (their nginx -t failed where the sandbox's passed, or a
  // certificate pair it names cannot be served: only they mount the secrets).
  const refusal = wireValidator(refusalSchema, 'refusal');
  app.post(PATHS.refusals, { schema: { response: { 202: okBodySchema, ...errors } } }, async (req, reply) => {
    let body: Refusal;
    try {
      body = refusal(req.body);
    } catch (e) {
      return reply
        .code(400)
        .send({ code: ERR_REFUSAL_INVALID, message: `expected {"sha256": "<64 hex>", "reason": "<text>", "certificates"?: [...]}: ${(e as Error).message}` } satisfies ApiErrorBody);
    }
    d.onRefusal?.(body);
    return reply.code(202).send({ ok: true } satisfies OkBody);
  });

  if (d.acmeFiles) {
    const files = d.acmeFiles;
    app.get(PATHS.acmeFiles, async (_req, reply) => reply.header('cache-control', 'no-store').send({ files: files() }));
  }

  app.get(
    PATHS.status,
    { schema: { response: { 200: extensionStatusBodySchema, ...errors } } },
    async () => ({ serving: d.served.get()?.name ?? null, sha256: d.served.get()?.sha256 ?? null, ...d.status() }) satisfies ExtensionStatusBody,
  );

  app.get(PATHS.metrics, async (_req, reply) => reply.header('content-type', d.registry.contentType).send(await d.registry.metrics()));
  return app;
}
