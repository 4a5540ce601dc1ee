// Pure projections of the routing model and swarm snapshot into what the dashboard shows.
import type { ClusterModel, Diagnostic, DiagnosticCode, ServiceStatus, SwarmSnapshot, Upstream } from '@signalbox/model';
import type { ModelChangeView, ProblemView, RouteView, ServerView } from '@signalbox/protocol';

/** addr → the task (and its node) that owns it, per service name. */
export type TaskIndex = Map<string, { task: string; node: string | null }>;

export function indexTasks(snap: SwarmSnapshot | undefined): TaskIndex {
  const index: TaskIndex = new Map();
  if (!snap) return index;
  const nodes = new Map(snap.nodes.map((n) => [n.id, n.hostname || n.id]));
  for (const s of snap.services) {
    for (const t of s.tasks) {
      for (const a of t.addresses)
        index.set(`${s.name}\n${a.addr}`, {
          task: `${s.name}.${t.slot}.${t.id.slice(0, 12)}`,
          node: nodes.get(t.nodeId) ?? null,
        });
    }
  }
  return index;
}

/** addr:port → failures the proxies' nginx logged recently (passive health). */
export type FailureIndex = Map<string, { recent: number; lastAt: string; lastError: string; proxy: string }>;

function servers(up: Upstream, tasks: TaskIndex, failures: FailureIndex): ServerView[] {
  return up.servers.map((s) => {
    const t = tasks.get(`${s.service}\n${s.addr}`);
    const f = failures.get(`${s.addr}:${s.port}`);
    return {
      addr: s.addr,
      port: s.port,
      service: s.service,
      task: t?.task ?? null,
      node: t?.node ?? null,
      failures: f?.recent ?? 0,
      lastFailure: f ? `${f.lastError} (${f.proxy}, ${f.lastAt})` : null,
    };
  });
}

function split(up: Upstream): RouteView['split'] {
  const total = up.servers.length;
  return up.services.map((service) => {
    const n = up.servers.filter((s) => s.service === service).length;
    return { service, servers: n, percent: total === 0 ? 0 : Math.round((1000 * n) / total) / 10 };
  });
}

export function routesOf(extension: string, model: ClusterModel, tasks: TaskIndex, failures: FailureIndex = new Map()): RouteView[] {
  const routes: RouteView[] = [];
  const base = (up: Upstream) => ({
    extension,
    backendTls: up.tls.enabled,
    services: [...up.services],
    servers: servers(up, tasks, failures),
    split: split(up),
  });
  for (const vh of model.virtualHosts) {
    for (const l of vh.locations)
      routes.push({
        kind: vh.tls ? 'terminate' : 'http',
        host: vh.host,
        path: l.path,
        sslOnly: vh.sslOnly,
        ...base(l.upstream),
      });
  }
  for (const p of model.passthrough) routes.push({ kind: 'passthrough', host: p.host, path: '', sslOnly: p.sslOnly ?? false, ...base(p.upstream) });
  if (model.defaultBackend) routes.push({ kind: 'default', host: '*', path: '/', sslOnly: false, ...base(model.defaultBackend) });
  return routes.sort((a, b) => a.host.localeCompare(b.host) || a.path.localeCompare(b.path) || a.extension.localeCompare(b.extension));
}

export function problem(d: Diagnostic): ProblemView<DiagnosticCode> {
  return { code: d.code, severity: d.severity, key: d.key, value: d.value ?? null, message: d.message };
}

/** What identifies a service's state: a new fingerprint restarts its "since". */
export function fingerprint(s: ServiceStatus): string {
  return JSON.stringify([s.status, s.errors.map((e) => [e.code, e.key, e.value]), s.warnings.map((w) => [w.code, w.key, w.value])]);
}

/** Services added, removed and changed (state, hosts, server count, problems) between two status lists. */
export function diffServices(prev: readonly ServiceStatus[], next: readonly ServiceStatus[]): ModelChangeView {
  const before = new Map(prev.map((s) => [s.id, s]));
  const after = new Map(next.map((s) => [s.id, s]));
  const added = next.filter((s) => !before.has(s.id)).map((s) => s.name);
  const removed = prev.filter((s) => !after.has(s.id)).map((s) => s.name);
  const changed: ModelChangeView['changed'] = [];
  for (const s of next) {
    const p = before.get(s.id);
    if (!p) continue;
    const what: string[] = [];
    if (p.status !== s.status) what.push(s.status === 'disabled' ? `rejected (${s.errors.map((e) => e.code).join(', ')})` : 'routed again');
    if (p.hosts.join(',') !== s.hosts.join(',')) what.push(`hosts ${p.hosts.join(',') || '-'} → ${s.hosts.join(',') || '-'}`);
    if (p.servers !== s.servers) what.push(`servers ${p.servers} → ${s.servers}`);
    if (p.status === s.status && fingerprint(p) !== fingerprint(s)) what.push('errors or warnings changed');
    if (what.length > 0) changed.push({ name: s.name, what: what.join('; ') });
  }
  return {
    added: added.sort(),
    removed: removed.sort(),
    changed: changed.sort((a, b) => a.name.localeCompare(b.name)),
  };
}

export function isEmptyChange(c: ModelChangeView): boolean {
  return c.added.length === 0 && c.removed.length === 0 && c.changed.length === 0;
}
