// Whole files: an Interlock config as UCP wrote it, the same file migrated, and a two-cluster setup.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`./fixtures/config/${name}`, import.meta.url)), 'utf8');

describe('config fixtures', () => {
  it('interlock-ucp.toml: loads, with a warning for each Interlock-only key and the rewritten log format', () => {
    const r = parseConfig(fixture('interlock-ucp.toml'), 'interlock-ucp.toml');
    if (!r.ok) throw new Error(JSON.stringify(r.errors, null, 2));
    const keyed = r.warnings.map((w) => `${w.code} ${w.key}`);
    expect(keyed).toEqual(
      expect.arrayContaining([
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.AdminPass',
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.AdminUser',
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.IPHash',
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.SSLOpts',
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.SSLVerify',
        'WARN_CONFIG_INTERLOCK_KEY Extensions.default.Config.Version',
        'WARN_CONFIG_LOG_FORMAT Extensions.default.Config.MainLogFormat',
      ]),
    );
    const ipHash = r.warnings.find((e) => e.key.endsWith('IPHash'));
    expect(ipHash!.message).toMatch(/Interlock setting Signalbox does not need.*com\.docker\.lb\.ip_hash/);
    expect(r.config.Extensions.default!.Config.MainLogFormat).toBe(
      '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
    );
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
