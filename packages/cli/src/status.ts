// `signalbox status`: what the running cluster routes, and which services core rejected and why.
import { formatDiagnostic, terminalSafe } from '@signalbox/model';
import type { ClusterModel, Upstream } from '@signalbox/model';
import { PATHS, WireError, coreStatusBodySchema, extensionsBodySchema, routingModelSchema, wireValidator } from '@signalbox/protocol';
import type { WireDiagnostic, WireServiceStatus as ServiceStatus } from '@signalbox/protocol';
import { CoreUnreachable } from './core-client.js';
import type { CoreClient, CoreResponse } from './core-client.js';
import { table } from './table.js';

export interface Route {
  /** [Extensions.NAME] serving it. */
  extension: string;
  /** Its service cluster ('' = default). */
  cluster: string;
  /** http: a virtual host location; passthrough: TLS passed through by SNI; default: the default backend. */
  kind: 'http' | 'passthrough' | 'default';
  /** '' for the default backend. */
  host: string;
  /** '/' or the context root; '' for passthrough. */
  path: string;
  /** Served over TLS: an http route whose host has a certificate (terminated at the proxy), or passthrough. */
  tls: boolean;
  services: string[];
  servers: number;
}

export interface StatusReport {
  routes: Route[];
  services: ServiceStatus[];
}

function decode(r: CoreResponse, description: string): unknown {
  if (r.status !== 200) {
    throw new CoreUnreachable(`core (${description}) answered GET ${r.path} with HTTP ${r.status}: ${r.body.slice(0, 200)}`);
  }
  try {
    return JSON.parse(r.body);
  } catch {
    throw new CoreUnreachable(`core (${description}) answered GET ${r.path} with something that is not JSON: ${r.body.slice(0, 200)}`);
  }
}

const readStatus = wireValidator(coreStatusBodySchema, 'the status');
const readExtensions = wireValidator(extensionsBodySchema, 'the list of extensions');
const readModel = wireValidator(routingModelSchema, 'the model');

/** `body` checked by `read` (a protocol schema), or CoreUnreachable naming the path and the mismatch. */
function checked<T>(read: (v: unknown) => T, body: unknown, path: string, description: string): T {
  try {
    return read(body);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    throw new CoreUnreachable(`core (${description}) answered GET ${path} with an unexpected shape (${e.message}); is it a Signalbox core of the same version?`);
  }
}

function routesOf(extension: string, model: ClusterModel): Route[] {
  const base = { extension, cluster: model.cluster };
  const up = (u: Upstream) => ({ services: [...u.services], servers: u.servers.length });
  const routes: Route[] = [];
  for (const vh of model.virtualHosts) {
    for (const loc of vh.locations) {
      routes.push({ ...base, kind: 'http', host: vh.host, path: loc.path, tls: vh.tls !== undefined, ...up(loc.upstream) });
    }
  }
  for (const p of model.passthrough) routes.push({ ...base, kind: 'passthrough', host: p.host, path: '', tls: true, ...up(p.upstream) });
  if (model.defaultBackend) routes.push({ ...base, kind: 'default', host: '', path: '/', tls: false, ...up(model.defaultBackend) });
  return routes;
}

/** Ask core for /v1/status, /v1/extensions and every extension's model; each answer is checked against protocol's schema. */
export async function collectStatus(client: CoreClient): Promise<StatusReport> {
  const [statusRes, extRes] = await client.getAll([PATHS.status, PATHS.extensions]);
  const status = checked(readStatus, decode(statusRes!, client.description), PATHS.status, client.description);
  const ext = checked(readExtensions, decode(extRes!, client.description), PATHS.extensions, client.description);
  const names = [...ext.extensions].sort();
  const modelRes = names.length > 0 ? await client.getAll(names.map((n) => PATHS.extensionModel(n))) : [];
  const routes: Route[] = [];
  names.forEach((name, i) => {
    const r = modelRes[i]!;
    // An extension removed from config.toml between the two requests: nothing to show for it.
    if (r.status === 404) return;
    const payload = decode(r, client.description);
    const model = checked(readModel, (payload as { model?: unknown } | null)?.model, r.path, client.description);
    // Checked all the way down; only the diagnostics' codes are wider on the wire (any ERR_/WARN_ code).
    routes.push(...routesOf(name, model as ClusterModel));
  });
  routes.sort((a, b) => cmp(a.extension, b.extension) || cmp(a.host, b.host) || cmp(a.path, b.path) || cmp(a.kind, b.kind));
  const services = [...status.services].sort((a, b) => cmp(a.name, b.name) || cmp(a.cluster, b.cluster) || cmp(a.id, b.id));
  return { routes, services };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function clusterLabel(cluster: string): string {
  return cluster === '' ? 'default cluster' : `cluster ${cluster}`;
}

function serviceLine(s: ServiceStatus, d: WireDiagnostic): string {
  return `  ${s.name} (${clusterLabel(s.cluster)}): ${formatDiagnostic(d)}`;
}

export function isRejected(s: ServiceStatus): boolean {
  return s.status === 'disabled' || s.errors.length > 0;
}

export function formatStatus(report: StatusReport): string {
  const out: string[] = [];
  const multi = new Set(report.routes.map((r) => r.extension)).size > 1;
  if (report.routes.length === 0) {
    out.push('No routes.');
  } else {
    const header = [...(multi ? ['EXTENSION'] : []), 'HOST', 'PATH', 'SERVICE(S)', 'SERVERS'];
    const rows = report.routes.map((r) => {
      const host = r.kind === 'default' ? '(default backend)' : r.kind === 'http' && r.tls ? `${r.host} (tls)` : r.host;
      const path = r.kind === 'passthrough' ? '(passthrough)' : r.path;
      const servers = r.servers === 0 ? '0 (503)' : String(r.servers);
      return [...(multi ? [r.extension] : []), host, path, r.services.join(','), servers].map(terminalSafe);
    });
    out.push(...table(header, rows));
  }
  const rejected = report.services.filter(isRejected);
  out.push('', 'Rejected services');
  if (rejected.length === 0) out.push('  none');
  for (const s of rejected) {
    if (s.errors.length === 0) out.push(`  ${s.name} (${clusterLabel(s.cluster)}): disabled (core gave no reason)`);
    for (const d of s.errors) out.push(serviceLine(s, d));
  }
  const warned = report.services.filter((s) => s.warnings.length > 0);
  if (warned.length > 0) {
    out.push('', 'Warnings');
    for (const s of warned) for (const d of s.warnings) out.push(serviceLine(s, d));
  }
  const enabled = report.services.length - rejected.length;
  out.push('', `${plural(report.routes.length, 'route')}; ${plural(report.services.length, 'labelled service')}: ${enabled} enabled, ${rejected.length} rejected`);
  // Names and keys come from labels: nothing in them reaches the terminal as a control sequence.
  return `${out.map(terminalSafe).join('\n')}\n`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
