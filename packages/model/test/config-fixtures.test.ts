// Whole files: an Interlock config as UCP wrote it, the same file migrated, and a two-cluster setup.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url)), 'utf8');

describe('config fixtures', () => {
  it('interlock-ucp.toml: names each Interlock-only key and the nginx-quoted log format', () => {
    const r = parseConfig(fixture('interlock-ucp.toml'), 'interlock-ucp.toml');
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.map((e) => `${e.code} ${e.key}`).sort()).toEqual([
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.AdminPass',
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.AdminUser',
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.IPHash',
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.SSLOpts',
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.SSLVerify',
      'ERR_CONFIG_UNKNOWN_KEY Extensions.default.Config.Version',
      'ERR_CONFIG_VALUE Extensions.default.Config.MainLogFormat',
    ]);
    const ipHash = r.errors.find((e) => e.key.endsWith('IPHash'));
    expect(ipHash!.message).toMatch(/Interlock setting Signalbox does not support.*com\.docker\.lb\.ip_hash/);
  });

  it('interlock-ucp-migrated.toml: parses, keeping Interlock values', () => {
    const r = parseConfig(fixture('interlock-ucp-migrated.toml'));
    if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
    const ext = r.config.Extensions.default!;
    expect(ext).toMatchObject({ ServiceName: 'ucp-interlock-extension', ProxyReplicas: 2, ProxyStopGracePeriod: '5s' });
    expect(ext.Labels).toEqual({ 'com.docker.ucp.InstanceID': 'fewho8k85kyc6iqypvvdh3ntm' });
    expect(ext.Config).toMatchObject({ User: 'nginx', SSLDefaultDHParam: 1024, SSLProtocols: 'TLSv1.2', ReadTimeout: 600 });
  });

  it('clusters.toml: two extensions with separate ports, names and clusters', () => {
    const r = parseConfig(fixture('clusters.toml'));
    if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
    expect(Object.keys(r.config.Extensions)).toEqual(['default', 'blue']);
    expect(r.config.Extensions.blue).toMatchObject({
      ServiceName: 'signalbox-extension-blue',
      ProxyServiceName: 'signalbox-proxy-blue',
      ServiceCluster: 'blue',
      PublishedPort: 9080,
    });
    expect(r.config.Extensions.blue!.Config.HTTPOptions).toHaveLength(2);
    expect(r.config.Extensions.default!.Config.MaxConnections).toBe(1024);
  });
});
