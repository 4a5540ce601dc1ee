// The dashboard's read-only API: the whole view and its parts, each long-pollable (ETag + ?wait=)
// on the recorder's versioned value. Registered on the dashboard listener (dashboard/server.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseEtag } from '@signalbox/protocol';
import type { DashboardRecorder } from './recorder.js';
import type { DashboardPayload, RouteView, ServiceView } from '@signalbox/protocol';
import { dashboardQuerySchema, dashboardSchema, dashboardSchemas } from '@signalbox/protocol';

export interface DashboardRoutesOptions {
  recorder: DashboardRecorder;
  maxWaitSeconds?: number;
}

type Query = { wait?: number; q?: string };

/** Case-insensitive match of a search text against a service or host. */
export function matches(q: string | undefined, ...fields: readonly string[]): boolean {
  const needle = q?.trim().toLowerCase();
  if (!needle) return true;
  return fields.some((f) => f.toLowerCase().includes(needle));
}

const routeMatches = (q: string | undefined, r: RouteView) => matches(q, r.host, r.path, ...r.services);
const serviceMatches = (q: string | undefined, s: ServiceView) => matches(q, s.name, s.id, ...s.hosts, ...s.errors.map((e) => e.code));

export async function dashboardRoutes(app: FastifyInstance, opts: DashboardRoutesOptions): Promise<void> {
  const maxWait = opts.maxWaitSeconds ?? 30;
  const { recorder } = opts;

  /** The current payload, or after ?wait= seconds the next one when If-None-Match names the current. */
  async function payload(req: FastifyRequest<{ Querystring: Query }>, reply: FastifyReply): Promise<DashboardPayload | undefined> {
    const current = recorder.current.get()!;
    const known = parseEtag(req.headers['if-none-match']);
    let p = current;
    if (known !== undefined && known === current.version) {
      const waitS = Math.min(maxWait, req.query.wait ?? 0);
      const next = waitS > 0 ? await recorder.current.waitForChange(known, waitS * 1000) : undefined;
      if (!next) {
        void reply.code(304).send();
        return undefined;
      }
      p = next;
    }
    reply.header('etag', `"${p.version}"`).header('cache-control', 'no-store');
    return { ...p, meta: { ...p.meta, generatedAt: new Date().toISOString() } };
  }

  const list = (items: unknown) => ({ type: 'array', items });
  const part = (props: Record<string, unknown>) => ({
    querystring: dashboardQuerySchema,
    response: {
      200: {
        type: 'object',
        additionalProperties: false,
        required: ['version', ...Object.keys(props)],
        properties: { version: { type: 'string' }, ...props },
      },
      '4xx': dashboardSchemas.error,
    },
  });

  app.get<{ Querystring: Query }>('/v1/dashboard', { schema: { querystring: dashboardQuerySchema, response: { 200: dashboardSchema, '4xx': dashboardSchemas.error } } }, async (req, reply) => {
    return payload(req, reply);
  });

  app.get<{ Querystring: Query }>('/v1/dashboard/routes', { schema: part({ routes: list(dashboardSchemas.route) }) }, async (req, reply) => {
    const p = await payload(req, reply);
    return p && { version: p.version, routes: p.routes.filter((r) => routeMatches(req.query.q, r)) };
  });

  app.get<{ Querystring: Query }>('/v1/dashboard/services', { schema: part({ services: list(dashboardSchemas.service) }) }, async (req, reply) => {
    const p = await payload(req, reply);
    return p && { version: p.version, services: p.services.filter((s) => serviceMatches(req.query.q, s)) };
  });

  app.get<{ Querystring: Query }>('/v1/dashboard/proxies', { schema: part({ extensions: list(dashboardSchemas.extension), proxies: list(dashboardSchemas.proxy) }) }, async (req, reply) => {
    const p = await payload(req, reply);
    return p && { version: p.version, extensions: p.extensions, proxies: p.proxies };
  });

  app.get<{ Querystring: Query }>(
    '/v1/dashboard/history',
    { schema: part({ models: list(dashboardSchemas.model), configs: list(dashboardSchemas.config), failures: list(dashboardSchemas.failure) }) },
    async (req, reply) => {
      const p = await payload(req, reply);
      return p && { version: p.version, models: p.models, configs: p.configs, failures: p.failures };
    },
  );
}
