// What the page shows, decided without the DOM: the access token, the connection state and its
// labelled page, and the search. main.tsx only renders these.
import type { DashboardAuthCode, DashboardErrorBody, DashboardPayload, ProxyView, RouteView, ServiceView } from '@signalbox/protocol';

export type { DashboardAuthCode, DashboardErrorBody, DashboardPayload, ProxyView, RouteView, ServiceView };

const TOKEN_KEY = 'signalbox-dashboard-token';

/** The token comes in the URL fragment (#token=…, never sent to a server), then lives in this tab's session storage. */
export function takeToken(location: { hash: string }, storage: { getItem(key: string): string | null; setItem(key: string, value: string): void }): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    const token = decodeURIComponent(m[1]!);
    storage.setItem(TOKEN_KEY, token);
    return token;
  }
  return storage.getItem(TOKEN_KEY) ?? undefined;
}

export type Connection =
  | { kind: 'connecting' }
  | { kind: 'live'; since: number }
  | { kind: 'no-token' }
  | { kind: 'denied'; code: DashboardAuthCode | `HTTP ${number}`; message: string }
  | { kind: 'down'; since: number; error: string };

/** A failed request: the HTTP answer (status, JSON body) or the network error. */
export function connectionAfterError(prev: Connection, status: number | undefined, body: Partial<DashboardErrorBody> | undefined, error: string, now: number): Connection {
  if (status === 401 || (status === 503 && body?.code === 'ERR_DASHBOARD_NO_TOKEN_FILE')) {
    return { kind: 'denied', code: body?.code ?? `HTTP ${status}`, message: body?.message ?? error };
  }
  return { kind: 'down', since: prev.kind === 'down' ? prev.since : now, error };
}

/** Case-insensitive search over the fields a person would type: host, path, service, error code. */
export function matches(q: string, ...fields: readonly string[]): boolean {
  const needle = q.trim().toLowerCase();
  if (!needle) return true;
  return fields.some((f) => f.toLowerCase().includes(needle));
}

export const routeMatches = (q: string, r: RouteView) => matches(q, r.host, r.path, ...r.services);
export const serviceMatches = (q: string, s: ServiceView) => matches(q, s.name, ...s.hosts, ...s.errors.map((e) => e.code), ...s.warnings.map((w) => w.code));

/** Banners that say what is missing while data is still shown. */
export function warnings(d: DashboardPayload): string[] {
  const out: string[] = [];
  for (const e of d.extensions) {
    if (e.state === 'unreachable') out.push(`Extension ${e.service} (${e.name}) does not answer: ${e.error ?? 'no reason given'}. Config history and validation results are not current.`);
  }
  const down = d.proxies.filter((p) => p.state !== 'ok');
  for (const p of down) out.push(`Proxy task ${p.task}${p.node ? ` on ${p.node}` : ''} is ${p.state}: ${p.error ?? ''}`.trim());
  if (d.proxies.length === 0) out.push('No proxy task is running: no requests are being routed. See docker service ps signalbox-proxy.');
  return out;
}

export function ago(iso: string | null, now: number): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}
