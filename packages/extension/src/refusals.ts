// A proxy can refuse a config the extension accepted (its nginx, files or secrets differ from the
// sandbox). The agent reports nginx's reason; here it is traced back to the services it names, so they
// can be excluded like services that fail nginx -t on the extension, and the others keep updating.
import type { ClusterModel, Upstream } from '@signalbox/model';

/** Services of the virtual host or passthrough host `host`. */
export function servicesOfHost(model: ClusterModel, host: string): string[] {
  const out = new Set<string>();
  for (const vh of model.virtualHosts) if (vh.host === host) for (const l of vh.locations) for (const s of l.upstream.services) out.add(s);
  for (const p of model.passthrough) if (p.host === host) for (const s of p.upstream.services) out.add(s);
  return [...out];
}

/**
 * The services nginx's error `reason` points at in `configText` (the bytes the proxy tested): a secret
 * file it names (a certificate or key it cannot load), else the block around the line it names (the
 * `# services:` comment of an upstream, or the `# <host> (http|https)` comment of a server). Empty when
 * the reason names neither: then nothing is excluded.
 */
/**
 * The secret a refusal says is missing from the proxy (`/run/secrets/NAME` with "No such file"), or
 * undefined. A secret core mounts into the proxies is missing only from tasks started before it was
 * added: that is a proxy task on its way out, not a fault of the service.
 */
export function missingSecret(reason: string): string | undefined {
  if (!/No such file or directory/.test(reason)) return undefined;
  return /\/run\/secrets\/([A-Za-z0-9_.-]+)/.exec(reason)?.[1];
}

export function servicesBlamed(reason: string, configText: string, model: ClusterModel): string[] {
  const secret = /\/run\/secrets\/([A-Za-z0-9_.-]+)/.exec(reason)?.[1];
  if (secret !== undefined) {
    const out = new Set<string>();
    for (const vh of model.virtualHosts) {
      if (vh.tls && (vh.tls.certSecret === secret || vh.tls.keySecret === secret)) for (const s of servicesOfHost(model, vh.host)) out.add(s);
    }
    if (out.size > 0) return [...out].sort();
  }
  const line = Number(/(?:\.conf|\.tmp):(\d+)/.exec(reason)?.[1] ?? NaN);
  if (!Number.isInteger(line) || line < 1) return [];
  const lines = configText.split('\n');
  for (let i = Math.min(line, lines.length) - 1; i >= 0; i--) {
    const text = lines[i]!;
    const upstream = /^\s*# services: (.+)$/.exec(text);
    if (upstream)
      return upstream[1]!
        .split(', ')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .sort();
    const server = /^\s*# (\S+) \((?:http|https)\)/.exec(text);
    if (server) return servicesOfHost(model, server[1]!).sort();
    // The end of an earlier block (or the start of http/stream): the line is in no service's block.
    if (i < line - 1 && /^(?: {4}\}|\}|(?:http|stream|events) \{)\s*$/.test(text)) return [];
  }
  return [];
}

/** What a service contributes to the model; a refusal is retried once this changes (its labels did). */
export function routesFingerprint(model: ClusterModel, service: string): string {
  // Task addresses come and go with scaling; the port is the service's label.
  const shape = (u: Upstream) => ({ ...u, servers: [...new Set(u.servers.map((s) => s.port))].sort() });
  const parts: string[] = [];
  for (const vh of model.virtualHosts) {
    for (const l of vh.locations)
      if (l.upstream.services.includes(service)) parts.push(JSON.stringify([vh.host, vh.tls ?? null, vh.sslOnly, l.path, l.rewrite, l.websocketEndpoints, shape(l.upstream)]));
  }
  for (const p of model.passthrough) if (p.upstream.services.includes(service)) parts.push(JSON.stringify([p.host, p.sslOnly ?? false, shape(p.upstream)]));
  return parts.join('\n');
}
