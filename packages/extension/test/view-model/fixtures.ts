// Small builders for the view-model concern tests.
import type { ExtensionConfig, Location, NginxTuning, Upstream, UpstreamServer, VirtualHost } from '@signalbox/model';
import { loadBaseExtension } from '../golden/load-cases.js';
import type { Listeners } from '../../src/render/listeners.js';
import type { LocationContext } from '../../src/render/locations.js';

export function server(addr: string, port = 80, service = 'web'): UpstreamServer {
  return { addr, port, service };
}

export function upstream(name: string, servers: UpstreamServer[] = [server('10.0.0.1')], more: Partial<Upstream> = {}): Upstream {
  return { name, servers, balance: 'round_robin', tls: { enabled: false, verify: false }, services: ['web'], ...more };
}

export function location(path: string, up: Upstream, more: Partial<Location> = {}): Location {
  return { path, rewrite: false, websocketEndpoints: [], upstream: up, ...more };
}

export function vhost(host: string, locations: Location[], more: Partial<VirtualHost> = {}): VirtualHost {
  return { host, sslOnly: false, locations, ...more };
}

export function extension(more: Partial<Omit<ExtensionConfig, 'Config'>> = {}, config: Partial<NginxTuning> = {}): ExtensionConfig {
  const base = loadBaseExtension();
  return { ...base, ...more, Config: { ...base.Config, ...config } };
}

export function tuning(config: Partial<NginxTuning> = {}): NginxTuning {
  return extension({}, config).Config;
}

export const ctx: LocationContext = { trustedCertificate: '"/ca.pem"', upstreamAlias: new Map(), closeUnserved: false };

export const plainListeners: Listeners = {
  plain: { address: '80', ssl: false, proxyProtocol: false, defaultServer: false },
  ssl: { address: '443', ssl: true, proxyProtocol: false, defaultServer: false },
  realIpFrom: [],
  plainRealIpFrom: [],
  plainRealIpHeader: 'X-Signalbox-Client-Address',
};
