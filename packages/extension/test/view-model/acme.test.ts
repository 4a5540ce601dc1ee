// ACME in the view model: issued pairs are files under acmeDir, ACME hosts forward HTTP-01 to the extension.
import { buildViewModel } from '../../src/render/view-model.js';
import { acmeChallengeMap } from '../../src/render/http-settings.js';
import { secretPath } from '../../src/render/tls.js';
import { extension, location, upstream, vhost } from './fixtures.js';

describe('ACME files', () => {
  it('live under acmeDir (default /dev/shm/signalbox-acme) without the leading dot; secrets stay under secretsDir', () => {
    expect(secretPath('/run/secrets', '.acme-0123456789abcdef.crt', '/tmp/acme/')).toBe('"/tmp/acme/acme-0123456789abcdef.crt"');
    expect(secretPath('/run/secrets', '.acme-0123456789abcdef.key')).toBe('"/dev/shm/signalbox-acme/acme-0123456789abcdef.key"');
    expect(secretPath('/run/secrets', 'acme-0123456789abcdef.crt', '/tmp/acme')).toBe('"/run/secrets/acme-0123456789abcdef.crt"');
  });
});

describe('HTTP-01 forwarding', () => {
  const model = (acmeHosts?: string[]) => ({
    cluster: '',
    virtualHosts: [vhost('a.test', [location('/', upstream('a'))]), vhost('b.test', [location('/', upstream('b'))])],
    passthrough: [],
    redirects: [],
    services: [],
    proxyNetworks: [],
    proxySecrets: [],
    ...(acmeHosts ? { acmeHosts } : {}),
  });
  const challengeHosts = (vm: ReturnType<typeof buildViewModel>) => vm.http.servers.filter((s) => s.locations.some((l) => l.path === '"/.well-known/acme-challenge/"')).map((s) => s.serverName);

  it('only ACME hosts forward the challenge path, through a resolver and a map variable', () => {
    const vm = buildViewModel(model(['b.test']), extension({ ServiceName: 'sbx-ext' }), { secretsDir: '/run/secrets', acmeChallengePort: 9001 });
    expect(challengeHosts(vm)).toEqual(['"b.test"']);
    expect(vm.http.resolver).toBe('127.0.0.11 valid=10s ipv6=off');
    expect(vm.http.maps.find((m) => m.variable === '$signalbox_acme_challenge')?.default).toBe('"http://sbx-ext:9001"');
  });

  it('no ACME host: no resolver, no map, no challenge location', () => {
    const vm = buildViewModel(model(), extension(), { secretsDir: '/run/secrets' });
    expect(challengeHosts(vm)).toEqual([]);
    expect(vm.http.resolver).toBeUndefined();
    expect(vm.http.maps.some((m) => m.variable === '$signalbox_acme_challenge')).toBe(false);
  });

  it('the target defaults to the extension service on port 8081', () => {
    expect(acmeChallengeMap({ ServiceName: 'signalbox-extension' }, { secretsDir: '/x' }).default).toBe('"http://signalbox-extension:8081"');
  });
});
